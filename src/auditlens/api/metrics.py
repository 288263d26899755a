"""``GET /metrics`` for Prometheus (a principal needed, like every data route), and the
request timing behind its latency histogram.

What it serves: the store's figures (:class:`~auditlens.monitor.metrics.StoreCollector`,
read at each scrape — the same numbers ``auditlens monitor serve`` gives), this
process's requests (:class:`RequestMetrics`: a latency histogram and a counter by status
code, per route template) and its CPU and memory. Prometheus sends a viewer key as a
bearer token (``authorization: {type: Bearer, credentials_file: ...}``; docs/monitoring.md).

Timing is a pure ASGI middleware (:class:`Timed`): no ``BaseHTTPMiddleware``, whose
task-per-request costs the hot path far more than one clock read and a histogram update.

With ``serve api --workers N`` each worker counts its own requests in files under
``PROMETHEUS_MULTIPROC_DIR`` (``serve api`` makes one when it is not set) and any worker's
``/metrics`` adds up all of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import Final

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auditlens.api.auth import AUTH_PROBLEMS, ProvenRoute, Viewer, principal
from auditlens.api.problems import problem_responses
from auditlens.api.stores import StoreHolder
from auditlens.monitor.metrics import StoreCollector

#: The environment variable that turns on prometheus_client's multi-process mode.
MULTIPROCESS_DIR: Final = "PROMETHEUS_MULTIPROC_DIR"
#: Latency buckets (seconds), finest around the 20 ms p99 goal (docs/api.md).
BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
#: The route label of a request no route matched (404s of made-up paths: one series).
UNMATCHED: Final = "unmatched"
#: Methods counted by name; any other a client makes up is counted as ``other``.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """This process's request latency and counts, by method and route template."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.duration = Histogram(
            "auditlens_api_request_duration_seconds",
            "Seconds from a request's arrival to its last response byte, by route. "
            "/ 요청 처리 시간(초, 경로별).",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "auditlens_api_requests",
            "Requests answered, by route and status code. / 경로·상태 코드별 요청 수.",
            ["method", "route", "code"],
            registry=self.registry,
        )
        if MULTIPROCESS_DIR not in os.environ:
            ProcessCollector(registry=self.registry)
        self._children: dict[tuple[str, str, int], tuple[Histogram, Counter]] = {}

    def observe(self, method: str, route: str, code: int, seconds: float) -> None:
        """Count one answered request that took ``seconds``."""
        key = (method, route, code)
        children = self._children.get(key)
        if children is None:  # labels() costs a lock and a dict lookup: once per series
            children = (
                self.duration.labels(method, route),
                self.requests.labels(method, route, str(code)),
            )
            self._children[key] = children
        children[0].observe(seconds)
        children[1].inc()

    def sources(self) -> Collector:
        """Where the request metrics are read from: this process, or every worker's files."""
        if MULTIPROCESS_DIR in os.environ:
            workers = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(workers)  # type: ignore[no-untyped-call]
            return workers
        return self.registry


class Timed:
    """ASGI middleware: times every HTTP request into :class:`RequestMetrics`."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # an exception before the response started: the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")  # set by the router on the scope it was given
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.observe(method, template, status, time.perf_counter() - began)


class _Joined(Collector):
    def __init__(self, parts: Iterable[Collector]) -> None:
        self.parts = tuple(parts)

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()


def metrics_router() -> APIRouter:
    """``GET /metrics``: a proven principal of any role (Prometheus uses a viewer key)."""
    router = APIRouter(
        route_class=ProvenRoute,
        dependencies=[Depends(principal)],
        responses=problem_responses(*AUTH_PROBLEMS),
    )

    @router.get(
        "/metrics",
        summary="Metrics for Prometheus / 프로메테우스 지표",
        tags=["monitoring"],
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format 0.0.4",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    def metrics(request: Request, caller: Viewer) -> Response:
        """The store's figures, read now, and this service's requests (docs/monitoring.md)."""
        del caller  # any principal may read the figures: they name no person
        holder: StoreHolder = request.app.state.stores
        timing: RequestMetrics = request.app.state.request_metrics
        body = generate_latest(_Joined([timing.sources(), StoreCollector(holder.get())]))
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return router
