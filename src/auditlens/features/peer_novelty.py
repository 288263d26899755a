"""Novelty against the peers: the second pass of :mod:`features.novelty` over the
(user, window) matrix, as ``peers.peer_deviation`` is.

* ``peer_rare_novelty``: over the kinds a user shows for the first time that window, the
  sum of the share of the *other* members of the user's group that day who had never
  shown that kind by that day (1 = nobody else in my group ever did this; a user alone
  in a group counts 1);
* ``foreign_host_count``: hosts used for the first time that window whose main user (at
  least half of the host's user-days up to that day) is somebody else; the first window
  with such a host is one more first-ever kind;
* ``peer_new_resource``: per sensitive resource family used for the first time (after
  the user's first window), the share of the other members who had never used it,
  summed.

Everything is counted "as of the day" (features/asof.py), so a window's values never
change with later windows: :class:`NoveltyPeers` is what the windows so far leave for the
next ones, and the pass over all windows equals the passes day by day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import polars as pl

from auditlens.features.asof import counts_asof
from auditlens.features.base import KEYS, WINDOW
from auditlens.features.novelty import FIRST, HOSTS, LISTS, NEW_FAMILIES, NEW_HOSTS, OWNER_SHARE
from auditlens.features.peers import PEER_GROUP, PeerDays
from auditlens.features.runs import previous, running_sum
from auditlens.schema import USER_ID

__all__ = ["LISTS", "NEW_HOSTS", "NoveltyPeers", "peer_novelty"]

_FIRST_FOREIGN: Final = "_nv_first_foreign_host"
#: Kind of the first window with any foreign host (the first-foreign flag needs it).
_ANY_FOREIGN: Final = "_any_foreign"
_KIND: Final = "kind"
_FAMILY: Final = "family"
_HOST: Final = "host"
_DAWN: Final = dt.date(1, 1, 1)  # the day prior counts stand on, before every window


@dataclass(frozen=True)
class NoveltyPeers:
    """What the windows so far leave for the peer-novelty pass of later windows.

    ``host_days``: ``host, user_id, _n`` user-days per host and user; ``firsts``:
    ``user_id, kind, first``, the first window of each first-ever kind (and of any
    foreign host); ``families``: ``user_id, family, first``, each user's first use of a
    sensitive family; ``starts``: ``user_id, first``, each user's first window.
    """

    host_days: pl.DataFrame
    firsts: pl.DataFrame
    families: pl.DataFrame
    starts: pl.DataFrame

    @staticmethod
    def empty() -> NoveltyPeers:
        """Before the first window."""
        return NoveltyPeers(
            pl.DataFrame(schema={_HOST: pl.String, USER_ID: pl.String, "_n": pl.Int64}),
            pl.DataFrame(schema={USER_ID: pl.String, _KIND: pl.String, "first": pl.Date}),
            pl.DataFrame(schema={USER_ID: pl.String, _FAMILY: pl.String, "first": pl.Date}),
            pl.DataFrame(schema={USER_ID: pl.String, "first": pl.Date}),
        )


def peer_novelty(
    matrix: pl.DataFrame, peers: PeerDays, prior: NoveltyPeers | None = None
) -> tuple[pl.DataFrame, NoveltyPeers]:
    """Keys, ``peer_rare_novelty``, ``foreign_host_count`` and ``peer_new_resource`` per
    (user, window) of ``matrix`` (keys and :class:`NoveltyFeatures`' info columns, sorted
    by keys, every window later than those of ``prior``), and what they leave.

    >>> d = dt.date(2026, 10, 5)
    >>> m = pl.DataFrame({"user_id": ["a", "b", "c"], "window": [d] * 3,
    ...     "_nv_first_off_hours_login": [1, 0, 0], "_nv_first_usb": [0, 0, 0],
    ...     "_nv_first_new_host": [1, 0, 0], "_nv_hosts": [["PC-A", "PC-B"], ["PC-B"], ["PC-C"]],
    ...     "_nv_new_hosts": [["PC-B"], [], []], "_nv_new_families": [[], [], []]})
    >>> g = m.select("user_id", "window", pl.lit("x").alias("peer_group"))
    >>> out, _ = peer_novelty(m, PeerDays(g, g, PeerDays.empty().counts))
    >>> out.select("peer_rare_novelty", "foreign_host_count").row(0)
    (2.0, 1)
    """
    prior = prior or NoveltyPeers.empty()
    starts = _merge(prior.starts, matrix.group_by(USER_ID).agg(pl.col(WINDOW).min().alias("first")))
    foreign, host_days = _foreign_hosts(matrix, prior.host_days)
    base = (
        matrix.select(*KEYS, *FIRST.values())
        .join(foreign, on=list(KEYS), how="left", maintain_order="left")
        .join(starts.rename({"first": "_start"}), on=USER_ID, how="left", maintain_order="left")
        .with_columns(pl.col("foreign_host_count").fill_null(0))
    )
    has_foreign = pl.col("foreign_host_count") > 0
    seen_before = prior.firsts.filter(pl.col(_KIND) == _ANY_FOREIGN).select(USER_ID, "first")
    earlier = previous(running_sum(has_foreign, USER_ID), USER_ID).fill_null(0)
    base = (
        base.join(seen_before, on=USER_ID, how="left", maintain_order="left")
        .with_columns(
            (
                has_foreign
                & (earlier == 0)
                & pl.col("first").is_null()
                & (pl.col(WINDOW) > pl.col("_start"))
            )
            .cast(pl.Int64)
            .alias(_FIRST_FOREIGN)
        )
        .drop("first")
    )
    kinds = [*FIRST.values(), _FIRST_FOREIGN]
    new_firsts = pl.concat(
        [
            base.filter(pl.col(k) > 0).group_by(USER_ID).agg(pl.col(WINDOW).min().alias("first"))
            .with_columns(pl.lit(k).alias(_KIND))
            for k in kinds
        ]
        + [base.filter(has_foreign).group_by(USER_ID).agg(pl.col(WINDOW).min().alias("first"))
           .with_columns(pl.lit(_ANY_FOREIGN).alias(_KIND))]
    ).select(USER_ID, _KIND, "first")  # fmt: skip
    firsts = _merge(prior.firsts, new_firsts, [_KIND])
    grouped = base.join(peers.groups, on=list(KEYS), how="left", maintain_order="left")
    grouped = grouped.with_columns(
        peers.members(grouped.select(PEER_GROUP, WINDOW)).alias("_members")
    )
    others = pl.col("_members") - 1
    rare = pl.lit(0.0)
    # every kind's counts in one pass (integer counts per group and kind: the same)
    asked = pl.concat([grouped.select(PEER_GROUP, pl.lit(k).alias(_KIND), WINDOW) for k in kinds])
    counts = counts_asof(peers.spells, firsts, asked, [_KIND], ends=peers.ends)
    for i, k in enumerate(kinds):
        ever = counts.slice(i * grouped.height, grouped.height)
        share = pl.when(others > 0).then((pl.lit(ever) - 1).clip(0) / others).otherwise(0.0)
        rare = rare + pl.col(k).cast(pl.Float64) * (1.0 - share)
    families, family_firsts = _family_rarity(matrix, peers, prior.families, starts)
    out = (
        grouped.with_columns(rare.alias("peer_rare_novelty"))
        .join(families, on=list(KEYS), how="left", maintain_order="left")
        .select(
            *KEYS,
            "peer_rare_novelty",
            "foreign_host_count",
            pl.col("peer_new_resource").fill_null(0.0),
        )
    )
    return out, NoveltyPeers(host_days, firsts, family_firsts, starts)


def _merge(before: pl.DataFrame, new: pl.DataFrame, by: list[str] | None = None) -> pl.DataFrame:
    """Earliest ``first`` per user (and ``by``) of both frames."""
    keys = [USER_ID, *(by or [])]
    both = pl.concat([before.select(*keys, "first"), new.select(*keys, "first")])
    return both.group_by(keys).agg(pl.col("first").min()).sort(keys)


def _foreign_hosts(matrix: pl.DataFrame, before: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keys and ``foreign_host_count`` of the windows with a first-time host whose main
    user that day (at least OWNER_SHARE of its user-days up to then) is somebody else;
    and the user-days per host and user after these windows."""
    used = (
        matrix.select(USER_ID, WINDOW, pl.col(HOSTS).alias(_HOST))
        .explode(_HOST)
        .drop_nulls(_HOST)
        .cast({_HOST: pl.String})
        .with_columns(pl.lit(1, pl.Int64).alias("_n"))
    )
    line = (
        pl.concat([before.with_columns(pl.lit(_DAWN).alias(WINDOW)).select(used.columns), used])
        .sort(_HOST, USER_ID, WINDOW)
        .with_columns(pl.col("_n").cum_sum().over(_HOST, USER_ID).alias("_c"))
    )
    after = line.group_by(_HOST, USER_ID).agg(pl.col("_n").sum()).sort(_HOST, USER_ID)
    asked = (
        matrix.select(*KEYS, pl.col(NEW_HOSTS).alias(_HOST))
        .explode(_HOST)
        .drop_nulls(_HOST)
        .cast({_HOST: pl.String})
        .join(after.select(_HOST, pl.col(USER_ID).alias("_owner")), on=_HOST)
        .sort(WINDOW)
    )
    counted = asked.join_asof(
        line.select(_HOST, pl.col(USER_ID).alias("_owner"), WINDOW, "_c").sort(WINDOW),
        on=WINDOW,
        by=[_HOST, "_owner"],
        strategy="backward",
        check_sortedness=False,
    ).with_columns(pl.col("_c").fill_null(0))
    owners = counted.filter(
        pl.col("_c") >= OWNER_SHARE * pl.col("_c").sum().over(*KEYS, _HOST),
        pl.col("_owner") != pl.col(USER_ID),
    )
    foreign = owners.group_by(KEYS).agg(pl.len().cast(pl.Int64).alias("foreign_host_count"))
    return foreign, after


def _family_rarity(
    matrix: pl.DataFrame, peers: PeerDays, before: pl.DataFrame, starts: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keys and ``peer_new_resource`` of the windows (after the user's first) with a
    first-time sensitive family; and each user's first use of each family after them."""
    new = (
        matrix.select(*KEYS, pl.col(NEW_FAMILIES).alias(_FAMILY))
        .explode(_FAMILY)
        .drop_nulls(_FAMILY)
        .cast({_FAMILY: pl.String})
    )
    firsts = _merge(before, new.rename({WINDOW: "first"}), [_FAMILY])
    asked = (
        new.join(starts, on=USER_ID, how="left")
        .filter(pl.col(WINDOW) > pl.col("first"))
        .drop("first")
        .join(peers.groups, on=list(KEYS), how="left")
    )
    asked = asked.with_columns(
        counts_asof(
            peers.spells,
            firsts,
            asked.select(PEER_GROUP, _FAMILY, WINDOW),
            [_FAMILY],
            ends=peers.ends,
        ).alias("_used"),
        peers.members(asked.select(PEER_GROUP, WINDOW)).alias("_members"),
    )
    others = pl.col("_members") - 1
    share = pl.when(others > 0).then((pl.col("_used") - 1).clip(0) / others).otherwise(0.0)
    # summed in family order: the same bits whatever other windows are in the frame
    rarity = (
        asked.with_columns((1.0 - share).alias("_rare"))
        .sort(*KEYS, _FAMILY)
        .group_by(KEYS, maintain_order=True)
        .agg(pl.col("_rare").sum().alias("peer_new_resource"))
    )
    return rarity, firsts
