"""moviepy interop: the same video as a moviepy 2 clip, for tools that add their own layers in Python.

Each segment (title card, scenes, end card) is one layer; the transition between two segments is drawn the way
composers/frames.py draws it: crossfade and dip-to-black with moviepy's own fade effects, cut by where the
layers start and end, slide by the layers' positions and wipe by a mask on the coming layer.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependency
from ..timeline import Timeline
from .audio import mix_narration
from .cards import BOLD, end_card, title_card
from .frames import FADE_OUT_S, load_picture, smooth, source_size, warp, wipe_ramp

# transitions during which the leaving layer stays under the coming one (the others hand over at the boundary)
OVERLAPPING = ("crossfade", "slide", "wipe")


def _moviepy() -> Any:
    try:
        import moviepy
    except ImportError:
        raise MissingDependency('to_moviepy() needs moviepy 2: pip install "storymode[moviepy]"') from None
    return moviepy


@dataclass(frozen=True)
class _Handover:
    """The transition from one segment to the next: its kind and its window [start, end) on the timeline."""

    kind: str
    start: float
    end: float

    @property
    def boundary(self) -> float:
        return (self.start + self.end) / 2

    def progress(self, t: float) -> float:
        """0..1 through the window, eased like the renderer's slide and wipe."""
        return smooth((t - self.start) / (self.end - self.start))


def _handovers(timeline: Timeline) -> list[_Handover]:
    """Title -> scene 1 (always a crossfade), each scene -> the next, the last scene -> the end card."""
    half = timeline.transition_s / 2
    kinds = ["crossfade"] + [scene.transition for scene in timeline.scenes]
    bounds = [scene.start for scene in timeline.scenes] + [timeline.scenes[-1].end]
    return [_Handover(kind, b - half, b + half) for kind, b in zip(kinds, bounds)]


def _scene_frames(timeline: Timeline, index: int) -> Any:
    """Frame function of one scene at timeline time t, on the same Ken Burns path as the ffmpeg renderer."""
    import cv2

    scene = timeline.scenes[index]
    size = (timeline.width, timeline.height)
    picture = load_picture(scene.image, *source_size(*size))
    half = timeline.transition_s / 2
    span = scene.duration + 2 * half

    def frame(t: float) -> Any:
        return warp(cv2, picture, scene.motion, (t - (scene.start - half)) / span, *size, size)

    return frame


def _layer(mp: Any, frame_at: Any, coming: _Handover | None, leaving: _Handover | None, end: float,
           size: tuple[int, int]) -> Any:
    """One segment's clip, placed on the timeline, with the effects of the transitions into and out of it."""
    width, height = size
    start = 0.0 if coming is None else (coming.start if coming.kind in OVERLAPPING else coming.boundary)
    if leaving is not None:
        end = leaving.end if leaving.kind in OVERLAPPING else leaving.boundary
    clip = mp.VideoClip(lambda t: frame_at(start + t), duration=end - start).with_start(start)
    if coming is not None and coming.kind == "crossfade":
        clip = clip.with_effects([mp.vfx.CrossFadeIn(coming.end - coming.start)])
    if coming is not None and coming.kind == "dip-to-black":
        clip = clip.with_effects([mp.vfx.FadeIn(coming.end - coming.boundary)])
    if leaving is not None and leaving.kind == "dip-to-black":
        clip = clip.with_effects([mp.vfx.FadeOut(leaving.boundary - leaving.start)])
    if coming is not None and coming.kind == "wipe":  # a soft edge sweeps the new picture in from the left
        def mask(t: float) -> Any:
            p = coming.progress(start + t) if start + t < coming.end else 1.0
            return np.broadcast_to(wipe_ramp(p, width)[None, :], (height, width))

        clip = clip.with_mask(mp.VideoClip(mask, is_mask=True, duration=clip.duration))
    slides = [h for h in (coming, leaving) if h is not None and h.kind == "slide"]
    if slides:  # the new picture pushes the old one out to the left
        def x(t: float) -> int:
            now = start + t
            if coming in slides and now < coming.end:  # type: ignore[union-attr]
                return width - int(round(coming.progress(now) * width))  # type: ignore[union-attr]
            if leaving in slides and now >= leaving.start:  # type: ignore[union-attr]
                return -int(round(leaving.progress(now) * width))  # type: ignore[union-attr]
            return 0

        clip = clip.with_position(lambda t: (x(t), 0))
    return clip


def to_moviepy(timeline: Timeline, narration: str | Path | None = None, captions: bool = True) -> Any:
    """A moviepy CompositeVideoClip of the timeline (cards, motion, each scene's transition, captions,
    narration)."""
    mp = _moviepy()
    width, height = timeline.width, timeline.height
    first = title_card(load_picture(timeline.scenes[0].image, width, height), timeline.title)
    last = end_card(load_picture(timeline.scenes[-1].image, width, height), timeline.credits)
    handovers = _handovers(timeline)
    frames = [lambda t: first] + [_scene_frames(timeline, i) for i in range(len(timeline.scenes))] + [lambda t: last]
    layers = []
    for k, frame_at in enumerate(frames):
        coming = handovers[k - 1] if k > 0 else None
        leaving = handovers[k] if k < len(handovers) else None
        layers.append(_layer(mp, frame_at, coming, leaving, timeline.duration, (width, height)))
    layers[-1] = layers[-1].with_effects([mp.vfx.FadeOut(FADE_OUT_S)])
    if captions:
        size = round(min(width, height) * 0.045)
        for cue in timeline.cues:
            text = mp.TextClip(font=str(BOLD), text=cue.text, font_size=size, color="white", bg_color=(0, 0, 0, 150),
                               margin=(size // 2, size // 4), method="label", text_align="center")
            y = height - text.h - round(height * 0.07)
            layers.append(text.with_start(cue.start).with_duration(max(0.05, cue.end - cue.start))
                          .with_position(("center", y)))
    video = mp.CompositeVideoClip(layers, size=(width, height)).with_duration(timeline.duration)
    if narration is None:
        narration = Path(tempfile.mkdtemp(prefix="storymode-")) / "narration.wav"
        mix_narration(timeline, Path(narration))
    return video.with_audio(mp.AudioFileClip(str(narration)))
