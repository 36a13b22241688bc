"""The storybook fallback of the model illustrators: a scene whose picture a screen flagged or an API refused is drawn
by the storybook illustrator instead (safe by construction), and the user is told in a ContentFallbackWarning."""
from __future__ import annotations

import warnings

from .base import Illustration, IllustrationRequest
from .storybook import StorybookIllustrator


class ContentFallbackWarning(UserWarning):
    """A scene whose picture was refused or flagged by a screen was drawn by the storybook illustrator instead."""


def storybook_fallback(request: IllustrationRequest, backend: str, reason: str) -> Illustration:
    """The storybook illustrator's picture for a scene that backend could not give (reason says why, without
    quoting the prompt), said in a ContentFallbackWarning naming the scene."""
    picture = StorybookIllustrator().illustrate(request)
    warnings.warn(f"scene {request.scene_index + 1}: {reason}; it was drawn by the storybook illustrator instead",
                  ContentFallbackWarning, stacklevel=3)
    return Illustration(image=picture.image, drawn={**picture.drawn, "backend": "storybook", "fallback_for": backend})


def storybook_credit_lines() -> list[str]:
    """The storybook illustrator's credits, for a backend whose scenes it may draw instead."""
    return StorybookIllustrator().credit_lines()
