"""The ``offline`` text screen (the default): our topic lists with context rules, and better-profanity's word list,
looked up word by word in a tokenised text. No network, no model; under a millisecond for an 80-word scene.

better-profanity's own ``censor()`` scans its whole list for every word (about 200 ms for an 80-word scene here,
benchmarks/screening.py), so its word list is read once and looked up in a dictionary instead; the list is
credited as better-profanity's."""
from __future__ import annotations

import re
from typing import ClassVar

from .audience import AUDIENCES, Audience, audience_of, level_rank
from .screen import Screen
from .topics import NONE, Lexicon, Term, Token, lexicon, phrase_at, tokenize
from .verdict import Finding, Verdict, mask

SCREEN = "offline"
AUDIENCE_WORDS = frozenset({"for", "aimed", "suitable"})  # "a story for kids" names the audience, not a child


class OfflineScreen(Screen):
    """Word lists with context rules: 'killer whale' and 'battle of the bands' pass, 'kill myself' is self-harm."""

    name: ClassVar[str] = SCREEN
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "topic lists with context rules and better-profanity's word list; no network"
    requires: ClassVar[tuple[str, ...]] = ("better_profanity",)
    credits: ClassVar[tuple[str, ...]] = ("Profanity word list from better-profanity (MIT licence)",)

    def check(self, text: str, audience: Audience) -> Verdict:
        """The verdict on text for the audience."""
        judged_for = audience if audience in AUDIENCES else audience_of(audience)
        return Verdict.judge(judged_for, find(text), (self.name,))


def find(text: str) -> list[Finding]:
    """Everything the lists find in text, whatever the audience."""
    lex = lexicon()
    tokens = tokenize(text)
    with_children = _sentences_naming_children(tokens, lex)
    found: list[Finding] = []
    i = 0
    while i < len(tokens):
        match = _longest_match(tokens, i, lex)
        if match is None:
            i += 1
            continue
        term, end = match
        category, level = _judge(term, tokens, i, end, with_children)
        if level != NONE:
            found.append(Finding(category, level, mask(" ".join(t.text for t in tokens[i:end])), SCREEN))
        i = end
    return found + _pattern_findings(tokens, lex)


def _longest_match(tokens: list[Token], i: int, lex: Lexicon) -> tuple[Term, int] | None:
    """The longest term that starts at tokens[i], and where it ends."""
    token = tokens[i]
    if token.stop:
        return None
    best: tuple[Term, int] | None = None
    for form in (*token.forms, *_starred(token, lex)):
        for term in lex.terms.get(form, ()):
            end = i + len(term.phrase)
            if best is not None and end - i <= best[1] - i:
                break  # terms are sorted longest first: nothing longer follows for this form
            if term.lower_only and token.capital:
                continue
            if len(term.phrase) == 1 or phrase_at(tokens, term.phrase[1:], i + 1):
                best = (term, end)
                break
    return best


def _starred(token: Token, lex: Lexicon) -> list[str]:
    """The one-word terms a word written with '*' can stand for (f*ck, sh*t)."""
    if "*" not in token.text:
        return []
    pattern = re.compile(re.escape(token.text).replace(r"\*", "[a-z]"))
    return [word for word in lex.by_length.get(len(token.text), ()) if pattern.fullmatch(word)]


def _judge(term: Term, tokens: list[Token], start: int, end: int, with_children: set[int]) -> tuple[str, str]:
    """The term's category and level where it stands: the first context rule that applies, then the level it
    has when a child is named in the same sentence."""
    category, level = term.category, term.level
    for context in term.contexts:
        if context.applies(tokens, start, end):
            category, level = context.category or category, context.level
            break
    upgrade = term.with_minors
    if (upgrade and level not in (NONE, "mild") and tokens[start].sentence in with_children
            and level_rank(level) < level_rank(upgrade)):
        level = upgrade
    return category, level


def _sentences_naming_children(tokens: list[Token], lex: Lexicon) -> set[int]:
    """The sentences that name a child (not counting 'a story for kids', which names the audience)."""
    sentences: set[int] = set()
    for i, token in enumerate(tokens):
        if token.stop or token.sentence in sentences:
            continue
        for phrase in lex.minors.get(token.text, ()):
            if phrase_at(tokens, phrase, i) and not _names_audience(tokens, i):
                sentences.add(token.sentence)
                break
    return sentences


def _names_audience(tokens: list[Token], i: int) -> bool:
    """Whether the word for children at i follows 'for' (a story for kids, for young children)."""
    return any(t.text in AUDIENCE_WORDS for t in tokens[max(0, i - 2):i] if not t.stop)


def _pattern_findings(tokens: list[Token], lex: Lexicon) -> list[Finding]:
    """What the patterns (calls to hate a group) find in the text's words joined by spaces."""
    joined = " ".join(t.text for t in tokens)
    found = []
    for pattern in lex.patterns:
        match = pattern.regex.search(joined)
        if match:
            found.append(Finding(pattern.category, pattern.level, mask(" ".join(match.group(0).split()[:3])) + " …",
                                 SCREEN))
    return found
