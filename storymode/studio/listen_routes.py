"""Hearing a story in the studio: one line's narration (narrated first if it changed) and a voice preset's
sample."""
from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .bodies import PlayBody, PreviewBody
from .security import story_folder
from .state import Studio, read_story, stale_message

SAMPLE_TEXT = "Hello! This is how I sound. Once upon a time, in a quiet little place, something wonderful began."


@lru_cache(maxsize=32)
def voice_sample(voice: str, text: str) -> bytes:
    """A short sample of a voice preset saying text, as WAV bytes (what `storymode voices --say` writes)."""
    from ..cast import load_presets
    from ..narrators.base import Narrator
    from ..pipeline import clean_prompt
    from ..registry import create
    from ..sound.wav import write_wav

    presets = load_presets()
    if voice not in presets:
        raise UsageError(f"no voice preset {voice!r}; presets: {', '.join(sorted(presets))}")
    narrator = create("narrator", presets[voice].backend)
    assert isinstance(narrator, Narrator)
    narration = narrator.narrate(clean_prompt(text), presets[voice])
    with tempfile.TemporaryDirectory(prefix="storymode-voice-") as tmp:
        out = Path(tmp) / "sample.wav"
        write_wav(out, narration.samples, narration.sample_rate)
        return out.read_bytes()


def add_listen_routes(app: Any, studio: Studio) -> None:
    """POST /s/{id}/play (the URL of one line's narration) and POST /s/{id}/voice-preview (WAV bytes)."""

    @app.post("/s/{story_id}/play")
    def play_line(story_id: str, body: PlayBody) -> Any:
        """Narrate what changed (cached otherwise), then the URL of one line's narration."""
        from .. import api
        from .edits import scene_index

        folder = story_folder(studio.root, story_id)
        story, version = read_story(folder)
        if version != body.base:
            from .history import Conflict

            raise Conflict(stale_message(body.base, version), version)
        at = scene_index(story, body.scene_id)
        if body.index >= len(story.scenes[at].lines):
            raise UsageError(f"scene {body.scene_id!r} has no line {body.index}")

        def work(emit: Any) -> str:
            # hearing a line needs its voice, not its word timings: Whisper alignment waits for the render
            settings = studio.settings(story_id).model_copy(update={"align": "off"})
            lines = api.narrate(folder, settings=settings, on_event=emit)
            return Path(lines[at][body.index].path).name

        job = studio.jobs.run_now(story_id, "narrate", work)
        if job.status != "done":
            raise UsageError(job.error)
        return {"url": f"/s/{story_id}/narration/{job.result}"}

    @app.post("/s/{story_id}/voice-preview")
    def voice_preview(story_id: str, body: PreviewBody) -> Any:
        from fastapi.responses import Response

        story_folder(studio.root, story_id)
        return Response(voice_sample(body.voice, body.text or SAMPLE_TEXT), media_type="audio/wav",
                        headers={"cache-control": "no-store"})
