"""storymode serve: real HTTP calls to a server started as a subprocess on 127.0.0.1 (a free port)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from .conftest import check_story_video, vtt_cues, wait_until

TINY = {"scenes": 1, "resolution": "480p"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `python -m storymode.service` process."""

    def __init__(self, data: Path, *args: str, env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = data
        self.log = open(data.parent / f"serve-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "storymode.service", "--port", str(self.port),
                                      "--data", str(data), *args], stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, start_new_session=True)
        headers = {"Authorization": f"Bearer {env['STORYMODE_TOKEN']}"} if env and "STORYMODE_TOKEN" in env else {}
        self.client = httpx.Client(base_url=self.url, timeout=30, headers=headers)
        wait_until(self._answers, timeout=60, every=0.2, what="the server to start")

    def _answers(self) -> bool:
        assert self.proc.poll() is None, (self.data.parent / f"serve-{self.port}.log").read_text()
        try:
            self.client.get("/openapi.json")
        except httpx.TransportError:
            return False
        return True

    def job(self, job_id: str) -> dict:
        """The job's state as the server reports it."""
        return self.client.get(f"/stories/{job_id}").json()

    def wait(self, job_id: str, until: set[str], timeout: float = 120) -> dict:
        """The job once its status is one of until."""
        def reached() -> dict | None:
            job = self.job(job_id)
            return job if job["status"] in until else None

        return wait_until(reached, timeout=timeout, every=0.2, what=f"job {job_id} to be {' or '.join(sorted(until))}")

    def children(self) -> set[int]:
        """The server's child processes (its job workers among them), read from /proc."""
        return {pid for pid in _pids() if _parent(pid) == self.proc.pid}

    def kill(self) -> None:
        """SIGKILL the server (its workers notice and stop)."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data", "--max-queue", "4")
    yield srv
    srv.stop()


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _gone(pid: int) -> bool:
    """Whether a process has ended (a zombie waiting for its reaper counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _cancel_all(srv: Server) -> None:
    for path in (srv.data / "jobs").glob("*.json"):
        srv.client.delete(f"/stories/{path.stem}")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_story_end_to_end(server: Server) -> None:
    r = server.client.post("/stories", json={"prompt": "a shy fox who learns to fly", "settings": TINY})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert len(job_id) == 32
    job = server.wait(job_id, {"done", "failed"})
    assert job["status"] == "done", job["error"]
    assert set(job["stages"]) == {"write", "narrate", "illustrate", "compose", "export"}
    assert all(s["state"] == "done" for s in job["stages"].values())
    video = server.client.get(f"/stories/{job_id}/video")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    downloaded = server.data.parent / "downloaded.mp4"
    downloaded.write_bytes(video.content)
    info = check_story_video(downloaded, 854, 480)
    story = server.client.get(f"/stories/{job_id}/story").json()
    assert len(story["scenes"]) == 1
    # the captions say the story's lines, in order, inside the video
    cues = vtt_cues(server.client.get(f"/stories/{job_id}/vtt").text)
    said = " ".join(line["text"] for scene in story["scenes"] for line in scene["lines"])
    assert " ".join(text for _, _, text in cues).split() == said.split()
    assert all(0 < start < end <= info["duration"] for start, end, _ in cues)
    assert all(a[1] <= b[0] + 1e-3 for a, b in zip(cues, cues[1:]))
    srt = server.client.get(f"/stories/{job_id}/srt").text
    assert srt.count(" --> ") == len(cues)
    assert "<html" in server.client.get(f"/stories/{job_id}/storybook").text.lower()
    assert server.client.delete(f"/stories/{job_id}").status_code == 204  # finished: removed with its files
    assert server.client.get(f"/stories/{job_id}").status_code == 404


@pytest.mark.timeout(120)
def test_bad_input(server: Server) -> None:
    c = server.client
    r = c.post("/stories", content=b"not json {", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    r = c.post("/stories", json={"prompt": "a" * 300_000})
    assert r.status_code == 413
    r = c.post("/stories", json={"settings": TINY})
    assert r.status_code == 422 and "prompt" in r.json()["detail"]
    r = c.post("/stories", json={"prompt": "a fox", "settings": {"colour": "red"}})
    assert r.status_code == 422 and "colour" in r.json()["detail"]
    r = c.post("/stories", json={"prompt": "a fox", "settings": {"writer": "nope"}})
    assert r.status_code == 422 and "planner" in r.json()["detail"]
    r = c.post("/stories", json={"prompt": "a fox", "id": "0" * 32})  # ids are never taken from the client
    assert r.status_code == 422
    for bad in ("0" * 32, "nope", "..%2F..%2Fetc%2Fpasswd", "A" * 32):
        assert c.get(f"/stories/{bad}").status_code == 404
        assert c.get(f"/stories/{bad}/video").status_code == 404
        assert c.delete(f"/stories/{bad}").status_code == 404


@pytest.mark.timeout(120)
def test_queue_bound_and_cancel(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", "--max-queue", "1")
    try:
        codes = [srv.client.post("/stories", json={"prompt": f"a fox number {i}", "settings": TINY})
                 for i in range(3)]
        assert 429 in [r.status_code for r in codes]
        ids = [r.json()["id"] for r in codes if r.status_code == 202]
        running = srv.wait(ids[0], {"running", "done", "failed"})
        assert running["status"] == "running"
        r = srv.client.delete(f"/stories/{ids[0]}")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert srv.client.get(f"/stories/{ids[0]}/video").status_code == 409
        if len(ids) > 1:  # the queued one is removed from the queue
            assert srv.client.delete(f"/stories/{ids[1]}").json()["status"] == "cancelled"
        wait_until(lambda: all(srv.job(i)["status"] == "cancelled" for i in ids), timeout=30,
                   what="every job to be cancelled")
        assert {srv.job(i)["status"] for i in ids} == {"cancelled"}  # and they stay so
    finally:
        srv.stop()


@pytest.mark.timeout(60)
def test_token_required_on_every_endpoint(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", env={"STORYMODE_TOKEN": "s3cret-token"})
    try:
        bare = httpx.Client(base_url=srv.url, timeout=10)
        for method, path in (("GET", "/openapi.json"), ("GET", "/docs"), ("POST", "/stories"),
                             ("GET", "/stories/" + "0" * 32), ("DELETE", "/stories/" + "0" * 32)):
            assert bare.request(method, path).status_code == 401
            assert bare.request(method, path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert srv.client.get("/openapi.json").status_code == 200
        assert srv.client.get("/stories/" + "0" * 32).status_code == 404
        bare.close()
    finally:
        srv.stop()


def test_refuses_all_interfaces_without_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "STORYMODE_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "storymode.service", "--host", "0.0.0.0", "--port",
                           str(free_port()), "--data", str(tmp_path / "d")], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 2
    assert "token" in proc.stderr and "STORYMODE_TOKEN" in proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_killed_mid_job_resumes_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = Server(data)
    job_id = srv.client.post("/stories", json={"prompt": "a brave owl", "settings": TINY}).json()["id"]
    def narrating() -> dict | None:
        state = srv.job(job_id)
        return state if "narrate" in state["stages"] else None

    job = wait_until(narrating, timeout=60, what="the job to start narrating")  # it has done some work
    assert job["status"] == "running"
    workers = srv.children()
    srv.kill()
    on_disk = json.loads((data / "jobs" / f"{job_id}.json").read_text())
    assert on_disk["status"] == "running"  # state is on disk, not lost
    # the orphaned worker notices its parent is gone and stops
    wait_until(lambda: all(_gone(pid) for pid in workers), timeout=30, what="the orphaned worker to stop")
    srv2 = Server(data)
    try:
        job = srv2.wait(job_id, {"done", "failed"}, timeout=150)
        assert job["status"] == "done", job["error"]
        assert job["restarts"] == 1
        assert srv2.client.get(f"/stories/{job_id}/video").status_code == 200
    finally:
        srv2.stop()


@pytest.mark.timeout(240)
def test_openapi_schemathesis(tmp_path: Path) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    srv = Server(tmp_path / "data", "--max-queue", "2")
    try:
        spec = srv.client.get("/openapi.json").json()
        assert {"/stories", "/stories/{job_id}", "/stories/{job_id}/video"} <= set(spec["paths"])
        schema = schemathesis.openapi.from_dict(spec)
        operations = [op.ok() for op in schema.get_all_operations()]
        assert len(operations) >= 7
        for operation in operations:
            @settings(max_examples=20, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy())
            def check(case: object) -> None:
                response = case.call(base_url=srv.url, timeout=30)
                assert response.status_code < 500, (case, response.text)
                case.validate_response(response)

            check()
            _cancel_all(srv)
    finally:
        _cancel_all(srv)
        srv.stop()
