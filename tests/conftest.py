"""Shared fixtures: a CLI runner in a subprocess, ffprobe-style media inspection, a small rendered story."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

FAST = ["--scenes", "2", "--resolution", "480p", "--quiet"]


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


def manifest(story_dir: Path) -> dict:
    """The story folder's manifest."""
    return json.loads((story_dir / "manifest.json").read_text())


# ---------------------------------------------------------------- a real browser (Debian's chromium via Playwright)
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium driven by Playwright (never Playwright's own browser download)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        yield b
        b.close()


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
