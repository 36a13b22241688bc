"""Responsible by default: text screens for the audience (``screen``, ``offline``, ``moderation``), picture screens
(``pictures``) and provenance. Importing this package loads neither torch nor any screen's word lists; a screen
loads what it needs when it first checks a text."""
from __future__ import annotations

from .audience import AUDIENCES, Audience, audience_of
from .screen import DEFAULT_SCREEN, Screen, available_screens, make_screen, screen_names, screen_text
from .verdict import CATEGORIES, Finding, Verdict, combine, mask

__all__ = ["AUDIENCES", "CATEGORIES", "DEFAULT_SCREEN", "Audience", "Finding", "Screen", "Verdict",
           "audience_of", "available_screens", "combine", "make_screen", "mask", "screen_names", "screen_text"]
