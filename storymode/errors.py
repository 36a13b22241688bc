"""The few exceptions storymode raises on purpose (the CLI maps each to a message and an exit code), and the one
way a pydantic validation error is read out in them."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any


class StorymodeError(Exception):
    """Base class: a problem the user can act on. ``str(err)`` is the whole message."""

    exit_code = 1


class UsageError(StorymodeError):
    """Bad input from the user (a flag, a file, a prompt): exit code 2."""

    exit_code = 2


class StoryValidationError(UsageError):
    """A story (story.json or a backend's output) does not match the schema."""


class BackendNotFound(UsageError):
    """An unknown backend name; the message lists the valid ones."""


class Refused(UsageError):
    """Screening refused a prompt, a text or a story for its audience; the message names the category."""


class MissingDependency(StorymodeError):
    """A backend needs an optional package that is not installed; the message names the pip extra."""

    exit_code = 2


class BackendError(StorymodeError):
    """A backend failed while working (a model error, a subprocess failure)."""


class LockedError(StorymodeError):
    """Another run holds the story folder's lock."""

    exit_code = 3


# ---------------------------------------------------------------- pydantic errors, read out
def shown_value(value: object, limit: int = 60) -> str:
    """repr(value), cut to limit characters (a message never carries a whole file)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def error_location(error: Mapping[str, Any], skip: Collection[object] = ()) -> str:
    """Where one pydantic error points: its loc parts joined by dots, less those in skip ("" for the top level)."""
    return ".".join(str(p) for p in error.get("loc", ()) if p not in skip)


def describe_error(error: Mapping[str, Any], where: str | None = None) -> str:
    """One pydantic error as 'where: what (got value)'; a validator's own message as it is.

    where: how to name the place instead of the error's own loc."""
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    where = error_location(error) if where is None else where
    got = "" if error["type"] == "missing" else f" (got {shown_value(error.get('input'))})"
    return f"{where}: {error['msg']}{got}"
