"""What a prompt asks for, as typed values: the hero, the companions, the place, the time, the weather, the wish.

Stored in story.json (``Story.request``) so that the user sees what was understood and can correct it.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Gender = Literal["she", "he"]
Age = Literal["child", "adult", "old"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Figure(_Model):
    """Someone in the prompt: what the prompt calls them and what a picture shows."""

    noun: str = Field(min_length=1, max_length=80, description="as the prompt says it: \"lighthouse keeper's daughter\"")
    kind: str = Field(min_length=1, max_length=40, description="the kind a picture shows: 'girl', 'whale'")
    name: str | None = Field(None, max_length=40)
    role: str | None = Field(None, max_length=40, description="a trade or title: 'keeper', 'knight'")
    gender: Gender | None = None
    age: Age | None = None
    trait: str | None = Field(None, max_length=40)


class StoryRequest(_Model):
    """A prompt, understood."""

    hero: Figure | None = None
    companions: list[Figure] = Field(default_factory=list, max_length=4)
    place: str | None = Field(None, max_length=40, description="a setting name from the shared vocabulary")
    place_noun: str | None = Field(None, max_length=60, description="the prompt's own word for the place")
    time_of_day: Literal["dawn", "day", "dusk", "night"] | None = None
    weather: Literal["clear", "clouds", "rain", "snow", "wind", "fog", "storm"] | None = None
    wish: str | None = Field(None, max_length=120, description="what the hero wants or must do, as a verb phrase")
    props: list[str] = Field(default_factory=list, max_length=8)

    def summary(self) -> str:
        """One line for a language model's prompt: who, with whom, where, when, what."""
        parts = []
        if self.hero:
            hero = self.hero.noun if not self.hero.name else f"{self.hero.name}, a {self.hero.noun}"
            parts.append(f"hero: {hero}")
        if self.companions:
            parts.append("companion: " + ", ".join(c.noun if not c.name else f"{c.name} the {c.noun}"
                                                   for c in self.companions))
        if self.place:
            parts.append(f"place: {self.place_noun or self.place}")
        if self.time_of_day:
            parts.append(f"time: {self.time_of_day}")
        if self.weather and self.weather != "clear":
            parts.append(f"weather: {self.weather}")
        if self.wish:
            parts.append(f"wish: {self.wish}")
        return "; ".join(parts)
