"""The narrate stage: one wav and one timings record per line, or the user's own reading cut into lines."""
from __future__ import annotations

import time
from pathlib import Path

from ..cast import assign_cast, load_presets
from ..config import Settings
from ..events import Event, Listener, ignore
from ..narrators.audio.speakable import RULES as SPEAKABLE_RULES
from ..narrators.base import Narrator
from ..story import Story
from ..timeline import LineAudio, line_audio
from ..workspace import Workspace, artifact_key, atomic_write_json
from . import reading
from .common import stage_backend


def _line_audio(wav: Path, timings: dict, speaker: str, pause_after: float | None) -> LineAudio:
    return line_audio(str(wav), timings, speaker, pause_after)  # validated: an edited file may hold anything


def narrate_stage(ws: Workspace, story: Story, settings: Settings, *, fresh: bool = False,
                  emit: Listener = ignore, narration_audio: str | Path | bool | None = None) -> list[list[LineAudio]]:
    """One wav and one timings file per line, each reused when its key (voice, text, pace, backend) is unchanged.

    narration_audio: the user's reading of the story, cut into the lines instead of synthesizing them (see
    storymode.pipeline.reading); None: the recording this folder remembers, if any; False or "none": synthesized voices."""
    from ..composers.audio import write_wav

    recording = reading.choose(ws, narration_audio)
    if recording is not None:
        return reading.narrate(ws, story, recording, fresh=fresh, emit=emit)
    t0 = time.perf_counter()
    total = sum(len(s.lines) for s in story.scenes)
    emit(Event("stage-start", "narrate", total=total))
    narrator = stage_backend("narrator", settings)
    assert isinstance(narrator, Narrator)
    cast = assign_cast(story, load_presets(), narrator.name)
    out: list[list[LineAudio]] = []
    done = cached = 0
    aligning = _aligning(settings.align)
    for scene in story.scenes:
        scene_lines = []
        scene_timings: list[dict] = []
        for line in scene.lines:
            voice = cast[line.speaker]
            key = artifact_key("narration", narrator.fingerprint(), voice.model_dump(), line.text, line.pace,
                               SPEAKABLE_RULES)
            wav = ws.narration_dir() / f"{key}.wav"
            meta = ws.narration_dir() / f"{key}.json"
            timings = None
            if not fresh and wav.exists() and meta.exists():
                timings = reading.valid_timings(ws.read_json(meta))  # a damaged record is made again
                cached += timings is not None
            if timings is None:
                narration = narrator.narrate(line.text, voice, line.pace)
                write_wav(wav, narration.samples, narration.sample_rate)
                timings = {"duration": narration.duration, "voice": voice.name, "text": line.text,
                           "timing_source": narration.timing_source,
                           "sentences": [[s.text, round(s.start, 4), round(s.end, 4)] for s in narration.sentences],
                           "words": [[w.text, round(w.start, 4), round(w.end, 4)] for w in narration.words]}
                atomic_write_json(meta, timings)  # written last: its presence marks the artifact complete
                ws.record(key, wav, "narrate", {"scene": scene.id, "speaker": line.speaker, "voice": voice.name})
            scene_lines.append(_line_audio(wav, timings, line.speaker, line.pause_after))
            scene_timings.append({**timings, "wav": str(wav), "key": key})
            done += 1
            emit(Event("step", "narrate", done=done, total=total, cached=cached))
        if aligning:
            scene_lines = _aligned_scene(ws, scene_timings, scene, fresh)
        out.append(scene_lines)
    emit(Event("stage-end", "narrate", done=done, total=total, cached=cached, seconds=time.perf_counter() - t0))
    return out


def _aligning(setting: str) -> bool:
    """Whether to align word timings with Whisper: "on" needs the [align] extra, "auto" uses it when present."""
    from ..errors import MissingDependency
    from ..narrators.audio.align import INSTALL_HINT, missing

    if setting == "off":
        return False
    if missing():
        if setting == "on":
            raise MissingDependency(f"--align on needs Whisper alignment: {INSTALL_HINT}")
        return False  # captions keep the letter-count estimate (sentences stay exact)
    return True


def _aligned_scene(ws: Workspace, scene_timings: list[dict], scene, fresh: bool) -> list[LineAudio]:  # type: ignore[no-untyped-def]
    """Whisper-aligned word timings for one scene (one pass over the whole scene), cached by its lines' keys."""
    from ..narrators.audio.align import fingerprint, refine_timings

    key = artifact_key("aligned", fingerprint(), [t["key"] for t in scene_timings])
    path = ws.narration_dir() / f"{key}.aligned.json"
    refined = None if fresh else ws.read_json(path)
    if (not isinstance(refined, list) or len(refined) != len(scene_timings)
            or not all(map(reading.valid_timings, refined))):
        refined = [{k: v for k, v in t.items() if k != "wav"} for t in refine_timings(scene_timings)]
        atomic_write_json(path, refined)  # the timings only; the wav paths come from this run
    return [_line_audio(Path(cur["wav"]), t, line.speaker, line.pause_after)
            for cur, t, line in zip(scene_timings, refined, scene.lines)]
