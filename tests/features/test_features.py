"""Feature columns on small hand-made event logs with known answers."""

from __future__ import annotations

import datetime as dt
import fnmatch
import random
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditlens import schema
from auditlens.calendar import BusinessCalendar
from auditlens.errors import ConfigError
from auditlens.features.access import AccessFeatures
from auditlens.features.base import AggregateFeatureSet, FeatureContext, FeatureSet, prepare
from auditlens.features.catalog import ResourceCatalog, unknown_resources
from auditlens.features.docs import FEATURE_DOCS, doc_for, format_value
from auditlens.features.matrix import build_matrix
from auditlens.features.resources import ResourceFeatures
from auditlens.features.temporal import TemporalFeatures
from auditlens.sources.synthetic import GeneratorSpec, generate

KST = dt.timezone(dt.timedelta(hours=9))
CATALOG = ResourceCatalog.from_rows(
    [
        ("db/customer/*", "critical", None, "PII"),
        ("db/customer/public", "low", None, "exact id wins over the glob"),
        ("fileshare/*", "medium", None, ""),
        ("fileshare/finance/*", "high", None, "longer glob wins"),
    ]
)


def events(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Canonical events from short dicts: user, t (KST datetime), action, resource, ..."""
    out = []
    for i, r in enumerate(rows):
        out.append(
            {
                schema.EVENT_ID: f"e{i}",
                schema.USER_ID: r["user"],
                schema.TIMESTAMP: r["t"].astimezone(dt.UTC),
                schema.ACTION_TYPE: r.get("action", "view"),
                schema.RESOURCE_ID: r.get("resource"),
                schema.HOST: r.get("host", "PC-1"),
                schema.SRC_IP: r.get("ip", "10.0.0.1"),
                schema.SUCCESS: r.get("ok", True),
                schema.DEPARTMENT: r.get("dept", "sales"),
                schema.ROLE: r.get("role", "staff"),
            }
        )
    return pl.DataFrame(out, schema=schema.EVENT_DTYPES)


def at(day: int, hour: int, minute: int = 0, month: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=KST)


def row(matrix: pl.DataFrame, user: str, day: dt.date) -> dict[str, Any]:
    found = matrix.filter((pl.col("user_id") == user) & (pl.col("window") == day))
    assert found.height == 1
    return found.row(0, named=True)


CTX = FeatureContext(calendar=BusinessCalendar(), catalog=CATALOG)


def test_off_hours_counts_evenings_weekends_and_korean_holidays() -> None:
    # Tue 2026-09-22 is an ordinary workday; Fri 09-25 is Chuseok (추석), a public holiday
    log = events(
        [
            {"user": "u", "t": at(22, 8, 59), "action": "login"},  # before 09:00: off
            {"user": "u", "t": at(22, 9, 0), "action": "login"},  # on the hour: in
            {"user": "u", "t": at(22, 17, 59), "action": "login"},  # in
            {"user": "u", "t": at(22, 18, 0), "action": "login"},  # 18:00 is off (end excl.)
            {"user": "u", "t": at(25, 11, 0), "action": "login"},  # holiday at 11:00: off
            {"user": "u", "t": at(25, 12, 0), "action": "login", "ok": False},  # failed
        ]
    )
    m = build_matrix(log, CTX).frame
    tue, fri = row(m, "u", dt.date(2026, 9, 22)), row(m, "u", dt.date(2026, 9, 25))
    assert tue["login_count"] == 4
    assert tue["off_hours_login_ratio"] == pytest.approx(0.5)
    assert tue["first_activity_hour"] == pytest.approx(8 + 59 / 60)
    assert tue["last_activity_hour"] == pytest.approx(18.0)
    assert tue["hour_entropy"] == pytest.approx(2.0)  # four hours, a quarter each: 2 bits
    assert fri["login_count"] == 1  # the failed login is not a login
    assert fri["off_hours_login_ratio"] == 1.0
    assert fri["off_hours_action_ratio"] == 1.0
    assert fri["failed_login_count"] == 1


def test_windows_are_local_days_not_utc_days() -> None:
    # 2026-09-22 08:30 KST is 2026-09-21 23:30 UTC: it belongs to the 22nd
    m = build_matrix(events([{"user": "u", "t": at(22, 8, 30), "action": "login"}]), CTX).frame
    assert m.get_column("window").to_list() == [dt.date(2026, 9, 22)]


def test_catalog_weights_exact_ids_longest_globs_and_unknowns() -> None:
    lookup = CATALOG.lookup(
        pl.Series(
            ["db/customer/cards", "db/customer/public", "fileshare/finance/x", "fileshare/a", "z"]
        )
    ).sort("resource_id")
    levels = dict(zip(lookup["resource_id"], lookup["sensitivity"], strict=True))
    assert levels == {
        "db/customer/cards": "critical",
        "db/customer/public": "low",
        "fileshare/a": "medium",
        "fileshare/finance/x": "high",
        "z": "low",
    }
    assert lookup.filter(pl.col("pattern").is_null())["resource_id"].to_list() == ["z"]
    log = events(
        [
            {"user": "u", "t": at(22, 10), "resource": "db/customer/cards"},  # 10
            {"user": "u", "t": at(22, 10, 5), "resource": "fileshare/finance/x"},  # 5
            {"user": "u", "t": at(22, 10, 6), "resource": "fileshare/a", "action": "download"},
            {"user": "u", "t": at(22, 10, 7), "resource": "z", "ok": False},  # denied: no weight
            {"user": "u", "t": at(22, 19, 0), "resource": "db/customer/cards", "action": "edit"},
        ]
    )
    r = row(build_matrix(log, CTX).frame, "u", dt.date(2026, 9, 22))
    assert r["weighted_resource_score"] == 10 + 5 + 2 + 10
    assert r["sensitive_access_count"] == 3
    assert r["off_hours_sensitive_count"] == 1
    assert r["sensitive_change_count"] == 1
    assert r["failed_access_count"] == 1
    assert r["bulk_action_count"] == 1
    assert r["distinct_resources"] == 4


def test_catalog_rejects_unknown_levels_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text("pattern,sensitivity,weight\na/*,high,\nb/*,secret,\n")
    with pytest.raises(ConfigError, match=r"row 2 \('b/\*'\): sensitivity 'secret' "):
        ResourceCatalog.read_csv(path)


def test_baselines_new_things_and_failed_login_bursts() -> None:
    rows: list[dict[str, Any]] = []
    for day in (1, 2, 3, 4):  # four ordinary days: 2 downloads from the own PC
        rows += [{"user": "u", "t": at(day, 10), "action": "login"}]
        rows += [{"user": "u", "t": at(day, 11, k), "action": "download", "resource": "fileshare/a"}
                 for k in range(2)]  # fmt: skip
    # day 7: 14 downloads, a first-ever critical resource, a new laptop, 3 failures in 4 min
    rows += [{"user": "u", "t": at(7, 10, k), "action": "login", "ok": False, "host": "LAPTOP"}
             for k in (0, 2, 4)]  # fmt: skip
    rows += [{"user": "u", "t": at(7, 10, 5), "action": "login", "host": "LAPTOP", "ip": "1.2.3.4"}]
    rows += [{"user": "u", "t": at(7, 11, k), "action": "download", "resource": "fileshare/a",
              "host": "LAPTOP", "ip": "1.2.3.4"} for k in range(14)]  # fmt: skip
    rows += [{"user": "u", "t": at(7, 12), "resource": "db/customer/cards"}]
    m = build_matrix(events(rows), CTX).frame
    day7 = row(m, "u", dt.date(2026, 9, 7))
    assert day7["bulk_action_count"] == 14
    assert day7["bulk_vs_baseline"] == pytest.approx((14 + 1) / (2 + 1))
    assert day7["new_sensitive_resource_count"] == 1
    assert day7["new_host_count"] == 1
    assert day7["new_src_ip_count"] == 1
    assert day7["distinct_hosts"] == 2  # the laptop and, at noon, the own PC
    assert day7["failed_login_count"] == 3
    assert day7["failed_login_burst"] == 3
    day2 = row(m, "u", dt.date(2026, 9, 2))
    assert day2["new_host_count"] == 0
    assert day2["bulk_vs_baseline"] == pytest.approx(1.0)


def test_peer_groups_keep_a_dba_quiet_and_make_a_marketer_stand_out() -> None:
    rows: list[dict[str, Any]] = []
    for i in range(6):  # six DBAs query the customer database all day
        rows += [{"user": f"dba{i}", "t": at(22, 10, k), "resource": "db/customer/cards",
                  "dept": "it", "role": "dba"} for k in range(20 + i)]  # fmt: skip
    for i in range(6):  # six marketers look at campaign files
        n_crit = 20 if i == 0 else 0  # ... except one, who queries the customer database
        rows += [{"user": f"mkt{i}", "t": at(22, 10, k), "resource": "fileshare/a",
                  "dept": "marketing"} for k in range(20)]  # fmt: skip
        rows += [{"user": f"mkt{i}", "t": at(22, 11, k), "resource": "db/customer/cards",
                  "dept": "marketing"} for k in range(n_crit)]  # fmt: skip
    fm = build_matrix(events(rows), CTX)
    day = dt.date(2026, 9, 22)
    dba_z = [row(fm.frame, f"dba{i}", day)["peer_z_sensitive_access_count"] for i in range(6)]
    assert max(abs(z) for z in dba_z) < 1.5
    assert row(fm.frame, "mkt0", day)["peer_z_sensitive_access_count"] > 2.0
    groups = dict(fm.info.select("user_id", "peer_group").iter_rows())
    assert groups["dba0"] == "it/dba"
    assert groups["mkt3"] == "marketing/staff"


def holiday_alone() -> pl.DataFrame:
    """Six sales staff work on Tue 09-22; on Chuseok (Fri 09-25) only ``u0`` works: 14 deletions."""
    rows: list[dict[str, Any]] = []
    for i in range(6):
        rows += [{"user": f"u{i}", "t": at(22, 9 + k), "action": "delete" if k < i else "view",
                  "resource": "fileshare/a"} for k in range(6)]  # fmt: skip
    rows += [{"user": "u0", "t": at(25, 22, 43 + k % 10), "action": "delete",
              "resource": "fileshare/a"} for k in range(14)]  # fmt: skip
    return events(rows)


def test_peer_statistics_leave_the_user_out_and_count_idle_peers_as_zero() -> None:
    fm = build_matrix(holiday_alone(), CTX)
    alone = row(fm.info, "u0", dt.date(2026, 9, 25))
    assert alone["_peers_active"] == 0
    assert alone["_peer_delete_count"] == 0.0  # five idle peers deleted nothing, not "14"
    assert alone["_peer_first_activity_hour"] is None  # no active peer has a first hour
    assert row(fm.frame, "u0", dt.date(2026, 9, 25))["peer_z_delete_count"] > 2.0
    # on the workday u3 (3 deletions) is compared with the other five: (0+1+2+4+5)/5
    workday = row(fm.info, "u3", dt.date(2026, 9, 22))
    assert workday["_peers_active"] == 5
    assert workday["_peer_delete_count"] == pytest.approx(12 / 5)


def test_every_matrix_column_is_documented() -> None:
    log = events([{"user": "u", "t": at(22, 10), "action": "login"}])
    columns = build_matrix(log, CTX).feature_columns
    docs = (Path(__file__).parents[2] / "docs" / "features.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", docs, flags=re.M))
    assert set(columns) == documented
    for column in columns:
        assert doc_for(column).ko and doc_for(column).en
    assert {c for c in columns if not c.startswith("peer_z_")} == set(FEATURE_DOCS)


@pytest.mark.parametrize(
    ("value", "unit", "lang", "shown"),
    [
        (0.62, "ratio", "ko", "62%"),
        (23 + 40 / 60, "hour", "en", "23:40"),
        (4.04, "times", "ko", "4.0배"),
        (4.04, "times", "en", "4.0x"),
        (1200.0, "count", "en", "1,200"),
        (None, "count", "en", "-"),
    ],
)
def test_values_are_shown_for_people(value: float | None, unit: Any, lang: str, shown: str) -> None:
    assert format_value(value, unit, lang) == shown


# --- the fast paths compute exactly what the plain definitions say -----------------------


def test_local_ticks_match_the_exact_conversion_across_dst_switches() -> None:
    # hourly offsets, with per-row conversion in the hours where the offset changes
    # (Lord Howe switches by 30 minutes at 02:00 local, i.e. off the UTC hour)
    rng = random.Random(3)
    start = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    moments = [start + dt.timedelta(seconds=rng.randrange(0, 400 * 86_400)) for _ in range(20_000)]
    moments += [None, dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC)]
    for zone in ("Asia/Seoul", "Europe/Berlin", "Australia/Lord_Howe", "America/New_York"):
        cal = BusinessCalendar(timezone=zone)
        for unit in ("ms", "us", "ns"):
            stamps = pl.Series(moments, dtype=pl.Datetime(unit, "UTC"))
            exact = stamps.dt.convert_time_zone(zone).dt.replace_time_zone(None).cast(pl.Int64)
            assert cal.local_ticks(stamps).equals(exact), (zone, unit)


def test_off_hours_from_integer_parts_matches_the_datetime_expression() -> None:
    cal = BusinessCalendar(
        start=dt.time(8, 30),
        end=dt.time(17, 45),
        weekend=frozenset({5, 6}),
        company_holidays=frozenset({dt.date(2026, 9, 30)}),
    )
    rng = random.Random(4)
    base = dt.datetime(2026, 9, 1)
    local = pl.Series(
        "ts", [base + dt.timedelta(minutes=rng.randrange(0, 90 * 1440)) for _ in range(5000)]
    )
    frame = pl.DataFrame({"ts": local}).with_columns(
        (pl.col("ts").cast(pl.Int64) // 60_000_000).alias("minutes")
    )
    got = frame.select(
        cal.off_hours_from_parts(pl.col("minutes") // 1440, pl.col("minutes") % 1440, [2026])
    ).to_series()
    want = frame.select(cal.off_hours_expr("ts", [2026], already_local=True)).to_series()
    assert got.equals(want)


def test_catalog_match_follows_fnmatch_and_the_precedence_rules() -> None:
    catalog = ResourceCatalog.from_rows(
        [
            ("db/*", "medium", None, ""),
            ("db/customer/*", "critical", None, ""),
            ("db/customer/public", "low", None, ""),
            ("a?c*", "high", 3.5, ""),
            ("x.y(z)+*", "critical", None, "regex characters are literals"),
            ("[ab]*q", "high", None, "bracket classes"),
            ("[!ab]x*", "low", 7.0, ""),
            ("한글/*", "critical", None, ""),
        ]
    )
    ids = [
        "db/customer/public", "db/customer/x", "db/other", "abc", "abc\nd", "ac", "x.y(z)+1",
        "xxy(z)+", "aq", "bxq", "cx", "ax", "한글/1", "z", "", None,
    ]  # fmt: skip
    found = catalog.match(pl.Series(ids, dtype=pl.String))
    entries = {e.pattern: e for e in catalog.entries}
    globs = sorted((e for e in catalog.entries if e.is_glob), key=lambda e: -len(e.pattern))
    for rid, level, pattern in zip(ids, found["sensitivity"], found["pattern"], strict=True):
        if rid is None:
            assert level is None and pattern is None
            continue
        want = entries.get(rid) or next(
            (e for e in globs if fnmatch.fnmatchcase(rid, e.pattern)), None
        )
        assert pattern == (want.pattern if want else None), rid
        assert level == (want.sensitivity if want else "low"), rid


class _EventCount(AggregateFeatureSet):
    """A plug-in set computed together with the built-in ones."""

    name = "events"
    columns = ("event_count",)

    def aggregations(self, ctx: FeatureContext) -> list[pl.Expr]:
        return [pl.len().cast(pl.Int64).alias("event_count")]


class _Plain(FeatureSet):
    """A plug-in set with its own transform, joined onto the others."""

    name = "plain"

    def transform(self, events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
        return events.group_by("user_id", "window").agg(pl.col("host").n_unique().alias("hosts"))


def test_sets_combined_in_one_pass_equal_each_set_on_its_own() -> None:
    rng = random.Random(5)
    rows = [
        {
            "user": rng.choice(["u1", "u2", "u3", "u4"]),
            "t": at(1, 0) + dt.timedelta(minutes=rng.randrange(0, 20 * 1440)),
            "action": rng.choice(["login", "view", "edit", "delete", "download", "usb_connect"]),
            "resource": rng.choice([None, "db/customer/1", "fileshare/finance/q", "z"]),
            "host": rng.choice(["PC-1", "PC-2", None]),
            "ip": rng.choice(["10.0.0.1", "10.0.0.9", None]),
            "ok": rng.choice([True, False, None]),
        }
        for _ in range(2000)
    ]
    log = events(rows)
    sets = (TemporalFeatures(), _Plain(), ResourceFeatures(), _EventCount(), AccessFeatures())
    fm = build_matrix(log, CTX, sets)
    frame = fm.frame
    prepared = prepare(log, CTX)
    columns = ["user_id", "window"]
    for feature_set in sets:
        alone = feature_set.transform(prepared, CTX).sort("user_id", "window")
        # columns starting with "_" (e.g. the new IPs) explain reasons: they go to info
        helpers = [c for c in alone.columns if c.startswith("_")]
        assert fm.info.select(helpers).equals(alone.select(helpers))
        alone = alone.drop(helpers)
        part = frame.select(alone.columns)
        assert part.select(alone.columns[:2]).equals(alone.select(alone.columns[:2]))
        for column in alone.columns[2:]:
            assert part[column].to_list() == pytest.approx(alone[column].fill_null(0).to_list()), (
                column
            )
        columns += alone.columns[2:]
    assert frame.columns[: len(columns)] == columns  # the sets' columns in the sets' order


def test_the_matrix_names_the_unknown_resources_the_catalog_lookup_finds() -> None:
    data = generate(GeneratorSpec(users=40, days=12, seed=5))
    # half the catalog: many ids fall back to the default; a few events have no resource
    catalog = ResourceCatalog.from_frame(data.catalog.head(data.catalog.height // 2))
    ctx = FeatureContext(catalog=catalog)
    ids = data.events.get_column(schema.RESOURCE_ID)
    assert ids.null_count() > 0
    expected = unknown_resources(catalog.lookup(ids))  # the report's lookup before
    assert len(expected) > 0
    assert build_matrix(data.events, ctx).unknown_resources == tuple(expected)
