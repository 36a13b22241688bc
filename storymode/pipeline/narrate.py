"""The narrate stage: one wav and one timings record per line, or the user's own reading cut into lines."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..cast import assign_cast, load_presets
from ..config import Settings
from ..events import Event, Listener, ignore
from ..narrators.audio.align import scene_aligner
from ..narrators.audio.speakable import RULES as SPEAKABLE_RULES
from ..narrators.audio.timings import LineRecord
from ..narrators.base import Narrator
from ..story import Story
from ..timeline import LineAudio, line_audio
from ..workspace import Workspace, artifact_key, atomic_write_json
from . import reading
from .common import stage_backend


def line_key(narrator: Narrator, voice: Any, line: Any) -> str:
    """The cache key of one line's narration: the narrator, the voice, the words, the pace, the speakable rules."""
    return artifact_key("narration", narrator.fingerprint(), voice.model_dump(), line.text, line.pace,
                        SPEAKABLE_RULES)


def narrate_stage(ws: Workspace, story: Story, settings: Settings, *, fresh: bool = False,
                  emit: Listener = ignore, narration_audio: str | Path | bool | None = None) -> list[list[LineAudio]]:
    """One wav and one timings record per line, each reused when its key (voice, text, pace, backend) is unchanged.

    narration_audio: the user's reading of the story, cut into the lines instead of synthesizing them (see
    storymode.pipeline.reading); None: the recording this folder remembers, if any; False or "none": synthesized voices."""
    from ..sound.wav import write_wav

    recording = reading.choose(ws, narration_audio)
    if recording is not None:
        return reading.narrate(ws, story, recording, fresh=fresh, emit=emit)
    t0 = time.perf_counter()
    total = sum(len(s.lines) for s in story.scenes)
    emit(Event("stage-start", "narrate", total=total))
    narrator = stage_backend("narrator", settings)
    assert isinstance(narrator, Narrator)
    cast = assign_cast(story, load_presets(), narrator.name)
    aligned = scene_aligner(settings.align, ws.narration_dir(), fresh=fresh)
    out: list[list[LineAudio]] = []
    done = cached = 0
    for scene in story.scenes:
        narrated: list[tuple[Path, LineRecord]] = []
        for line in scene.lines:
            voice = cast[line.speaker]
            key = line_key(narrator, voice, line)
            wav = ws.narration_dir() / f"{key}.wav"
            meta = ws.narration_dir() / f"{key}.json"
            record = None
            if not fresh and wav.exists() and meta.exists():
                record = LineRecord.read(ws.read_json(meta))  # a damaged record is made again
                cached += record is not None
            if record is None:
                narration = narrator.narrate(line.text, voice, line.pace)
                record = LineRecord.of(narration, voice=voice.name, text=line.text)
                write_wav(wav, narration.samples, narration.sample_rate)
                atomic_write_json(meta, record.as_json())  # written last: its presence marks the artifact complete
                ws.record(key, wav, "narrate", {"scene": scene.id, "speaker": line.speaker, "voice": voice.name})
            narrated.append((wav, record))
            done += 1
            emit(Event("step", "narrate", done=done, total=total, cached=cached))
        out.append([line_audio(str(wav), record, line.speaker, line.pause_after)
                    for (wav, _), record, line in zip(narrated, aligned(narrated), scene.lines)])
    emit(Event("stage-end", "narrate", done=done, total=total, cached=cached, seconds=time.perf_counter() - t0))
    return out
