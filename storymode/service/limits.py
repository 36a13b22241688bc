"""What one job may ask of a server: scenes, resolution, characters of a text, minutes of video."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import StorymodeError
from ..timeline import RESOLUTIONS

RESOLUTION_NAMES: tuple[str, ...] = tuple(RESOLUTIONS)


@dataclass(frozen=True)
class Limits:
    """What one job may ask of this server, inside storymode's own limits (Settings, MAX_PROMPT, MAX_TEXT_BYTES):
    scenes, the largest resolution, characters of a text, minutes of video."""

    scenes: int = 60
    resolution: str = "1080p"
    text: int = 50_000
    minutes: float = 60.0

    def resolutions(self) -> tuple[str, ...]:
        """Storymode's resolutions up to this server's largest."""
        return tuple(r for r in RESOLUTION_NAMES if RESOLUTIONS[r] <= RESOLUTIONS[self.resolution])


class JobTooLong(StorymodeError):
    """A job's video would be longer than this server makes."""


def within_limits(limits: Limits, settings: Settings, sent: dict[str, Any]) -> dict[str, Any]:
    """The client's settings, plus scenes and resolution brought within this server's limits where the client left
    them to the defaults (storymode's, or the server's own config) and those are over."""
    out = dict(sent)
    if "scenes" not in sent and settings.scenes > limits.scenes:
        out["scenes"] = limits.scenes
    if "resolution" not in sent and RESOLUTIONS[settings.resolution] > RESOLUTIONS[limits.resolution]:
        out["resolution"] = limits.resolution
    return out


def over_limits(limits: Limits, settings: Settings, text: str | None) -> tuple[int, str] | None:
    """(HTTP status, message) when a job asks for more than this server makes (the settings in force, after
    the server's own config); None when it fits."""
    from ..pipeline import MAX_TEXT_BYTES
    from ..story import clean_text
    from ..writers.segment import markdown_sections

    if settings.scenes > limits.scenes:
        return 422, f"settings.scenes: this server makes at most {limits.scenes} scenes a story " \
                    f"(asked for {settings.scenes})"
    if RESOLUTIONS[settings.resolution] > RESOLUTIONS[limits.resolution]:
        return 422, f"settings.resolution: this server renders at most {limits.resolution} " \
                    f"(asked for {settings.resolution})"
    if text is None:
        return None
    size = len(text.encode("utf-8"))
    if len(text) > limits.text or size > MAX_TEXT_BYTES:
        return 413, f"text: the text is {len(text):,} characters ({size:,} bytes); this server takes at most " \
                    f"{min(limits.text, MAX_TEXT_BYTES):,} characters and {MAX_TEXT_BYTES:,} bytes"
    sections = len(markdown_sections(clean_text(text)))
    if sections > limits.scenes:
        return 422, f"text: it has {sections} Markdown sections and each starts a scene; this server makes at " \
                    f"most {limits.scenes} scenes a story"
    return None


def check_length(seconds: float, max_minutes: float) -> None:
    """Refuse a video longer than this server makes (JobTooLong), before it is rendered."""
    if seconds > max_minutes * 60:
        raise JobTooLong(f"the video would be {seconds / 60:.1f} minutes long; this server makes videos of at most "
                         f"{max_minutes:g} minutes (ask for fewer scenes or words per scene, or send a shorter text)")

