"""`storymode serve`: the command that runs the service with uvicorn, holding the data folder's lock."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..errors import MissingDependency, UsageError
from ..guard import guarded
from ..story import MAX_SCENES
from .app import create_app
from .limits import RESOLUTION_NAMES, Limits
from .scheduler import MAX_QUEUE
from .security import MIN_TOKEN, check_token

DEFAULT_PORT = 8321


def default_data() -> Path:
    """The data folder when none is given: storymode/serve in the user data folder."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("storymode")) / "serve"


def lock_data(data: Path) -> int:
    """Take DATA/.lock (the story folders' own safe lock) for as long as this service runs; its descriptor.
    UsageError when another service holds it."""
    from ..workspace import lock_folder

    data.mkdir(parents=True, exist_ok=True)
    fd = lock_folder(data)
    if fd is None:
        raise UsageError(f"another storymode serve uses the data folder {data}; stop it or give --data DIR")
    return fd



@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help=f"Address to listen on; beyond loopback a token of at least {MIN_TOKEN} characters is required.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--token", envvar="STORYMODE_TOKEN", help="Bearer token every request must carry "
              "(or STORYMODE_TOKEN; prefer the variable: a flag shows in `ps`).")
@click.option("--data", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for jobs and stories (default: the user data folder, storymode/serve).")
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Stories made at the same time (one process each).")
@click.option("--max-queue", type=click.IntRange(1, 100_000), default=MAX_QUEUE, show_default=True,
              help="Stories that may wait; more get 429.")
@click.option("--max-scenes", type=click.IntRange(1, MAX_SCENES), default=Limits.scenes, show_default=True,
              help="Scenes a story may have (a text's Markdown sections count).")
@click.option("--max-resolution", type=click.Choice(RESOLUTION_NAMES), default=Limits.resolution,
              show_default=True, help="The largest resolution a story may ask for.")
@click.option("--max-text", type=click.IntRange(min=1), default=Limits.text, show_default=True,
              help="Characters of a text sent to be narrated word for word; more get 413.")
@click.option("--max-minutes", type=click.FloatRange(min=0.1), default=Limits.minutes, show_default=True,
              help="Minutes of video a story may last; a longer one fails before it is rendered.")
@guarded
def serve(host: str, port: int, token: str | None, data: Path | None, workers: int, max_queue: int,
          max_scenes: int, max_resolution: str, max_text: int, max_minutes: float) -> None:
    """Serve storymode over HTTP: POST /stories, GET /stories/{id}[/video|srt|vtt|story|storybook], DELETE.

    \b
    The OpenAPI spec is at /openapi.json (no /docs page: it would load scripts from a CDN).
    Without a token only loopback Host names (localhost, 127.0.0.1, [::1]) are answered.
    """
    token = (token or "").strip() or None
    check_token(host, token)
    try:
        import uvicorn
    except ImportError:
        raise MissingDependency('storymode serve needs FastAPI and uvicorn: pip install "storymode[serve]"') \
            from None
    data = (data or default_data()).resolve()
    lock = lock_data(data)
    limits = Limits(scenes=max_scenes, resolution=max_resolution, text=max_text, minutes=max_minutes)
    app = create_app(data, token=token, workers=workers, max_queue=max_queue, limits=limits)
    click.echo(f"storymode serving on http://{host}:{port} (data {data}; {'token required' if token else 'no token'})",
               err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10,
                    lifespan="on")
    finally:
        os.close(lock)
