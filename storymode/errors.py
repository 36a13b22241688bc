"""The few exceptions storymode raises on purpose; the CLI maps each to a message and an exit code."""
from __future__ import annotations


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


class MissingDependency(StorymodeError):
    """A backend needs an optional package that is not installed; the message names the pip extra."""

    exit_code = 2


class BackendError(StorymodeError):
    """A backend failed while working (a model error, a subprocess failure)."""


class LockedError(StorymodeError):
    """Another run holds the story folder's lock."""

    exit_code = 3
