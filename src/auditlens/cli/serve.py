"""`auditlens serve`: long-running services (`serve api`: the risk service over HTTP;
`serve dashboard`: the risk dashboard)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from auditlens.cli.common import call, load_settings

serve_app = typer.Typer(
    help="Run a service. / 서비스를 실행합니다.",
    no_args_is_help=True,
)


@serve_app.command("api")
def serve_api(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Address to listen on (default: api.host in auditlens.toml). / 수신 주소.",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=1,
            max=65535,
            help="TCP port (default: api.port in auditlens.toml). / 수신 포트.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Processes to answer with (default: api.workers in auditlens.toml). "
            "/ 응답할 프로세스 수.",
        ),
    ] = None,
) -> None:
    """Serve the risk service API (uvicorn) until stopped. / 위험 조회 API를 실행합니다."""
    import os

    import uvicorn

    from auditlens.api.app import create_app

    settings = call(ctx, load_settings)
    # a bad setting stops here, in one line
    app = call(ctx, lambda: create_app(settings, freeze_heap=True))
    processes = workers or settings.api.workers
    options: dict[str, Any] = {
        "host": host or settings.api.host,
        "port": port or settings.api.port,
        "log_level": "info",
        # a request line names the person looked at (/v1/users/ID/risk): the audit trail
        # records those reads under access control; a log file would copy them outside it
        "access_log": settings.api.access_log,
        "proxy_headers": False,
        "server_header": False,
    }
    if processes == 1:
        uvicorn.run(app, **options)
        return
    # each worker process builds its own app from the same settings (--lang included)
    os.environ["AUDITLENS_LANGUAGE"] = settings.language
    with _worker_metrics():
        uvicorn.run(
            "auditlens.api.app:app_from_environment", factory=True, workers=processes, **options
        )


@contextlib.contextmanager
def _worker_metrics() -> Iterator[None]:
    """Workers count their requests in files of one directory, so that any worker's
    ``/metrics`` adds up all of them: ``PROMETHEUS_MULTIPROC_DIR`` if set (emptied by
    whoever set it), else a fresh directory removed at exit."""
    import os
    import tempfile

    from auditlens.api.metrics import MULTIPROCESS_DIR

    if os.environ.get(MULTIPROCESS_DIR):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="auditlens-metrics-") as directory:
        os.environ[MULTIPROCESS_DIR] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR]


@serve_app.command("dashboard")
def serve_dashboard(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Address to listen on (default: dashboard.host in auditlens.toml). / 수신 주소.",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=1,
            max=65535,
            help="TCP port (default: dashboard.port in auditlens.toml). / 수신 포트.",
        ),
    ] = None,
) -> None:
    """Serve the risk dashboard (Streamlit) until stopped. / 위험 대시보드를 실행합니다."""
    from auditlens.dashboard.server import serve

    settings = call(ctx, load_settings)
    call(ctx, lambda: serve(settings, host=host, port=port))
