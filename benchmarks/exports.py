"""Time and size of each export format for a 12-scene story.

    python benchmarks/exports.py [--folder DIR] [--repeat 2] [--prompt "..."]

Makes the story once (720p, the default offline backends; reused from --folder when it is already there), then
writes every format again (fresh) --repeat times and prints, per format: the fastest and slowest wall seconds,
the file's size, and the target (3 s each; 10 s for the PDF at print resolution). The PDF is timed at each page
size. A cached re-export (nothing to write) is timed last.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

TARGET_S = {"pdf": 10.0}
DEFAULT_TARGET_S = 3.0


def main() -> None:
    """Make (or reuse) the story, time every format, print the table."""
    import storymode
    from storymode.outputs.base import PAGE_SIZES
    from storymode.outputs.formats import FORMATS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, help="where the story is made (default: a temporary folder)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--prompt", default="a lighthouse keeper's daughter who befriends a whale in a winter storm")
    args = parser.parse_args()
    root = args.folder or Path(tempfile.mkdtemp(prefix="storymode-exports-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = storymode.make(args.prompt, out=root / "story.mp4", scenes=12)
    print(f"story: {len(result.story.scenes)} scenes, {result.duration:.1f} s of video, made in "
          f"{time.perf_counter() - t0:.1f} s ({result.story_dir})")

    cases = [(name, "a4") for name in FORMATS if name != "pdf"] + [("pdf", size) for size in PAGE_SIZES]
    print(f"{'format':<16}{'fastest s':>10}{'slowest s':>10}{'size':>12}{'target s':>10}")
    for name, size in cases:
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            made = storymode.export(result.story_dir, name, page_size=size, fresh=True)
            runs.append(time.perf_counter() - t)
        label = f"{name} ({size})" if name == "pdf" else name
        kib = made[name].stat().st_size / 1024
        size_text = f"{kib / 1024:.1f} MiB" if kib > 1024 else f"{kib:.0f} KiB"
        target = TARGET_S.get(name, DEFAULT_TARGET_S)
        print(f"{label:<16}{min(runs):>10.2f}{max(runs):>10.2f}{size_text:>12}{target:>10.0f}"
              f"{'' if min(runs) <= target else '  OVER'}")
    t = time.perf_counter()
    storymode.export(result.story_dir, "all")
    print(f"every format again, all cached: {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
