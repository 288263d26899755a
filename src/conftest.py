"""What the docstring examples in src/ may assume (``make test`` runs them as doctests).

Each example runs in the namespace of its module plus these names, in a fresh temporary
directory that is also the working directory (so relative paths such as ``var/...`` or
``events.csv`` land there):

* ``settings``: :class:`~auditlens.config.Settings` whose SQLite store and data directory
  live in that directory; the store is migrated.
* ``store``: an open :class:`~auditlens.store.repo.Store` on it (closed afterwards).
* ``alert``: a high alert (#1 in that store, open): user U0042 of retail, risk 82.4 on
  2026-09-07, with two reasons.
* ``webhook_url``: a local HTTP server's URL that answers a POST with 200 ``ok``.
* ``smtp_port``: the port of a local SMTP server on 127.0.0.1 (no TLS, no AUTH).

This file is not part of the package (only ``src/auditlens`` is).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer

from auditlens.alerts.intake import Criteria, Detection, admit
from auditlens.config import Settings
from auditlens.store.alerts import Alert
from auditlens.store.repo import Store

#: Alembic's env.py runs a migration when imported: not a module to import for examples.
collect_ignore = ["auditlens/store/migrations/env.py"]

#: Tuesday 2026-09-08 10:00 in Seoul: a working day, inside business hours.
T0 = dt.datetime(2026, 9, 8, 1, 0, tzinfo=dt.UTC)


def _open_alert(settings: Settings) -> Alert:
    """Raise the ``alert`` of the examples as a run would (with its trail entries)."""
    detection = Detection(
        score_id=11,
        run_id=1,
        user_id="U0042",
        department="retail",
        window=dt.date(2026, 9, 7),
        risk=82.4,
        severity="high",
        reasons=[
            {
                "feature": "off_hours_login_ratio",
                "ko": "업무시간 외 로그인 비율 62%",
                "en": "off-hours login share 62%",
            },
            {"feature": "bulk_ratio", "ko": "대량 반출성 행위 8.2배", "en": "bulk actions 8.2x"},
        ],
        model_sha256="a" * 64,
        config_hash="c0ffee",
    )
    criteria = Criteria(min_severity="medium", threshold_risk=50.0, capacity=20, dedup_hours=24.0)
    store = Store.open(settings, migrate=True)
    try:
        (alert,) = admit(store.engine, [detection], [], criteria, T0).opened
        return alert
    finally:
        store.close()


def _settings(root: Path) -> Settings:
    return Settings(
        store_url=f"sqlite:///{root / 'store.db'}",
        data_dir=root / "var",
    )


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Alert]:
    """A migrated store holding the alert, made once: each example gets a copy (migrating
    takes a second)."""
    root = tmp_path_factory.mktemp("migrated")
    return root, _open_alert(_settings(root))


class _Accept:
    """An SMTP handler that accepts every message."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@pytest.fixture(scope="session")
def _servers() -> Iterator[dict[str, Any]]:
    """A local webhook and a local SMTP server for the channel examples."""
    http = HTTPServer()
    http.expect_request("/hook", method="POST").respond_with_data("ok")
    http.start()
    with socket.socket() as probe:  # a free port: the controller checks it by connecting
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    smtp = Controller(_Accept(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        yield {"webhook_url": http.url_for("/hook"), "smtp_port": port}
    finally:
        smtp.stop()
        http.stop()


@pytest.fixture(autouse=True)
def _example_namespace(
    doctest_namespace: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    _migrated: tuple[Path, Alert],
    _servers: dict[str, Any],
) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("AUDITLENS_")]:
        monkeypatch.delenv(key)  # no developer's auditlens.toml or AUDITLENS_* variables
    monkeypatch.setenv("AUDITLENS_CONFIG", str(tmp_path / "no-such-auditlens.toml"))
    template, alert = _migrated
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    settings = _settings(tmp_path)
    store = Store.open(settings)
    doctest_namespace.update(_servers, settings=settings, store=store, alert=alert)
    try:
        yield
    finally:
        store.close()
