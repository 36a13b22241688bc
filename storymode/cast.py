"""Voice presets (voices/*.toml) and the cast: one distinct, stable voice per speaker."""
from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import UsageError
from .story import NARRATOR, Story

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SMALL_KINDS = ("mouse", "bird", "chick", "bee", "bug", "ant", "kitten", "puppy", "bunny", "rabbit", "squirrel",
               "hedgehog", "frog", "duckling", "child", "baby", "fairy", "sparrow", "robin", "butterfly", "snail")
BIG_KINDS = ("bear", "owl", "elephant", "whale", "dragon", "giant", "king", "troll", "wolf", "grandfather",
             "grandmother", "old", "wizard", "tortoise", "turtle", "lion", "moose", "ox")


class VoicePreset(BaseModel):
    """A named voice: which engine and model, its pace and pitch, and what it sounds like."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    backend: str = "hibari"
    model: str = ""
    speaker: str = ""
    speed: float = Field(1.0, ge=0.5, le=2.0)
    pitch: float = Field(0.0, ge=-12, le=12, description="semitones")
    keep_formant: bool = False
    role: str = Field("character", pattern="^(narrator|character)$")
    size: str = Field("medium", pattern="^(small|medium|big)$")
    description: str = ""


def preset_dirs(extra: list[Path] | None = None) -> list[Path]:
    """Folders searched for presets: the built-in ones, then the user's own (later wins)."""
    from platformdirs import user_config_dir

    here = Path(__file__).resolve().parent
    # a wheel installs the presets as storymode/voices; a source checkout keeps them in the top-level voices/
    builtin = here / "voices" if (here / "voices").is_dir() else here.parent / "voices"
    dirs = [builtin]
    dirs.append(Path(user_config_dir("storymode")) / "voices")
    dirs.extend(extra or [])
    return dirs


def load_presets(extra: list[Path] | None = None) -> dict[str, VoicePreset]:
    """All voice presets by name."""
    presets: dict[str, VoicePreset] = {}
    for folder in preset_dirs(extra):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
                presets[path.stem] = VoicePreset(name=path.stem, **data)
            except (tomllib.TOMLDecodeError, ValidationError, TypeError) as err:
                raise UsageError(f"voice preset {path} is invalid: {err}") from None
    return presets


def _size_of(kind: str) -> str:
    words = kind.lower().split()
    if any(w in SMALL_KINDS or w in ("little", "tiny", "small", "young") for w in words):
        return "small"
    if any(w in BIG_KINDS or w in ("big", "old", "great", "huge") for w in words):
        return "big"
    return "medium"


def assign_cast(story: Story, presets: dict[str, VoicePreset], narrator_backend: str) -> dict[str, VoicePreset]:
    """Speaker id -> preset: the narrator's own, then a distinct fitting voice per character, stable in order."""
    usable = {n: p for n, p in presets.items() if p.backend == narrator_backend}
    if not usable:
        raise UsageError(f"no voice preset uses the narrator {narrator_backend!r}; add one to voices/ "
                         f"(see `storymode voices`)")
    narrators = [p for p in usable.values() if p.role == "narrator"] or list(usable.values())
    cast: dict[str, VoicePreset] = {NARRATOR: narrators[0]}
    pool = [p for p in usable.values() if p.role == "character"]
    taken = {narrators[0].name}
    for speaker in story.speakers[1:]:
        character = story.character(speaker)
        if character.voice:
            if character.voice not in presets:
                raise UsageError(f"character {character.id!r} asks for voice {character.voice!r}, which does not "
                                 f"exist; presets: {', '.join(sorted(presets))}")
            cast[speaker] = presets[character.voice]
            taken.add(character.voice)
            continue
        free = [p for p in pool if p.name not in taken] or pool or narrators
        size = _size_of(f"{character.kind} {character.description}")
        fitting = [p for p in free if p.size == size] or free
        choice = fitting[0]
        cast[speaker] = choice
        taken.add(choice.name)
    return cast
