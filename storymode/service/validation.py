"""A request body that does not validate, said in one message with the HTTP status it gets."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import describe_error, error_location

SOURCES = (("prompt",), ("text",))  # a body gives one of them: a missing one alone is no error
NOT_PLACES = ("body", "PromptRequest", "TextRequest")  # loc parts that name no field a client wrote


def invalid_request(errors: Sequence[dict[str, Any]]) -> tuple[int, str]:
    """(HTTP status, message) for FastAPI's validation errors of a body: 400 when it is not JSON, 413 for a
    prompt or text over its length, else 422 naming the first field at fault."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "the body is not valid JSON"
    real = [e for e in errors if not (e.get("type") == "missing" and e.get("loc", ())[-1:] in SOURCES)]
    if not real:
        return 422, "give a prompt or a text (one of them)"
    too_long = _too_long(real)
    if too_long:
        return 413, too_long
    first = real[0]
    return 422, describe_error(first, where=error_location(first, skip=NOT_PLACES) or "body")


def _too_long(errors: Sequence[dict[str, Any]]) -> str | None:
    """The message for a prompt or text over its length limit (answered with 413), if that is an error here."""
    for e in errors:
        if e.get("type") == "string_too_long" and e.get("loc", ())[-1:] in SOURCES:
            field = e["loc"][-1]
            given = e.get("input")
            size = f"{len(given):,} characters" if isinstance(given, str) else "too long"
            return f"{field}: the {field} is {size}; this server takes at most " \
                   f"{e.get('ctx', {}).get('max_length', 0):,} characters"
    return None
