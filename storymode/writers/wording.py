"""Rules on a scene's wording that every writer shares: how long a scene may be, and what counts as one sentence
when the writers check that no sentence is said twice."""
from __future__ import annotations

import re

# words per scene when the request does not set words_per_scene
PLANNER_WORDS = (25, 70)  # what the planner writes, and what its polish may leave
MODEL_WORDS = (25, 120)  # what a language model's scene may have before it is asked again

_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


def planner_word_range(words_per_scene: int | None) -> tuple[int, int]:
    """The planner's words per scene: PLANNER_WORDS, or 3/4 to about 4/3 of words_per_scene when it is set."""
    if not words_per_scene:
        return PLANNER_WORDS
    return max(8, round(words_per_scene * 0.75)), max(round(words_per_scene * 1.3), words_per_scene + 8)


def model_word_range(words_per_scene: int | None) -> tuple[int, int]:
    """A language model's acceptable words per scene: MODEL_WORDS, or half to twice words_per_scene when set."""
    if not words_per_scene:
        return MODEL_WORDS
    return max(8, words_per_scene // 2), words_per_scene * 2


def sentence_key(sentence: str) -> str:
    """A sentence as the repeat checks compare it: lower case, punctuation dropped."""
    return re.sub(r"[^\w ]+", "", sentence.lower()).strip()


def sentences(text: str) -> list[str]:
    """Sentence fragments of a text, split after . ! ? (empty and punctuation-only fragments dropped)."""
    return [s.strip() for s in _SENTENCE.findall(text) if sentence_key(s)]
