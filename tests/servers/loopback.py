"""What the small test servers share: serve a handler on 127.0.0.1 (a free port unless one is given), say
``READY <port>`` once listening, and stop quietly on Ctrl-C or terminate; read a request's JSON body and log it."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_LOG_LOCK = threading.Lock()


def read_json_body(handler: BaseHTTPRequestHandler, log: Path | None, **also: Any) -> Any:
    """The request's JSON body (None when it is not JSON), appended to log as one JSON line: the path, what also
    gives (its headers, its query...), and the body."""
    raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if log is not None:
        with _LOG_LOCK, log.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"path": handler.path, **also, "body": body}) + "\n")
    return body


def serve(handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
    """Serve handler on loopback until stopped, after printing READY and the port for the fixture."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
