"""What every backend shares: a name, a stage, a version, an options model that forbids unknown keys, and what it
needs (modules, a pip extra) and credits (lines for the end card and the video's metadata)."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class BackendOptions(BaseModel):
    """Base for a backend's options; unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Backend:
    """A stage implementation. Subclasses set the class variables and keep heavy imports inside methods.

    A third-party backend subclasses its stage's base class (Writer, Narrator, Illustrator, Composer), sets
    ``name`` and registers the class under ``[project.entry-points."storymode.backends"]`` as
    ``"STAGE.NAME" = "module:Class"``. The pipeline passes it values only: what its methods take."""

    stage: ClassVar[str] = ""
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    requires: ClassVar[tuple[str, ...]] = ()  # importable module names this backend needs
    extra: ClassVar[str | None] = None  # pip extra that installs them
    uses_gpu: ClassVar[bool] = False
    # whether what it makes comes from a model trained on data (a language, speech or image model), as opposed to
    # rules and shipped parts: the digital source type its outputs' Content Credentials declare
    trained: ClassVar[bool] = True
    # what a story made with this backend must credit (a licence, a model): shown on the end card, the storybook
    # page and in the video's metadata. A {field} is filled with the backend's attribute or option of that name
    # ("Pictures drawn by {model}"); override credit_lines() for anything else
    credits: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: BackendOptions | None = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def missing(cls) -> list[str]:
        """Required modules (or programs) not found here, without importing anything."""
        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    @classmethod
    def usable(cls) -> tuple[bool, str]:
        """Whether the backend can run here, and if not, why and how to fix it."""
        missing = cls.missing()
        if not missing:
            return True, ""
        hint = f'pip install "storymode[{cls.extra}]"' if cls.extra else f"pip install {' '.join(missing)}"
        return False, f"needs {', '.join(missing)}: {hint}"

    def fingerprint(self) -> dict:
        """Everything about this backend that changes its output (used in artifact keys)."""
        return {"backend": f"{self.stage}.{self.name}", "version": self.version,
                "options": self.options.model_dump(mode="json")}

    def credit_lines(self) -> list[str]:
        """This backend's credits with their {fields} filled in (a local file's path shows as its name only)."""
        return [template.format_map(_CreditFields(self)) for template in self.credits]


class _CreditFields(dict):
    """A credit's {field} -> the backend's attribute, else its option, of that name."""

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend

    def __missing__(self, name: str) -> Any:
        value = getattr(self.backend, name) if hasattr(self.backend, name) else getattr(self.backend.options, name)
        return _public(value)


def _public(value: Any) -> Any:
    """A path to a local file or folder as its last part: credits are published, the user's folders are not."""
    text = str(value)
    if isinstance(value, (str, Path)) and ("/" in text or os.sep in text) and Path(text).expanduser().exists():
        return Path(text).expanduser().resolve().name
    return value
