"""Batch runs: a JSON-lines file of jobs -> one story folder and video per job, in parallel, resumable.

Every job goes through ``storymode.api.make`` (the same pipeline and story folders as ``storymode make``):

    out_dir/<job id>/story.mp4 (.srt, .vtt)   the video and captions
    out_dir/<job id>/story.storymode/          its story folder (cache: a rerun resumes cached stages)
    out_dir/<job id>/job.json                  the job as last finished (a rerun skips unchanged, finished jobs)
    out_dir/summary.json                       per-job status, paths, durations, seconds and errors

Engines: ``local`` (a ProcessPoolExecutor of ``workers`` processes) or ``ray`` (one Ray task per story, on a local
Ray instance or an existing cluster at ``address``).
"""
from __future__ import annotations

import contextlib
import errno
import json
import multiprocessing
import queue as queue_mod
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from ..guard import guarded
from ..errors import MissingDependency, StorymodeError, UsageError
from ..events import Event, Listener, ignore
from ..workspace import artifact_key, atomic_write_json, atomic_write_text

JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
JOB_KEYS = {"id", "prompt", "text", "from", "title"}
RESERVED = {"out", "story_dir", "fresh", "force", "config", "profile", "on_event", "from_file"}
VIDEO_NAME = "story.mp4"
MAX_LINE = 2_000_000


@dataclass
class JobResult:
    """One line of the summary."""

    id: str
    line: int
    status: str  # ok, skipped, failed
    video: str | None = None
    srt: str | None = None
    vtt: str | None = None
    story_dir: str | None = None
    storybook: str | None = None
    duration: float | None = None
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass
class BatchSummary:
    """What a batch did: counts, per-job results, and where summary.json is."""

    jobs_file: str
    out_dir: str
    engine: str
    workers: int
    started: str
    seconds: float = 0.0
    jobs: list[JobResult] = field(default_factory=list)
    summary_path: str | None = None

    @property
    def ok(self) -> int:
        return sum(j.status == "ok" for j in self.jobs)

    @property
    def skipped(self) -> int:
        return sum(j.status == "skipped" for j in self.jobs)

    @property
    def failed(self) -> int:
        return sum(j.status == "failed" for j in self.jobs)

    def to_dict(self) -> dict[str, Any]:
        """The summary as written to summary.json."""
        return {"jobs_file": self.jobs_file, "out_dir": self.out_dir, "engine": self.engine,
                "workers": self.workers, "started": self.started, "seconds": round(self.seconds, 3),
                "total": len(self.jobs), "ok": self.ok, "skipped": self.skipped, "failed": self.failed,
                "jobs": [asdict(j) for j in sorted(self.jobs, key=lambda j: j.line)]}


# ---------------------------------------------------------------- reading the jobs file
@dataclass
class Job:
    """One valid job, ready for a worker (plain data: it crosses process and machine boundaries)."""

    id: str
    line: int
    dir: str
    prompt: str | None
    from_file: str | None
    options: dict[str, Any]
    key: str
    gpu: bool = False

    def spec(self) -> dict[str, Any]:
        return asdict(self)


def _safe_stem(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")[:60] or "story"


def _uses_gpu(options: dict[str, Any]) -> bool:
    from ..config import resolve_settings
    from ..registry import STAGES, backend_class

    settings = resolve_settings(options)
    return any(getattr(backend_class(s, settings.backend(s)), "uses_gpu", False) for s in STAGES)


def read_jobs(jobs_file: Path, out_dir: Path) -> tuple[list[Job], list[JobResult]]:
    """Valid jobs, and a failed result for every broken line or invalid job (by line number)."""
    from ..config import check_untrusted, leaves_folder, own_config_hint, resolve_settings, trusted_now
    from ..pipeline import MAX_PROMPT

    try:
        raw = Path(jobs_file).read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read the jobs file {jobs_file}: {err.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"the jobs file {jobs_file} is not UTF-8 text") from None
    jobs: list[Job] = []
    bad: list[JobResult] = []
    seen: set[str] = set()
    base = Path(jobs_file).resolve().parent
    for n, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        default_id = f"line-{n}"

        def fail(message: str, job_id: str = default_id, n: int = n) -> None:
            bad.append(JobResult(id=job_id, line=n, status="failed", error=f"line {n}: {message}"))

        if len(stripped) > MAX_LINE:
            fail(f"the line is {len(stripped):,} characters; the limit is {MAX_LINE:,}")
            continue
        try:
            obj = json.loads(stripped)
        except ValueError as err:
            fail(f"not valid JSON ({err.msg} at column {err.colno}); each line must be one JSON object")
            continue
        if not isinstance(obj, dict):
            fail(f"expected a JSON object like {{\"prompt\": \"a shy fox\"}}, got {type(obj).__name__}")
            continue
        job_id = obj.get("id", default_id)
        if not isinstance(job_id, str) or not JOB_ID.match(job_id):
            fail(f"id {job_id!r} is not a safe folder name (letters, digits, '.', '_', '-'; at most 64)")
            continue
        if job_id in seen:
            fail(f"id {job_id!r} is used by an earlier line; ids must be unique", job_id=f"{default_id}")
            continue
        seen.add(job_id)
        sources = [k for k in ("prompt", "text", "from") if obj.get(k) not in (None, "")]
        if len(sources) != 1:
            fail("give exactly one of \"prompt\", \"text\" or \"from\"" +
                 (f" (got {', '.join(sources)})" if sources else ""), job_id)
            continue
        source = sources[0]
        if not isinstance(obj[source], str):
            fail(f"{source!r} must be a string", job_id)
            continue
        if "title" in obj and not isinstance(obj["title"], str):
            fail("'title' must be a string", job_id)
            continue
        options = {k: v for k, v in obj.items() if k not in JOB_KEYS}
        reserved = sorted(set(options) & RESERVED)
        if reserved:
            fail(f"{', '.join(reserved)} cannot be set per job (the batch decides where stories go)", job_id)
            continue
        try:
            settings = resolve_settings(options)
            if not trusted_now():  # a jobs file is data, like a config file found in a folder
                check_untrusted(options, f"{jobs_file}, line {n}", base, settings, hint=own_config_hint())
                if source == "from" and leaves_folder(obj["from"], base):
                    raise UsageError(f"{jobs_file}, line {n}: \"from\" names a file outside the jobs file's folder "
                                     f"({base}); move the text beside it, or pass --trust-config")
            gpu = _uses_gpu(options)
            if source == "prompt" and len(obj["prompt"]) > MAX_PROMPT:
                raise UsageError(f"the prompt is {len(obj['prompt']):,} characters; the limit is {MAX_PROMPT:,}")
        except StorymodeError as err:
            fail(str(err), job_id)
            continue
        job_dir = Path(out_dir).resolve() / job_id
        prompt = obj["prompt"] if source == "prompt" else None
        from_file = None
        text_hash = None
        if source == "from":
            from_file = str((base / obj["from"]).resolve())
            with contextlib.suppress(OSError):
                text_hash = artifact_key("file", Path(from_file).read_bytes().decode("utf-8", "replace"))
        elif source == "text":
            stem = _safe_stem(obj.get("title") or job_id)
            from_file = str(job_dir / f"{stem}.txt")
            text_hash = artifact_key("text", obj["text"], stem)
        key = artifact_key("job", prompt, source, obj.get(source) if source == "from" else None, text_hash,
                           settings.model_dump(mode="json"))
        job = Job(id=job_id, line=n, dir=str(job_dir), prompt=prompt, from_file=from_file, options=options,
                  key=key, gpu=gpu)
        if source == "text":
            job.options = {**options, "__text__": obj["text"]}
        jobs.append(job)
    return jobs, bad


def finished(job: Job) -> bool:
    """The job's own render is present, matches its manifest, and was made for this same job."""
    from ..pipeline import output_paths
    from ..workspace import file_stamp

    job_dir = Path(job.dir)
    video, srt, vtt = output_paths(job_dir / VIDEO_NAME)
    story_dir = video.with_suffix(".storymode")
    try:
        record = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
        manifest = json.loads((story_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    own = manifest.get("output") or {}
    return (record.get("key") == job.key and own.get("path") == str(video.resolve())
            and own.get("stamp") == file_stamp(video) and srt.exists() and vtt.exists()
            and (story_dir / "storybook.html").exists())


def _result_from_record(job: Job, status: str) -> JobResult:
    record = json.loads((Path(job.dir) / "job.json").read_text(encoding="utf-8"))
    return JobResult(id=job.id, line=job.line, status=status, seconds=0.0,
                     **{k: record.get(k) for k in ("video", "srt", "vtt", "story_dir", "storybook", "duration")},
                     stage_seconds=record.get("stage_seconds") or {})


# ---------------------------------------------------------------- the worker side
_events: Any = None  # a multiprocessing queue set by the pool initializer (local engine)


def _init_worker(events: Any) -> None:
    global _events
    _events = events


def _describe(err: BaseException) -> str:
    if isinstance(err, StorymodeError):
        return str(err)
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" while writing {err.filename}" if err.filename else ""
        return (f"the disk is full{where} ({err.strerror}); free some space and run the batch again "
                "(finished stories are kept and cached stages resume)")
    if isinstance(err, OSError):
        return f"{err.strerror or err}" + (f" ({err.filename})" if err.filename else "")
    return f"unexpected {type(err).__name__}: {err}"


def run_job(spec: dict[str, Any]) -> dict[str, Any]:
    """Make one story (in a worker process or a Ray task); never raises: errors come back in the result."""
    from .. import api

    job = Job(**spec)
    t0 = time.perf_counter()
    options = dict(job.options)
    text = options.pop("__text__", None)
    events = _events

    def on_event(event: Event) -> None:
        if events is not None and event.kind != "done":
            with contextlib.suppress(Exception):
                events.put((job.id, event.to_dict()))

    out: dict[str, Any] = {"id": job.id, "line": job.line}
    try:
        job_dir = Path(job.dir)
        try:
            job_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(f"cannot create {job_dir}: {err.strerror}") from None
        if text is not None:
            atomic_write_text(Path(job.from_file or job_dir / "story.txt"), text)
        result = api.make(job.prompt, out=job_dir / VIDEO_NAME, from_file=job.from_file, on_event=on_event,
                          **options)
        record = {"key": job.key, "video": str(result.video), "srt": str(result.srt), "vtt": str(result.vtt),
                  "story_dir": str(result.story_dir), "storybook": str(result.storybook),
                  "duration": round(result.duration, 3), "stage_seconds": result.stage_seconds}
        atomic_write_json(job_dir / "job.json", record)
        out.update(record, status="ok")
    except BaseException as err:  # noqa: BLE001 - a failed story never stops the others
        if isinstance(err, KeyboardInterrupt):
            raise
        out.update(status="failed", error=_describe(err))
    out.pop("key", None)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


# ---------------------------------------------------------------- the batch
class _Emitter:
    """Serialises events from the main thread and the event-queue thread onto one listener."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self.lock:
            with contextlib.suppress(Exception):
                self.listener(event)


def _write_summary(summary: BatchSummary, path: Path, emit: Listener) -> bool:
    try:
        atomic_write_json(path, summary.to_dict())
        return True
    except OSError as err:
        emit(Event("warning", "batch", message=f"cannot write {path}: {_describe(err)}"))
        return False


def run_batch(jobs_file: str | Path, out_dir: str | Path, *, workers: int = 1, engine: str = "local",
              address: str | None = None, on_event: Listener | None = None) -> BatchSummary:
    """Run every job of a JSON-lines file; returns the summary (also written to out_dir/summary.json).

    Events: stage-start/step/stage-end of stage "batch" (done/total stories, data: the job's result), the
    per-story pipeline events with data {"job": id} (local engine), warnings, and a final "done".
    """
    if engine not in ("local", "ray"):
        raise UsageError(f"unknown engine {engine!r}; engines: local, ray")
    if workers < 1:
        raise UsageError("workers must be at least 1")
    emit = _Emitter(on_event or ignore)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the output folder {out_dir}: {err.strerror}") from None
    t0 = time.perf_counter()
    summary = BatchSummary(jobs_file=str(Path(jobs_file).resolve()), out_dir=str(out_dir.resolve()), engine=engine,
                           workers=workers, started=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    summary_path = out_dir / "summary.json"
    jobs, bad = read_jobs(Path(jobs_file), out_dir)
    total = len(jobs) + len(bad)
    emit(Event("stage-start", "batch", total=total))
    done = 0

    def record(result: JobResult) -> None:
        nonlocal done
        summary.jobs.append(result)
        done += 1
        if result.status == "failed":
            emit(Event("warning", "batch", message=result.error if (result.error or "").startswith("line ")
                       else f"{result.id} (line {result.line}): {result.error}"))
        emit(Event("step", "batch", done=done, total=total, cached=summary.skipped, data=asdict(result)))

    for result in bad:
        record(result)
    todo: list[Job] = []
    for job in jobs:
        if finished(job):
            record(_result_from_record(job, "skipped"))
        else:
            todo.append(job)
    _write_summary(summary, summary_path, emit)
    if todo:
        runner = _run_local if engine == "local" else _run_ray
        runner(todo, workers, address, emit, lambda r: (record(r), _write_summary(summary, summary_path, emit)))
    summary.seconds = time.perf_counter() - t0
    emit(Event("stage-end", "batch", done=done, total=total, cached=summary.skipped, seconds=summary.seconds))
    if _write_summary(summary, summary_path, emit):
        summary.summary_path = str(summary_path)
    emit(Event("done", "batch", data={k: v for k, v in summary.to_dict().items() if k != "jobs"}))
    return summary


def _to_result(job: Job, out: dict[str, Any]) -> JobResult:
    names = set(JobResult.__dataclass_fields__)
    return JobResult(**{k: v for k, v in out.items() if k in names})


def _run_local(todo: list[Job], workers: int, address: str | None, emit: Listener,
               record: Callable[[JobResult], Any]) -> None:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded parent
    events = ctx.Queue()
    stop = threading.Event()

    def forward() -> None:
        while not stop.is_set() or not events.empty():
            try:
                job_id, data = events.get(timeout=0.1)
            except (queue_mod.Empty, EOFError, OSError):
                continue
            data.setdefault("data", {})["job"] = job_id
            emit(Event(**data))

    thread = threading.Thread(target=forward, name="storymode-batch-events", daemon=True)
    thread.start()
    pending = list(todo)
    attempts: dict[str, int] = {}
    try:
        while pending:
            with ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=ctx,
                                     initializer=_init_worker, initargs=(events,)) as pool:
                running: dict[Any, Job] = {}
                broken = False
                while (pending or running) and not broken:
                    while pending and len(running) < workers:
                        job = pending.pop(0)
                        running[pool.submit(run_job, job.spec())] = job
                    finished_now, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in finished_now:
                        job = running.pop(fut)
                        try:
                            record(_to_result(job, fut.result()))
                        except BrokenProcessPool:
                            broken = True
                            attempts[job.id] = attempts.get(job.id, 0) + 1
                            if attempts[job.id] >= 2:
                                record(JobResult(job.id, job.line, "failed", error="its worker process died twice "
                                                 "(out of memory?); run the batch again to retry it"))
                            else:
                                pending.insert(0, job)
                if broken:  # the pool is gone: every job still in it goes back to the queue once
                    for job in running.values():
                        attempts[job.id] = attempts.get(job.id, 0) + 1
                        pending.insert(0, job)
                    emit(Event("warning", "batch", message="a worker process died; restarting the pool"))
    finally:
        stop.set()
        thread.join(timeout=5)
        events.close()


def _ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependency('the ray engine needs Ray: pip install "storymode[ray]"') from None
    return ray


def _run_ray(todo: list[Job], workers: int, address: str | None, emit: Listener,
             record: Callable[[JobResult], Any]) -> None:
    ray = _ray_module()
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "ignore_reinit_error": True}
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=workers, **kwargs)
        started = True
    try:
        task = ray.remote(num_cpus=1, max_retries=1)(run_job)
        refs: dict[Any, Job] = {}
        for job in todo:
            ref = task.options(num_cpus=1, num_gpus=1 if job.gpu else 0).remote(job.spec())
            refs[ref] = job
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                job = refs.pop(ref)
                try:
                    record(_to_result(job, ray.get(ref)))
                except Exception as err:  # noqa: BLE001 - a worker crash, a lost node
                    record(JobResult(job.id, job.line, "failed", error=f"the Ray task failed: {err}"))
    finally:
        if started:
            ray.shutdown()


# ---------------------------------------------------------------- progress view and command
class BatchBars:
    """One rich view for the whole batch: stories done/total with failures, and a line per running story."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from ..progress import STAGE_LABELS

        self.labels = STAGE_LABELS
        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=self.console)
        self.overall = self.progress.add_task("Stories", total=1, note="")
        self.jobs: dict[str, Any] = {}
        self.failed = 0
        self.progress.start()

    def __call__(self, event: Event) -> None:
        job = event.data.get("job") if event.data else None
        if job is not None:
            if event.kind in ("stage-start", "step", "stage-end"):
                label = f"  {job[:12]} {self.labels.get(event.stage, event.stage)}"
                if job not in self.jobs:
                    self.jobs[job] = self.progress.add_task(label, total=event.total or 1, note="")
                self.progress.update(self.jobs[job], description=label, completed=event.done,
                                     total=event.total or 1)
            return
        if event.stage == "batch" and event.kind in ("stage-start", "step", "stage-end"):
            if event.kind == "step":
                finished_id = event.data.get("id")
                if finished_id in self.jobs:
                    self.progress.remove_task(self.jobs.pop(finished_id))
                if event.data.get("status") == "failed":
                    self.failed += 1
            note = ", ".join(x for x in (f"{event.cached} skipped" if event.cached else "",
                                          f"[red]{self.failed} failed[/]" if self.failed else "") if x)
            self.progress.update(self.overall, completed=event.done, total=event.total or 1, note=note)
        elif event.kind == "warning":
            self.progress.console.print(f"[yellow]warning:[/] {event.message}", markup=True, highlight=False)

    def close(self) -> None:
        """Stop drawing."""
        self.progress.stop()


def make_batch_view(kind: str, quiet: bool) -> Any:
    """The view for --progress and --quiet."""
    from ..progress import JsonLines, Silent

    if kind == "json":
        return JsonLines()
    if quiet or kind == "none":
        return Silent()
    return BatchBars()



@click.command("batch")
@click.argument("jobs_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder for the stories: OUT/<id>/story.mp4 and OUT/summary.json.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Stories made at the same time (local: processes; ray: CPUs asked for a local instance).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Run on local processes, or as Ray tasks (pip install \"storymode[ray]\").")
@click.option("--address", type=str, help="An existing Ray cluster (e.g. ray://head:10001 or auto); --engine ray.")
@click.option("--progress", "progress_kind", type=click.Choice(["bar", "json", "none"]), default="bar",
              help="Progress as one view for the batch (default), JSON lines on stdout, or none.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--trust-config", "trust_config", is_flag=True,
              help="The jobs file is your own: its options may turn on trust_remote_code, send a key to their own "
                   "base_url, and name files outside its folder.")
@guarded
def batch(jobs_file: Path, out_dir: Path, workers: int, engine: str, address: str | None, progress_kind: str,
          quiet: bool, trust_config: bool) -> None:
    """Make many stories from a JSON-lines file: {"id": "fox", "prompt": "a shy fox", "scenes": 2} a line.

    \b
    A line gives "prompt", "text" or "from" (a text file), an optional "id" and "title", and any setting.
    A rerun skips finished stories and resumes the others; OUT/summary.json lists results and errors.
    Exit code 0 when every job succeeded, 1 when some failed.
    """
    import sys

    if address and engine != "ray":
        raise UsageError("--address needs --engine ray")
    from ..config import trusting

    view = make_batch_view(progress_kind, quiet)
    try:
        with trusting(trust_config):
            summary = run_batch(jobs_file, out_dir, workers=workers, engine=engine, address=address, on_event=view)
    finally:
        view.close()
    if not quiet and progress_kind != "json":
        click.echo(f"{len(summary.jobs)} jobs: {summary.ok} made, {summary.skipped} already done, "
                   f"{summary.failed} failed in {summary.seconds:.1f} s -> {summary.summary_path or out_dir}")
        for job in sorted(summary.jobs, key=lambda j: j.line):
            if job.status == "failed":
                click.echo(f"  failed {job.id}: {job.error}", err=True)
    if summary.failed:
        sys.exit(1)
