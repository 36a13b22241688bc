"""Progress views for the CLI: rich bars per stage, JSON lines for tools, or nothing."""
from __future__ import annotations

import json
import sys
from typing import Any

from .events import Event

STAGE_LABELS = {"write": "Writing", "narrate": "Narrating", "illustrate": "Illustrating", "compose": "Rendering", "export": "Exporting"}


class JsonLines:
    """One JSON object per event on stdout."""

    def __call__(self, event: Event) -> None:
        sys.stdout.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def close(self) -> None:
        """Nothing to release."""


class Bars:
    """A rich progress bar per stage, with counts, cached counts, elapsed time and ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("{task.description:<13}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[note]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=self.console, transient=False)
        self.tasks: dict[str, Any] = {}
        self.progress.start()

    def __call__(self, event: Event) -> None:
        if event.kind == "stage-start":
            label = STAGE_LABELS.get(event.stage, event.stage)
            self.tasks[event.stage] = self.progress.add_task(label, total=event.total or 1, note="")
        elif event.kind in ("step", "stage-end") and event.stage in self.tasks:
            note = f"({event.cached} cached)" if event.cached else ""
            self.progress.update(self.tasks[event.stage], completed=event.done, total=event.total or 1, note=note)
        elif event.kind == "warning":
            self.progress.console.print(f"[yellow]warning:[/] {event.message}", markup=True, highlight=False)
        elif event.kind == "note":
            self.progress.console.print(event.message, markup=False, highlight=False)

    def close(self) -> None:
        """Stop drawing."""
        self.progress.stop()


class Silent:
    """No progress at all (--quiet)."""

    def __call__(self, event: Event) -> None:
        return None

    def close(self) -> None:
        """Nothing to release."""


def make_view(kind: str, quiet: bool) -> Bars | JsonLines | Silent:
    """The view for --progress and --quiet."""
    if kind == "json":
        return JsonLines()
    if quiet or kind == "none":
        return Silent()
    return Bars()
