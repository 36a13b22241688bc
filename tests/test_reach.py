"""`storymode backends` asks the servers of the remote backends whether they answer, with the options given, and
says what to set when one does not."""
from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import run_cli, wait_until


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """A plain HTTP server on loopback (it answers 404 for /v1/models: a server is there all the same)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def answers() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        wait_until(answers, timeout=30, what="http.server to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _said(stdout: str, stage: str, name: str) -> str:
    lines = stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if line.split()[:2] == [stage, name])
    return lines[row + 1].strip() if row + 1 < len(lines) else ""


def test_a_server_that_answers_is_reachable_and_one_that_does_not_says_what_to_set(http_server: str) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"
    proc = run_cli("backends", "--narrator", "openai", "-o", f"narrator.base_url={http_server}/v1",
                   "--illustrator", "comfyui", "-o", f"illustrator.base_url={closed}", env={"OPENAI_API_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    assert _said(proc.stdout, "narrator", "openai") == f"-> reachable: answers at {http_server}/v1"
    comfy = _said(proc.stdout, "illustrator", "comfyui")
    assert comfy.startswith("-> not reachable:") and closed in comfy and "base_url" in comfy
    # the hosted API without a key: said without asking anyone
    assert _said(proc.stdout, "illustrator", "openai") == (
        "-> not reachable: set the environment variable OPENAI_API_KEY to your API key")
    # local backends have nothing to reach
    assert not _said(proc.stdout, "narrator", "hibari").startswith("->")


def test_no_probe_lists_without_asking(http_server: str) -> None:
    proc = run_cli("backends", "--no-probe", "--narrator", "openai", "-o", f"narrator.base_url={http_server}/v1")
    assert proc.returncode == 0 and "reachable" not in proc.stdout


def test_a_settings_file_it_may_not_read_still_lists_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "storymode.toml").write_text('[options.writer]\ntrust_remote_code = true\n', encoding="utf-8")
    proc = run_cli("backends", cwd=tmp_path, env={"OPENAI_API_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    assert "probing with the built-in settings" in proc.stderr and "trust_remote_code" in proc.stderr
    assert "narrator     openai" in proc.stdout and "Traceback" not in proc.stderr
