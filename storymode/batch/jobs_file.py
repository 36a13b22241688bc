"""Reading a jobs file: JSON lines -> jobs ready to run, and a failed result for every line that is not one."""
from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

from ..errors import StorymodeError, UsageError
from ..jobs import text_stem
from ..workspace import artifact_key
from .records import Job, JobResult

JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
JOB_KEYS = {"id", "prompt", "text", "from", "title"}
SOURCES = ("prompt", "text", "from")
RESERVED = {"out", "story_dir", "fresh", "force", "config", "profile", "on_event", "from_file"}
MAX_LINE = 2_000_000


class BadLine(Exception):
    """A line that is not a valid job; str() is the message, job_id the id its failed result gets."""

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


def read_jobs(jobs_file: Path, out_dir: Path) -> tuple[list[Job], list[JobResult]]:
    """Valid jobs, and a failed result for every broken line or invalid job (by line number)."""
    text = _read_text(Path(jobs_file))
    base = Path(jobs_file).resolve().parent
    jobs: list[Job] = []
    bad: list[JobResult] = []
    seen: set[str] = set()
    for n, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            jobs.append(_job_from_line(stripped, n, seen, Path(jobs_file), base, Path(out_dir)))
        except BadLine as err:
            bad.append(JobResult(id=err.job_id, line=n, status="failed", error=f"line {n}: {err}"))
    return jobs, bad


def _read_text(jobs_file: Path) -> str:
    try:
        raw = jobs_file.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read the jobs file {jobs_file}: {err.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"the jobs file {jobs_file} is not UTF-8 text") from None


def _job_from_line(line: str, n: int, seen: set[str], jobs_file: Path, base: Path, out_dir: Path) -> Job:
    """One line as a job (its id then counts as seen); BadLine when it is not one."""
    obj = _parse(line, n)
    job_id = _job_id(obj, n, seen)
    try:
        source = _source(obj)
        options = _options(obj)
        settings, gpu = _checked_settings(obj, source, options, f"{jobs_file}, line {n}", base)
    except StorymodeError as err:
        raise BadLine(str(err), job_id) from None
    return _job(obj, job_id, n, source, options, settings.model_dump(mode="json"), gpu, base, out_dir)


def _parse(line: str, n: int) -> dict[str, Any]:
    default_id = f"line-{n}"
    if len(line) > MAX_LINE:
        raise BadLine(f"the line is {len(line):,} characters; the limit is {MAX_LINE:,}", default_id)
    try:
        obj = json.loads(line)
    except ValueError as err:
        raise BadLine(f"not valid JSON ({err.msg} at column {err.colno}); each line must be one JSON object",
                      default_id) from None
    if not isinstance(obj, dict):
        raise BadLine(f"expected a JSON object like {{\"prompt\": \"a shy fox\"}}, got {type(obj).__name__}",
                      default_id)
    return obj


def _job_id(obj: dict[str, Any], n: int, seen: set[str]) -> str:
    default_id = f"line-{n}"
    job_id = obj.get("id", default_id)
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise BadLine(f"id {job_id!r} is not a safe folder name (letters, digits, '.', '_', '-'; at most 64)",
                      default_id)
    if job_id in seen:
        raise BadLine(f"id {job_id!r} is used by an earlier line; ids must be unique", default_id)
    seen.add(job_id)
    return job_id


def _source(obj: dict[str, Any]) -> str:
    """Which of prompt, text and from the job gives (exactly one, a string)."""
    sources = [k for k in SOURCES if obj.get(k) not in (None, "")]
    if len(sources) != 1:
        raise UsageError("give exactly one of \"prompt\", \"text\" or \"from\"" +
                         (f" (got {', '.join(sources)})" if sources else ""))
    source = sources[0]
    if not isinstance(obj[source], str):
        raise UsageError(f"{source!r} must be a string")
    if "title" in obj and not isinstance(obj["title"], str):
        raise UsageError("'title' must be a string")
    return source


def _options(obj: dict[str, Any]) -> dict[str, Any]:
    """The job's settings: every key but the job's own, none of those the batch decides."""
    options = {k: v for k, v in obj.items() if k not in JOB_KEYS}
    reserved = sorted(set(options) & RESERVED)
    if reserved:
        raise UsageError(f"{', '.join(reserved)} cannot be set per job (the batch decides where stories go)")
    return options


def _checked_settings(obj: dict[str, Any], source: str, options: dict[str, Any], where: str,
                      base: Path) -> tuple[Any, bool]:
    """The job's settings in force, checked as data unless trusted, and whether a chosen backend uses a GPU."""
    from ..config import check_untrusted, leaves_folder, own_config_hint, resolve_settings, trusted_now
    from ..pipeline import MAX_PROMPT

    settings = resolve_settings(options)
    if not trusted_now():  # a jobs file is data, like a config file found in a folder
        check_untrusted(options, where, base, settings, hint=own_config_hint())
        if source == "from" and leaves_folder(obj["from"], base):
            raise UsageError(f"{where}: \"from\" names a file outside the jobs file's folder ({base}); move the "
                             "text beside it, or pass --trust-config")
    gpu = _uses_gpu(settings)
    if source == "prompt" and len(obj["prompt"]) > MAX_PROMPT:
        raise UsageError(f"the prompt is {len(obj['prompt']):,} characters; the limit is {MAX_PROMPT:,}")
    return settings, gpu


def _uses_gpu(settings: Any) -> bool:
    from ..registry import STAGES, backend_class

    return any(getattr(backend_class(s, settings.backend(s)), "uses_gpu", False) for s in STAGES)


def _job(obj: dict[str, Any], job_id: str, n: int, source: str, options: dict[str, Any], settings: dict[str, Any],
         gpu: bool, base: Path, out_dir: Path) -> Job:
    """The job to run, keyed by everything that decides its story (a changed key is made again)."""
    job_dir = out_dir.resolve() / job_id
    prompt = obj["prompt"] if source == "prompt" else None
    from_file = text_hash = None
    if source == "from":
        from_file = str((base / obj["from"]).resolve())
        with contextlib.suppress(OSError):
            text_hash = artifact_key("file", Path(from_file).read_bytes().decode("utf-8", "replace"))
    elif source == "text":
        stem = text_stem(obj.get("title"), job_id)
        from_file = str(job_dir / f"{stem}.txt")
        text_hash = artifact_key("text", obj["text"], stem)
        options = {**options, "__text__": obj["text"]}
    key = artifact_key("job", prompt, source, obj.get(source) if source == "from" else None, text_hash, settings)
    return Job(id=job_id, line=n, dir=str(job_dir), prompt=prompt, from_file=from_file, options=options, key=key,
               gpu=gpu)
