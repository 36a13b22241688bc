"""The OpenAI-compatible HTTP writer: Ollama, vLLM, llama.cpp server, LM Studio or a hosted API.

    storymode make "a shy fox" --writer openai -o base_url=http://127.0.0.1:11434/v1 -o model=llama3.2

The API key is read from the environment variable named by ``api_key_env`` when a request is made; it is sent in
the Authorization header and nowhere else: not in options, story.json, the fingerprint, logs or error messages.
"""
from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field

from ...backend import BackendOptions
from ...errors import BackendError, UsageError
from ...story import Story
from ..base import WriteRequest, Writer
from .common import BriefsByModel, Generate, Messages, reply_schema, write_with_retries

log = logging.getLogger(__name__)
RETRY_AFTER_MAX = 30.0


class OpenAIOptions(BackendOptions):
    """Options of the OpenAI-compatible HTTP writer."""

    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "default"
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                             description="name of the environment variable holding the API key (not the key)")
    timeout: float = Field(120.0, gt=0, description="seconds to wait for one reply")
    max_retries: int = Field(3, ge=0, le=10, description="HTTP retries on 429, 5xx, timeouts, refused connections")
    backoff: float = Field(1.0, ge=0, le=60, description="first wait between HTTP retries, doubled each time")
    temperature: float = Field(0.8, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=16)
    json_schema: bool = Field(True, description="ask for JSON-schema structured output; falls back when refused")
    tries: int = Field(3, ge=1, le=10, description="replies to ask for before giving up on an invalid story")
    llm_briefs: bool = Field(True, description="for --from TEXT: the model writes the pictures' briefs")


def redact_url(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


class OpenAIWriter(BriefsByModel, Writer):
    """Writes stories with any OpenAI-compatible chat-completions server."""

    name = "openai"
    version = "1"
    description = "any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, LM Studio, hosted APIs)"
    Options = OpenAIOptions
    requires = ("httpx",)
    extra = None

    def __init__(self, options: OpenAIOptions | None = None) -> None:
        super().__init__(options)
        self.raw_dir: Path | None = None  # where invalid replies are saved (the pipeline sets the story's build/)
        self.usage: list[dict] = []  # token counts and seconds per request, for benchmarks
        # 0 json_schema (OpenAI), 1 json_object + schema (llama-cpp-python's server), 2 json_object, 3 none
        self._format_level = 0 if self.options.json_schema else 2

    # -- what the story depends on, without secrets -------------------------------------------------------------

    def fingerprint(self) -> dict:
        """Backend, version and options (URL without credentials; the key is never an option)."""
        fp = super().fingerprint()
        fp["options"]["base_url"] = redact_url(self.options.base_url)
        for key in ("timeout", "max_retries", "backoff", "api_key_env"):
            fp["options"].pop(key, None)  # they do not change the story
        return fp

    def _key(self) -> str | None:
        return os.environ.get(self.options.api_key_env) or None

    def _scrub(self, text: str) -> str:
        key = self._key()
        if key and len(key) >= 4:
            text = text.replace(key, "***")
        text = re.sub(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}", r"\1***", text)
        return text.replace(self.options.base_url, redact_url(self.options.base_url))

    @property
    def url(self) -> str:
        """The chat-completions endpoint."""
        base = self.options.base_url.rstrip("/")
        return base if base.endswith("/chat/completions") else base + "/chat/completions"

    # -- HTTP --------------------------------------------------------------------------------------------------

    def _payload(self, msgs: Messages, request: WriteRequest | None) -> dict:
        o = self.options
        payload: dict = {"model": o.model, "messages": msgs, "temperature": o.temperature, "stream": False}
        if request is not None:
            payload["seed"] = request.seed
        if o.max_tokens:
            payload["max_tokens"] = o.max_tokens
        if self._format_level == 0 and request is not None:
            payload["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "story", "strict": False, "schema": reply_schema(request)}}
        elif self._format_level == 1 and request is not None:
            from .llama_cpp import story_schema # bounded strings: tiny models cannot loop or write raw newlines
            payload["response_format"] = {"type": "json_object", "schema": story_schema(request)}
        elif self._format_level <= 2:
            payload["response_format"] = {"type": "json_object"}
        return payload

    def chat(self, msgs: Messages, request: WriteRequest | None = None) -> str:
        """The assistant's reply text for msgs, with retries; BackendError with a clear message otherwise."""
        import httpx

        o = self.options
        where = redact_url(self.url)
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "storymode"}
        key = self._key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        timeout = httpx.Timeout(o.timeout, connect=min(o.timeout, 10.0))
        failures: list[str] = []
        attempt = 0
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            while True:
                payload = self._payload(msgs, request)
                wait = o.backoff * (2 ** attempt)
                t0 = time.perf_counter()
                try:
                    resp = client.post(self.url, json=payload, headers=headers)
                except httpx.ConnectError:
                    failures.append("nothing is listening there (connection refused)")
                    resp = None
                except httpx.TimeoutException:
                    failures.append(f"no reply within {o.timeout:g} s (option timeout)")
                    resp = None
                except httpx.HTTPError as err:
                    failures.append(f"{type(err).__name__}: {self._scrub(str(err))[:200]}")
                    resp = None
                if resp is not None:
                    status = resp.status_code
                    refused = status in (400, 422) or (status >= 500 and re.search(
                        r"response_format|json_schema", resp.text or ""))
                    if refused and "response_format" in payload:
                        self._format_level += 1
                        kind = payload["response_format"]["type"]
                        log.info("%s refused response_format %s (HTTP %d); asking more simply", where, kind, status)
                        continue  # not counted as a retry: the same request, simpler
                    if status in (401, 403):
                        hint = (f"check the key in ${o.api_key_env}" if key else
                                f"set the environment variable {o.api_key_env} (option api_key_env names it)")
                        raise BackendError(f"the server at {where} refused the request (HTTP {status}): {hint}")
                    if status == 429 or status >= 500:
                        failures.append(f"HTTP {status}" + (" (rate limited)" if status == 429 else "") +
                                        self._snippet(resp.text))
                        after = resp.headers.get("retry-after", "")
                        if re.fullmatch(r"\d+(\.\d+)?", after.strip()):
                            wait = min(float(after), RETRY_AFTER_MAX)
                    elif status >= 400:
                        raise BackendError(f"the server at {where} answered HTTP {status}{self._snippet(resp.text)}"
                                           + (f"; is model {o.model!r} available there?" if status == 404 else ""))
                    else:
                        try:
                            body = resp.json()
                            text = body["choices"][0]["message"]["content"]
                            if not isinstance(text, str):
                                raise TypeError("content is not text")
                        except (ValueError, KeyError, IndexError, TypeError):
                            failures.append(f"HTTP {status} but not an OpenAI chat completion" +
                                            self._snippet(resp.text))
                        else:
                            usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
                            self.usage.append({"seconds": time.perf_counter() - t0,
                                               "completion_tokens": usage.get("completion_tokens"),
                                               "prompt_tokens": usage.get("prompt_tokens")})
                            return text
                if attempt >= o.max_retries:
                    break
                log.info("%s: %s; retrying in %.1f s", where, failures[-1], wait)
                time.sleep(wait)
                attempt += 1
        tried = f"{len(failures)} tr{'y' if len(failures) == 1 else 'ies'}"
        raise BackendError(f"the OpenAI-compatible server at {where} failed after {tried}: {failures[-1]}. "
                           f"Is it running, and is model {o.model!r} loaded? (options base_url, model, timeout)")

    def _snippet(self, text: str) -> str:
        text = self._scrub(" ".join((text or "").split()))[:160]
        return f": {text!r}" if text else ""

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
