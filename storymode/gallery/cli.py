"""`storymode gallery EXAMPLES_DIR -o SITE`: the command over build_gallery."""
from __future__ import annotations

from pathlib import Path

import click

from ..guard import guarded
from ..errors import StorymodeError, UsageError
from .stories import GalleryStory
from .page import _length
from .build import build_gallery


def _print_story(story: GalleryStory) -> None:
    if story.ok:
        state = "cached" if story.cached else "built "
        click.echo(f"  {story.name:<20} {state} {story.seconds:6.1f} s   {_length(story.duration)} video  "
                   f"{story.title}")
    else:
        click.echo(f"  {story.name:<20} FAILED {story.seconds:6.1f} s   {story.error}", err=True)


@click.command("gallery")
@click.argument("examples_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path, dir_okay=True, file_okay=False),
              default=Path("site"), show_default=True, help="Folder for the site (index.html, stories/).")
@click.option("--only", multiple=True, metavar="NAME", help="Build only this example (file name without .toml; "
              "repeatable). The page then lists only these.")
@click.option("-q", "--quiet", is_flag=True, help="No per-story progress, only errors.")
@click.option("--trust-config", "trust_config", is_flag=True,
              help="Treat the example files (and ./storymode.toml) as your own: let them name files outside their "
                   "folder, turn on trust_remote_code or send an API key to their base_url (see SECURITY.md).")
@guarded
def gallery(examples_dir: Path, out_dir: Path, only: tuple[str, ...], quiet: bool, trust_config: bool) -> None:
    """Render every example in EXAMPLES_DIR (cached) into a static web gallery at OUT/index.html."""
    if not quiet:
        click.echo(f"building the gallery of {examples_dir} into {out_dir}/")
    result = build_gallery(examples_dir, out_dir, only=list(only) or None,
                           on_story=None if quiet else _print_story, trust_config=trust_config)
    failed = result.failed
    if quiet:
        for story in failed:
            _print_story(story)
    if not quiet:
        cached = sum(s.cached for s in result.built)
        click.echo(f"{len(result.built)} stories ({cached} cached), {len(failed)} failed, in "
                   f"{result.seconds:.1f} s -> {result.index}")
    if failed:
        message = f"{len(failed)} example(s) failed: {', '.join(s.name for s in failed)} (the others were built)"
        if all(s.exit_code == 2 for s in failed):
            raise UsageError(message)
        raise StorymodeError(message)
