"""The job store: one JSON file per job under DATA/jobs/, a story folder per job under DATA/stories/."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..jobs import VIDEO_NAME
from ..workspace import atomic_write_json
from .models import JobStatus

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
ACTIVE = ("queued", "running")
RESULTS = {"video": (VIDEO_NAME, "video/mp4"), "srt": ("story.srt", "application/x-subrip"),
           "vtt": ("story.vtt", "text/vtt"), "story": ("story.storymode/story.json", "application/json"),
           "storybook": ("story.storymode/exports/storybook.html", "text/html")}
log = logging.getLogger("storymode.service")


def now() -> str:
    """The time now (UTC, ISO 8601, milliseconds), as job records keep it."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def public_view(job: dict[str, Any]) -> dict[str, Any]:
    """A job record as clients see it (JobStatus): its request stays on the server; links when it is done."""
    out = {k: job.get(k) for k in ("id", "status", "created", "started", "finished", "error", "result")}
    out["stages"] = job.get("stages") or {}
    out["restarts"] = job.get("restarts", 0)
    out["links"] = {name: f"/stories/{job['id']}/{name}" for name in RESULTS} if job["status"] == "done" else {}
    return out


def well_formed(job: Any, job_id: str) -> bool:
    """Whether a job record has the shape this service writes (anything else is never served or run)."""
    if not isinstance(job, dict) or job.get("id") != job_id or not isinstance(job.get("request"), dict):
        return False
    try:
        JobStatus.model_validate(public_view(job), strict=True)
    except (ValidationError, KeyError, TypeError, ValueError):
        return False
    return True


class Store:
    """Jobs as JSON files; every write is atomic."""

    def __init__(self, data: Path) -> None:
        self.data = Path(data).resolve()
        self.jobs = self.data / "jobs"
        self.stories = self.data / "stories"
        self.quarantine = self.data / "quarantine"
        for d in (self.jobs, self.stories):
            d.mkdir(parents=True, exist_ok=True)

    def job_path(self, job_id: str) -> Path:
        """DATA/jobs/<id>.json; KeyError for an id that is not one this service makes."""
        if not JOB_ID.match(job_id):
            raise KeyError(job_id)
        return self.jobs / f"{job_id}.json"

    def story_dir(self, job_id: str) -> Path:
        """DATA/stories/<id>/; KeyError for an id that is not one this service makes."""
        if not JOB_ID.match(job_id):
            raise KeyError(job_id)
        return self.stories / job_id

    def read(self, job_id: str) -> dict[str, Any] | None:
        """The job, or None when it is missing, unreadable or of the wrong shape."""
        try:
            job = json.loads(self.job_path(job_id).read_text(encoding="utf-8"))
        except (KeyError, OSError, ValueError):
            return None
        return job if well_formed(job, job_id) else None

    def write(self, job: dict[str, Any]) -> None:
        """Write a job record (atomically)."""
        atomic_write_json(self.job_path(job["id"]), job)

    def remove(self, job_id: str) -> None:
        """Delete a job's story folder, then its record."""
        shutil.rmtree(self.story_dir(job_id), ignore_errors=True)
        self.job_path(job_id).unlink(missing_ok=True)

    def all(self) -> list[dict[str, Any]]:
        """Every well-formed job, oldest first."""
        out = []
        for path in self.jobs.glob("*.json"):
            if JOB_ID.match(path.stem):
                job = self.read(path.stem)
                if job is not None:
                    out.append(job)
        return sorted(out, key=lambda j: (j["created"], j["seq"] if isinstance(j.get("seq"), int) else 0))

    def quarantine_bad(self) -> list[Path]:
        """Move job files that cannot be read or have the wrong shape to DATA/quarantine/ (each one logged)."""
        moved = []
        for path in sorted(self.jobs.glob("*.json")):
            if not JOB_ID.match(path.stem) or self.read(path.stem) is not None:
                continue
            self.quarantine.mkdir(parents=True, exist_ok=True)
            target = self.quarantine / f"{path.name}.{time.time_ns()}"
            try:
                os.replace(path, target)
            except OSError as err:
                log.warning("storymode serve: skipping the unreadable job file %s (%s)", path, err.strerror)
                continue
            log.warning("storymode serve: the job file %s is unreadable or of the wrong shape; moved to %s",
                        path, target)
            moved.append(target)
        return moved

