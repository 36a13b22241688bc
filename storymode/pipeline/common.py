"""What every stage shares: the chosen backends, checked before any work, and warnings said as events."""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from ..backend import Backend
from ..config import Settings
from ..errors import MissingDependency
from ..events import Event, Listener
from ..registry import STAGES, backend_class, create, parse_options


def check_backends(settings: Settings) -> None:
    """Every chosen backend exists, accepts its options and can run here: checked before any work."""
    for stage in STAGES:
        cls = backend_class(stage, settings.backend(stage))
        parse_options(cls, settings.options.get(stage, {}))
        ok, why = cls.usable()
        if not ok:
            raise MissingDependency(f"the {stage} {cls.name!r} cannot run here: {why}")


def stage_backend(stage: str, settings: Settings) -> Backend:
    """The backend the settings choose for a stage, made with the options they give it."""
    return create(stage, settings.backend(stage), settings.options.get(stage, {}))


@contextmanager
def warnings_said(emit: Listener, stage: str) -> Iterator[None]:
    """A backend's UserWarnings (not libraries' deprecation notices) become warning events: said, never silent."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:  # said even when a later step fails
            for warning in caught:
                if issubclass(warning.category, UserWarning):
                    emit(Event("warning", stage, message=str(warning.message)))
