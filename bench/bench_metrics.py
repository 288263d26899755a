"""What the API's request timing costs, and what a /metrics scrape costs.

Builds the API twice on one SQLite store — as shipped (with the pure-ASGI :class:`Timed`
middleware) and with the middleware taken out — and sends the same sequential requests
to each through the ASGI interface (no sockets: the difference is the middleware alone),
in alternating blocks so that machine noise falls on both: the middleware around an app
that only answers (its own cost), ``GET /healthz`` (the cheapest route) and ``GET
/v1/whoami`` with a viewer key (a proven principal, as every data route). Prints the
median and p99 per request of each and the difference; then the median time of
``GET /metrics`` on a store with ``--alerts`` alerts. Not a test: the machine is shared and noisy.

    .venv/bin/python bench/bench_metrics.py [--requests N] [--alerts N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auditlens.api.app import create_app
from auditlens.api.metrics import RequestMetrics, Timed
from auditlens.config import Settings
from auditlens.pipeline.keys import create_key
from auditlens.store.repo import Store


def _without_timing(app: FastAPI) -> FastAPI:
    app.user_middleware = [m for m in app.user_middleware if m.cls is not Timed]
    return app


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _block(app: ASGIApp, path: str, n: int, headers: dict[str, str]) -> list[float]:
    """``n`` requests straight through the ASGI interface (no HTTP client in the way)."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    status: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    took = []
    for _ in range(n):
        began = time.perf_counter()
        await app(_scope(path, headers), receive, send)
        took.append(time.perf_counter() - began)
    assert set(status) == {200}, set(status)
    return took


async def _compare(
    label: str, timed: ASGIApp, plain: ASGIApp, path: str, n: int, headers: dict[str, str]
) -> None:
    apps = {"timed": timed, "plain": plain}
    results: dict[str, list[float]] = {"timed": [], "plain": []}
    for app in apps.values():  # warm up: routes built, key proven and cached
        await _block(app, path, 200, headers)
    for _ in range(20):  # alternating blocks: noise falls on both
        for name, app in apps.items():
            results[name] += await _block(app, path, n // 20, headers)
    medians = {k: statistics.median(v) * 1e6 for k, v in results.items()}
    p99 = {k: statistics.quantiles(v, n=100)[98] * 1e6 for k, v in results.items()}
    print(
        f"{label:28} with timing: median {medians['timed']:7.1f} µs, p99 {p99['timed']:7.1f} µs"
        f" | without: median {medians['plain']:7.1f} µs, p99 {p99['plain']:7.1f} µs"
        f" | difference of medians {medians['timed'] - medians['plain']:+6.1f} µs"
    )


async def _bare(scope: Scope, receive: Receive, send: Send) -> None:
    """The cheapest ASGI app: the middleware's own cost shows against it."""
    scope["route"] = _ROUTE
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


class _Route:
    path = "/bare"


_ROUTE = _Route()


def _seed_alerts(store: Store, count: int) -> None:
    from tests.alerts.conftest import CRITERIA, T0, detection
    from tests.views.conftest import RULES

    from auditlens.alerts.intake import admit

    found = [detection(user=f"U{i:05d}", severity="high") for i in range(count)]
    admit(store.engine, found, RULES, CRITERIA, T0, trail=store.trail)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--alerts", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(
            store_url=f"sqlite:///{root / 'store.db'}",  # type: ignore[arg-type]
            data_dir=root / "var",
            principals={"park": ["admin"]},
        )
        with Store.open(settings, migrate=True) as store:
            _seed_alerts(store, args.alerts)
        secret = create_key(settings, "bench", "viewer", who_am_i=lambda: "park").secret
        viewer = {"Authorization": f"Bearer {secret}"}
        timed, plain = create_app(settings), _without_timing(create_app(settings))
        print(f"{args.requests:,} sequential requests per variant, straight through ASGI")
        bare = Timed(_bare, RequestMetrics())
        await _compare("the middleware alone", bare, _bare, "/bare", args.requests * 4, {})
        await _compare("GET /healthz", timed, plain, "/healthz", args.requests, {})
        await _compare(
            "GET /v1/whoami (viewer key)", timed, plain, "/v1/whoami", args.requests, viewer
        )
        took = await _block(timed, "/metrics", 50, viewer)
        print(
            f"GET /metrics on {args.alerts:,} alerts: median {statistics.median(took) * 1e3:.1f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
