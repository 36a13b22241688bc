"""The request and response models of the service (its OpenAPI spec), built from storymode's own Settings."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..config import Settings
from .limits import Limits

# server paths and model locations come from the server's own config; exports are made with `storymode export` on
# the server's story folders (the service's results are the video, its captions, story.json and the storybook page)
# and screening, credentials and the AI notice are the operator's to set, not a client's to turn off
NOT_FROM_CLIENTS = {"options", "music", "export", "page_size", "screen", "screen_options", "credentials",
                    "sign_cert", "sign_key", "ai_notice"}


def settings_model(limits: Limits | None = None) -> type[BaseModel]:
    """The settings a client may send: every Settings field but music and backend options (those name files
    and models on the server), with the backends that can run here as choices, and scenes and resolution
    within this server's limits (storymode's own when none are given)."""
    from ..registry import STAGES, names

    fields: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        if name in NOT_FROM_CLIENTS:
            continue
        annotation: Any = info.annotation
        bounds = field_bounds(info)
        if name in STAGES:
            usable = [n for n in names(name) if _usable(name, n)] or names(name)
            annotation = Literal[tuple(usable)]  # type: ignore[valid-type]
        elif limits is not None and name == "scenes":
            bounds["le"] = min(bounds.get("le", limits.scenes), limits.scenes)
        elif limits is not None and name == "resolution":
            annotation = Literal[limits.resolutions()]  # type: ignore[valid-type]
        fields[name] = (annotation | None, Field(None, description=info.description,
                                                  json_schema_extra=None, **bounds))
    return create_model("StorySettings", __config__=ConfigDict(extra="forbid"), **fields)


def _usable(stage: str, name: str) -> bool:
    """Whether a backend can run on this server (only those are offered to clients)."""
    from ..registry import backend_class

    try:
        return backend_class(stage, name).usable()[0]
    except Exception:  # noqa: BLE001 - a broken plugin is simply not offered
        return False


def field_bounds(info: Any) -> dict[str, Any]:
    """The numeric and length bounds of a model field, as Field() keyword arguments."""
    out: dict[str, Any] = {}
    for m in info.metadata:
        for key in ("ge", "le", "gt", "lt", "min_length", "max_length"):
            if getattr(m, key, None) is not None:
                out[key] = getattr(m, key)
    return out


def request_model(limits: Limits | None = None) -> type[BaseModel]:
    """The body of POST /stories: a prompt or a text (exactly one), an optional title, settings; a prompt up to
    storymode's MAX_PROMPT, a text up to the server's limit (storymode's MAX_TEXT_BYTES when none is given)."""
    from ..pipeline import MAX_PROMPT, MAX_TEXT_BYTES

    settings = settings_model(limits)
    common: dict[str, Any] = {"title": (str | None, Field(None, min_length=1, max_length=120,
                                                            description="title (for a text)")),
                              "settings": (settings | None, Field(None, description="storymode settings"))}
    words = r"\w"  # at least one letter or digit: an all-blank prompt is refused by the schema itself
    prompt = create_model("PromptRequest", __config__=ConfigDict(extra="forbid"),
                          prompt=(str, Field(min_length=1, max_length=MAX_PROMPT, pattern=words,
                                             description="what the story is about")), **common)
    text_max = min(limits.text, MAX_TEXT_BYTES) if limits is not None else MAX_TEXT_BYTES
    text = create_model("TextRequest", __config__=ConfigDict(extra="forbid"),
                        text=(str, Field(min_length=1, max_length=text_max, pattern=words,
                                         description="your own story text")), **common)
    return prompt | text  # type: ignore[return-value]


class StageProgress(BaseModel):
    """One stage of a job: running or done, steps done of total, how many came from the cache, seconds."""

    state: Literal["running", "done"]
    done: int = 0
    total: int = 0
    cached: int = 0
    seconds: float = 0.0


class JobStatus(BaseModel):
    """A job as clients see it: status, times, per-stage progress, error or result, and links when done."""

    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    created: str
    started: str | None = None
    finished: str | None = None
    stages: dict[str, StageProgress] = Field(default_factory=dict)
    error: str | None = None
    restarts: int = 0
    result: dict[str, Any] | None = None
    links: dict[str, str] = Field(default_factory=dict)


class Submitted(BaseModel):
    """The answer to POST /stories: the new job's id, status and URL."""

    id: str
    status: str
    url: str


class ErrorBody(BaseModel):
    """Every error answer: one message."""

    detail: str

