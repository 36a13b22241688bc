"""Whether the backends that talk to a server can reach it now (for `storymode backends`): a short probe each, run
side by side, with the options in force for the chosen backend of each stage and the defaults for the others."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .config import Settings
from .registry import create


def _probe(stage: str, name: str, settings: Settings) -> tuple[bool, str] | None:
    from .openai_api import EndpointOptions, probe_endpoint

    options = settings.options.get(stage, {}) if settings.backend(stage) == name else {}
    try:
        backend = create(stage, name, options)
    except Exception as err:  # noqa: BLE001 - a listing reports, it does not fail
        return False, f"cannot be set up: {err}"
    own = getattr(backend, "reachable", None)  # a backend with a server of its own kind says how to ask it
    if callable(own):
        return own()
    if isinstance(backend.options, EndpointOptions):
        return probe_endpoint(backend.options)
    return None  # nothing to reach: it runs here


def probe_all(rows: list[tuple[str, str]], settings: Settings) -> dict[tuple[str, str], tuple[bool, str]]:
    """(stage, name) -> (reachable, what it says) for each backend that talks to a server; the others are left out."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {row: pool.submit(_probe, *row, settings) for row in rows}
    return {row: result for row, future in futures.items() if (result := future.result()) is not None}
