"""`auditlens serve`: long-running services (`serve api`: the risk service over HTTP;
`serve dashboard`: the risk dashboard)."""

from __future__ import annotations

from typing import Annotated

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
) -> None:
    """Serve the risk service API (uvicorn) until stopped. / 위험 조회 API를 실행합니다."""
    import uvicorn

    from auditlens.api.app import create_app

    settings = call(ctx, load_settings)
    app = call(ctx, lambda: create_app(settings))
    uvicorn.run(
        app,
        host=host or settings.api.host,
        port=port or settings.api.port,
        log_level="info",
        proxy_headers=False,
        server_header=False,
    )


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
