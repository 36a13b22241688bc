"""How long a run takes when everything is already made: a batch, a gallery and a `storymode make` re-run.

    python benchmarks/reruns.py [--repeat 3]

The tests check that these re-runs reuse everything (cached counts and events); the seconds are measured here,
where a busy machine gives a slow figure instead of a failed test. Each case builds once (untimed), then times
the re-runs. Prints a table: the first build, then the fastest and slowest re-run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TINY = {"scenes": 1, "resolution": "480p"}


def timed(run: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def batch_case(folder: Path) -> tuple[Callable[[], object], Callable[[], object]]:
    """Two one-scene stories from a jobs file; a re-run skips both."""
    from storymode.batch import run_batch

    jobs = folder / "jobs.jsonl"
    jobs.write_text("\n".join(json.dumps({"id": name, "prompt": prompt, **TINY}) for name, prompt in
                              (("fox", "a shy fox who learns to fly"), ("owl", "a brave owl at night"))) + "\n")

    def rerun() -> object:
        summary = run_batch(jobs, folder / "out", workers=2)
        if summary.skipped != 2:
            sys.exit(f"the batch re-run made stories again: {summary}")
        return summary

    return lambda: run_batch(jobs, folder / "out", workers=2), rerun


def gallery_case(folder: Path) -> tuple[Callable[[], object], Callable[[], object]]:
    """A gallery of two examples (16:9 and 1:1); a re-run finds every story cached."""
    from storymode.gallery import build_gallery

    examples = folder / "examples"
    examples.mkdir()
    (examples / "fox.toml").write_text('prompt = "a shy fox who learns to fly"\nscenes = 1\nresolution = "480p"\n')
    (examples / "owl.toml").write_text('prompt = "a brave owl"\nscenes = 1\naspect = "1:1"\nresolution = "480p"\n')

    def rerun() -> object:
        result = build_gallery(examples, folder / "site")
        if not result.all_cached:
            sys.exit("the gallery re-run built stories again")
        return result

    return lambda: build_gallery(examples, folder / "site"), rerun


def make_case(folder: Path) -> tuple[Callable[[], object], Callable[[], object]]:
    """`storymode make` of a two-scene story in a subprocess, as a user runs it; a re-run reuses every stage."""
    cmd = [sys.executable, "-m", "storymode", "make", "a shy fox who learns to fly", "-o", "fox.mp4", "--scenes",
           "2", "--progress", "json"]

    def run() -> list[dict]:
        proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"storymode make failed:\n{proc.stderr}")
        return [json.loads(line) for line in proc.stdout.splitlines()]

    def rerun() -> object:
        ends = [e for e in run() if e["kind"] == "stage-end"]
        if not all(e.get("cached") == e.get("total", e.get("done")) for e in ends):
            sys.exit(f"the make re-run redid work: {ends}")
        return ends

    return run, rerun


def main() -> None:
    """Build each case once, time its re-runs, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed re-runs per case")
    args = parser.parse_args()
    cases = {"batch re-run (2 stories)": batch_case, "gallery re-run (2 examples)": gallery_case,
             "make re-run (2 scenes, 720p)": make_case}
    print(f"{'case':<30} {'first build s':>14} {'re-run min s':>13} {'re-run max s':>13}")
    for name, case in cases.items():
        with tempfile.TemporaryDirectory(prefix="storymode-reruns-") as tmp:
            first, rerun = case(Path(tmp))
            build = timed(first)
            times = [timed(rerun) for _ in range(args.repeat)]
        print(f"{name:<30} {build:>14.1f} {min(times):>13.2f} {max(times):>13.2f}")


if __name__ == "__main__":
    main()
