"""A story's files as the studio serves them: scene pictures, line narrations and candidates' pictures inline, and
the video, captions and exports (inline or as sandboxed downloads)."""
from __future__ import annotations

import re
from typing import Any

from ..errors import UsageError
from . import library
from .responses import file_response
from .security import UnknownStory, story_folder
from .state import Studio, read_story

NARRATION_NAME = re.compile(r"^[0-9a-f]{8,64}\.wav$")
RESULT_MEDIA = {"video": "video/mp4", "srt": "application/x-subrip", "vtt": "text/vtt"}


def add_file_routes(app: Any, studio: Studio) -> None:
    """GET /s/{id}/art/{scene}, /narration/{name}, /candidates/{candidate}, /files/{kind} and /files/exports/{name}."""

    @app.get("/s/{story_id}/art/{scene_id}")
    def picture(story_id: str, scene_id: str) -> Any:
        folder = story_folder(studio.root, story_id)
        story, _ = read_story(folder)
        ids = [s.id for s in story.scenes]
        if scene_id not in ids:
            raise UnknownStory(f"no scene {scene_id[:40]!r} in this story")
        at = ids.index(scene_id)
        found = library.scene_pictures(folder, story, studio.settings(story_id), only=at)[at]
        if found is None:
            raise UnknownStory(f"scene {scene_id!r} has no picture yet: illustrate the story")
        return file_response(found, "image/png")

    @app.get("/s/{story_id}/narration/{name}")
    def narration(story_id: str, name: str) -> Any:
        folder = story_folder(studio.root, story_id)
        path = folder / "narration" / name
        if not NARRATION_NAME.fullmatch(name) or not library.is_plain_file(path):
            raise UnknownStory(f"no narration {name[:80]!r}")
        return file_response(path, "audio/wav")

    @app.get("/s/{story_id}/candidates/{candidate_id}")
    def candidate_picture(story_id: str, candidate_id: str) -> Any:
        from .candidates import load_candidate

        try:
            chosen = load_candidate(story_folder(studio.root, story_id), candidate_id)
        except UnknownStory:
            raise
        except UsageError as err:
            raise UnknownStory(str(err)) from None
        if chosen.path is None or not library.is_plain_file(chosen.path):
            raise UnknownStory(f"candidate {candidate_id!r} has no picture")
        return file_response(chosen.path, "image/png")

    @app.get("/s/{story_id}/files/{kind}")
    def result_file(story_id: str, kind: str, download: int = 0) -> Any:
        if kind not in RESULT_MEDIA:
            raise UnknownStory(f"no file {kind[:40]!r}")
        try:
            path = library.download_file(studio.root, story_id, kind)
        except FileNotFoundError:
            raise UnknownStory(f"this story has no {kind} yet: render it") from None
        if download:
            return file_response(path, RESULT_MEDIA[kind], download=path.name)
        return file_response(path, RESULT_MEDIA[kind])

    @app.get("/s/{story_id}/files/exports/{name}")
    def export_file(story_id: str, name: str) -> Any:
        import mimetypes

        try:
            path = library.download_file(studio.root, story_id, "exports", name)
        except FileNotFoundError:
            raise UnknownStory(f"no export {name[:80]!r}") from None
        return file_response(path, mimetypes.guess_type(name)[0] or "application/octet-stream", download=name)
