"""`storymode serve`: an HTTP service over the same pipeline (FastAPI + uvicorn; pip install "storymode[serve]").

State lives on disk under the data folder, never only in memory:

    DATA/jobs/<id>.json        one job: request, status, per-stage progress, result or error (atomic writes)
    DATA/stories/<id>/         story.mp4 (.srt, .vtt), story.storymode/ (the story folder: cache and resume)
    DATA/quarantine/           job files found unreadable or of the wrong shape at start (moved aside, logged)

Job ids are generated (uuid4 hex) and checked against a strict pattern before any path is built from them.
Each running job is one worker process (at most --workers at a time, each the leader of its own process group)
running storymode.api.make. DELETE of a queued or running job cancels it: the worker's whole process group
(ffmpeg included) is killed and its story folder removed; DELETE of a finished job removes it and its files.
On start, jobs that were running are queued again (their story folder makes that cheap).

Without a token only loopback Host names are answered (no DNS rebinding); beyond loopback a token of at least
MIN_TOKEN characters is required. Only the OpenAPI JSON is served (no /docs or /redoc: those load a CDN).
"""
from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, get_args

import click
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import Settings
from ..guard import guarded
from ..errors import MissingDependency, StorymodeError, UsageError
from ..story import MAX_SCENES
from ..workspace import atomic_write_json, atomic_write_text

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_PORT = 8321
MAX_BODY = 256 * 1024
MAX_QUEUE = 32
MAX_RESTARTS = 3
MIN_TOKEN = 16  # characters of a token when the service listens beyond loopback
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")  # the Host names a service without a token answers
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[^:\[\]]+)(?::\d{1,5})?")
ACTIVE = ("queued", "running")
VIDEO_NAME = "story.mp4"
RESULTS = {"video": (VIDEO_NAME, "video/mp4"), "srt": ("story.srt", "application/x-subrip"),
           "vtt": ("story.vtt", "text/vtt"), "story": ("story.storymode/story.json", "application/json"),
           "storybook": ("story.storymode/storybook.html", "text/html")}
log = logging.getLogger("storymode.service")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------- per-job limits
RESOLUTION_NAMES: tuple[str, ...] = get_args(Settings.model_fields["resolution"].annotation)


@dataclass(frozen=True)
class Limits:
    """What one job may ask of this server, inside storymode's own limits (Settings, MAX_PROMPT, MAX_TEXT_BYTES):
    scenes, the largest resolution, characters of a text, minutes of video."""

    scenes: int = 60
    resolution: str = "1080p"
    text: int = 50_000
    minutes: float = 60.0

    def resolutions(self) -> tuple[str, ...]:
        """Storymode's resolutions up to this server's largest."""
        from ..timeline import RESOLUTIONS

        return tuple(r for r in RESOLUTION_NAMES if RESOLUTIONS[r] <= RESOLUTIONS[self.resolution])


class JobTooLong(StorymodeError):
    """A job's video would be longer than this server makes."""


# ---------------------------------------------------------------- models (the OpenAPI spec)
NOT_FROM_CLIENTS = {"options", "music"}  # server paths and model locations come from the server's own config


def settings_model(limits: Limits | None = None) -> type[BaseModel]:
    """The settings a client may send: every Settings field but music and backend options (those name files
    and models on the server), with the backends that can run here as choices, and scenes and resolution
    within this server's limits (storymode's own when none are given)."""
    from pydantic import create_model

    from ..registry import STAGES, names

    fields: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        if name in NOT_FROM_CLIENTS:
            continue
        annotation: Any = info.annotation
        bounds = _limits(info)
        if name in STAGES:
            usable = [n for n in names(name) if _usable(name, n)] or names(name)
            annotation = Literal[tuple(usable)]  # type: ignore[valid-type]
        elif limits is not None and name == "scenes":
            bounds["le"] = min(bounds.get("le", limits.scenes), limits.scenes)
        elif limits is not None and name == "resolution":
            annotation = Literal[limits.resolutions()]  # type: ignore[valid-type]
        fields[name] = (annotation | None, Field(None, description=info.description,
                                                  json_schema_extra=None, **bounds))
    return create_model("StorySettings", __config__=ConfigDict(extra="forbid"), **fields)


def _usable(stage: str, name: str) -> bool:
    """Whether a backend can run on this server (only those are offered to clients)."""
    from ..registry import backend_class

    try:
        return backend_class(stage, name).usable()[0]
    except Exception:  # noqa: BLE001 - a broken plugin is simply not offered
        return False


def _limits(info: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in info.metadata:
        for key in ("ge", "le", "gt", "lt", "min_length", "max_length"):
            if getattr(m, key, None) is not None:
                out[key] = getattr(m, key)
    return out


def request_model(limits: Limits | None = None) -> type[BaseModel]:
    """The body of POST /stories: a prompt or a text (exactly one), an optional title, settings; a prompt up to
    storymode's MAX_PROMPT, a text up to the server's limit (storymode's MAX_TEXT_BYTES when none is given)."""
    from pydantic import create_model

    from ..pipeline import MAX_PROMPT, MAX_TEXT_BYTES

    settings = settings_model(limits)
    common: dict[str, Any] = {"title": (str | None, Field(None, min_length=1, max_length=120,
                                                            description="title (for a text)")),
                              "settings": (settings | None, Field(None, description="storymode settings"))}
    words = r"\w"  # at least one letter or digit: an all-blank prompt is refused by the schema itself
    prompt = create_model("PromptRequest", __config__=ConfigDict(extra="forbid"),
                          prompt=(str, Field(min_length=1, max_length=MAX_PROMPT, pattern=words,
                                             description="what the story is about")), **common)
    text_max = min(limits.text, MAX_TEXT_BYTES) if limits is not None else MAX_TEXT_BYTES
    text = create_model("TextRequest", __config__=ConfigDict(extra="forbid"),
                        text=(str, Field(min_length=1, max_length=text_max, pattern=words,
                                         description="your own story text")), **common)
    return prompt | text  # type: ignore[return-value]


def within_limits(limits: Limits, settings: Settings, sent: dict[str, Any]) -> dict[str, Any]:
    """The client's settings, plus scenes and resolution brought within this server's limits where the client left
    them to the defaults (storymode's, or the server's own config) and those are over."""
    from ..timeline import RESOLUTIONS

    out = dict(sent)
    if "scenes" not in sent and settings.scenes > limits.scenes:
        out["scenes"] = limits.scenes
    if "resolution" not in sent and RESOLUTIONS[settings.resolution] > RESOLUTIONS[limits.resolution]:
        out["resolution"] = limits.resolution
    return out


def over_limits(limits: Limits, settings: Settings, text: str | None) -> tuple[int, str] | None:
    """(HTTP status, message) when a job asks for more than this server makes (the settings in force, after
    the server's own config); None when it fits."""
    from ..pipeline import MAX_TEXT_BYTES
    from ..story import clean_text
    from ..timeline import RESOLUTIONS
    from ..writers.segment import markdown_sections

    if settings.scenes > limits.scenes:
        return 422, f"settings.scenes: this server makes at most {limits.scenes} scenes a story " \
                    f"(asked for {settings.scenes})"
    if RESOLUTIONS[settings.resolution] > RESOLUTIONS[limits.resolution]:
        return 422, f"settings.resolution: this server renders at most {limits.resolution} " \
                    f"(asked for {settings.resolution})"
    if text is None:
        return None
    size = len(text.encode("utf-8"))
    if len(text) > limits.text or size > MAX_TEXT_BYTES:
        return 413, f"text: the text is {len(text):,} characters ({size:,} bytes); this server takes at most " \
                    f"{min(limits.text, MAX_TEXT_BYTES):,} characters and {MAX_TEXT_BYTES:,} bytes"
    sections = len(markdown_sections(clean_text(text)))
    if sections > limits.scenes:
        return 422, f"text: it has {sections} Markdown sections and each starts a scene; this server makes at " \
                    f"most {limits.scenes} scenes a story"
    return None


class StageProgress(BaseModel):
    state: Literal["running", "done"]
    done: int = 0
    total: int = 0
    cached: int = 0
    seconds: float = 0.0


class JobStatus(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    created: str
    started: str | None = None
    finished: str | None = None
    stages: dict[str, StageProgress] = Field(default_factory=dict)
    error: str | None = None
    restarts: int = 0
    result: dict[str, Any] | None = None
    links: dict[str, str] = Field(default_factory=dict)


class Submitted(BaseModel):
    id: str
    status: str
    url: str


class ErrorBody(BaseModel):
    detail: str


# ---------------------------------------------------------------- the job store (disk)
def well_formed(job: Any, job_id: str) -> bool:
    """Whether a job record has the shape this service writes (anything else is never served or run)."""
    if not isinstance(job, dict) or job.get("id") != job_id or not isinstance(job.get("request"), dict):
        return False
    try:
        JobStatus.model_validate(_public(job), strict=True)
    except (ValidationError, KeyError, TypeError, ValueError):
        return False
    return True


class Store:
    """Jobs as JSON files; every write is atomic."""

    def __init__(self, data: Path) -> None:
        self.data = Path(data).resolve()
        self.jobs = self.data / "jobs"
        self.stories = self.data / "stories"
        self.quarantine = self.data / "quarantine"
        for d in (self.jobs, self.stories):
            d.mkdir(parents=True, exist_ok=True)

    def job_path(self, job_id: str) -> Path:
        if not JOB_ID.match(job_id):
            raise KeyError(job_id)
        return self.jobs / f"{job_id}.json"

    def story_dir(self, job_id: str) -> Path:
        if not JOB_ID.match(job_id):
            raise KeyError(job_id)
        return self.stories / job_id

    def read(self, job_id: str) -> dict[str, Any] | None:
        """The job, or None when it is missing, unreadable or of the wrong shape."""
        try:
            job = json.loads(self.job_path(job_id).read_text(encoding="utf-8"))
        except (KeyError, OSError, ValueError):
            return None
        return job if well_formed(job, job_id) else None

    def write(self, job: dict[str, Any]) -> None:
        atomic_write_json(self.job_path(job["id"]), job)

    def remove(self, job_id: str) -> None:
        """Delete a job's story folder, then its record."""
        shutil.rmtree(self.story_dir(job_id), ignore_errors=True)
        self.job_path(job_id).unlink(missing_ok=True)

    def all(self) -> list[dict[str, Any]]:
        out = []
        for path in self.jobs.glob("*.json"):
            if JOB_ID.match(path.stem):
                job = self.read(path.stem)
                if job is not None:
                    out.append(job)
        return sorted(out, key=lambda j: (j["created"], j["seq"] if isinstance(j.get("seq"), int) else 0))

    def quarantine_bad(self) -> list[Path]:
        """Move job files that cannot be read or have the wrong shape to DATA/quarantine/ (each one logged)."""
        moved = []
        for path in sorted(self.jobs.glob("*.json")):
            if not JOB_ID.match(path.stem) or self.read(path.stem) is not None:
                continue
            self.quarantine.mkdir(parents=True, exist_ok=True)
            target = self.quarantine / f"{path.name}.{time.time_ns()}"
            try:
                os.replace(path, target)
            except OSError as err:
                log.warning("storymode serve: skipping the unreadable job file %s (%s)", path, err.strerror)
                continue
            log.warning("storymode serve: the job file %s is unreadable or of the wrong shape; moved to %s",
                        path, target)
            moved.append(target)
        return moved


# ---------------------------------------------------------------- the worker process
def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # the service died: stop, ffmpeg and all; its next start queues the job again
            with contextlib.suppress(OSError):
                os.killpg(os.getpid(), signal.SIGKILL)
            os._exit(1)
        time.sleep(0.5)


def _worker_main(data: str, job_id: str, parent: int, max_minutes: float = Limits.minutes) -> None:
    """Run one job: storymode.api.make with progress written into the job's JSON, in a process group of its own
    (so that cancelling kills its ffmpeg too); a video longer than max_minutes is refused before it is rendered."""
    from .. import api
    from ..config import resolve_settings
    from ..errors import LockedError
    from ..events import Event

    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    store = Store(Path(data))
    job = store.read(job_id)
    if job is None:
        return
    last = [0.0]
    fps = [30]

    def on_event(event: Event) -> None:
        if event.kind not in ("stage-start", "step", "stage-end") or not event.stage:
            return
        if event.kind == "stage-start" and event.stage == "compose":
            _check_length(event.total / fps[0], max_minutes)
        job["stages"][event.stage] = {"state": "done" if event.kind == "stage-end" else "running",
                                      "done": event.done, "total": event.total, "cached": event.cached,
                                      "seconds": round(event.seconds, 3)}
        now = time.monotonic()
        if event.kind != "step" or now - last[0] > 0.25:
            last[0] = now
            with contextlib.suppress(OSError):
                store.write(job)

    request = job["request"]
    story_dir = store.story_dir(job_id)
    from_file = None
    try:
        fps[0] = resolve_settings(request.get("settings") or {}).fps
        story_dir.mkdir(parents=True, exist_ok=True)
        if request.get("text"):
            stem = re.sub(r"[^A-Za-z0-9]+", "-", request.get("title") or "story").strip("-")[:60] or "story"
            from_file = story_dir / f"{stem}.txt"
            atomic_write_text(from_file, request["text"])
        for attempt in range(20):  # a worker of a killed service may still hold the folder for a moment
            try:
                result = api.make(request.get("prompt"), out=story_dir / VIDEO_NAME, from_file=from_file,
                                  on_event=on_event, **(request.get("settings") or {}))
                break
            except LockedError:
                if attempt == 19:
                    raise
                time.sleep(0.5)
        job.update(status="done", finished=_now(), error=None,
                   result={"duration": round(result.duration, 3), "title": result.story.title,
                           "scenes": len(result.story.scenes), "stage_seconds": result.stage_seconds})
    except Exception as err:  # noqa: BLE001 - recorded in the job
        from ..batch import _describe

        job.update(status="failed", finished=_now(), error=_describe(err))
    store.write(job)


def _check_length(seconds: float, max_minutes: float) -> None:
    """Refuse a video longer than this server makes (JobTooLong), before it is rendered."""
    if seconds > max_minutes * 60:
        raise JobTooLong(f"the video would be {seconds / 60:.1f} minutes long; this server makes videos of at most "
                         f"{max_minutes:g} minutes (ask for fewer scenes or words per scene, or send a shorter text)")


def kill_group(proc: Any) -> None:
    """Kill a worker and everything it started (its process group: ffmpeg, narrators) and wait for them."""
    pid = proc.pid
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # not a group leader yet: it has started nothing
        with contextlib.suppress(OSError):
            proc.kill()
    proc.join(10)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # the group's last members (ffmpeg) go a moment after the worker
        try:
            os.killpg(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)


# ---------------------------------------------------------------- the scheduler
class Scheduler:
    """A bounded FIFO queue of job ids and at most `workers` worker processes; all state mirrored on disk."""

    def __init__(self, store: Store, workers: int = 1, max_queue: int = MAX_QUEUE,
                 limits: Limits | None = None) -> None:
        self.store = store
        self.workers = workers
        self.max_queue = max_queue
        self.limits = limits or Limits()
        self.queue: deque[str] = deque()
        self.running: dict[str, Any] = {}
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.ctx = multiprocessing.get_context("spawn")
        self.thread: threading.Thread | None = None

    def recover(self) -> None:
        """Queue again the jobs a stopped service left queued or running (or fail them after many restarts);
        job files that cannot be read or have the wrong shape are moved aside first."""
        self.store.quarantine_bad()
        for job in self.store.all():
            if job["status"] == "running":
                job["restarts"] = job.get("restarts", 0) + 1
                if job["restarts"] > MAX_RESTARTS:
                    job.update(status="failed", finished=_now(),
                               error=f"the service stopped {MAX_RESTARTS} times while making this story")
                    self.store.write(job)
                    continue
                job.update(status="queued", started=None)
                self.store.write(job)
            if job["status"] == "queued":
                self.queue.append(job["id"])

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if len(self.queue) >= self.max_queue:
                raise OverflowError
            job = {"id": uuid.uuid4().hex, "status": "queued", "created": _now(), "seq": time.monotonic_ns(),
                   "started": None, "finished": None, "stages": {}, "error": None, "restarts": 0, "result": None,
                   "request": request}
            self.store.write(job)
            self.queue.append(job["id"])
            return job

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        """Cancel a queued or running job: its worker's process group is killed and its story folder removed;
        the job stays, cancelled. Other jobs come back unchanged."""
        with self.lock:
            job = self.store.read(job_id)
            if job is None or job["status"] not in ACTIVE:
                return job
            with contextlib.suppress(ValueError):
                self.queue.remove(job_id)
            proc = self.running.pop(job_id, None)
            if proc is not None:
                kill_group(proc)
                job = self.store.read(job_id) or job
            shutil.rmtree(self.store.story_dir(job_id), ignore_errors=True)
            job.update(status="cancelled", finished=_now())
            self.store.write(job)
            return job

    def remove(self, job_id: str) -> dict[str, Any] | None:
        """Delete a finished (done, failed or cancelled) job and its files; returns it, or None if missing."""
        with self.lock:
            job = self.store.read(job_id)
            if job is None or job["status"] in ACTIVE:
                return job
            proc = self.running.pop(job_id, None)
            if proc is not None:  # a worker that wrote its result and has not quite exited
                kill_group(proc)
            self.store.remove(job_id)
            return job

    def discard(self, job_id: str) -> tuple[str, dict[str, Any] | None]:
        """DELETE: ("cancelled", job) for a queued or running job, ("removed", job) for a finished one,
        ("missing", None) for no job."""
        with self.lock:
            job = self.store.read(job_id)
            if job is None:
                return "missing", None
            if job["status"] in ACTIVE:
                return "cancelled", self.cancel(job_id)
            return "removed", self.remove(job_id)

    def _reap(self) -> None:
        for job_id, proc in list(self.running.items()):
            if proc.is_alive():
                continue
            proc.join()
            with contextlib.suppress(OSError):  # anything the worker left running (an ffmpeg)
                os.killpg(proc.pid, signal.SIGKILL)
            del self.running[job_id]
            job = self.store.read(job_id)
            if job is not None and job["status"] == "running":
                job.update(status="failed", finished=_now(),
                           error=f"the worker process ended without a result (exit code {proc.exitcode})")
                self.store.write(job)

    def _start_next(self) -> None:
        while self.queue and len(self.running) < self.workers:
            job_id = self.queue.popleft()
            job = self.store.read(job_id)
            if job is None or job["status"] != "queued":
                continue
            job.update(status="running", started=_now())
            self.store.write(job)
            proc = self.ctx.Process(target=_worker_main, name=f"storymode-job-{job_id[:8]}", daemon=True,
                                    args=(str(self.store.data), job_id, os.getpid(), self.limits.minutes))
            proc.start()
            with contextlib.suppress(OSError):  # the worker does it too; whichever comes first
                os.setpgid(proc.pid, proc.pid)
            self.running[job_id] = proc

    def loop(self) -> None:
        while not self.stop_event.is_set():
            with self.lock:
                self._reap()
                self._start_next()
            self.stop_event.wait(0.1)

    def start(self) -> None:
        self.recover()
        self.thread = threading.Thread(target=self.loop, name="storymode-scheduler", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the workers (and their process groups); their jobs go back to the queue (on disk) for the next
        start."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(5)
        with self.lock:
            for job_id, proc in list(self.running.items()):
                kill_group(proc)
                job = self.store.read(job_id)
                if job is not None and job["status"] == "running":
                    job.update(status="queued", started=None)
                    self.store.write(job)
            self.running.clear()


# ---------------------------------------------------------------- the app
def _public(job: dict[str, Any]) -> dict[str, Any]:
    out = {k: job.get(k) for k in ("id", "status", "created", "started", "finished", "error", "result")}
    out["stages"] = job.get("stages") or {}
    out["restarts"] = job.get("restarts", 0)
    out["links"] = {name: f"/stories/{job['id']}/{name}" for name in RESULTS} if job["status"] == "done" else {}
    return out


class BodyLimit:
    """Pure ASGI middleware: a request body over `limit` bytes gets 413, by Content-Length or while it streams
    (chunked); the body is read here, up to the limit, and handed on whole."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        try:
            too_big = length is not None and int(length) > self.limit
        except ValueError:
            too_big = True
        body = None if too_big else await _read_body(receive, self.limit)
        if body is None:
            return await _send_json(send, 413, {"detail": f"the request body is over {self.limit:,} bytes"},
                                    [(b"connection", b"close")])
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The whole request body, or None once it goes over limit bytes."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing more will come
            return b"".join(chunks)
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class BearerAuth:
    """Pure ASGI middleware: every request needs `Authorization: Bearer TOKEN` (compared in constant time)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
            return await _send_json(send, 401, {"detail": "missing or wrong bearer token"},
                                    [(b"www-authenticate", b"Bearer")])
        return await self.app(scope, receive, send)


class LoopbackHost:
    """Pure ASGI middleware for a service without a token: only the Host names localhost, 127.0.0.1 and [::1]
    (any port) are answered, so a web page cannot reach the service through DNS rebinding; others get 421."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if not loopback_host_header(host):
            return await _send_json(send, 421, {"detail": "this service has no token, so it answers only to the "
                                                          "Host names localhost, 127.0.0.1 and [::1]"})
        return await self.app(scope, receive, send)


def loopback_host_header(value: str) -> bool:
    """Whether a Host header names localhost, 127.0.0.1 or [::1], with or without a port."""
    m = _HOST.fullmatch(value.strip().lower())
    return bool(m) and m.group(1) in LOOPBACK_NAMES


async def _send_json(send: Any, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


def create_app(data: str | Path, *, token: str | None = None, workers: int = 1, max_queue: int = MAX_QUEUE,
               max_body: int = MAX_BODY, limits: Limits | None = None) -> Any:
    """The FastAPI app (its scheduler starts and stops with the app's lifespan); without a token it answers
    loopback Host names only. Only the OpenAPI JSON is served: no /docs or /redoc (they load scripts from a CDN)."""
    try:
        from fastapi import FastAPI, Request, Response
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import FileResponse, JSONResponse
    except ImportError:
        raise MissingDependency('storymode serve needs FastAPI and uvicorn: pip install "storymode[serve]"') \
            from None
    from .. import __version__

    limits = limits or Limits()
    StoryRequest = request_model(limits)  # noqa: N806 - a model class
    store = Store(Path(data))
    scheduler = Scheduler(store, workers=workers, max_queue=max_queue, limits=limits)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        scheduler.start()
        yield
        scheduler.stop()

    app = FastAPI(title="storymode", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Prompt or text in, narrated and illustrated story video out.")
    app.state.scheduler = scheduler
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody, "description": text}
        for code, text in ((400, "not JSON"), (401, "missing or wrong bearer token"), (404, "no such job"),
                           (409, "not ready"), (413, "body or text too large"),
                           (421, "not a loopback Host name (a service without a token)"),
                           (422, "invalid request, or over this server's limits"), (429, "queue full"))}

    def missing(job_id: str) -> JSONResponse:
        return JSONResponse({"detail": f"no job {job_id[:64]!r}"}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return JSONResponse({"detail": "the body is not valid JSON"}, status_code=400)
        real = [e for e in errs if not (e.get("type") == "missing" and e.get("loc", ())[-1:] in (("prompt",),
                                                                                              ("text",)))]
        if not real:
            return JSONResponse({"detail": "give a prompt or a text (one of them)"}, status_code=422)
        too_long = _too_long(real)
        if too_long:
            return JSONResponse({"detail": too_long}, status_code=413)
        e = real[0]
        return JSONResponse({"detail": f"{_where(e)}: {e.get('msg')}"}, status_code=422)

    def submit(body: Any) -> Any:
        settings = body.settings.model_dump(mode="json", exclude_none=True) if body.settings else {}
        try:
            from ..config import resolve_settings
            from ..pipeline import check_backends, clean_prompt

            settings = within_limits(limits, resolve_settings(settings), settings)
            resolved = resolve_settings(settings)
            check_backends(resolved)
            if getattr(body, "prompt", None):
                clean_prompt(body.prompt)
        except StorymodeError as err:
            return JSONResponse({"detail": str(err)}, status_code=422)
        over = over_limits(limits, resolved, getattr(body, "text", None))
        if over:
            return JSONResponse({"detail": over[1]}, status_code=over[0])
        request = {"prompt": getattr(body, "prompt", None), "text": getattr(body, "text", None),
                   "title": body.title, "settings": settings}
        try:
            job = scheduler.submit(request)
        except OverflowError:
            return JSONResponse({"detail": f"the queue is full ({max_queue} stories waiting); try again later"},
                                status_code=429, headers={"Retry-After": "30"})
        return {"id": job["id"], "status": job["status"], "url": f"/stories/{job['id']}"}

    submit.__annotations__ = {"body": StoryRequest, "return": Any}
    app.post("/stories", status_code=202, response_model=Submitted, responses=errors,
             summary="Queue a story (prompt or text, with settings)")(submit)

    @app.get("/stories/{job_id}", response_model=JobStatus, responses=errors, summary="Status and progress")
    def status(job_id: str) -> Any:
        job = store.read(job_id)
        return missing(job_id) if job is None else _public(job)

    @app.delete("/stories/{job_id}", response_model=JobStatus, summary="Cancel or remove a story",
                responses={**errors, 204: {"description": "a finished story, removed with its files"}},
                description="A queued or running story is cancelled (200, its status): its processes are "
                            "killed and its files removed. A done, failed or cancelled one is removed with its "
                            "files (204); it is then gone (404).")
    def cancel(job_id: str) -> Any:
        if not JOB_ID.match(job_id):
            return missing(job_id)
        outcome, job = scheduler.discard(job_id)
        if job is None:
            return missing(job_id)
        return _public(job) if outcome == "cancelled" else Response(status_code=204)

    def result_route(name: str, filename: str, media_type: str) -> None:
        def get_result(job_id: str) -> Any:
            job = store.read(job_id)
            if job is None:
                return missing(job_id)
            if job["status"] != "done":
                return JSONResponse({"detail": f"the job is {job['status']}; results come when it is done"},
                                    status_code=409)
            path = store.story_dir(job_id) / filename
            if not path.is_file():
                return JSONResponse({"detail": f"the {name} file is gone"}, status_code=404)
            return FileResponse(path, media_type=media_type,
                                filename=f"{job_id}{''.join(Path(filename).suffixes) or '.bin'}")

        app.get(f"/stories/{{job_id}}/{name}", responses={**errors, 200: {"content": {media_type: {}}}},
                response_class=FileResponse, summary=f"Download the {name}",
                operation_id=f"get_{name}")(get_result)

    for name, (filename, media_type) in RESULTS.items():
        result_route(name, filename, media_type)

    asgi: Any = BodyLimit(app, max_body)
    asgi = BearerAuth(asgi, token) if token else LoopbackHost(asgi)
    app.state.asgi = asgi
    return _Wrapped(asgi, app)


def _where(error: dict) -> str:
    return ".".join(str(p) for p in error.get("loc", ())
                    if p != "body" and p not in ("PromptRequest", "TextRequest")) or "body"


def _too_long(errors: list[dict]) -> str | None:
    """The message for a prompt or text over its length limit (answered with 413), if that is an error here."""
    for e in errors:
        if e.get("type") == "string_too_long" and e.get("loc", ())[-1:] in (("prompt",), ("text",)):
            field = e["loc"][-1]
            given = e.get("input")
            size = f"{len(given):,} characters" if isinstance(given, str) else "too long"
            return f"{field}: the {field} is {size}; this server takes at most " \
                   f"{e.get('ctx', {}).get('max_length', 0):,} characters"
    return None


class _Wrapped:
    """The app behind its middlewares, still exposing .state, .openapi() for tests."""

    def __init__(self, asgi: Any, app: Any) -> None:
        self.asgi = asgi
        self.app = app
        self.state = app.state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.asgi(scope, receive, send)

    def openapi(self) -> dict:
        return self.app.openapi()


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_token(host: str, token: str | None) -> None:
    """Beyond loopback, refuse to start without a strong token (UsageError, exit code 2)."""
    if is_loopback(host):
        return
    if not token:
        raise UsageError(f"--host {host} is reachable from other machines: set a token with STORYMODE_TOKEN "
                         "(or --token) so every request must carry it, or listen on 127.0.0.1")
    if len(token) < MIN_TOKEN:
        raise UsageError(f"--host {host} is reachable from other machines: the token is {len(token)} characters, "
                         f"too weak; use at least {MIN_TOKEN} (make one with: python -c \"import secrets; "
                         "print(secrets.token_urlsafe(32))\"), or listen on 127.0.0.1")


def _default_data() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("storymode")) / "serve"


def _lock_data(data: Path) -> Any:
    import fcntl

    data.mkdir(parents=True, exist_ok=True)
    fh = open(data / ".lock", "a+")  # noqa: SIM115 - held while serving
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise UsageError(f"another storymode serve uses the data folder {data}; stop it or give --data DIR") \
            from None
    return fh


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help=f"Address to listen on; beyond loopback a token of at least {MIN_TOKEN} characters is required.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--token", envvar="STORYMODE_TOKEN", help="Bearer token every request must carry "
              "(or STORYMODE_TOKEN; prefer the variable: a flag shows in `ps`).")
@click.option("--data", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for jobs and stories (default: the user data folder, storymode/serve).")
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Stories made at the same time (one process each).")
@click.option("--max-queue", type=click.IntRange(1, 100_000), default=MAX_QUEUE, show_default=True,
              help="Stories that may wait; more get 429.")
@click.option("--max-scenes", type=click.IntRange(1, MAX_SCENES), default=Limits.scenes, show_default=True,
              help="Scenes a story may have (a text's Markdown sections count).")
@click.option("--max-resolution", type=click.Choice(RESOLUTION_NAMES), default=Limits.resolution,
              show_default=True, help="The largest resolution a story may ask for.")
@click.option("--max-text", type=click.IntRange(min=1), default=Limits.text, show_default=True,
              help="Characters of a text sent to be narrated word for word; more get 413.")
@click.option("--max-minutes", type=click.FloatRange(min=0.1), default=Limits.minutes, show_default=True,
              help="Minutes of video a story may last; a longer one fails before it is rendered.")
@guarded
def serve(host: str, port: int, token: str | None, data: Path | None, workers: int, max_queue: int,
          max_scenes: int, max_resolution: str, max_text: int, max_minutes: float) -> None:
    """Serve storymode over HTTP: POST /stories, GET /stories/{id}[/video|srt|vtt|story|storybook], DELETE.

    \b
    The OpenAPI spec is at /openapi.json (no /docs page: it would load scripts from a CDN).
    Without a token only loopback Host names (localhost, 127.0.0.1, [::1]) are answered.
    """
    token = (token or "").strip() or None
    check_token(host, token)
    try:
        import uvicorn
    except ImportError:
        raise MissingDependency('storymode serve needs FastAPI and uvicorn: pip install "storymode[serve]"') \
            from None
    data = (data or _default_data()).resolve()
    lock = _lock_data(data)
    limits = Limits(scenes=max_scenes, resolution=max_resolution, text=max_text, minutes=max_minutes)
    app = create_app(data, token=token, workers=workers, max_queue=max_queue, limits=limits)
    click.echo(f"storymode serving on http://{host}:{port} (data {data}; {'token required' if token else 'no token'})",
               err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10,
                    lifespan="on")
    finally:
        lock.close()
