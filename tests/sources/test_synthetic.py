"""The synthetic organisation: determinism, schema, realism and visible planted scenarios."""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from auditlens import schema
from auditlens.calendar import BusinessCalendar
from auditlens.errors import AuditlensError, SourceError
from auditlens.sources.synthetic import (
    SCENARIOS,
    GeneratorSpec,
    SyntheticData,
    SyntheticSource,
    generate,
    write_sample,
)

TZ = "Asia/Seoul"
SPEC = GeneratorSpec(users=300, days=42, seed=11, insider_rate=0.04)
CHUSEOK = [dt.date(2026, 9, 24), dt.date(2026, 9, 25), dt.date(2026, 9, 26)]
BULK = ["download", "export", "print"]


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return generate(SPEC)


@pytest.fixture(scope="module")
def ev(data: SyntheticData) -> pl.DataFrame:
    """Events with local time, local date, off-hours flag, sensitivity and labels joined."""
    cal = BusinessCalendar()
    levels = _levels(data)
    return (
        data.events.with_columns(
            local=pl.col("timestamp").dt.convert_time_zone(TZ),
            off_hours=cal.off_hours_expr("timestamp", [2026]),
        )
        .with_columns(date=pl.col("local").dt.date())
        .join(levels, on="resource_id", how="left")
        .join(data.labels, on="user_id", how="left")
        .with_columns(
            in_window=pl.col("timestamp").is_between("start", "end", closed="left"),
            before=pl.col("timestamp") < pl.col("start"),
        )
        .sort("timestamp", "event_id")
    )


def _levels(data: SyntheticData) -> pl.DataFrame:
    """Resource id -> sensitivity, by matching every catalog pattern (must agree)."""
    ids = data.events["resource_id"].drop_nulls().unique().to_list()
    pats = list(data.catalog.select("pattern", "sensitivity").iter_rows())
    rows = []
    for rid in ids:
        found = {lvl for pat, lvl in pats if fnmatch.fnmatchcase(rid, pat)}
        rows.append((rid, ",".join(sorted(found))))
    return pl.DataFrame(rows, schema={"resource_id": pl.String, "level": pl.String}, orient="row")


def _insiders(data: SyntheticData, scenario: str) -> list[dict[str, object]]:
    rows = data.labels.filter(pl.col("scenario") == scenario).to_dicts()
    assert rows, f"no insider planted for {scenario}"
    return rows


def _normal(ev: pl.DataFrame) -> pl.DataFrame:
    return ev.filter(pl.col("scenario").is_null())


# --- determinism and shape --------------------------------------------------------------


def test_same_seed_gives_identical_frames() -> None:
    spec = GeneratorSpec(users=60, days=21, seed=3)
    a, b = generate(spec), generate(spec)
    for name in ("events", "labels", "catalog", "directory"):
        assert getattr(a, name).equals(getattr(b, name)), name


def test_different_seeds_differ() -> None:
    a = generate(GeneratorSpec(users=60, days=21, seed=3))
    b = generate(GeneratorSpec(users=60, days=21, seed=4))
    assert not a.events.equals(b.events)
    assert not a.directory.equals(b.directory)


#: sha256 over the files `auditlens generate --format csv` writes (name, then bytes, in name
#: order). Tests and the demo's figures rely on a seed giving the very same data: a change
#: here is a change of the generated organisation, never a refactoring.
GENERATE_SHA256 = {
    ("80", "21", "5", "0.05"): "fe0cbda02eba4341d98aadaee0d9edf0f1891878354a92f4e03f4036f67f45bc",
    ("200", "30", "7", "0.03"): "685d2a2cba7c2d1b90d1153eb98e3de64ab4e4521b6cd8c2b278786c56ec8d46",
    ("300", "42", "11", "0.04"): "4eff2abb4eb8da15f5ef97ec3e0930feab8311ca474949f871e741f3a91de3e5",
}


@pytest.mark.parametrize("args", list(GENERATE_SHA256))
def test_generate_output_is_pinned_per_seed(
    args: tuple[str, str, str, str], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from auditlens.cli import app

    users, days, seed, rate = args
    out = tmp_path / "sample"
    command = ["generate", "--out", str(out), "--users", users, "--days", days, "--seed", seed]
    command += ["--insider-rate", rate, "--format", "csv"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256()
    for path in sorted(out.iterdir(), key=lambda p: p.name):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    assert digest.hexdigest() == GENERATE_SHA256[args]


def test_frames_have_canonical_schemas(data: SyntheticData) -> None:
    assert data.events.schema == pl.Schema(schema.EVENT_DTYPES)
    assert data.events.columns == list(schema.EVENT_COLUMNS)
    assert data.labels.schema == pl.Schema(schema.LABEL_DTYPES)
    assert tuple(data.catalog.columns) == schema.CATALOG_COLUMNS
    assert data.directory.columns[:4] == ["user_id", "department", "role", "host"]
    assert data.directory.schema["hired"] == pl.Date
    assert data.directory.schema["left"] == pl.Date
    assert data.directory["user_id"].n_unique() == SPEC.users
    required = data.events.select(schema.REQUIRED_COLUMNS)
    assert required.null_count().sum_horizontal().item() == 0


def test_event_ids_are_unique_and_follow_time(data: SyntheticData) -> None:
    events = data.events
    assert events["event_id"].n_unique() == events.height
    assert events["event_id"].str.contains(r"^E\d{12}$").all()
    assert events["event_id"].is_sorted()
    assert events["timestamp"].is_sorted()


def test_volume_follows_spec(data: SyntheticData) -> None:
    per_user_day = (
        data.events.filter(~pl.col("action_type").is_in(["login", "logout"]))
        .group_by("user_id", pl.col("timestamp").dt.convert_time_zone(TZ).dt.date())
        .len()["len"]
    )
    # ordinary working days sit near actions_per_day, with personal spread
    assert 0.5 * SPEC.actions_per_day < per_user_day.median() < 1.5 * SPEC.actions_per_day  # type: ignore[operator]


def test_directory_and_events_agree(data: SyntheticData) -> None:
    pairs = data.events.select("user_id", "department", "role").unique()
    joined = pairs.join(data.directory, on="user_id", how="left", suffix="_dir")
    assert joined.height == pairs["user_id"].n_unique()
    assert (joined["department"] == joined["department_dir"]).all()
    assert (joined["role"] == joined["role_dir"]).all()
    home = data.events.join(data.directory.select("user_id", host_dir="host"), on="user_id")
    assert (home["host"] == home["host_dir"]).mean() > 0.95  # type: ignore[operator]
    assert data.directory["department"].n_unique() >= 8
    assert {"dba", "manager", "trader", "auditor"} <= set(data.directory["role"])


# --- resources ------------------------------------------------------------------------


def test_every_resource_has_exactly_one_level(data: SyntheticData) -> None:
    levels = _levels(data)
    assert levels["level"].is_in(list(schema.SENSITIVITY_LEVELS)).all(), levels.filter(
        ~pl.col("level").is_in(list(schema.SENSITIVITY_LEVELS))
    )
    assert set(levels["level"]) == set(schema.SENSITIVITY_LEVELS)
    cat = data.catalog
    assert (cat["weight"] == cat["sensitivity"].replace_strict(schema.SENSITIVITY_WEIGHTS)).all()
    globs = cat["pattern"].str.contains(r"\*")
    assert globs.any() and not globs.all()  # exact ids and glob patterns
    critical = set(cat.filter(pl.col("sensitivity") == "critical")["pattern"])
    assert {"db/customer/*", "db/hr/salary"} <= critical


def test_resource_is_null_only_for_resourceless_actions(data: SyntheticData) -> None:
    nulls = data.events.filter(pl.col("resource_id").is_null())
    assert nulls["action_type"].is_in(list(schema.RESOURCELESS_ACTIONS)).all()
    needs = data.events.filter(~pl.col("action_type").is_in(list(schema.RESOURCELESS_ACTIONS)))
    assert needs["resource_id"].null_count() == 0
    assert set(data.events["action_type"]) <= schema.CORE_ACTIONS


# --- behaviour ----------------------------------------------------------------------------


def test_sessions_have_plausible_action_order(ev: pl.DataFrame) -> None:
    seq = ev.sort("user_id", "host", "timestamp", "event_id").with_columns(
        prev_action=pl.col("action_type").shift().over("user_id", "host"),
        prev_resource=pl.col("resource_id").shift().over("user_id", "host"),
        next_action=pl.col("action_type").shift(-1).over("user_id", "host"),
    )
    first = seq.group_by("user_id", "host").first()
    assert (first["action_type"] == "login").all()
    last = seq.group_by("user_id", "host").last()
    assert (last["action_type"] == "logout").all()
    # an edit or delete follows a look at the same item; a failed login is retried
    for action, before in (("edit", {"view", "edit", "create"}), ("delete", {"view", "edit"})):
        rows = seq.filter(pl.col("action_type") == action)
        ok = rows["prev_action"].is_in(sorted(before)) & (
            rows["prev_resource"] == rows["resource_id"]
        )
        assert ok.all(), action
    failed = seq.filter((pl.col("action_type") == "login") & ~pl.col("success"))
    assert failed.height > 0
    assert (failed["next_action"] == "login").all()
    assert 0.001 < failed.height / ev.filter(pl.col("action_type") == "login").height < 0.1


def test_normal_users_work_office_hours(ev: pl.DataFrame) -> None:
    logins = _normal(ev).filter(pl.col("action_type") == "login", pl.col("success"))
    hour = logins["local"].dt.hour()
    assert ((hour >= 6) & (hour <= 11)).mean() > 0.9  # type: ignore[operator]
    off = _normal(ev).group_by("user_id").agg(pl.col("off_hours").mean())["off_hours"]
    assert off.median() < 0.2  # type: ignore[operator]
    assert off.max() > off.min()  # type: ignore[operator]  # personal rhythms differ


def test_weekends_and_holidays_are_quiet(ev: pl.DataFrame) -> None:
    cal = BusinessCalendar()
    normal = _normal(ev)
    dates = [SPEC.start + dt.timedelta(days=i) for i in range(SPEC.days)]
    calendar = pl.DataFrame({"date": dates, "off": [cal.is_day_off(d) for d in dates]})
    daily = calendar.join(normal.group_by("date").len(), on="date", how="left").fill_null(0)
    days_off, workdays = daily.filter(pl.col("off")), daily.filter(~pl.col("off"))
    assert days_off.height >= 10  # weekends and Chuseok (plus 10/3, 10/5, 10/9 for 42 days)
    assert days_off["len"].sum() / normal.height < 0.03
    assert days_off["len"].mean() < 0.1 * workdays["len"].mean()  # type: ignore[operator]
    chuseok = daily.filter(pl.col("date").is_in(CHUSEOK))["len"].sum()
    assert chuseok < 0.1 * 3 * workdays["len"].mean()  # type: ignore[operator]


def test_calendar_decides_the_days_off() -> None:
    spec = GeneratorSpec(users=60, days=30, seed=5, insider_rate=0)
    plain = generate(spec, BusinessCalendar(holiday_country=None)).events
    korean = generate(spec).events
    on = plain["timestamp"].dt.convert_time_zone(TZ).dt.date()
    per_day = on.value_counts()
    chuseok = per_day.filter(pl.col("timestamp") == dt.date(2026, 9, 24))["count"].sum()
    assert chuseok > 0.5 * per_day["count"].median()  # an ordinary Thursday without holidays
    on_kr = korean["timestamp"].dt.convert_time_zone(TZ).dt.date()
    assert (on_kr == dt.date(2026, 9, 24)).sum() < 0.1 * chuseok


def test_heavy_jobs_are_ordinary_behaviour(ev: pl.DataFrame) -> None:
    per_user = (
        _normal(ev)
        .group_by("user_id", "role")
        .agg(
            deletes=(pl.col("action_type") == "delete").sum(),
            edits=(pl.col("action_type") == "edit").sum(),
            bulk=pl.col("action_type").is_in(BULK).sum(),
            n=pl.len(),
        )
    )
    dba = per_user.filter(pl.col("role") == "dba")
    staff = per_user.filter(pl.col("role") == "staff")
    assert dba.height >= 1
    typical = max(1.0, staff["deletes"].median())  # type: ignore[arg-type]
    assert dba["deletes"].median() > 3 * typical  # type: ignore[operator]
    assert dba["deletes"].max() > 10 * typical  # type: ignore[operator]
    # some analysts legitimately move far more data than their role's median
    analysts = per_user.filter(pl.col("role") == "analyst")
    assert analysts["bulk"].max() > 2 * analysts["bulk"].median()  # type: ignore[operator]


def test_leavers_stop_at_their_last_day(data: SyntheticData, ev: pl.DataFrame) -> None:
    left = data.directory.filter(pl.col("left").is_not_null())
    assert left.height >= 1
    last = ev.group_by("user_id").agg(pl.col("date").max()).join(left, on="user_id")
    assert last.height == left.height
    assert (last["date"] < last["left"]).all()
    # active until shortly before (a long holiday weekend can sit in between)
    assert ((last["left"] - last["date"]).dt.total_days() <= 8).all()


# --- labels and planted scenarios -------------------------------------------------------


def test_labels_cover_every_scenario(data: SyntheticData) -> None:
    labels = data.labels
    counts = labels.group_by("scenario").len()
    assert set(counts["scenario"]) == set(SCENARIOS)
    assert labels.height >= round(SPEC.insider_rate * SPEC.users)
    assert labels["user_id"].is_unique().all()
    assert labels["user_id"].is_in(data.directory["user_id"].implode()).all()
    start = dt.datetime.combine(SPEC.start, dt.time(), dt.UTC) - dt.timedelta(hours=9)
    baseline = start + dt.timedelta(days=SPEC.days / 3)
    period_end = start + dt.timedelta(days=SPEC.days + 1)
    assert (labels["start"] >= baseline).all()
    assert (labels["end"] > labels["start"]).all()
    assert (labels["end"] <= period_end).all()
    assert ((labels["end"] - labels["start"]).dt.total_days() <= 15).all()


def test_small_organisations_still_get_every_scenario() -> None:
    labels = generate(GeneratorSpec(users=40, days=20, seed=1)).labels
    assert set(labels["scenario"]) == set(SCENARIOS)
    assert generate(GeneratorSpec(users=40, days=20, insider_rate=0)).labels.height == 0


def _worst_day(frame: pl.DataFrame, flag: pl.Expr) -> int:
    """The most flagged events on one local day (0 for no rows)."""
    per_day = frame.group_by("date").agg(flag.sum().alias("n"))["n"]
    return int(per_day.max() or 0)  # type: ignore[arg-type]


def _others_day_p99(ev: pl.DataFrame, lab: dict[str, object], flag: pl.Expr) -> float:
    """99th percentile of flagged events per user-day of ordinary users in the window."""
    window = _normal(ev).filter(pl.col("timestamp").is_between(lab["start"], lab["end"]))
    per_day = window.group_by("user_id", "date").agg(flag.sum().alias("n"))["n"]
    return float(per_day.quantile(0.99) or 0.0)


def test_after_hours_theft_is_visible(data: SyntheticData, ev: pl.DataFrame) -> None:
    stolen = (
        pl.col("off_hours")
        & pl.col("action_type").is_in(BULK)
        & pl.col("level").is_in(["high", "critical"])
    )
    for lab in _insiders(data, "after_hours_theft"):
        mine = ev.filter(pl.col("user_id") == lab["user_id"])
        before, window = mine.filter(pl.col("before")), mine.filter(pl.col("in_window"))
        base = before["off_hours"].mean()
        assert window["off_hours"].mean() > max(1.5 * base, base + 0.05)  # type: ignore[operator]
        worst = _worst_day(window, stolen)
        assert worst >= 12
        assert worst > 4 * max(1, _worst_day(before, stolen))
        assert worst > 4 * max(1.0, _others_day_p99(ev, lab, stolen))
        usb = window.filter(pl.col("off_hours"), pl.col("action_type") == "usb_connect")
        assert usb.height >= 1


def test_privilege_misuse_is_visible(data: SyntheticData, ev: pl.DataFrame) -> None:
    for lab in _insiders(data, "privilege_misuse"):
        mine = ev.filter(pl.col("user_id") == lab["user_id"])
        dept = mine["department"][0]
        peers_touch = set(
            _normal(ev).filter(pl.col("department") == dept, pl.col("level") == "critical")[
                "resource_id"
            ]
        )
        foreign = mine.filter(
            pl.col("in_window"),
            pl.col("level") == "critical",
            ~pl.col("resource_id").is_in(sorted(peers_touch)),
        )
        assert foreign.height >= 5, lab
        assert not foreign["success"].all()  # some attempts were denied
        assert foreign["success"].any()  # but the user does have too much access
        before = mine.filter(
            pl.col("before"), pl.col("resource_id").is_in(foreign["resource_id"].implode())
        )
        assert before.height == 0
        # office hours: this is about what, not when
        assert foreign["off_hours"].mean() < 0.5  # type: ignore[operator]


def _view_edit_delete(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows that end a view -> edit -> delete run on one resource, per user and host."""
    keys = ("user_id", "host")
    return (
        frame.sort(*keys, "timestamp", "event_id")
        .with_columns(
            a1=pl.col("action_type").shift(1).over(keys),
            a2=pl.col("action_type").shift(2).over(keys),
            r1=pl.col("resource_id").shift(1).over(keys),
            r2=pl.col("resource_id").shift(2).over(keys),
        )
        .filter(
            pl.col("action_type") == "delete",
            pl.col("a1") == "edit",
            pl.col("a2") == "view",
            pl.col("r1") == pl.col("resource_id"),
            pl.col("r2") == pl.col("resource_id"),
        )
    )


def test_tampering_sequence_is_visible(data: SyntheticData, ev: pl.DataFrame) -> None:
    runs = _view_edit_delete(ev).select("event_id", run=pl.lit(True))
    ev = ev.join(runs, on="event_id", how="left").with_columns(pl.col("run").fill_null(False))
    sensitive_run = pl.col("run") & pl.col("level").is_in(["high", "critical"])
    for lab in _insiders(data, "tampering_sequence"):
        mine = ev.filter(pl.col("user_id") == lab["user_id"])
        before, window = mine.filter(pl.col("before")), mine.filter(pl.col("in_window"))
        assert window.filter(sensitive_run).height >= 8
        assert window.filter(pl.col("run"), pl.col("off_hours")).height >= 1  # late evenings
        worst = _worst_day(window, sensitive_run)
        assert worst >= 6
        assert worst > 4 * max(1, _worst_day(before, pl.col("run")))
        non_dba = ev.filter(pl.col("role") != "dba")
        assert worst > 3 * max(1.0, _others_day_p99(non_dba, lab, pl.col("run")))


def test_departing_mass_download_is_visible(data: SyntheticData, ev: pl.DataFrame) -> None:
    for lab in _insiders(data, "departing_mass_download"):
        mine = ev.filter(pl.col("user_id") == lab["user_id"])
        left = data.directory.filter(pl.col("user_id") == lab["user_id"])["left"][0]
        assert left is not None
        assert mine["date"].max() < left
        assert lab["end"] == dt.datetime.combine(left, dt.time(), ZoneInfo(TZ))
        daily = mine.group_by("date", "in_window", "before").agg(
            bulk=pl.col("action_type").is_in(BULK).sum()
        )
        base = daily.filter(pl.col("before"))["bulk"].mean()
        window = daily.filter(pl.col("in_window"))["bulk"].mean()
        assert window > 4 * max(1.0, base)  # type: ignore[operator, arg-type]


def test_account_sharing_is_visible(data: SyntheticData, ev: pl.DataFrame) -> None:
    sessions = _sessions(ev)
    for lab in _insiders(data, "account_sharing"):
        mine = ev.filter(pl.col("user_id") == lab["user_id"])
        known = set(mine.filter(pl.col("before"))["host"])
        known_ips = set(mine.filter(pl.col("before"))["src_ip"])
        window = mine.filter(pl.col("in_window"))
        assert set(window["host"]) - known
        assert set(window["src_ip"]) - known_ips
        home = data.directory.filter(pl.col("user_id") == lab["user_id"])["host"][0]
        overlaps = _overlaps(sessions.filter(pl.col("user_id") == lab["user_id"]))
        assert overlaps.filter(pl.col("host") == home).height >= 1  # at the same time as the user
    normal_users = _normal(ev)["user_id"].unique()
    assert _overlaps(sessions.filter(pl.col("user_id").is_in(normal_users.implode()))).height == 0


def _sessions(ev: pl.DataFrame) -> pl.DataFrame:
    """Login..logout spans per user and host (failed logins left out)."""
    ok = ev.filter(~((pl.col("action_type") == "login") & ~pl.col("success")))
    return (
        ok.sort("user_id", "host", "timestamp", "event_id")
        .with_columns(
            sid=(pl.col("action_type") == "login").cast(pl.Int32).cum_sum().over("user_id", "host")
        )
        .group_by("user_id", "host", "sid")
        .agg(begin=pl.col("timestamp").min(), finish=pl.col("timestamp").max())
    )


def _overlaps(sessions: pl.DataFrame) -> pl.DataFrame:
    pairs = sessions.join(sessions, on="user_id", suffix="_b")
    return pairs.filter(
        pl.col("host") != pl.col("host_b"),
        pl.col("begin") < pl.col("finish_b"),
        pl.col("begin_b") < pl.col("finish"),
    )


# --- writing and reading ----------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> SyntheticData:
    return generate(GeneratorSpec(users=30, days=10, seed=2))


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_write_sample_round_trips(small: SyntheticData, tmp_path: Path, fmt: str) -> None:
    paths = write_sample(small, tmp_path, fmt)  # type: ignore[arg-type]
    assert set(paths) == {"events", "labels", "catalog", "directory"}
    assert paths["events"].name == f"events.{fmt}"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())
    if fmt == "parquet":
        events = pl.read_parquet(paths["events"])
    elif fmt == "csv":
        assert "+09:00" in paths["events"].read_text(encoding="utf-8").splitlines()[1]
        events = pl.read_csv(paths["events"], schema=schema.EVENT_DTYPES)
    else:
        line = json.loads(paths["events"].read_text(encoding="utf-8").splitlines()[0])
        assert dt.datetime.fromisoformat(line["timestamp"]).utcoffset() == dt.timedelta(hours=9)
        events = pl.read_ndjson(paths["events"], schema=schema.EVENT_DTYPES)
    assert events.equals(small.events)
    labels = pl.read_csv(paths["labels"], schema=schema.LABEL_DTYPES)
    assert labels.equals(small.labels)
    assert pl.read_csv(paths["catalog"]).equals(small.catalog)
    directory = pl.read_csv(paths["directory"], schema=small.directory.schema)
    assert directory.equals(small.directory)


def test_write_sample_rejects_unknown_format(small: SyntheticData, tmp_path: Path) -> None:
    with pytest.raises(AuditlensError, match="xlsx"):
        write_sample(small, tmp_path, "xlsx")  # type: ignore[arg-type]


# --- source -------------------------------------------------------------------------------


def test_source_yields_everything_in_batches_then_nothing(small: SyntheticData) -> None:
    source = SyntheticSource(GeneratorSpec(users=30, days=10, seed=2), batch_rows=1000)
    batches = list(source.read())
    assert len(batches) == -(-small.events.height // 1000)
    events = pl.concat([b.events for b in batches])
    assert events.drop(schema.LOCATION).equals(small.events)
    assert events[schema.LOCATION][0] == "synthetic:seed=2#row=0"
    assert events[schema.LOCATION][-1] == f"synthetic:seed=2#row={small.events.height - 1}"
    assert json.loads(batches[-1].watermark.value)["rows"] == small.events.height
    rest = pl.concat([b.events for b in source.read(batches[0].watermark)])
    assert rest.equals(events.slice(1000))


def test_source_refuses_a_foreign_watermark() -> None:
    source = SyntheticSource(GeneratorSpec(users=10, days=3, seed=2))
    other = SyntheticSource(GeneratorSpec(users=10, days=3, seed=9))
    mark = next(iter(other.read())).watermark
    with pytest.raises(SourceError, match="spec"):
        list(source.read(mark))


@pytest.mark.parametrize(
    "kwargs",
    [{"users": 0}, {"days": 0}, {"insider_rate": 0.9}, {"timezone": "Mars/Olympus"}],
)
def test_spec_rejects_impossible_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(AuditlensError, match=next(iter(kwargs))):
        GeneratorSpec(**kwargs)  # type: ignore[arg-type]
