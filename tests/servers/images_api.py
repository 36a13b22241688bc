"""A small OpenAI Images API server for tests (stdlib + Pillow), scripted by the model name.

    python tests/servers/images_api.py --key KEY --log requests.jsonl

Binds 127.0.0.1 on a free port and prints ``READY <port>`` once it accepts connections. It speaks
``POST /v1/images/generations`` as OpenAI documents it, and Azure OpenAI's
``POST /openai/deployments/NAME/images/generations?api-version=V`` (key in the ``api-key`` header). With ``--key``
every request must carry that key (``Authorization: Bearer KEY``, or ``api-key`` on the Azure path), else HTTP 401
whose message echoes the key it got, as a careless proxy would (the client must scrub it). Every request's path,
query, headers (names in lower case) and body are appended to the log file as one JSON line. ``GET /stats`` tells
the requests per model and the most that were in flight at once; ``GET /files/NAME.png`` serves the pictures
answered as ``url``.

The models OpenAI documents check size, quality and response_format as the API does:
  gpt-image-1, gpt-image-1-mini   sizes auto, 1024x1024, 1536x1024, 1024x1536; always b64_json (response_format
                                  is an unknown parameter); quality low, medium, high, auto
  dall-e-3                        sizes 1024x1024, 1792x1024, 1024x1792; quality standard, hd; url by default
  dall-e-2                        sizes 256x256, 512x512, 1024x1024; url by default
Any other model draws at any WxH size. The part of its name before the first '-' picks a behaviour (the rest only
separates counters, e.g. "ratelimit-a" and "ratelimit-b"):
  urlonly     answers a url on this server, whatever was asked
  elsewhere   answers a url on another host
  ratelimit   HTTP 429 with Retry-After: 1 once, then as usual
  always500   HTTP 500 every time
  refuse      HTTP 400 with code content_policy_violation
  refuseeven  as refuse on every second request, else as usual
  slow        sleeps 3 s, then as usual
  truncpng    b64_json of a PNG cut in half
  notimage    b64_json of bytes that are no picture
  cutbody     a reply whose body stops before its Content-Length, then the connection closes
  hold        waits (up to 5 s) until a second request of that model is in flight, then as usual
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from loopback import serve  # beside this script (run as python tests/servers/NAME.py)

SIZES = {
    "gpt-image-1": ("auto", "1024x1024", "1536x1024", "1024x1536"),
    "gpt-image-1-mini": ("auto", "1024x1024", "1536x1024", "1024x1536"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
}
QUALITIES = {"gpt-image-1": ("low", "medium", "high", "auto"), "gpt-image-1-mini": ("low", "medium", "high", "auto"),
             "dall-e-3": ("standard", "hd"), "dall-e-2": ("standard",)}
CENTRE = (250, 200, 30)  # the disc in the middle of every picture (a test finds it after the crop)

HITS: Counter = Counter()
IN_FLIGHT: Counter = Counter()
MAX_IN_FLIGHT: Counter = Counter()
FILES: dict[str, bytes] = {}
LOCK = threading.Condition()
KEY: str | None = None
LOG: Path | None = None


def picture(width: int, height: int) -> bytes:
    """A PNG with a gradient, four coloured corners and a yellow disc in the middle."""
    from PIL import Image, ImageDraw

    img = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(img)
    w, h = width // 4, height // 4
    for (x, y), colour in zip([(0, 0), (3 * w, 0), (0, 3 * h), (3 * w, 3 * h)],
                              [(200, 30, 30), (30, 160, 60), (40, 60, 200), (160, 40, 160)]):
        draw.rectangle([x, y, x + w, y + h], fill=colour)
    r = min(width, height) // 5
    draw.ellipse([width // 2 - r, height // 2 - r, width // 2 + r, height // 2 + r], fill=CENTRE)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def error(message: str, code: str | None = None, kind: str = "invalid_request_error") -> dict:
    """An error body shaped as OpenAI's."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict | bytes, headers: dict | None = None, ctype: str = "application/json",
              length: int | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # ---------------------------------------------------------------- GET
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.endswith("/models"):
            return self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in SIZES]})
        if path == "/stats":
            with LOCK:
                return self._send(200, {"hits": dict(HITS), "max_in_flight": dict(MAX_IN_FLIGHT)})
        if path.startswith("/files/") and path[len("/files/"):] in FILES:
            return self._send(200, FILES[path[len("/files/"):]], ctype="image/png")
        self._send(404, error("not found"))

    # ---------------------------------------------------------------- POST
    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        parts = urlsplit(self.path)
        if LOG is not None:
            with LOCK, LOG.open("a", encoding="utf-8") as f:
                headers = {name.lower(): value for name, value in self.headers.items()}
                f.write(json.dumps({"path": parts.path, "query": parts.query, "headers": headers, "body": body}) + "\n")
        azure = parts.path.startswith("/openai/deployments/")
        if azure:
            if not parts.path.endswith("/images/generations") or "api-version" not in parse_qs(parts.query):
                return self._send(404, {"error": {"code": "404", "message": "Resource not found"}})
            sent = self.headers.get("api-key", "")
        else:
            if parts.path != "/v1/images/generations":
                return self._send(404, error(f"unknown path {parts.path}"))
            sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if KEY is not None and sent != KEY:
            return self._send(401, error(f"Incorrect API key provided: {sent}.", "invalid_api_key"))
        if not isinstance(body, dict) or not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return self._send(400, error("'prompt' is a required property"))
        model = str(body.get("model") or "dall-e-2")
        with LOCK:
            HITS[model] += 1
            hit = HITS[model]
            IN_FLIGHT[model] += 1
            MAX_IN_FLIGHT[model] = max(MAX_IN_FLIGHT[model], IN_FLIGHT[model])
            LOCK.notify_all()
        try:
            self._generate(model, body, hit)
        finally:
            with LOCK:
                IN_FLIGHT[model] -= 1

    def _generate(self, model: str, body: dict, hit: int) -> None:
        behaviour = model.split("-")[0] if model not in SIZES else "documented"
        if behaviour == "always500":
            return self._send(500, error("The server had an error while processing your request.", None,
                                         "server_error"))
        if behaviour == "ratelimit" and hit == 1:
            return self._send(429, error("Rate limit reached for images per minute.", "rate_limit_exceeded",
                                         "requests"), {"Retry-After": "1"})
        if behaviour == "refuse" or (behaviour == "refuseeven" and hit % 2 == 0):
            return self._send(400, error("Your request was rejected as a result of our safety system.",
                                         "content_policy_violation"))
        if behaviour == "slow":
            time.sleep(3)
        if behaviour == "hold":
            with LOCK:
                LOCK.wait_for(lambda: IN_FLIGHT[model] >= 2, timeout=5)
        if behaviour == "cutbody":
            self.close_connection = True
            return self._send(200, b'{"created": 1, "data": [{"b64_json": "iVBORw0KGgo', length=4000)
        size, problem = self._size(model, body)
        if problem:
            return self._send(400, problem)
        png = picture(*size)
        if behaviour == "truncpng":
            png = png[: len(png) // 2]
        elif behaviour == "notimage":
            png = b"<html>this is not a picture</html>"
        fmt = body.get("response_format") or ("b64_json" if model.startswith("gpt-image") or model not in SIZES
                                              else "url")
        if behaviour in ("urlonly", "elsewhere"):
            fmt = "url"
        item: dict = {}
        if fmt == "url":
            name = f"{uuid.uuid4().hex}.png"
            FILES[name] = png
            host = "images.example.invalid" if behaviour == "elsewhere" else self.headers.get("Host")
            item["url"] = f"http://{host}/files/{name}"
        else:
            item["b64_json"] = base64.b64encode(png).decode()
        if model == "dall-e-3":
            item["revised_prompt"] = "A revised: " + body["prompt"][:200]
        reply = {"created": int(time.time()), "data": [item]}
        if model.startswith("gpt-image"):
            reply.update(size=f"{size[0]}x{size[1]}", quality=body.get("quality") or "auto", output_format="png",
                         background="opaque", usage={"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210})
        self._send(200, reply)

    def _size(self, model: str, body: dict) -> tuple[tuple[int, int], dict | None]:
        """The size to draw, or an error body the way the API words it."""
        if model in SIZES:
            if model.startswith("gpt-image") and "response_format" in body:
                return (0, 0), error("Unknown parameter: 'response_format'.", "unknown_parameter")
            quality = body.get("quality")
            if quality is not None and quality not in QUALITIES[model]:
                return (0, 0), error(f"Invalid value: '{quality}'. Supported values are: "
                                     f"{', '.join(QUALITIES[model])}.", "invalid_value")
            size = body.get("size") or SIZES[model][0]
            if size not in SIZES[model]:
                return (0, 0), error(f"Invalid value: '{size}'. Supported values are: "
                                     f"{', '.join(SIZES[model])}.", "invalid_value")
            size = "1024x1024" if size == "auto" else size
        else:
            size = body.get("size") or "512x512"
        try:
            width, height = (int(x) for x in size.split("x"))
        except ValueError:
            return (0, 0), error(f"Invalid size '{size}'.", "invalid_value")
        return (width, height), None


def main() -> None:
    global KEY, LOG
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", help="the API key every request must carry")
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    KEY, LOG = args.key, args.log
    serve(Handler, args.port)


if __name__ == "__main__":
    main()
