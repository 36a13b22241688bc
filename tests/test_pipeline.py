"""The whole pipeline on a real story folder: media checked by decoding, cache, edits, resume, progress."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import storymode

from .conftest import decode_audio, decode_frame, manifest, probe, run_cli

pytestmark = pytest.mark.slow


def test_make_produces_video_captions_and_folder(rendered):
    info = probe(rendered["video"])
    assert info["video"] == {"codec": "h264", "pix_fmt": "yuv420p", "width": 1280, "height": 720, "fps": 30.0}
    assert info["audio"]["codec"] == "aac"
    timeline = json.loads((rendered["dir"] / "build" / "timeline.json").read_text())
    assert abs(info["duration"] - timeline["duration"]) < 0.15
    assert info["chapters"] == 2
    story = json.loads((rendered["dir"] / "story.json").read_text())
    assert info["title"] == story["title"]
    srt = (rendered["root"] / "fox.srt").read_text()
    vtt = (rendered["root"] / "fox.vtt").read_text()
    assert vtt.startswith("WEBVTT") and " --> " in srt
    first_words = story["scenes"][0]["lines"][0]["text"].split()[:3]
    assert " ".join(first_words) in srt.replace("\n", " ")
    lines = sum(len(s["lines"]) for s in story["scenes"])
    assert len(list((rendered["dir"] / "narration").glob("*.wav"))) == lines
    assert len(list((rendered["dir"] / "art").glob("*.png"))) == 2
    assert len(manifest(rendered["dir"])["artifacts"]) == lines + 2


def test_video_has_speech_and_pictures(rendered):
    samples = decode_audio(rendered["video"])
    timeline = json.loads((rendered["dir"] / "build" / "timeline.json").read_text())
    clip = timeline["audio"][0]
    speech = samples[int(clip["start"] * 16000): int((clip["start"] + clip["duration"]) * 16000)]
    title = samples[: int(2.0 * 16000)]
    assert np.sqrt(np.mean(speech ** 2)) > 0.02  # the narration is audible
    assert np.sqrt(np.mean(title ** 2)) < 0.005  # the title card is silent
    assert np.max(np.abs(samples)) < 0.99  # no clipping
    s0, s1 = timeline["scenes"]
    a = decode_frame(rendered["video"], s0["start"] + s0["duration"] / 2, 1280, 720).astype(float)
    b = decode_frame(rendered["video"], s1["start"] + s1["duration"] / 2, 1280, 720).astype(float)
    assert a.std() > 10 and np.abs(a - b).mean() > 5  # real pictures, and different ones


def test_rerun_reuses_everything(rendered):
    video = rendered["video"]
    stamp = video.stat().st_mtime_ns
    proc = run_cli("make", "a shy fox who learns to fly", "-o", "fox.mp4", "--scenes", "2", "--progress", "json",
                   cwd=rendered["root"])
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    ends = {e["stage"]: e for e in events if e["kind"] == "stage-end"}
    assert set(ends) == {"write", "narrate", "illustrate", "compose", "export"}
    assert all(e.get("cached") == e.get("total", e.get("done")) for e in ends.values()), ends
    assert events[-1]["kind"] == "done" and events[-1]["data"]["video"].endswith("fox.mp4")
    assert video.stat().st_mtime_ns == stamp  # benchmarks/reruns.py times this re-run


def test_edit_one_scene_redoes_only_its_narration(rendered, tmp_path):
    import shutil

    root = tmp_path / "edit"
    shutil.copytree(rendered["root"], root)
    story_path = root / "fox.storymode" / "story.json"
    story = json.loads(story_path.read_text())
    story["scenes"][1]["lines"][0]["text"] = "Then, quite suddenly, the wind changed and everything was new."
    story_path.write_text(json.dumps(story))
    # the copied video is this story's render in its new place only after a re-run with --force
    proc = run_cli("make", "a shy fox who learns to fly", "-o", "fox.mp4", "--scenes", "2", "--progress", "json",
                   "--force", cwd=root)
    assert proc.returncode == 0, proc.stderr
    ends = {e["stage"]: e for e in map(json.loads, proc.stdout.splitlines()) if e["kind"] == "stage-end"}
    lines = sum(len(s["lines"]) for s in story["scenes"])
    assert ends["narrate"]["cached"] == lines - 1
    assert ends["illustrate"]["cached"] == 2  # pictures follow the brief, which did not change
    assert ends["compose"].get("cached", 0) == 0
    assert "quite suddenly" in (root / "fox.srt").read_text()
    # now the other way round: a new brief redraws that picture and nothing is narrated again
    story = json.loads(story_path.read_text())
    story["scenes"][0]["brief"]["setting"] = "snow"
    story_path.write_text(json.dumps(story))
    proc = run_cli("make", "a shy fox who learns to fly", "-o", "fox.mp4", "--scenes", "2", "--progress", "json",
                   cwd=root)
    assert proc.returncode == 0, proc.stderr
    ends = {e["stage"]: e for e in map(json.loads, proc.stdout.splitlines()) if e["kind"] == "stage-end"}
    assert ends["narrate"]["cached"] == lines and ends["illustrate"]["cached"] == 1
    drawn = [json.loads(p.read_text()) for p in (root / "fox.storymode" / "art").glob("*.json")]
    assert any(d.get("setting") == "snow" for d in drawn)


def test_fresh_redoes_everything(tmp_path):
    proc = run_cli("make", "a robot who wants to paint", "-o", "r.mp4", "--scenes", "1", "--resolution", "480p",
                   "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("make", "a robot who wants to paint", "-o", "r.mp4", "--scenes", "1", "--resolution", "480p",
                   "--fresh", "--progress", "json", cwd=tmp_path)
    ends = [e for e in map(json.loads, proc.stdout.splitlines()) if e["kind"] == "stage-end"]
    assert ends and all(not e.get("cached") for e in ends)
    assert probe(tmp_path / "r.mp4")["video"]["height"] == 480


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "storymode", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_event(proc: subprocess.Popen, stage: str, kind: str = "step", timeout: float = 120) -> None:
    deadline = time.time() + timeout
    assert proc.stdout is not None
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        event = json.loads(line)
        if event.get("stage") == stage and event["kind"] == kind:
            return
    raise AssertionError(f"no {kind} event for {stage}")


def _no_half_files(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".wav", ".png", ".json", ".mp4"):
            assert not path.name.startswith("."), path  # temp names start with a dot and end in .part
    for wav in folder.rglob("narration/*.wav"):
        import wave

        with wave.open(str(wav)) as w:
            assert w.getnframes() > 0


@pytest.mark.parametrize("how", ["kill9", "ctrl-c"])
def test_interrupted_run_resumes(tmp_path, how):
    args = ["make", "a sleepy bear who cannot find the moon", "-o", "bear.mp4", "--scenes", "3",
            "--resolution", "480p", "--progress", "json"]
    proc = _start(args, tmp_path)
    _wait_for_event(proc, "compose")  # narration and pictures are done; rendering has begun
    if how == "kill9":
        proc.kill()
    else:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if how == "ctrl-c":
        assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "bear.mp4").exists()
    leftovers = [p.name for p in tmp_path.glob("*.part*")]
    if how == "ctrl-c":
        assert leftovers == []  # a clean interrupt removes its temporary file
    _no_half_files(tmp_path / "bear.storymode")
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    ends = {e["stage"]: e for e in map(json.loads, again.stdout.splitlines()) if e["kind"] == "stage-end"}
    assert ends["narrate"]["cached"] == ends["narrate"]["total"]
    assert ends["illustrate"]["cached"] == 3
    assert probe(tmp_path / "bear.mp4")["video"]["width"] == 854


def test_killed_while_narrating_resumes(tmp_path):
    args = ["make", "a brave little mouse and a grumpy old owl", "-o", "m.mp4", "--scenes", "4",
            "--resolution", "480p", "--progress", "json"]
    proc = _start(args, tmp_path)
    _wait_for_event(proc, "narrate")
    proc.kill()
    proc.communicate(timeout=60)
    _no_half_files(tmp_path / "m.storymode")
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    ends = {e["stage"]: e for e in map(json.loads, again.stdout.splitlines()) if e["kind"] == "stage-end"}
    assert ends["narrate"]["cached"] >= 1
    assert ends["write"]["cached"] == 1


def test_python_api_and_stage_commands(tmp_path):
    result = storymode.make("a kind dragon who is afraid of the dark", out=tmp_path / "d.mp4", scenes=1,
                            resolution="480p", aspect="9:16", seed=7)
    assert result.video and result.video.exists()
    assert set(result.stage_seconds) == {"write", "narrate", "illustrate", "compose", "export"}
    assert result.duration > 3 and result.story.seed == 7
    assert probe(result.video)["video"]["width"] == 480 and probe(result.video)["video"]["height"] == 854
    # the stage commands work on the same folder: edit nothing, compose to a second file
    proc = run_cli("compose", "-d", str(result.story_dir), "-o", str(tmp_path / "copy.mp4"), "--aspect", "9:16",
                   "--resolution", "480p", "--seed", "7", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert abs(probe(tmp_path / "copy.mp4")["duration"] - result.duration) < 0.15


def test_from_file_keeps_the_users_words(tmp_path):
    text = ("The wind rose over the hill. Pip the fox looked up at the kites.\n\n"
            "\u201cI will fly one day,\u201d said Pip. And one day, she did.")
    (tmp_path / "my_tale.txt").write_text(text)
    proc = run_cli("make", "--from", "my_tale.txt", "-o", "tale.mp4", "--scenes", "2", "--resolution", "480p",
                   "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    story = json.loads((tmp_path / "tale.storymode" / "story.json").read_text())
    words = " ".join(line["text"] for s in story["scenes"] for line in s["lines"]).split()
    for word in ("wind", "hill.", "kites.", "did."):
        assert word in words
    assert story["title"] == "My Tale"
