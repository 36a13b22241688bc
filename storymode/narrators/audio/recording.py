"""Decoding and cutting a recording of the user's own reading: one audio file, aligned with Whisper against the
story's KNOWN text and cut at the line boundaries into one Narration per line, with word and sentence timings.
Files in, Narrations out, no story folder involved (which recording a folder uses, and its cut cached in
narration/, is pipeline.reading).

1. decode(): any file ffmpeg reads (m4a, mp3, wav, ogg, flac, a video's sound) -> mono float32 at RATE (24 kHz,
   the narration rate) for the clips and at 16 kHz for Whisper (ffmpeg resamples both). Not audio, silent, or far
   too short for the text: a UsageError that names the file.
2. One Whisper pass over the whole recording (faster-whisper walks long audio in 30 s windows by itself, seeking
   to the last word it timed); Whisper's words are mapped onto the story's words by align.map_words, so the text
   is always the story's and Whisper only supplies times. When fewer than MIN_MATCHED of the story's words are
   heard, the recording is refused (it is not a reading of this text).
3. Each cut between two lines lies in the middle of the longest quiet run between the last word of one and the
   first word of the next (Whisper's word ends are often early, its starts are snapped to the onset). A pause
   longer than 2 x MAX_SIDE_S is shortened to that (at a scene change to 2 x SCENE_SIDE_S: the video adds its own
   pause there); the reader's shorter pauses are kept as read.
4. Loudness: one gain for the whole reading, chosen so the clips together sit at the narration's TARGET_LUFS, and
   the same peak limiter as synthesized lines (loudness.match_loudness): the reading is level-matched with
   synthesized narration, without lifting the room noise of one line above the next.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import stat
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ...sound.wav import check_rate
from ...errors import UsageError
from ...sound import loudness
from . import align
from ..base import PAUSE_ONLY_S, Narration, Span, merge_pieces, split_words
from .speakable import has_words, speakable

RATE = 24000
VERSION = "1"  # part of the cache key of a cut recording: bump when the cut or its timings change
TIMING_SOURCE = "recording-aligned"
MIN_SECONDS_PER_WORD = 0.25  # a reading faster than 4 words a second is not a reading of the whole text
MIN_MATCHED = 0.5  # the share of the story's words Whisper must hear for the recording to be this text
EDGE_S = 0.25  # kept before the first word and after the last sound of the reading
MAX_SIDE_S = 0.75  # silence kept on each side of a cut between two lines of a scene
SCENE_SIDE_S = 0.3  # ... and between two scenes (the video adds a lead-in and a tail of its own)
MIN_GAP_S = 0.1  # a quiet run this long between two lines is taken as the pause between them
MAX_SECONDS = 2 * 3600  # about 1 GB of samples in memory at most; Whisper takes minutes per hour
FLAG = "--narration-audio"
_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*$")
_FRAME_S = 0.01

Progress = Callable[[float], None]


def fingerprint() -> dict:
    """What determines a cut besides the recording and the text (for artifact keys)."""
    return {"cutter": "recording", "version": VERSION, "rate": RATE, "align": align.fingerprint()}


def file_digest(path: str | Path) -> str:
    """sha256 of the file's bytes (hex); a UsageError for something that is not a regular file (a fifo)."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # O_NONBLOCK: a fifo cannot hang it
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{FLAG} {path}: not a regular file")
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _input(path: Path) -> str:
    """ffmpeg's name for a local file: absolute, with file: so that no "proto:..." name picks a protocol."""
    return f"file:{path.resolve()}"


def _ffmpeg(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    from ...ffmpeg_exe import ffmpeg_exe

    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args], capture_output=True, timeout=timeout)


def check_file(path: str | Path) -> Path:
    """The recording's absolute path once it exists and ffmpeg finds an audio stream in it (a quick probe)."""
    given = Path(path).expanduser()
    if not given.is_file():
        raise UsageError(f"{FLAG} {path}: no such file")
    probe = _ffmpeg(["-i", _input(given), "-map", "0:a:0", "-t", "0.5", "-f", "null", "-"], timeout=60)
    if probe.returncode != 0 or b"Audio:" not in probe.stderr:
        raise UsageError(f"{FLAG} {path}: ffmpeg finds no audio in this file; give a recording such as "
                         "m4a, mp3, wav, ogg or flac")
    return given.resolve()


def input_rate(path: Path) -> int | None:
    """The sample rate of the file's first audio stream as ffmpeg reads it from the header; None if it says none."""
    probe = _ffmpeg(["-i", _input(path)], timeout=60)  # no output given: ffmpeg describes the input and stops
    found = re.search(rb"Stream #[^\n]*?Audio: [^\n]*?, (\d+) Hz", probe.stderr)
    return int(found.group(1)) if found else None


def decode(path: str | Path, rate: int = RATE) -> np.ndarray:
    """The file's first audio stream as mono float32 at rate; a UsageError naming the file if there is none."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UsageError(f"{FLAG} {path}: no such file")
    check_rate(rate, "decoding a recording")
    given = input_rate(path)
    if given is not None:  # before decoding: a tiny file at 1 Hz would decode to hours of samples
        check_rate(given, f"{FLAG} {path}")
    done = _ffmpeg(["-loglevel", "error", "-i", _input(path), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(rate),
                    "-t", str(MAX_SECONDS + 1), "-f", "f32le", "pipe:1"], timeout=MAX_SECONDS)
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["unknown error"]
        raise UsageError(f"{FLAG} {path}: ffmpeg finds no audio it can decode in this file ({why[0]})")
    samples = np.frombuffer(done.stdout, "<f4")
    if samples.size > MAX_SECONDS * rate:
        raise UsageError(f"{FLAG} {path}: the recording is longer than {MAX_SECONDS // 3600} hours; "
                         "cut it to the story's reading")
    return np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)


def sentence_texts(text: str) -> list[str]:
    """The line cut into sentences at end punctuation, every whitespace word kept exactly (for captions)."""
    pieces: list[str] = []
    current: list[str] = []
    for word in _WORD.findall(text):
        current.append(word)
        if _SENTENCE_END.search(word):
            pieces.append(" ".join(current))
            current = []
    if current:
        pieces.append(" ".join(current))
    return merge_pieces(pieces)  # re-joins "Jan. 5th", "e.g. this", word-less pieces


# ---------------------------------------------------------------- Whisper over the whole recording
def _language(language: str) -> str | None:
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES
    except ImportError:  # pragma: no cover - other faster-whisper layouts
        return language or None
    code = (language or "").split("-")[0].lower()
    return code if code in _LANGUAGE_CODES else None  # None: Whisper detects it


def transcribe(samples16: np.ndarray, language: str = "en", model=None,  # type: ignore[no-untyped-def]
               progress: Progress | None = None) -> list[align.Word]:
    """Whisper's (word, start, end) over a recording of any length (16 kHz); progress(seconds done)."""
    model = model or align.load_model()
    segments, _ = model.transcribe(samples16, language=_language(language), word_timestamps=True,
                                   beam_size=align.BEAM_SIZE, condition_on_previous_text=False, vad_filter=False)
    words: list[align.Word] = []
    for segment in segments:
        for w in segment.words or ():
            if w.word.strip():
                words.append((w.word.strip(), float(w.start), float(w.end)))
        if progress is not None:
            progress(float(segment.end))
    return words


def matched_count(known: Sequence[str], heard: Sequence[align.Word]) -> int:
    """How many of the known words Whisper heard as they are written (after normalising both sides)."""
    import difflib

    a = [align.normalise(w) for w in known]
    b = [align.normalise(w[0]) for w in heard]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


# ---------------------------------------------------------------- finding the cuts
def _loud_frames(samples16: np.ndarray) -> np.ndarray:
    """One bool per 10 ms: louder than the recording's noise floor (the same rule as align.snap_onsets)."""
    frame = int(_FRAME_S * align.WHISPER_RATE)
    n = samples16.size // frame
    if n == 0:
        return np.zeros(0, bool)
    rms = np.sqrt(np.mean(samples16[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1))
    db = 20 * np.log10(rms + 1e-9)
    return db > max(float(db.max()) - 45.0, float(np.percentile(db, 10)) + 6.0)


def _frame(t: float, n: int) -> int:
    return min(max(int(round(t / _FRAME_S)), 0), n)


def quiet_run(loud: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """The longest run of quiet frames in [lo, hi] as (start, end) seconds; (lo, lo) when all of it is loud."""
    a, b = _frame(lo, loud.size), _frame(hi, loud.size)
    best = (a, a)
    k = a
    while k < b:
        if loud[k]:
            k += 1
            continue
        j = k
        while j < b and not loud[j]:
            j += 1
        if j - k > best[1] - best[0]:
            best = (k, j)
        k = j
    return best[0] * _FRAME_S, best[1] * _FRAME_S


def _last_sound(loud: np.ndarray, lo: float, hi: float, fallback: float) -> float:
    """The end (seconds) of the last loud frame in [lo, hi]; fallback when there is none."""
    a, b = _frame(lo, loud.size), _frame(hi, loud.size)
    found = np.flatnonzero(loud[a:b])
    return (a + int(found[-1]) + 1) * _FRAME_S if found.size else fallback


def snap_ends(words: list[align.Word], loud: np.ndarray, duration: float) -> list[align.Word]:
    """End a word followed by a pause where its sound stops: at the first quiet run of MIN_GAP_S or more before
    the next word (Whisper's ends are often early, or stretched over the pause); other words keep their ends."""
    out = list(words)
    for i, (word, start, end) in enumerate(out):
        limit = out[i + 1][1] if i + 1 < len(out) else min(duration, end + 1.0)
        a, b = _frame(start, loud.size), _frame(limit, loud.size)
        quiet = 0
        for k in range(a, b):
            quiet = 0 if loud[k] else quiet + 1
            if quiet * _FRAME_S >= MIN_GAP_S:
                pause = (k + 1 - quiet) * _FRAME_S
                if pause > start + 0.03:
                    out[i] = (word, start, round(pause, 4))
                break
    return out


def line_bounds(spans: list[tuple[float, float, float]], scene_starts: set[int], loud: np.ndarray,
                duration: float) -> list[tuple[float, float]]:
    """(start, end) in the recording of each spoken line, from (first word start, last word start, last word end)
    per line: cut between lines in the quiet middle of the gap, with long pauses shortened on both sides."""
    bounds: list[list[float]] = [[0.0, duration] for _ in spans]
    first_start = spans[0][0]
    bounds[0][0] = max(0.0, first_start - EDGE_S)
    for i in range(len(spans) - 1):
        _, last_start, end_a = spans[i]
        start_b = spans[i + 1][0]
        run = quiet_run(loud, min(end_a, start_b), start_b)
        if run[1] - run[0] < MIN_GAP_S:  # Whisper stretched the last word: look from its start
            wider = quiet_run(loud, min(last_start, start_b), start_b)
            run = wider if wider[1] - wider[0] > run[1] - run[0] else run
        cut = (run[0] + run[1]) / 2 if run[1] > run[0] else (min(end_a, start_b) + start_b) / 2
        side = SCENE_SIDE_S if i + 1 in scene_starts else MAX_SIDE_S
        tail = _last_sound(loud, last_start, cut, fallback=min(end_a, cut))
        bounds[i][1] = min(cut, tail + side)
        bounds[i + 1][0] = max(cut, start_b - side)
    _, last_start, last_end = spans[-1]
    tail = _last_sound(loud, last_start, min(duration, last_end + 1.0), fallback=last_end)
    bounds[-1][1] = min(duration, max(tail, last_end) + EDGE_S)
    return [(round(a, 4), round(max(a, b), 4)) for a, b in bounds]


# ---------------------------------------------------------------- the clips
def _common_gain_db(clips: list[np.ndarray]) -> float:
    """One gain that brings the clips, taken together, to TARGET_LUFS (their duration-weighted mean power)."""
    power = weight = 0.0
    for clip in clips:
        lufs = loudness.integrated_loudness(clip, RATE)
        if math.isfinite(lufs):
            power += clip.size * 10 ** (lufs / 10)
            weight += clip.size
    return loudness.TARGET_LUFS - 10 * math.log10(power / weight) if weight else 0.0


def _level(clip: np.ndarray, gain_db: float) -> np.ndarray:
    lufs = loudness.integrated_loudness(clip, RATE)
    if not math.isfinite(lufs):
        return clip.astype(np.float32)
    return loudness.match_loudness(clip, RATE, target_lufs=lufs + gain_db)  # gain_db, peaks limited as for TTS


def _pause_line(text: str) -> Narration:
    """A line with nothing to say ("…", "***"): a held silence, as synthesized narration makes it."""
    samples = np.zeros(int(PAUSE_ONLY_S * RATE), np.float32)
    end = len(samples) / RATE
    return Narration(samples, RATE, (Span(text, 0.0, end),), tuple(split_words(text, 0.0, end)), timing_source="pause")


def _clip_spans(text: str, words: list[align.Word], offset: float, length: float) -> tuple[list[Span], list[Span]]:
    """Sentence and word spans of one line, relative to its clip."""
    spans = []
    for word, start, end in words:
        s = min(max(start - offset, 0.0), length)
        spans.append(Span(word, round(s, 4), round(min(max(end - offset, s), length), 4)))
    sentences = []
    k = 0
    for sentence in sentence_texts(text):
        n = len(_WORD.findall(sentence))
        own = spans[k:k + n]
        k += n
        if own:
            sentences.append(Span(sentence, own[0].start, max(own[0].start, own[-1].end)))
    return sentences, spans


def cut_recording(path: str | Path, scenes: Sequence[Sequence[str]], *, language: str = "en",
                  model: object = None, progress: Progress | None = None) -> list[list[Narration]]:
    """The recording of a reading of the scenes' lines, cut into one Narration per line (same nesting).

    Each spoken line's clip comes from the recording (meta["source"]: its [start, end] there, seconds); its
    words are the line's own words with Whisper's times relative to the clip. Raises UsageError naming the file
    when it has no audio, is silent, is too short for the text or is not a reading of it. progress(fraction)."""
    label = f"{FLAG} {path}"
    samples = decode(path)
    duration = samples.size / RATE
    x16 = decode(path, align.WHISPER_RATE)  # ffmpeg's resampler: no scipy import, and quick
    if not align.has_speech_energy(x16):
        raise UsageError(f"{label}: the recording is silent ({duration:.1f} s, nothing louder than "
                         f"{align.SILENCE_DBFS:.0f} dBFS)")
    flat = [(si, li, text) for si, lines in enumerate(scenes) for li, text in enumerate(lines)]
    spoken = [k for k, (_, _, text) in enumerate(flat) if has_words(speakable(text))]
    known: list[str] = []
    owner: list[int] = []
    for k in spoken:
        words = _WORD.findall(flat[k][2])
        known += words
        owner += [k] * len(words)
    out: list[list[Narration]] = [[_pause_line(text) for text in lines] for lines in scenes]
    if not known:
        return out
    need = MIN_SECONDS_PER_WORD * len(known)
    if duration < need:
        raise UsageError(f"{label}: the recording is {duration:.1f} s long, too short for the story's "
                         f"{len(known)} words (a reading of them takes at least {need:.0f} s); is it the right file?")
    heard = transcribe(x16, language, model=model,
                       progress=(lambda t: progress(min(1.0, t / duration))) if progress else None)
    countable = [w for w in known if align.normalise(w)]
    matched = matched_count(known, heard)
    if matched < MIN_MATCHED * len(countable):
        raise UsageError(f"{label}: Whisper heard {len(heard)} words in {duration:.1f} s, and only {matched} of "
                         f"the story's {len(countable)} words among them; the recording does not seem to be a "
                         "reading of this story's text (write the story first, then read its story.json aloud)")
    loud = _loud_frames(x16)
    timed = snap_ends(align.snap_onsets(align.map_words(known, heard, duration), x16), loud, duration)
    by_line: dict[int, list[align.Word]] = {k: [] for k in spoken}
    for word, k in zip(timed, owner):
        by_line[k].append(word)
    spans = [(by_line[k][0][1], by_line[k][-1][1], by_line[k][-1][2]) for k in spoken]
    scene_starts = {n for n, k in enumerate(spoken) if n and flat[k][0] != flat[spoken[n - 1]][0]}
    bounds = line_bounds(spans, scene_starts, loud, duration)
    clips = [samples[int(round(a * RATE)): max(int(round(a * RATE)) + 1, int(round(b * RATE)))] for a, b in bounds]
    gain = _common_gain_db(clips)
    for k, (a, b), clip in zip(spoken, bounds, clips):
        si, li, text = flat[k]
        length = clip.size / RATE
        sentences, words = _clip_spans(text, by_line[k], a, length)
        out[si][li] = Narration(_level(clip, gain), RATE, tuple(sentences), tuple(words), TIMING_SOURCE,
                                meta={"source": [a, round(a + length, 4)]})
    return out
