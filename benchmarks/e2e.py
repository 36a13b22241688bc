"""Prompt -> MP4 with the defaults: per-stage seconds, peak RSS, video seconds and wall/video, cold and warm.

    python benchmarks/e2e.py [--scenes 6] [--prompt "..."] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(prompt: str, scenes: int, folder: Path, extra: list[str]) -> dict:
    """One `storymode make` in a subprocess; returns wall seconds, stage seconds and the result event."""
    cmd = [sys.executable, "-m", "storymode", "make", prompt, "-o", "story.mp4", "--scenes", str(scenes),
           "--progress", "json", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"storymode failed:\n{proc.stderr}")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    stages = {e["stage"]: e.get("seconds", 0.0) for e in events if e["kind"] == "stage-end"}
    done = events[-1]["data"]
    return {"wall": wall, "stages": stages, "video_s": done["duration"]}


def main() -> None:
    """Measure a cold run and a warm (all cached) run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompt", default="a shy fox who learns to fly")
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the results")
    parser.add_argument("extra", nargs="*", help="more flags for storymode make (after --)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="storymode-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    cold = run_once(args.prompt, args.scenes, folder, ["--fresh", "--force", *args.extra])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    warm = run_once(args.prompt, args.scenes, folder, args.extra)
    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"prompt: {args.prompt!r}, scenes: {args.scenes}, folder: {folder}")
    print(f"video length         {cold['video_s']:8.1f} s")
    for stage, seconds in cold["stages"].items():
        print(f"  {stage:<18} {seconds:8.2f} s")
    print(f"cold wall            {cold['wall']:8.2f} s   (wall/video {cold['wall'] / cold['video_s']:.2f})")
    print(f"peak RSS (largest process) {peak_mb:6.0f} MB")
    print(f"warm wall (cached)   {warm['wall']:8.2f} s")


if __name__ == "__main__":
    main()
