"""Bad input: a short message, exit code 2, no traceback; what can be served is served."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storymode.workspace import Workspace

from .conftest import run_cli


def assert_usage_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle.lower() in proc.stderr.lower(), proc.stderr


@pytest.mark.parametrize("prompt", ["", "   \n\t  ", "\x01\x1b\x7f"])
def test_empty_prompt(tmp_path, prompt):
    proc = run_cli("make", prompt, "-o", "x.mp4", cwd=tmp_path)
    assert_usage_error(proc, "prompt is empty")
    assert not (tmp_path / "x.mp4").exists()


def test_missing_prompt_and_output(tmp_path):
    assert_usage_error(run_cli("make", "-o", "x.mp4", cwd=tmp_path), "give a prompt")
    assert_usage_error(run_cli("make", "a fox", cwd=tmp_path), "-o")


def test_overlong_prompt(tmp_path):
    proc = run_cli("make", "a" * 100_001, "-o", "x.mp4", cwd=tmp_path)
    assert_usage_error(proc, "100,000")


def test_huge_prompt_is_served(tmp_path):
    prompt = ("a shy fox who learns to fly " * 4000)[:100_000]
    proc = run_cli("write", prompt, "-d", "big.storymode", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    story = json.loads((tmp_path / "big.storymode" / "story.json").read_text())
    assert len(story["prompt"]) == len(prompt.strip())
    assert len(story["scenes"]) == 6


def test_emoji_kept_controls_dropped(tmp_path):
    proc = run_cli("write", "a brave 🦊 fox\x07 who\x1b loves 🍰 cake", "-d", "e.storymode", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    story = json.loads((tmp_path / "e.storymode" / "story.json").read_text())
    assert "🦊" in story["prompt"] and "🍰" in story["prompt"]
    assert "\x07" not in json.dumps(story, ensure_ascii=False) and "\x1b" not in story["prompt"]


@pytest.mark.parametrize("scenes", ["0", "500", "many"])
def test_scene_count_out_of_range(tmp_path, scenes):
    proc = run_cli("make", "a fox", "-o", "x.mp4", "--scenes", scenes, cwd=tmp_path)
    assert_usage_error(proc, "--scenes")


def test_unknown_backend_lists_valid_ones(tmp_path):
    proc = run_cli("make", "a fox", "-o", "x.mp4", "--narrator", "nope", cwd=tmp_path)
    assert_usage_error(proc, "unknown narrator 'nope'", "hibari")


def test_unknown_backend_option(tmp_path):
    proc = run_cli("make", "a fox", "-o", "x.mp4", "-o", "narrator.colour=blue", cwd=tmp_path)
    assert_usage_error(proc, "'colour' is not an option", "threads")
    proc = run_cli("make", "a fox", "-o", "x.mp4", "-o", "wobble=3", cwd=tmp_path)
    assert_usage_error(proc, "no chosen backend has an option 'wobble'")


def test_bad_backend_option_value(tmp_path):
    proc = run_cli("make", "a fox", "-o", "x.mp4", "-o", "composer.crf=99", cwd=tmp_path)
    assert_usage_error(proc, "crf")


def test_output_folder_missing(tmp_path):
    proc = run_cli("make", "a fox", "-o", str(tmp_path / "no" / "such" / "x.mp4"), cwd=tmp_path)
    assert_usage_error(proc, "does not exist")


def test_output_folder_not_writable(tmp_path):
    target = "/proc/storymode-test.mp4"  # not writable even for root
    proc = run_cli("make", "a fox", "-o", target, "--story-dir", str(tmp_path / "s"), cwd=tmp_path)
    assert_usage_error(proc, "not writable")


def test_output_not_mp4(tmp_path):
    assert_usage_error(run_cli("make", "a fox", "-o", "x.avi", cwd=tmp_path), ".mp4")


def test_refuses_foreign_output_without_force(tmp_path):
    precious = tmp_path / "holiday.mp4"
    precious.write_bytes(b"my own video")
    proc = run_cli("make", "a fox", "-o", "holiday.mp4", cwd=tmp_path)
    assert_usage_error(proc, "already exists", "--force")
    assert precious.read_bytes() == b"my own video"


def _story_dir_with(tmp_path: Path, content: str | bytes) -> Path:
    d = tmp_path / "s.storymode"
    d.mkdir()
    (d / "story.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    return d


def test_story_json_not_json(tmp_path):
    d = _story_dir_with(tmp_path, "{ this is not json")
    assert_usage_error(run_cli("narrate", "-d", str(d)), "not valid JSON", "line 1")


def test_story_json_missing_field(tmp_path):
    d = _story_dir_with(tmp_path, json.dumps({"title": "T"}))
    assert_usage_error(run_cli("narrate", "-d", str(d)), "scenes", "Field required")


def test_story_json_wrong_type(tmp_path):
    d = _story_dir_with(tmp_path, json.dumps({"title": "T", "scenes": [{"id": "a", "lines": [{"text": "Hi.",
                                                                                             "pace": "fast"}]}]}))
    assert_usage_error(run_cli("narrate", "-d", str(d)), "scenes.0.lines.0.pace", '"fast"')


def test_from_missing_binary_empty(tmp_path):
    assert_usage_error(run_cli("make", "--from", "nope.txt", "-o", "x.mp4", cwd=tmp_path), "no such file")
    (tmp_path / "bin.txt").write_bytes(bytes(range(256)) * 10)
    assert_usage_error(run_cli("make", "--from", "bin.txt", "-o", "x.mp4", cwd=tmp_path), "binary")
    (tmp_path / "empty.txt").write_text("  \n\n ")
    assert_usage_error(run_cli("make", "--from", "empty.txt", "-o", "x.mp4", cwd=tmp_path), "empty")


def test_prompt_and_from_together(tmp_path):
    (tmp_path / "t.txt").write_text("Once there was a fox.")
    assert_usage_error(run_cli("make", "a fox", "--from", "t.txt", "-o", "x.mp4", cwd=tmp_path), "not both")


def test_locked_folder(tmp_path):
    ws = Workspace(tmp_path / "x.storymode")
    ws.acquire()
    try:
        proc = run_cli("make", "a fox", "-o", "x.mp4", cwd=tmp_path)
    finally:
        ws.release()
    assert proc.returncode == 3 and "another storymode run" in proc.stderr and "Traceback" not in proc.stderr


def test_debug_shows_traceback(tmp_path):
    proc = run_cli("--debug", "make", "   ", "-o", "x.mp4", cwd=tmp_path)
    assert "Traceback" in proc.stderr and "UsageError: the prompt is empty" in proc.stderr
    assert proc.returncode == 2  # the usage error's own exit code, as without --debug


def test_bad_config_file(tmp_path):
    (tmp_path / "storymode.toml").write_text("scenes = [oops")
    assert_usage_error(run_cli("make", "a fox", "-o", "x.mp4", cwd=tmp_path), "not valid TOML")
    (tmp_path / "storymode.toml").write_text("sceens = 3\n")
    assert_usage_error(run_cli("make", "a fox", "-o", "x.mp4", cwd=tmp_path), "unknown setting 'sceens'")


def test_bad_environment(tmp_path):
    proc = run_cli("make", "a fox", "-o", "x.mp4", cwd=tmp_path, env={"STORYMODE_ASPECT": "4:3"})
    assert_usage_error(proc, "aspect")
    assert os.environ.get("STORYMODE_ASPECT") is None
