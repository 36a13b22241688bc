"""The pipeline's own cost per call to a remote model, against a local server that answers at once.

    python benchmarks/remote.py [--scenes 12] [--hold-ms 200]

A server process on 127.0.0.1 answers the OpenAI Images API with one ready-made PNG and the speech API with one
ready-made WAV, so what is timed is storymode's side: building the prompt, the SDK call over loopback, decoding
and fitting the picture or the sound, the cast's pitch and loudness. Prints, per picture and per line (and per
call), the mean wall milliseconds (target: under 20 ms a call), then how many requests the openai illustrator keeps
in flight at its concurrency limit, with a server that holds each request --hold-ms.
"""
from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import socket
import statistics
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET_MS = 20.0


def _png(width: int, height: int) -> str:
    import base64

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 200)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _wav(seconds: float = 1.0, rate: int = 24000) -> bytes:
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    samples = (0.2 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buf.getvalue()


def serve(port_out: multiprocessing.Queue, hold_s: float) -> None:
    """The instant server (run in its own process): one picture, one sound, and a count of requests in flight."""
    picture = json.dumps({"created": 0, "data": [{"b64_json": _png(1024, 576)}]}).encode()
    sound = _wav()
    state = {"now": 0, "most": 0, "calls": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            # headers and body go out as two writes: without this, Nagle's algorithm and the client's delayed ACK
            # add ~40 ms to every reply on a kept-alive connection, which would be the server's cost, not ours
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            with lock:
                body = json.dumps(state).encode()
            self._send(body, "application/json")

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state["now"] += 1
                state["calls"] += 1
                state["most"] = max(state["most"], state["now"])
            try:
                if hold_s:
                    time.sleep(hold_s)
                if self.path.endswith("/images/generations"):
                    self._send(picture, "application/json")
                else:
                    self._send(sound, "audio/wav")
            finally:
                with lock:
                    state["now"] -= 1

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.put(server.server_address[1])
    server.serve_forever()


def start(hold_s: float = 0.0) -> tuple[multiprocessing.Process, str]:
    """A server process and its /v1 URL."""
    ports: multiprocessing.Queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=serve, args=(ports, hold_s), daemon=True)
    proc.start()
    return proc, f"http://127.0.0.1:{ports.get(timeout=30)}/v1"


def stats(url: str) -> dict:
    """The server's counts: calls, and the most requests in flight at once."""
    import httpx

    return httpx.get(url.removesuffix("/v1") + "/stats", trust_env=False).json()


def story(scenes: int):  # type: ignore[no-untyped-def]
    """A planner story to draw and read."""
    from storymode.writers.base import WriteRequest
    from storymode.writers.planner.writer import PlannerWriter

    return PlannerWriter().write(WriteRequest(prompt="a heron who wants to dance in the rain", scenes=scenes))


def requests(the_story):  # type: ignore[no-untyped-def]
    """One illustration request per scene at 720p with the zoom margin, as the pipeline makes them."""
    from storymode.illustrators.base import IllustrationRequest
    from storymode.timeline import frame_size, with_zoom_margin

    width, height = with_zoom_margin(*frame_size("16:9", "720p"))
    return [IllustrationRequest(brief=s.brief, cast=tuple(the_story.characters), scene_text=s.text, scene_index=i,
                                scene_count=len(the_story.scenes), style=the_story.style, seed=0, width=width,
                                height=height) for i, s in enumerate(the_story.scenes)]


def pictures(url: str, the_story, concurrency: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Wall seconds to draw every scene, and the server calls it took."""
    from storymode.illustrators.openai_images import OpenAIImagesIllustrator

    illustrator = OpenAIImagesIllustrator(OpenAIImagesIllustrator.Options(base_url=url, model="instant",
                                                                          concurrency=concurrency))
    asked = requests(the_story)
    before = stats(url)["calls"]
    t0 = time.perf_counter()
    drawn = list(illustrator.illustrate_each(asked))
    seconds = time.perf_counter() - t0
    assert len(drawn) == len(asked) and drawn[0].image.size == (asked[0].width, asked[0].height)
    return seconds, stats(url)["calls"] - before


def fitting_ms(request, repeat: int = 20) -> float:  # type: ignore[no-untyped-def]
    """Mean milliseconds to decode a 1024x576 PNG answer and fit it to the request's frame, as the illustrator does."""
    import base64

    from PIL import Image

    from storymode.illustrators.openai_images import cover

    data = base64.b64decode(_png(1024, 576))
    t0 = time.perf_counter()
    for _ in range(repeat):
        cover(Image.open(io.BytesIO(data)).convert("RGB"), request.width, request.height)
    return (time.perf_counter() - t0) / repeat * 1000


def lines(url: str, the_story) -> tuple[float, int, int]:  # type: ignore[no-untyped-def]
    """Wall seconds to narrate every line, the lines, and the server calls it took."""
    from storymode.cast import assign_cast, load_presets
    from storymode.narrators.openai_speech import OpenAISpeechNarrator

    narrator = OpenAISpeechNarrator(OpenAISpeechNarrator.Options(base_url=url, model="instant"))
    presets = load_presets()
    cast = assign_cast(the_story, presets, "openai")
    todo = [(line.text, cast.get(line.speaker, presets["api-narrator"]), line.pace)
            for scene in the_story.scenes for line in scene.lines]
    before = stats(url)["calls"]
    t0 = time.perf_counter()
    for text, voice, pace in todo:
        narrator.narrate(text, voice, pace)
    return time.perf_counter() - t0, len(todo), stats(url)["calls"] - before


def main() -> None:
    """Time pictures and lines against the instant server, then the concurrency at the limit."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=12)
    parser.add_argument("--hold-ms", type=float, default=200.0)
    args = parser.parse_args()
    the_story = story(args.scenes)
    server, url = start()
    try:
        pictures(url, the_story, 1)  # warm: imports, the SDK client, the prompt builder's vocabulary
        runs = [pictures(url, the_story, 1) for _ in range(3)]
        per_picture = statistics.median(s for s, _ in runs) / args.scenes * 1000
        calls = runs[0][1]
        fit = fitting_ms(requests(the_story)[0])
        print(f"pictures: {args.scenes} scenes, {calls} calls, {per_picture:.1f} ms a picture "
              f"({per_picture * args.scenes / calls:.1f} ms a call; target {TARGET_MS:.0f} ms), of which "
              f"{fit:.1f} ms decode the API's 1024x576 PNG and fit it to the frame and "
              f"{per_picture - fit:.1f} ms are the call itself")
        lines(url, the_story)
        runs_l = [lines(url, the_story) for _ in range(3)]
        seconds, count, calls = min(runs_l)
        print(f"lines: {count} lines, {calls} calls, {seconds / count * 1000:.1f} ms a line "
              f"({seconds / calls * 1000:.1f} ms a call; target {TARGET_MS:.0f} ms)")
    finally:
        server.terminate()
    server, url = start(args.hold_ms / 1000)
    try:
        for limit in (1, 2, 4):
            before = stats(url)
            seconds, _ = pictures(url, the_story, limit)
            most = stats(url)["most"]
            print(f"concurrency {limit}: at most {most} in flight, {args.scenes} pictures in {seconds:.2f} s "
                  f"(server holds each {args.hold_ms:.0f} ms)")
            server.terminate()
            server, url = start(args.hold_ms / 1000)
            del before
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
