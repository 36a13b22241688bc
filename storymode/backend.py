"""What every backend shares: a name, a stage, a version, an options model that forbids unknown keys."""
from __future__ import annotations

import importlib.util
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class BackendOptions(BaseModel):
    """Base for a backend's options; unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Backend:
    """A stage implementation. Subclasses set the class variables and keep heavy imports inside methods."""

    stage: ClassVar[str] = ""
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    requires: ClassVar[tuple[str, ...]] = ()  # importable module names this backend needs
    extra: ClassVar[str | None] = None  # pip extra that installs them
    uses_gpu: ClassVar[bool] = False

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
