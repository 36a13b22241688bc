"""The progress view of `storymode batch`: one view for the whole batch, or JSON lines, or nothing."""
from __future__ import annotations

from typing import Any

from ..events import Event


class BatchBars:
    """One rich view for the whole batch: stories done/total with failures, and a line per running story."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from ..progress import STAGE_LABELS

        self.labels = STAGE_LABELS
        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=self.console)
        self.overall = self.progress.add_task("Stories", total=1, note="")
        self.jobs: dict[str, Any] = {}
        self.failed = 0
        self.progress.start()

    def __call__(self, event: Event) -> None:
        job = event.data.get("job") if event.data else None
        if job is not None:
            if event.kind in ("stage-start", "step", "stage-end"):
                label = f"  {job[:12]} {self.labels.get(event.stage, event.stage)}"
                if job not in self.jobs:
                    self.jobs[job] = self.progress.add_task(label, total=event.total or 1, note="")
                self.progress.update(self.jobs[job], description=label, completed=event.done,
                                     total=event.total or 1)
            return
        if event.stage == "batch" and event.kind in ("stage-start", "step", "stage-end"):
            if event.kind == "step":
                finished_id = event.data.get("id")
                if finished_id in self.jobs:
                    self.progress.remove_task(self.jobs.pop(finished_id))
                if event.data.get("status") == "failed":
                    self.failed += 1
            note = ", ".join(x for x in (f"{event.cached} skipped" if event.cached else "",
                                          f"[red]{self.failed} failed[/]" if self.failed else "") if x)
            self.progress.update(self.overall, completed=event.done, total=event.total or 1, note=note)
        elif event.kind == "warning":
            self.progress.console.print(f"[yellow]warning:[/] {event.message}", markup=True, highlight=False)

    def close(self) -> None:
        """Stop drawing."""
        self.progress.stop()


def make_batch_view(kind: str, quiet: bool) -> Any:
    """The view for --progress and --quiet."""
    from ..progress import JsonLines, Silent

    if kind == "json":
        return JsonLines()
    if quiet or kind == "none":
        return Silent()
    return BatchBars()
