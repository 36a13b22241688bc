"""The studio's FastAPI app: the library (/), a story's board (/s/{id}) and the JSON routes its page calls.

Pages are Jinja2 templates (autoescaped) with one plain script and one stylesheet from /static; every change goes
through history.save with the version the page loaded (409 when it is stale), and long work runs as the story's
job (jobs.py) whose progress pages follow at /s/{id}/events. FastAPI is imported only when an app is made.

This module assembles the app; the routes live in pages.py, new_story.py, story_routes.py, job_routes.py,
listen_routes.py, candidate_routes.py and file_routes.py."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import MissingDependency, StorymodeError, UsageError
from .candidate_routes import add_candidate_routes
from .file_routes import add_file_routes
from .job_routes import add_job_routes
from .listen_routes import add_listen_routes
from .new_story import add_new_story_route
from .pages import add_page_routes
from .responses import invalid_request, storymode_error
from .security import PAGE_HEADERS, StudioGuard, new_secret
from .state import Studio
from .story_routes import add_story_routes

STATIC = Path(__file__).resolve().parent / "static"


def create_app(root: str | Path, *, token: str | None = None, csrf: str | None = None) -> Any:
    """The studio as an ASGI app over the story folders directly under root; without a token it answers loopback
    Host names only."""
    try:
        from fastapi import FastAPI
        from fastapi.exceptions import RequestValidationError
        from fastapi.staticfiles import StaticFiles
    except ImportError:
        raise MissingDependency('storymode studio needs FastAPI, uvicorn and Jinja2: pip install "storymode[studio]"') \
            from None
    from .. import __version__

    root = Path(root).resolve()
    if not root.is_dir():
        raise UsageError(f"--dir {root}: no such folder")
    studio = Studio(root, csrf or new_secret())
    app = FastAPI(title="storymode studio", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = studio
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(StorymodeError)(storymode_error)
    add_page_routes(app, studio)
    add_new_story_route(app, studio)
    add_story_routes(app, studio)
    add_job_routes(app, studio)
    add_listen_routes(app, studio)
    add_candidate_routes(app, studio)
    add_file_routes(app, studio)
    return StudioGuard(_with_headers(app), csrf=studio.csrf, token=token)


def _with_headers(app: Any) -> Any:
    """The app, each response carrying PAGE_HEADERS (unless it set its own policy: a download's sandbox)."""

    async def wrapped(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in PAGE_HEADERS.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await app(scope, receive, send_with_headers)

    wrapped.state = app.state  # type: ignore[attr-defined]
    return wrapped
