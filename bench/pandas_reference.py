"""A plain pandas reference implementation of the behavioural feature matrix.

Written the way a data scientist would write it in pandas (named ``groupby().agg``,
``transform``, ``groupby().rolling``; users as a categorical, grouped with
``observed=True``; no row loops and no heroic tricks), computing the
same columns with the same definitions as :func:`auditlens.features.matrix.build_matrix`
(``FeatureMatrix.frame``). It is the yardstick for ``bench/bench_score.py`` and a second,
independent reading of the feature definitions (``compare`` shows where they disagree).

Only two pieces are borrowed from auditlens: ``ResourceCatalog.lookup`` (it maps the
*distinct* resource ids to level/weight/pattern) and ``BusinessCalendar.holidays`` (the
holiday set for off-hours); plus constants (``SENSITIVE_RANK``, ``PEER_COLUMNS``, and
``ZERO_WHEN_IDLE``: which peer columns count idle members as 0).

Peer groups are causal, as ours: a user's group on a day comes from their events up to
that day among the users seen by then (:func:`peer_days`, one pass per day over the
users), and the z-scores compare with the *other* members of that group that day
(:func:`peer_z`, leave-one-out from the group sums).

Check the two implementations agree on a small synthetic sample::

    .venv/bin/python bench/pandas_reference.py --users 50 --days 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

import pandas_sequences
from auditlens.calendar import BusinessCalendar
from auditlens.features.catalog import SENSITIVE_RANK, ResourceCatalog
from auditlens.features.peers import PEER_COLUMNS, ZERO_WHEN_IDLE

KEYS = ["user_id", "window"]
BULK_ACTIONS = ["download", "export", "print", "copy", "usb_connect"]
CHANGE_ACTIONS = ["edit", "delete"]
FEATURE_COLUMNS = [
    # temporal
    "login_count",
    "off_hours_login_ratio",
    "off_hours_action_ratio",
    "off_hours_action_count",
    "first_activity_hour",
    "last_activity_hour",
    "hour_entropy",
    # resources
    "weighted_resource_score",
    "sensitive_access_count",
    "off_hours_sensitive_count",
    "distinct_resources",
    "new_sensitive_resource_count",
    "bulk_action_count",
    "bulk_vs_baseline",
    "usb_connect_count",
    "delete_count",
    "delete_vs_baseline",
    "sensitive_change_count",
    "failed_access_count",
    # access
    "distinct_hosts",
    "new_host_count",
    "new_src_ip_count",
    "failed_login_count",
    "failed_login_burst",
    # peers
    *[f"peer_z_{c}" for c in PEER_COLUMNS],
]
EVENT_COLUMNS = [
    "event_id",
    "user_id",
    "timestamp",
    "action_type",
    "resource_id",
    "host",
    "src_ip",
    "success",
    "department",
    "role",
]


# --- loading ------------------------------------------------------------------------------


def polars_to_pandas(events: pl.DataFrame) -> pd.DataFrame:
    """Canonical polars events -> pandas, column by column through numpy.

    ``DataFrame.to_pandas`` needs pyarrow; this does not (strings become pandas' ``str``
    dtype, the timestamp ``datetime64[us, UTC]``, success a nullable-free bool or object).
    """
    columns: dict[str, object] = {}
    for name in [c for c in EVENT_COLUMNS if c in events.columns]:
        series = events.get_column(name)
        if name == "timestamp":
            columns[name] = pd.Series(series.to_numpy()).dt.tz_localize("UTC")
        else:
            columns[name] = series.to_numpy()
    return pd.DataFrame(columns)


def read_events(path: Path) -> pd.DataFrame:
    """Events from Parquet with pandas; without a Parquet engine, via polars + numpy."""
    try:
        frame = pd.read_parquet(path, columns=EVENT_COLUMNS)
    except ImportError:  # neither pyarrow nor fastparquet installed
        return polars_to_pandas(pl.read_parquet(path, columns=EVENT_COLUMNS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def parquet_engine() -> str:
    """Which Parquet engine ``read_events`` uses."""
    for name in ("pyarrow", "fastparquet"):
        try:
            __import__(name)
        except ImportError:
            continue
        return f"pandas.read_parquet ({name})"
    return "polars.read_parquet + numpy -> pandas (no pyarrow/fastparquet installed)"


# --- the feature matrix -------------------------------------------------------------------


def prepare(
    events: pd.DataFrame, catalog: ResourceCatalog, calendar: BusinessCalendar
) -> pd.DataFrame:
    """Add window, local hour, off-hours, success, and the catalog's level/weight/family."""
    local = events["timestamp"].dt.tz_convert(calendar.timezone)
    window = local.dt.tz_localize(None).dt.normalize()
    years = range(events["timestamp"].min().year - 1, events["timestamp"].max().year + 2)
    holidays = pd.to_datetime(sorted(calendar.holidays(years)))
    minutes = local.dt.hour * 60 + local.dt.minute
    start = calendar.start.hour * 60 + calendar.start.minute
    end = calendar.end.hour * 60 + calendar.end.minute
    off_hours = (
        (local.dt.day_of_week + 1).isin(sorted(calendar.weekend))
        | window.isin(holidays)
        | (minutes < start)
        | (minutes >= end)
    )
    lookup = catalog.lookup(
        pl.Series(events["resource_id"].dropna().unique().tolist(), dtype=pl.String)
    )
    levels = pd.DataFrame(
        {
            "resource_id": lookup["resource_id"].to_list(),
            "_level": lookup["level"].to_list(),
            "_weight": lookup["weight"].to_list(),
            "_pattern": lookup["pattern"].to_list(),
        }
    )
    prepared = events.assign(
        window=window,
        _hour=local.dt.hour + local.dt.minute / 60 + local.dt.second / 3600,
        _off_hours=off_hours,
        _ok=events["success"].fillna(True).astype(bool),
    ).merge(levels, on="resource_id", how="left")
    prepared["_family"] = prepared["_pattern"].fillna(prepared["resource_id"])
    return prepared


def first_seen(events: pd.DataFrame, column: str) -> pd.Series:
    """Per (user, window): distinct ``column`` values the user had never used before."""
    firsts = (
        events.dropna(subset=[column]).groupby(["user_id", column], observed=True)["window"].min()
    )
    return firsts.reset_index().groupby(KEYS, observed=True).size()


def trailing(daily: pd.DataFrame, column: str, days: int, stat: str) -> pd.Series:
    """The user's own mean/std of ``column`` over the previous ``days`` (today excluded).

    ``daily`` must be sorted by user and window (the rolling result comes back in that order).
    """
    rolling = daily.groupby("user_id", observed=True).rolling(
        f"{days}D", on="window", closed="left"
    )[column]
    result = rolling.mean() if stat == "mean" else rolling.std()
    return pd.Series(result.to_numpy(), index=daily.index)


def safe_ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den, 0 where den is 0."""
    return (num / den).where(den > 0, 0.0)


def temporal(ev: pd.DataFrame) -> pd.DataFrame:
    """login_count .. hour_entropy."""
    login = (ev["action_type"] == "login") & ev["_ok"]
    ev = ev.assign(
        _login=login,
        _off_login=login & ev["_off_hours"],
    )
    daily = (
        ev.groupby(KEYS, observed=True)
        .agg(
            login_count=("_login", "sum"),
            _off_logins=("_off_login", "sum"),
            _actions=("_login", "size"),
            off_hours_action_count=("_off_hours", "sum"),
            first_activity_hour=("_hour", "min"),
            last_activity_hour=("_hour", "max"),
        )
        .reset_index()
    )
    per_hour = ev.groupby([*KEYS, np.floor(ev["_hour"]).rename("_h")], observed=True).size()
    share = per_hour / per_hour.groupby(level=KEYS, observed=True).transform("sum")
    entropy = (
        (-share * np.log2(share)).groupby(level=KEYS, observed=True).sum().rename("hour_entropy")
    )
    daily = daily.merge(entropy.reset_index(), on=KEYS, how="left")

    daily["off_hours_login_ratio"] = safe_ratio(daily["_off_logins"], daily["login_count"])
    daily["off_hours_action_ratio"] = safe_ratio(daily["off_hours_action_count"], daily["_actions"])
    return daily.drop(columns=["_off_logins", "_actions"])


def resources(ev: pd.DataFrame, profile_days: int) -> pd.DataFrame:
    """weighted_resource_score .. failed_access_count."""
    has_res = ev["resource_id"].notna()
    sensitive = has_res & (ev["_level"] >= SENSITIVE_RANK)
    action = ev["action_type"]
    ev = ev.assign(
        _w=ev["_weight"].where(has_res & ev["_ok"]),
        _sens_ok=sensitive & ev["_ok"],
        _sens_off=sensitive & ev["_off_hours"],
        _bulk=action.isin(BULK_ACTIONS),
        _usb=action == "usb_connect",
        _delete=action == "delete",
        _sens_change=sensitive & action.isin(CHANGE_ACTIONS),
        _failed=has_res & ~ev["_ok"],
    )
    daily = (
        ev.groupby(KEYS, observed=True)
        .agg(
            weighted_resource_score=("_w", "sum"),
            sensitive_access_count=("_sens_ok", "sum"),
            off_hours_sensitive_count=("_sens_off", "sum"),
            distinct_resources=("resource_id", "nunique"),
            bulk_action_count=("_bulk", "sum"),
            usb_connect_count=("_usb", "sum"),
            delete_count=("_delete", "sum"),
            sensitive_change_count=("_sens_change", "sum"),
            failed_access_count=("_failed", "sum"),
        )
        .reset_index()
    )
    # a new *family* (catalog pattern) of sensitive data, not a new single record
    new = first_seen(ev[ev["_sens_ok"]], "_family").rename("new_sensitive_resource_count")
    daily = daily.merge(new.reset_index(), on=KEYS, how="left")
    daily["new_sensitive_resource_count"] = (
        daily["new_sensitive_resource_count"].fillna(0).astype("int64")
    )
    for column, ratio in (
        ("bulk_action_count", "bulk_vs_baseline"),
        ("delete_count", "delete_vs_baseline"),
    ):
        usual = trailing(daily, column, profile_days, "mean").fillna(0.0)
        daily[ratio] = (daily[column] + 1.0) / (usual + 1.0)
    return daily


def access(ev: pd.DataFrame) -> pd.DataFrame:
    """distinct_hosts .. failed_login_burst."""
    failed_login = (ev["action_type"] == "login") & ~ev["_ok"]
    daily = (
        ev.assign(_failed_login=failed_login)
        .groupby(KEYS, observed=True)
        .agg(
            distinct_hosts=("host", "nunique"),
            failed_login_count=("_failed_login", "sum"),
        )
        .reset_index()
    )
    # most failed logins within any 10 minutes (ending at a failure of that day)
    fails = ev.loc[failed_login, ["user_id", "window", "timestamp"]]
    fails = fails.sort_values(["user_id", "timestamp"]).reset_index(drop=True)
    fails["_one"] = 1
    burst = fails.groupby("user_id", observed=True).rolling("10min", on="timestamp")["_one"].sum()
    fails["_burst"] = burst.to_numpy()  # same (user, timestamp) order as ``fails``
    bursts = fails.groupby(KEYS, observed=True)["_burst"].max().rename("failed_login_burst")
    for part in (
        first_seen(ev, "host").rename("new_host_count"),
        first_seen(ev, "src_ip").rename("new_src_ip_count"),
        bursts,
    ):
        daily = daily.merge(part.reset_index(), on=KEYS, how="left")
        daily[part.name] = daily[part.name].fillna(0).astype("int64")
    return daily


def role_modes(ev: pd.DataFrame) -> pd.DataFrame:
    """Per (user, window) with events: the user's most frequent department and role over
    their events up to that day (each on its own; a tie goes to the smallest value;
    None before the first non-null one)."""
    keys = pd.MultiIndex.from_frame(ev[KEYS].drop_duplicates().sort_values(KEYS))
    out = pd.DataFrame(index=keys)
    for column in ("department", "role"):
        # events per value, one column per value (sorted), summed up to each day
        counts = ev.groupby([*KEYS, column], observed=True).size().unstack(column, fill_value=0)
        so_far = counts.reindex(keys, fill_value=0).groupby(level="user_id", observed=True).cumsum()
        if so_far.shape[1] == 0:  # no value at all
            out[column] = None
            continue
        # idxmax takes the first (smallest) of the tied columns
        out[column] = so_far.idxmax(axis=1).where(so_far.max(axis=1) > 0)
    return out.reset_index()


def peer_days(
    modes: pd.DataFrame, min_peer_group: int, directory: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``user_id, window, peer_group, _members`` for every user-day of ``modes``.

    Day by day: on each day every user seen so far is in their department/role when
    ``min_peer_group`` of the users seen so far share it, else in their department when
    that many share it, else in (all); by their department and role as of their last
    day with events up to then (``directory``, ``user_id`` with department/role,
    overrides them).
    ``_members``: how many users are in the group that day, idle ones included.
    """
    modes = modes.sort_values(["window", "user_id"]).reset_index(drop=True)
    if directory is not None:
        listed = [c for c in ("department", "role") if c in directory.columns]
        known = directory.drop_duplicates("user_id", keep="last").set_index("user_id")
        for column in listed:
            modes[column] = modes["user_id"].map(known[column]).fillna(modes[column])
    dept = modes["department"].fillna("(none)")
    fine = dept + "/" + modes["role"].fillna("(none)")
    # integer codes, so that each day is a few bincounts over the users seen so far
    user, _ = pd.factorize(modes["user_id"])
    fine_code, fines = pd.factorize(fine)
    dept_code, depts = pd.factorize(dept)
    labels = np.array([*fines, *depts, "(all)"], dtype=object)
    user_fine = np.full(user.max() + 1 if len(user) else 0, -1)
    user_dept = np.full_like(user_fine, -1)
    group = np.empty(len(modes), dtype=np.int64)
    members = np.empty(len(modes), dtype=np.int64)
    days = modes["window"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])
    for lo, hi in pairwise(bounds):
        today = user[lo:hi]
        user_fine[today] = fine_code[lo:hi]
        user_dept[today] = dept_code[lo:hi]
        seen = np.flatnonzero(user_fine >= 0)
        fine_of, dept_of = user_fine[seen], user_dept[seen]
        fine_n = np.bincount(fine_of, minlength=len(fines))
        dept_n = np.bincount(dept_of, minlength=len(depts))
        group_of = np.full_like(user_fine, -1)
        group_of[seen] = np.where(
            fine_n[fine_of] >= min_peer_group,
            fine_of,
            np.where(dept_n[dept_of] >= min_peer_group, len(fines) + dept_of, len(labels) - 1),
        )
        group[lo:hi] = group_of[today]
        members[lo:hi] = np.bincount(group_of[seen], minlength=len(labels))[group[lo:hi]]
    return pd.DataFrame(
        {
            "user_id": modes["user_id"],
            "window": modes["window"],
            "peer_group": labels[group],
            "_members": members,
        }
    )


def peer_floors(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    """A quarter of each column's sample std over ``frame`` (at least 1e-6)."""
    return {c: max(float(frame[c].std()) * 0.25, 1e-6) for c in columns}


def peer_z(
    frame: pd.DataFrame,
    groups: pd.DataFrame,
    columns: Sequence[str],
    floors: dict[str, float],
) -> pd.DataFrame:
    """(value - peer mean) / max(peer std, floor) against the *other* members of the
    user's group that day (leave-one-out: the group's sums minus the user's own).

    Counts (ZERO_WHEN_IDLE) compare with every other member, an idle one having done 0;
    the other columns with the other members active that day. Sample std (ddof 1);
    without a peer (or one peer, for the std) the mean (std) is missing; a missing z is 0.
    """
    data = frame[[*KEYS, *columns]].merge(groups, on=KEYS, how="left")
    x = data[list(columns)].astype(float)
    by = [data["peer_group"], data["window"]]
    total = x.groupby(by, observed=True).transform("sum")
    squares = (x**2).groupby(by, observed=True).transform("sum")
    active = x.groupby(by, observed=True).transform("count")
    z = {}
    for c in columns:
        own = x[c]
        n = (data["_members"] if c in ZERO_WHEN_IDLE else active[c]) - 1.0
        mean = ((total[c] - own) / n).where(n > 0)
        var = ((squares[c] - own**2 - n * mean**2) / (n - 1)).where(n > 1).clip(lower=0.0)
        std = np.sqrt(var).fillna(0.0).clip(lower=floors[c])
        z[f"peer_z_{c}"] = ((own - mean) / std).fillna(0.0)
    return pd.concat([data[KEYS], pd.DataFrame(z)], axis=1)


def build_matrix_pandas(
    events_pd: pd.DataFrame,
    catalog: ResourceCatalog,
    calendar: BusinessCalendar,
    profile_days: int = 28,
    min_peer_group: int = 5,
    directory: pd.DataFrame | None = None,
    floors: dict[str, float] | None = None,
    sequences: bool = False,
    vectors: pd.DataFrame | None = None,
    timings: dict[str, float] | None = None,
) -> pd.DataFrame:
    """The feature matrix (keys + FEATURE_COLUMNS), one row per (user, local day).

    ``window`` is the local date as ``datetime64`` (midnight); sorted by user and window.
    ``directory``: ``user_id`` with department/role, over the events' (as
    ``FeatureContext.peer_groups``); ``floors``: the peer z floors learned elsewhere
    (None: :func:`peer_floors` of this matrix, as ``build_matrix`` does).
    ``sequences``: add the action-sequence columns (``pandas_sequences``, fitted on
    these events, with the token ``vectors`` given or Word2Vec's own); ``timings``
    gets their seconds as ``sequences``.
    """
    # users as a categorical: the group-bys and merges on them work on integer codes
    ev = prepare(events_pd.astype({"user_id": "category"}), catalog, calendar)
    frame = (
        temporal(ev)
        .merge(resources(ev, profile_days), on=KEYS, how="left")
        .merge(access(ev), on=KEYS, how="left")
    )
    groups = peer_days(role_modes(ev), min_peer_group, directory)
    floors = floors or peer_floors(frame, PEER_COLUMNS)
    frame = frame.merge(peer_z(frame, groups, PEER_COLUMNS, floors), on=KEYS, how="left")
    columns = FEATURE_COLUMNS
    if sequences:
        started = time.perf_counter()
        found = pandas_sequences.sequence_features(ev, groups, vectors)
        frame = frame.merge(found, on=KEYS, how="left")
        if timings is not None:
            timings["sequences"] = time.perf_counter() - started
        columns = [*FEATURE_COLUMNS, *pandas_sequences.SEQUENCE_COLUMNS]
    features = frame[columns].fillna(0)
    out = pd.concat([frame[KEYS].astype({"user_id": str}), features], axis=1)
    return out.sort_values(KEYS).reset_index(drop=True)


# --- comparison ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnDiff:
    """How one column differs between the implementations."""

    column: str
    max_abs_diff: float
    rows_over_tol: int
    example: str


def compare(
    polars_frame: pl.DataFrame, pandas_frame: pd.DataFrame, tol: float = 1e-9
) -> list[ColumnDiff]:
    """Max abs difference per column (rows matched on user_id and window).

    A difference counts when it exceeds ``tol`` x max(1, |polars value|). Key mismatches
    (a (user, window) in one frame only) are reported as the pseudo-column ``<keys>``.
    """
    left = pd.DataFrame(
        {
            "user_id": polars_frame["user_id"].to_numpy(),
            "window": pd.to_datetime(polars_frame["window"].to_numpy()),
        }
    )
    for column in polars_frame.columns:
        if column not in KEYS:
            left[column] = polars_frame[column].cast(pl.Float64).to_numpy()
    right = pandas_frame.assign(window=pd.to_datetime(pandas_frame["window"]))
    merged = left.merge(right, on=KEYS, how="outer", suffixes=("", "_pd"), indicator=True)
    out: list[ColumnDiff] = []
    unmatched = merged[merged["_merge"] != "both"]
    if len(unmatched):
        first = unmatched.iloc[0]
        out.append(
            ColumnDiff(
                "<keys>",
                float("nan"),
                len(unmatched),
                f"{first['user_id']} {first['window'].date()} only in {first['_merge']}",
            )
        )
    both = merged[merged["_merge"] == "both"]
    columns = [c for c in left.columns if c not in KEYS]
    columns += [c for c in right.columns if c not in KEYS and c not in columns]
    for column in columns:
        if column not in left.columns or column not in right.columns:
            side = "polars" if column in left.columns else "pandas"
            out.append(ColumnDiff(column, float("nan"), len(both), f"only in {side}"))
            continue
        ours = both[column].to_numpy(dtype=float)
        theirs = both[f"{column}_pd"].to_numpy(dtype=float)
        diff = np.abs(ours - theirs)
        diff[np.isnan(ours) & np.isnan(theirs)] = 0.0
        diff[np.isnan(ours) ^ np.isnan(theirs)] = np.inf
        over = diff > tol * np.maximum(1.0, np.abs(np.nan_to_num(ours)))
        example = ""
        if over.any():
            i = int(np.argmax(diff))
            row = both.iloc[i]
            example = (
                f"{row['user_id']} {row['window'].date()}: polars {ours[i]!r} pandas {theirs[i]!r}"
            )
        max_diff = float(diff.max()) if diff.size else 0.0
        out.append(ColumnDiff(column, max_diff, int(over.sum()), example))
    return out


def print_comparison(diffs: Sequence[ColumnDiff], rows: int) -> bool:
    """Print the per-column table; True when every column agrees within tolerance."""
    print(f"{'column':<40} {'max |diff|':>12} {'rows off':>9}  example")
    for d in diffs:
        print(f"{d.column:<40} {d.max_abs_diff:>12.3g} {d.rows_over_tol:>9}  {d.example}")
    bad = [d.column for d in diffs if d.rows_over_tol]
    verdict = "agree" if not bad else f"DIFFER in {', '.join(bad)}"
    print(f"{rows:,} (user, window) rows compared: {verdict}")
    return not bad


def check(users: int, days: int, seed: int = 7, sequences: bool = False) -> bool:
    """Generate a small sample, build both matrices, print the comparison.

    ``sequences``: with the action-sequence columns, the reference using the token
    vectors our fitted model learned (Word2Vec's sample is drawn differently).
    """
    from auditlens.features.base import FeatureContext
    from auditlens.features.matrix import build_matrix
    from auditlens.sources.synthetic import GeneratorSpec, generate

    data = generate(GeneratorSpec(users=users, days=days, seed=seed))
    calendar = BusinessCalendar(timezone="Asia/Seoul")
    catalog = ResourceCatalog.from_frame(data.catalog)
    from auditlens.features.access import AccessFeatures
    from auditlens.features.resources import ResourceFeatures
    from auditlens.features.sequences import WORD, SequenceFeatures
    from auditlens.features.temporal import TemporalFeatures

    # the sets the reference implements (no novelty)
    seq = SequenceFeatures()
    sets = (TemporalFeatures(), ResourceFeatures(), AccessFeatures(), *([seq] if sequences else []))
    ctx = FeatureContext(calendar=calendar, catalog=catalog)
    ours = build_matrix(data.events, ctx, sets).frame
    vectors = None
    if sequences:
        fitted = seq.fitted_model().vectors_
        vectors = pd.DataFrame(
            np.array(fitted["_vec"].to_list(), dtype=np.float64), index=fitted[WORD].to_list()
        )
    theirs = build_matrix_pandas(
        polars_to_pandas(data.events), catalog, calendar, sequences=sequences, vectors=vectors
    )
    print(f"check: {users} users x {days} days, {data.events.height:,} events")
    return print_comparison(compare(ours, theirs), ours.height)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--sequences", action="store_true", help="with the action-sequence columns too"
    )
    args = parser.parse_args(argv)
    started = dt.datetime.now()
    ok = check(args.users, args.days, args.seed, args.sequences)
    print(f"took {(dt.datetime.now() - started).total_seconds():.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
