"""What a screen found in a text, judged for an audience: findings by category and level, the message a user reads
when a text is refused, the rule a language-model writer is told when it is asked again, and the record kept in
story.json. No offending word is ever kept whole: a finding holds a masked hint ('k**l')."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .audience import AUDIENCES, LEVELS, Audience, allows, level_rank, lowest_audience_for

CATEGORIES = ("violence", "sexual", "self-harm", "drugs", "hate", "profanity")

# what each audience may not have, by category, as a writer is told it
# each category as the message names it ("the prompt has sexual content (s**y)")
SAID: dict[str, str] = {"sexual": "sexual content", "profanity": "swearing"}

_RULES: dict[str, dict[str, str]] = {
    "violence": {"kids": "no killing, no blood or injuries, no weapons used on anyone, no death in battle",
                 "teens": "no murder, gore or torture",
                 "adults": ""},
    "sexual": {"kids": "no romance beyond a kiss, no nudity, nothing sexual",
               "teens": "nothing sexual beyond a kiss or a fade to black, no nudity",
               "adults": "nothing sexual involving anyone under 18"},
    "self-harm": {"kids": "nothing about hurting oneself or wanting to die",
                  "teens": "no suicide or self-harm as a theme",
                  "adults": "no instructions for self-harm and no encouragement of it"},
    "drugs": {"kids": "no alcohol, smoking or drugs",
              "teens": "no drug use",
              "adults": ""},
    "hate": {"kids": "no insults or contempt for any group of people",
             "teens": "no slurs or hate against any group",
             "adults": "no slurs and no hate or call to violence against any group"},
    "profanity": {"kids": "no swearing or rude words",
                  "teens": "no strong swearing",
                  "adults": ""},
}
# "" above: nothing of that category is refused for that audience by the built-in screens


def mask(word: str) -> str:
    """A word as a hint that never shows it whole: first and last letter kept, 'kill' -> 'k**l'; each word of a
    phrase alike; a word of one or two letters keeps only its first."""
    return " ".join(_mask_word(part) for part in word.split())


def _mask_word(word: str) -> str:
    if len(word) <= 2:
        return word[:1] + "*" * (len(word) - 1)
    return word[0] + "*" * (len(word) - 2) + word[-1]


@dataclass(frozen=True)
class Finding:
    """One thing a screen found: its category, level, a masked hint of where, and the screen that found it."""

    category: str
    level: str
    hint: str
    screen: str

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}; categories are: {', '.join(CATEGORIES)}")
        if self.level not in LEVELS:
            raise ValueError(f"unknown level {self.level!r}; levels are: {', '.join(LEVELS)}")


@dataclass(frozen=True)
class Verdict:
    """A text judged for an audience: what is not for it (blocked), what is and was recorded (allowed)."""

    audience: Audience
    blocked: tuple[Finding, ...]
    allowed: tuple[Finding, ...]
    screens: tuple[str, ...]

    @classmethod
    def judge(cls, audience: Audience, findings: Iterable[Finding], screens: Sequence[str]) -> Verdict:
        """The verdict on these findings for the audience (duplicates dropped, order kept)."""
        unique = tuple(dict.fromkeys(findings))
        return cls(audience, tuple(f for f in unique if not allows(audience, f.level)),
                   tuple(f for f in unique if allows(audience, f.level)), tuple(dict.fromkeys(screens)))

    @property
    def ok(self) -> bool:
        """True when nothing was found that is not for the audience."""
        return not self.blocked

    def blocked_categories(self) -> list[str]:
        """The categories of what is blocked, in CATEGORIES order."""
        return _categories(self.blocked)

    def message(self, what: str) -> str:
        """Why `what` ('the prompt', 'scene 3') is refused, and what to change: the categories with a masked hint,
        and the lowest audience that would allow it, if any."""
        if self.ok:
            return f"{what} is fine for {self.audience}"
        categories = self.blocked_categories()
        named = _join([f"{SAID.get(c, c)} ({', '.join(self._hints(c))})" for c in categories])
        never = [c for c in categories if any(f.level == "never" for f in self._in(c))]
        if len(never) == len(categories):
            return f"{what} has {named}, which storymode makes for no audience: change those words"
        verb = "is" if len(categories) == 1 else "are"
        text = f"{what} has {named}, which {verb} not for {self.audience}"
        if never:
            verb = "is" if len(never) == 1 else "are"
            return f"{text}, and {_join(never)} {verb} for no audience: change those words"
        return f"{text}: change those words{self._suggestion()}"

    def rule(self) -> str:
        """The rule stated to a language-model writer asked again: what this audience may not have, and what to
        leave out of the rewrite (with nothing blocked: the audience's whole rule)."""
        blocked = self.blocked_categories()
        if blocked:
            rules = [_RULES[c][self.audience] or f"no {c} content like this" for c in blocked]
            return f"This story is for {self.audience}: {'; '.join(rules)}. Rewrite without {_join(blocked)}."
        rules = [_RULES[c][self.audience] for c in CATEGORIES if _RULES[c][self.audience]]
        return f"This story is for {self.audience}: {'; '.join(rules)}."

    def record(self) -> dict:
        """What story.json keeps: the audience, the screens that ran, and the categories allowed and blocked (no
        offending words)."""
        return {"audience": self.audience, "screens": list(self.screens),
                "allowed": _categories(self.allowed), "blocked": _categories(self.blocked)}

    def _in(self, category: str) -> list[Finding]:
        return [f for f in self.blocked if f.category == category]

    def _hints(self, category: str, most: int = 2) -> list[str]:
        """Up to `most` hints for a blocked category, from its strongest findings first."""
        found = sorted(self._in(category), key=lambda f: -level_rank(f.level))
        return list(dict.fromkeys(f.hint for f in found if f.hint))[:most] or ["?"]

    def _suggestion(self) -> str:
        lowest = lowest_audience_for({f.level for f in self.blocked})
        if lowest is None:
            return ""
        looser = AUDIENCES[AUDIENCES.index(lowest) + 1:]
        return f", or choose --audience {lowest}" + (f" (or {_join(looser, 'or')})" if looser else "")


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """One verdict from several screens' verdicts on the same text for the same audience."""
    if not verdicts:
        raise ValueError("combine() needs at least one verdict")
    audiences = {v.audience for v in verdicts}
    if len(audiences) > 1:
        raise ValueError(f"verdicts for different audiences cannot be combined: {', '.join(sorted(audiences))}")
    findings = [f for v in verdicts for f in (*v.blocked, *v.allowed)]
    return Verdict.judge(verdicts[0].audience, findings, [s for v in verdicts for s in v.screens])


def _categories(findings: Iterable[Finding]) -> list[str]:
    present = {f.category for f in findings}
    return [c for c in CATEGORIES if c in present]


def _join(words: Sequence[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"
