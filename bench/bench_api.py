"""Risk API latency: ``GET /v1/users/{id}/risk`` at a fixed request rate, p50/p99/max.

Seeds a store with ``--rows`` score rows (default 1,000,000: 5,000 users x 200 days, in
10 runs written through the real ``store.scores.commit_run`` path), on SQLite and on the
local PostgreSQL (a scratch database ``auditlens_bench_api``, dropped afterwards), starts
``auditlens serve api`` in its own process, creates a viewer API key with ``auditlens keys
create``, and drives the endpoint from a *second process* at ``--rate`` requests per
second (open loop: requests are sent on schedule whether or not earlier ones have
answered, so a slow server shows up as latency instead of as a lower rate; latency is
measured from each request's scheduled time). Users are drawn at random. Prints figures;
the goal (issue 13) is p99 < 20 ms at 500 requests/s. Not a test: the machine is shared
and noisy, so a timed assertion would fail for reasons that have nothing to do with the
code.

    .venv/bin/python bench/bench_api.py [--rows N] [--rate R] [--seconds S]
        [--only sqlite|postgresql] [--workers W]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DB = "auditlens_bench_api"
SHA = "b" * 64
REASONS = json.dumps(
    [
        {
            "feature": "bulk_exfil_ratio",
            "ko": "다운로드·내보내기가 평소의 3.7배 (본인 평균 1.9배)",
            "en": "downloads and exports 3.7 times their usual (own average 1.9 times)",
        }
    ],
    ensure_ascii=False,
)


def seed(store_url: str, data_dir: Path, rows: int, users: int) -> float:
    """Write ``rows`` score rows for ``users`` users through the store; return seconds."""
    from pydantic import SecretStr

    from auditlens.config import Settings
    from auditlens.store.models import ModelRecord
    from auditlens.store.repo import Store
    from auditlens.store.scores import RunRecord

    settings = Settings(store_url=SecretStr(store_url), data_dir=data_dir)
    started = time.perf_counter()
    days = max(1, rows // users)
    runs = 10 if days >= 10 else 1
    per_run = days // runs
    first = dt.date(2026, 1, 1)
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(7)
    with Store.open(settings, migrate=True) as store:
        store.models.register(
            ModelRecord(SHA, "unsupervised", "bench.joblib", ["x"], {}, rows, 1, "c" * 64, now)
        )
        for run in range(runs):
            windows = [first + dt.timedelta(days=run * per_run + d) for d in range(per_run)]
            frame = _rows(users, windows, rng)
            record = RunRecord(
                now,
                now,
                SHA,
                "c" * 64,
                1,
                frame.height,
                frame.height,
                "surprise",
                50,
                80.0,
                alerts_state="skipped",
            )
            store.scores.commit_run(record, frame)
        settle(store.engine)
    return time.perf_counter() - started


def settle(engine: Any) -> None:
    """What a store that has served for a while has had done: PostgreSQL's autovacuum
    (visibility map, hint bits, statistics) and SQLite's ANALYZE. Measuring right after a
    bulk load instead times the database's catch-up on a million new rows (autovacuum
    started during the measurement and the first reads dirtied every page they touched)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()


def _rows(users: int, windows: list[dt.date], rng: random.Random) -> pl.DataFrame:
    """One score row per (user, window), risk drawn at random."""
    n = users * len(windows)
    risk = [rng.random() * 100 for _ in range(n)]
    return pl.DataFrame(
        {
            "user_id": [f"U{u:05d}" for u in range(users) for _ in windows],
            "window": [w for _ in range(users) for w in windows],
            "raw_score": risk,
            "surprise": risk,
            "risk": risk,
            "decayed_risk": risk,
            "severity": ["critical" if r >= 90 else "high" if r >= 75 else "low" for r in risk],
            "reasons": [REASONS] * n,
            "feature_hash": ["f" * 64] * n,
            "model_sha256": [SHA] * n,
            "config_hash": ["c" * 64] * n,
            "data_batch_id": [1] * n,
        }
    )


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def server(env: dict[str, str], port: int, workers: int = 1) -> Iterator[str]:
    """``auditlens serve api`` on ``port`` until the block ends; yields its base URL (the
    server's pid is ``SERVER_PIDS[base]`` meanwhile)."""
    command = [sys.executable, "-m", "auditlens.cli", "serve", "api", "--port", str(port)]
    command += ["--workers", str(workers)]
    log = tempfile.TemporaryFile()  # a pipe nobody reads would fill and stall the server
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(log.read().decode(errors="replace"))
            time.sleep(0.1)
        SERVER_PIDS[base] = process.pid
        yield base
    finally:
        SERVER_PIDS.pop(base, None)
        process.terminate()
        process.wait(10)
        log.close()


#: Base URL -> pid of the ``serve api`` process started by :func:`server`.
SERVER_PIDS: dict[str, int] = {}


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` and all their descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                children = (task / "children").read_text().split()
                todo += [int(child) for child in children]
    return total / tick


def _postgres_pids() -> list[int]:
    """Every process of the local PostgreSQL server (its backends included)."""
    import pwd

    with contextlib.suppress(KeyError):
        uid = pwd.getpwnam("postgres").pw_uid
        return [
            int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid
        ]
    return []


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


def _os_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def create_key(env: dict[str, str]) -> str:
    """A viewer API key made with `auditlens keys create` (the secret alone on stdout)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditlens.cli",
            "--lang",
            "en",
            "keys",
            "create",
            "--name",
            f"bench-{time.time_ns()}",
            "--role",
            "viewer",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.strip().split()[-1]


def _drive(base: str, key: str, users: int, rate: float, seconds: float, out: object) -> None:
    """The load generator (runs in its own process): latencies in ms, errors, the rate
    achieved and its own CPU seconds. No garbage collection while it measures: a full
    one here paused the load generator by 15-40 ms, late requests the server never
    saw counted as its latency (the requests' objects are freed by reference counting)."""
    gc.disable()
    latencies, errors, achieved = asyncio.run(_open_loop(base, key, users, rate, seconds))
    out.put((latencies, errors, achieved, time.process_time()))  # type: ignore[attr-defined]


async def _open_loop(
    base: str, key: str, users: int, rate: float, seconds: float
) -> tuple[list[float], int, float]:
    """Requests on schedule over kept-alive connections, with a bare HTTP/1.1 client: the
    load generator shares the machine's two cores with the server, so it must cost little
    (httpx costs ~1 ms of CPU per request, as much as the server it measures)."""
    host, port = base.removeprefix("http://").split(":")
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(await asyncio.open_connection(host, int(port)))
    rng = random.Random(11)
    latencies: list[float] = []
    errors = 0

    async def one(due: float, user: str) -> None:
        nonlocal errors
        reader, writer = await pool.get()
        request = f"GET /v1/users/{user}/risk HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n\r\n"
        try:
            writer.write(request.encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            length = _content_length(head)
            await reader.readexactly(length)
            ok = head.startswith(b"HTTP/1.1 200")
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            ok = False  # a timeout is an error, and its wait still counts as latency
            writer.close()
            reader, writer = await asyncio.open_connection(host, int(port))
        pool.put_nowait((reader, writer))
        errors += not ok
        latencies.append((time.perf_counter() - due) * 1000)

    # warm-up, one at a time: connections, caches, the first queries' plans
    for n in range(50):
        await one(time.perf_counter(), f"U{n:05d}")
    latencies.clear()
    errors = 0
    tasks = []
    start = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        user = f"U{rng.randrange(users):05d}"
        tasks.append(asyncio.create_task(one(due, user)))
    await asyncio.gather(*tasks)
    achieved = total / (time.perf_counter() - start)
    while not pool.empty():
        pool.get_nowait()[1].close()
    return latencies, errors, achieved


#: Kept-alive connections of the load generator (requests wait for a free one, and the
#: wait counts: latency is measured from each request's scheduled time).
CONNECTIONS = 64


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("no Content-Length")


def measure(base: str, key: str, users: int, rate: float, seconds: float) -> dict[str, float]:
    """Drive ``base`` from a second process; p50/p99/max latency in ms, and CPU ms per
    request of the server (all its workers), of PostgreSQL's processes (any other client
    of the local server counts too) and of the load generator."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_drive, args=(base, key, users, rate, seconds, queue))
    server_pid = [SERVER_PIDS[base]] if base in SERVER_PIDS else []
    postgres = _postgres_pids()
    before = _cpu_seconds(server_pid), _cpu_seconds(postgres)
    process.start()
    latencies, errors, achieved, driver_cpu = queue.get()
    after = _cpu_seconds(server_pid), _cpu_seconds(postgres)
    process.join()
    ordered = sorted(latencies)
    # the warm-up's requests are in the CPU figures too: 50 on top of the measured ones
    requests = len(ordered) + 50
    return {
        "server_cpu_ms": 1000 * (after[0] - before[0]) / requests,
        "postgres_cpu_ms": 1000 * (after[1] - before[1]) / requests,
        "driver_cpu_ms": 1000 * driver_cpu / requests,
        "requests": len(ordered),
        "errors": errors,
        "rate": achieved,
        "p50": statistics.median(ordered),
        "p99": ordered[int(0.99 * (len(ordered) - 1))],
        "max": ordered[-1],
    }


def bench(name: str, store_url: str, data_dir: Path, args: argparse.Namespace) -> None:
    """Seed one store, serve it, drive it, print the figures."""
    users = 5_000
    took = seed(store_url, data_dir, args.rows, users)
    print(f"[{name}] seeded {args.rows:,} score rows for {users:,} users in {took:.0f} s")
    env = os.environ | {
        "AUDITLENS_STORE_URL": store_url,
        "AUDITLENS_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT / "src"),
        # `keys create` is for an admin: the OS account running the bench is made one
        "AUDITLENS_PRINCIPALS": json.dumps({_os_user(): ["admin"]}),
    }
    key = create_key(env)
    with server(env, free_port(), args.workers) as base:
        figures = measure(base, key, users, args.rate, args.seconds)
    verdict = "meets" if figures["p99"] < 20 else "misses"
    print(
        f"[{name}] GET /v1/users/{{id}}/risk, {args.workers} worker(s): "
        f"{figures['requests']:,} requests at "
        f"{figures['rate']:.0f}/s (asked {args.rate:.0f}/s), {figures['errors']} errors; "
        f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, max {figures['max']:.1f} ms "
        f"— {verdict} the p99 < 20 ms goal"
    )
    cores = (figures["server_cpu_ms"] + figures["postgres_cpu_ms"] + figures["driver_cpu_ms"]) * (
        figures["rate"] / 1000
    )
    print(
        f"[{name}] CPU per request: server {figures['server_cpu_ms']:.2f} ms, "
        f"database processes {figures['postgres_cpu_ms']:.2f} ms, load generator "
        f"{figures['driver_cpu_ms']:.2f} ms — {cores:.2f} cores busy at the rate achieved "
        f"(of {os.cpu_count()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--workers", type=int, default=2, help="serve api --workers (default 2: the cores here)"
    )
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            bench("sqlite", f"sqlite:///{tmp}/store.db", Path(tmp) / "data", args)
    if args.only != "sqlite":
        from sqlalchemy import create_engine, text

        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {PG_DB}"))
        try:
            with tempfile.TemporaryDirectory() as tmp:
                url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"
                bench("postgresql", url, Path(tmp) / "data", args)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))


if __name__ == "__main__":
    main()
