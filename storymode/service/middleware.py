"""Pure ASGI middleware in front of the app: a body size limit, and a bearer token or loopback Host names only."""
from __future__ import annotations

import hmac
import json
from typing import Any

from .security import loopback_host_header


# a body up to this size over the limit is still read (and dropped) before the 413: a server that closes with unread
# data resets the connection, and the client may lose the answer; anything bigger is cut off unread
DRAIN_MAX = 16 * 1024 * 1024


class BodyLimit:
    """Pure ASGI middleware: a request body over `limit` bytes gets 413, by Content-Length or while it streams
    (chunked); the body is read here, up to the limit, and handed on whole."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        try:
            declared = None if length is None else int(length)
        except ValueError:
            declared = DRAIN_MAX + 1
        too_big = declared is not None and declared > self.limit
        body = None if too_big else await read_body(receive, self.limit)
        if body is None:
            if declared is None or declared <= DRAIN_MAX:
                await drain(receive, DRAIN_MAX)
            return await send_json(send, 413, {"detail": f"the request body is over {self.limit:,} bytes"},
                                    [(b"connection", b"close")])
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def drain(receive: Any, most: int) -> None:
    """Read and drop what is left of a request body, up to most bytes."""
    seen = 0
    while seen <= most:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def read_body(receive: Any, limit: int) -> bytes | None:
    """The whole request body, or None once it goes over limit bytes."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing more will come
            return b"".join(chunks)
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class BearerAuth:
    """Pure ASGI middleware: every request needs `Authorization: Bearer TOKEN` (compared in constant time)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
            return await send_json(send, 401, {"detail": "missing or wrong bearer token"},
                                    [(b"www-authenticate", b"Bearer")])
        return await self.app(scope, receive, send)


class LoopbackHost:
    """Pure ASGI middleware for a service without a token: only the Host names localhost, 127.0.0.1 and [::1]
    (any port) are answered, so a web page cannot reach the service through DNS rebinding; others get 421."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if not loopback_host_header(host):
            return await send_json(send, 421, {"detail": "this service has no token, so it answers only to the "
                                                          "Host names localhost, 127.0.0.1 and [::1]"})
        return await self.app(scope, receive, send)


async def send_json(send: Any, status: int, body: dict, headers: list | None = None) -> None:
    """Answer with a JSON body (the middlewares answer before the app does)."""
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})

