"""`storymode serve`: an HTTP service over the same pipeline (FastAPI + uvicorn; pip install "storymode[serve]").

State lives on disk under the data folder, never only in memory:

    DATA/jobs/<id>.json        one job: request, status, per-stage progress, result or error (atomic writes)
    DATA/stories/<id>/         story.mp4 (.srt, .vtt), story.storymode/ (the story folder: cache and resume)

Job ids are generated (uuid4 hex) and checked against a strict pattern before any path is built from them.
Each running job is one worker process (at most --workers at a time) running storymode.api.make; DELETE
terminates it. On start, jobs that were running are queued again (their story folder makes that cheap).
"""
from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import multiprocessing
import os
import re
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import BaseModel, ConfigDict, Field

from .config import Settings
from .guard import guarded
from .errors import MissingDependency, StorymodeError, UsageError
from .workspace import atomic_write_json, atomic_write_text

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_PORT = 8321
MAX_BODY = 256 * 1024
MAX_QUEUE = 32
MAX_RESTARTS = 3
VIDEO_NAME = "story.mp4"
RESULTS = {"video": (VIDEO_NAME, "video/mp4"), "srt": ("story.srt", "application/x-subrip"),
           "vtt": ("story.vtt", "text/vtt"), "story": ("story.storymode/story.json", "application/json"),
           "storybook": ("story.storymode/storybook.html", "text/html")}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------- models (the OpenAPI spec)
NOT_FROM_CLIENTS = {"options", "music"}  # server paths and model locations come from the server's own config


def settings_model() -> type[BaseModel]:
    """The settings a client may send: every Settings field but music and backend options (those name files
    and models on the server), with the backends that can run here as choices."""
    from pydantic import create_model

    from .registry import STAGES, names

    fields: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        if name in NOT_FROM_CLIENTS:
            continue
        annotation: Any = info.annotation
        if name in STAGES:
            usable = [n for n in names(name) if _usable(name, n)] or names(name)
            annotation = Literal[tuple(usable)]  # type: ignore[valid-type]
        fields[name] = (annotation | None, Field(None, description=info.description,
                                                  json_schema_extra=None, **_limits(info)))
    return create_model("StorySettings", __config__=ConfigDict(extra="forbid"), **fields)


def _usable(stage: str, name: str) -> bool:
    """Whether a backend can run on this server (only those are offered to clients)."""
    from .registry import backend_class

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


def request_model() -> type[BaseModel]:
    """The body of POST /stories: a prompt or a text (exactly one), an optional title, settings."""
    from pydantic import create_model

    settings = settings_model()
    common: dict[str, Any] = {"title": (str | None, Field(None, min_length=1, max_length=120,
                                                            description="title (for a text)")),
                              "settings": (settings | None, Field(None, description="storymode settings"))}
    words = r"\w"  # at least one letter or digit: an all-blank prompt is refused by the schema itself
    prompt = create_model("PromptRequest", __config__=ConfigDict(extra="forbid"),
                          prompt=(str, Field(min_length=1, max_length=100_000, pattern=words,
                                             description="what the story is about")), **common)
    text = create_model("TextRequest", __config__=ConfigDict(extra="forbid"),
                        text=(str, Field(min_length=1, max_length=200_000, pattern=words,
                                         description="your own story text")), **common)
    return prompt | text  # type: ignore[return-value]


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
class Store:
    """Jobs as JSON files; every write is atomic."""

    def __init__(self, data: Path) -> None:
        self.data = Path(data).resolve()
        self.jobs = self.data / "jobs"
        self.stories = self.data / "stories"
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
        try:
            path = self.job_path(job_id)
            return json.loads(path.read_text(encoding="utf-8"))
        except (KeyError, OSError, ValueError):
            return None

    def write(self, job: dict[str, Any]) -> None:
        atomic_write_json(self.job_path(job["id"]), job)

    def all(self) -> list[dict[str, Any]]:
        out = []
        for path in self.jobs.glob("*.json"):
            if JOB_ID.match(path.stem):
                job = self.read(path.stem)
                if job is not None:
                    out.append(job)
        return sorted(out, key=lambda j: (j.get("created", ""), j.get("seq", 0)))


# ---------------------------------------------------------------- the worker process
def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)  # the service died: stop; its next start queues the job again
        time.sleep(0.5)


def _worker_main(data: str, job_id: str, parent: int) -> None:
    """Run one job: storymode.api.make with progress written into the job's JSON."""
    from . import api
    from .errors import LockedError
    from .events import Event

    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    store = Store(Path(data))
    job = store.read(job_id)
    if job is None:
        return
    last = [0.0]

    def on_event(event: Event) -> None:
        if event.kind not in ("stage-start", "step", "stage-end") or not event.stage:
            return
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
        from .batch import _describe

        job.update(status="failed", finished=_now(), error=_describe(err))
    store.write(job)


# ---------------------------------------------------------------- the scheduler
class Scheduler:
    """A bounded FIFO queue of job ids and at most `workers` worker processes; all state mirrored on disk."""

    def __init__(self, store: Store, workers: int = 1, max_queue: int = MAX_QUEUE) -> None:
        self.store = store
        self.workers = workers
        self.max_queue = max_queue
        self.queue: deque[str] = deque()
        self.running: dict[str, Any] = {}
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.ctx = multiprocessing.get_context("spawn")
        self.thread: threading.Thread | None = None

    def recover(self) -> None:
        """Queue again the jobs a stopped service left queued or running (or fail them after many restarts)."""
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
        with self.lock:
            job = self.store.read(job_id)
            if job is None or job["status"] not in ("queued", "running"):
                return job
            with contextlib.suppress(ValueError):
                self.queue.remove(job_id)
            proc = self.running.pop(job_id, None)
            if proc is not None:
                proc.terminate()
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)
                job = self.store.read(job_id) or job
            job.update(status="cancelled", finished=_now())
            self.store.write(job)
            return job

    def _reap(self) -> None:
        for job_id, proc in list(self.running.items()):
            if proc.is_alive():
                continue
            proc.join()
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
            proc = self.ctx.Process(target=_worker_main, args=(str(self.store.data), job_id, os.getpid()),
                                    name=f"storymode-job-{job_id[:8]}", daemon=True)
            proc.start()
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
        """Stop the workers; their jobs go back to the queue (on disk) for the next start."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(5)
        with self.lock:
            for job_id, proc in list(self.running.items()):
                proc.terminate()
                proc.join(10)
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
    """Pure ASGI middleware: a request body over `limit` bytes gets 413 (by Content-Length or while streaming)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = False
        try:
            too_big = length is not None and int(length) > self.limit
        except ValueError:
            too_big = True
        if too_big:
            return await _send_json(send, 413, {"detail": f"the request body is over {self.limit:,} bytes"})
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, {"detail": f"the request body is over {self.limit:,} bytes"})


class _TooLarge(Exception):
    pass


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


async def _send_json(send: Any, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


def create_app(data: str | Path, *, token: str | None = None, workers: int = 1, max_queue: int = MAX_QUEUE,
               max_body: int = MAX_BODY) -> Any:
    """The FastAPI app (its scheduler starts and stops with the app's lifespan)."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import FileResponse, JSONResponse
    except ImportError:
        raise MissingDependency('storymode serve needs FastAPI and uvicorn: pip install "storymode[serve]"') \
            from None
    from . import __version__

    StoryRequest = request_model()  # noqa: N806 - a model class
    store = Store(Path(data))
    scheduler = Scheduler(store, workers=workers, max_queue=max_queue)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        scheduler.start()
        yield
        scheduler.stop()

    app = FastAPI(title="storymode", version=__version__, lifespan=lifespan,
                  description="Prompt or text in, narrated and illustrated story video out.")
    app.state.scheduler = scheduler
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody, "description": text}
        for code, text in ((400, "not JSON"), (401, "missing or wrong bearer token"), (404, "no such job"),
                           (409, "not ready"), (413, "body too large"), (422, "invalid request"),
                           (429, "queue full"))}

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
        e = real[0]
        where = ".".join(str(p) for p in e.get("loc", ())
                         if p != "body" and p not in ("PromptRequest", "TextRequest")) or "body"
        return JSONResponse({"detail": f"{where}: {e.get('msg')}"}, status_code=422)

    def submit(body: Any) -> Any:
        settings = body.settings.model_dump(mode="json", exclude_none=True) if body.settings else {}
        try:
            from .config import resolve_settings
            from .pipeline import check_backends, clean_prompt

            check_backends(resolve_settings(settings))
            if getattr(body, "prompt", None):
                clean_prompt(body.prompt)
        except StorymodeError as err:
            return JSONResponse({"detail": str(err)}, status_code=422)
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

    @app.delete("/stories/{job_id}", response_model=JobStatus, responses=errors,
                summary="Cancel a queued or running story")
    def cancel(job_id: str) -> Any:
        if not JOB_ID.match(job_id):
            return missing(job_id)
        job = scheduler.cancel(job_id)
        if job is None:
            return missing(job_id)
        if job["status"] in ("done", "failed"):
            ended = "finished" if job["status"] == "done" else "failed"
            return JSONResponse({"detail": f"the job has already {ended}"}, status_code=409)
        return _public(job)

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
    if token:
        asgi = BearerAuth(asgi, token)
    asgi_app = asgi
    app.state.asgi = asgi_app
    return app if asgi is app else _Wrapped(asgi_app, app)


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
              help="Address to listen on; beyond loopback a token is required.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--token", envvar="STORYMODE_TOKEN", help="Bearer token every request must carry "
              "(or STORYMODE_TOKEN; prefer the variable: a flag shows in `ps`).")
@click.option("--data", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for jobs and stories (default: the user data folder, storymode/serve).")
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Stories made at the same time (one process each).")
@click.option("--max-queue", type=click.IntRange(1, 100_000), default=MAX_QUEUE, show_default=True,
              help="Stories that may wait; more get 429.")
@guarded
def serve(host: str, port: int, token: str | None, data: Path | None, workers: int, max_queue: int) -> None:
    """Serve storymode over HTTP: POST /stories, GET /stories/{id}[/video|srt|vtt|story|storybook], DELETE.

    \b
    The OpenAPI spec is at /openapi.json, the docs at /docs.
    """
    token = token or None
    if not is_loopback(host) and not token:
        raise UsageError(f"--host {host} is reachable from other machines: set a token with STORYMODE_TOKEN "
                         "(or --token) so every request must carry it, or listen on 127.0.0.1")
    try:
        import uvicorn
    except ImportError:
        raise MissingDependency('storymode serve needs FastAPI and uvicorn: pip install "storymode[serve]"') \
            from None
    data = (data or _default_data()).resolve()
    lock = _lock_data(data)
    app = create_app(data, token=token, workers=workers, max_queue=max_queue)
    click.echo(f"storymode serving on http://{host}:{port} (data {data}; {'token required' if token else 'no token'})",
               err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10,
                    lifespan="on")
    finally:
        lock.close()


if __name__ == "__main__":  # python -m storymode.service (until the command is registered in cli.py)
    serve(prog_name="storymode serve")
