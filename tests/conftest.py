"""Shared fixtures: the network block, a CLI runner in a subprocess, ffprobe-style media inspection, a small
rendered story, a real browser, and the rule that CI has every tool (a missing one fails there, skips here)."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FAST = ["--scenes", "2", "--resolution", "480p", "--quiet"]


# ---------------------------------------------------------------- no network beyond loopback
NETBLOCK_DIR = Path(__file__).resolve().parent / "netblock"


def _load_netblock() -> Any:
    spec = importlib.util.spec_from_file_location("netblock", NETBLOCK_DIR / "netblock.py")
    assert spec and spec.loader
    module = sys.modules.setdefault("netblock", importlib.util.module_from_spec(spec))
    if not hasattr(module, "install"):
        spec.loader.exec_module(module)
    return module


netblock = _load_netblock()


def pytest_configure(config: pytest.Config) -> None:
    """Block the network for the session: here, and in every Python subprocess (sitecustomize on PYTHONPATH)."""
    netblock.install()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETBLOCK_DIR), os.environ.get("PYTHONPATH")]))
    log_dir = tempfile.mkdtemp(prefix="storymode-netblock-")
    os.environ[netblock.LOG_VARIABLE] = str(Path(log_dir) / "attempts.log")
    config.add_cleanup(lambda: shutil.rmtree(log_dir, ignore_errors=True))
    # Whisper word alignment costs 5-15 s per story on this machine; the tests that are about it turn it on
    # (STORYMODE_ALIGN=on or --align on), everywhere else captions keep the letter-count word estimate
    os.environ.setdefault("STORYMODE_ALIGN", "off")
    # the user config folder (where the local signing chain for Content Credentials is made once) is the
    # session's own, here and in every subprocess: tests never write into the real one
    config_home = tempfile.mkdtemp(prefix="storymode-config-")
    os.environ["XDG_CONFIG_HOME"] = config_home
    config.add_cleanup(lambda: shutil.rmtree(config_home, ignore_errors=True))


@pytest.fixture(autouse=True)
def no_network() -> Iterator[Any]:
    """Fail a test that reached (or looked up) a host beyond loopback, here or in a subprocess, even when the
    code under test caught the error. Yields the block, whose take() clears attempts a test meant to make."""
    yield netblock
    attempts = netblock.take()
    if attempts:
        pytest.fail("network access beyond loopback:\n" + "\n".join(attempts), pytrace=False)


# ---------------------------------------------------------------- waiting on a condition, not a clock
def wait_until(predicate: Callable[[], Any], timeout: float = 60, every: float = 0.1, what: str = "") -> Any:
    """Poll predicate until it returns something truthy (returned); AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:g} s: {what or predicate}")
        time.sleep(every)


# ---------------------------------------------------------------- tools: skipped here, required in CI
def need(found: object, what: str) -> None:
    """Skip the test when `what` is missing here; under CI=true fail instead, since CI must have everything."""
    if found:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: a missing tool fails the run)", pytrace=False)
    pytest.skip(what)


def find_chromium() -> Path | None:
    """Chromium on PATH (Debian: chromium, Ubuntu: chromium-browser), or None."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


@pytest.fixture
def espeak_ng() -> str:
    """The espeak-ng program (skipped where it is missing; a failure under CI=true)."""
    path = shutil.which("espeak-ng")
    need(path, "espeak-ng is not installed: apt-get install espeak-ng")
    return str(path)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 240, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    """Run `python -m storymode ARGS` as a user would and capture everything."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "storymode", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def probe(path: Path) -> dict:
    """Streams, duration and chapters of a media file, read by the ffmpeg binary itself."""
    from storymode.ffmpeg_exe import ffmpeg_exe

    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    info: dict = {"video": None, "audio": None, "chapters": len(re.findall(r"Chapter #", out))}
    m = re.search(r"Duration: (\d+):(\d+):([\d.]+)", out)
    info["duration"] = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else 0.0
    v = re.search(r"Video: (\w+).*?, (\w+)\(.*?(\d{2,5})x(\d{2,5}).*?, ([\d.]+) fps", out)
    if v:
        info["video"] = {"codec": v.group(1), "pix_fmt": v.group(2), "width": int(v.group(3)),
                         "height": int(v.group(4)), "fps": float(v.group(5))}
    a = re.search(r"Audio: (\w+).*?, (\d+) Hz", out)
    if a:
        info["audio"] = {"codec": a.group(1), "rate": int(a.group(2))}
    info["title"] = (re.search(r"^\s+title\s+: (.*)$", out, re.M) or [None, None])[1]
    return info


def decode_frame(path: Path, seconds: float, width: int, height: int):
    """One decoded RGB frame as a numpy array."""
    import numpy as np

    from storymode.ffmpeg_exe import ffmpeg_exe

    raw = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-ss", f"{seconds:.3f}", "-i", str(path),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def decode_video(path: Path, width: int, height: int):
    """Every frame of a video as one (frames, height, width, 3) RGB uint8 array."""
    import numpy as np

    from storymode.ffmpeg_exe import ffmpeg_exe

    raw = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def check_story_video(path: Path, width: int, height: int, min_seconds: float = 1.0) -> dict:
    """Decode a story video and check it for real: h264 of width x height, AAC audio that is heard, a middle
    frame with a picture in it, as long as its audio. Returns the probe."""
    import numpy as np

    info = probe(path)
    assert info["video"] and info["video"]["codec"] == "h264", info
    assert (info["video"]["width"], info["video"]["height"]) == (width, height), info
    assert info["audio"] and info["audio"]["codec"] == "aac", info
    assert info["duration"] >= min_seconds, info
    samples = decode_audio(path)
    assert abs(len(samples) / 16000 - info["duration"]) < 0.2, (len(samples), info)
    assert np.sqrt(np.mean(samples ** 2)) > 0.005, "the audio track is silent"
    frame = decode_frame(path, info["duration"] / 2, width, height).astype(float)
    assert frame.std() > 5, "the middle frame is flat"
    return info


def vtt_cues(text: str) -> list[tuple[float, float, str]]:
    """The cues of a WebVTT file as (start, end, text), the text's lines joined by spaces."""
    assert text.startswith("WEBVTT"), text[:40]

    def seconds(stamp: str) -> float:
        parts = [float(p) for p in stamp.replace(",", ".").split(":")]
        return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))

    cues = []
    for block in re.split(r"\n\s*\n", text.strip())[1:]:
        lines = block.strip().splitlines()
        timing = next(i for i, line in enumerate(lines) if "-->" in line)
        start, end = (seconds(s.split()[0]) for s in lines[timing].split("-->"))
        cues.append((start, end, " ".join(lines[timing + 1:])))
    return cues


def decode_audio(path: Path, rate: int = 16000):
    """The whole audio track as mono float32 samples."""
    import numpy as np

    from storymode.ffmpeg_exe import ffmpeg_exe

    raw = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-vn", "-ac", "1",
                          "-ar", str(rate), "-f", "f32le", "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<f4")


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One small story made once through the CLI (2 scenes, 720p30, the defaults otherwise)."""
    root = tmp_path_factory.mktemp("rendered")
    proc = run_cli("make", "a shy fox who learns to fly", "-o", "fox.mp4", "--scenes", "2", "--quiet", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return {"root": root, "video": root / "fox.mp4", "dir": root / "fox.storymode"}


@pytest.fixture(scope="session")
def small_story(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 2-scene 480p story made once per test process through the CLI: fox.mp4 (.srt, .vtt) and fox.storymode/
    in the folder returned. Tests copy it and never change it."""
    root = tmp_path_factory.mktemp("small-story")
    proc = run_cli("make", "a shy fox who learns to fly", "-o", "fox.mp4", "--scenes", "2", "--resolution", "480p",
                   "--quiet", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root


def manifest(story_dir: Path) -> dict:
    """The story folder's manifest."""
    return json.loads((story_dir / "manifest.json").read_text())


# ---------------------------------------------------------------- a real browser (the system chromium via Playwright)
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
                "--disable-breakpad", "--disable-crash-reporter"]


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless system chromium driven by Playwright (never Playwright's own browser download). Its profile,
    downloads, caches and Playwright's own temporary files all stay under one pytest temp folder."""
    chromium = find_chromium()
    need(chromium, "chromium is not installed (looked for chromium and chromium-browser on PATH): "
                   "apt-get install chromium")
    need(importlib.util.find_spec("playwright"), "the playwright package is not installed")
    from playwright import sync_api

    home = tmp_path_factory.mktemp("browser")
    for sub in ("tmp", "downloads", "config", "cache"):
        (home / sub).mkdir()
    private = {"HOME": str(home), "TMPDIR": str(home / "tmp"), "XDG_CONFIG_HOME": str(home / "config"),
               "XDG_CACHE_HOME": str(home / "cache")}
    saved = {key: os.environ.get(key) for key in private}
    os.environ.update(private)  # the Playwright driver makes its profile and artifact folders in its TMPDIR
    try:
        playwright = sync_api.sync_playwright().start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        b = playwright.chromium.launch(executable_path=str(chromium), args=BROWSER_ARGS,
                                       downloads_path=str(home / "downloads"), env={**os.environ, **private})
        yield b
        b.close()
    finally:
        playwright.stop()


def open_page(browser, url: str, width: int = 1200, height: int = 1000):  # type: ignore[no-untyped-def]
    """A new page at url that records console errors, page errors, dialogs and any network request."""
    page = browser.new_page(viewport={"width": width, "height": height})
    events: dict = {"errors": [], "dialogs": []}
    page.on("console", lambda m: m.type == "error" and events["errors"].append(m.text))
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: r.url.startswith(("http:", "https:")) and events["errors"].append(r.url))
    page.goto(url)
    return page, events


@pytest.fixture(scope="session")
def export_job(rendered: dict):
    """The rendered fox story as an ExportJob: its story.json, the timeline its video was rendered from, its folder."""
    from storymode.outputs.base import ExportJob
    from storymode.story import load_story
    from storymode.timeline import Timeline

    story_dir = rendered["dir"]
    timeline = Timeline.model_validate_json((story_dir / "build" / "timeline.json").read_text())
    return ExportJob(story=load_story(story_dir / "story.json"), timeline=timeline, story_dir=story_dir)
