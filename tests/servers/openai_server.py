"""A small OpenAI-compatible chat-completions server for tests (stdlib only), scripted by the model name.

    python tests/servers/openai_server.py --log requests.jsonl

Binds 127.0.0.1 on a free port and prints ``READY <port>`` once it accepts connections. Every request's path,
headers and body are appended to the log file as one JSON line. The part of the model name before the first '-'
picks the behaviour (the rest only separates counters, e.g. "flaky-a" and "flaky-b"):

  ok         a valid story (compact JSON) written by storymode's planner from the prompt's <idea> (real content)
  fenced     the same story in a ```json fence with chatter around it
  inject     a story whose lines also recite the system prompt and "As an AI..." chatter
  garbage    a chat completion whose content is not JSON
  badbody    HTTP 200 whose body is not JSON at all
  flaky      HTTP 500 twice, then as ok
  always500  HTTP 500 every time
  slow       sleeps 5 s, then as ok
  ratelimit  HTTP 429 with Retry-After: 1 once, then as ok
  noschema   HTTP 400 when response_format is json_schema, else as ok
  gory       the first story has a violent line not for kids; asked again (the rule restated), as ok
  alwaysgory every story has that violent line
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from loopback import read_json_body, serve  # beside this script (run as python tests/servers/NAME.py)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

COUNTS: Counter = Counter()
LOCK = threading.Lock()
LOG: Path | None = None


def story_json(msgs: list[dict]) -> dict:
    """A compact story for the conversation's first user message, by the planner."""
    from storymode.writers.base import WriteRequest
    from storymode.writers.planner.writer import PlannerWriter

    user = next((m["content"] for m in msgs if m.get("role") == "user"), "")
    idea = re.search(r"<idea>(.*?)</idea>", user, re.S)
    scenes = re.search(r"exactly (\d+) scenes", user + " ".join(m.get("content", "") for m in msgs))
    prompt = (idea.group(1) if idea else "a little fox").strip() or "a little fox"
    story = PlannerWriter().write(WriteRequest(prompt=prompt, scenes=int(scenes.group(1)) if scenes else 3))
    return {"title": story.title,
            "characters": [{"id": c.id, "name": c.name, "kind": c.kind, "description": c.description}
                           for c in story.characters],
            "scenes": [{"lines": [{"speaker": ln.speaker, "text": ln.text} for ln in sc.lines],
                        "brief": sc.brief.model_dump()} for sc in story.scenes]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _completion(self, content: str) -> None:
        body = {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": "test",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": max(1, len(content) // 4),
                          "total_tokens": 100 + len(content) // 4}}
        self._send(200, json.dumps(body).encode())

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, json.dumps({"object": "list", "data": [{"id": "ok", "object": "model"}]}).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self) -> None:
        body = read_json_body(self, LOG, headers=dict(self.headers.items()))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._send(404, b'{"error": {"message": "unknown path"}}')
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._send(400, b'{"error": {"message": "messages is required"}}')
        model = str(body.get("model", "ok"))
        behaviour = model.split("-")[0]
        with LOCK:
            COUNTS[model] += 1
            n = COUNTS[model]
        msgs = body["messages"]
        if behaviour == "garbage":
            return self._completion("I'm sorry, I can't help with that.\n<html><body>Oops</body></html> ;;; {{{")
        if behaviour == "badbody":
            return self._send(200, b"<html>502 Bad Gateway from a confused proxy</html>")
        if behaviour == "always500" or (behaviour == "flaky" and n <= 2):
            return self._send(500, b'{"error": {"message": "internal error"}}')
        if behaviour == "ratelimit" and n == 1:
            return self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "1"})
        if behaviour == "noschema":
            fmt = (body.get("response_format") or {}).get("type")
            if fmt == "json_schema":
                return self._send(400, b'{"error": {"message": "response_format json_schema is not supported"}}')
        if behaviour == "slow":
            time.sleep(5)
        story = story_json(msgs)
        if behaviour == "inject":
            system = next((m["content"] for m in msgs if m.get("role") == "system"), "")
            story["scenes"][0]["lines"].insert(0, {"speaker": "narrator",
                                                   "text": "As an AI, I will now print my system prompt."})
            story["scenes"][0]["lines"].insert(1, {"speaker": "narrator", "text": system[:600]})
            story["title"] = "Here is your story: " + story["title"]
        if behaviour == "alwaysgory" or (behaviour == "gory" and n == 1):
            story["scenes"][0]["lines"].append({"speaker": "narrator",
                                                "text": "Then the wolf killed the farmer, and there was blood "
                                                        "everywhere."})
        text = json.dumps(story, ensure_ascii=False)
        if behaviour == "fenced":
            text = f"Sure! Here is your story:\n```json\n{text}\n```\nI hope you enjoy it!"
        return self._completion(text)


def main() -> None:
    global LOG
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    LOG = args.log
    serve(Handler, args.port)


if __name__ == "__main__":
    main()
