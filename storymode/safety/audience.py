"""Who a story is for, and which levels of content each audience allows.

Every finding a screen makes has a level: ``mild`` (fine for kids: peril, a storm, a fight in play), ``moderate``
(teens: killing, blood, guns, war, alcohol, crude words), ``strong`` (adults: murder, gore, explicit sex, drug use,
strong swearing, suicide as a theme) or ``never`` (refused for everyone)."""
from __future__ import annotations

from typing import Literal

Audience = Literal["kids", "teens", "adults"]
AUDIENCES: tuple[Audience, ...] = ("kids", "teens", "adults")  # strictest first
LEVELS = ("mild", "moderate", "strong", "never")  # weakest first

_ALLOWED: dict[str, frozenset[str]] = {
    "kids": frozenset({"mild"}),
    "teens": frozenset({"mild", "moderate"}),
    "adults": frozenset({"mild", "moderate", "strong"}),
}

_ALIASES: dict[str, Audience] = {
    **dict.fromkeys(("kid", "kids", "children", "child", "family", "all ages", "all-ages", "everyone"), "kids"),
    **dict.fromkeys(("teen", "teens", "teenager", "teenagers", "young adult", "young adults", "young-adult", "ya"),
                    "teens"),
    **dict.fromkeys(("adult", "adults", "grown-up", "grown-ups", "grownup", "grownups", "mature"), "adults"),
}


def audience_of(value: str) -> Audience:
    """The audience a name means (kid, family, ya, grown-ups ...); anything unknown is kids, the strictest."""
    key = " ".join(str(value).strip().lower().replace("_", " ").split())
    return _ALIASES.get(key, "kids")


def allows(audience: Audience, level: str) -> bool:
    """Whether content of this level is for this audience (``never`` is for no one)."""
    return level in _ALLOWED[audience]


def lowest_audience_for(levels: set[str] | frozenset[str]) -> Audience | None:
    """The strictest audience that allows every one of these levels, or None when one is ``never``."""
    for audience in AUDIENCES:
        if all(allows(audience, level) for level in levels):
            return audience
    return None


def level_rank(level: str) -> int:
    """0 for mild up to 3 for never (to compare levels)."""
    return LEVELS.index(level)
