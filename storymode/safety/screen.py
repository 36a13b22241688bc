"""The text screen interface and how screens are found: the built-in ``offline`` (the default) and ``moderation``
screens, and a third party's through the ``storymode.screens`` entry-point group::

    [project.entry-points."storymode.screens"]
    wordlist = "my_package:WordlistScreen"     # a subclass of storymode.safety.screen.Screen

A screen is loaded only when it is chosen (or when every screen is listed); a plugin that fails to load is named
in a UsageError, and never breaks the built-in screens."""
from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any, ClassVar

from pydantic import ValidationError

from ..backend import Backend, BackendOptions
from ..errors import BackendNotFound, UsageError, describe_error, error_location
from .audience import Audience, audience_of
from .verdict import Verdict, combine

GROUP = "storymode.screens"
DEFAULT_SCREEN = "offline"
BUILT_IN = {"offline": "storymode.safety.offline:OfflineScreen",
            "moderation": "storymode.safety.moderation:ModerationScreen"}


class Screen(Backend):
    """Checks a text for an audience. A subclass sets ``name`` (and ``Options`` when it has options) and
    implements ``check``; heavy imports belong inside ``check``, not at module level."""

    stage: ClassVar[str] = "screen"
    name: ClassVar[str] = ""
    Options: ClassVar[type[BackendOptions]] = BackendOptions

    def __init__(self, options: BackendOptions | None = None) -> None:
        super().__init__(options)

    def check(self, text: str, audience: Audience) -> Verdict:
        """The verdict on text for the audience; its findings name this screen."""
        raise NotImplementedError


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _plugin_entry_points() -> dict[str, metadata.EntryPoint]:
    """The entry points of the storymode.screens group, by name (a built-in name cannot be taken)."""
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP) if ep.name not in BUILT_IN}


def _load_plugin(ep: metadata.EntryPoint) -> type[Screen]:
    """The screen class an entry point names, or a UsageError naming the plugin and what is wrong with it."""
    try:
        loaded = ep.load()
    except Exception as err:  # noqa: BLE001 - any failure of a third party's import is reported the same way
        raise UsageError(f"the screen plugin {ep.name!r} ({ep.value}) could not be loaded: "
                         f"{type(err).__name__}: {err}; fix or uninstall the package that provides it") from None
    if not (isinstance(loaded, type) and issubclass(loaded, Screen)):
        raise UsageError(f"the screen plugin {ep.name!r} ({ep.value}) is not a subclass of "
                         "storymode.safety.screen.Screen; fix or uninstall the package that provides it")
    return loaded


def screen_names() -> list[str]:
    """Every screen name known here (built-in and plugins), without loading any plugin."""
    return sorted(set(BUILT_IN) | set(_plugin_entry_points()))


def available_screens() -> dict[str, type[Screen]]:
    """Every screen by name: the built-ins, then the plugins (each loaded; a broken one is a UsageError)."""
    found: dict[str, type[Screen]] = {name: _load(target) for name, target in BUILT_IN.items()}
    for name, ep in sorted(_plugin_entry_points().items()):
        found[name] = _load_plugin(ep)
    return found


def screen_class(name: str) -> type[Screen]:
    """The class of the screen called name, loading only that one."""
    if name in BUILT_IN:
        return _load(BUILT_IN[name])
    plugins = _plugin_entry_points()
    if name not in plugins:
        raise BackendNotFound(f"unknown screen {name!r}; choose one of: {', '.join(screen_names())}")
    return _load_plugin(plugins[name])


def make_screen(name: str, options: Mapping[str, Any] | None = None) -> Screen:
    """The screen called name with its options checked (an unknown key or a bad value is a UsageError)."""
    cls = screen_class(name.strip())
    parsed = _parse_options(cls, dict(options or {}))
    ok, why = cls.usable()
    if not ok:
        raise UsageError(f"the screen {name!r} cannot run here: {why}")
    return cls(parsed)


def _parse_options(cls: type[Screen], raw: dict[str, Any]) -> BackendOptions:
    """The screen's options model filled from raw values; what is wrong said in one UsageError."""
    try:
        return cls.Options.model_validate(raw)
    except ValidationError as err:
        problems = [f"{error_location(e)!r} is not an option of the screen {cls.name!r}"
                    if e["type"] == "extra_forbidden" else describe_error(e) for e in err.errors()]
        valid = ", ".join(sorted(cls.Options.model_fields)) or "it has no options"
        raise UsageError("; ".join(problems) + f". Valid options: {valid}") from None


def screen_text(text: str, audience: str, screens: Sequence[Screen]) -> Verdict:
    """text checked by every screen for the audience, the verdicts combined."""
    judged_for = audience_of(audience)
    if not screens:
        return Verdict.judge(judged_for, (), ())
    return combine([screen.check(text, judged_for) for screen in screens])
