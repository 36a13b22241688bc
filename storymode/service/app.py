"""The FastAPI app: POST /stories, GET /stories/{id} and its results, DELETE; behind the body limit and the token
(or loopback Host) middleware. FastAPI is imported only when an app is made (pip install "storymode[serve]")."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ..errors import MissingDependency, StorymodeError
from .limits import Limits, over_limits, within_limits
from .middleware import BearerAuth, BodyLimit, LoopbackHost
from .models import ErrorBody, JobStatus, Submitted, request_model
from .scheduler import MAX_QUEUE, Scheduler
from .store import JOB_ID, RESULTS, Store, public_view
from .validation import invalid_request

MAX_BODY = 256 * 1024
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in ((400, "not JSON"), (401, "missing or wrong bearer token"), (404, "no such job"),
                       (409, "not ready"), (413, "body or text too large"),
                       (421, "not a loopback Host name (a service without a token)"),
                       (422, "invalid request, or over this server's limits"), (429, "queue full"))}


def create_app(data: str | Path, *, token: str | None = None, workers: int = 1, max_queue: int = MAX_QUEUE,
               max_body: int = MAX_BODY, limits: Limits | None = None) -> Any:
    """The FastAPI app (its scheduler starts and stops with the app's lifespan); without a token it answers
    loopback Host names only. Only the OpenAPI JSON is served: no /docs or /redoc (they load scripts from a CDN)."""
    try:
        from fastapi import FastAPI
        from fastapi.exceptions import RequestValidationError
    except ImportError:
        raise MissingDependency('storymode serve needs FastAPI and uvicorn: pip install "storymode[serve]"') \
            from None
    from .. import __version__

    limits = limits or Limits()
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
    app.exception_handler(RequestValidationError)(_invalid)
    _add_submit(app, scheduler, limits)
    _add_job_routes(app, store, scheduler)
    for name, (filename, media_type) in RESULTS.items():
        _add_result_route(app, store, name, filename, media_type)
    asgi: Any = BodyLimit(app, max_body)
    asgi = BearerAuth(asgi, token) if token else LoopbackHost(asgi)
    app.state.asgi = asgi
    return Wrapped(asgi, app)


async def _invalid(request: Any, exc: Any) -> Any:
    from fastapi.responses import JSONResponse

    status, detail = invalid_request(exc.errors())
    return JSONResponse({"detail": detail}, status_code=status)


def _missing(job_id: str) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"detail": f"no job {job_id[:64]!r}"}, status_code=404)


def submit_story(body: Any, scheduler: Scheduler, limits: Limits) -> Any:
    """POST /stories: check the request against storymode and this server's limits, then queue it (202), or
    answer why not (422, 413, 429)."""
    from fastapi.responses import JSONResponse

    from ..config import resolve_settings
    from ..pipeline import check_backends, check_request, clean_prompt

    settings = body.settings.model_dump(mode="json", exclude_none=True) if body.settings else {}
    try:
        settings = within_limits(limits, resolve_settings(settings), settings)
        resolved = resolve_settings(settings)
        check_backends(resolved)
        if getattr(body, "prompt", None):
            clean_prompt(body.prompt)
        # refused at once (422), not after a queue: the prompt, title and text for the audience asked for
        check_request(resolved, prompt=getattr(body, "prompt", None), text=getattr(body, "text", None),
                      title=body.title)
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
        return JSONResponse({"detail": f"the queue is full ({scheduler.max_queue} stories waiting); try again "
                                       "later"}, status_code=429, headers={"Retry-After": "30"})
    return {"id": job["id"], "status": job["status"], "url": f"/stories/{job['id']}"}


def _add_submit(app: Any, scheduler: Scheduler, limits: Limits) -> None:
    def submit(body: Any) -> Any:
        return submit_story(body, scheduler, limits)

    # the body's model is made for this server's limits, so FastAPI reads it from the annotation set here
    submit.__annotations__ = {"body": request_model(limits), "return": Any}
    app.post("/stories", status_code=202, response_model=Submitted, responses=ERROR_RESPONSES,
             summary="Queue a story (prompt or text, with settings)")(submit)


def _add_job_routes(app: Any, store: Store, scheduler: Scheduler) -> None:
    from fastapi import Response

    @app.get("/stories/{job_id}", response_model=JobStatus, responses=ERROR_RESPONSES,
             summary="Status and progress")
    def status(job_id: str) -> Any:
        job = store.read(job_id)
        return _missing(job_id) if job is None else public_view(job)

    @app.delete("/stories/{job_id}", response_model=JobStatus, summary="Cancel or remove a story",
                responses={**ERROR_RESPONSES, 204: {"description": "a finished story, removed with its files"}},
                description="A queued or running story is cancelled (200, its status): its processes are "
                            "killed and its files removed. A done, failed or cancelled one is removed with its "
                            "files (204); it is then gone (404).")
    def cancel(job_id: str) -> Any:
        if not JOB_ID.match(job_id):
            return _missing(job_id)
        outcome, job = scheduler.discard(job_id)
        if job is None:
            return _missing(job_id)
        return public_view(job) if outcome == "cancelled" else Response(status_code=204)


def _add_result_route(app: Any, store: Store, name: str, filename: str, media_type: str) -> None:
    from fastapi.responses import FileResponse, JSONResponse

    def get_result(job_id: str) -> Any:
        job = store.read(job_id)
        if job is None:
            return _missing(job_id)
        if job["status"] != "done":
            return JSONResponse({"detail": f"the job is {job['status']}; results come when it is done"},
                                status_code=409)
        path = store.story_dir(job_id) / filename
        if not path.is_file():
            return JSONResponse({"detail": f"the {name} file is gone"}, status_code=404)
        return FileResponse(path, media_type=media_type,
                            filename=f"{job_id}{''.join(Path(filename).suffixes) or '.bin'}")

    app.get(f"/stories/{{job_id}}/{name}", responses={**ERROR_RESPONSES, 200: {"content": {media_type: {}}}},
            response_class=FileResponse, summary=f"Download the {name}", operation_id=f"get_{name}")(get_result)


class Wrapped:
    """The app behind its middlewares, still exposing .state, .openapi() for tests."""

    def __init__(self, asgi: Any, app: Any) -> None:
        self.asgi = asgi
        self.app = app
        self.state = app.state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.asgi(scope, receive, send)

    def openapi(self) -> dict:
        """The app's OpenAPI spec."""
        return self.app.openapi()
