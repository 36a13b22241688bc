"""Who the studio answers and what it lets a request do: story ids that stay under the folder, the token (a cookie
once the browser has shown it), loopback Host names without a token, same-origin CSRF checks, body limits.

The studio is a local web app, so a page on any other site the user visits can send requests to it. It refuses:
- another Host than localhost / 127.0.0.1 / [::1] when it has no token (DNS rebinding);
- any POST, PUT, PATCH or DELETE whose Origin (or Referer) is not the studio's own, or that lacks the per-process
  CSRF token the studio's pages carry in a <meta> (a foreign page cannot read it);
- a body over its route's limit;
- a story id that is not a plain name, or names anything but a real story folder directly under the folder.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..errors import UsageError
from ..service.middleware import BodyLimit, send_json
from ..service.security import loopback_host_header

STORY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
STORY_SUFFIX = ".storymode"
CSRF_HEADER = "x-studio-csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BODY = 64 * 1024  # an edit, a job request
MAX_UPLOAD_BODY = 2 * 1024 * 1024  # a new story: a text file of up to 1 MB, base64-encoded in JSON
UPLOAD_PATHS = ("/api/stories",)


class UnknownStory(UsageError):
    """A story id that is not a story folder directly under the studio's folder (answered with 404)."""


def new_secret() -> str:
    """A fresh random secret (the CSRF token, or a generated access token)."""
    return secrets.token_urlsafe(32)


def story_folder(root: Path, story_id: str) -> Path:
    """The story folder of an id: ROOT/ID.storymode, a real folder (not a link) holding story.json, directly under
    root. Anything else is UnknownStory; no path a client sends is ever used as given."""
    if not isinstance(story_id, str) or not STORY_ID.fullmatch(story_id) or story_id.endswith(STORY_SUFFIX):
        raise UnknownStory(f"no story {story_id[:80]!r}" if isinstance(story_id, str) else "no such story")
    root = Path(root).resolve()
    folder = root / f"{story_id}{STORY_SUFFIX}"
    try:
        mode = os.lstat(folder).st_mode
        story_mode = os.lstat(folder / "story.json").st_mode
    except OSError:
        raise UnknownStory(f"no story {story_id!r} in {root}") from None
    if not stat.S_ISDIR(mode) or not stat.S_ISREG(story_mode) or folder.resolve().parent != root:
        raise UnknownStory(f"no story {story_id!r} in {root}")
    return folder


def cookie_name(token: str) -> str:
    """The name of the cookie that carries this token (one per token: studios on other ports keep their own)."""
    return "storymode_studio_" + hashlib.sha256(token.encode()).hexdigest()[:12]


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of a URL, lowercased; None when it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def same_origin(headers: dict[bytes, bytes], scheme: str) -> bool:
    """Whether a request comes from a page of this studio: its Origin (else its Referer) is scheme://Host."""
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    if not host:
        return False
    own = f"{scheme}://{host}"
    origin = headers.get(b"origin")
    if origin is not None:
        return origin.decode("latin-1").strip().lower() == own
    referer = headers.get(b"referer")
    return referer is not None and origin_of(referer.decode("latin-1")) == own


def _cookies(headers: dict[bytes, bytes]) -> dict[str, str]:
    raw = headers.get(b"cookie", b"").decode("latin-1")
    out = {}
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            out[name] = value
    return out


def _equal(given: str | bytes, expected: str) -> bool:
    given_bytes = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(given_bytes, expected.encode())


class StudioGuard:
    """Pure ASGI middleware in front of the studio app: token or loopback Host, then CSRF, then body limits."""

    def __init__(self, app: Any, *, csrf: str, token: str | None = None) -> None:
        self.app = app
        self.csrf = csrf
        self.token = token
        self.cookie = cookie_name(token) if token else ""
        self.small = BodyLimit(app, MAX_BODY)
        self.large = BodyLimit(app, MAX_UPLOAD_BODY)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.token is None:
            if not loopback_host_header(headers.get(b"host", b"").decode("latin-1")):
                return await send_json(send, 421, {"detail": "this studio has no token, so it answers only to the "
                                                             "Host names localhost, 127.0.0.1 and [::1]"})
        else:
            answered = await self._check_token(scope, headers, send)
            if answered:
                return None
        if scope["method"] in UNSAFE_METHODS:
            if not same_origin(headers, scope.get("scheme", "http")):
                return await send_json(send, 403, {"detail": "refused: this request does not come from a page of "
                                                             "this studio (its Origin is another site's)"})
            if not _equal(headers.get(CSRF_HEADER.encode(), b""), self.csrf):
                return await send_json(send, 403, {"detail": "refused: the request lacks this studio's CSRF token; "
                                                             "reload the page and try again"})
        limit = self.large if scope["path"] in UPLOAD_PATHS else self.small
        return await limit(scope, receive, send)

    async def _check_token(self, scope: dict, headers: dict[bytes, bytes], send: Any) -> bool:
        """Let a request through with the token (a cookie, a bearer header, or ?token= once: then answered here
        with the cookie and a redirect to the same URL without it); True when it was answered here."""
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [value for name, value in query if name == "token"]
        if given and scope["method"] == "GET" and _equal(given[0], self.token or ""):
            rest = urlencode([(name, value) for name, value in query if name != "token"])
            path = "/" + scope["path"].lstrip("/")  # never "//host": a redirect stays on this studio
            location = path + (f"?{rest}" if rest else "")
            cookie = f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/"
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode()),
                                    (b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"),
                                    (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return True
        scheme, _, bearer = headers.get(b"authorization", b"").partition(b" ")
        if _equal(_cookies(headers).get(self.cookie, ""), self.token or "") or (
                scheme.lower() == b"bearer" and _equal(bearer.strip(), self.token or "")):
            return False
        await send_json(send, 401, {"detail": "this studio needs its token: open the address `storymode studio` "
                                              "printed (the one ending in ?token=...)"})
        return True


# every page and file the studio serves: nothing from elsewhere, no inline script, no framing
PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                               "script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
# a file made from a story (the storybook page): downloaded, and sandboxed should a browser show it anyway
DOWNLOAD_HEADERS = {"content-security-policy": "sandbox", "x-content-type-options": "nosniff"}
