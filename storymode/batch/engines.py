"""Where a batch's jobs run: local worker processes, or Ray tasks (a local instance or a cluster)."""
from __future__ import annotations

import multiprocessing
import queue as queue_mod
import threading
from collections.abc import Callable
from typing import Any

from ..errors import MissingDependency
from ..events import Event, Listener
from .records import Job, JobResult
from .worker import init_worker, run_job

Record = Callable[[JobResult], Any]


def run_local(todo: list[Job], workers: int, address: str | None, emit: Listener, record: Record) -> None:
    """Run the jobs in a pool of `workers` processes, their events forwarded to emit; a job whose worker died
    goes back to the queue once."""
    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded parent
    events = ctx.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=_forward, args=(events, stop, emit), name="storymode-batch-events",
                              daemon=True)
    thread.start()
    pending = list(todo)
    attempts: dict[str, int] = {}
    try:
        while pending:
            _run_pool(pending, attempts, workers, ctx, events, emit, record)
    finally:
        stop.set()
        thread.join(timeout=5)
        events.close()


def _forward(events: Any, stop: threading.Event, emit: Listener) -> None:
    """Hand the workers' events to emit, tagged with their job, until stopped and drained."""
    while not stop.is_set() or not events.empty():
        try:
            job_id, data = events.get(timeout=0.1)
        except (queue_mod.Empty, EOFError, OSError):
            continue
        data.setdefault("data", {})["job"] = job_id
        emit(Event(**data))


def _run_pool(pending: list[Job], attempts: dict[str, int], workers: int, ctx: Any, events: Any, emit: Listener,
              record: Record) -> None:
    """One process pool, until pending is empty or the pool breaks (its jobs then go back to pending)."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=ctx,
                             initializer=init_worker, initargs=(events,)) as pool:
        running: dict[Any, Job] = {}
        broken = False
        while (pending or running) and not broken:
            while pending and len(running) < workers:
                job = pending.pop(0)
                running[pool.submit(run_job, job.spec())] = job
            finished_now, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished_now:
                job = running.pop(fut)
                try:
                    record(JobResult.from_worker(fut.result()))
                except BrokenProcessPool:
                    broken = True
                    attempts[job.id] = attempts.get(job.id, 0) + 1
                    if attempts[job.id] >= 2:
                        record(JobResult(job.id, job.line, "failed", error="its worker process died twice "
                                         "(out of memory?); run the batch again to retry it"))
                    else:
                        pending.insert(0, job)
        if broken:  # the pool is gone: every job still in it goes back to the queue once
            for job in running.values():
                attempts[job.id] = attempts.get(job.id, 0) + 1
                pending.insert(0, job)
            emit(Event("warning", "batch", message="a worker process died; restarting the pool"))


def ray_module() -> Any:
    """The ray module, or MissingDependency naming the extra."""
    try:
        import ray
    except ImportError:
        raise MissingDependency('the ray engine needs Ray: pip install "storymode[ray]"') from None
    return ray


def run_ray(todo: list[Job], workers: int, address: str | None, emit: Listener, record: Record) -> None:
    """Run the jobs as Ray tasks (a GPU asked for where a chosen backend uses one), on the cluster at address or
    on a local instance of `workers` CPUs started for the batch."""
    ray = ray_module()
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "ignore_reinit_error": True}
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=workers, **kwargs)
        started = True
    try:
        task = ray.remote(num_cpus=1, max_retries=1)(run_job)
        refs: dict[Any, Job] = {}
        for job in todo:
            ref = task.options(num_cpus=1, num_gpus=1 if job.gpu else 0).remote(job.spec())
            refs[ref] = job
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                job = refs.pop(ref)
                try:
                    record(JobResult.from_worker(ray.get(ref)))
                except Exception as err:  # noqa: BLE001 - a worker crash, a lost node
                    record(JobResult(job.id, job.line, "failed", error=f"the Ray task failed: {err}"))
    finally:
        if started:
            ray.shutdown()


ENGINES = {"local": run_local, "ray": run_ray}
