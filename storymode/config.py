"""Settings: built-in defaults < storymode.toml (and a profile in it) < STORYMODE_* environment < flags."""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import UsageError
from .registry import DEFAULTS, STAGES
from .story import MAX_SCENES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "storymode.toml"
ENV_PREFIX = "STORYMODE_"
_OPTION = re.compile(r"^(?:(writer|narrator|illustrator|composer)\.)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)


class Settings(BaseModel):
    """Every choice a run makes; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    writer: str = DEFAULTS["writer"]
    narrator: str = DEFAULTS["narrator"]
    illustrator: str = DEFAULTS["illustrator"]
    composer: str = DEFAULTS["composer"]
    options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="backend options by stage")
    scenes: int = Field(6, ge=1, le=MAX_SCENES)
    audience: str = Field("kids", min_length=1, max_length=40)
    style: str = Field("storybook", min_length=1, max_length=40)
    tone: str | None = Field(None, max_length=40)
    words_per_scene: int | None = Field(None, ge=10, le=300)
    aspect: Literal["16:9", "9:16", "1:1"] = "16:9"
    resolution: Literal["480p", "720p", "1080p"] = "720p"
    fps: Literal[24, 25, 30] = 30
    music: str | None = Field(None, description="an audio file played under the narration, ducked by the voice")
    align: Literal["auto", "on", "off"] = Field("auto", description="word timings by Whisper alignment "
                                                "(auto: when the [align] extra is installed)")
    seed: int = Field(0, ge=0, le=2**32 - 1)

    def backend(self, stage: str) -> str:
        """The backend name chosen for a stage."""
        return str(getattr(self, stage))


def _check(data: dict, source: str) -> None:
    try:
        Settings.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            raise UsageError(f"{source}: unknown setting {where!r}; settings are: "
                             f"{', '.join(sorted(Settings.model_fields))}") from None
        raise UsageError(f"{source}: {where}: {e['msg']} (got {e.get('input')!r})") from None


def read_config_file(path: Path | None, profile: str | None = None) -> dict:
    """Settings from a TOML file: top-level keys, [options.STAGE] tables, and [profiles.NAME] overrides."""
    if path is None:
        candidates = [Path.cwd() / CONFIG_NAME]
        from platformdirs import user_config_dir

        candidates.append(Path(user_config_dir("storymode")) / CONFIG_NAME)
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            if profile:
                raise UsageError(f"profile {profile!r} asked for, but there is no {CONFIG_NAME}")
            return {}
    elif not path.is_file():
        raise UsageError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"config file {path} is not valid TOML: {err}") from None
    profiles = data.pop("profiles", {})
    if profile:
        if profile not in profiles:
            raise UsageError(f"{path} has no profile {profile!r}; profiles: {', '.join(profiles) or '(none)'}")
        data = merge(data, profiles[profile])
    _check(data, str(path))
    return data


def read_environment(environ: dict[str, str] | None = None) -> dict:
    """Settings from STORYMODE_* variables (STORYMODE_NARRATOR=hibari, STORYMODE_SCENES=8, ...)."""
    environ = dict(os.environ if environ is None else environ)
    data: dict[str, Any] = {}
    for field in Settings.model_fields:
        if field == "options":
            continue
        value = environ.get(ENV_PREFIX + field.upper())
        if value not in (None, ""):
            data[field] = value
    _check(data, "environment")
    return data


def merge(base: dict, over: dict) -> dict:
    """A copy of base with over's keys on top (the options tables merged per stage)."""
    out = {**base, **{k: v for k, v in over.items() if k != "options"}}
    options = {stage: dict(values) for stage, values in base.get("options", {}).items()}
    for stage, values in over.get("options", {}).items():
        options.setdefault(stage, {}).update(values)
    if options:
        out["options"] = options
    return out


def parse_option(text: str) -> tuple[str | None, str, Any]:
    """'narrator.threads=2' or 'threads=2' -> (stage or None, key, value parsed as JSON when it can be)."""
    m = _OPTION.match(text)
    if not m:
        raise UsageError(f"backend option {text!r} is not KEY=VALUE or STAGE.KEY=VALUE")
    stage, key, raw = m.groups()
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return stage, key, value


def looks_like_option(text: str) -> bool:
    """True when an -o value is a backend option (KEY=VALUE) rather than an output path."""
    return bool(_OPTION.match(text))


def place_options(pairs: list[str], chosen: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Assign each KEY=VALUE to the chosen backend that has that option (STAGE.KEY picks one explicitly)."""
    from .registry import backend_class

    out: dict[str, dict[str, Any]] = {}
    for text in pairs:
        stage, key, value = parse_option(text)
        if stage is None:
            owners = [s for s in STAGES if key in backend_class(s, chosen[s]).Options.model_fields]
            if not owners:
                valid = {s: sorted(backend_class(s, chosen[s]).Options.model_fields) for s in STAGES}
                listing = "; ".join(f"{s} {chosen[s]}: {', '.join(v) or '-'}" for s, v in valid.items())
                raise UsageError(f"no chosen backend has an option {key!r}. Options: {listing}")
            if len(owners) > 1:
                raise UsageError(f"option {key!r} is ambiguous ({', '.join(owners)}); write STAGE.{key}=VALUE")
            stage = owners[0]
        out.setdefault(stage, {})[key] = value
    return out


def resolve_settings(overrides: dict | None = None, *, config: Path | None = None, profile: str | None = None,
                     environ: dict[str, str] | None = None) -> Settings:
    """The settings in force: defaults, then the config file, then the environment, then overrides."""
    data = read_config_file(config, profile)
    data = merge(data, read_environment(environ))
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    data = merge(data, clean)
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            raise UsageError(f"unknown setting {where!r}; settings are: {', '.join(sorted(Settings.model_fields))}") \
                from None
        raise UsageError(f"{where}: {e['msg']} (got {e.get('input')!r})") from None
