"""A third-party backend for every storymode stage, written only against storymode's public base classes.

The test installs this package into a throwaway folder and runs whole stories with it: the writer numbers its
pages, the narrator beeps (one tone, 0.2 s a word), the illustrator paints each scene one flat colour, and the
composer writes an MP4 of the pictures with imageio-ffmpeg plus a record of what the pipeline gave it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pydantic import Field

from storymode.backend import BackendOptions
from storymode.cast import VoicePreset
from storymode.composers.base import Composer, FrameProgress, Video
from storymode.illustrators.base import Illustration, IllustrationRequest, Illustrator
from storymode.narrators.base import Narration, Narrator, Span
from storymode.story import Line, Scene, Story
from storymode.timeline import Timeline
from storymode.writers.base import WriteRequest, Writer

COLOURS = [(210, 40, 40), (40, 170, 60), (40, 70, 210), (230, 200, 40)]
RATE = 16000
SECONDS_PER_WORD = 0.2


class TinyWriter(Writer):
    """One line a page: "Page N of PROMPT."; a text is cut at its blank lines."""

    name = "tiny"
    description = "tiny test writer: one numbered line a page"
    credits = ("Story plan by storymode-tiny",)

    def write(self, request: WriteRequest) -> Story:
        """request.scenes pages about request.prompt."""
        if self.raw_dir is not None:  # where a writer keeps what it could not use; given by the pipeline
            (self.raw_dir / "tiny-writer.txt").write_text(request.prompt, encoding="utf-8")
        scenes = [Scene(id=f"p{n}", lines=[Line(text=f"Page {n} of {request.prompt}.")])
                  for n in range(1, request.scenes + 1)]
        return Story(title=f"Tiny {request.prompt}", prompt=request.prompt, seed=request.seed, scenes=scenes)

    def segment(self, text: str, request: WriteRequest) -> Story:
        """The text's paragraphs, one page each, word for word."""
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
        scenes = [Scene(id=f"p{n}", lines=[Line(text=p)]) for n, p in enumerate(paragraphs, 1)]
        return Story(title=request.prompt, seed=request.seed, scenes=scenes)


class TinyNarrator(Narrator):
    """A beep a line, SECONDS_PER_WORD a word, at the pitch_hz option."""

    name = "tiny"
    description = "tiny test narrator: a beep a line"
    credits = ("Beeps by storymode-tiny at {pitch_hz:.0f} Hz",)

    class Options(BackendOptions):
        pitch_hz: float = Field(440.0, ge=100.0, le=2000.0)

    def narrate(self, text: str, voice: VoicePreset, pace: float = 1.0) -> Narration:
        """The beep for one line, with the line as its one sentence and its words spread evenly."""
        words = text.split()
        seconds = SECONDS_PER_WORD * len(words) / pace
        t = np.arange(int(seconds * RATE)) / RATE
        samples = (0.3 * np.sin(2 * np.pi * self.options.pitch_hz * t)).astype(np.float32)
        step = seconds / len(words)
        spans = tuple(Span(w, n * step, (n + 1) * step) for n, w in enumerate(words))
        return Narration(samples, RATE, (Span(text, 0.0, seconds),), spans, timing_source="tiny")


class TinyIllustrator(Illustrator):
    """Each scene one flat colour, by its index."""

    name = "tiny"
    description = "tiny test illustrator: a flat colour a scene"
    credits = ("Flat colours by storymode-tiny ({palette} palette)",)

    class Options(BackendOptions):
        palette: str = "primary"

    def illustrate(self, request: IllustrationRequest) -> Illustration:
        """The scene's colour at the requested size."""
        from PIL import Image

        colour = COLOURS[request.scene_index % len(COLOURS)]
        image = Image.new("RGB", (request.width, request.height), colour)
        return Illustration(image, {"colour": list(colour), "setting": request.brief.setting})


class TinyComposer(Composer):
    """An MP4 of the pictures (no sound), with a record of what it was given beside it in workdir."""

    name = "tiny"
    description = "tiny test composer: the pictures as an MP4"
    requires = ("imageio_ffmpeg", "PIL")
    credits = ("Rendered by the tiny composer",)

    def compose(self, timeline: Timeline, out: Path, workdir: Path, metadata: dict[str, str],
                progress: FrameProgress | None = None, chapter_titles: list[str] | None = None) -> Video:
        """Each frame is the picture of the scene it falls in (black outside the scenes)."""
        import imageio_ffmpeg
        from PIL import Image

        size = (timeline.width, timeline.height)
        pictures = [np.asarray(Image.open(s.image).convert("RGB").resize(size)) for s in timeline.scenes]
        black = np.zeros((timeline.height, timeline.width, 3), np.uint8)
        frames = round(timeline.duration * timeline.fps)
        tags = [arg for key, value in metadata.items() for arg in ("-metadata", f"{key}={value}")]
        writer = imageio_ffmpeg.write_frames(str(out), size, fps=timeline.fps, codec="libx264", quality=None,
                                             macro_block_size=1, output_params=["-preset", "ultrafast", *tags])
        writer.send(None)
        for n in range(frames):
            t = n / timeline.fps
            scene = next((i for i, s in enumerate(timeline.scenes) if s.start <= t < s.end), None)
            writer.send(np.ascontiguousarray(black if scene is None else pictures[scene]))
            if progress:
                progress(n + 1, frames)
        writer.close()
        record = {"chapter_titles": chapter_titles, "metadata": metadata, "credits": timeline.credits,
                  "scenes": [[s.start, s.end] for s in timeline.scenes]}
        (workdir / "tiny-composer.json").write_text(json.dumps(record), encoding="utf-8")
        return Video(Path(out), frames / timeline.fps, timeline.width, timeline.height, timeline.fps, frames)
