"""A store filled from a generated organisation, the way a deployment fills it: events
generated, ingested in two parts (with a branch's damaged CSV export: quarantined rows
and a reused event id), scored by `auditlens run` twice (two weeks apart, so alerts open
on different days), and some alerts triaged by analysts kim and lee.

Shared by the tests that need a realistic store to read (the dashboard, reports): build
it once with :func:`build` and copy it with :func:`copy_deployment` for each test.
"""

from __future__ import annotations

import datetime as dt
import shutil
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from pydantic import SecretStr

from auditlens.config import Settings
from auditlens.pipeline import batch_job, ingest
from auditlens.pipeline.alerting import decide_alert
from auditlens.schema import EVENT_ID
from auditlens.sources.corrupt import write_corrupted_csv
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.alerts import AlertRepository
from auditlens.store.repo import Store
from auditlens.vocabulary import Severity

#: Who may triage in a built deployment.
PRINCIPALS = {"kim": ["analyst"], "lee": ["analyst", "approver"], "park": ["admin"]}
ZONE = "Asia/Seoul"


@dataclass(frozen=True)
class Organisation:
    """A built deployment: its settings (store and lake in ``root``) and its timeline."""

    root: Path
    settings: Settings
    first_day: dt.date
    last_day: dt.date
    first_run_at: dt.datetime
    second_run_at: dt.datetime


def _settings(root: Path, org: Path) -> Settings:
    return Settings(
        store_url=f"sqlite:///{root / 'store.db'}",  # type: ignore[arg-type]
        data_dir=root / "var",
        resource_catalog=org / "resource_catalog.csv",
        peer_directory=org / "directory.csv",
        principals=PRINCIPALS,  # type: ignore[arg-type]
        review_capacity=0,
        alert_min_severity=Severity.LOW,
        timezone=ZONE,
    )


def build(root: Path, *, users: int = 60, days: int = 28, seed: int = 5) -> Organisation:
    """Generate ``users`` people over the ``days`` local days up to yesterday, then
    ingest, run and triage as described above; every time is before the real now."""
    now = dt.datetime.now(dt.UTC)
    tz = zoneinfo.ZoneInfo(ZONE)
    last_day = now.astimezone(tz).date() - dt.timedelta(days=1)
    first_day = last_day - dt.timedelta(days=days - 1)
    org = root / "org"
    data = generate(
        GeneratorSpec(users=users, days=days, seed=seed, insider_rate=0.1, start=first_day)
    )
    write_sample(data, org)
    middle = first_day + dt.timedelta(days=days // 2)
    cut = dt.datetime.combine(middle, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    data.events.filter(pl.col("timestamp") < cut).write_parquet(org / "part1.parquet")
    data.events.filter(pl.col("timestamp") >= cut).write_parquet(org / "part2.parquet")
    settings = _settings(root, org)
    first_run = cut + dt.timedelta(hours=1)
    second_run = now - dt.timedelta(hours=6)
    export = data.events.filter(pl.col("timestamp") < cut).tail(60)
    write_corrupted_csv(  # a branch's damaged export: quarantined rows, a reused event id
        export.with_columns(pl.col(EVENT_ID).str.replace("^E", "BR")), org / "branch.csv", each=3
    )
    for part, at in (("part1", first_run), ("part2", second_run)):
        with Store.open(settings, migrate=True) as store:
            ingest(FileSource(org / f"{part}.parquet", name="org"), settings, store=store)
            if part == "part1":
                branch = FileSource(org / "branch.csv", name="branch", settle_seconds=0)
                ingest(branch, settings, store=store)
        batch_job(settings, clock=lambda at=at: at)  # type: ignore[misc]
        _triage(settings, at)
    return Organisation(root, settings, first_day, last_day, first_run, second_run)


def _triage(settings: Settings, opened: dt.datetime) -> None:
    """Decide on the alerts opened at ``opened``: the 1st of each five acknowledged and
    closed as confirmed, the 2nd dismissed, the 3rd escalated, the 4th acknowledged,
    the 5th left open; a critical close waits for lee's approval (four eyes)."""
    with Store.open(settings) as store:
        alerts = AlertRepository(store.engine).list_alerts(limit=10_000)
    mine = sorted((a for a in alerts if a.created_at == opened), key=lambda a: a.id)
    for n, alert in enumerate(mine):
        at = opened + dt.timedelta(minutes=20 + 7 * n)
        hour = dt.timedelta(hours=1)
        match n % 5:
            case 0:
                _act(settings, alert.id, "acknowledge", "kim", at)
                _act(settings, alert.id, "close", "kim", at + 2 * hour, "confirmed")
                if alert.severity == "critical":
                    _act(settings, alert.id, "approve", "lee", at + 3 * hour)
            case 1:
                _act(settings, alert.id, "dismiss", "kim", at + hour / 2, "false_positive")
            case 2:
                _act(settings, alert.id, "escalate", "lee", at + hour, "suspected_violation")
            case 3:
                _act(settings, alert.id, "acknowledge", "kim", at + hour / 12)


def _act(
    settings: Settings, alert_id: int, action: str, who: str, at: dt.datetime, reason: str = ""
) -> None:
    decide_alert(
        settings,
        alert_id,
        action,
        reason=reason,
        note=f"{action} by {who}",
        clock=lambda: at,
        who_am_i=lambda: who,
    )


def copy_deployment(built: Organisation, root: Path) -> Settings:
    """``built``'s settings pointing at a copy of its store and lake under ``root``."""
    shutil.copy2(built.root / "store.db", root / "store.db")
    shutil.copytree(built.root / "var", root / "var")
    return built.settings.model_copy(
        update={
            "store_url": SecretStr(f"sqlite:///{root / 'store.db'}"),
            "data_dir": root / "var",
        }
    )
