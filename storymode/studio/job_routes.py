"""A story's long work as its job (jobs.py): start narrate, illustrate, refresh or render, follow the progress as
server-sent events, and ask which job runs now."""
from __future__ import annotations

from pathlib import Path
from typing import Any

try:  # the routes' own annotations name it (FastAPI reads them); without FastAPI, create_app says what to install
    from starlette.requests import Request
except ImportError:  # pragma: no cover
    Request = Any  # type: ignore[misc,assignment]

from . import library
from .jobs import sse_message
from .security import STORY_ID, UnknownStory, story_folder
from .state import Studio

STAGE_JOBS = {"narrate": ("narrate",), "illustrate": ("illustrate",), "refresh": ("narrate", "illustrate")}


def _stage_work(studio: Studio, story_id: str, folder: Path, stages: tuple[str, ...]) -> Any:
    from .. import api

    def work(emit: Any) -> None:
        settings = studio.settings(story_id)
        for stage in stages:
            getattr(api, stage)(folder, settings=settings, on_event=emit)

    return work


def _render_work(studio: Studio, story_id: str, folder: Path, video: Path) -> Any:
    from .. import api

    def work(emit: Any) -> dict[str, Any]:
        result = api.render(folder, video, settings=studio.settings(story_id), on_event=emit)
        return {"duration": round(result.duration, 3), "video": result.video.name}

    return work


def _check_known(studio: Studio, story_id: str) -> None:
    """Nothing for a story with a job (a new one may not have its folder yet); else UnknownStory unless a story."""
    if not STORY_ID.fullmatch(story_id) or not studio.jobs.known(story_id):
        story_folder(studio.root, story_id)  # UnknownStory (404) unless it is a story


def add_job_routes(app: Any, studio: Studio) -> None:
    """POST /s/{id}/jobs/{kind} (202), GET /s/{id}/events (server-sent events) and GET /s/{id}/job."""
    from fastapi.responses import StreamingResponse

    @app.post("/s/{story_id}/jobs/{kind}", status_code=202)
    def start_job(story_id: str, kind: str) -> Any:
        folder = story_folder(studio.root, story_id)
        if kind == "render":
            work = _render_work(studio, story_id, folder, library.video_path(studio.root, story_id))
        elif kind in STAGE_JOBS:
            work = _stage_work(studio, story_id, folder, STAGE_JOBS[kind])
        else:
            raise UnknownStory(f"no job {kind[:40]!r}; the jobs are: render, {', '.join(STAGE_JOBS)}")
        return {"job": studio.jobs.start(story_id, kind, work).view()}

    @app.get("/s/{story_id}/events")
    async def events(story_id: str, request: Request, after: int = 0) -> Any:
        _check_known(studio, story_id)
        last = request.headers.get("last-event-id", "")
        start = int(last) if last.isdigit() else max(after, 0)
        channel = studio.jobs.channel(story_id)

        async def stream() -> Any:
            yield "retry: 2000\n\n"
            async for message in channel.follow(start):
                if await request.is_disconnected():
                    return
                yield sse_message(message)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    @app.get("/s/{story_id}/job")
    def current_job(story_id: str) -> Any:
        _check_known(studio, story_id)
        job = studio.jobs.current(story_id)
        return {"job": job.view() if job else None}
