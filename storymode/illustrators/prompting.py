"""One illustration prompt builder for every illustrator: brief + cast + style -> prompt, negative prompt, seeds.

The storybook illustrator reads ``style_preset()`` for its texture choice; model backends (diffusers) use
``build_prompt()``. Everything here is pure Python (no torch), so it is cheap to import and to test.

Token limit: CLIP text encoders read 77 tokens (start and end tokens included) and drop the rest without a
word. ``build_prompt`` counts tokens with the pipeline's tokenizer when one is given (else a conservative
word-count estimate) and, when the prompt is too long, removes the least important parts first (style extras,
mood, weather, props from the last, time of day, then words from the ends of the character descriptions and
the action), and warns with a ``PromptCutWarning`` that names exactly what was cut. Never silently.
"""
from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import UsageError
from ..story import Brief, Character

CLIP_TOKEN_LIMIT = 77


class PromptCutWarning(UserWarning):
    """An illustration prompt was longer than the text encoder reads, and parts of it were cut."""


@dataclass(frozen=True)
class StylePreset:
    """A picture style: words before and after the scene, and what to keep out of the picture."""

    name: str
    lead: str  # always kept: what kind of picture this is
    extras: str  # cut first when the prompt is too long
    negative: str
    texture: bool = True  # for the procedural illustrator: paper grain


_COMMON_NEGATIVE = "text, letters, watermark, signature, blurry, deformed, extra limbs, bad anatomy, frame, border"

STYLES: dict[str, StylePreset] = {
    "storybook": StylePreset(
        "storybook", "children's picture book illustration, soft watercolor",
        "gentle colors, warm light, whimsical",
        f"photo, realistic, dark, scary, gore, {_COMMON_NEGATIVE}"),
    "watercolor": StylePreset(
        "watercolor", "watercolor painting",
        "loose brush strokes, soft washes",
        f"photo, 3d render, hard edges, {_COMMON_NEGATIVE}"),
    "flat-vector": StylePreset(
        "flat-vector", "flat vector illustration",
        "simple shapes, bold colors, crisp edges",
        f"photo, realistic, texture, gradient noise, sketch, {_COMMON_NEGATIVE}", texture=False),
    "pencil-sketch": StylePreset(
        "pencil-sketch", "pencil sketch drawing",
        "graphite lines, cross-hatching",
        f"color, photo, 3d render, {_COMMON_NEGATIVE}"),
    "clay-3d": StylePreset(
        "clay-3d", "3d clay render, claymation figures",
        "plasticine, soft studio light, cute",
        f"photo, flat, drawing, sketch, {_COMMON_NEGATIVE}", texture=False),
    "anime": StylePreset(
        "anime", "anime illustration",
        "cel shading, vibrant colors, clean lines",
        f"photo, realistic, 3d render, western cartoon, {_COMMON_NEGATIVE}", texture=False),
    "photo": StylePreset(
        "photo", "photograph",
        "natural light, sharp focus",
        f"drawing, painting, cartoon, illustration, 3d render, {_COMMON_NEGATIVE}", texture=False),
}
_ALIASES = {
    "picture-book": "storybook", "picturebook": "storybook", "watercolour": "watercolor",
    "flat": "flat-vector", "vector": "flat-vector", "pencil": "pencil-sketch", "sketch": "pencil-sketch",
    "clay": "clay-3d", "3d-clay": "clay-3d", "3d": "clay-3d", "claymation": "clay-3d",
    "photograph": "photo", "photographic": "photo", "realistic": "photo",
}


def style_preset(style: str) -> StylePreset:
    """The preset for a style name (case, spaces and underscores do not matter); UsageError lists valid ones."""
    key = re.sub(r"[\s_]+", "-", (style or "").strip().lower())
    key = _ALIASES.get(key, key)
    if key not in STYLES:
        raise UsageError(f"unknown picture style {style!r}; choose one of: {', '.join(STYLES)} "
                         f"(also accepted: {', '.join(sorted(_ALIASES))})")
    return STYLES[key]


# ---------------------------------------------------------------- seeds
def stable_seed(*parts: object) -> int:
    """A 32-bit seed from the parts, the same on every machine and Python run (no ``hash()``)."""
    digest = hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2 ** 32)


def scene_seed(story_seed: int, scene_index: int, variant: int = 0) -> int:
    """The seed for one scene's picture: from the story seed and the scene's index, and the brief's variant when
    it is not 0 (so variant 0 keeps the seed, and the picture, every story had before variants existed)."""
    if not variant:
        return stable_seed("storymode-scene", int(story_seed), int(scene_index))
    return stable_seed("storymode-scene", int(story_seed), int(scene_index), int(variant))


def character_seed(story_seed: int, char_id: str) -> int:
    """A fixed seed per character (the same in every scene of the story)."""
    return stable_seed("storymode-character", int(story_seed), char_id)


# ---------------------------------------------------------------- tokens
_WORD = re.compile(r"[A-Za-z0-9']+|[^\sA-Za-z0-9']")


def estimate_tokens(text: str) -> int:
    """A conservative CLIP token count without the tokenizer: words (long ones count more) and punctuation,
    plus the start and end tokens."""
    n = 2
    for piece in _WORD.findall(text):
        n += max(1, math.ceil(len(piece) / 7)) if piece[0].isalnum() else 1
    return n


def token_counter(tokenizer: object | None) -> tuple[Callable[[str], int], int]:
    """(count(text), limit) from a Hugging Face tokenizer when given, else the estimate and the CLIP limit."""
    if tokenizer is None:
        return estimate_tokens, CLIP_TOKEN_LIMIT
    limit = getattr(tokenizer, "model_max_length", CLIP_TOKEN_LIMIT) or CLIP_TOKEN_LIMIT
    if not isinstance(limit, int) or limit > 4096:  # "no limit" sentinels
        limit = CLIP_TOKEN_LIMIT

    def count(text: str) -> int:
        return len(tokenizer(text, truncation=False)["input_ids"])  # type: ignore[operator]

    return count, limit


# ---------------------------------------------------------------- the prompt
@dataclass(frozen=True)
class Subject:
    """A character in the picture, as the prompt describes it."""

    id: str
    name: str
    text: str
    seed: int


@dataclass(frozen=True)
class IllustrationPrompt:
    """What a text-to-image backend needs for one scene."""

    prompt: str
    negative_prompt: str
    seed: int
    subjects: tuple[Subject, ...] = ()
    style: str = "storybook"
    tokens: int = 0
    token_limit: int = CLIP_TOKEN_LIMIT
    cut: tuple[str, ...] = field(default=())  # the parts that were left out to fit the token limit


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip(" ,.;")


def describe(character: Character) -> str:
    """A character as the prompt says it: 'a red fox (small, white-tipped tail)'; the name is left out
    (names cost tokens and invite lettering in the picture)."""
    kind = _clean(character.kind)
    if not re.match(r"(?i)^(a|an|the|my|our|his|her|their)\b", kind):
        kind = ("an " if kind[:1].lower() in "aeiou" else "a ") + kind
    desc = _clean(character.description)
    return f"{kind} ({desc})" if desc else kind


_TIME = {"dawn": "at dawn, pink sky", "day": "in daylight", "dusk": "at dusk, sunset glow",
         "night": "at night, moonlight"}
_WEATHER = {"clear": "", "clouds": "cloudy sky", "rain": "rain", "snow": "falling snow", "wind": "windy",
            "fog": "misty fog"}


_PLACES = {"space": "in outer space", "sky": "up in the sky", "sea": "on the open sea", "snow": "in a snowy land",
           "city": "in a city street", "hills": "in rolling hills", "mountains": "in the mountains"}


def _where(setting: str) -> str:
    place = _clean(setting)
    if re.match(r"(?i)^(a|an|the|in|on|at|under|inside|by|near|up)\b", place):
        return place
    return _PLACES.get(place.lower(), f"in a {place}")


def build_prompt(brief: Brief, cast: tuple[Character, ...] | list[Character], style: str, *, story_seed: int,
                 scene_index: int, tokenizer: object | None = None, scene_label: str | None = None,
                 seed_from: str = "scene", variant: int = 0) -> IllustrationPrompt:
    """The prompt for one scene: style lead, action, each character in the picture with its fixed description,
    setting, props, time, weather, mood, style extras; cut to the token limit with a warning that names the cuts.

    ``cast`` is the whole cast; only the characters the brief puts in the picture are described.
    ``seed_from='lead'`` uses the first pictured character's fixed seed (the same starting noise in each of
    its scenes, for a steadier look); otherwise the scene seed. ``variant`` (the brief's, when not 0) changes the
    seed only, for another drawing of the same prompt.
    """
    preset = style_preset(style)
    wanted = list(dict.fromkeys(brief.characters))
    by_id = {c.id: c for c in cast}
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        raise UsageError(f"{scene_label or f'scene {scene_index + 1}'}: the brief names characters that are "
                         f"not in the cast: {', '.join(unknown)} (cast: {', '.join(by_id) or 'empty'})")
    subjects = tuple(Subject(c.id, c.name, describe(c), character_seed(story_seed, c.id))
                     for c in (by_id[w] for w in wanted))

    # parts, in prompt order, each with a cut rank (higher = cut earlier; 0 = never cut whole)
    parts: list[tuple[str, str, int]] = [("style", preset.lead, 0)]
    if _clean(brief.action):
        parts.append(("action", _clean(brief.action), 0))
    for s in subjects:
        parts.append((f"character {s.id}", s.text, 0))
    parts.append(("setting", _where(brief.setting), 0))
    props = [_clean(p) for p in brief.props if _clean(p)]
    for k, p in enumerate(props):
        parts.append((f"prop {p!r}", p, 40 - min(k, 30)))  # the last prop goes first
    if _TIME.get(brief.time_of_day):
        parts.append(("time of day", _TIME[brief.time_of_day], 20))
    if _WEATHER.get(brief.weather):
        parts.append(("weather", _WEATHER[brief.weather], 50))
    if _clean(brief.mood):
        parts.append(("mood", f"{_clean(brief.mood)} mood", 60))
    parts.append(("style extras", preset.extras, 100))

    count, limit = token_counter(tokenizer)
    cut: list[str] = []

    def text_of(ps: list[tuple[str, str, int]]) -> str:
        return ", ".join(t for _, t, _ in ps if t)

    # 1) drop whole low-priority parts, highest rank first
    while count(text_of(parts)) > limit:
        rank = max(r for _, _, r in parts)
        if rank == 0:
            break
        i = max(i for i, (_, _, r) in enumerate(parts) if r == rank)
        label, text, _ = parts.pop(i)
        cut.append(f"{label} ({text!r})")
    # 2) shorten the longest kept part (never the style lead) word by word from its end
    trimmed: dict[str, list[str]] = {}
    while count(text_of(parts)) > limit:
        candidates = [(len(t.split()), i) for i, (lbl, t, _) in enumerate(parts) if lbl != "style" and t]
        if not candidates:
            break
        _, i = max(candidates)
        label, text, rank = parts[i]
        words = text.split()
        trimmed.setdefault(label, []).insert(0, words[-1])
        parts[i] = (label, _clean(" ".join(words[:-1])), rank)
    for label, words in trimmed.items():
        cut.append(f"end of {label} ({' '.join(words)!r})")
    prompt = text_of(parts)
    tokens = count(prompt)
    if cut:
        where = scene_label or f"scene {scene_index + 1}"
        warnings.warn(f"{where}: the illustration prompt was longer than the text encoder's {limit} tokens; "
                      f"cut {'; '.join(cut)}", PromptCutWarning, stacklevel=2)

    seed = scene_seed(story_seed, scene_index, variant)
    if seed_from == "lead" and subjects:
        seed = subjects[0].seed if not variant else stable_seed("storymode-lead", subjects[0].seed, int(variant))
    elif seed_from not in ("scene", "lead"):
        raise UsageError(f"seed_from must be 'scene' or 'lead', not {seed_from!r}")
    return IllustrationPrompt(prompt=prompt, negative_prompt=preset.negative, seed=seed, subjects=subjects,
                              style=preset.name, tokens=tokens, token_limit=limit, cut=tuple(cut))
