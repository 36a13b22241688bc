"""POST /api/stories: a new story from a prompt, a pasted text or an uploaded file, made (written, narrated,
illustrated) as the story's job in a folder reserved under the studio's root."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import library
from .bodies import MAX_TEXT_BYTES, NewSettings, NewStory, TooLarge, decoded_upload
from .responses import json_response
from .state import Studio


def new_settings(asked: NewSettings) -> tuple[Any, dict[str, Any]]:
    """The Settings a new story is made with, and what the story remembers of them (its own overrides)."""
    from ..config import place_options, resolve_settings, with_options
    from ..illustrators.prompting import style_preset
    from ..pipeline import check_backends
    from ..registry import STAGES

    overrides = asked.model_dump(exclude={"preset", "options"}, exclude_none=True)
    overrides = {k: v for k, v in overrides.items() if v != ""}
    if "style" in overrides:
        overrides["style"] = style_preset(overrides["style"]).name
    settings = resolve_settings(overrides)
    pairs = [line.strip() for line in asked.options.splitlines() if line.strip() and not line.strip().startswith("#")]
    placed = place_options(pairs, {stage: settings.backend(stage) for stage in STAGES}) if pairs else {}
    if asked.preset:
        if settings.illustrator != "diffusers":
            raise UsageError("a preset is for the diffusers illustrator: choose it, or leave the preset empty")
        placed.setdefault("illustrator", {})["preset"] = asked.preset
    if placed:
        settings = with_options(settings, placed)
    check_backends(settings)
    remembered = {**overrides, **({"options": placed} if placed else {})}
    return settings, remembered


def reserve_folder(root: Path, words: str) -> tuple[str, Path]:
    """A new story id and its folder, made now so that no other request takes the same name."""
    for _ in range(100):
        story_id = library.new_story_id(root, words)
        folder = root / f"{story_id}{library.STORY_SUFFIX}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            raise UsageError(f"cannot create {folder}: {err.strerror}") from None
        return story_id, folder
    raise UsageError(f"cannot find a free name for a new story in {root}")


def make_work(folder: Path, settings: Any, remembered: dict[str, Any], prompt: str | None, text: str | None,
              file_name: str | None) -> Any:
    """The job that makes a new story: write, narrate and illustrate (the board needs its pictures)."""
    import shutil

    from .. import api
    from ..workspace import Workspace, atomic_write_text

    def work(emit: Any) -> dict[str, Any]:
        try:
            with Workspace(folder) as ws:
                ws.set_meta(library.SETTINGS_META, remembered)
            if text is not None:
                with tempfile.TemporaryDirectory(prefix="storymode-studio-") as tmp:
                    source = Path(tmp) / (file_name or "story.txt")
                    atomic_write_text(source, text)
                    story = api.write(story_dir=folder, from_file=source, settings=settings, on_event=emit)
            else:
                story = api.write(prompt, story_dir=folder, settings=settings, on_event=emit)
        except BaseException:
            if not (folder / "story.json").exists():  # nothing was written: the name is free again
                shutil.rmtree(folder, ignore_errors=True)
            raise
        api.narrate(folder, settings=settings, on_event=emit)
        api.illustrate(folder, settings=settings, on_event=emit)
        return {"title": story.title, "scenes": len(story.scenes)}

    return work


def add_new_story_route(app: Any, studio: Studio) -> None:
    """POST /api/stories (202: the new story's id, board URL, events URL and job; 413 for a text too large)."""
    from ..jobs import text_stem
    from ..pipeline import check_request, clean_prompt

    @app.post("/api/stories", status_code=202)
    def new_story(body: NewStory) -> Any:
        given = [name for name in ("prompt", "text", "file") if getattr(body, name)]
        if len(given) != 1:
            raise UsageError("give a prompt, a text or a file (one of them)")
        prompt = text = file_name = None
        title = body.title or None
        try:
            if body.file is not None:
                text = decoded_upload(body.file)
                suffix = Path(body.file.name).suffix.lower()
                file_name = text_stem(Path(body.file.name).stem) + suffix
                title = None  # the file's name is its title
            elif body.text is not None:
                if len(body.text.encode("utf-8")) > MAX_TEXT_BYTES:
                    raise TooLarge(f"the text is {len(body.text.encode('utf-8')):,} bytes; the studio takes texts "
                                   f"of at most {MAX_TEXT_BYTES:,} bytes: split it into parts")
                text = body.text
                file_name = text_stem(title) + ".txt"
            else:
                prompt = clean_prompt(body.prompt or "")
        except TooLarge as err:
            return json_response({"detail": str(err)}, 413)
        if text is not None and not text.strip():
            raise UsageError("the text is empty; paste or upload your story")
        settings, remembered = new_settings(body.settings)
        check_request(settings, prompt=prompt, text=text, title=title)
        words = prompt or title or Path(file_name or "story").stem.replace("-", " ")
        story_id, folder = reserve_folder(studio.root, words)
        studio.made[story_id] = remembered
        job = studio.jobs.start(story_id, "make", make_work(folder, settings, remembered, prompt, text, file_name))
        return {"id": story_id, "url": f"/s/{story_id}", "events": f"/s/{story_id}/events", "job": job.view()}
