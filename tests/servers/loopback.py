"""What the small test servers share: serve a handler on 127.0.0.1 (a free port unless one is given), say
``READY <port>`` once listening, and stop quietly on Ctrl-C or terminate."""
from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
    """Serve handler on loopback until stopped, after printing READY and the port for the fixture."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
