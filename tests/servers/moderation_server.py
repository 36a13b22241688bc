"""A small OpenAI moderation API server for tests (stdlib only): ``POST /v1/moderations`` that scores each input by
the keywords in it, and the error shapes a real server will not make on demand.

    python tests/servers/moderation_server.py --key sk-test --log requests.jsonl

Binds 127.0.0.1 on a free port and prints ``READY <port>`` once it accepts connections. With --key, a request
whose bearer token is not that key gets HTTP 401 with a message that repeats the key it was sent (as some servers
do). Every request's path and body are appended to the log file as one JSON line (never its headers). The model
name picks the behaviour:

  (any other)  a result per input, in OpenAI's shape: every category with a score, from KEYWORDS
  always500    HTTP 500 every time
  html         HTTP 200, an HTML page
  empty        HTTP 200, a JSON object without results
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from loopback import read_json_body, serve  # beside this script (run as python tests/servers/NAME.py)

CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
              "self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence",
              "violence/graphic")
# keyword -> the scores it gives (the highest wins when several keywords are in one input)
KEYWORDS: dict[str, dict[str, float]] = {
    "dragon": {"violence": 0.35},
    "battle": {"violence": 0.4},
    "killed": {"violence": 0.65},
    "murder": {"violence": 0.9},
    "gore": {"violence": 0.85, "violence/graphic": 0.95},
    "beer": {"illicit": 0.55},
    "cocaine": {"illicit": 0.9},
    "kiss": {"sexual": 0.32},
    "sex": {"sexual": 0.95},
    "suicide": {"self-harm": 0.9, "self-harm/intent": 0.6},
    "how to": {},
    "vermin": {"hate": 0.92, "hate/threatening": 0.7, "harassment": 0.8},
}
KEY: str | None = None
LOG: Path | None = None


def scores(text: str) -> dict[str, float]:
    """Every category's score for one input: the keywords' highest, plus the combinations a real model sees."""
    lowered = text.lower()
    found = {category: 0.001 for category in CATEGORIES}
    for keyword, given in KEYWORDS.items():
        if re.search(rf"\b{re.escape(keyword)}\b", lowered):
            for category, score in given.items():
                found[category] = max(found[category], score)
    if "how to" in lowered and found["self-harm"] > 0.5:
        found["self-harm/instructions"] = 0.93
    if found["sexual"] > 0.5 and re.search(r"\b(child|\d+-year-old)\b", lowered):
        found["sexual/minors"] = 0.97
    return found


def result(text: str) -> dict:
    """One input's result as OpenAI sends it."""
    found = scores(text)
    return {"flagged": any(s >= 0.5 for s in found.values()),
            "categories": {c: s >= 0.5 for c, s in found.items()},
            "category_scores": found,
            "category_applied_input_types": {c: ["text"] for c in CATEGORIES}}


def error(message: str, code: str, kind: str = "invalid_request_error") -> bytes:
    """An OpenAI-shaped error body."""
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            models = {"object": "list", "data": [{"id": "omni-moderation-latest", "object": "model"}]}
            return self._send(200, json.dumps(models).encode())
        return self._send(404, error("not found", "not_found"))

    def do_POST(self) -> None:
        body = read_json_body(self, LOG)
        if not self.path.rstrip("/").endswith("/moderations"):
            return self._send(404, error("unknown path", "not_found"))
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if KEY is not None and sent != KEY:
            return self._send(401, error(f"Incorrect API key provided: {sent}.", "invalid_api_key"))
        if not isinstance(body, dict) or not isinstance(body.get("input"), str | list):
            return self._send(400, error("input is required", "invalid_request"))
        model = str(body.get("model", "omni-moderation-latest"))
        if model == "always500":
            return self._send(500, error("internal error", "server_error", "server_error"))
        if model == "html":
            return self._send(200, b"<html><body>502 Bad Gateway from a confused proxy</body></html>", "text/html")
        if model == "empty":
            return self._send(200, json.dumps({"id": "modr-0", "model": model}).encode())
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        reply = {"id": "modr-1", "model": model, "results": [result(str(text)) for text in inputs]}
        return self._send(200, json.dumps(reply).encode())


def main() -> None:
    global KEY, LOG
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key")
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    KEY, LOG = args.key, args.log
    serve(Handler, args.port)


if __name__ == "__main__":
    sys.exit(main())
