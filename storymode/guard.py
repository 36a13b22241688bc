"""The CLI's error guard: expected errors become a short message and an exit code; tracebacks only with --debug."""
from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any

import click

from .errors import StorymodeError


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into a short message and exit code; tracebacks only with --debug."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            return fn(*args, **kwargs)
        except StorymodeError as err:
            if debug:  # the traceback, and still the error's own exit code (scripts rely on it)
                traceback.print_exc()
            _fail(str(err), err.exit_code)
        except KeyboardInterrupt:
            if debug:
                raise
            _fail("interrupted. Run the same command again to resume where it stopped.", 130)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except OSError as err:
            if debug:
                raise
            _fail(f"{err.strerror or err} ({err.filename})" if err.filename else str(err), 1)
        except Exception as err:  # noqa: BLE001 - the last line of defence before a traceback
            if debug:
                raise
            _fail(f"unexpected {type(err).__name__}: {err}. Run again with --debug for the traceback.", 1)

    return wrapper
