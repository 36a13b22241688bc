"""`storymode studio`: the studio web app over a folder of stories, served by uvicorn on loopback by default."""
from __future__ import annotations

import errno
import socket
from pathlib import Path

import click

from ..errors import MissingDependency, UsageError
from ..guard import guarded
from ..service.security import MIN_TOKEN, check_token, is_loopback

DEFAULT_PORT = 8765
PORT_TRIES = 20  # a taken port: the next ones are tried, this many in all
GENERATE = "\0generate"  # --token given without a value: make one


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host at port, or on the next free port after it (port 0: any free one)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    last: OSError | None = None
    for candidate in ([0] if port == 0 else range(port, min(port + PORT_TRIES, 65536))):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), candidate))
        except OSError as err:
            sock.close()
            if err.errno != errno.EADDRINUSE:
                raise UsageError(f"cannot listen on {host}:{candidate}: {err.strerror}") from None
            last = err
            continue
        sock.listen(128)
        sock.set_inheritable(True)
        return sock
    raise UsageError(f"ports {port} to {port + PORT_TRIES - 1} on {host} are all taken ({last and last.strerror}); "
                     "give another with --port, or --port 0 for any free one")


def studio_url(host: str, port: int, token: str | None) -> str:
    """The address to open: loopback names as they are, an any-address as 127.0.0.1; ?token= when there is one."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::", "[::]") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


@click.command("studio")
@click.option("--dir", "folder", type=click.Path(path_type=Path, file_okay=False), default=".",
              show_default="the current folder", help="The folder whose NAME.storymode stories the studio shows and "
                                                      "where it makes new ones.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help=f"Address to listen on; beyond loopback a token of at least {MIN_TOKEN} characters is required.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on (taken: the next free one; 0: any free one).")
@click.option("--no-browser", is_flag=True, help="Do not open the studio in the web browser.")
@click.option("--token", envvar="STORYMODE_TOKEN", is_flag=False, flag_value=GENERATE, default=None,
              help="Require this token (or STORYMODE_TOKEN; --token alone makes one). The browser gets it once "
                   "through the printed address, then keeps it in a cookie.")
@guarded
def studio(folder: Path, host: str, port: int, no_browser: bool, token: str | None) -> None:
    """Make, refine and publish stories in the web browser.

    \b
    storymode studio                      the stories in this folder, at http://127.0.0.1:8765/
    storymode studio --dir stories --no-browser
    """
    from .security import new_secret

    token = new_secret() if token == GENERATE else ((token or "").strip() or None)
    check_token(host, token)
    try:
        import uvicorn
    except ImportError:
        raise MissingDependency('storymode studio needs FastAPI, uvicorn and Jinja2: pip install "storymode[studio]"') \
            from None
    from .app import create_app

    root = folder.resolve()
    if not root.is_dir():
        raise UsageError(f"--dir {folder}: no such folder")
    app = create_app(root, token=token)
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    if port and actual != port:
        click.echo(f"port {port} is taken; using {actual}", err=True)
    url = studio_url(host, actual, token)
    where = "" if is_loopback(host.strip("[]")) else f" (listening on {host}, token required)"
    click.echo(f"storymode studio: {url}{where}", err=True)
    click.echo(url)  # alone on stdout, for scripts
    if not no_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


if __name__ == "__main__":
    studio(prog_name="storymode studio")
