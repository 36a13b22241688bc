"""The OpenAI-compatible writer: Ollama, vLLM, llama.cpp server, LM Studio, a hosted API or Azure OpenAI.

    storymode make "a shy fox" --writer openai -o base_url=http://127.0.0.1:11434/v1 -o model=llama3.2

Requests go through the shared client (storymode.openai_api: the official SDK, with its retries, backoff that
honours Retry-After, timeouts and Azure support). The API key is read from the environment variable named by
``api_key_env`` when the client is made; it is sent in a header and nowhere else: not in options, story.json,
the fingerprint, logs or error messages.
"""
from __future__ import annotations

import logging
import re
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from ...errors import BackendError, UsageError
from ...openai_api import EndpointOptions, explain, public_options, redact_url, scrub
from ...story import Story
from ..base import WriteRequest, Writer
from .common import BriefsByModel, Generate, Messages, reply_schema, write_with_retries

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)
LOCAL_URL = "http://127.0.0.1:8080/v1"  # llama.cpp's server, the writer's default
ENDPOINT_PATH = "/chat/completions"  # a base_url may name the endpoint itself: the client wants the root
# 0 json_schema (OpenAI), 1 json_object + schema (llama-cpp-python's server), 2 json_object, 3 none
FORMAT_LEVELS = ("json_schema", "json_object + schema", "json_object", "none")


class OpenAIOptions(EndpointOptions):
    """Options of the OpenAI-compatible writer: the endpoint's, and how the model is asked."""

    base_url: str = Field(LOCAL_URL, description="the server's /v1 URL; for Azure, the resource's endpoint")
    model: str = "default"
    temperature: float = Field(0.8, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=16)
    json_schema: bool = Field(True, description="ask for JSON-schema structured output; falls back when refused")
    tries: int = Field(3, ge=1, le=10, description="replies to ask for before giving up on an invalid story")
    llm_briefs: bool = Field(True, description="for --from TEXT: the model writes the pictures' briefs")


class OpenAIWriter(BriefsByModel, Writer):
    """Writes stories with any OpenAI-compatible chat-completions server."""

    name = "openai"
    version = "1"
    description = "any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, LM Studio, hosted APIs, Azure)"
    Options = OpenAIOptions
    requires = ("openai",)
    extra = None
    options: OpenAIOptions

    def __init__(self, options: OpenAIOptions | None = None) -> None:
        super().__init__(options)
        self.raw_dir: Path | None = None  # where invalid replies are saved (the pipeline sets the story's build/)
        self.usage: list[dict] = []  # token counts and seconds per request, for benchmarks
        self._format_level = 0 if self.options.json_schema else 2  # an index into FORMAT_LEVELS

    # -- what the story depends on, without secrets -------------------------------------------------------------

    def fingerprint(self) -> dict:
        """Backend, version and options (URL without credentials; no key, timeout or retries; Azure's fields only
        when set, so that a story written before they existed keeps its key)."""
        shown = {k: v for k, v in public_options(self.options).items()
                 if v is not None or k not in ("api_version", "deployment")}
        return {"backend": f"{self.stage}.{self.name}", "version": self.version, "options": shown}

    def _scrub(self, text: str) -> str:
        """text without the key or the URL's credentials."""
        return scrub(text, self.options)

    @cached_property
    def client(self) -> openai.OpenAI:
        """The SDK client for the server's root URL (a base_url naming /chat/completions is cut back to it)."""
        from ...openai_api import make_client

        root = self.options.base_url.rstrip("/").removesuffix(ENDPOINT_PATH)
        return make_client(self.options.model_copy(update={"base_url": root}))

    # -- requests ----------------------------------------------------------------------------------------------

    def _params(self, msgs: Messages, request: WriteRequest | None) -> dict[str, Any]:
        """The chat-completion arguments, response_format as the server is now asked for it."""
        o = self.options
        params: dict[str, Any] = {"model": o.model, "messages": msgs, "temperature": o.temperature}
        if request is not None:
            params["seed"] = request.seed
        if o.max_tokens:
            params["max_tokens"] = o.max_tokens
        if self._format_level == 0 and request is not None:
            params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "story", "strict": False, "schema": reply_schema(request)}}
        elif self._format_level == 1 and request is not None:
            from .llama_cpp import story_schema  # bounded strings: tiny models cannot loop or write raw newlines
            params["response_format"] = {"type": "json_object", "schema": story_schema(request)}
        elif self._format_level <= 2:
            params["response_format"] = {"type": "json_object"}
        return params

    def chat(self, msgs: Messages, request: WriteRequest | None = None) -> str:
        """The assistant's reply text for msgs; a server that refuses the response_format is asked more simply
        (not counted as a retry); BackendError with a clear message otherwise."""
        import openai

        what = f"the openai writer (model {self.options.model!r})"
        while True:
            params = self._params(msgs, request)
            started = time.perf_counter()
            try:
                completion = self.client.chat.completions.create(**params)
            except openai.APIStatusError as err:
                if "response_format" in params and _refuses_format(err):
                    log.info("%s refused response_format %s (HTTP %d); asking more simply",
                             redact_url(self.options.base_url), FORMAT_LEVELS[self._format_level], err.status_code)
                    self._format_level += 1
                    continue
                raise explain(err, self.options, what, model=self.options.model) from None
            except openai.OpenAIError as err:
                raise explain(err, self.options, what, model=self.options.model) from None
            except ValueError as err:  # the SDK read a 200 reply that is not JSON at all
                raise BackendError(self._not_completion(what, str(err))) from None
            text = _content(completion)
            if text is None:
                raise BackendError(self._not_completion(what, repr(completion)))
            self._record_usage(completion, time.perf_counter() - started)
            return text

    def _not_completion(self, what: str, detail: str) -> str:
        """The message for an HTTP 200 reply that holds no chat completion."""
        snippet = self._scrub(" ".join(detail.split()))[:160]
        return (f"{what}: the server at {redact_url(self.options.base_url)} answered HTTP 200 but not an OpenAI "
                f"chat completion ({snippet}); is base_url the server's /v1 URL?")

    def _record_usage(self, completion: Any, seconds: float) -> None:
        """Token counts and seconds of one reply, for benchmarks."""
        usage = getattr(completion, "usage", None)
        self.usage.append({"seconds": seconds, "completion_tokens": getattr(usage, "completion_tokens", None),
                           "prompt_tokens": getattr(usage, "prompt_tokens", None)})

    # -- the writer interface ---------------------------------------------------------------------------------

    def write(self, request: WriteRequest) -> Story:
        """A story for request.prompt; invalid replies are repaired or asked for again."""
        if not self.options.base_url.startswith(("http://", "https://")):
            raise UsageError(f"base_url must start with http:// or https:// (got {redact_url(self.options.base_url)!r})")
        return write_with_retries(lambda msgs: self.chat(msgs, request), request, tries=self.options.tries,
                                  save_raw=self.raw_dir, who=f"model {self.options.model!r} at "
                                  f"{redact_url(self.options.base_url)}", scrub=self._scrub)

    def brief_generate(self, request: WriteRequest) -> Generate:
        """generate(messages) for the briefs: the chat without a story schema."""
        return lambda msgs: self.chat(msgs, None)

    def brief_who(self) -> str:
        """The model, as warnings about its briefs name it."""
        return f"model {self.options.model!r}"


def _refuses_format(err: openai.APIStatusError) -> bool:
    """Whether an error reply refuses the response_format: HTTP 400 or 422, or a 5xx that names it (llama-cpp-python's
    server answers 500 to json_schema)."""
    if err.status_code in (400, 422):
        return True
    try:
        body = err.response.text
    except Exception:  # noqa: BLE001 - a streamed or closed reply: judge by the message alone
        body = ""
    return err.status_code >= 500 and bool(re.search(r"response_format|json_schema", f"{err.message} {body}"))


def _content(completion: Any) -> str | None:
    """The first choice's message text, or None when the reply has none (not a chat completion)."""
    try:
        text = completion.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        return None
    return text if isinstance(text, str) else None
