"""storymode batch: jobs files with good and bad lines, resume, the summary, a full disk, and the Ray engine."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from storymode.batch import finished, read_jobs, run_batch
from storymode.errors import MissingDependency
from storymode.events import Event

from .conftest import check_story_video

TINY = {"scenes": 1, "resolution": "480p"}


def write_jobs(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_batch_good_bad_and_rerun(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", [
        {"id": "fox", "prompt": "a shy fox who learns to fly", **TINY},
        "{this is not json",
        {"prompt": "a brave owl", "colour": "red", **TINY},
        "",
        {"id": "boat", "title": "The Little Boat", "text": "A little boat sailed out. It found an island.", **TINY},
        {"id": "../escape", "prompt": "x"},
        {"prompt": "a cat", "text": "two sources"},
    ])
    out = tmp_path / "out"
    events: list[Event] = []
    summary = run_batch(jobs, out, workers=2, on_event=events.append)
    data = json.loads((out / "summary.json").read_text())
    by_id = {j["id"]: j for j in data["jobs"]}
    assert (data["total"], data["ok"], data["failed"], data["skipped"]) == (6, 2, 4, 0)
    assert summary.ok == 2 and summary.failed == 4
    assert by_id["line-2"]["error"].startswith("line 2: not valid JSON")
    assert by_id["line-3"]["status"] == "failed" and "unknown setting 'colour'" in by_id["line-3"]["error"]
    assert "line 6" in by_id["line-6"]["error"] and "safe folder name" in by_id["line-6"]["error"]
    assert "exactly one" in by_id["line-7"]["error"]
    for job_id in ("fox", "boat"):
        job = by_id[job_id]
        assert job["status"] == "ok", job["error"]
        assert Path(job["video"]) == (out / job_id / "story.mp4").resolve()
        info = check_story_video(Path(job["video"]), 854, 480)
        assert abs(info["duration"] - job["duration"]) < 0.15
        assert Path(job["srt"]).exists() and Path(job["vtt"]).exists()
        assert Path(job["story_dir"]) == (out / job_id / "story.storymode").resolve()
        assert job["duration"] > 1 and job["seconds"] > 0 and set(job["stage_seconds"]) >= {"write", "compose"}
    assert json.loads((out / "boat" / "story.storymode" / "story.json").read_text())["title"] == "The Little Boat"
    # one progress view: batch steps for every job, per-story events tagged with their job
    steps = [e for e in events if e.stage == "batch" and e.kind == "step"]
    assert [e.done for e in steps] == list(range(1, 7)) and all(e.total == 6 for e in steps)
    assert {e.data.get("job") for e in events if e.stage == "narrate"} == {"fox", "boat"}
    assert events[-1].kind == "done"

    # a rerun skips the finished stories, still reports the bad lines (benchmarks/reruns.py times it)
    stamps = {job_id: (out / job_id / "story.mp4").stat().st_mtime_ns for job_id in ("fox", "boat")}
    rerun_events: list[Event] = []
    again = run_batch(jobs, out, workers=2, on_event=rerun_events.append)
    assert (again.ok, again.skipped, again.failed) == (0, 2, 4)
    assert not [e for e in rerun_events if e.stage in ("write", "narrate", "illustrate", "compose")]
    assert {job_id: (out / job_id / "story.mp4").stat().st_mtime_ns for job_id in stamps} == stamps
    # a changed job is not "finished" (its stages then resume from the story folder's cache)
    write_jobs(jobs, [{"id": "fox", "prompt": "a shy fox who learns to swim", **TINY}])
    (job,), _ = read_jobs(jobs, out)
    assert not finished(job)
    # a touched video is not this story's render any more
    write_jobs(jobs, [{"id": "boat", "title": "The Little Boat",
                       "text": "A little boat sailed out. It found an island.", **TINY}])
    (job,), _ = read_jobs(jobs, out)
    assert finished(job)
    os.utime(out / "boat" / "story.mp4", ns=(1, 1))
    assert not finished(job)


def test_batch_command_reports_lines_and_exit_code(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", ["[1, 2]", "nope", {"prompt": "x", "scenes": 0},
                                                {"prompt": "x", "out": "/etc/x.mp4"}])
    proc = subprocess.run([sys.executable, "-m", "storymode.batch", str(jobs), "--out", str(tmp_path / "o"),
                           "--progress", "none"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "4 jobs: 0 made, 0 already done, 4 failed" in proc.stdout
    for n in (1, 2, 3, 4):
        assert f"line {n}:" in proc.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert [j["line"] for j in summary["jobs"]] == [1, 2, 3, 4]
    assert "cannot be set per job" in summary["jobs"][3]["error"]
    missing = subprocess.run([sys.executable, "-m", "storymode.batch", str(tmp_path / "none.jsonl"), "--out",
                              str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "cannot read the jobs file" in missing.stderr



def test_quiet_batch_still_says_why_jobs_failed(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", ["nope", {"prompt": "x", "scenes": 0}])
    proc = subprocess.run([sys.executable, "-m", "storymode", "batch", str(jobs), "--out", str(tmp_path / "o"),
                           "--quiet"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "failed line-1" in proc.stderr or "line 1:" in proc.stderr, proc.stderr
    assert "line 2:" in proc.stderr and "scenes" in proc.stderr

@pytest.mark.slow
@pytest.mark.timeout(240)
def test_disk_full_fails_the_job_cleanly(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(small)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        jobs = write_jobs(tmp_path / "jobs.jsonl", [{"id": "a", "prompt": "a shy fox", **TINY},
                                                    {"id": "b", "prompt": "a brave owl", **TINY}])
        summary = run_batch(jobs, small, workers=2)
        assert summary.failed == 2
        for job in summary.jobs:
            assert "disk is full" in job.error and "run the batch again" in job.error, job.error
        # no half-written file under a final name
        assert not list(small.glob("*/story.mp4"))
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_ray_missing_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    jobs = write_jobs(tmp_path / "jobs.jsonl", [{"prompt": "a fox", **TINY}])
    with pytest.raises(MissingDependency, match=r'pip install "storymode\[ray\]"'):
        run_batch(jobs, tmp_path / "o", engine="ray")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_engine_on_a_local_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network) -> None:
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no usage report to Ray's servers
    jobs = write_jobs(tmp_path / "jobs.jsonl", [{"id": "fox", "prompt": "a shy fox", **TINY},
                                                {"id": "bad", "prompt": "an owl", "narrator": "nope", **TINY}])
    summary = run_batch(jobs, tmp_path / "out", workers=2, engine="ray")
    by_id = {j.id: j for j in summary.jobs}
    assert by_id["fox"].status == "ok", by_id["fox"].error
    info = check_story_video(Path(by_id["fox"].video), 854, 480)
    assert abs(info["duration"] - by_id["fox"].duration) < 0.15
    assert by_id["bad"].status == "failed" and "narrator" in by_id["bad"].error
    assert summary.engine == "ray"
    again = run_batch(jobs, tmp_path / "out", workers=2, engine="ray")
    assert again.skipped == 1
    # Ray's dashboard asks the cloud metadata servers which cloud it runs on, whatever the usage-stats setting;
    # the block refused those link-local requests, and nothing else was tried
    probes = no_network.take()
    assert all(re.search(r"'(169\.254\.169\.254|metadata\.google\.internal)'", p) for p in probes), probes


def test_a_jobs_file_is_data(tmp_path: Path) -> None:
    """trust_remote_code, a path outside the jobs file's folder and a text from outside need --trust-config."""
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret words")
    (tmp_path / "jobs").mkdir()
    jobs = write_jobs(tmp_path / "jobs" / "jobs.jsonl", [
        {"id": "evil", "prompt": "a fox", "writer": "transformers",
         "options": {"writer": {"model": "./evilmodel", "trust_remote_code": True}}},
        {"id": "far", "prompt": "a fox", "music": "/etc/passwd"},
        {"id": "text", "from": "../secret.txt"},
    ])
    found, bad = read_jobs(jobs, tmp_path / "out")
    assert not found and [b.line for b in bad] == [1, 2, 3]
    assert "trust_remote_code" in bad[0].error and "--trust-config" in bad[0].error
    assert "outside" in bad[1].error and "outside" in bad[2].error
    from storymode.config import trusting

    with trusting():
        found, bad = read_jobs(jobs, tmp_path / "out")
    assert [j.id for j in found] == ["evil", "far", "text"] and not bad
