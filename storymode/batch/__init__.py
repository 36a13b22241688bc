"""Batch runs: a JSON-lines file of jobs -> one story folder and video per job, in parallel, resumable.

Every job goes through ``storymode.api.make`` (the same pipeline and story folders as ``storymode make``):

    out_dir/<job id>/story.mp4 (.srt, .vtt)   the video and captions
    out_dir/<job id>/story.storymode/          its story folder (cache: a rerun resumes cached stages)
    out_dir/<job id>/job.json                  the job as last finished (a rerun skips unchanged, finished jobs)
    out_dir/summary.json                       per-job status, paths, durations, seconds and errors

Engines: ``local`` (a ProcessPoolExecutor of ``workers`` processes) or ``ray`` (one Ray task per story, on a local
Ray instance or an existing cluster at ``address``).

Modules: records (Job, JobResult, BatchSummary, finished), jobs_file (reading the JSON lines), worker (one job in a
worker), engines (local processes, Ray), runner (run_batch), view (progress) and cli (the command).
"""
from __future__ import annotations

from .cli import batch
from .jobs_file import read_jobs
from .records import BatchSummary, Job, JobResult, finished
from .runner import run_batch
from .worker import run_job

__all__ = ["BatchSummary", "Job", "JobResult", "batch", "finished", "read_jobs", "run_batch", "run_job"]
