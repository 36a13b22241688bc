"""The user's own text cut into scenes, word for word, with attributed quotes turned into character lines.

The word-for-word rule: join every line's text in order with single spaces, and you get the input text after
(1) control characters are dropped (storymode.story.clean_text), (2) the two quote marks of each *attributed*
quote are replaced by a space, and (3) runs of whitespace are collapsed to one space and the ends trimmed.
Unattributed quotes keep their marks and stay in narrator lines. Quote marks are “ ” and " (never ' or ’, which
are apostrophes far more often). Who says each quote is decided by storymode.understanding.text (a speech verb
and its subject, pronouns, the character acting just before, turn-taking); the line's text is the quote's inner
words with their own punctuation ("I can fly,").
Scenes are cut only between sentences (preferring paragraph breaks), balanced by word count. In Markdown, every
heading starts a new scene and its words (without the # marks, which are dropped under rule (1)) are narrated.
"""
from __future__ import annotations

import re

from ..errors import UsageError
from ..story import NARRATOR, Brief, Character, Line, Scene, Story, clean_text
from ..understanding.vocabulary import PROP_WORDS
from .planner.prompt_parse import title_case

LINE_MAX = 2000
LINES_MAX = 60
_QUOTE = re.compile(r"“([^”]*)”|\"([^\"]*)\"")
_ABBREV = set("mr mrs ms dr st mt jr sr vs etc e.g i.e prof capt".split())
_OPENERS = "\"“([‘'"
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


def sentence_parts(sentence: str, speakers: dict[int, str]) -> list[tuple[str, str]]:
    """(speaker id or narrator, text) pieces of one sentence: each attributed quote (by its index in the sentence)
    goes to its speaker without its marks; an unattributed quote keeps its marks in the narration."""
    if not speakers:
        return [(NARRATOR, sentence)]
    parts, pos, pending = [], 0, ""
    for qi, m in enumerate(_QUOTE.finditer(sentence)):
        inner = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
        who = speakers.get(qi)
        if not inner or who is None:
            continue
        before = sentence[pos:m.start()].strip()
        if before:
            parts.append((NARRATOR, before))
        parts.append((who, " ".join(inner.split())))
        pos = m.end()
    tail = sentence[pos:].strip()
    if tail:
        parts.append((NARRATOR, tail))
    del pending
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


def _title(request_prompt: str, cleaned: str) -> str:
    """The text's first heading (Markdown '#'), else a short first line standing alone, else the caller's hint
    (a file's name), else its first words."""
    for line in cleaned.split("\n"):
        heading = _HEADING.match(line)
        if heading:
            return clean_text(heading.group(1).strip("#* "))[:200] or "Untitled"
        if line.strip():
            break
    first, _, rest = cleaned.strip().partition("\n")
    first = first.strip().strip("#*_ ")
    if first and rest.strip() and len(first.split()) <= 10 and first[-1:] not in ".!?,;:\"”":
        return first[:200]  # a short first line standing alone is the title
    hint = clean_text(request_prompt or "").strip()
    if hint:
        hint = re.sub(r"[_\-]+", " ", hint)
        hint = re.sub(r"\s+", " ", hint).strip()
        if hint and hint == hint.lower():
            hint = title_case(hint)
        return hint[:200]
    return (" ".join(cleaned.split()[:6]).rstrip(".,;:!?") or "Untitled")[:200]


def _brief(text: str, sentence_ids: list[int], reading, previous: Brief | None, first_place: str) -> Brief:
    """The scene's picture: where the reader says it happens (staying where the last scene was until the text
    moves), its weather and time, and every character it mentions or who speaks in it."""
    score: dict[str, float] = {}
    order: dict[str, int] = {}
    for k, g in enumerate(sentence_ids):
        for setting, weight in reading.places.get(g, []):
            score[setting] = score.get(setting, 0.0) + weight
            order.setdefault(setting, k)
    moved = any(w >= 3.0 for g in sentence_ids for _, w in reading.places.get(g, []))
    if score and (previous is None or moved or max(score.values()) >= 2.0):
        setting = max(score, key=lambda s: (score[s], -order[s]))
    else:
        setting = previous.setting if previous is not None else first_place
    time = next((reading.time_of_day[g] for g in sentence_ids if g in reading.time_of_day), None)
    weather = next((reading.weather[g] for g in sentence_ids if g in reading.weather), None)
    if time is None:
        time = previous.time_of_day if previous is not None and previous.time_of_day == "night" and \
            setting == previous.setting else "day"
    if weather is None:
        weather = previous.weather if previous is not None and setting == previous.setting else "clear"
    words = re.findall(r"[^\W\d_]+", text.lower())
    mood = next((_MOOD_WORDS[w] for w in words if w in _MOOD_WORDS), "calm")
    who: list[str] = []
    for g in sentence_ids:
        for cid in reading.cast.get(g, []):
            if cid not in who:
                who.append(cid)
    setting = _trade_of(setting, who, reading)
    props = list(dict.fromkeys(w for w in words if w in PROP_WORDS))[:5]
    first = text.split()[:14]
    return Brief(setting=setting, time_of_day=time, weather=weather, characters=who[:5],
                 action=" ".join(first)[:400], props=props, mood=mood)


def _trade_of(setting: str, who: list[str], reading) -> str:  # type: ignore[no-untyped-def]
    """A plain "shop" is the shop of the trade of whoever is in it: a baker's little shop is a bakery, a
    blacksmith's a workshop (the first character in the scene with such a trade decides)."""
    from ..understanding import vocabulary as V

    if setting != "shop":
        return setting
    kinds = {p.id: p.kind for p in reading.characters}
    for cid in who:
        home = V.home_of(V.kind_of(kinds.get(cid, "")))
        if home in TRADE_SHOPS:
            return home
    return setting


TRADE_SHOPS = frozenset({"bakery", "workshop"})
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


def text_paragraphs(cleaned: str) -> tuple[list[list[str]], set[int], list[int]]:
    """(paragraphs as lists of sentences, sentence numbers that start a paragraph, sentence numbers that start a
    Markdown section) of a cleaned text; a heading is a paragraph of its own."""
    paragraphs: list[list[str]] = []
    breaks: set[int] = set()
    sections: list[int] = []
    count = 0
    for section in markdown_sections(cleaned):
        sections.append(count)
        for para in (" ".join(p.split()) for p in re.split(r"\n\s*\n", section) if p.strip()):
            if count:
                breaks.add(count)
            paragraphs.append(split_sentences(para))
            count += len(paragraphs[-1])
    return paragraphs, breaks, sections


def segment_text(text: str, request) -> Story:
    """The user's text as a Story of request.scenes scenes (fewer if it has fewer sentences), word for word,
    with its characters, each quote in its speaker's voice and each scene's setting and cast (see
    storymode.understanding.text)."""
    from ..understanding.text import read_text

    cleaned = clean_text(text or "")
    if not cleaned.strip():
        raise UsageError("the text is empty: give some words to turn into a story")
    paragraphs, breaks, sections = text_paragraphs(cleaned)
    sents = [s for para in paragraphs for s in para]
    reading = read_text(paragraphs)
    cast = [Character(id=p.id, name=p.name[:80], kind=(p.kind or "character")[:80], gender=p.gender,
                      aliases=[a[:80] for a in p.aliases[:8]], description="") for p in reading.characters]
    known = {c.id for c in cast}
    by_sentence: dict[int, dict[int, str]] = {}
    for (g, qi), who in reading.speakers.items():
        if who in known:
            by_sentence.setdefault(g, {})[qi] = who
    first_place = _first_place(reading, cast)
    bounds = _scene_bounds([len(s.split()) for s in sents], breaks, sections, request.scenes)
    scenes: list[Scene] = []
    for i in range(len(bounds) - 1):
        group = list(range(bounds[i], bounds[i + 1]))
        parts = []
        for j in group:
            parts += sentence_parts(sents[j], by_sentence.get(j, {}))
        lines = _fit_lines(parts)
        scene_text = " ".join(sents[j] for j in group)
        brief = _brief(scene_text, group, reading, scenes[-1].brief if scenes else None, first_place)
        brief = brief.model_copy(update={"characters": [c for c in brief.characters if c in known]})
        scenes.append(Scene(id=f"s{i + 1:03d}", lines=[Line(speaker=w, text=t) for w, t in lines], brief=brief))
    return Story(title=_title(request.prompt, cleaned), prompt=request.prompt, audience=request.audience,
                 style=request.style, seed=request.seed, characters=cast, scenes=scenes)


def _first_place(reading, cast: list[Character]) -> str:
    """Where the story starts when its first scene names no place: the text's most named place, else the home
    of its most mentioned character, else a meadow."""
    from ..understanding import vocabulary as V

    score: dict[str, float] = {}
    for pairs in reading.places.values():
        for setting, weight in pairs:
            score[setting] = score.get(setting, 0.0) + weight
    if score:
        return max(score, key=lambda s: score[s])
    for c in cast:
        home = V.home_of(V.kind_of(c.kind))
        if home:
            return home
    return V.FALLBACK_SETTING
