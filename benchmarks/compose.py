"""Render one fixed 60 s, 8-scene 720p30 timeline with our ffmpeg renderer and with idiomatic moviepy 2.

    python benchmarks/compose.py [--skip-moviepy]

Prints both wall times, the ratio, real-time factors and peak RSS, then checks our video by decoding it:
duration equals the audio within one frame, frames move during the zoom, the crossfade mixes two pictures.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCENES = 8
WIDTH, HEIGHT, FPS = 1280, 720, 30


def build_timeline(folder: Path):  # type: ignore[no-untyped-def]
    """A 60 s timeline: 8 storybook pictures, a narration-like signal per scene, sentence and word cues."""
    from storymode.sound.wav import write_wav
    from storymode.illustrators.base import IllustrationRequest
    from storymode.illustrators.storybook import StorybookIllustrator
    from storymode.story import Story
    from storymode.timeline import END_S, LEAD_S, TAIL_S, TITLE_S, LineAudio, build_timeline as build

    settings = ["meadow", "forest", "sky", "hills", "river", "village", "mountains", "bedroom"]
    story = Story.model_validate({"title": "The Benchmark Fox", "seed": 1,
                                  "characters": [{"id": "pip", "name": "Pip", "kind": "fox"}],
                                  "scenes": [{"id": f"s{i}", "lines": [{"text": f"Scene {i} words."}],
                                              "brief": {"setting": s, "characters": ["pip"]}}
                                             for i, s in enumerate(settings)]})
    per_scene = (60.0 - TITLE_S - END_S) / SCENES - LEAD_S - TAIL_S
    rng = np.random.default_rng(0)
    artist = StorybookIllustrator()
    lines, images = [], []
    sentence = "Pip the fox looked up at the wide sky, and the wind sang softly over the hills."
    for i, scene in enumerate(story.scenes):
        picture = artist.illustrate(IllustrationRequest(scene.brief, tuple(story.characters), scene.text, i, SCENES,
                                                        "storybook", 1, WIDTH, HEIGHT))
        image = folder / f"scene{i}.png"
        picture.image.save(image)
        images.append(str(image))
        t = np.arange(int(per_scene * 24000)) / 24000
        voice = 0.2 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) \
            + 0.02 * rng.standard_normal(t.size)
        wav = folder / f"scene{i}.wav"
        write_wav(wav, voice.astype(np.float32), 24000)
        words = sentence.split()
        step = per_scene / len(words)
        lines.append([LineAudio(str(wav), per_scene, "narrator", ((sentence, 0.0, per_scene),),
                                tuple((w, k * step, (k + 1) * step) for k, w in enumerate(words)))])
    return build(story, lines, images, width=WIDTH, height=HEIGHT, fps=FPS, credits=["Benchmark"])


def render_ours(timeline, folder: Path, queue) -> None:  # type: ignore[no-untyped-def]
    """Our ffmpeg renderer, in its own process so its peak RSS is its own."""
    from storymode.composers.ffmpeg import FfmpegComposer

    t0 = time.perf_counter()
    FfmpegComposer().compose(timeline, folder / "ours.mp4", folder / "build", {"title": "bench"})
    queue.put((time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))


def render_moviepy(timeline, folder: Path, queue) -> None:  # type: ignore[no-untyped-def]
    """Idiomatic moviepy 2: ImageClip + resized zoom + CompositeVideoClip + crossfade + TextClip captions."""
    from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, TextClip, vfx

    from storymode.composers.cards import BOLD

    t0 = time.perf_counter()
    fade = timeline.transition_s
    clips = []
    for scene in timeline.scenes:
        d = scene.duration + fade

        def zoom(t: float, d: float = d) -> float:
            return 1.0 + 0.1 * t / d

        clips.append(ImageClip(scene.image).with_duration(d).resized(zoom).with_position("center")
                     .with_start(scene.start - fade / 2).with_effects([vfx.CrossFadeIn(fade)]))
    for cue in timeline.cues:
        clips.append(TextClip(font=str(BOLD), text=cue.text, font_size=32, color="white", bg_color=(0, 0, 0, 150),
                              margin=(16, 8)).with_start(cue.start).with_duration(cue.end - cue.start)
                     .with_position(("center", 600)))
    video = CompositeVideoClip(clips, size=(timeline.width, timeline.height)).with_duration(timeline.duration)
    video = video.with_audio(AudioFileClip(str(folder / "build" / "narration.wav")))
    video.write_videofile(str(folder / "moviepy.mp4"), fps=FPS, codec="libx264", preset="veryfast",
                          audio_codec="aac", threads=2, logger=None)
    queue.put((time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))


def run(target, *args):  # type: ignore[no-untyped-def]
    """Run a renderer in a fresh process; returns (seconds, peak RSS MB of python, of ffmpeg)."""
    queue = mp.get_context("fork").Queue()
    proc = mp.get_context("fork").Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def check(timeline, video: Path) -> None:  # type: ignore[no-untyped-def]
    """Decode the result and check duration, motion and the crossfade."""
    from tests.conftest import decode_frame, probe

    import re
    import subprocess

    from storymode.ffmpeg_exe import ffmpeg_exe

    info = probe(video)
    log = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(video), "-map", "0:a", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    h, m, s = re.findall(r"time=(\d+):(\d+):([\d.]+)", log)[-1]
    audio_s = int(h) * 3600 + int(m) * 60 + float(s)
    print(f"check: video {info['duration']:.3f} s, audio {audio_s:.3f} s, "
          f"difference {abs(info['duration'] - audio_s) * 1000:.0f} ms (one frame = {1000 / FPS:.0f} ms)")
    s = timeline.scenes[2]
    a = decode_frame(video, s.start + 1.0, WIDTH, HEIGHT)[:500].astype(float)
    b = decode_frame(video, s.start + 2.0, WIDTH, HEIGHT)[:500].astype(float)
    print(f"check: mean pixel change over 1 s of zoom: {np.abs(a - b).mean():.2f} (0 would be a still)")
    boundary = s.end
    before = decode_frame(video, boundary - 0.6, WIDTH, HEIGHT)[:500].astype(float)
    after = decode_frame(video, boundary + 0.6, WIDTH, HEIGHT)[:500].astype(float)
    middle = decode_frame(video, boundary, WIDTH, HEIGHT)[:500].astype(float)
    mix = (before + after) / 2
    print(f"check: crossfade frame vs the mean of its neighbours: {np.abs(middle - mix).mean():.2f}; "
          f"vs either neighbour: {np.abs(middle - before).mean():.2f}, {np.abs(middle - after).mean():.2f}")


def main() -> None:
    """Build the timeline, render it both ways, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-moviepy", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="storymode-compose-bench-"))
    timeline = build_timeline(folder)
    print(f"timeline: {len(timeline.scenes)} scenes, {timeline.duration:.1f} s, {WIDTH}x{HEIGHT}@{FPS}, "
          f"{len(timeline.cues)} captions; folder {folder}")
    ours, ours_py, ours_ff = run(render_ours, timeline, folder)
    print(f"ours (ffmpeg, x264 veryfast): {ours:7.2f} s  = {timeline.duration / ours:5.2f}x real time; "
          f"peak RSS python {ours_py:.0f} MB, ffmpeg {ours_ff:.0f} MB")
    check(timeline, folder / "ours.mp4")
    if not args.skip_moviepy:
        theirs, mp_py, mp_ff = run(render_moviepy, timeline, folder)
        print(f"moviepy 2 (idiomatic):        {theirs:7.2f} s  = {timeline.duration / theirs:5.2f}x real time; "
              f"peak RSS python {mp_py:.0f} MB, ffmpeg {mp_ff:.0f} MB")
        print(f"ratio moviepy / ours: {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
