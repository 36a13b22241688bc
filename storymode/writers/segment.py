"""The user's own text cut into scenes, word for word, with attributed quotes turned into character lines.

The word-for-word rule: join every line's text in order with single spaces, and you get the input text after
(1) control characters are dropped (storymode.story.clean_text), (2) the two quote marks of each *attributed*
quote are replaced by a space, and (3) runs of whitespace are collapsed to one space and the ends trimmed.
Unattributed quotes keep their marks and stay in narrator lines. Quote marks are “ ” and " (never ' or ’, which
are apostrophes far more often). A quote is attributed when its sentence names a speaker with a speech verb:
"said Pip", "Pip said", "asked Pip", "Pip asked" (also replied, cried, shouted, whispered, called, answered,
exclaimed, yelled, added); the line's text is the quote's inner words with their own punctuation ("I can fly,").
Scenes are cut only between sentences (preferring paragraph breaks), balanced by word count. In Markdown, every
heading starts a new scene and its words (without the # marks, which are dropped under rule (1)) are narrated.
"""
from __future__ import annotations

import re

from ..errors import UsageError
from ..story import NARRATOR, Brief, Character, Line, Scene, Story, clean_text, slug
from .prompt_parse import PROP_WORDS, SETTING_WORDS, title_case

LINE_MAX = 2000
LINES_MAX = 60
CAST_MAX = 20
_VERBS = "said|says|asked|asks|replied|cried|shouted|whispered|called|answered|exclaimed|yelled|added|sang|laughed"
_NAME = r"([A-Z][\w'’-]*(?:\s[A-Z][\w'’-]*)?)"
_SAID_NAME = re.compile(rf"\b(?:{_VERBS})\s+{_NAME}")
_NAME_SAID = re.compile(rf"{_NAME}\s+(?:{_VERBS})\b")
_NOT_NAMES = set("He She They It I We You The A An Then And But So His Her Their Its One Everyone Nobody Someone "
                 "Mother Father Mum Mom Dad This That There Who What When Where Why How Yes No Oh".split())
_QUOTE = re.compile(r"“([^”]*)”|\"([^\"]*)\"")
_ABBREV = set("mr mrs ms dr st mt jr sr vs etc e.g i.e prof capt".split())
_OPENERS = "\"“([‘'"
_TIME_WORDS = {"night": "night", "midnight": "night", "moon": "night", "moonlight": "night", "stars": "night",
               "dark": "night", "evening": "dusk", "dusk": "dusk", "sunset": "dusk", "twilight": "dusk",
               "dawn": "dawn", "sunrise": "dawn", "morning": "dawn"}
_WEATHER_WORDS = {"rain": "rain", "raining": "rain", "rainy": "rain", "storm": "rain", "snow": "snow",
                  "snowing": "snow", "snowflakes": "snow", "wind": "wind", "windy": "wind", "fog": "fog",
                  "foggy": "fog", "mist": "fog", "misty": "fog", "cloud": "clouds", "clouds": "clouds", "cloudy": "clouds"}
_MOOD_WORDS = {"happy": "joyful", "laughed": "joyful", "joy": "joyful", "sad": "sad", "cried": "sad", "tears": "sad",
               "afraid": "tense", "scared": "tense", "frightened": "tense", "danger": "tense", "sleepy": "sleepy",
               "asleep": "sleepy", "wonder": "wonder", "magic": "wonder", "angry": "tense"}


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph (whitespace collapsed); never splits inside a quote or after 'Mr.'."""
    tokens = paragraph.split()
    out, cur, depth_curly, straight = [], [], 0, 0
    for i, tok in enumerate(tokens):
        cur.append(tok)
        depth_curly += tok.count("“") - tok.count("”")
        straight += tok.count('"')
        inside = depth_curly > 0 or straight % 2 == 1
        core = tok.rstrip("\"”’')]")
        if inside or not core or core[-1] not in ".!?…":
            continue
        if core[:-1].lower().rstrip(".") in _ABBREV:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if nxt and not (nxt[0].isupper() or nxt[0].isdigit() or nxt[0] in _OPENERS or not nxt[0].isalpha()):
            continue
        out.append(" ".join(cur))
        cur = []
    if cur:
        out.append(" ".join(cur))
    return out


def speaker_name(sentence: str) -> str | None:
    """The name a speech verb attributes the sentence's quotes to, if any ('said Pip' -> 'Pip')."""
    if not _QUOTE.search(sentence):
        return None
    outside = _QUOTE.sub(" ", sentence)
    for rx in (_SAID_NAME, _NAME_SAID):
        for m in rx.finditer(outside):
            name = m.group(1).strip()
            first = name.split()[0]
            if first in _NOT_NAMES:
                continue
            if len(name.split()) == 2 and name.split()[1] in _NOT_NAMES:
                name = first
            return name
    return None


def sentence_parts(sentence: str, speaker: str | None) -> list[tuple[str, str]]:
    """(speaker id or narrator, text) pieces of one sentence; quotes go to speaker when there is one."""
    if speaker is None:
        return [(NARRATOR, sentence)]
    parts, pos = [], 0
    for m in _QUOTE.finditer(sentence):
        inner = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
        if not inner:
            continue
        before = sentence[pos:m.start()].strip()
        if before:
            parts.append((NARRATOR, before))
        parts.append((speaker, " ".join(inner.split())))
        pos = m.end()
    tail = sentence[pos:].strip()
    if tail:
        parts.append((NARRATOR, tail))
    return parts


def balance(weights: list[int], breaks: set[int], n: int) -> list[int]:
    """Cut points (indices into weights) making n groups of near-equal weight, preferring the given breaks."""
    m = len(weights)
    n = max(1, min(n, m))
    total = sum(weights) or 1
    cum = [0]
    for w in weights:
        cum.append(cum[-1] + w)
    avg = total / n
    cuts, prev = [], 0
    for k in range(1, n):
        target = k * total / n
        lo, hi = prev + 1, m - (n - k)
        best, best_cost = lo, float("inf")
        for j in range(lo, hi + 1):
            cost = abs(cum[j] - target) - (0.3 * avg if j in breaks else 0.0)
            if cost < best_cost:
                best, best_cost = j, cost
            if cum[j] - target > avg:
                break
        cuts.append(best)
        prev = best
    return cuts


def _chunk(text: str) -> list[str]:
    """Text in pieces of at most LINE_MAX characters, cut at spaces."""
    out = []
    while len(text) > LINE_MAX:
        cut = text.rfind(" ", 0, LINE_MAX)
        cut = cut if cut > 0 else LINE_MAX
        out.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        out.append(text)
    return out


def _fit_lines(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Merge neighbouring narrator parts and chunk long ones so a scene has at most LINES_MAX lines."""
    merged: list[tuple[str, str]] = []
    for who, text in parts:
        if merged and who == merged[-1][0] and (len(parts) > LINES_MAX or who != NARRATOR) \
                and len(merged[-1][1]) + len(text) < LINE_MAX:
            merged[-1] = (who, merged[-1][1] + " " + text)
        else:
            merged.append((who, text))
    out = [(who, piece) for who, text in merged for piece in _chunk(text)]
    if len(out) > LINES_MAX:  # too many speakers: fall back to plain narration, quotes dropped as speech
        joined = " ".join(t for _, t in out)
        out = [(NARRATOR, piece) for piece in _chunk(joined)]
    return out


def _title(request_prompt: str, words: list[str]) -> str:
    hint = clean_text(request_prompt or "").strip()
    if hint:
        hint = re.sub(r"[_\-]+", " ", hint)
        hint = re.sub(r"\s+", " ", hint).strip()
        if hint and hint == hint.lower():
            hint = title_case(hint)
    if not hint:
        hint = " ".join(words[:6]).rstrip(".,;:!?")
    return (hint or "Untitled")[:200]


def _brief(text: str, cast: list[Character]) -> Brief:
    words = re.findall(r"[^\W\d_]+", text.lower())
    setting = next((SETTING_WORDS[w] for w in words if w in SETTING_WORDS and w not in ("fly", "flying")), "meadow")
    time = next((_TIME_WORDS[w] for w in words if w in _TIME_WORDS), "day")
    weather = next((_WEATHER_WORDS[w] for w in words if w in _WEATHER_WORDS), "clear")
    mood = next((_MOOD_WORDS[w] for w in words if w in _MOOD_WORDS), "calm")
    who = [c.id for c in cast if re.search(rf"(?<!\w){re.escape(c.name)}(?!\w)", text)]
    props = list(dict.fromkeys(w for w in words if w in PROP_WORDS))[:5]
    first = text.split()[:14]
    return Brief(setting=setting, time_of_day=time, weather=weather, characters=who,
                 action=" ".join(first)[:400], props=props, mood=mood)


_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$")


def markdown_sections(text: str) -> list[str]:
    """The text cut before every Markdown heading; a heading's words (without its #) open its section."""
    sections: list[list[str]] = [[]]
    for line in text.split("\n"):
        heading = _HEADING.match(line)
        if heading:
            sections.append([heading.group(1), ""])  # the heading is a paragraph of its own
        else:
            sections[-1].append(line)
    return [s for s in ("\n".join(lines) for lines in sections) if s.strip()]


def _scene_bounds(weights: list[int], breaks: set[int], sections: list[int], n: int) -> list[int]:
    """Scene boundaries: every section (a Markdown heading) starts a scene; n scenes shared out by words."""
    starts = sorted(set(sections) | {0})
    ends = [*starts[1:], len(weights)]
    if len(starts) >= n:
        return [*starts, len(weights)]
    words = [sum(weights[a:b]) or 1 for a, b in zip(starts, ends)]
    share = [1] * len(starts)
    for _ in range(n - len(starts)):  # give each extra scene to the section with the most words per scene
        k = max(range(len(starts)), key=lambda i: (words[i] / share[i]) if share[i] < ends[i] - starts[i] else -1)
        share[k] += 1
    bounds = []
    for a, b, count in zip(starts, ends, share):
        inner = {j - a for j in breaks if a < j < b}
        bounds += [a] + [a + c for c in balance(weights[a:b], inner, count)]
    return [*bounds, len(weights)]


def segment_text(text: str, request) -> Story:
    """The user's text as a Story of request.scenes scenes (fewer if it has fewer sentences), word for word."""
    cleaned = clean_text(text or "")
    if not cleaned.strip():
        raise UsageError("the text is empty: give some words to turn into a story")
    sents, breaks, sections = [], set(), []
    for section in markdown_sections(cleaned):
        sections.append(len(sents))
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", section) if p.strip()]
        for para in paragraphs:
            if sents:
                breaks.add(len(sents))
            sents.extend(split_sentences(para))
    names = [speaker_name(s) for s in sents]
    cast: list[Character] = []
    by_name: dict[str, str] = {}
    for name in names:
        if name and name not in by_name and len(cast) < CAST_MAX:
            cid = slug(name, "speaker")
            if cid == NARRATOR:
                cid = "narrator-char"
            while cid in {c.id for c in cast}:
                cid = (cid[:36] + "-" + str(len(cast)))
            by_name[name] = cid
            cast.append(Character(id=cid, name=name[:80], kind="character", description=""))
    bounds = _scene_bounds([len(s.split()) for s in sents], breaks, sections, request.scenes)
    scenes = []
    for i in range(len(bounds) - 1):
        group = list(range(bounds[i], bounds[i + 1]))
        parts = []
        for j in group:
            parts += sentence_parts(sents[j], by_name.get(names[j]) if names[j] else None)
        lines = _fit_lines(parts)
        scene_text = " ".join(sents[j] for j in group)
        scenes.append(Scene(id=f"s{i + 1:03d}", lines=[Line(speaker=w, text=t) for w, t in lines],
                            brief=_brief(scene_text, cast)))
    return Story(title=_title(request.prompt, cleaned.split()), prompt=request.prompt, audience=request.audience,
                 style=request.style, seed=request.seed, characters=cast, scenes=scenes)
