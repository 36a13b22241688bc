"""storymode studio figures on loopback: a 12-scene board's first paint, four picture candidates, an edit heard.

    python benchmarks/studio.py [--scenes 12] [--resolution 720p] [--loads 5] [--keep DIR] [--align on|off]

Makes one story (default backends) through a real `storymode studio` process (or reuses the one --keep DIR holds),
then prints a table:
(a) first-contentful-paint and the navigation's responseEnd of the story's board in the system chromium (a fresh
    browser context each load, so nothing is cached), median of --loads (target < 300 ms); and, as the floor, the
    FCP of the studio's 404 page (the same stylesheet and script, no story);
(b) wall time of POST /s/ID/redraw for 4 candidates until the job is done and the 4 pictures are fetched, median of
    3, each on another scene whose brief's mood was just edited, so every variant is drawn fresh (target < 2 s);
(c) wall time from an edited line's save (POST /edit answered) to its WAV being served (POST /play, GET the URL),
    median of 5, each a new text (target < 1 s). --align sets STORYMODE_ALIGN for the studio (on by default: the
    narrate stage then aligns each narrated scene's words with Whisper, which ▶ waits for).
Nothing is asserted; the figures are printed with the machine (CPUs, load average).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-breakpad"]
TARGETS_MS = {"board": 300, "redraw": 2000, "heard": 1000}


class StudioProcess:
    """A `storymode studio --no-browser --port 0` process over a folder, and an httpx client that posts as its
    pages do (same Origin, the CSRF token from the page's <meta>)."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        import httpx

        self.folder = folder
        self.proc = subprocess.Popen([sys.executable, "-m", "storymode", "studio", "--dir", str(folder),
                                      "--no-browser", "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                                     env={**os.environ, **(env or {})})
        self.url = self.proc.stdout.readline().strip().rstrip("/")
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            sys.exit(f"the studio did not start (it printed {self.url!r})")
        self.client = httpx.Client(base_url=self.url, timeout=600)
        page = wait_for(lambda: _get_or_none(self.client, "/"), 60, "the studio to answer")
        csrf = re.search(r'<meta name="studio-csrf" content="([^"]+)"', page.text)
        assert csrf, "the library page has no CSRF token"
        self.headers = {"Origin": self.url, "X-Studio-CSRF": csrf.group(1)}

    def post(self, path: str, body: dict | None = None) -> Any:
        """A POST as the studio's own page sends it; its JSON answer (SystemExit on an error status)."""
        r = self.client.post(path, json=body or {}, headers=self.headers)
        if r.status_code >= 400:
            self.stop()
            sys.exit(f"POST {path}: {r.status_code} {r.text}")
        return r.json()

    def wait_job(self, story_id: str, every: float = 0.01, timeout: float = 1800) -> dict:
        """The story's job once it is done (SystemExit when it failed)."""
        def finished() -> dict | None:
            job = self.client.get(f"/s/{story_id}/job").json()["job"]
            return job if job and job["status"] != "running" else None

        job = wait_for(finished, timeout, f"the job on {story_id}", every)
        if job["status"] != "done":
            self.stop()
            sys.exit(f"{job['kind']} on {story_id} failed: {job['error']}")
        return job

    def make(self, prompt: str, **settings: object) -> str:
        """A story written, narrated and drawn from prompt (the library form's route); its id."""
        story_id = self.post("/api/stories", {"prompt": prompt, "settings": settings})["id"]
        self.wait_job(story_id)
        return story_id

    def render(self, story_id: str) -> None:
        """Render the story's video (the board's "Render the video")."""
        self.post(f"/s/{story_id}/jobs/render")
        self.wait_job(story_id)

    def stop(self) -> None:
        """End the studio process."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _get_or_none(client: Any, path: str) -> Any:
    import httpx

    try:
        return client.get(path)
    except httpx.TransportError:
        return None


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """predicate's first truthy value; SystemExit after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            sys.exit(f"still waiting after {timeout:g} s for {what}")
        time.sleep(every)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """The system chromium (launch_chromium), closed with its Playwright when the block ends."""
    playwright, browser = launch_chromium()
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@contextlib.contextmanager
def studio_over(folder: Path, keep: bool, env: dict | None = None) -> Iterator["StudioProcess"]:
    """A studio process over folder, stopped when the block ends (and the folder removed unless keep)."""
    studio = StudioProcess(folder, env)
    try:
        yield studio
    finally:
        studio.stop()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def launch_chromium() -> tuple[Any, Any]:
    """(playwright, browser): the system chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("chromium is not installed: apt-get install chromium")
    playwright = sync_playwright().start()
    return playwright, playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)


# ---------------------------------------------------------------- the three figures
def board_paint(browser: Any, url: str, loads: int) -> tuple[list[float], list[float]]:
    """first-contentful-paint and responseEnd (ms from navigation start) of loads cold loads of the page."""
    paints, ends = [], []
    for _ in range(loads):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url, wait_until="load")
        fcp = wait_for(lambda page=page: page.evaluate(
            "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"), 30, "a paint")
        paints.append(fcp)
        ends.append(page.evaluate("() => performance.getEntriesByType('navigation')[0].responseEnd"))
        context.close()
    return paints, ends


def redraw_times(studio: StudioProcess, story_id: str, scene_ids: list[str]) -> list[float]:
    """ms from POST redraw (4 candidates) to the job done and the 4 pictures fetched, once per scene."""
    times = []
    for scene_id in scene_ids:
        version = studio.client.get(f"/s/{story_id}/story").json()["version"]
        mood = f"calm {random.randrange(10**6)}"  # a brief never drawn before: its variants are not cached
        studio.post(f"/s/{story_id}/edit", {"base": version, "op": "edit_brief",
                                            "args": {"scene_id": scene_id, "fields": {"mood": mood}}})
        t0 = time.perf_counter()
        studio.post(f"/s/{story_id}/redraw", {"scene_id": scene_id, "n": 4})
        job = studio.wait_job(story_id)
        for candidate in job["result"]:
            assert studio.client.get(candidate["url"]).status_code == 200
        times.append((time.perf_counter() - t0) * 1000)
        assert len(job["result"]) == 4
    return times


def heard_times(studio: StudioProcess, story_id: str, count: int) -> list[float]:
    """ms from an edited line's save to its new narration served by the ▶ route, count times with new words."""
    story = studio.client.get(f"/s/{story_id}/story").json()
    version = story["version"]
    scene_ids = [s["id"] for s in story["story"]["scenes"]]
    texts = ["The moon smiled at the little fox.", "A soft wind carried the smell of rain.",
             "Somewhere far away, an owl called twice.", "The river sang its slow, silver song.",
             "Every star seemed to lean closer to listen.", "Morning came on tiptoe over the hills."]
    times = []
    for n in range(count):
        scene_id = scene_ids[n % len(scene_ids)]
        text = f"{texts[n % len(texts)]} So said fox number {random.randrange(10**4)}."  # never narrated before
        version = studio.post(f"/s/{story_id}/edit", {"base": version, "op": "edit_line", "args": {
            "scene_id": scene_id, "index": 0, "text": text}})["version"]
        t0 = time.perf_counter()
        url = studio.post(f"/s/{story_id}/play", {"base": version, "scene_id": scene_id, "index": 0})["url"]
        wav = studio.client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    return times


def row(name: str, samples: list[float], target: float | None) -> str:
    """One line of the table: median, min, max and the target."""
    median = statistics.median(samples)
    verdict = "" if target is None else ("ok" if median < target else "OVER")
    shown = f"< {target:.0f} ms" if target is not None else ""
    return (f"{name:<34} {median:8.0f} {min(samples):8.0f} {max(samples):8.0f}   {len(samples):>2}   "
            f"{shown:<10} {verdict}")


def main() -> None:
    """Make the story, start the studio and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompt", default="a shy fox who learns to fly")
    parser.add_argument("--scenes", type=int, default=12)
    parser.add_argument("--resolution", default="720p")
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (a story it holds is reused)")
    parser.add_argument("--align", choices=("on", "off"), help="STORYMODE_ALIGN for the studio")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="storymode-studio-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {"STORYMODE_ALIGN": args.align} if args.align else None
    with studio_over(folder, args.keep is not None, env) as studio:
        t0 = time.perf_counter()
        kept = sorted(folder.glob("*.storymode"))
        story_id = kept[0].name.removesuffix(".storymode") if kept else \
            studio.make(args.prompt, scenes=args.scenes, resolution=args.resolution)
        made_s = time.perf_counter() - t0
        scene_ids = [s["id"] for s in studio.client.get(f"/s/{story_id}/story").json()["story"]["scenes"]]
        with chromium() as browser:
            board_paint(browser, f"{studio.url}/s/{story_id}", 1)  # a warm-up: the first page the studio renders
            paints, ends = board_paint(browser, f"{studio.url}/s/{story_id}", args.loads)
            floor, _ = board_paint(browser, f"{studio.url}/s/no-such-story", args.loads)
        redraws = redraw_times(studio, story_id, scene_ids[2:5])
        heard = heard_times(studio, story_id, 5)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}, Python {sys.version.split()[0]}")
    made = f"made in {made_s:.1f} s" if not kept else f"reused from {kept[0]}"
    align = args.align or os.environ.get("STORYMODE_ALIGN", "default")
    print(f"story: {story_id}, {len(scene_ids)} scenes, {made}; STORYMODE_ALIGN={align}\n")
    print(f"{'figure (ms)':<34} {'median':>8} {'min':>8} {'max':>8}    n   target")
    print(row("(a) board first-contentful-paint", paints, TARGETS_MS["board"]))
    print(row("    board responseEnd", ends, None))
    print(row("    404 page FCP (same CSS and JS)", floor, None))
    print(row("(b) redraw: 4 candidates ready", redraws, TARGETS_MS["redraw"]))
    print(row("(c) edited line heard (save->wav)", heard, TARGETS_MS["heard"]))


if __name__ == "__main__":
    main()
