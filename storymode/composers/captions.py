"""Caption files from timeline cues: SRT and WebVTT sidecars, and the ASS file ffmpeg burns in."""
from __future__ import annotations

import html

from ..timeline import Cue


def _clock(seconds: float, sep: str, centis: bool = False) -> str:
    """h:mm:ss + sep + milliseconds (SRT, VTT), or h:mm:ss.cc for ASS (one-digit hours, centiseconds)."""
    unit = 100 if centis else 1000
    ticks = max(0, round(seconds * unit))
    h, rest = divmod(ticks, 3600 * unit)
    m, rest = divmod(rest, 60 * unit)
    s, frac = divmod(rest, unit)
    if centis:
        return f"{h:d}:{m:02d}:{s:02d}{sep}{frac:02d}"
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{frac:03d}"


def _plain(text: str) -> str:
    # a blank line ends a cue in both formats; keep cue text to its own lines
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


# SubRip has no escapes, and players read HTML-like tags (<b>, <font>) and ASS blocks ({\an8}) in it: a word
# joiner after "<" and "\\" keeps them literal, and braces, which ffmpeg's reader drops with their contents
# whatever follows them, become look-alikes (DejaVu Sans draws all three)
_SRT_LITERAL = str.maketrans({"<": "<\u2060", "\\": "\\\u2060", "{": "\u2774", "}": "\u2775"})


def srt_text(text: str) -> str:
    """Cue text that SubRip players show as written, never as formatting (see _SRT_LITERAL)."""
    return _plain(text).translate(_SRT_LITERAL).replace("-->", "--\u2060>")


def to_srt(cues: list[Cue]) -> str:
    """SubRip text for the cues (markup in the text stays literal: srt_text)."""
    blocks = []
    for n, cue in enumerate(cues, 1):
        blocks.append(f"{n}\n{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}\n{srt_text(cue.text)}\n")
    return "\n".join(blocks)


def to_vtt(cues: list[Cue]) -> str:
    """WebVTT text for the cues (cue text HTML-escaped, as the format requires)."""
    blocks = ["WEBVTT\n"]
    for cue in cues:
        text = html.escape(_plain(cue.text), quote=False)
        blocks.append(f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}\n{text}\n")
    return "\n".join(blocks)


def ass_escape(text: str) -> str:
    """Make text literal for libass: no override blocks, no backslash codes; newlines become \\N."""
    text = text.replace("\\", "\\\u2060")  # a word joiner after a backslash keeps '\N' and friends literal
    text = text.replace("{", "\\{").replace("}", "\\}")
    return "\\N".join(_plain(text).splitlines())


def _ass_clock(seconds: float) -> str:
    return _clock(seconds, ".", centis=True)


def karaoke_text(cue: Cue) -> str:
    """ASS text whose words light up as they are spoken (\\k tags), keeping the cue's line breaks."""
    line_lengths = [len(line.split()) for line in cue.text.splitlines()]
    words = cue.words
    if sum(line_lengths) != len(words):
        return ass_escape(cue.text)
    parts = []
    lead = round((words[0].start - cue.start) * 100)
    if lead > 0:
        parts.append(f"{{\\k{lead}}}")
    breaks = set()
    total = 0
    for n in line_lengths[:-1]:
        total += n
        breaks.add(total)
    for i, word in enumerate(words):
        until = words[i + 1].start if i + 1 < len(words) else word.end
        centis = max(1, round((until - word.start) * 100))
        sep = "" if i == 0 else ("\\N" if i in breaks else " ")
        parts.append(f"{sep}{{\\k{centis}}}{ass_escape(word.text)}")
    return "".join(parts)


def to_ass(cues: list[Cue], width: int, height: int, font: str = "DejaVu Sans", highlight_words: bool = True) -> str:
    """An ASS script with one readable style: bold text on a soft dark box, inside the safe area."""
    short = min(width, height)
    size = round(short * (0.052 if width >= height else 0.05))
    margin_v = round(height * (0.07 if width >= height else 0.12))
    margin_h = round(width * 0.08)
    header = (
        "[Script Info]\nScriptType: v4.00+\nWrapStyle: 2\nScaledBorderAndShadow: yes\n"
        f"PlayResX: {width}\nPlayResY: {height}\n\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
        "MarginR, MarginV, Encoding\n"
        f"Style: Caption,{font},{size},&H0066E0FF,&H00FFFFFF,&H70000000,&H70000000,-1,0,0,0,100,100,0,0,3,"
        f"{max(4, size // 4)},0,2,{margin_h},{margin_h},{margin_v},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    events = [f"Dialogue: 0,{_ass_clock(c.start)},{_ass_clock(c.end)},Caption,,0,0,0,,"
              f"{karaoke_text(c) if highlight_words and c.words else ass_escape(c.text)}" for c in cues]
    return header + "\n".join(events) + "\n"
