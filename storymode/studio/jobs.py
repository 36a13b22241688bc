"""The studio's work: one job at a time per story, run in a background thread, its progress events (the same as
``--progress json``) fanned out to every page that follows the story over server-sent events.

A job is a function of a Listener; what it returns is its result, what it raises becomes its one-line message
(storymode.jobs.describe_failure, shared with `storymode serve` and `storymode batch`). The story folder's own lock
still guards the folder against the CLI: a job that finds it taken fails with LockedError's message."""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..events import Event, Listener
from ..jobs import describe_failure

KEEPALIVE_S = 15.0  # a comment line this often keeps a quiet stream open through proxies and browsers
KEPT_JOBS = 4  # finished jobs a story's channel remembers for pages that connect late


class Busy(UsageError):
    """A job is already running on this story."""


@dataclass
class Job:
    """One piece of work on one story: its kind, state, message when it failed, and result when it is done."""

    story_id: str
    kind: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "running"  # running, done, failed
    error: str = ""
    result: Any = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def view(self) -> dict[str, Any]:
        """The job as pages see it (JSON-ready)."""
        return {"id": self.id, "story": self.story_id, "kind": self.kind, "status": self.status,
                "error": self.error, "result": self.result, "started": self.started, "finished": self.finished}


class Channel:
    """A story's messages (job states and progress events), each with a rising number, for its followers.

    Consecutive steps of one stage are folded into the latest (a page needs where it is, not every frame)."""

    def __init__(self, numbers: itertools.count) -> None:
        self._numbers = numbers
        self._lock = threading.Lock()
        self._messages: list[tuple[int, str, dict[str, Any]]] = []
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Add a message (kind "job" or "progress") and wake every follower."""
        with self._lock:
            last = self._messages[-1] if self._messages else None
            if (last is not None and kind == "progress" and data.get("kind") == "step" and last[1] == "progress"
                    and last[2].get("kind") == "step" and last[2].get("stage") == data.get("stage")):
                self._messages.pop()
            if kind == "job" and data.get("status") == "running":
                self._forget_old_jobs()
            self._messages.append((next(self._numbers), kind, data))
            waiters = list(self._waiters)
        for loop, woken in waiters:
            with contextlib.suppress(RuntimeError):  # that page's loop has closed
                loop.call_soon_threadsafe(woken.set)

    def _forget_old_jobs(self) -> None:
        """Keep the messages of the last KEPT_JOBS jobs only (called with the lock held)."""
        starts = [i for i, (_, kind, data) in enumerate(self._messages)
                  if kind == "job" and data.get("status") == "running"]
        if len(starts) >= KEPT_JOBS:
            del self._messages[:starts[-KEPT_JOBS + 1]]

    def since(self, number: int) -> list[tuple[int, str, dict[str, Any]]]:
        """The messages after number."""
        with self._lock:
            return [m for m in self._messages if m[0] > number]

    async def follow(self, after: int = 0) -> AsyncIterator[tuple[int, str, dict[str, Any]] | None]:
        """Every message after `after`, as it comes; None now and then while nothing does (a keep-alive)."""
        woken = asyncio.Event()
        waiter = (asyncio.get_running_loop(), woken)
        with self._lock:
            self._waiters.add(waiter)
        try:
            while True:
                woken.clear()
                fresh = self.since(after)
                for message in fresh:
                    after = message[0]
                    yield message
                if not fresh:
                    try:
                        await asyncio.wait_for(woken.wait(), KEEPALIVE_S)
                    except asyncio.TimeoutError:
                        yield None
        finally:
            with self._lock:
                self._waiters.discard(waiter)


def sse_message(message: tuple[int, str, dict[str, Any]] | None) -> str:
    """One message in the text/event-stream format (a comment line for a keep-alive)."""
    if message is None:
        return ": keep-alive\n\n"
    number, kind, data = message
    return f"id: {number}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


class Jobs:
    """Every story's current job and channel; at most one job runs per story."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._channels: dict[str, Channel] = {}
        self._jobs: dict[str, Job] = {}

    def channel(self, story_id: str) -> Channel:
        """The story's channel (made on first use)."""
        with self._lock:
            if story_id not in self._channels:
                self._channels[story_id] = Channel(self._numbers)
            return self._channels[story_id]

    def current(self, story_id: str) -> Job | None:
        """The story's latest job (running or finished), if it has had one."""
        with self._lock:
            return self._jobs.get(story_id)

    def known(self, story_id: str) -> bool:
        """Whether the studio has run a job on this story."""
        with self._lock:
            return story_id in self._jobs

    def _claim(self, story_id: str, kind: str) -> Job:
        with self._lock:
            running = self._jobs.get(story_id)
            if running is not None and running.status == "running":
                raise Busy(f"this story is busy ({running.kind} is running); wait for it to finish")
            job = self._jobs[story_id] = Job(story_id, kind)
        self.channel(story_id).publish("job", job.view())
        return job

    def _listener(self, story_id: str) -> Listener:
        channel = self.channel(story_id)

        def on_event(event: Event) -> None:
            channel.publish("progress", event.to_dict())

        return on_event

    def _finish(self, job: Job, work: Callable[[Listener], Any]) -> Job:
        try:
            job.result = work(self._listener(job.story_id))
            job.status = "done"
        except Exception as err:  # noqa: BLE001 - a failed job is said on the page, never raised into the server
            job.status, job.error = "failed", describe_failure(err)
        job.finished = time.time()
        self.channel(job.story_id).publish("job", job.view())
        return job

    def start(self, story_id: str, kind: str, work: Callable[[Listener], Any]) -> Job:
        """Run work in a background thread as the story's job; Busy while another job runs on it."""
        job = self._claim(story_id, kind)
        threading.Thread(target=self._finish, args=(job, work), name=f"studio-{kind}-{story_id[:20]}",
                         daemon=True).start()
        return job

    def run_now(self, story_id: str, kind: str, work: Callable[[Listener], Any]) -> Job:
        """Run work in this thread as the story's job (a short one a request waits for); Busy as for start."""
        return self._finish(self._claim(story_id, kind), work)

    def wait(self, story_id: str, timeout: float) -> Job | None:
        """The story's job once it is no longer running, or None after timeout seconds (for the command line's
        shutdown and for tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.current(story_id)
            if job is None or job.status != "running":
                return job
            time.sleep(0.05)
        return None
