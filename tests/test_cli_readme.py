"""The README's commands run as a user runs them (`python -m storymode ...`), each result decoded.

One short story is written, edited, illustrated, narrated and composed once with the stage commands. The other
commands run on copies of its folder, so they reuse its narration and pictures and mostly only render: that keeps
this file fast. Whisper alignment is off (STORYMODE_ALIGN=off) because it is slow and tests/test_align.py covers it.
"""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from .conftest import decode_audio, decode_frame, manifest, probe, run_cli

pytestmark = pytest.mark.slow  # real synthesis and encoding, as a user runs them

PROMPT = "a shy fox who learns to fly"
REQUEST = ["--scenes", "1", "--words-per-scene", "10"]  # every copy asks for the same story, so it is reused
WIDE = (854, 480)  # 16:9 at 480p
NARRATOR_LINE = "Rusty was a shy little fox."
CHARACTER_LINE = "You can fly, Rusty!"


def run(*args: str, cwd: Path, config_home: Path | None = None, expect: int = 0) -> subprocess.CompletedProcess:
    """`storymode ARGS` in cwd with no user config (unless config_home holds one) and no Whisper alignment."""
    proc = run_cli(*args, cwd=cwd, env={"XDG_CONFIG_HOME": str(config_home or cwd / ".no-config"),
                                        "STORYMODE_ALIGN": "off"})
    assert proc.returncode == expect, f"storymode {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def x264_settings(video: Path) -> dict[str, str]:
    """The encoder settings x264 writes into the stream (its preset shows in subme, ref, cabac ...)."""
    m = re.search(rb"x264 - core .*? options: ([^\x00]*)", video.read_bytes())
    assert m, f"{video} carries no x264 settings"
    return dict(pair.split("=", 1) for pair in m.group(1).decode().split() if "=" in pair)


def timeline(story_dir: Path) -> dict:
    """The timeline the last render of a story folder used."""
    return json.loads((story_dir / "build" / "timeline.json").read_text())


def narration_files(story_dir: Path) -> set[str]:
    """Names of the narration wavs a story folder's last render used."""
    return {Path(clip["path"]).name for clip in timeline(story_dir)["audio"]}


def copy_story(source: Path, root: Path, name: str = "fox") -> Path:
    """A copy of a story folder as root/NAME.storymode (cached narration and pictures included)."""
    root.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(source, root / f"{name}.storymode"))


def middle_of_first_cue(story_dir: Path) -> float:
    """A moment in the middle of the first caption."""
    cue = timeline(story_dir)["cues"][0]
    return (cue["start"] + cue["end"]) / 2


# ---------------------------------------------------------------- the stage commands, once
@dataclass(frozen=True)
class Staged:
    """A story made by write -> (edit) -> illustrate -> narrate -> compose, and what each step left."""

    folder: Path
    video: Path
    written: dict  # story.json as `write` left it, before the edit
    speaker: str  # the character given a line by the edit
    outputs: dict[str, str]  # stdout of each command
    art_after_illustrate: list[Path]
    wavs_after_illustrate: list[Path]
    wavs_after_narrate: list[Path]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Staged:
    """storymode write, an edit of story.json, then illustrate -d, narrate -d and compose -d, as the README shows."""
    root = tmp_path_factory.mktemp("staged")
    folder = root / "fox.storymode"
    outputs = {"write": run("write", PROMPT, "-d", folder.name, *REQUEST, cwd=root).stdout}
    written = json.loads((folder / "story.json").read_text())
    assert written["characters"], "the planner gave the fox story no cast"
    speaker = written["characters"][-1]["id"]
    edited = copy.deepcopy(written)  # a short scene with one narrated and one spoken line
    edited["scenes"][0]["lines"] = [{"speaker": "narrator", "text": NARRATOR_LINE},
                                    {"speaker": speaker, "text": CHARACTER_LINE}]
    (folder / "story.json").write_text(json.dumps(edited, indent=2))
    outputs["illustrate"] = run("illustrate", "-d", folder.name, "--resolution", "480p", cwd=root).stdout
    art = sorted((folder / "art").glob("*.png"))
    wavs_before = sorted((folder / "narration").glob("*.wav"))
    outputs["narrate"] = run("narrate", "-d", folder.name, cwd=root).stdout
    wavs = sorted((folder / "narration").glob("*.wav"))
    outputs["compose"] = run("compose", "-d", folder.name, "--resolution", "480p", cwd=root).stdout
    return Staged(folder=folder, video=root / "fox.mp4", written=written, speaker=speaker,
                  outputs=outputs, art_after_illustrate=art, wavs_after_illustrate=wavs_before,
                  wavs_after_narrate=wavs)


@pytest.fixture(scope="module")
def uncaptioned(staged: Staged, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The staged story composed again with a storymode.toml in the user config folder: 480p, no burned captions."""
    root = tmp_path_factory.mktemp("user-config")
    config_home = root / "xdg"
    (config_home / "storymode").mkdir(parents=True)
    (config_home / "storymode" / "storymode.toml").write_text(
        'resolution = "480p"\n\n[options.composer]\nburn_captions = false\n')
    folder = copy_story(staged.folder, root / "work")
    run("compose", "-d", folder.name, "-o", "plain.mp4", cwd=folder.parent, config_home=config_home)
    return folder.parent / "plain.mp4"


def test_write_saves_the_story_and_says_where(staged: Staged) -> None:
    """storymode write -d: story.json with the asked-for scenes, the default audience and style; its path printed."""
    assert "story.json" in staged.outputs["write"]
    story = staged.written
    assert story["prompt"] == PROMPT
    assert len(story["scenes"]) == 1
    assert (story["audience"], story["style"]) == ("kids", "storybook")


def test_illustrate_draws_each_scene_and_nothing_else(staged: Staged) -> None:
    """storymode illustrate -d: one PNG per scene at the frame size plus the zoom margin, and no narration yet."""
    from PIL import Image

    from storymode.timeline import with_zoom_margin

    assert len(staged.art_after_illustrate) == 1
    assert staged.wavs_after_illustrate == []
    with Image.open(staged.art_after_illustrate[0]) as img:
        assert img.format == "PNG"
        assert img.size == with_zoom_margin(*WIDE)
        pixels = np.asarray(img.convert("RGB"), dtype=np.float32)
    assert pixels.std() > 20, "the picture is nearly one colour"


def test_narrate_writes_a_wav_per_line(staged: Staged) -> None:
    """storymode narrate -d: one wav per line, at the voice's rate, as long as its timings record says, not silent."""
    assert len(staged.wavs_after_narrate) == 2
    texts = set()
    for path in staged.wavs_after_narrate:
        record = json.loads(path.with_suffix(".json").read_text())
        texts.add(record["text"])
        with wave.open(str(path)) as wav:
            rate, frames, channels = wav.getframerate(), wav.getnframes(), wav.getnchannels()
        assert (rate, channels) == (24000, 1)  # hibari's rate
        assert frames / rate == pytest.approx(record["duration"], abs=0.05)
        assert 0.8 < frames / rate < 4.0
        samples = decode_audio(path)
        assert np.sqrt(np.mean(samples**2)) > 0.01, f"{path.name} is silent"
    assert texts == {NARRATOR_LINE, CHARACTER_LINE}


def test_compose_renders_the_folder(staged: Staged) -> None:
    """storymode compose -d: fox.mp4 beside the folder, H.264 at 854x480 30 fps with sound, as long as the timeline."""
    assert "fox.mp4" in staged.outputs["compose"]
    info = probe(staged.video)
    assert info["video"] == {"codec": "h264", "pix_fmt": "yuv420p", "width": 854, "height": 480, "fps": 30.0}
    assert info["audio"] is not None
    assert info["duration"] == pytest.approx(timeline(staged.folder)["duration"], abs=0.15)
    assert np.sqrt(np.mean(decode_audio(staged.video) ** 2)) > 0.01
    srt = " ".join(staged.video.with_suffix(".srt").read_text().split())
    assert NARRATOR_LINE in srt and CHARACTER_LINE in srt


def test_captions_are_burned_into_the_frames(staged: Staged, uncaptioned: Path) -> None:
    """During a line the captioned render has a caption at the bottom centre (a dark box, light letters) that the
    render with burn_captions = false lacks; above it the two frames are the same."""
    width, height = WIDE
    t = middle_of_first_cue(staged.folder)
    change = (decode_frame(staged.video, t, *WIDE).astype(np.int16)
              - decode_frame(uncaptioned, t, *WIDE).astype(np.int16)).mean(axis=2)
    band = change[int(height * 0.7):]
    assert (band < -30).mean() > 0.03, "no caption box darkens the bottom of the frame"
    assert (band > 60).mean() > 0.005, "no light caption letters at the bottom of the frame"
    assert (np.abs(change[: height // 3]) > 20).mean() < 0.002, "the two renders differ above the captions"
    columns = np.nonzero((np.abs(band) > 30).any(axis=0))[0]
    assert abs((columns.min() + columns.max()) / 2 - width / 2) < width * 0.05, "the caption is not centred"


def test_end_card_with_its_credits_closes_the_video(staged: Staged) -> None:
    """A second before the end, the frame is the end card drawn with the story's credits, OpenMoji's included."""
    from storymode.composers.cards import end_card
    from storymode.composers.frames import load_picture

    tl = timeline(staged.folder)
    credits = tl["credits"]
    assert "OpenMoji" in credits[-1]
    frame = decode_frame(staged.video, tl["duration"] - 1.0, *WIDE).astype(np.float32)
    picture = load_picture(tl["scenes"][-1]["image"], *WIDE)

    def off_by(expected: np.ndarray) -> float:
        return float(np.abs(frame - expected.astype(np.float32)).mean())

    error = off_by(end_card(picture, credits))
    assert error < 3, f"the last second is not the end card (mean difference {error:.1f})"
    assert off_by(end_card(picture, credits[:-1])) > error + 2, "the OpenMoji credit is not on the end card"
    assert off_by(picture) > error + 20, "the end card is the bare picture"


# ---------------------------------------------------------------- a voice on a character
def narrations(story_dir: Path) -> dict[str, dict]:
    """The manifest's narration artifacts by key."""
    return {key: a for key, a in manifest(story_dir)["artifacts"].items() if a["stage"] == "narrate"}


def test_a_characters_voice_in_story_json_narrates_its_line(staged: Staged, tmp_path: Path) -> None:
    """"voice": NAME on a character: its line is narrated again in that voice; the narrator's line is reused."""
    folder = copy_story(staged.folder, tmp_path)
    before = narrations(folder)
    (auto,) = [a for a in before.values() if a["inputs"]["speaker"] == staged.speaker]
    chosen = "elder" if auto["inputs"]["voice"] != "elder" else "deep"
    story = json.loads((folder / "story.json").read_text())
    next(c for c in story["characters"] if c["id"] == staged.speaker)["voice"] = chosen
    (folder / "story.json").write_text(json.dumps(story, indent=2))

    run("narrate", "-d", folder.name, "--quiet", cwd=tmp_path)

    new = {key: a for key, a in narrations(folder).items() if key not in before}
    assert [a["inputs"] for a in new.values()] == [{**auto["inputs"], "voice": chosen}], \
        "only the character's line is narrated again, in its voice"
    (artifact,) = new.values()
    record = json.loads((folder / artifact["file"]).with_suffix(".json").read_text())
    assert (record["voice"], record["text"]) == (chosen, CHARACTER_LINE)
    mine, default = decode_audio(folder / artifact["file"]), decode_audio(folder / auto["file"])
    assert len(mine) != len(default) or np.abs(mine - default).mean() > 0.01, "the voice did not change the audio"


# ---------------------------------------------------------------- make's flags on copies of the story
def test_make_with_fps_backends_options_and_quiet(staged: Staged, tmp_path: Path) -> None:
    """--fps 25, the backends named, -o composer.preset=fast -o narrator.threads=2 and --quiet, seen in the result."""
    folder = copy_story(staged.folder, tmp_path)
    proc = run("make", PROMPT, "-o", "fox.mp4", *REQUEST, "--resolution", "480p", "--fps", "25",
               "--writer", "planner", "--narrator", "hibari", "--illustrator", "storybook", "--composer", "ffmpeg",
               "-o", "composer.preset=fast", "-o", "narrator.threads=2", "--quiet", cwd=tmp_path)
    assert proc.stdout == ""
    assert not any(stage in proc.stderr for stage in ("Writing", "Narrating", "Rendering")), proc.stderr
    video = tmp_path / "fox.mp4"
    info = probe(video)
    assert info["video"]["fps"] == 25.0 and (info["video"]["width"], info["video"]["height"]) == WIDE
    assert round(info["duration"] * 25) == pytest.approx(round(timeline(folder)["duration"] * 25), abs=2)
    # x264's presets: veryfast (the default) searches with subme=2 and one reference frame, fast with subme=6 and 2
    assert (x264_settings(staged.video)["subme"], x264_settings(staged.video)["ref"]) == ("2", "1")
    assert (x264_settings(video)["subme"], x264_settings(video)["ref"]) == ("6", "2")
    # the story edited in the staged folder was kept (same request), and narrated again: threads is in the
    # narrator's fingerprint, so its artifact keys changed
    assert [c["text"] for c in timeline(folder)["cues"]][-1] == CHARACTER_LINE
    assert narration_files(folder).isdisjoint(narration_files(staged.folder))
    credits = timeline(folder)["credits"]  # the end card names the backends that made the story
    assert credits[0].startswith("Made with AI: the story by planner")  # the AI notice comes first
    assert "(planner)" in credits[1] and {"Voices: hibari", "Pictures: storybook"} <= set(credits)


@pytest.mark.parametrize("stage", ["writer", "narrator", "illustrator", "composer"])
def test_make_refuses_an_unknown_backend_before_any_work(stage: str, tmp_path: Path) -> None:
    """--writer/--narrator/--illustrator/--composer reach the registry: an unknown name lists the real ones."""
    proc = run("make", PROMPT, "-o", "x.mp4", "--scenes", "1", f"--{stage}", "nosuch", cwd=tmp_path, expect=2)
    assert f"unknown {stage} 'nosuch'" in proc.stderr
    assert {"writer": "planner", "narrator": "hibari", "illustrator": "storybook", "composer": "ffmpeg"}[stage] \
        in proc.stderr
    assert not (tmp_path / "x.storymode" / "story.json").exists()


def test_make_for_phones_9x16_at_1080p(staged: Staged, tmp_path: Path) -> None:
    """--aspect 9:16 --resolution 1080p: 1080x1920 frames filled by a portrait picture drawn for them."""
    from PIL import Image

    from storymode.timeline import with_zoom_margin

    folder = copy_story(staged.folder, tmp_path)
    run("make", PROMPT, "-o", "fox.mp4", *REQUEST, "--aspect", "9:16", "--resolution", "1080p", "--fps", "24",
        "-o", "composer.preset=ultrafast", "--quiet", cwd=tmp_path)
    info = probe(tmp_path / "fox.mp4")
    assert (info["video"]["width"], info["video"]["height"]) == (1080, 1920)
    art = Path(timeline(folder)["scenes"][0]["image"])
    with Image.open(art) as img:
        assert img.size == with_zoom_margin(1080, 1920)
    frame = decode_frame(tmp_path / "fox.mp4", middle_of_first_cue(folder), 1080, 1920)
    assert frame.shape == (1920, 1080, 3)
    rows = frame.mean(axis=(1, 2))
    assert rows[:100].min() > 15 and rows[-100:].min() > 15, "black bars: the picture does not fill the frame"


def test_config_file_and_profile(staged: Staged, tmp_path: Path) -> None:
    """--config FILE sets resolution, fps and a composer option; --profile square picks its 1:1 aspect."""
    settings = tmp_path / "settings" / "mine.toml"
    settings.parent.mkdir()
    settings.write_text('resolution = "480p"\nfps = 24\n\n[options.composer]\npreset = "ultrafast"\n\n'
                        '[profiles.square]\naspect = "1:1"\n')
    folder = copy_story(staged.folder, tmp_path / "work")
    refused = run("compose", "-d", folder.name, "--config", str(settings), "--profile", "nosuch",
                  cwd=folder.parent, expect=2)
    assert "square" in refused.stderr
    run("compose", "-d", folder.name, "-o", "square.mp4", "--config", str(settings), "--profile", "square",
        "--quiet", cwd=folder.parent)
    video = folder.parent / "square.mp4"
    info = probe(video)
    assert (info["video"]["width"], info["video"]["height"], info["video"]["fps"]) == (480, 480, 24.0)
    assert (x264_settings(video)["subme"], x264_settings(video)["cabac"]) == ("0", "0")  # x264's ultrafast
    frame = decode_frame(video, middle_of_first_cue(folder), 480, 480)
    assert frame.std() > 20


def test_user_config_folder_is_applied(uncaptioned: Path) -> None:
    """A storymode.toml in the user config folder (XDG_CONFIG_HOME/storymode/) sets 480p instead of 720p."""
    info = probe(uncaptioned)
    assert (info["video"]["width"], info["video"]["height"]) == WIDE


# ---------------------------------------------------------------- what the writer is asked for
@dataclass(frozen=True)
class Asked:
    """Story folders written with one writer flag each: teens (--audience), spooky (--tone), watercolor (--style)."""

    root: Path
    stories: dict[str, dict]


@pytest.fixture(scope="module")
def asked(tmp_path_factory: pytest.TempPathFactory) -> Asked:
    """storymode write with --audience teens, --tone spooky and --style watercolor, each alone (run side by side)."""
    root = tmp_path_factory.mktemp("asked")
    flags = {"teens": ["--audience", "teens"], "spooky": ["--tone", "spooky"], "watercolor": ["--style", "watercolor"]}
    env = {**os.environ, "XDG_CONFIG_HOME": str(root / ".no-config")}
    running = {name: subprocess.Popen([sys.executable, "-m", "storymode", "write", PROMPT, "-d", name, *REQUEST,
                                       *extra, "--quiet"], cwd=root, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
               for name, extra in flags.items()}
    for name, proc in running.items():
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"storymode write {' '.join(flags[name])}: {err}"
    return Asked(root, {name: json.loads((root / name / "story.json").read_text()) for name in flags})


def lines_of(story: dict) -> list[str]:
    """Every line's text, in order."""
    return [line["text"] for scene in story["scenes"] for line in scene["lines"]]


def test_audience_is_recorded_and_changes_the_words(staged: Staged, asked: Asked) -> None:
    """--audience teens: story.json says so, and the text is not the kids' text."""
    assert asked.stories["teens"]["audience"] == "teens"
    assert lines_of(asked.stories["teens"]) != lines_of(staged.written)


def test_tone_changes_what_the_scene_shows(staged: Staged, asked: Asked) -> None:
    """--tone spooky: the scene's brief (what its picture shows) turns spooky; the default one is not."""
    spooky, default = asked.stories["spooky"]["scenes"][0]["brief"], staged.written["scenes"][0]["brief"]
    assert spooky != default
    gloomy = {"fog", "storm", "rain"}
    assert spooky["weather"] in gloomy and default["weather"] not in gloomy


def test_style_is_recorded_and_changes_the_picture(staged: Staged, asked: Asked) -> None:
    """--style watercolor: story.json says so; the same brief is drawn differently from the storybook default."""
    from PIL import Image

    story = asked.stories["watercolor"]
    assert story["style"] == "watercolor"
    assert story["scenes"][0]["brief"] == staged.written["scenes"][0]["brief"]
    run("illustrate", "-d", "watercolor", "--resolution", "480p", "--quiet", cwd=asked.root)
    (art,) = sorted((asked.root / "watercolor" / "art").glob("*.png"))
    with Image.open(art) as a, Image.open(staged.art_after_illustrate[0]) as b:
        assert a.size == b.size
        difference = np.abs(np.asarray(a.convert("RGB"), np.int16) - np.asarray(b.convert("RGB"), np.int16))
    assert difference.mean() > 8, "watercolor drew the same picture as storybook"


# ---------------------------------------------------------------- batch and serve, the main CLI's commands
def test_batch_makes_every_job(staged: Staged, tmp_path: Path) -> None:
    """storymode batch jobs.jsonl --out out/ --workers 2: each job's video decodes at its own shape.

    Both jobs ask for the staged story, whose folder is already in place (as after an interrupted batch): the
    batch resumes it, so the edited lines are what is narrated, and only the pictures and videos are made.
    """
    shapes = {"wide": ("16:9", WIDE), "square": ("1:1", (480, 480))}
    jobs = [{"id": job_id, "prompt": PROMPT, "scenes": 1, "words_per_scene": 10, "resolution": "480p",
             "aspect": aspect} for job_id, (aspect, _) in shapes.items()]
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(job) + "\n" for job in jobs))
    for job_id in shapes:
        copy_story(staged.folder, tmp_path / "out" / job_id, name="story")
    proc = run("batch", "jobs.jsonl", "--out", "out", "--workers", "2", "--progress", "none", cwd=tmp_path)
    assert "2 made" in proc.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["total"], summary["ok"], summary["failed"]) == (2, 2, 0)
    for job_id, (_, size) in shapes.items():
        video = tmp_path / "out" / job_id / "story.mp4"
        info = probe(video)
        assert (info["video"]["width"], info["video"]["height"]) == size
        assert info["audio"] is not None
        assert info["duration"] == pytest.approx(probe(staged.video)["duration"], abs=0.2)
        assert decode_frame(video, middle_of_first_cue(video.with_suffix(".storymode")), *size).std() > 20
        assert CHARACTER_LINE in video.with_suffix(".srt").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    """STORYMODE_TOKEN=... storymode serve --host 0.0.0.0 on a free port, answering; stopped afterwards."""
    token = "a-test-token-of-32-characters-xx"
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "storymode", "serve", "--host", "0.0.0.0", "--port", str(port),
                               "--data", str(tmp_path / "data")], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE,
                              env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / ".no-config"),
                                   "STORYMODE_TOKEN": token})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/openapi.json")
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None:
                    pytest.fail(f"serve exited: {server.stderr.read().decode() if server.stderr else ''}")
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.2)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_serve_beyond_loopback_needs_the_token(served: tuple[str, str]) -> None:
    """Listening on 0.0.0.0 with a token: a request without it, or with another, is refused; with it, answered."""
    base, token = served
    for path in ("/openapi.json", "/stories/nosuch"):
        assert _get(base + path)[0] == 401
        assert _get(base + path, "a-wrong-token-of-32-characters-x")[0] == 401
    status, body = _get(base + "/openapi.json", token)
    assert status == 200 and "/stories" in json.loads(body)["paths"]
    assert _get(base + "/stories/nosuch", token)[0] == 404
