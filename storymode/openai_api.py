"""One way to reach an OpenAI-shaped API (OpenAI, Azure OpenAI, or a local server that speaks it), shared by the
writer, the narrator and the illustrator named ``openai``: the official ``openai`` SDK, which brings typed errors,
retries with backoff that honour Retry-After, timeouts and Azure support.

The API key is read from the environment variable named by the ``api_key_env`` option when a client is made. It
goes in the request's header and nowhere else: not in options, story.json, fingerprints, logs or error messages
(``scrub`` removes it from any text that came back from the server)."""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field

from .backend import BackendOptions
from .errors import BackendError, UsageError

if TYPE_CHECKING:
    import openai

OPENAI_URL = "https://api.openai.com/v1"
NO_KEY = "no-key"  # what a local server is sent when no key is set: the SDK needs a value, and it is no secret


class EndpointOptions(BackendOptions):
    """Where an OpenAI-shaped API is and how to talk to it: the options every ``openai`` backend shares."""

    base_url: str = Field(OPENAI_URL, description="the API's /v1 URL; for Azure, the resource's endpoint "
                                                  "(https://NAME.openai.azure.com)")
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                             description="name of the environment variable holding the API key (not the key)")
    api_version: str | None = Field(None, max_length=40, description="Azure OpenAI only: the api-version "
                                    "(e.g. 2024-10-21); setting it makes this an Azure endpoint")
    deployment: str | None = Field(None, max_length=200, description="Azure OpenAI only: the deployment name "
                                   "(default: the model option)")
    timeout: float = Field(120.0, gt=0, description="seconds to wait for one reply")
    max_retries: int = Field(3, ge=0, le=10, description="retries on 429, 5xx, timeouts and refused connections "
                             "(with backoff, honouring Retry-After)")


# options that change nothing a backend makes: left out of its fingerprint (so of every cache key)
TRANSPORT_OPTIONS = ("api_key_env", "timeout", "max_retries")


def redact_url(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def api_key(options: EndpointOptions) -> str | None:
    """The key from the environment variable the options name, or None."""
    return os.environ.get(options.api_key_env) or None


def public_options(options: EndpointOptions) -> dict[str, Any]:
    """The options as a fingerprint shows them: the URL without credentials, the transport options left out."""
    shown = options.model_dump(mode="json")
    shown["base_url"] = redact_url(options.base_url)
    for name in TRANSPORT_OPTIONS:
        shown.pop(name, None)
    return shown


def scrub(text: str, options: EndpointOptions) -> str:
    """text without the key, bearer tokens or the URL's credentials (for errors and logs)."""
    key = api_key(options)
    if key and len(key) >= 4:
        text = text.replace(key, "***")
    text = re.sub(r"(?i)(bearer\s+|api-key:\s*)[A-Za-z0-9._~+/=-]{8,}", r"\1***", text)
    return text.replace(options.base_url, redact_url(options.base_url))


def make_client(options: EndpointOptions) -> openai.OpenAI:
    """An SDK client for the endpoint (AzureOpenAI when api_version is set); refused with what to set when the
    hosted API is asked for without a key. Proxies from the environment are not used, and redirects not followed."""
    import httpx
    import openai

    key = api_key(options)
    hosted = urlsplit(options.base_url).hostname == "api.openai.com" or options.api_version
    if key is None and hosted:
        raise UsageError(f"set the environment variable {options.api_key_env} to your API key "
                         "(option api_key_env names another variable)")
    http = httpx.Client(trust_env=False, follow_redirects=False,
                        timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, 10.0)))
    common: dict[str, Any] = {"timeout": options.timeout, "max_retries": options.max_retries,
                              "http_client": http}
    if options.api_version:
        return openai.AzureOpenAI(api_key=key, azure_endpoint=options.base_url, api_version=options.api_version,
                                  azure_deployment=options.deployment, **common)
    return openai.OpenAI(api_key=key or NO_KEY, base_url=options.base_url, **common)


class ContentRefused(BackendError):
    """The API refused the request on content policy (moderation): a per-item error the caller may work around."""


def explain(err: Exception, options: EndpointOptions, what: str, model: str | None = None) -> BackendError:
    """A short BackendError for an SDK error: what failed, why, and what to check; never the key."""
    import openai

    where = redact_url(options.base_url)
    body = getattr(err, "body", None)
    code = body.get("code") if isinstance(body, dict) else None
    detail = scrub(" ".join(str(getattr(err, "message", "") or err).split()), options)[:200]
    if isinstance(err, openai.AuthenticationError | openai.PermissionDeniedError):
        hint = (f"check the key in ${options.api_key_env}" if api_key(options) else
                f"set the environment variable {options.api_key_env} (option api_key_env names it)")
        return BackendError(f"{what}: the server at {where} refused the key (HTTP {err.status_code}): {hint}")
    if isinstance(err, openai.BadRequestError) and (code == "content_policy_violation"
                                                    or "content_policy_violation" in detail):
        return ContentRefused(f"{what}: refused by the API's content policy ({detail})")
    if isinstance(err, openai.NotFoundError):
        return BackendError(f"{what}: the server at {where} answered HTTP 404 ({detail}); "
                            f"is model {model!r} available there? (options base_url, model)")
    if isinstance(err, openai.RateLimitError):
        return BackendError(f"{what}: the server at {where} is rate limiting (HTTP 429) after "
                            f"{options.max_retries} retries; try again later or lower the concurrency")
    if isinstance(err, openai.APITimeoutError):
        return BackendError(f"{what}: no reply from {where} within {options.timeout:g} s "
                            f"(after {options.max_retries} retries; option timeout)")
    if isinstance(err, openai.APIConnectionError):
        return BackendError(f"{what}: nothing answered at {where} (after {options.max_retries} retries): is the "
                            "server running? (option base_url)")
    if isinstance(err, openai.APIStatusError):
        return BackendError(f"{what}: the server at {where} answered HTTP {err.status_code} ({detail})")
    return BackendError(f"{what}: {type(err).__name__}: {detail}")


PROBE_TIMEOUT_S = 2.0


def probe_endpoint(options: EndpointOptions, timeout: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """Whether the endpoint answers (one short GET of its model list), and what to set when it does not."""
    import httpx

    where = redact_url(options.base_url)
    key = api_key(options)
    hosted = urlsplit(options.base_url).hostname == "api.openai.com" or options.api_version
    if key is None and hosted:
        return False, f"set the environment variable {options.api_key_env} to your API key"
    if options.api_version:
        url = options.base_url.rstrip("/") + "/openai/models"
        headers, params = {"api-key": key or ""}, {"api-version": options.api_version}
    else:
        url = options.base_url.rstrip("/") + "/models"
        headers, params = ({"Authorization": f"Bearer {key}"} if key else {}), {}
    try:
        with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout) as client:
            status = client.get(url, headers=headers, params=params).status_code
    except httpx.ConnectError:
        return False, f"nothing answers at {where}: start the server, or set -o base_url=..."
    except httpx.TimeoutException:
        return False, f"no answer from {where} within {timeout:g} s"
    except httpx.HTTPError as err:
        return False, f"{where}: {scrub(str(err), options)[:120]}"
    if status in (401, 403):
        hint = f"check the key in ${options.api_key_env}" if key else f"set {options.api_key_env}"
        return False, f"{where} refused the key (HTTP {status}): {hint}"
    return True, f"answers at {where}"
