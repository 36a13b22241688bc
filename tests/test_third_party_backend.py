"""A third-party package registers a backend for every stage through the entry-point group, written only against
the public base classes (tests/plugin_fixture), and whole stories run with it through the CLI.

The package is installed with pip into a throwaway folder (never into the test's environment) and reaches the CLI
through PYTHONPATH, as an installed plugin would."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import decode_audio, decode_frame, probe, run_cli

FIXTURE = Path(__file__).resolve().parent / "plugin_fixture"
COLOURS = [(210, 40, 40), (40, 170, 60), (40, 70, 210)]  # the tiny illustrator's first three scenes
PROMPT = "a lantern"
TINY = ["--writer", "tiny", "--narrator", "tiny", "--illustrator", "tiny"]
SMALL = ["--scenes", "3", "--resolution", "480p", "--fps", "24", "--align", "off"]
WIDTH, HEIGHT = 854, 480
OWED = ["Story plan by storymode-tiny", "Beeps by storymode-tiny at 330 Hz",
        "Flat colours by storymode-tiny (primary palette)"]


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The fixture package built and installed into <tmp>/site, and a user config folder whose voices/ holds a
    preset for the tiny narrator; the environment a CLI run needs to find both."""
    root = tmp_path_factory.mktemp("plugin")
    package = root / "storymode-tiny"
    shutil.copytree(FIXTURE, package, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    site = root / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--disable-pip-version-check", "--target", str(site), str(package)],
                         capture_output=True, text=True, timeout=120, cwd=root)
    assert pip.returncode == 0, pip.stderr
    assert list(site.glob("storymode_tiny-*.dist-info/entry_points.txt"))
    voices = root / "xdg" / "storymode" / "voices"
    voices.mkdir(parents=True)
    (voices / "tinybeep.toml").write_text('backend = "tiny"\nrole = "narrator"\ndescription = "a beep"\n')
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "XDG_CONFIG_HOME": str(root / "xdg"), "STORYMODE_ALIGN": "off"}
    return {"root": root, "site": site, "env": env}


def _make(plugin: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    proc = run_cli("make", *args, *SMALL, "-o", "narrator.pitch_hz=330", cwd=cwd, env=plugin["env"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def _colour_at(video: Path, seconds: float) -> np.ndarray:
    """The mean colour of the top half of the frame at seconds (the captions sit in the bottom part)."""
    return decode_frame(video, seconds, WIDTH, HEIGHT)[: HEIGHT // 2].reshape(-1, 3).mean(axis=0)


def test_backends_lists_the_plugin_for_every_stage(plugin: dict) -> None:
    proc = run_cli("backends", env=plugin["env"])
    assert proc.returncode == 0, proc.stderr
    for stage in ("writer", "narrator", "illustrator", "composer"):
        assert re.search(rf"^{stage}\s+tiny\s+yes\s+tiny test {stage}", proc.stdout, re.M), proc.stdout


def test_a_whole_story_with_a_plugin_backend_for_every_stage(plugin: dict, tmp_path: Path) -> None:
    _make(plugin, tmp_path, PROMPT, "-o", "tiny.mp4", *TINY, "--composer", "tiny", "--quiet")
    folder = tmp_path / "tiny.storymode"

    # the story the plugin's writer wrote, with the folder it was given for replies it could not use
    story = json.loads((folder / "story.json").read_text())
    assert story["title"] == "Tiny a lantern"
    assert [s["lines"][0]["text"] for s in story["scenes"]] == [f"Page {n} of a lantern." for n in (1, 2, 3)]
    assert (folder / "build" / "tiny-writer.txt").read_text() == PROMPT

    # the plugin's pictures, recorded with what it said it drew; the narrator's beeps, one wav a line
    drawn = sorted((json.loads(p.read_text())["colour"] for p in (folder / "art").glob("*.json")))
    assert drawn == sorted(list(c) for c in COLOURS)
    assert len(list((folder / "narration").glob("*.wav"))) == 3

    # the captions hold the writer's lines, timed by the narrator's words (0.2 s a word, 5 words a line)
    srt = (tmp_path / "tiny.srt").read_text()
    assert all(f"Page {n} of a lantern." in " ".join(srt.split()) for n in (1, 2, 3)), srt
    timeline = json.loads((folder / "build" / "timeline.json").read_text())
    assert [round(c["duration"], 3) for c in timeline["audio"]] == [1.0, 1.0, 1.0]

    # the credits name the plugin's backends, then what each of them declared, option filled in
    assert timeline["credits"][:4] == ["Made with AI: the story by tiny, the voices by tiny and the pictures by tiny.",
                                       f"Written by storymode {_version()} (tiny)", "Voices: tiny", "Pictures: tiny"]
    assert timeline["credits"][4:] == [*OWED, "Rendered by the tiny composer"]
    assert not any("OpenMoji" in line for line in timeline["credits"])
    page = (folder / "exports" / "storybook.html").read_text()
    assert all(f"<li>{line}</li>" in page for line in timeline["credits"])

    # the composer was given the chapter titles, the metadata with the credits, and the timeline
    given = json.loads((folder / "build" / "tiny-composer.json").read_text())
    assert given["chapter_titles"] == [f"Page {n} of a lantern." for n in (1, 2, 3)]
    assert given["metadata"]["title"] == "Tiny a lantern"
    assert given["metadata"]["copyright"] == "; ".join([*OWED, "Rendered by the tiny composer"])

    # the video it wrote, decoded: its length and size, and each scene in its own colour
    video = tmp_path / "tiny.mp4"
    info = probe(video)
    assert (info["video"]["width"], info["video"]["height"]) == (WIDTH, HEIGHT) and info["audio"] is None
    assert abs(info["duration"] - timeline["duration"]) < 0.15
    for scene, colour in zip(timeline["scenes"], COLOURS):
        middle = scene["start"] + scene["duration"] / 2
        assert np.abs(_colour_at(video, middle) - colour).max() < 12, (scene, colour)

    # a second run finds everything the plugin made in the cache, its render included
    again = run_cli("make", PROMPT, "-o", "tiny.mp4", *TINY, "--composer", "tiny", *SMALL,
                    "-o", "narrator.pitch_hz=330", "--progress", "json", cwd=tmp_path, env=plugin["env"])
    assert again.returncode == 0, again.stderr
    ends = [e for e in map(json.loads, again.stdout.splitlines()) if e["kind"] == "stage-end"]
    assert [e["stage"] for e in ends] == ["write", "narrate", "illustrate", "compose", "export"]
    assert all(e.get("cached", 0) == e["total"] for e in ends), ends


def test_the_ffmpeg_composer_renders_the_plugins_story(plugin: dict, tmp_path: Path) -> None:
    """The built-in composer over the plugin's writer (segmenting a text), narrator and illustrator."""
    (tmp_path / "tale.txt").write_text("The lantern woke up.\n\nIt lit the path.\n\nThen it slept again.\n")
    _make(plugin, tmp_path, "--from", "tale.txt", "-o", "tale.mp4", *TINY, "--composer", "ffmpeg", "--quiet")
    timeline = json.loads((tmp_path / "tale.storymode" / "build" / "timeline.json").read_text())
    assert [c["text"] for c in timeline["cues"]] == ["The lantern woke up.", "It lit the path.",
                                                      "Then it slept again."]
    video = tmp_path / "tale.mp4"
    info = probe(video)
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "aac" and info["chapters"] == 3
    for scene, colour in zip(timeline["scenes"], COLOURS):  # the slow zoom over a flat colour is that colour
        middle = scene["start"] + scene["duration"] / 2
        assert np.abs(_colour_at(video, middle) - colour).max() < 12, (scene, colour)
    # the narrator's beep, at the pitch its option asked for, is what the video says during the first line
    clip = timeline["audio"][0]
    rate = 16000
    said = decode_audio(video, rate)[int(clip["start"] * rate): int((clip["start"] + clip["duration"]) * rate)]
    spectrum = np.abs(np.fft.rfft(said * np.hanning(len(said))))
    assert abs(np.fft.rfftfreq(len(said), 1 / rate)[spectrum.argmax()] - 330) < 5
    assert "Beeps by storymode-tiny at 330 Hz" in timeline["credits"]


def _version() -> str:
    from storymode import __version__

    return __version__


def test_render_returns_a_frozen_result_that_carries_the_timeline(plugin: dict, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """storymode.write with the plugin's writer, then storymode.render of the folder, in this process: the Result
    holds the timeline that was rendered, and storymode.compose returns that same timeline from the cache."""
    import storymode
    from storymode.timeline import Timeline

    monkeypatch.syspath_prepend(str(plugin["site"]))
    monkeypatch.setenv("XDG_CONFIG_HOME", plugin["env"]["XDG_CONFIG_HOME"])
    folder, out = tmp_path / "lamp.storymode", tmp_path / "lamp.mp4"
    choices = {"writer": "tiny", "narrator": "tiny", "illustrator": "tiny", "composer": "tiny", "scenes": 2,
               "resolution": "480p", "fps": 24, "align": "off"}
    storymode.write("a lamp", story_dir=folder, **choices)
    result = storymode.render(folder, out, **choices)
    saved = Timeline.model_validate_json((folder / "build" / "timeline.json").read_text())
    assert result.timeline == saved and result.duration == saved.duration and len(saved.scenes) == 2
    assert result.video == out and probe(out)["duration"] == pytest.approx(saved.duration, abs=0.15)
    assert result.story.title == "Tiny a lamp" and set(result.stage_seconds) == {"narrate", "illustrate", "compose", "export"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.timeline = saved  # type: ignore[misc]
    assert storymode.compose(folder, out=out, **choices) == saved


def test_a_credit_is_filled_from_the_backends_options_and_never_shows_a_local_folder(tmp_path: Path) -> None:
    """The diffusers illustrator credits its model: a hub id as it is, a local folder by its name only."""
    from storymode.illustrators.diffusers_t2i import DiffusersIllustrator
    from storymode.illustrators.storybook import StorybookIllustrator

    folder = tmp_path / "private" / "my-finetune"
    folder.mkdir(parents=True)
    local = DiffusersIllustrator(DiffusersIllustrator.Options(model=str(folder), safety_checker="off"))
    assert local.credit_lines() == ["Pictures generated with my-finetune (diffusers)"]
    flux = DiffusersIllustrator(DiffusersIllustrator.Options(preset="flux-schnell", safety_checker="off"))
    assert flux.credit_lines() == ["Pictures generated with black-forest-labs/FLUX.1-schnell (diffusers)"]
    # a screened illustrator may draw a refused scene with the storybook's sprites, so it owes their credit too
    screened = DiffusersIllustrator(DiffusersIllustrator.Options(preset="flux-schnell", safety_checker="auto"))
    assert screened.credit_lines() == ["Pictures generated with black-forest-labs/FLUX.1-schnell (diffusers)",
                                       "Illustrations use OpenMoji (openmoji.org), CC BY-SA 4.0"]
    assert StorybookIllustrator().credit_lines() == ["Illustrations use OpenMoji (openmoji.org), CC BY-SA 4.0"]
