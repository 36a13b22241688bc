"""The offline screen's vocabulary, kept as data: our topic lists (``storymode/safety/lists/*.toml``, one per
category) and better-profanity's word list (read from its package, never imported), compiled once into a lexicon
that a tokenised text is looked up in.

A list file holds terms, each with a level, the forms to match (a verb or noun is inflected: kill, kills, killed,
killing) and context rules that change the level by the words next to it ("killer whale" is no violence, "kill
myself" is self-harm). A term of level ``none`` is an innocent phrase: matched first, it hides the words inside it
("battle of the bands"). Words that are slurs are stored ROT13-encoded, so that the files do not show them."""
from __future__ import annotations

import codecs
import functools
import importlib.util
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .audience import LEVELS
from .verdict import CATEGORIES

LISTS = Path(__file__).resolve().parent / "lists"
PROFANITY_PACKAGE = "better_profanity"
PROFANITY_FILE = "profanity_wordlist.txt"
NONE = "none"  # the level of an innocent phrase
ANY = "*"  # in a phrase: any one word

Phrase = tuple[str, ...]

# ---------------------------------------------------------------- tokens
_WORD = re.compile(r"[a-z0-9@$]+(?:[*!+]+[a-z0-9@$]+)*(?:'[a-z]+)*|[.!?;]+(?=\s|$|[\"'”’)])")
_LEET = str.maketrans({"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "+": "t"})
_OBFUSCATED = re.compile(r"[0-9@$*!+]")
_REPEAT = re.compile(r"(.)\1{2,}")
_STOPS = frozenset(".!?;")


class Token(NamedTuple):
    """One word of a text (or a sentence stop, '.'), with the forms it is looked up by."""

    text: str  # lower case, possessive 's dropped
    forms: tuple[str, ...]  # text first, then its de-obfuscated readings (sh1t -> shit, fuuuck -> fuck)
    capital: bool  # written with a capital letter (a name, when the term says so)
    sentence: int
    stop: bool  # a sentence stop


def tokenize(text: str) -> list[Token]:
    """The words of text, lower-cased, with sentence stops as '.' tokens; runs of single letters (f.u.c.k, s-h-i-t)
    are read as one word."""
    lowered = text.replace("’", "'").lower()
    # the readings of obfuscated words are looked for only in a text that has some (most have none)
    obfuscated, repeated = bool(_OBFUSCATED.search(lowered)), bool(_REPEAT.search(lowered))
    tokens: list[Token] = []
    sentence = 0
    for word, start in _merge_spelled([(m.group(0), m.start()) for m in _WORD.finditer(lowered)]):
        if word[0] in _STOPS:
            tokens.append(Token(".", (".",), False, sentence, True))
            sentence += 1
            continue
        word = word.removesuffix("'s")
        forms = _forms(word) if (obfuscated or repeated) else (word,)
        tokens.append(Token(word, forms, text[start:start + 1].isupper(), sentence, False))
    return tokens


def _merge_spelled(raw: list[tuple[str, int]]) -> Iterator[tuple[str, int]]:
    """Words with runs of three or more one-letter words joined (f u c k -> fuck)."""
    i = 0
    while i < len(raw):
        if len(raw[i][0]) == 1 and raw[i][0].isalpha():
            j = i
            while j < len(raw) and len(raw[j][0]) == 1 and raw[j][0].isalpha():
                j += 1
            if j - i >= 3:
                yield "".join(w for w, _ in raw[i:j]), raw[i][1]
                i = j
                continue
        yield raw[i]
        i += 1


def _forms(word: str) -> tuple[str, ...]:
    """word, then how it reads with look-alike characters replaced and long letter runs shortened."""
    forms = [word]
    if _OBFUSCATED.search(word) and any(c.isalpha() for c in word) and not word.isdigit():
        plain = word.translate(_LEET)
        forms += [plain, plain.replace("1", "i"), plain.replace("1", "l")]
    if _REPEAT.search(word):
        forms += [_REPEAT.sub(r"\1", word), _REPEAT.sub(r"\1\1", word)]
    return tuple(dict.fromkeys(forms))


def phrase_of(text: str) -> Phrase:
    """A phrase as the tokeniser splits it ('knock 'em dead' -> knock, em, dead); '*' stays a wildcard."""
    words: list[str] = []
    for part in text.split():
        words += [ANY] if part == ANY else [t.text for t in tokenize(part) if not t.stop]
    return tuple(words)


# ---------------------------------------------------------------- inflection
_VOWELS = set("aeiou")


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if len(word) > 2 and word.endswith("y") and word[-2] not in _VOWELS:
        return word[:-1] + "ies"
    return word + "s"


def _doubles(word: str) -> bool:
    """Whether the last consonant doubles before -ed/-ing (stab -> stabbed): one syllable ending
    consonant-vowel-consonant."""
    syllables = len(re.findall(r"[aeiouy]+", word))
    return (len(word) >= 3 and syllables == 1 and word[-1] not in _VOWELS | set("wxy")
            and word[-2] in _VOWELS and word[-3] not in _VOWELS)


def _verb_forms(word: str) -> list[str]:
    if word.endswith("ie"):
        return [word, word + "s", word + "d", word[:-2] + "ying"]
    if word.endswith("e"):
        stem = word if word.endswith("ee") else word[:-1]
        return [word, word + "s", word + "d", stem + "ing"]
    if len(word) > 2 and word.endswith("y") and word[-2] not in _VOWELS:
        return [word, word[:-1] + "ies", word[:-1] + "ied", word + "ing"]
    stem = word + word[-1] if _doubles(word) else word
    return [word, _plural(word), stem + "ed", stem + "ing"]


def inflect(phrase: Phrase, kind: str) -> list[Phrase]:
    """The phrase's forms: a verb's first word (kill -> kills, killed, killing), a noun's last word (plural)."""
    if kind == "verb":
        return [(form, *phrase[1:]) for form in _verb_forms(phrase[0])]
    if kind == "noun":
        return [phrase, (*phrase[:-1], _plural(phrase[-1]))]
    return [phrase]


# ---------------------------------------------------------------- the lexicon
@dataclass(frozen=True)
class Context:
    """A rule that changes a term's level (or category) when one of its phrases is next to it."""

    after: tuple[Phrase, ...]  # starting within `window` words after the term
    before: tuple[Phrase, ...]  # ending within `window` words before it
    inside: frozenset[str]  # words within the term itself (what a '*' of its phrase matched)
    window: int
    level: str
    category: str | None

    def applies(self, tokens: list[Token], start: int, end: int) -> bool:
        """Whether a phrase of this rule is next to the term at tokens[start:end] (in the same sentence)."""
        return (any(phrase_at(tokens, p, pos) for p in self.after for pos in _following(tokens, end, self.window))
                or any(phrase_at(tokens, p, pos - len(p) + 1) for p in self.before
                       for pos in _preceding(tokens, start, self.window))
                or any(t.text in self.inside for t in tokens[start:end]))


@dataclass(frozen=True)
class Term:
    """A phrase to find, what it is, and the rules that change that by its neighbours."""

    phrase: Phrase
    category: str
    level: str
    contexts: tuple[Context, ...] = ()
    lower_only: bool = False  # written with a capital it is a name (Dick, Woody): ignored
    with_minors: str | None = None  # its level when a child is named in the same sentence


@dataclass(frozen=True)
class Pattern:
    """A regular expression over the text's words joined by single spaces (for calls to hate a group)."""

    regex: re.Pattern[str]
    category: str
    level: str


@dataclass(frozen=True)
class Lexicon:
    """Everything the offline screen looks up, compiled."""

    terms: dict[str, tuple[Term, ...]]  # by first word, longest phrase first
    minors: dict[str, tuple[Phrase, ...]]  # words that name a child, by first word
    patterns: tuple[Pattern, ...]
    by_length: dict[int, tuple[str, ...]]  # one-word terms by length, for a word written with '*' (f*ck)


def _following(tokens: list[Token], end: int, window: int) -> range:
    stop = end
    while stop < len(tokens) and stop < end + window and not tokens[stop].stop:
        stop += 1
    return range(end, stop)


def _preceding(tokens: list[Token], start: int, window: int) -> range:
    first = start
    while first > 0 and first > start - window and not tokens[first - 1].stop:
        first -= 1
    return range(start - 1, first - 1, -1)


def phrase_at(tokens: list[Token], phrase: Phrase, pos: int) -> bool:
    """Whether tokens from pos read phrase ('*' matching any one word), within one sentence."""
    if pos < 0 or pos + len(phrase) > len(tokens):
        return False
    return all(not tok.stop and (word == ANY or word in tok.forms)
               for word, tok in zip(phrase, tokens[pos:pos + len(phrase)]))


def _phrases(values: Iterable[str], rot13: bool = False) -> tuple[Phrase, ...]:
    return tuple(phrase_of(codecs.decode(v, "rot13") if rot13 else v) for v in values)


def _context(raw: dict[str, Any], window: int) -> Context:
    unknown = set(raw) - {"after", "before", "near", "inside", "window", "level", "category"}
    if unknown:
        raise ValueError(f"unknown context keys: {', '.join(sorted(unknown))}")
    near = list(raw.get("near", ()))
    level = raw.get("level", NONE)
    _check_level(level)
    return Context(_phrases([*raw.get("after", ()), *near]), _phrases([*raw.get("before", ()), *near]),
                   frozenset(raw.get("inside", ())), int(raw.get("window", window)), level, raw.get("category"))


def _check_level(level: str) -> None:
    if level != NONE and level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")


def _terms_of(entry: dict[str, Any], category: str, file_contexts: tuple[Context, ...], window: int,
              with_minors: str | None) -> Iterator[Term]:
    """The terms one [[term]] entry of a list file makes: every form of every word."""
    level = entry["level"]
    _check_level(level)
    contexts = tuple(_context(c, int(entry.get("window", window))) for c in entry.get("contexts", ()))
    contexts += file_contexts if level != NONE and not entry.get("own_contexts_only") else ()
    rot13 = bool(entry.get("rot13"))
    forms: list[Phrase] = []
    for phrase in _phrases(entry.get("words", ()), rot13):
        forms += inflect(phrase, entry.get("inflect", "word"))
    forms += _phrases(entry.get("also", ()), rot13)
    for phrase in dict.fromkeys(forms):
        yield Term(phrase, entry.get("category", category), level, contexts, bool(entry.get("lower_only")),
                   entry.get("with_minors", with_minors))


def _list_terms(path: Path) -> tuple[list[Term], list[Pattern], dict[str, Any]]:
    """The terms and patterns of one list file, and its [better_profanity] table if it has one."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    category = data.get("category", path.stem)
    if category not in CATEGORIES and category != "people":
        raise ValueError(f"{path.name}: unknown category {category!r}")
    window = int(data.get("window", 1))
    file_contexts = tuple(_context(c, window) for c in data.get("context", ()))
    terms = [t for entry in data.get("term", ()) for t in _terms_of(entry, category, file_contexts, window,
                                                                    data.get("with_minors"))]
    patterns = [Pattern(re.compile(p["regex"].replace("{group}", _group_regex()), re.ASCII),
                        p.get("category", category), p["level"]) for p in data.get("pattern", ())]
    return terms, patterns, data.get("better_profanity", {})


@functools.lru_cache(maxsize=1)
def _people() -> dict[str, Any]:
    return tomllib.loads((LISTS / "people.toml").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _group_regex() -> str:
    """The groups of people a call to hate names, as one regex alternative (longest first)."""
    names = sorted({" ".join(phrase_of(g)) for g in _people()["groups"]}, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(n) for n in names) + ")"


def _minor_phrases() -> list[Phrase]:
    """Words that name a child: the list's, and every age under 18 ('14 year old', 'nine-year-olds')."""
    people = _people()
    numbers = [str(n) for n in range(1, 18)] + list(people["number_words"])
    ages = [f"{n} {unit}" for n in numbers for unit in ("year old", "years old", "year olds", "yr old", "yo")]
    ages += [f"aged {n}" for n in numbers] + [f"age {n}" for n in numbers]
    return [phrase_of(p) for p in (*people["minors"], *ages)]


def profanity_words() -> list[str]:
    """better-profanity's word list (read from its package folder; the package itself is not imported)."""
    spec = importlib.util.find_spec(PROFANITY_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("better-profanity is not installed: pip install better-profanity")
    path = Path(next(iter(spec.submodule_search_locations))) / PROFANITY_FILE
    return [line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _profanity_terms(table: dict[str, Any], known: set[Phrase]) -> list[Term]:
    """better-profanity's words as terms: each in the category and level our table gives it (default: strong
    profanity), less those it ignores and those a topic list already has."""
    ignored = set(_phrases(table.get("ignore", ()))) | set(_phrases(table.get("ignore_rot13", ()), rot13=True))
    assigned: dict[Phrase, tuple[str, str]] = {}
    for group in table.get("as", ()):
        for phrase in (*_phrases(group.get("words", ())), *_phrases(group.get("rot13", ()), rot13=True)):
            assigned[phrase] = (group["category"], group["level"])
    default = (table.get("category", "profanity"), table.get("level", "strong"))
    terms = []
    for word in profanity_words():
        phrase = phrase_of(word.translate(_LEET).replace("1", "i") if _OBFUSCATED.search(word) else word)
        if not phrase or phrase in ignored or phrase in known:
            continue
        category, level = assigned.get(phrase, default)
        terms.append(Term(phrase, category, level))
    return terms


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The compiled lexicon (built once, on first use)."""
    terms: list[Term] = []
    patterns: list[Pattern] = []
    profanity_table: dict[str, Any] = {}
    for path in sorted(LISTS.glob("*.toml")):
        if path.stem == "people":
            continue
        found, found_patterns, table = _list_terms(path)
        terms += found
        patterns += found_patterns
        profanity_table = table or profanity_table
    own = {t.phrase for t in terms}
    terms += _profanity_terms(profanity_table, own)
    return Lexicon(_index(terms), _index_phrases(_minor_phrases()), tuple(patterns), _by_length(terms))


def _index(terms: list[Term]) -> dict[str, tuple[Term, ...]]:
    """Terms by first word, the longest phrase first; a later term with the same phrase is dropped."""
    seen: dict[Phrase, Term] = {}
    for term in terms:
        seen.setdefault(term.phrase, term)
    index: dict[str, list[Term]] = {}
    for term in seen.values():
        index.setdefault(term.phrase[0], []).append(term)
    return {word: tuple(sorted(group, key=lambda t: -len(t.phrase))) for word, group in index.items()}


def _index_phrases(phrases: list[Phrase]) -> dict[str, tuple[Phrase, ...]]:
    index: dict[str, list[Phrase]] = {}
    for phrase in dict.fromkeys(phrases):
        index.setdefault(phrase[0], []).append(phrase)
    return {word: tuple(sorted(group, key=len, reverse=True)) for word, group in index.items()}


def _by_length(terms: list[Term]) -> dict[int, tuple[str, ...]]:
    lengths: dict[int, set[str]] = {}
    for term in terms:
        if len(term.phrase) == 1 and term.level != NONE:
            lengths.setdefault(len(term.phrase[0]), set()).add(term.phrase[0])
    return {n: tuple(sorted(words)) for n, words in lengths.items()}
