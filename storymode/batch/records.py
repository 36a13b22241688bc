"""What a batch keeps: a job ready to run, its result (a line of summary.json), and the summary itself."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..jobs import VIDEO_NAME


@dataclass
class Job:
    """One valid job, ready for a worker (plain data: it crosses process and machine boundaries)."""

    id: str
    line: int
    dir: str
    prompt: str | None
    from_file: str | None
    options: dict[str, Any]
    key: str
    gpu: bool = False

    def spec(self) -> dict[str, Any]:
        """The job as a plain dict (what a worker process or a Ray task gets)."""
        return asdict(self)


@dataclass
class JobResult:
    """One line of the summary."""

    id: str
    line: int
    status: str  # ok, skipped, failed
    video: str | None = None
    srt: str | None = None
    vtt: str | None = None
    story_dir: str | None = None
    storybook: str | None = None
    duration: float | None = None
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def from_worker(cls, out: dict[str, Any]) -> JobResult:
        """The result from what a worker returned (run_job's dict)."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in out.items() if k in names})


@dataclass
class BatchSummary:
    """What a batch did: counts, per-job results, and where summary.json is."""

    jobs_file: str
    out_dir: str
    engine: str
    workers: int
    started: str
    seconds: float = 0.0
    jobs: list[JobResult] = field(default_factory=list)
    summary_path: str | None = None

    @property
    def ok(self) -> int:
        """Jobs made by this run."""
        return sum(j.status == "ok" for j in self.jobs)

    @property
    def skipped(self) -> int:
        """Jobs finished by an earlier run."""
        return sum(j.status == "skipped" for j in self.jobs)

    @property
    def failed(self) -> int:
        """Jobs that failed, broken lines included."""
        return sum(j.status == "failed" for j in self.jobs)

    def to_dict(self) -> dict[str, Any]:
        """The summary as written to summary.json."""
        return {"jobs_file": self.jobs_file, "out_dir": self.out_dir, "engine": self.engine,
                "workers": self.workers, "started": self.started, "seconds": round(self.seconds, 3),
                "total": len(self.jobs), "ok": self.ok, "skipped": self.skipped, "failed": self.failed,
                "jobs": [asdict(j) for j in sorted(self.jobs, key=lambda j: j.line)]}


def finished(job: Job) -> bool:
    """The job's own render is present, matches its manifest, and was made for this same job."""
    from ..pipeline import output_paths
    from ..workspace import file_stamp

    job_dir = Path(job.dir)
    video, srt, vtt = output_paths(job_dir / VIDEO_NAME)
    story_dir = video.with_suffix(".storymode")
    try:
        record = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
        manifest = json.loads((story_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    own = manifest.get("output") or {}
    return (record.get("key") == job.key and own.get("path") == str(video.resolve())
            and own.get("stamp") == file_stamp(video) and srt.exists() and vtt.exists()
            and (story_dir / "exports" / "storybook.html").exists())


def result_from_record(job: Job, status: str) -> JobResult:
    """The result of a finished job, from the job.json its run wrote."""
    record = json.loads((Path(job.dir) / "job.json").read_text(encoding="utf-8"))
    return JobResult(id=job.id, line=job.line, status=status, seconds=0.0,
                     **{k: record.get(k) for k in ("video", "srt", "vtt", "story_dir", "storybook", "duration")},
                     stage_seconds=record.get("stage_seconds") or {})
