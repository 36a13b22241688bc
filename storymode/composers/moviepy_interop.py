"""moviepy interop: the same video as a moviepy 2 clip, for tools that add their own layers in Python."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..errors import MissingDependency
from ..timeline import Timeline
from .audio import mix_narration
from .cards import BOLD, end_card, title_card
from .frames import load_picture, source_size, warp


def _moviepy() -> Any:
    try:
        import moviepy
    except ImportError:
        raise MissingDependency('to_moviepy() needs moviepy 2: pip install "storymode[moviepy]"') from None
    return moviepy


def _scene_clip(mp: Any, timeline: Timeline, index: int) -> Any:
    """One scene as a clip whose frames follow the same Ken Burns path as the ffmpeg renderer."""
    import cv2

    scene = timeline.scenes[index]
    size = (timeline.width, timeline.height)
    picture = load_picture(scene.image, *source_size(*size))
    half = timeline.transition_s / 2
    span = scene.duration + 2 * half

    def frame(t: float) -> Any:
        return warp(cv2, picture, scene.motion, t / span, *size, size)

    return mp.VideoClip(frame, duration=span).with_start(scene.start - half)


def to_moviepy(timeline: Timeline, narration: str | Path | None = None, captions: bool = True) -> Any:
    """A moviepy CompositeVideoClip of the timeline (cards, motion, crossfades, captions, narration)."""
    mp = _moviepy()
    fade = timeline.transition_s
    first = load_picture(timeline.scenes[0].image, timeline.width, timeline.height)
    last = load_picture(timeline.scenes[-1].image, timeline.width, timeline.height)
    end_start = timeline.scenes[-1].end
    layers = [mp.ImageClip(title_card(first, timeline.title)).with_duration(timeline.scenes[0].start + fade / 2)]
    for index in range(len(timeline.scenes)):
        layers.append(_scene_clip(mp, timeline, index).with_effects([mp.vfx.CrossFadeIn(fade)]))
    layers.append(mp.ImageClip(end_card(last, timeline.credits)).with_start(end_start - fade / 2)
                  .with_duration(timeline.duration - end_start + fade / 2)
                  .with_effects([mp.vfx.CrossFadeIn(fade), mp.vfx.FadeOut(0.6)]))
    if captions:
        size = round(min(timeline.width, timeline.height) * 0.045)
        for cue in timeline.cues:
            text = mp.TextClip(font=str(BOLD), text=cue.text, font_size=size, color="white", bg_color=(0, 0, 0, 150),
                               margin=(size // 2, size // 4), method="label", text_align="center")
            y = timeline.height - text.h - round(timeline.height * 0.07)
            layers.append(text.with_start(cue.start).with_duration(max(0.05, cue.end - cue.start))
                          .with_position(("center", y)))
    video = mp.CompositeVideoClip(layers, size=(timeline.width, timeline.height)).with_duration(timeline.duration)
    if narration is None:
        narration = Path(tempfile.mkdtemp(prefix="storymode-")) / "narration.wav"
        mix_narration(timeline, Path(narration))
    return video.with_audio(mp.AudioFileClip(str(narration)))
