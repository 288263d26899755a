"""The store's figures as Prometheus metrics: the collector (SQLite and PostgreSQL), the
trail check, `auditlens monitor textfile` and `auditlens monitor serve`."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import Settings
from auditlens.monitor.metrics import StoreCollector, TrailCheck
from auditlens.monitor.review import decide_sample
from auditlens.pipeline.monitoring import (
    MonitorError,
    Serving,
    is_loopback,
    serve_metrics,
    write_textfile,
)
from auditlens.store.db import alerts
from auditlens.store.repo import Store
from tests.alerts.conftest import T0
from tests.views.conftest import SHA_A, batch, model, open_alert, scores
from tests.views.test_quality import KIM, OFF, USB, _samples
from tests.views.test_quality import fill as fill_quality

runner = CliRunner()
#: Every family the store collector reports (docs/monitoring.md lists each).
STORE_FAMILIES = {
    "auditlens_store_up",
    "auditlens_store_read_duration_seconds",
    "auditlens_runs",
    "auditlens_run_last_success_timestamp_seconds",
    "auditlens_run_last_duration_seconds",
    "auditlens_scores_stored_total",
    "auditlens_events_ingested_total",
    "auditlens_events_accepted_total",
    "auditlens_events_quarantined_total",
    "auditlens_ingest_last_commit_timestamp_seconds",
    "auditlens_events_quarantined_by_kind_total",
    "auditlens_tamper_findings_total",
    "auditlens_alerts",
    "auditlens_deliveries",
    "auditlens_delivery_attempts_total",
    "auditlens_outbox_oldest_pending_age_seconds",
    "auditlens_outbox_oldest_due_age_seconds",
    "auditlens_model_info",
    "auditlens_model_age_seconds",
    # drift of the newest measured run (tests/monitor/test_drift.py checks the values)
    "auditlens_drift_run_id",
    "auditlens_drift_measured",
    "auditlens_drift_psi",
    "auditlens_drift_ks",
    "auditlens_drift_features_drifted",
    "auditlens_drift_features_measured",
    "auditlens_drift_drifted",
    "auditlens_score_psi",
    "auditlens_score_ks",
    "auditlens_alert_rate_ratio",
    "auditlens_alert_precision",
    "auditlens_review_samples",
    "auditlens_miss_rate",
}
TRAIL_FAMILIES = {
    "auditlens_audit_trail_last_verification_timestamp_seconds",
    "auditlens_audit_trail_verification_ok",
    "auditlens_audit_trail_entries",
    "auditlens_audit_trail_verification_duration_seconds",
}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A migrated, empty store."""
    with Store.open(settings, migrate=True) as opened:
        yield opened


def samples(text: str) -> Samples:
    """Every sample of an exposition: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def families(text: str) -> set[str]:
    """The names of the families an exposition describes (empty ones too)."""
    return set(re.findall(r"^# HELP (\S+) ", text, flags=re.MULTILINE))


def scrape(collector: StoreCollector) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def fill(store: Store) -> None:
    """A batch with 2 quarantined rows, a model fitted at T0, a run finished at T0, a
    high alert whose delivery is dead-lettered."""
    batch(store, "m1", T0, quarantined=2)
    model(store, SHA_A)
    scores(store, [("U1", dt.date(2026, 9, 7), 70.0, "high", [])])
    open_alert(store, T0, user="U1", severity="high")
    (item,) = store.alerts.outbox.items()
    store.alerts.outbox.record_attempt(
        item,
        now=T0,
        ok=False,
        status_code=500,
        retry_after=None,
        error="boom",
        detail=None,
        next_status="dead",
        not_before=None,
    )


def test_the_collector_reports_the_stores_figures(store: Store) -> None:
    fill(store)
    text = scrape(StoreCollector(store, clock=lambda: T0 + dt.timedelta(days=2)))
    got = samples(text)
    assert got[("auditlens_store_up", ())] == 1
    assert got[("auditlens_runs", (("alerts_state", "pending"),))] == 1
    assert got[("auditlens_run_last_success_timestamp_seconds", ())] == T0.timestamp()
    assert got[("auditlens_run_last_duration_seconds", ())] == 0
    assert got[("auditlens_scores_stored_total", ())] == 1
    assert got[("auditlens_events_ingested_total", (("source", "src"),))] == 3
    assert got[("auditlens_events_quarantined_total", (("source", "src"),))] == 2
    kind = (("kind", "user_id:missing"),)
    assert got[("auditlens_events_quarantined_by_kind_total", kind)] == 2
    assert got[("auditlens_alerts", (("severity", "high"), ("status", "open")))] == 1
    assert got[("auditlens_alerts", (("severity", "low"), ("status", "closed")))] == 0
    assert got[("auditlens_deliveries", (("status", "dead"),))] == 1
    assert got[("auditlens_delivery_attempts_total", (("outcome", "failed"),))] == 1
    assert got[("auditlens_outbox_oldest_pending_age_seconds", ())] == 0
    assert got[("auditlens_model_age_seconds", ())] == 2 * 86400
    assert got[("auditlens_model_info", (("kind", "unsupervised"), ("sha256", SHA_A)))] == 1
    # no trail check configured: no trail metrics
    assert not any(name.startswith("auditlens_audit_trail") for name, _ in got)
    # every family says what it is in both languages
    helps = re.findall(r"^# HELP (\S+) (.*)$", text, flags=re.MULTILINE)
    assert {name for name, _ in helps} == STORE_FAMILIES
    for name, words in helps:
        assert " / " in words and re.search("[가-힣]", words), name


def test_precision_review_samples_and_miss_rate(store: Store) -> None:
    """Precision per scenario over 28 days, samples per status, the miss rate: as
    views.quality computes them (tests/views/test_quality.py's store)."""
    fill_quality(store)
    ids = _samples(store, T0, 5, population=40)
    for sample, verdict in zip(ids, ("missed", "clean", "clean", "clean"), strict=False):
        decide_sample(store, sample, verdict, by=KIM, reason="explained", now=T0)
    now = dt.datetime(2026, 9, 20, tzinfo=dt.UTC)
    got = samples(scrape(StoreCollector(store, clock=lambda: now)))
    assert got[("auditlens_alert_precision", (("scenario", OFF),))] == pytest.approx(2 / 3)
    assert got[("auditlens_alert_precision", (("scenario", USB),))] == 0.0
    assert got[("auditlens_review_samples", (("status", "pending"),))] == 1
    assert got[("auditlens_review_samples", (("status", "missed"),))] == 1
    assert got[("auditlens_review_samples", (("status", "clean"),))] == 3
    assert got[("auditlens_miss_rate", ())] == 0.25
    later = samples(scrape(StoreCollector(store, clock=lambda: now + dt.timedelta(days=60))))
    quiet = ("auditlens_alert_precision", "auditlens_miss_rate")
    assert not any(name in quiet for name, _ in later)
    assert later[("auditlens_review_samples", (("status", "clean"),))] == 3


def test_an_empty_store_has_no_run_and_no_model(store: Store) -> None:
    got = samples(scrape(StoreCollector(store)))
    assert got[("auditlens_run_last_success_timestamp_seconds", ())] == 0
    assert ("auditlens_run_last_duration_seconds", ()) not in got
    assert ("auditlens_model_age_seconds", ()) not in got
    assert got[("auditlens_deliveries", (("status", "dead"),))] == 0


def test_an_unreadable_store_is_reported_down_and_the_scrape_still_answers(
    sqlite_settings: Settings,
) -> None:
    store = Store.open(sqlite_settings, migrate=True)
    try:
        trail = TrailCheck(store)
        assert trail.run().ok
        store.engine.dispose()
        os.remove(sqlite_settings.store_url.get_secret_value().removeprefix("sqlite:///"))
        got = samples(scrape(StoreCollector(store, trail)))
        assert got[("auditlens_store_up", ())] == 0
        assert ("auditlens_runs", (("alerts_state", "raised"),)) not in got
        # the last check is still reported; the next one fails
        assert got[("auditlens_audit_trail_verification_ok", ())] == 1
        assert not trail.run().ok
    finally:
        store.close()


def test_the_trail_check_sees_a_table_changed_behind_the_trails_back(store: Store) -> None:
    fill(store)
    moments = iter([T0, T0, T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=1)])
    trail = TrailCheck(store, clock=lambda: next(moments))
    first = trail.run()
    assert first.ok and first.entries >= 2 and first.at == T0
    with store.engine.begin() as conn:  # closed without a decision in the trail
        conn.execute(update(alerts).values(status="closed"))
    second = trail.run()
    assert not second.ok
    got = samples(scrape(StoreCollector(store, trail)))
    assert got[("auditlens_audit_trail_verification_ok", ())] == 0
    stamp = ("auditlens_audit_trail_last_verification_timestamp_seconds", ())
    assert got[stamp] == (T0 + dt.timedelta(hours=1)).timestamp()
    assert got[("auditlens_audit_trail_entries", ())] == first.entries


def test_textfile_is_written_whole_and_only_as_prom(settings: Settings, tmp_path: Path) -> None:
    with Store.open(settings, migrate=True) as store:
        fill(store)
    target = tmp_path / "auditlens.prom"
    target.write_text("old contents\n")
    report = write_textfile(settings, target)
    assert report.trail is not None and report.trail.ok
    got = samples(target.read_text())
    assert families(target.read_text()) == STORE_FAMILIES | TRAIL_FAMILIES
    assert got[("auditlens_deliveries", (("status", "dead"),))] == 1
    assert got[("auditlens_audit_trail_verification_ok", ())] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("auditlens.prom")] == [
        "auditlens.prom"
    ]  # no temporary file left beside it
    unverified = write_textfile(settings, target, verify=False)
    assert unverified.trail is None
    assert ("auditlens_audit_trail_verification_ok", ()) not in samples(target.read_text())
    with pytest.raises(MonitorError, match=r"\.prom"):
        write_textfile(settings, tmp_path / "auditlens.txt")
    with pytest.raises(MonitorError, match="cannot write"):
        write_textfile(settings, tmp_path / "missing" / "auditlens.prom")


def _environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLENS_STORE_URL", settings.store_url.get_secret_value())
    monkeypatch.setenv("AUDITLENS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUDITLENS_CONFIG", str(settings.data_dir / "none.toml"))


def test_monitor_textfile_command(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(sqlite_settings, migrate=True).close()
    _environment(sqlite_settings, monkeypatch)
    target = tmp_path / "node" / "auditlens.prom"
    target.parent.mkdir()
    done = runner.invoke(app, ["--lang", "en", "monitor", "textfile", str(target)])
    assert done.exit_code == 0, done.output
    assert "wrote" in done.output and "audit trail verified (0 entries)" in done.output
    assert samples(target.read_text())[("auditlens_store_up", ())] == 1
    korean = runner.invoke(app, ["--lang", "ko", "monitor", "textfile", str(target)])
    assert korean.exit_code == 0 and "썼습니다" in korean.output
    wrong = runner.invoke(app, ["--lang", "en", "monitor", "textfile", "out.txt"])
    assert wrong.exit_code == 1 and "only files ending in .prom" in wrong.output


def test_monitor_serve_answers_prometheus_until_stopped(store: Store, settings: Settings) -> None:
    fill(store)
    stop = threading.Event()
    where: list[Serving] = []
    ready = threading.Event()

    def started(serving: Serving) -> None:
        where.append(serving)
        ready.set()

    serving = threading.Thread(
        target=serve_metrics,
        args=(settings,),
        kwargs={"port": 0, "verify_every": 3600, "started": started, "stop": stop},
    )
    serving.start()
    try:
        assert ready.wait(30), "the exporter did not start"
        (serving_at,) = where
        assert serving_at.host == "127.0.0.1" and serving_at.url.endswith("/metrics")
        got: Samples = {}
        for _ in range(50):  # the first verification runs on its own thread
            got = samples(httpx.get(serving_at.url, timeout=5).text)
            if ("auditlens_audit_trail_verification_ok", ()) in got:
                break
            threading.Event().wait(0.1)
        assert got[("auditlens_deliveries", (("status", "dead"),))] == 1
        assert got[("auditlens_audit_trail_verification_ok", ())] == 1
    finally:
        stop.set()
        serving.join(timeout=15)
    assert not serving.is_alive()
    with pytest.raises(httpx.TransportError):
        httpx.get(serving_at.url, timeout=2)


def test_monitor_serve_on_a_busy_port_says_so(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(sqlite_settings, migrate=True).close()
    _environment(sqlite_settings, monkeypatch)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = runner.invoke(app, ["--lang", "en", "monitor", "serve", "--port", port])
        korean = runner.invoke(app, ["--lang", "ko", "monitor", "serve", "--port", port])
    assert done.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in done.output
    assert korean.exit_code == 1 and "수신할 수 없습니다" in korean.output


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")  # noqa: S104
    assert not is_loopback("metrics.bank.example")
    assert Serving("::1", 9464).url == "http://[::1]:9464/metrics"
