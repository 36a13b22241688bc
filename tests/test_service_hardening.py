"""storymode serve, hardened: Host names, docs, tokens, body limits, broken job files, DELETE, per-job limits.

Every test drives a real server process on 127.0.0.1 (tests.test_service.Server)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.test_service import TINY, Server, free_port

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

NO_JOB = "/stories/" + "0" * 32


def _job(status: str, **extra: object) -> dict:
    """A job record as the service writes it."""
    job_id = uuid.uuid4().hex
    return {"id": job_id, "status": status, "created": "2024-01-01T00:00:00.000+00:00", "seq": 1, "started": None,
            "finished": None, "stages": {}, "error": None, "restarts": 0, "result": None,
            "request": {"prompt": "a fox", "text": None, "title": None, "settings": TINY}, **extra}


def _finished(data: Path, status: str) -> dict:
    """A finished job on disk, with a story folder holding a (fake) video and a partial file."""
    job = _job(status, finished="2024-01-01T00:01:00.000+00:00")
    (data / "jobs").mkdir(parents=True, exist_ok=True)
    (data / "jobs" / f"{job['id']}.json").write_text(json.dumps(job))
    story = data / "stories" / job["id"]
    (story / "story.storymode").mkdir(parents=True)
    (story / "story.mp4").write_bytes(b"\0\0\0\x18ftypisom fake video")
    (story / "story.storymode" / "story.json").write_text("{}")
    return job


def _processes() -> dict[int, tuple[str, int, str]]:
    """pid -> (state, process group, command line) of every process we can see."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(entry.name)] = (fields[0], int(fields[2]), cmd)
    return out


def _living(pgid: int) -> list[int]:
    """The processes of a process group that still run (zombies waiting for init count as gone)."""
    return [pid for pid, (state, group, _) in _processes().items() if group == pgid and state not in "ZX"]


# ---------------------------------------------------------------- Host names (DNS rebinding)
@pytest.mark.timeout(90)
def test_host_header_must_be_loopback_without_token(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data")
    try:
        port = srv.port
        for host in ("localhost", f"localhost:{port}", "127.0.0.1", f"127.0.0.1:{port}", "[::1]", f"[::1]:{port}",
                     "LocalHost"):
            r = srv.client.get(NO_JOB, headers={"Host": host})
            assert r.status_code == 404, (host, r.status_code)
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.io", "localhost.evil.example",
                     f"attacker.test:{port}", "[::2]", "127.0.0.2", "localhost:abc"):
            r = srv.client.get(NO_JOB, headers={"Host": host})
            assert r.status_code in (403, 421), (host, r.status_code)
            assert "localhost" in r.json()["detail"]
            r = srv.client.post("/stories", headers={"Host": host}, json={"prompt": "a fox", "settings": TINY})
            assert r.status_code in (403, 421)
        assert not list((srv.data / "jobs").glob("*.json"))  # nothing was queued through a foreign Host
    finally:
        srv.stop()


@pytest.mark.timeout(90)
def test_any_host_name_with_a_token(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", env={"STORYMODE_TOKEN": "a-strong-token-0123456789"})
    try:
        assert srv.client.get(NO_JOB, headers={"Host": "storymode.lan:8321"}).status_code == 404
        bare = httpx.Client(base_url=srv.url, timeout=10)
        assert bare.get(NO_JOB, headers={"Host": "evil.example"}).status_code == 401
        bare.close()
    finally:
        srv.stop()


# ---------------------------------------------------------------- no CDN-backed docs
@pytest.mark.timeout(90)
def test_no_cdn_docs_only_the_openapi_json(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data")
    try:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            r = srv.client.get(path)
            assert r.status_code == 404, path
            assert "cdn" not in r.text.lower()
        spec = srv.client.get("/openapi.json")
        assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
    finally:
        srv.stop()


# ---------------------------------------------------------------- strong tokens beyond loopback
@pytest.mark.timeout(120)
@pytest.mark.parametrize("token", ["x", "fifteen-chars-!"])
def test_refuses_a_weak_token_beyond_loopback(tmp_path: Path, token: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "storymode.service", "--host", "0.0.0.0", "--port",
                           str(free_port()), "--data", str(tmp_path / "d")], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "STORYMODE_TOKEN": token})
    assert proc.returncode == 2, proc.stderr
    assert "token" in proc.stderr and "16" in proc.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was made


def test_a_strong_token_is_enough_beyond_loopback() -> None:
    from storymode.errors import UsageError
    from storymode.service import check_token

    check_token("0.0.0.0", "s" * 16)
    check_token("127.0.0.1", None)  # loopback: a token is optional
    with pytest.raises(UsageError):
        check_token("::", "s" * 15)


# ---------------------------------------------------------------- the body limit, streamed
@pytest.mark.timeout(90)
def test_chunked_oversized_body_gets_413(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data")
    try:
        def chunks(n: int, size: int = 64 * 1024):
            yield b'{"prompt": "'
            for _ in range(n):
                yield b"a" * size
            yield b'"}'

        r = srv.client.post("/stories", content=chunks(8), headers={"content-type": "application/json"})
        assert "content-length" not in r.request.headers  # it really was streamed (chunked)
        assert r.status_code == 413 and "262,144 bytes" in r.json()["detail"]

        def small():
            yield b'{"settings": '
            yield json.dumps(TINY).encode()
            yield b"}"

        r = srv.client.post("/stories", content=small(), headers={"content-type": "application/json"})
        assert r.status_code == 422 and "prompt" in r.json()["detail"]  # a small chunked body reaches the app whole
        assert srv.client.get(NO_JOB).status_code == 404  # the server still serves
    finally:
        srv.stop()


# ---------------------------------------------------------------- broken job files at start
@pytest.mark.timeout(90)
def test_bad_job_files_are_quarantined_and_the_server_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    jobs = data / "jobs"
    jobs.mkdir(parents=True)
    bad = {uuid.uuid4().hex: b"[1, 2, 3]", uuid.uuid4().hex: b'{"id": "x"}', uuid.uuid4().hex: b"{not json",
           uuid.uuid4().hex: b"\xff\xfe\x00binary", uuid.uuid4().hex: b'"a string"'}
    wrong_status = _job("exploded")
    wrong_id = _job("queued")
    wrong_types = _job("running", restarts="three")
    no_request = _job("queued")
    del no_request["request"]
    for job in (wrong_status, wrong_types, no_request):
        bad[job["id"]] = json.dumps(job).encode()
    bad[uuid.uuid4().hex] = json.dumps(wrong_id).encode()  # its id is not its file name
    for job_id, raw in bad.items():
        (jobs / f"{job_id}.json").write_bytes(raw)
    good = _finished(data, "done")
    srv = Server(data)
    try:
        assert srv.client.get(f"/stories/{good['id']}").json()["status"] == "done"
        for job_id in bad:
            assert srv.client.get(f"/stories/{job_id}").status_code == 404
            assert not (jobs / f"{job_id}.json").exists()
        moved = sorted(p.name.split(".")[0] for p in (data / "quarantine").iterdir())
        assert moved == sorted(bad)
        log = (data.parent / f"serve-{srv.port}.log").read_text()
        assert all(job_id in log for job_id in bad)
    finally:
        srv.stop()


# ---------------------------------------------------------------- DELETE
@pytest.mark.timeout(90)
def test_delete_finished_jobs_removes_them_and_their_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = "a-strong-token-0123456789"
    jobs = {status: _finished(data, status) for status in ("done", "failed", "cancelled")}
    srv = Server(data, env={"STORYMODE_TOKEN": token})
    try:
        done = jobs["done"]["id"]
        assert srv.client.get(f"/stories/{done}/video").content.startswith(b"\0\0\0\x18ftyp")
        bare = httpx.Client(base_url=srv.url, timeout=10)
        assert bare.delete(f"/stories/{done}").status_code == 401
        assert bare.delete(f"/stories/{done}", headers={"Authorization": "Bearer wrong"}).status_code == 401
        bare.close()
        assert (data / "stories" / done / "story.mp4").exists()  # refused: nothing removed
        for job in jobs.values():
            r = srv.client.delete(f"/stories/{job['id']}")
            assert r.status_code == 204, r.text
            assert not (data / "stories" / job["id"]).exists()
            assert not (data / "jobs" / f"{job['id']}.json").exists()
            assert srv.client.get(f"/stories/{job['id']}").status_code == 404
            assert srv.client.delete(f"/stories/{job['id']}").status_code == 404
        assert srv.client.get(f"/stories/{done}/video").status_code == 404
    finally:
        srv.stop()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_delete_running_job_kills_its_ffmpeg_and_removes_partial_files(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data")
    try:
        settings = {"scenes": 2, "resolution": "480p"}
        job_id = srv.client.post("/stories", json={"prompt": "a shy fox", "settings": settings}).json()["id"]
        story = srv.data.resolve() / "stories" / job_id
        ffmpeg: list[int] = []
        deadline = time.monotonic() + 240
        while not ffmpeg and time.monotonic() < deadline:
            job = srv.client.get(f"/stories/{job_id}").json()
            assert job["status"] in ("queued", "running"), job
            if job["stages"].get("compose", {}).get("done", 0) > 0:  # frames are going into ffmpeg
                ffmpeg = [pid for pid, (state, _, cmd) in _processes().items()
                          if "ffmpeg" in cmd and str(story) in cmd and state not in "ZX"]
            time.sleep(0.05)
        assert ffmpeg, "no ffmpeg rendering the story was seen"
        group = _processes()[ffmpeg[0]][1]
        assert group != os.getpgid(srv.proc.pid)  # the worker leads a process group of its own
        assert list(story.rglob("*.part*"))  # the render in progress
        r = srv.client.delete(f"/stories/{job_id}")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert _living(group) == []  # the worker and its ffmpeg are gone
        assert not story.exists()  # no .part.mp4 or other partial file left
        assert srv.client.get(f"/stories/{job_id}/video").status_code == 409
        time.sleep(1)
        assert srv.client.get(f"/stories/{job_id}").json()["status"] == "cancelled"
        assert srv.client.delete(f"/stories/{job_id}").status_code == 204  # and then it can be removed
        assert not (srv.data / "jobs" / f"{job_id}.json").exists()
    finally:
        srv.stop()


# ---------------------------------------------------------------- per-job limits
@pytest.mark.timeout(120)
def test_per_job_limits(tmp_path: Path) -> None:
    from storymode.pipeline import MAX_PROMPT

    srv = Server(tmp_path / "data", "--max-scenes", "3", "--max-resolution", "480p", "--max-text", "500")
    c = srv.client
    try:
        r = c.post("/stories", json={"prompt": "a fox", "settings": {"scenes": 4}})
        assert r.status_code == 422 and "scenes" in r.json()["detail"]
        r = c.post("/stories", json={"prompt": "a fox", "settings": {"resolution": "720p"}})
        assert r.status_code == 422 and "resolution" in r.json()["detail"]
        r = c.post("/stories", json={"text": "A fox ran. " * 50})  # 550 characters
        assert r.status_code == 413 and "500" in r.json()["detail"] and "text" in r.json()["detail"]
        r = c.post("/stories", json={"prompt": "a" * (MAX_PROMPT + 1)})  # storymode's own limit, under the body's
        assert r.status_code == 413 and f"{MAX_PROMPT:,}" in r.json()["detail"]
        sections = "\n\n".join(f"# Part {i}\n\nThe fox ran." for i in range(4))  # each heading starts a scene
        r = c.post("/stories", json={"text": sections, "settings": {"scenes": 1}})
        assert r.status_code == 422 and "3 scenes" in r.json()["detail"]
        schema = c.get("/openapi.json").json()["components"]["schemas"]["StorySettings"]["properties"]
        assert schema["scenes"]["anyOf"][0]["maximum"] == 3
        resolution = schema["resolution"]["anyOf"][0]
        assert resolution.get("enum", [resolution.get("const")]) == ["480p"]
        assert not list((srv.data / "jobs").glob("*.json"))
        r = c.post("/stories", json={"prompt": "a fox"})  # defaults over the limits are brought within them
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        stored = json.loads((srv.data / "jobs" / f"{job_id}.json").read_text())["request"]["settings"]
        assert stored["scenes"] == 3 and stored["resolution"] == "480p"
        assert c.delete(f"/stories/{job_id}").json()["status"] == "cancelled"
    finally:
        srv.stop()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_video_over_the_minutes_limit_fails_before_it_is_rendered(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", "--max-minutes", "0.1")
    try:
        job_id = srv.client.post("/stories", json={"prompt": "a shy fox", "settings": TINY}).json()["id"]
        job = srv.wait(job_id, {"done", "failed"}, timeout=240)
        assert job["status"] == "failed" and "0.1 minutes" in job["error"], job
        assert "compose" not in job["stages"] or job["stages"]["compose"]["done"] == 0
        assert not (srv.data / "stories" / job_id / "story.mp4").exists()
    finally:
        srv.stop()
