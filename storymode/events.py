"""Progress events: what the pipeline reports while it works (rendered by the CLI as bars or JSON lines)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One progress event. kind: stage-start, step, stage-end, done, warning, note (what was understood)."""

    kind: str
    stage: str = ""
    done: int = 0
    total: int = 0
    cached: int = 0
    seconds: float = 0.0
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict without empty fields."""
        return {k: v for k, v in asdict(self).items() if v not in ("", {}, None) or k == "kind"}


Listener = Callable[[Event], None]


def ignore(event: Event) -> None:
    """A listener that drops every event."""
