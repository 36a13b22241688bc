"""How well and how fast the offline text screen decides: precision and recall of "refuse" (the positive class) per
audience on the table it was tuned on (tests/data/screen_table.toml) and on the holdout written after tuning
(tests/data/screen_holdout.toml), with the false refusals and misses listed by row; then milliseconds per scene,
median and p95, over a 12-scene story's scene texts (written by the planner, about 80 words a scene) and over the
table's rows, beside better-profanity's own censor() on the same scenes.

    python benchmarks/screening.py [--repeat 20]
"""
from __future__ import annotations

import argparse
import codecs
import re
import statistics
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from storymode.safety.offline import OfflineScreen
from storymode.safety.topics import lexicon

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
AUDIENCES = ("kids", "teens", "adults")
ROT13 = re.compile(r"\{rot13:([^}]*)\}")
PROMPT = "a shy fox who learns to fly, and the storm that tests her"


def load_rows(name: str) -> list[dict]:
    """A table's rows, each text with its {rot13:...} words decoded."""
    rows = tomllib.loads((DATA / name).read_text(encoding="utf-8"))["row"]
    for row in rows:
        row["text"] = ROT13.sub(lambda m: codecs.decode(m.group(1), "rot13"), row["text"])
    return rows


def score(rows: list[dict], screen: OfflineScreen) -> list[str]:
    """Report lines: per audience, precision and recall of refuse, and the rows it got wrong."""
    lines = []
    for audience in AUDIENCES:
        hits, false_refusals, misses = 0, [], []
        for row in rows:
            refused = not screen.check(row["text"], audience).ok
            wanted = row[audience] == "refuse"
            hits += refused and wanted
            if refused and not wanted:
                false_refusals.append(row["id"])
            if wanted and not refused:
                misses.append(row["id"])
        positives = sum(row[audience] == "refuse" for row in rows)
        precision = hits / (hits + len(false_refusals)) if hits + len(false_refusals) else 1.0
        recall = hits / positives if positives else 1.0
        lines.append(f"  {audience:6} precision {precision:.3f}  recall {recall:.3f}  "
                     f"({positives} to refuse of {len(rows)})")
        lines += [f"           false refusal: {r}" for r in false_refusals]
        lines += [f"           miss: {r}" for r in misses]
    return lines


def timings(check: Callable[[str], object], texts: list[str], repeat: int) -> dict[str, tuple[float, float]]:
    """Median and p95 milliseconds of one check over texts (each timed `repeat` times), on the wall clock and in
    this process's CPU time (the wall clock also counts the time a busy machine gives other processes)."""
    wall, cpu = [], []
    for _ in range(repeat):
        for text in texts:
            start, start_cpu = time.perf_counter(), time.process_time()
            check(text)
            cpu.append((time.process_time() - start_cpu) * 1000)
            wall.append((time.perf_counter() - start) * 1000)
    return {"wall": _median_p95(wall), "cpu": _median_p95(cpu)}


def _median_p95(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def _shown(found: dict[str, tuple[float, float]], digits: int = 3) -> str:
    return ", ".join(f"{clock} median {m:.{digits}f} ms, p95 {p:.{digits}f} ms" for clock, (m, p) in found.items())


def story_scenes() -> list[str]:
    """The scene texts of a 12-scene story written by the planner (offline), about 80 words each."""
    from storymode.registry import create
    from storymode.writers.base import WriteRequest

    story = create("writer", "planner").write(WriteRequest(prompt=PROMPT, scenes=12, audience="kids",
                                                           words_per_scene=80))
    return [" ".join(line.text for line in scene.lines) for scene in story.scenes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="times each text is timed")
    args = parser.parse_args()
    screen = OfflineScreen()

    start = time.perf_counter()
    lexicon()
    build_ms = (time.perf_counter() - start) * 1000
    table, holdout = load_rows("screen_table.toml"), load_rows("screen_holdout.toml")
    print(f"main table ({len(table)} rows, tuned on):")
    print("\n".join(score(table, screen)))
    print(f"holdout ({len(holdout)} rows, written after tuning, not tuned on):")
    print("\n".join(score(holdout, screen)))

    scenes = story_scenes()
    words = statistics.mean(len(s.split()) for s in scenes)
    print(f"\nspeed (lexicon built once, on first use: {build_ms:.0f} ms)")
    print(f"  offline screen, 12 scenes of {words:.0f} words, per scene: "
          f"{_shown(timings(lambda t: screen.check(t, 'kids'), scenes, args.repeat))}")
    rows = [r["text"] for r in table]
    print(f"  offline screen, {len(table)} table rows, per row: "
          f"{_shown(timings(lambda t: screen.check(t, 'kids'), rows, args.repeat))}")

    from better_profanity import profanity

    profanity.contains_profanity("warm up")
    found = timings(profanity.contains_profanity, scenes, max(1, args.repeat // 10))
    print(f"  better-profanity contains_profanity(), same scenes, per scene: {_shown(found, 1)}\n"
          "  (why its word list is looked up in a dictionary instead of its scanner being run)")


if __name__ == "__main__":
    main()
