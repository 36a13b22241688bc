"""The illustrate stage: one picture per scene and a record of what was drawn, cached by the brief."""
from __future__ import annotations

import time

from ..config import Settings
from ..errors import BackendError
from ..events import Event, Listener, ignore
from ..illustrators.base import IllustrationRequest, Illustrator
from ..story import Story
from ..timeline import frame_size, with_zoom_margin
from ..workspace import Workspace, artifact_key, atomic_path, atomic_write_json
from .common import stage_backend, warnings_said


def illustrate_stage(ws: Workspace, story: Story, settings: Settings, *, fresh: bool = False,
                     emit: Listener = ignore) -> list[str]:
    """One picture per scene (and a record of what was drawn), reused when its key is unchanged.

    The key holds the brief, not the narration: editing a scene's text redoes its narration only, editing its
    brief redoes its picture only (illustrators draw from the brief)."""
    t0 = time.perf_counter()
    total = len(story.scenes)
    emit(Event("stage-start", "illustrate", total=total))
    illustrator = stage_backend("illustrator", settings)
    assert isinstance(illustrator, Illustrator)
    # pictures carry a margin for the slow zoom, so the deepest zoom still has a picture pixel per frame pixel
    width, height = with_zoom_margin(*frame_size(settings.aspect, settings.resolution))
    paths: list[str] = []
    todo: list[tuple[IllustrationRequest, str]] = []  # (request, key) of each scene not drawn yet
    for index, scene in enumerate(story.scenes):
        request = IllustrationRequest(brief=scene.brief, cast=tuple(story.characters), scene_text=scene.text,
                                      scene_index=index, scene_count=total, style=story.style, seed=story.seed,
                                      width=width, height=height)
        in_picture = [c.model_dump() for c in request.in_picture()]
        key = artifact_key("art", illustrator.fingerprint(), scene.brief.model_dump(), in_picture,
                           [c.id for c in story.characters], index, total, story.style, story.seed,
                           width, height)
        paths.append(str(ws.art_dir() / f"{key}.png"))
        if fresh or not (ws.art_dir() / f"{key}.png").exists() or not (ws.art_dir() / f"{key}.json").exists():
            todo.append((request, key))
    cached = total - len(todo)
    if cached:
        emit(Event("step", "illustrate", done=cached, total=total, cached=cached))
    with warnings_said(emit, "illustrate"):  # e.g. a prompt cut to the text encoder's limit, a fallback picture
        # each picture is saved as it comes, so a run stopped part-way keeps the ones already drawn
        drawn = illustrator.illustrate_each([request for request, _ in todo])
        made = 0
        for done, ((request, key), picture) in enumerate(zip(todo, drawn), start=cached + 1):
            made += 1
            png = ws.art_dir() / f"{key}.png"
            with atomic_path(png) as tmp:
                picture.image.save(tmp, format="PNG", compress_level=3)
            atomic_write_json(ws.art_dir() / f"{key}.json", picture.drawn)
            ws.record(key, png, "illustrate", {"scene": story.scenes[request.scene_index].id})
            emit(Event("step", "illustrate", done=done, total=total, cached=cached))
    if made < len(todo):
        raise BackendError(f"the illustrator {illustrator.name!r} returned {made} pictures for {len(todo)} scenes")
    emit(Event("stage-end", "illustrate", done=total, total=total, cached=cached, seconds=time.perf_counter() - t0))
    return paths
