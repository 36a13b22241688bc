"""The illustrate stage: one picture per scene and a record of what was drawn, cached by the brief."""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Settings
from ..errors import BackendError
from ..events import Event, Listener, ignore
from ..illustrators.base import IllustrationRequest, Illustrator
from ..story import Story
from ..timeline import frame_size, with_zoom_margin
from ..workspace import Workspace, artifact_key, atomic_path, atomic_write_json
from .common import stage_backend, warnings_said
from .credentials import credit_picture, picture_provenance, signing_chain

if TYPE_CHECKING:
    from PIL import Image

    from ..provenance.chain import SigningChain


def picture_size(settings: Settings) -> tuple[int, int]:
    """The size pictures are drawn at: the frame's, with a margin for the slow zoom (so the deepest zoom still has
    a picture pixel per frame pixel)."""
    return with_zoom_margin(*frame_size(settings.aspect, settings.resolution))


def scene_request(story: Story, index: int, width: int, height: int) -> IllustrationRequest:
    """What the illustrator is asked for scene number index: its brief, in the brief's own style (else the
    story's), with the brief's picture variant."""
    scene = story.scenes[index]
    return IllustrationRequest(brief=scene.brief, cast=tuple(story.characters), scene_text=scene.text,
                               scene_index=index, scene_count=len(story.scenes),
                               style=scene.brief.style or story.style, seed=story.seed, width=width, height=height,
                               variant=scene.brief.variant)


def picture_key(illustrator: Illustrator, story: Story, request: IllustrationRequest) -> str:
    """A scene picture's cache key: the illustrator, the brief (its variant and style with it), who is in the
    picture, the scene's place in the story, the story's style and seed, and the size."""
    in_picture = [c.model_dump() for c in request.in_picture()]
    return artifact_key("art", illustrator.fingerprint(), request.brief.key_fields(), in_picture,
                        [c.id for c in story.characters], request.scene_index, request.scene_count, story.style,
                        story.seed, request.width, request.height)


def illustrate_stage(ws: Workspace, story: Story, settings: Settings, *, fresh: bool = False,
                     emit: Listener = ignore) -> list[str]:
    """One picture per scene (and a record of what was drawn), reused when its key is unchanged.

    The key holds the brief, not the narration: editing a scene's text redoes its narration only, editing its
    brief redoes its picture only (illustrators draw from the brief)."""
    return draw_pictures(ws, [(story, index) for index in range(len(story.scenes))], settings, fresh=fresh,
                         emit=emit)


def draw_pictures(ws: Workspace, scenes: Sequence[tuple[Story, int]], settings: Settings, *, fresh: bool = False,
                  emit: Listener = ignore, stage: str = "illustrate") -> list[str]:
    """The picture of each (story, scene index), drawn through the stage's cache, and their paths in order.

    The studio draws a scene's candidate pictures this way (the story with other variants of that scene's brief),
    so the picture of the one picked is already in the cache when the story is illustrated."""
    t0 = time.perf_counter()
    total = len(scenes)
    emit(Event("stage-start", stage, total=total))
    illustrator = stage_backend("illustrator", settings)
    assert isinstance(illustrator, Illustrator)
    width, height = picture_size(settings)
    paths: list[str] = []
    todo: list[tuple[Story, IllustrationRequest, str]] = []  # (story, request, key) of each picture not drawn yet
    for story, index in scenes:
        request = scene_request(story, index, width, height)
        key = picture_key(illustrator, story, request)
        paths.append(str(ws.art_dir() / f"{key}.png"))
        if fresh or not (ws.art_dir() / f"{key}.png").exists() or not (ws.art_dir() / f"{key}.json").exists():
            todo.append((story, request, key))
    cached = total - len(todo)
    chain = signing_chain(settings, emit)
    if chain is not None:  # pictures drawn before credentials were turned on get them now
        waiting = {key for _, _, key in todo}
        for (story, index), path in zip(scenes, paths):
            if Path(path).stem not in waiting:
                _credit_cached(Path(path), f"{story.title}, scene {index + 1}", settings, chain)
    if cached:
        emit(Event("step", stage, done=cached, total=total, cached=cached))
    with warnings_said(emit, stage):  # e.g. a prompt cut to the text encoder's limit, a fallback picture
        # each picture is saved as it comes, so a run stopped part-way keeps the ones already drawn
        pictures = illustrator.illustrate_each([request for _, request, _ in todo])
        made = 0
        for done, ((story, request, key), picture) in enumerate(zip(todo, pictures), start=cached + 1):
            made += 1
            _save_picture(ws, story, request, key, picture.image, dict(picture.drawn), settings, chain)
            emit(Event("step", stage, done=done, total=total, cached=cached))
    if made < len(todo):
        raise BackendError(f"the illustrator {illustrator.name!r} returned {made} pictures for {len(todo)} scenes")
    emit(Event("stage-end", stage, done=total, total=total, cached=cached, seconds=time.perf_counter() - t0))
    return paths


def _save_picture(ws: Workspace, story: Story, request: IllustrationRequest, key: str, image: "Image.Image",
                  drawn: dict, settings: Settings, chain: "SigningChain | None") -> None:
    """A drawn picture and its record under art/ (signed when credentials are on), recorded in the manifest."""
    png = ws.art_dir() / f"{key}.png"
    with atomic_path(png) as tmp:
        image.save(tmp, format="PNG", compress_level=3)
        if chain is not None:
            drawn["credentials"] = _credit(tmp, f"{story.title}, scene {request.scene_index + 1}", drawn,
                                           settings, chain)
    atomic_write_json(ws.art_dir() / f"{key}.json", drawn)  # written last: its presence marks the picture complete
    inputs = {"scene": story.scenes[request.scene_index].id}
    if request.variant:
        inputs["variant"] = request.variant
    ws.record(key, png, "illustrate", inputs)


def _credit(png: Path, title: str, drawn: dict, settings: Settings, chain: "SigningChain") -> dict:
    """Sign a picture; what its json record says about the credentials."""
    provenance = picture_provenance(title, drawn, settings)
    credit_picture(png, provenance, chain)
    return {"source_type": provenance.source_type, "signer": "local storymode chain" if chain.local else "your chain"}


def _credit_cached(png: Path, title: str, settings: Settings, chain: "SigningChain") -> None:
    """Sign a picture drawn earlier without credentials (its record says whether it has them)."""
    record = png.with_suffix(".json")
    try:
        drawn = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(drawn, dict) or "credentials" in drawn:
        return
    with atomic_path(png) as tmp:
        shutil.copyfile(png, tmp)
        drawn["credentials"] = _credit(tmp, title, drawn, settings, chain)
    atomic_write_json(record, drawn)
