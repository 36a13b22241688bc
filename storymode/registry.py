"""Backends found through the ``storymode.backends`` entry-point group; loaded only when chosen."""
from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from pydantic import ValidationError

from .errors import BackendNotFound, MissingDependency, UsageError

if TYPE_CHECKING:
    from .backend import Backend

GROUP = "storymode.backends"
STAGES = ("writer", "narrator", "illustrator", "composer")
DEFAULTS = {"writer": "planner", "narrator": "hibari", "illustrator": "storybook", "composer": "ffmpeg"}
_extra: dict[str, dict[str, type]] = {stage: {} for stage in STAGES}


@dataclass(frozen=True)
class BackendInfo:
    """One row of `storymode backends`."""

    stage: str
    name: str
    description: str
    usable: bool
    why_not: str
    default: bool


def _path_state() -> tuple[tuple[str, float], ...]:
    """sys.path with each folder's modification time: it changes when a package is installed or removed there."""
    state = []
    for entry in sys.path:
        try:
            state.append((entry, os.stat(entry or ".").st_mtime))
        except OSError:
            state.append((entry, -1.0))
    return tuple(state)


@functools.lru_cache(maxsize=4)
def _all_entry_points(path_state: tuple[tuple[str, float], ...]) -> tuple[EntryPoint, ...]:
    # reading every installed package's metadata costs ~50 ms; it is read again only when sys.path changes
    return tuple(entry_points(group=GROUP))


def _entry_points(stage: str) -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in _all_entry_points(_path_state()):
        ep_stage, _, name = ep.name.partition(".")
        if ep_stage == stage and name:
            found[name] = ep
    return found


def register(cls: type) -> type:
    """Register a backend class at run time (tests and notebooks; packages use entry points)."""
    _extra[cls.stage][cls.name] = cls
    return cls


def unregister(stage: str, name: str) -> None:
    """Remove a backend registered with register()."""
    _extra[stage].pop(name, None)


def names(stage: str) -> list[str]:
    """Every backend name known for a stage."""
    return sorted(set(_entry_points(stage)) | set(_extra[stage]))


def backend_class(stage: str, name: str) -> type["Backend"]:
    """The class for stage/name, importing only its (light) module."""
    if stage not in STAGES:
        raise UsageError(f"unknown stage {stage!r}; stages are: {', '.join(STAGES)}")
    if name in _extra[stage]:
        return _extra[stage][name]
    eps = _entry_points(stage)
    if name not in eps:
        raise BackendNotFound(
            f"unknown {stage} {name!r}; choose one of: {', '.join(names(stage)) or '(none installed)'}"
        )
    try:
        return eps[name].load()
    except ImportError as err:
        raise MissingDependency(f"the {stage} {name!r} could not be loaded: {err}") from None


def parse_options(cls: type["Backend"], raw: dict) -> object:
    """Validate raw option values against the backend's options model (unknown keys are errors)."""
    try:
        return cls.Options.model_validate(raw)
    except ValidationError as err:
        fields = sorted(cls.Options.model_fields)
        problems = []
        for e in err.errors():
            key = ".".join(str(p) for p in e["loc"])
            if e["type"] == "extra_forbidden":
                problems.append(f"{key!r} is not an option of the {cls.stage} {cls.name!r}")
            else:
                problems.append(f"{key}: {e['msg']} (got {e.get('input')!r})")
        valid = ", ".join(fields) if fields else "it has no options"
        raise UsageError("; ".join(problems) + f". Valid options: {valid}") from None


def create(stage: str, name: str, options: dict | None = None) -> "Backend":
    """An instance of the chosen backend with validated options; a clear error if it cannot run here."""
    cls = backend_class(stage, name)
    parsed = parse_options(cls, options or {})
    ok, why = cls.usable()
    if not ok:
        raise MissingDependency(f"the {stage} {name!r} cannot run here: {why}")
    return cls(parsed)


def describe_all() -> list[BackendInfo]:
    """Every backend of every stage, with whether it is usable here."""
    rows = []
    for stage in STAGES:
        for name in names(stage):
            try:
                cls = backend_class(stage, name)
                ok, why = cls.usable()
                desc = cls.description
            except Exception as err:  # a broken plugin must not break the listing
                ok, why, desc = False, f"failed to load: {err}", ""
            rows.append(BackendInfo(stage, name, desc, ok, why, DEFAULTS.get(stage) == name))
    return rows
