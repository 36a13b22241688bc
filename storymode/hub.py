"""Hugging Face hub access for the in-process model backends: offline unless the user allowed a download."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def offline_unless(allow_download: bool) -> Iterator[None]:
    """While loading a model: no request to the hub at all when downloads are off.

    ``local_files_only`` alone still lets huggingface_hub ask the hub for metadata (its agent registry, file
    lists); its offline switch is read once at import, so it is set both in the environment and on the loaded
    module, and put back afterwards."""
    if allow_download:
        yield
        return
    before = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as hub_constants
    except ImportError:
        hub_constants = None
    was = getattr(hub_constants, "HF_HUB_OFFLINE", None)
    if hub_constants is not None:
        hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if hub_constants is not None:
            hub_constants.HF_HUB_OFFLINE = was
        if before is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before
