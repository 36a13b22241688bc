"""Settings: built-in defaults < storymode.toml (and a profile in it) < STORYMODE_* environment < flags.

Trust (SECURITY.md): flags, keyword arguments, the environment and the user's own config folder speak for the user.
A storymode.toml found in the current folder (or named by --config outside that folder) is data, like a gallery
example file: it may not turn on code execution, choose where an API key is sent, or name a path outside its
folder, unless the user passes --trust-config (``trusting()`` in Python).
"""
from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import StorymodeError, UsageError, describe_error, error_location, shown_value
from .outputs.base import ExportName, PageSize
from .outputs.formats import parse_formats
from .registry import DEFAULTS, STAGES
from .story import MAX_SCENES
from .timeline import ASPECTS, RESOLUTIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "storymode.toml"
ENV_PREFIX = "STORYMODE_"
TRUST_FLAG = "--trust-config"
MAX_CONFIG_BYTES = 1_000_000  # a settings or example file is a few hundred bytes; this bounds the parse
MAX_DEPTH = 16  # tables and arrays inside each other; deeper is refused before anything walks it
CODE_SWITCHES = ("trust_remote_code",)  # backend options that let a model folder run its own Python code
KEY_ROUTES = ("base_url", "api_key_env")  # backend options that decide which key goes to which server
_OPTION = re.compile(r"^(?:(writer|narrator|illustrator|composer)\.)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_DRIVE = re.compile(r"^[A-Za-z]:")
_TRUSTED: ContextVar[bool] = ContextVar("storymode_trust_config", default=False)


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
    aspect: Literal[tuple(ASPECTS)] = "16:9"  # type: ignore[valid-type]
    resolution: Literal[tuple(RESOLUTIONS)] = "720p"  # type: ignore[valid-type]
    fps: Literal[24, 25, 30] = 30
    music: str | None = Field(None, description="an audio file played under the narration, ducked by the voice")
    align: Literal["auto", "on", "off"] = Field("auto", description="word timings by Whisper alignment "
                                                "(auto: when the [align] extra is installed)")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    export: tuple[ExportName, ...] = Field((), description="files made besides the video and the storybook page, under "
                                    "the story folder's exports/: epub, pdf, otio, fcpxml, kdenlive, html, or all")
    page_size: PageSize = Field("a4", description="the PDF book's trim: a4, letter (portrait) or square (8.5 in)")
    screen: tuple[str, ...] = Field(("offline",), min_length=1, max_length=8,
                                    description="the text screens that check the prompt, the text and the story "
                                                "for the audience: offline, moderation, or a plugin's")
    screen_options: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                                      description="options by screen, e.g. [screen_options.moderation]")
    credentials: bool = Field(True, description="C2PA Content Credentials and the IPTC/XMP AI fields in every "
                                                "picture and video")
    sign_cert: str | None = Field(None, max_length=4096, description="your signing certificate chain (PEM); "
                                  "default: a local chain made once in the user config folder")
    sign_key: str | None = Field(None, max_length=4096, description="the private key (PEM) of sign_cert")
    ai_notice: bool = Field(True, description="the end card says the story was made with AI, and by which backends")

    @field_validator("screen", mode="before")
    @classmethod
    def _screen_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("export", mode="before")
    @classmethod
    def _known_formats(cls, value: Any) -> tuple[str, ...]:
        try:
            return parse_formats(value)
        except UsageError as err:
            raise ValueError(str(err)) from None

    @field_validator("options")
    @classmethod
    def _known_stages(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        unknown = [stage for stage in value if stage not in STAGES]
        if unknown:
            raise ValueError(f"[options.{unknown[0]}] names no stage; the stages are: {', '.join(STAGES)}")
        return value

    def backend(self, stage: str) -> str:
        """The backend name chosen for a stage."""
        return str(getattr(self, stage))


# ---------------------------------------------------------------- errors
def as_toml(value: Any, limit: int = 60) -> str:
    """A value as it is written in TOML (true, "text", 3), cut to limit characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _explain(err: ValidationError, source: str | None) -> UsageError:
    e = err.errors()[0]
    prefix = f"{source}: " if source else ""
    if e["type"] == "extra_forbidden":
        where = error_location(e)
        fields = ", ".join(sorted(Settings.model_fields))
        return UsageError(f"{prefix}unknown setting {where!r}; settings are: {fields}")
    return UsageError(prefix + describe_error(e))


def _check(data: dict, source: str | None) -> None:
    try:
        Settings.model_validate(data)
    except ValidationError as err:
        raise _explain(err, source) from None


# ---------------------------------------------------------------- reading files
def _depth(value: Any) -> int:
    """How deeply tables and arrays nest in value (walked without recursion; stops past MAX_DEPTH)."""
    deepest, stack = 0, [(value, 0)]
    while stack and deepest <= MAX_DEPTH:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def load_toml(path: Path) -> dict:
    """A small TOML file as a dict; UsageError naming the file when it is too big, not UTF-8, invalid or too deep."""
    try:
        with Path(path).open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise UsageError(f"{path}: cannot be read ({err.strerror or err})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise UsageError(f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes; a settings file is small")
    too_deep = f"{path}: tables and arrays nest more than {MAX_DEPTH} deep"
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path}: not valid TOML: {err}") from None
    except RecursionError:
        raise UsageError(too_deep) from None
    if _depth(data) > MAX_DEPTH:
        raise UsageError(too_deep)
    return data


def user_config_path() -> Path:
    """The user's own settings file: storymode.toml in the platform's user config folder (trusted)."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("storymode")) / CONFIG_NAME


def is_users_own(path: Path) -> bool:
    """True when path lies in the user's config folder (compared as written, so a symlinked dotfile still counts)."""
    own = Path(os.path.abspath(user_config_path().parent))
    return Path(os.path.abspath(path)).is_relative_to(own)


def find_config(path: Path | None) -> Path | None:
    """The settings file in force: path when given, else ./storymode.toml, else the user's own; None if none."""
    if path is not None:
        if not Path(path).is_file():
            raise UsageError(f"config file {path} does not exist")
        return Path(path)
    return next((p for p in (Path.cwd() / CONFIG_NAME, user_config_path()) if p.is_file()), None)


def _profiles(data: dict, source: str) -> dict[str, dict]:
    """Pop and check the [profiles.NAME] tables: each must be a table of settings."""
    profiles = data.pop("profiles", {})
    if not isinstance(profiles, dict):
        raise UsageError(f"{source}: profiles must be tables [profiles.NAME] of settings "
                         f"(got {shown_value(profiles)})")
    for name, table in profiles.items():
        if not isinstance(table, dict):
            raise UsageError(f"{source}: [profiles] {name} must be a table of settings, written "
                             f"[profiles.{name}] (got {shown_value(table)})")
        _check(table, f"{source} [profiles.{name}]")
    return profiles


def read_config_file(path: Path | None, profile: str | None = None) -> dict:
    """Settings from a TOML file: top-level keys, [options.STAGE] tables, and [profiles.NAME] overrides."""
    path = find_config(path)
    if path is None:
        if profile:
            raise UsageError(f"profile {profile!r} asked for, but there is no {CONFIG_NAME}")
        return {}
    data = load_toml(path)
    profiles = _profiles(data, str(path))
    _check(data, str(path))
    if profile:
        if profile not in profiles:
            raise UsageError(f"{path} has no profile {profile!r}; profiles: {', '.join(profiles) or '(none)'}")
        data = merge(data, profiles[profile])
        _check(data, f"{path} [profiles.{profile}]")
    return data


def read_environment(environ: dict[str, str] | None = None) -> dict:
    """Settings from STORYMODE_* variables (STORYMODE_NARRATOR=hibari, STORYMODE_SCENES=8, ...)."""
    environ = dict(os.environ if environ is None else environ)
    data: dict[str, Any] = {}
    for field in Settings.model_fields:
        if field in ("options", "screen_options"):
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


# ---------------------------------------------------------------- trust
@contextmanager
def trusting(trust: bool = True) -> Iterator[None]:
    """Inside the block every config file counts as the user's own (what --trust-config does)."""
    token = _TRUSTED.set(_TRUSTED.get() or bool(trust))
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def trusted_now() -> bool:
    """True inside trusting() (the user passed --trust-config)."""
    return _TRUSTED.get()


def leaves_folder(value: str, base: Path) -> bool:
    """True when a path written in a file in base reaches outside it: absolute, ~, a '..' part, or a link out."""
    if value.startswith(("/", "\\", "~")) or _DRIVE.match(value) or ".." in re.split(r"[\\/]", value):
        return True
    target = base / value
    if not os.path.lexists(target):
        return False
    try:
        return not target.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError):  # a link loop
        return True


def refuse(source: str, setting: str, what: str, hint: str) -> UsageError:
    """The one-line refusal: the file, the setting, why, and the way out."""
    return UsageError(f"{source}: {setting} {what}; {hint}")


def own_config_hint() -> str:
    """The way out for a refused setting of a config file."""
    return f"set it in your own config ({user_config_path()}), give it as a flag, or pass {TRUST_FLAG}"


def _leaves(values: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every value in a table that is not a table, and for each item of its arrays."""
    if isinstance(values, dict):
        for key, value in values.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
        return
    yield prefix, values
    if isinstance(values, list):
        for index, item in enumerate(values):
            yield from _leaves(item, f"{prefix}[{index}]")


def _key_defaults(stage: str, backend: str) -> dict[str, Any]:
    from .registry import backend_class

    try:
        fields = backend_class(stage, backend).Options.model_fields
    except StorymodeError:
        return {}
    return {k: f.default for k, f in fields.items() if k in KEY_ROUTES}


def _check_key_route(stage: str, mine: dict, effective: Settings, source: str, hint: str,
                     environ: Mapping[str, str] | None) -> None:
    """Refuse a file's base_url / api_key_env when together they send a key to a server other than the default."""
    touched = [k for k in KEY_ROUTES if k in mine]
    if not touched:
        return
    defaults = _key_defaults(stage, effective.backend(stage))
    chosen = effective.options.get(stage, {})
    url, var = chosen.get("base_url", defaults.get("base_url")), chosen.get("api_key_env", defaults.get("api_key_env"))
    env = os.environ if environ is None else environ
    if url == defaults.get("base_url", object()) or not (isinstance(var, str) and env.get(var)):
        return
    raise refuse(source, f"[options.{stage}] {' and '.join(touched)}",
                 f"would send the key in ${var} to a server other than the default; a file that is not your own "
                 "cannot choose where a key goes", hint)


def check_untrusted(data: dict, source: str, base: Path, effective: Settings, *, hint: str,
                    environ: Mapping[str, str] | None = None) -> None:
    """Refuse what a file that is not the user's own may not do: run code, route keys, reach outside base."""
    options = data.get("options") or {}
    for stage, values in options.items():
        for key, value in _leaves(values, ""):
            if key.rsplit(".", 1)[-1].split("[")[0] in CODE_SWITCHES and value:
                raise refuse(source, f"[options.{stage}] {key} = {as_toml(value)}",
                             "would run Python code that comes with the model; a file that is not your own "
                             "cannot turn it on", hint)
            if key not in KEY_ROUTES and isinstance(value, str) and leaves_folder(value, base):
                raise refuse(source, f"[options.{stage}] {key} = {as_toml(value)}",
                             f"names a path outside the file's folder ({base})", hint)
        _check_key_route(stage, values if isinstance(values, dict) else {}, effective, source, hint, environ)
    for name in ("music", "sign_cert", "sign_key"):
        value = data.get(name)
        if isinstance(value, str) and leaves_folder(value, base):
            raise refuse(source, f"{name} = {as_toml(value)}", f"names a path outside the file's folder ({base})",
                         hint)
    for screen, values in (data.get("screen_options") or {}).items():
        routed = [k for k in KEY_ROUTES if isinstance(values, dict) and k in values]
        if routed:
            raise refuse(source, f"[screen_options.{screen}] {' and '.join(routed)}",
                         "would choose where the text and an API key are sent; a file that is not your own cannot",
                         hint)


# ---------------------------------------------------------------- -o KEY=VALUE
def parse_option(text: str) -> tuple[str | None, str, Any]:
    """'narrator.threads=2' or 'threads=2' -> (stage or None, key, value parsed as JSON when it can be)."""
    m = _OPTION.match(text)
    if not m:
        raise UsageError(f"backend option {text!r} is not KEY=VALUE or STAGE.KEY=VALUE")
    stage, key, raw = m.groups()
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = raw
    return stage, key, value


def looks_like_option(text: str) -> bool:
    """True when an -o value is a backend option (KEY=VALUE) rather than an output path."""
    return bool(_OPTION.match(text))


def check_video_path(out: Path) -> Path:
    """An output video path (-o of make and compose): NAME.mp4, not '-', not a bare '.mp4', not another format."""
    if str(out) == "-":
        raise UsageError("-o -: the video cannot go to standard output; give a file name ending in .mp4")
    if out.name.lower() == ".mp4":
        raise UsageError(f"the output {out} has no name before .mp4; give NAME.mp4")
    if out.suffix.lower() != ".mp4":
        raise UsageError(f"the output {out} must end in .mp4")
    return out


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


def with_options(settings: Settings, placed: dict[str, dict[str, Any]]) -> Settings:
    """The settings with backend options added (placed by place_options), validated like any other."""
    try:
        return Settings.model_validate(merge(settings.model_dump(), {"options": placed}))
    except ValidationError as err:
        raise _explain(err, None) from None


# ---------------------------------------------------------------- all together
def resolve_settings(overrides: dict | None = None, *, config: Path | None = None, profile: str | None = None,
                     environ: dict[str, str] | None = None, trust_config: bool = False) -> Settings:
    """The settings in force: defaults, then the config file, then the environment, then overrides.

    A config file outside the user's config folder is data: check_untrusted refuses its dangerous settings unless
    trust_config is true or the call runs inside trusting().
    """
    path = find_config(config)
    data = read_config_file(path, profile)
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    _check(clean, None)
    try:
        settings = Settings.model_validate(merge(merge(data, read_environment(environ)), clean))
    except ValidationError as err:
        raise _explain(err, None) from None
    if path is not None and not (trust_config or trusted_now() or is_users_own(path)):
        check_untrusted(data, str(path), path.parent, settings, hint=own_config_hint(), environ=environ)
    return settings
