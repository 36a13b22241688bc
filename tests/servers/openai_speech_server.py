"""A small OpenAI speech API server for tests (stdlib only): ``POST /v1/audio/speech`` scripted by the model name,
for the error shapes a real server will not make on demand.

    python tests/servers/openai_speech_server.py --log requests.jsonl

Binds 127.0.0.1 on a free port and prints ``READY <port>`` once it accepts connections. Every request's path,
headers and body are appended to the log file as one JSON line. The model name before the first '-' picks the
behaviour (the rest only separates counters, e.g. "ratelimit-a" and "ratelimit-b"):

  ok         speech as the OpenAI API sends it: a 24 kHz 16-bit mono WAV, or raw PCM for response_format "pcm"
             (a tone whose length follows the input, so that every sentence is heard)
  stream     the same WAV with the header a streamed reply has (RIFF and data sizes 0xFFFFFFFF)
  auth       HTTP 401 whose message repeats the key it was sent, as some servers do
  ratelimit  HTTP 429 with Retry-After: 1 once, then as ok
  always500  HTTP 500 every time
  truncated  a WAV whose body stops halfway through the Content-Length it announced
  slow       sleeps 5 s, then as ok
  html       HTTP 200, an HTML page
  json       HTTP 200, a JSON error object
  mislabeled HTTP 200 with Content-Type audio/wav, but an HTML page

A voice outside VOICES is HTTP 400 with an OpenAI-shaped error naming it, whatever the model.
"""
from __future__ import annotations

import argparse
import io
import json
import struct
import sys
import threading
import time
import wave
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np

from loopback import read_json_body, serve  # beside this script (run as python tests/servers/NAME.py)

RATE = 24000
VOICES = {"alloy", "echo", "fable", "onyx", "nova", "shimmer", "af_heart", "bm_george"}
COUNTS: Counter = Counter()
LOCK = threading.Lock()
LOG: Path | None = None


def tone(text: str, voice: str) -> np.ndarray:
    """A voiced-sounding tone, 60 ms a character: its pitch depends on the voice, so voices can be told apart."""
    seconds = max(0.3, 0.06 * len(text))
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = 110 + 15 * (sum(map(ord, voice)) % 12)
    wave_ = 0.4 * np.sin(2 * np.pi * pitch * t) + 0.2 * np.sin(2 * np.pi * 2 * pitch * t)
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)
    return (wave_ * envelope * 32767 * 0.8).astype("<i2")


def wav_bytes(samples: np.ndarray) -> bytes:
    """16-bit mono WAV at RATE."""
    sink = io.BytesIO()
    with wave.open(sink, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    return sink.getvalue()


def streamed(wav: bytes) -> bytes:
    """The WAV with the sizes a streaming server cannot know yet."""
    unknown = struct.pack("<I", 0xFFFFFFFF)
    return wav[:4] + unknown + wav[8:40] + unknown + wav[44:]


def error(message: str, code: str, kind: str = "invalid_request_error") -> bytes:
    """An OpenAI-shaped error body."""
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json", headers: dict | None = None,
              cut_at: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if cut_at is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body if cut_at is None else body[:cut_at])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        if cut_at is not None:
            self.close_connection = True

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            models = {"object": "list", "data": [{"id": "tts-1", "object": "model"}]}
            return self._send(200, json.dumps(models).encode())
        return self._send(404, error("not found", "not_found"))

    def do_POST(self) -> None:
        body = read_json_body(self, LOG, headers=dict(self.headers.items()))
        if not self.path.rstrip("/").endswith("/audio/speech"):
            return self._send(404, error("unknown path", "not_found"))
        if not isinstance(body, dict) or not isinstance(body.get("input"), str) or not body.get("voice"):
            return self._send(400, error("input and voice are required", "invalid_request"))
        model = str(body.get("model", "ok"))
        behaviour = model.split("-")[0]
        with LOCK:
            COUNTS[model] += 1
            count = COUNTS[model]
        if body["voice"] not in VOICES:
            return self._send(400, error(f"Voice '{body['voice']}' not found; available: {', '.join(sorted(VOICES))}",
                                         "voice_not_found"))
        if behaviour == "auth":
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            return self._send(401, error(f"Incorrect API key provided: {key}.", "invalid_api_key"))
        if behaviour == "always500":
            return self._send(500, error("internal error", "server_error", "server_error"))
        if behaviour == "ratelimit" and count == 1:
            return self._send(429, error("slow down", "rate_limit_exceeded"), headers={"Retry-After": "1"})
        if behaviour == "html":
            return self._send(200, b"<html><body>502 Bad Gateway from a confused proxy</body></html>", "text/html")
        if behaviour == "json":
            return self._send(200, error("the voice engine is warming up", "not_ready"))
        if behaviour == "mislabeled":
            return self._send(200, b"<!doctype html><html><body>Login required</body></html>", "audio/wav")
        if behaviour == "slow":
            time.sleep(5)
        samples = tone(body["input"], body["voice"])
        if body.get("response_format") == "pcm":
            return self._send(200, samples.tobytes(), "audio/pcm")
        wav = wav_bytes(samples)
        if behaviour == "stream":
            return self._send(200, streamed(wav), "audio/wav")
        if behaviour == "truncated":
            return self._send(200, wav, "audio/wav", cut_at=len(wav) // 2)
        return self._send(200, wav, "audio/wav")


def main() -> None:
    global LOG
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    LOG = args.log
    serve(Handler, args.port)


if __name__ == "__main__":
    sys.exit(main())
