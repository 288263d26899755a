"""The sample organisation and the demo: generate, ingest, run, show."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from auditlens.alerts.dispatch import DispatchReport
from auditlens.calendar import BusinessCalendar
from auditlens.config import (
    AlertRouteConfig,
    ConsoleChannelConfig,
    FileChannelConfig,
    Settings,
    mask_url,
)
from auditlens.pipeline.alerting import RaiseReport, dispatch_alerts, raise_alerts
from auditlens.pipeline.ingestion import IngestReport, ingest
from auditlens.pipeline.replay import Explanation, explain_user
from auditlens.pipeline.run import RunReport, run
from auditlens.pipeline.trail import verify_trail
from auditlens.schema import EVENT_ID, USER_ID
from auditlens.sources.corrupt import write_corrupted_csv
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.audit_repository import Verification
from auditlens.store.repo import Store
from auditlens.vocabulary import SampleFormat, Severity


@dataclass(frozen=True)
class SampleSummary:
    """What `generate` wrote."""

    users: int
    days: int
    events: int
    insiders: int
    seconds: float
    files: dict[str, Path]


def generate_sample(
    settings: Settings,
    out: Path,
    *,
    users: int,
    days: int,
    seed: int,
    start: dt.date,
    insider_rate: float,
    fmt: SampleFormat = "parquet",
    profile: str = "default",
) -> SampleSummary:
    """Generate a synthetic organisation and write events, labels, catalog, directory
    (and, for ``profile="realistic"``, the cast of look-alikes)."""
    began = time.perf_counter()
    spec = GeneratorSpec(
        users=users,
        days=days,
        seed=seed,
        start=start,
        insider_rate=insider_rate,
        timezone=settings.timezone,
        profile=profile,
    )
    data = generate(spec, BusinessCalendar.from_settings(settings))
    files = write_sample(data, out, fmt)
    return SampleSummary(
        users=users,
        days=days,
        events=data.events.height,
        insiders=data.labels.get_column(USER_ID).n_unique(),
        seconds=time.perf_counter() - began,
        files=files,
    )


@dataclass(frozen=True)
class DemoResult:
    """What the demo did, for the CLI to print."""

    sample_dir: Path
    sample: SampleSummary
    ingests: list[IngestReport]
    store_url: str
    store_counts: dict[str, int]
    quarantine_sample: pl.DataFrame
    run: RunReport
    replay: Explanation | None
    alerts: RaiseReport
    delivery: DispatchReport
    alerts_file: Path | None
    trail: Verification


def run_demo(settings: Settings, *, users: int = 200, days: int = 30) -> DemoResult:
    """Generate the sample (once), migrate the store and run the main job on it.

    Besides the clean sample it ingests a damaged branch-office export (other column
    names, bad rows, a cut-off last line) so the quarantine can be seen at work.
    Running it again is fast: nothing already ingested is read again.
    """
    sample_dir = settings.data_dir / "sample"
    marker = sample_dir / "spec.json"
    wanted = {"users": users, "days": days, "seed": 7}
    began = time.perf_counter()
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        events = pl.scan_parquet(sample_dir / "events.parquet")
        summary = SampleSummary(
            users=users,
            days=days,
            events=events.select(pl.len()).collect().item(),
            insiders=pl.read_csv(sample_dir / "labels.csv").get_column(USER_ID).n_unique(),
            seconds=time.perf_counter() - began,
            files={p.stem: p for p in sorted(sample_dir.iterdir()) if p.is_file()},
        )
    else:
        summary = generate_sample(
            settings,
            sample_dir,
            users=users,
            days=days,
            seed=7,
            start=dt.date(2026, 9, 1),
            insider_rate=0.03,
        )
        export = pl.read_parquet(sample_dir / "events.parquet").tail(200)
        export = export.with_columns(pl.col(EVENT_ID).str.replace("^E", "BR"))
        write_corrupted_csv(
            export, sample_dir / "branch_export.csv", each=3, seed=7, rename=DEMO_EXPORT_COLUMNS
        )
        marker.write_text(json.dumps(wanted))
    with Store.open(settings, migrate=True) as store:
        reports = [
            ingest(FileSource(sample_dir / "events.parquet", name="sample"), settings, store=store),
            ingest(
                FileSource(
                    sample_dir / "branch_export.csv",
                    column_map={v: k for k, v in DEMO_EXPORT_COLUMNS.items()},
                    name="branch_export",
                    settle_seconds=0,  # written above and complete: its cut line is final
                ),
                settings,
                store=store,
            ),
        ]
        counts = store.events.counts()
        sample_rows = store.events.quarantined(limit=8)
    # the sample ships its resource catalog and directory; configured ones win
    scoring_settings = settings.model_copy(
        update={
            "resource_catalog": settings.resource_catalog or sample_dir / "resource_catalog.csv",
            "peer_directory": settings.peer_directory or sample_dir / "directory.csv",
        }
    )
    report = run(scoring_settings)
    replay = None
    if report.top.height:
        first = report.top.row(0, named=True)
        replay = explain_user(scoring_settings, first[USER_ID], first["peak_window"])
    alert_settings, alerts_file = demo_alert_settings(scoring_settings)
    raised = raise_alerts(alert_settings)
    delivery = dispatch_alerts(alert_settings)
    trail = verify_trail(alert_settings)
    return DemoResult(
        sample_dir=sample_dir,
        sample=summary,
        ingests=reports,
        store_url=mask_url(settings.store_url.get_secret_value()),
        store_counts=counts,
        quarantine_sample=sample_rows,
        run=report,
        replay=replay,
        alerts=raised,
        delivery=delivery,
        alerts_file=alerts_file,
        trail=trail,
    )


#: How the demo's branch-office export names its columns (canonical -> customer).
DEMO_EXPORT_COLUMNS: dict[str, str] = {
    "event_id": "log_no",
    "user_id": "emp_no",
    "timestamp": "login_time",
    "action_type": "act",
    "resource_id": "menu",
}


def demo_alert_settings(settings: Settings) -> tuple[Settings, Path | None]:
    """The settings the demo alerts with: configured routes win; without any, every alert
    goes to a local JSON Lines file (``<data_dir>/alerts/alerts.jsonl``) and the console,
    so the whole loop runs without an external account."""
    if settings.alert_routes:
        return settings, None
    path = settings.data_dir / "alerts" / "alerts.jsonl"
    demo = settings.model_copy(
        update={
            "alert_channels": {
                "demo-file": FileChannelConfig(path=path),
                "console": ConsoleChannelConfig(),
            },
            "alert_routes": [
                AlertRouteConfig(
                    id="demo-all",
                    severities=list(Severity),
                    channels=["demo-file", "console"],
                )
            ],
        }
    )
    return demo, path
