"""`storymode batch`: the command over run_batch."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ..guard import guarded
from .engines import ENGINES
from .runner import run_batch
from .view import make_batch_view


@click.command("batch")
@click.argument("jobs_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder for the stories: OUT/<id>/story.mp4 and OUT/summary.json.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Stories made at the same time (local: processes; ray: CPUs asked for a local instance).")
@click.option("--engine", type=click.Choice(list(ENGINES)), default="local", show_default=True,
              help="Run on local processes, or as Ray tasks (pip install \"storymode[ray]\").")
@click.option("--address", type=str, help="An existing Ray cluster (e.g. ray://head:10001 or auto); --engine ray.")
@click.option("--progress", "progress_kind", type=click.Choice(["bar", "json", "none"]), default="bar",
              help="Progress as one view for the batch (default), JSON lines on stdout, or none.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--trust-config", "trust_config", is_flag=True,
              help="The jobs file is your own: its options may turn on trust_remote_code, send a key to their own "
                   "base_url, and name files outside its folder.")
@guarded
def batch(jobs_file: Path, out_dir: Path, workers: int, engine: str, address: str | None, progress_kind: str,
          quiet: bool, trust_config: bool) -> None:
    """Make many stories from a JSON-lines file: {"id": "fox", "prompt": "a shy fox", "scenes": 2} a line.

    \b
    A line gives "prompt", "text" or "from" (a text file), an optional "id" and "title", and any setting.
    A rerun skips finished stories and resumes the others; OUT/summary.json lists results and errors.
    Exit code 0 when every job succeeded, 1 when some failed.
    """
    import sys

    if address and engine != "ray":
        raise UsageError("--address needs --engine ray")
    from ..config import trusting

    view = make_batch_view(progress_kind, quiet)
    try:
        with trusting(trust_config):
            summary = run_batch(jobs_file, out_dir, workers=workers, engine=engine, address=address, on_event=view)
    finally:
        view.close()
    if not quiet and progress_kind != "json":
        click.echo(f"{len(summary.jobs)} jobs: {summary.ok} made, {summary.skipped} already done, "
                   f"{summary.failed} failed in {summary.seconds:.1f} s -> {summary.summary_path or out_dir}")
    if progress_kind != "json":  # --quiet silences progress, never the reason a job failed
        for job in sorted(summary.jobs, key=lambda j: j.line):
            if job.status == "failed":
                click.echo(f"  failed {job.id}: {job.error}", err=True)
    if summary.failed:
        sys.exit(1)
