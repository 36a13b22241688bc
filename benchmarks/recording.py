"""The user's own narration (--narration-audio): how fast and how exactly a reading is cut into lines.

    python benchmarks/recording.py                   # a 12-scene story (a few minutes of reading)
    python benchmarks/recording.py --scenes 4 --json out.json

A story is written by the planner, every line is read by hibari (the default voice) with pauses of 0.45-1.2 s
between lines and 1.0-2.5 s between scenes (pauses over 1.5 s are shortened by the cutter), encoded to m4a,
and cut by storymode.narrators.audio.recording.cut_recording (decode, one Whisper-base pass, mapping, cuts,
loudness). Reported:
  seconds      wall time of cut_recording (model already loaded), audio seconds per wall second, CPU seconds
               (Whisper uses every core) and the load average (other work on the machine slows the wall time)
  cut ms       each cut inside a scene against the middle of the true pause: median / max (every cut, the
               scene ones included, must lie inside its pause: counted as misses)
  word ms      the first word of every sentence against its exact start (sentences are synthesized alone):
               median / p95 / max, and how many are over 150 ms
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RATE = 24000


def reading(scenes: list[list[str]], seed: int = 0) -> tuple[np.ndarray, list[dict]]:
    """hibari reads the lines with random pauses; returns the samples and where every line and sentence is."""
    from storymode.cast import load_presets
    from storymode.narrators.hibari import HibariNarrator

    rng = random.Random(seed)
    voice = load_presets()["narrator"]
    narrator = HibariNarrator()
    parts = [np.zeros(int(0.5 * RATE), np.float32)]
    truth = []
    for si, lines in enumerate(scenes):
        for li, text in enumerate(lines):
            if si or li:
                gap = rng.uniform(1.0, 2.5) if li == 0 else rng.uniform(0.45, 1.2)
                parts.append(np.zeros(int(gap * RATE), np.float32))
            t = sum(len(p) for p in parts) / RATE
            narration = narrator.narrate(text, voice)
            truth.append({"start": t, "end": t + narration.duration, "scene": si,
                          "sentences": [(s.text, t + s.start) for s in narration.sentences]})
            parts.append(narration.samples)
    parts.append(np.zeros(int(0.5 * RATE), np.float32))
    return np.concatenate(parts), truth


def main() -> None:
    """Run the benchmark and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=12)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import storymode
    from storymode.ffmpeg_exe import ffmpeg_exe
    from storymode.narrators.audio import align, recording

    with tempfile.TemporaryDirectory() as tmp:
        story = storymode.write("a shy fox who learns to fly", story_dir=Path(tmp) / "s", scenes=args.scenes)
        scenes = [[line.text for line in scene.lines] for scene in story.scenes]
        samples, truth = reading(scenes)
        m4a = Path(tmp) / "reading.m4a"
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "1",
                        "-i", "pipe:0", str(m4a)], input=samples.astype("<f4").tobytes(), check=True)
        align.load_model()
        t0, c0 = time.perf_counter(), time.process_time()
        cut = recording.cut_recording(m4a, scenes)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    lines = [n for scene in cut for n in scene]
    cuts, misses, words = [], 0, []
    for k, (line, true) in enumerate(zip(lines, truth)):
        start, end = line.meta["source"]
        if k + 1 < len(truth):
            lo, hi = true["end"] - 0.02, truth[k + 1]["start"] + 0.02
            following = lines[k + 1].meta["source"][0]
            misses += not (lo <= end <= hi and lo <= following <= hi)
            if following == end:
                cuts.append(abs(end - (true["end"] + truth[k + 1]["start"]) / 2))
        n = 0
        for sentence, true_start in true["sentences"]:
            words.append(abs(start + line.words[n].start - true_start))
            n += len(sentence.split())
    duration = samples.size / RATE
    result = {"recording_s": round(duration, 1), "lines": len(lines),
              "words": sum(len(text.split()) for scene in scenes for text in scene),
              "cut_seconds": round(seconds, 2), "x_realtime": round(duration / seconds, 1),
              "cpu_seconds": round(cpu, 2), "cores": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 1),
              "cut_ms_median": round(float(np.median(cuts)) * 1000), "cut_ms_max": round(float(np.max(cuts)) * 1000),
              "cuts_outside_pause": misses,
              "word_ms_median": round(float(np.median(words)) * 1000),
              "word_ms_p95": round(float(np.percentile(words, 95)) * 1000),
              "word_ms_max": round(float(np.max(words)) * 1000),
              "words_over_150ms": int(sum(w > 0.150 for w in words)), "sentences": len(words)}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
