"""The write stage: story.json for the request, reused (with the user's edits) when the request is unchanged."""
from __future__ import annotations

import hashlib
import time

from ..config import Settings
from ..errors import UsageError
from ..events import Event, Listener, ignore
from ..story import Story, load_story
from ..workspace import Workspace, artifact_key, atomic_write_text
from ..writers.base import WriteRequest, Writer
from .common import stage_backend, warnings_said
from .screening import check_request, check_story_for_audience, chosen_screens, written_story


STORY_FROM_META = "story_from"  # manifest entry: "text" when the story is the user's own words, else "prompt"


def understood_note(story: Story) -> str:
    """One line saying what the writer understood: the prompt's request, or the text's cast and places."""
    if story.request is not None and story.request.summary():
        return f"read the prompt as {story.request.summary()} (story.json: request)"
    cast = ", ".join(f"{c.name} ({c.kind})" for c in story.characters[:6]) or "no characters"
    places = ", ".join(dict.fromkeys(sc.brief.setting for sc in story.scenes))
    return f"read {story.title!r}: {cast}; {places}"


def write_stage(ws: Workspace, settings: Settings, *, prompt: str | None = None, text: str | None = None,
                title: str | None = None, fresh: bool = False, emit: Listener = ignore) -> Story:
    """story.json for the request: reused (with the user's edits) when the request is unchanged. What the user
    gave and what the writer returns are screened for the audience first (Refused when not for it)."""
    t0 = time.perf_counter()
    screens = chosen_screens(settings)
    asked = check_request(settings, prompt=prompt, text=text, title=title, screens=screens)
    emit(Event("stage-start", "write", total=1))
    writer = stage_backend("writer", settings)
    assert isinstance(writer, Writer)
    if prompt is None and text is None:
        if not ws.story_path.exists():
            raise UsageError(f"{ws.root} has no story.json yet; give a prompt or --from FILE")
        story = load_story(ws.story_path)
        check_story_for_audience(story, settings)  # story.json may have been edited since it was written
        emit(Event("stage-end", "write", done=1, total=1, cached=1, seconds=time.perf_counter() - t0))
        return story
    request = WriteRequest(prompt=title or prompt or "story", scenes=settings.scenes, audience=settings.audience,
                           style=settings.style, tone=settings.tone, words_per_scene=settings.words_per_scene,
                           seed=settings.seed)
    text_hash = hashlib.sha256(text.encode()).hexdigest() if text is not None else None
    key = artifact_key("story", writer.fingerprint(), request.model_dump(exclude={"rules"}), text_hash)
    if not fresh and ws.story_path.exists() and ws.get_meta("story_key") in (key, None):
        story = load_story(ws.story_path)
        check_story_for_audience(story, settings)  # story.json may have been edited since it was written
        emit(Event("stage-end", "write", done=1, total=1, cached=1, seconds=time.perf_counter() - t0))
        return story
    if ws.story_path.exists():  # a different request: keep the old story (maybe edited) beside the new one
        atomic_write_text(ws.root / "story.previous.json", ws.story_path.read_text(encoding="utf-8"))
    writer.raw_dir = ws.build_dir()  # replies the writer could not use are kept there, for the user to read
    with warnings_said(emit, "write"):  # e.g. a prompt in a language the planner does not write
        if text is not None:
            story = written_story(lambda again: writer.segment(text, again), writer, request, screens, asked, emit)
        else:
            story = written_story(writer.write, writer, request, screens, asked, emit)
    atomic_write_text(ws.story_path, story.to_json())
    ws.set_meta("story_key", key)
    ws.set_meta(STORY_FROM_META, "text" if text is not None else "prompt")  # for the credits and the credentials
    emit(Event("note", "write", message=understood_note(story), data={"title": story.title}))
    emit(Event("step", "write", done=1, total=1))
    emit(Event("stage-end", "write", done=1, total=1, seconds=time.perf_counter() - t0))
    return story
