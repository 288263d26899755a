"""Metrics for Prometheus without a pushgateway (``auditlens monitor``): an exporter that
serves the store's figures on its own port, or a file for node_exporter's textfile
collector, written atomically.

Both read the store at the moment Prometheus (or the file) asks, through
:class:`~auditlens.monitor.metrics.StoreCollector` — the figures the API's ``/metrics``
gives — and add the audit trail's last verification, which only they make (it reads the
whole trail; the API's workers do not repeat it).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from prometheus_client import CollectorRegistry, start_wsgi_server, write_to_textfile

from auditlens.config import Settings
from auditlens.errors import AuditlensError
from auditlens.monitor.metrics import StoreCollector, TrailCheck, TrailVerification
from auditlens.store.repo import Store

#: The exporter's port unless told otherwise (next to node_exporter's 9100 range).
DEFAULT_PORT: Final = 9464
#: Seconds between two verifications of the trail by ``monitor serve``.
DEFAULT_VERIFY_EVERY: Final = 3600.0


class MonitorError(AuditlensError):
    """The exporter cannot start or the metrics file cannot be written."""


@dataclass(frozen=True)
class Serving:
    """Where a started exporter answers."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The address Prometheus scrapes."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_metrics(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    verify_every: float = DEFAULT_VERIFY_EVERY,
    started: Callable[[Serving], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve the store's metrics at ``http://HOST:PORT/metrics`` until ``stop`` is set
    (or the process is interrupted); the trail is verified at start and every
    ``verify_every`` seconds (0: never, no trail metrics).

    Raises:
        StoreError: the store cannot be opened.
        MonitorError: the port cannot be bound.
    """
    stop = stop or threading.Event()
    with Store.open(settings) as store:
        trail = TrailCheck(store) if verify_every > 0 else None
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StoreCollector(store, trail))
        try:
            server, thread = start_wsgi_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise MonitorError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="choose another --port, or stop what uses it",
                ko=f"{host}:{port}에서 수신할 수 없습니다: {exc.strerror or exc}",
                ko_hint="다른 --port를 고르거나 그 포트를 쓰는 프로그램을 멈추십시오",
            ) from None
        verifier = None
        if trail is not None:
            verifier = threading.Thread(
                target=_verify_until, args=(trail, verify_every, stop), daemon=True
            )
            verifier.start()
        try:
            if started is not None:
                started(Serving(host, int(server.server_address[1])))
            while not stop.wait(1.0):
                pass
        finally:
            stop.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            if verifier is not None:
                verifier.join(timeout=5)


def _verify_until(trail: TrailCheck, every: float, stop: threading.Event) -> None:
    while not stop.is_set():
        trail.run()
        stop.wait(every)


@dataclass(frozen=True)
class TextfileReport:
    """What ``monitor textfile`` wrote."""

    path: Path
    trail: TrailVerification | None


def write_textfile(settings: Settings, path: Path, *, verify: bool = True) -> TextfileReport:
    """Write the store's metrics to ``path`` (``.prom``, for node_exporter's textfile
    collector) atomically: a temporary file beside it, then renamed over it, so the
    collector never reads half a file. ``verify`` also verifies the trail first.

    Raises:
        StoreError: the store cannot be opened.
        MonitorError: ``path`` does not end in .prom or cannot be written.
    """
    if path.suffix != ".prom":
        raise MonitorError(
            f"{path}: the textfile collector reads only files ending in .prom",
            hint="name the file e.g. auditlens.prom",
            ko=f"{path}: 텍스트파일 수집기는 .prom으로 끝나는 파일만 읽습니다",
            ko_hint="파일 이름을 예컨대 auditlens.prom으로 하십시오",
        )
    with Store.open(settings) as store:
        trail = TrailCheck(store) if verify else None
        checked = trail.run() if trail is not None else None
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StoreCollector(store, trail))
        try:
            write_to_textfile(str(path), registry)
        except OSError as exc:
            raise MonitorError(
                f"cannot write {path}: {exc.strerror or exc}",
                hint="check that the directory exists and is writable",
                ko=f"{path}을(를) 쓸 수 없습니다: {exc.strerror or exc}",
                ko_hint="디렉터리가 있고 쓰기 권한이 있는지 확인하십시오",
            ) from None
    return TextfileReport(path, checked)
