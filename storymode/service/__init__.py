"""`storymode serve`: an HTTP service over the same pipeline (FastAPI + uvicorn; pip install "storymode[serve]").

State lives on disk under the data folder, never only in memory:

    DATA/jobs/<id>.json        one job: request, status, per-stage progress, result or error (atomic writes)
    DATA/stories/<id>/         story.mp4 (.srt, .vtt), story.storymode/ (the story folder: cache and resume)
    DATA/quarantine/           job files found unreadable or of the wrong shape at start (moved aside, logged)

Job ids are generated (uuid4 hex) and checked against a strict pattern before any path is built from them.
Each running job is one worker process (at most --workers at a time, each the leader of its own process group)
running storymode.api.make. DELETE of a queued or running job cancels it: the worker's whole process group
(ffmpeg included) is killed and its story folder removed; DELETE of a finished job removes it and its files.
On start, jobs that were running are queued again (their story folder makes that cheap).

Without a token only loopback Host names are answered (no DNS rebinding); beyond loopback a token of at least
MIN_TOKEN characters is required. Only the OpenAPI JSON is served (no /docs or /redoc: those load a CDN).

Modules: limits (what a job may ask), models (the OpenAPI request and response models), store (job records on
disk), worker (one job's process), scheduler (the queue and the workers), security and middleware (token, loopback
Host names, body limit), validation (a bad body said in one message), app (the FastAPI routes) and cli (`serve`).
"""
from __future__ import annotations

from .app import MAX_BODY, Wrapped, create_app, submit_story
from .cli import DEFAULT_PORT, serve
from .limits import RESOLUTION_NAMES, JobTooLong, Limits, over_limits, within_limits
from .middleware import BearerAuth, BodyLimit, LoopbackHost
from .models import ErrorBody, JobStatus, StageProgress, Submitted, request_model, settings_model
from .scheduler import MAX_QUEUE, MAX_RESTARTS, Scheduler
from .security import MIN_TOKEN, check_token, is_loopback, loopback_host_header
from .store import ACTIVE, JOB_ID, RESULTS, Store, public_view, well_formed
from .worker import kill_group, worker_main

__all__ = ["ACTIVE", "DEFAULT_PORT", "JOB_ID", "MAX_BODY", "MAX_QUEUE", "MAX_RESTARTS", "MIN_TOKEN",
           "RESOLUTION_NAMES", "RESULTS", "BearerAuth", "BodyLimit", "ErrorBody", "JobStatus", "JobTooLong",
           "Limits", "LoopbackHost", "Scheduler", "StageProgress", "Store", "Submitted", "Wrapped", "check_token",
           "create_app", "is_loopback", "kill_group", "loopback_host_header", "over_limits", "public_view",
           "request_model", "serve", "settings_model", "submit_story", "well_formed", "within_limits",
           "worker_main"]
