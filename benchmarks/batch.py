"""Batch throughput (1 and 2 workers, local Ray) and the service's latency under 50 concurrent clients.

    python benchmarks/batch.py [--stories 12] [--clients 50] [--skip-ray]

Every batch run starts from an empty folder (nothing cached). Prints a table.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPTS = ["a shy fox who learns to fly", "a brave owl at night", "a lost kitten finds home", "a robot who paints",
           "a turtle's first race", "a dragon afraid of the dark", "two friends build a boat", "a snowman in spring",
           "a mouse who sings", "a bear who cannot sleep", "a star that fell", "a whale who whispers"]


def jobs_file(folder: Path, n: int) -> Path:
    path = folder / "jobs.jsonl"
    lines = [json.dumps({"id": f"s{i:02d}", "prompt": PROMPTS[i % len(PROMPTS)], "scenes": 1 + i % 2,
                         "resolution": "480p", "seed": i}) for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def batch_rate(n: int, workers: int, engine: str) -> tuple[float, float, int]:
    from storymode.batch import run_batch

    with tempfile.TemporaryDirectory() as tmp:
        jobs = jobs_file(Path(tmp), n)
        t0 = time.perf_counter()
        summary = run_batch(jobs, Path(tmp) / "out", workers=workers, engine=engine)
        seconds = time.perf_counter() - t0
    return seconds, summary.ok / seconds * 60, summary.failed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def hammer(url: str, clients: int) -> dict[str, list[float]]:
    import httpx

    times: dict[str, list[float]] = {"submit": [], "status": [], "rejected": []}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        async def one(i: int) -> None:
            t0 = time.perf_counter()
            r = await client.post("/stories", json={"prompt": f"a fox number {i}",
                                                    "settings": {"scenes": 1, "resolution": "480p"}})
            times["submit" if r.status_code == 202 else "rejected"].append(time.perf_counter() - t0)
            job_id = r.json().get("id") if r.status_code == 202 else "0" * 32
            for _ in range(10):
                t1 = time.perf_counter()
                await client.get(f"/stories/{job_id}")
                times["status"].append(time.perf_counter() - t1)

        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(clients))), timeout=120)
    return times


def service_latency(clients: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "storymode.service", "--port", str(port), "--data",
                                 str(Path(tmp) / "data"), "--max-queue", "32"], stderr=subprocess.DEVNULL)
        try:
            import httpx

            for _ in range(300):
                try:
                    httpx.get(url + "/openapi.json", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            return asyncio.run(hammer(url, clients))
        finally:
            proc.terminate()
            proc.wait(30)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stories", type=int, default=12)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    rows = []
    for workers in (1, 2):
        seconds, rate, failed = batch_rate(args.stories, workers, "local")
        rows.append((f"batch local, {workers} worker{'s' if workers > 1 else ''}", seconds, rate, failed))
    if not args.skip_ray:
        try:
            import ray  # noqa: F401

            seconds, rate, failed = batch_rate(args.stories, 2, "ray")
            rows.append(("batch ray (local, 2 CPUs)", seconds, rate, failed))
        except ImportError:
            rows.append(("batch ray: not installed", float("nan"), float("nan"), 0))
    print(f"\n{os.cpu_count()} CPUs; {args.stories} stories of 1-2 scenes at 480p, nothing cached\n")
    print(f"{'run':<32}{'seconds':>10}{'stories/min':>14}{'failed':>8}")
    for name, seconds, rate, failed in rows:
        print(f"{name:<32}{seconds:>10.1f}{rate:>14.2f}{failed:>8}")
    times = service_latency(args.clients)
    print(f"\nservice, {args.clients} concurrent clients (each: 1 submit + 10 status calls), 127.0.0.1")
    print(f"{'request':<24}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name in ("submit", "rejected", "status"):
        v = times[name]
        if v:
            print(f"{name + (' (429)' if name == 'rejected' else ''):<24}{len(v):>6}{pct(v, .5):>10.1f}"
                  f"{pct(v, .95):>10.1f}{max(v) * 1000:>10.1f}")


if __name__ == "__main__":
    main()
