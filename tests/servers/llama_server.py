"""Start and stop a real llama.cpp OpenAI-compatible server (``python -m llama_cpp.server``) for tests.

    with llama_server(model_path) as base_url:   # http://127.0.0.1:PORT/v1
        ...

The server runs as a subprocess on a free local port; it is ready once GET /v1/models answers. Its output goes to a
log file whose tail is shown when it fails to start.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A local TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base_url: str, proc: subprocess.Popen, timeout: float) -> None:
    """Return once GET base_url/models answers (200, or 401 asking for the key); RuntimeError otherwise."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the llama.cpp server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2, trust_env=False).status_code in (200, 401):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the llama.cpp server did not answer {base_url}/models within {timeout:g} s")


@contextlib.contextmanager
def llama_server(model: Path, n_ctx: int = 2048, n_threads: int | None = None, api_key: str | None = None,
                 timeout: float = 60, log: Path | None = None) -> Iterator[str]:
    """A running llama_cpp.server for the GGUF model; yields its base URL and terminates it afterwards.

    With api_key the server answers 401 to requests without ``Authorization: Bearer <api_key>``.
    """
    port = free_port()
    log = log or Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(n_ctx)]
    if n_threads:
        cmd += ["--n_threads", str(n_threads)]
    # the server reads its settings from the environment too: only the key given here may apply
    env = {k: v for k, v in os.environ.items() if k.upper() != "API_KEY"}
    if api_key:
        env["API_KEY"] = api_key  # not on the command line, where any process could read it
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        try:
            wait_ready(base_url, proc, timeout)
        except RuntimeError as err:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{err}\n--- server log ---\n{tail}") from None
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
