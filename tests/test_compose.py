"""The composer: a music bed ducked by a real sidechain compressor, word highlights, bad music files."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from storymode.composers.captions import karaoke_text
from storymode.ffmpeg_exe import ffmpeg_exe
from storymode.timeline import Cue, WordCue

from .conftest import decode_audio, decode_frame, probe, run_cli


def _tone_level_db(samples: np.ndarray, start: float, end: float, freq: float = 1000.0, rate: int = 16000) -> float:
    seg = samples[int(start * rate): int(end * rate)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / rate)
    return float(20 * np.log10(spectrum[(freqs > freq - 10) & (freqs < freq + 10)].max() / len(seg) + 1e-12))


@pytest.mark.slow
def test_music_is_ducked_under_the_voice(tmp_path):
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=1000:duration=6", "-ac", "2", str(tmp_path / "bed.mp3")], check=True)
    proc = run_cli("make", "a shy fox who learns to fly", "-o", "m.mp4", "--scenes", "1", "--resolution", "480p",
                   "--music", "bed.mp3", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    samples = decode_audio(tmp_path / "m.mp4")
    timeline = json.loads((tmp_path / "m.storymode" / "build" / "timeline.json").read_text())
    clip = timeline["audio"][0]
    alone = _tone_level_db(samples, 2.0, 2.4)  # title card: music only (after its 2 s fade-in)
    under_voice = _tone_level_db(samples, clip["start"] + 0.5, clip["start"] + 0.9)
    late = _tone_level_db(samples, timeline["duration"] - 3.4, timeline["duration"] - 3.0)  # end card, looped bed
    assert alone - under_voice > 6, (alone, under_voice)
    assert late > under_voice + 6  # the bed loops to the end and comes back up when the voice stops
    assert abs(probe(tmp_path / "m.mp4")["duration"] - timeline["duration"]) < 0.15


def test_music_that_is_not_audio(tmp_path):
    (tmp_path / "notes.mp3").write_text("these are not sounds")
    proc = run_cli("make", "a fox", "-o", "x.mp4", "--music", "notes.mp3", cwd=tmp_path)
    assert proc.returncode == 2 and "no audio" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("make", "a fox", "-o", "x.mp4", "--music", "missing.mp3", cwd=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_karaoke_tags_follow_word_timings_and_stay_literal():
    words = [WordCue(text="{\\an8}Hi,", start=1.0, end=1.4), WordCue(text="Pip!", start=1.5, end=2.0)]
    cue = Cue(start=0.8, end=2.0, text="{\\an8}Hi,\nPip!", words=words)
    text = karaoke_text(cue)
    assert text.startswith("{\\k20}{\\k50}")  # 0.2 s lead, then 'Hi,' until the next word starts
    assert "\\N{\\k50}Pip!" in text
    assert "{\\an8}" not in text and "\\{" in text


# ---------------------------------------------------------------- the renderer on hand-made timelines
def _timeline(tmp_path, durations, size=(320, 180), image=None, silent=False):
    """A timeline over generated pictures and tones, one line per scene."""
    from PIL import Image

    from storymode.sound.wav import write_wav
    from storymode.story import Story
    from storymode.timeline import LineAudio, build_timeline

    story = Story.model_validate({"title": "T", "scenes": [{"id": f"s{i}", "lines": [{"text": f"Scene {i}."}]}
                                                            for i in range(len(durations))]})
    lines, images = [], []
    for i, d in enumerate(durations):
        path = tmp_path / f"{i}.png"
        if image is None:
            Image.new("RGB", size, (40 + (i * 37) % 200, 90, 160)).save(path)
        else:
            image(path)
        images.append(str(path))
        t = np.arange(int(d * 24000)) / 24000
        tone = np.zeros_like(t) if silent else 0.3 * np.sin(2 * np.pi * 220 * t)
        write_wav(tmp_path / f"{i}.wav", tone.astype(np.float32), 24000)
        lines.append([LineAudio(str(tmp_path / f"{i}.wav"), d, "narrator", ((f"Scene {i}.", 0.0, d),),
                                (("Scene", 0.0, d / 2), (f"{i}.", d / 2, d)))])
    return build_timeline(story, lines, images, width=size[0], height=size[1], fps=24)


def _render(timeline, tmp_path):
    from storymode.composers.ffmpeg import FfmpegComposer

    return FfmpegComposer().compose(timeline, tmp_path / "out.mp4", tmp_path / "build", {"title": "t"})


@pytest.mark.parametrize("problem, message", [
    ("missing", "missing"), ("corrupt", "cannot be read"), ("tiny", "at least 16x16")])
def test_bad_pictures_give_clear_errors_and_no_video(tmp_path, problem, message):
    from PIL import Image

    from storymode.errors import UsageError

    def make(path):
        if problem == "corrupt":
            path.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
        elif problem == "tiny":
            Image.new("RGB", (8, 8), "red").save(path)

    tl = _timeline(tmp_path, [1.0, 1.0], image=make)
    with pytest.raises(UsageError, match=message):
        _render(tl, tmp_path)
    assert not (tmp_path / "out.mp4").exists()
    assert not list(tmp_path.glob(".out*"))  # no temporary left behind either


def test_huge_picture_is_refused(tmp_path):
    from PIL import Image

    from storymode.composers.frames import load_picture
    from storymode.errors import UsageError

    Image.MAX_IMAGE_PIXELS = None
    big = tmp_path / "big.png"
    Image.new("RGB", (10000, 9000), "blue").save(big, compress_level=1)
    with pytest.raises(UsageError, match="too large"):
        load_picture(big, 320, 180)


def test_silent_short_scenes_and_odd_sizes_still_render(tmp_path):
    # a silent line, a 0.1 s line and a zero-length line; pictures of another shape than the frame
    tl = _timeline(tmp_path, [1.0, 0.1, 0.0], size=(200, 300), silent=True)
    assert all(s.duration >= 1.5 for s in tl.scenes)
    video = _render(tl, tmp_path)
    info = probe(video.path)
    assert info["video"]["width"] == 200 and info["video"]["height"] == 300
    assert abs(info["duration"] - tl.duration) < 0.1


def test_many_scenes(tmp_path):
    tl = _timeline(tmp_path, [0.1] * 300, size=(64, 36))
    video = _render(tl, tmp_path)
    assert probe(video.path)["chapters"] == 300
    assert abs(probe(video.path)["duration"] - tl.duration) < 0.1


def test_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path):
    import os

    from storymode.errors import StorymodeError

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        def noise(path):  # incompressible pictures, so the video outgrows the small disk
            from PIL import Image

            Image.fromarray(np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8)).save(path)

        tl = _timeline(tmp_path, [3.0, 3.0], size=(640, 360), image=noise)
        with pytest.raises(StorymodeError, match="disk is full"):
            from storymode.composers.ffmpeg import FfmpegComposer

            FfmpegComposer().compose(tl, disk / "out.mp4", tmp_path / "build", {"title": "t"})
        assert os.listdir(disk) == []
    finally:
        subprocess.run(["umount", str(disk)], check=False)


KINDS = ["wipe", "slide", "dip-to-black", "cut", "crossfade"]  # scene i's transition into scene i + 1


def _every_transition(tmp_path):
    """Six scenes of flat colours, one of each transition between them (the last scene's goes to the end card)."""
    tl = _timeline(tmp_path, [2.0] * 6, size=(320, 180))
    kinds = KINDS + ["crossfade"]
    return tl.model_copy(update={"scenes": [s.model_copy(update={"transition": k}) for s, k in zip(tl.scenes, kinds)]})


def test_to_moviepy_matches_the_renderer(tmp_path):
    pytest.importorskip("moviepy")
    from storymode.composers.frames import FrameSource
    from storymode.composers.moviepy_interop import to_moviepy

    tl = _every_transition(tmp_path)
    clip = to_moviepy(tl, captions=False)
    assert abs(clip.duration - tl.duration) < 1e-6 and tuple(clip.size) == (320, 180)
    assert clip.audio is not None and abs(clip.audio.duration - tl.duration) < 0.05
    source = FrameSource(tl)
    quarter = tl.transition_s / 4
    times = [1.0, tl.duration - 0.3]  # the title card, the end card fading out
    for scene in tl.scenes:  # the middle of each scene, and before, at and after each of its transitions
        times += [scene.start + scene.duration / 2, scene.end - quarter, scene.end, scene.end + quarter]
    for seconds in times:
        n = int(seconds * tl.fps)
        ours = source.frame(n).astype(float)
        theirs = clip.get_frame((n + 0.5) / tl.fps).astype(float)
        assert np.abs(ours - theirs).mean() < 2.0, (seconds, np.abs(ours - theirs).mean())


def test_transitions_mix_the_two_pictures(tmp_path):
    """Each transition, seen in the frames the renderer draws and again in the encoded video."""
    from storymode.composers.frames import FrameSource

    tl = _every_transition(tmp_path)
    source = FrameSource(tl)
    video = _render(tl, tmp_path).path

    def drawn(seconds: float) -> np.ndarray:
        return source.frame(int(seconds * tl.fps)).astype(float)

    def decoded(seconds: float) -> np.ndarray:
        return decode_frame(video, seconds, 320, 180).astype(float)

    for at in (drawn, decoded):
        for index, kind in enumerate(KINDS):
            boundary = tl.scenes[index].end
            before, after, middle = at(boundary - 0.5), at(boundary + 0.5), at(boundary)
            colour = {"before": before.mean(axis=(0, 1)), "after": after.mean(axis=(0, 1))}
            assert np.abs(colour["before"] - colour["after"]).max() > 30, (at.__name__, kind)  # two pictures
            left, right = middle[:, :100].mean(axis=(0, 1)), middle[:, -100:].mean(axis=(0, 1))
            where = (at.__name__, kind)
            if kind == "wipe":  # the new picture comes in from the left
                assert np.abs(left - after[:, :100].mean(axis=(0, 1))).max() < 12, where
                assert np.abs(right - before[:, -100:].mean(axis=(0, 1))).max() < 12, where
            elif kind == "slide":  # it pushes the old one out to the left
                assert np.abs(right - after[:, -100:].mean(axis=(0, 1))).max() < 12, where
                assert np.abs(left - before[:, :100].mean(axis=(0, 1))).max() < 12, where
            elif kind == "dip-to-black":
                assert middle.mean() < 0.25 * min(before.mean(), after.mean()), where
            elif kind == "cut":  # every frame is one picture or the other
                assert min(np.abs(middle - before).mean(), np.abs(middle - after).mean()) < 3, where
            else:  # crossfade: the whole frame is half one picture, half the other
                mixed = middle.mean(axis=(0, 1))
                assert np.abs(mixed - (colour["before"] + colour["after"]) / 2).max() < 6, where
                assert np.abs(middle - (before + after) / 2).mean() < 6, where
                assert min(np.abs(mixed - colour["before"]).max(), np.abs(mixed - colour["after"]).max()) > 10
    planes = source._compose(int(tl.scenes[1].end * tl.fps), planar=True)  # the encoder's path too
    assert [p.shape for p in planes] == [(180, 320), (90, 160), (90, 160)]
