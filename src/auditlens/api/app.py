"""The risk service application: ``create_app(settings) -> FastAPI``.

Health (``/healthz`` liveness, ``/readyz`` store reachable and schema current) answers
without a principal; everything else, the OpenAPI document (``/v1/openapi.json``) and
Prometheus' ``/metrics`` (``api/metrics.py``) too, needs one (the data routes are
mounted on :func:`auditlens.api.auth.v1_router`). Errors are problem
details (``api/problems.py``); the OpenAPI document lists every status each route can
return and both security schemes.

Example::

    >>> from fastapi.testclient import TestClient
    >>> client = TestClient(create_app(settings))
    >>> client.get("/healthz").json()
    {'status': 'ok'}
    >>> client.get("/v1/whoami").status_code
    401
    >>> client.get("/v1/openapi.json").status_code   # the description too needs a principal
    401
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig

from auditlens import __version__
from auditlens.api import heap, problems, routes
from auditlens.api.auth import Authenticator, Viewer, v1_router
from auditlens.api.metrics import RequestMetrics, Timed, metrics_router
from auditlens.api.models import Health, KeyInfo, WhoAmI
from auditlens.api.problems import MEDIA_TYPE, Problem, problem_responses
from auditlens.api.stores import StoreHolder
from auditlens.config import Settings
from auditlens.store.db import POOL_SIZE

DESCRIPTION = """auditlens risk service / 위험 조회 서비스.

Authenticate with an API key (`X-API-Key: KEY`, or `Authorization: ApiKey KEY`) made by
`auditlens keys create`, or an OIDC bearer token (`Authorization: Bearer TOKEN`). Roles:
viewer (read), analyst (triage), approver (four-eyes approve, re-identify), admin.
Errors are RFC 9457 problem details (`application/problem+json`).
"""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """The API for the deployment ``settings`` describes (the store opens on first use).

    ``freeze_heap``: for a serving process (``serve api``): keep full garbage collections
    out of request latency (:mod:`auditlens.api.heap`).

    Raises:
        ConfigError: the OIDC key set cannot be read, or pseudonymisation is on
            without a usable key.
    """
    stores = StoreHolder(settings)
    authenticator = Authenticator(settings, stores, clock or _utc_now)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # no more requests at the database at once than the store's pool holds
        # connections: a deeper queue of threads only opens and closes connections
        anyio.to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
        if freeze_heap:
            heap.freeze(full=True)
        yield
        stores.close()

    app = FastAPI(
        title="auditlens",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # the description of the API is for callers with a principal like the rest
        # (/v1/openapi.json); no /docs pages: they load their scripts from a CDN that a
        # bank's network does not reach
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # FastAPI's OpenTelemetry hooks asked the tracer provider on every request (a
        # tenth of the service's CPU); on only when a deployment sends traces somewhere
        telemetry=_telemetry(settings),
    )
    app.state.settings = settings
    app.state.language = settings.language
    app.state.stores = stores
    app.state.authenticator = authenticator
    app.state.request_metrics = timing = RequestMetrics()
    problems.install(app)
    app.include_router(health_router())
    app.include_router(meta_router())
    app.include_router(metrics_router())
    routes.install(app, settings)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(Timed, metrics=timing)
    if freeze_heap:
        app.add_middleware(heap.FreezeHeap)
    return app


def _telemetry(settings: Settings) -> TelemetryConfig:
    """FastAPI's native OpenTelemetry (spans, metrics, logs of requests): off unless
    ``api.opentelemetry`` (then providers and exporters come from the environment, e.g.
    ``FASTAPI_OTEL_AUTO_CONFIGURE=true`` with ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    on = settings.api.opentelemetry
    return {"tracing": on, "metrics": on, "logs": on, "operation_spans": on}


def app_from_environment() -> FastAPI:
    """The API of one ``serve api --workers N`` process: the settings as every auditlens
    command reads them (``AUDITLENS_CONFIG`` or ./auditlens.toml, ``AUDITLENS_*``)."""
    from auditlens.config import load_settings

    return create_app(load_settings(), freeze_heap=True)


def health_router() -> APIRouter:
    """``/healthz`` and ``/readyz``: no principal needed, nothing told beyond ok or not."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", responses=problem_responses(), summary="Liveness / 동작 확인")
    def healthz() -> Health:
        """The process answers."""
        return Health()

    @router.get("/readyz", responses=problem_responses(503), summary="Readiness / 준비 확인")
    def readyz(request: Request) -> Health:
        """The store is reachable and its schema is current."""
        holder: StoreHolder = request.app.state.stores
        if not holder.ready():
            raise Problem(503, "not-ready", "Not ready", "not ready", "준비되지 않았습니다")
        return Health()

    return router


def meta_router() -> APIRouter:
    """``/v1/whoami``: the proven principal."""
    router = v1_router()

    @router.get("/whoami", summary="The caller / 호출자", tags=["identity"])
    def whoami(caller: Viewer) -> WhoAmI:
        """The principal the credential proves, its roles, and how it was proven."""
        key = caller.key
        return WhoAmI(
            id=caller.principal.id,
            roles=sorted(caller.principal.roles),
            via=caller.via,
            key=None
            if key is None
            else KeyInfo(name=key.name, prefix=key.prefix, expires_at=key.expires_at),
        )

    @router.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request, caller: Viewer) -> JSONResponse:
        """The OpenAPI document of this API (every route, status and schema)."""
        del caller  # any principal may read how to call the API
        return JSONResponse(request.app.openapi())

    return router


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document; error responses list only ``application/problem+json``."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and MEDIA_TYPE in content:
                    content.pop("application/json", None)
    app.openapi_schema = schema
    return schema
