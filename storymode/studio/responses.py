"""How the studio answers besides its pages: JSON bodies, files (inline or as downloads), and errors as JSON with
the status each kind of error gets."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BackendError, LockedError, StorymodeError
from .jobs import Busy
from .security import DOWNLOAD_HEADERS, UnknownStory


def json_response(body: dict[str, Any], status: int) -> Any:
    """body as a JSON response with the given status."""
    from fastapi.responses import JSONResponse

    return JSONResponse(body, status_code=status)


def file_response(path: Path, media_type: str, *, download: str | None = None) -> Any:
    """A file shown inline, or sent as a download named download (sandboxed by DOWNLOAD_HEADERS)."""
    from fastapi.responses import FileResponse

    headers = {"cache-control": "no-cache"}
    if download is not None:
        return FileResponse(path, media_type=media_type, filename=download, headers={**headers, **DOWNLOAD_HEADERS})
    return FileResponse(path, media_type=media_type, headers=headers, content_disposition_type="inline")


async def invalid_request(request: Any, exc: Any) -> Any:
    """A body that is not JSON (400) or does not fit its model (422, saying which field and why)."""
    from ..errors import describe_error, error_location

    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return json_response({"detail": "the body is not valid JSON"}, 400)
    first = errors[0]
    return json_response({"detail": describe_error(first, where=error_location(first, skip=("body",)) or "body")},
                         422)


async def storymode_error(request: Any, exc: StorymodeError) -> Any:
    """A storymode error as JSON: 409 for a stale version or a busy story, 404 unknown, 500 backend, else 422."""
    from .history import Conflict

    if isinstance(exc, Conflict):
        kept = str(exc.kept.name) if exc.kept is not None else None
        return json_response({"detail": str(exc), "conflict": True, "version": exc.current, "kept": kept}, 409)
    if isinstance(exc, UnknownStory):
        return json_response({"detail": str(exc)}, 404)
    if isinstance(exc, (Busy, LockedError)):
        return json_response({"detail": str(exc)}, 409)
    if isinstance(exc, BackendError):
        return json_response({"detail": str(exc)}, 500)
    return json_response({"detail": str(exc)}, 422)
