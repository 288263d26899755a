"""The resource-sensitivity catalog: resource id or glob pattern -> level and weight.

Example::

    >>> cat = ResourceCatalog.from_rows([("db/customer/*", "critical", None, "PII")])
    >>> cat.lookup(pl.Series(["db/customer/cards", "wiki/x"])).to_dicts()[1]["sensitivity"]
    'low'
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from auditlens.errors import ConfigError
from auditlens.schema import CATALOG_COLUMNS, SENSITIVITY_LEVELS, SENSITIVITY_WEIGHTS

#: Sensitivity levels ordered low..critical as integers 0..3 (for "level >= high" tests).
LEVEL_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SENSITIVITY_LEVELS)}
SENSITIVE_RANK = LEVEL_RANK["high"]


@dataclass(frozen=True)
class CatalogEntry:
    """One catalog row: an exact id or a glob (``*``, ``?``, ``[...]``)."""

    pattern: str
    sensitivity: str
    weight: float
    description: str = ""

    @property
    def is_glob(self) -> bool:
        """True when the pattern has glob characters."""
        return any(ch in self.pattern for ch in "*?[")


@dataclass(frozen=True)
class ResourceCatalog:
    """Maps resource ids to a sensitivity level, weight and the catalog pattern matched.

    Exact ids win over globs; among globs the longest (most specific) pattern wins.
    Resources that match nothing get ``default_sensitivity`` and pattern ``None`` (they
    are counted and reported, see :func:`unknown_resources`).
    """

    entries: tuple[CatalogEntry, ...] = ()
    default_sensitivity: str = "low"

    @classmethod
    def from_rows(
        cls,
        rows: list[tuple[str, str, float | None, str]],
        default_sensitivity: str = "low",
    ) -> ResourceCatalog:
        """Build from (pattern, sensitivity, weight or None, description) tuples."""
        entries = []
        for number, (pattern, level, weight, description) in enumerate(rows, start=1):
            if level not in LEVEL_RANK:
                raise ConfigError(
                    f"resource catalog row {number} ({pattern!r}): sensitivity {level!r} "
                    f"is not one of {', '.join(SENSITIVITY_LEVELS)}",
                    ko=f"자원 목록 {number}행 ({pattern!r}): 민감도 {level!r}은(는) "
                    f"{', '.join(SENSITIVITY_LEVELS)} 중 하나가 아닙니다",
                )
            value = SENSITIVITY_WEIGHTS[level] if weight is None else float(weight)
            if value < 0:
                raise ConfigError(
                    f"resource catalog row {number} ({pattern!r}): weight must be >= 0",
                    ko=f"자원 목록 {number}행 ({pattern!r}): 가중치는 0 이상이어야 합니다",
                )
            entries.append(CatalogEntry(pattern, level, value, description or ""))
        if default_sensitivity not in LEVEL_RANK:
            raise ConfigError(
                f"default sensitivity {default_sensitivity!r} is not a level",
                ko=f"기본 민감도 {default_sensitivity!r}은(는) 정해진 민감도 등급이 아닙니다",
            )
        return cls(tuple(entries), default_sensitivity)

    @classmethod
    def read_csv(cls, path: Path, default_sensitivity: str = "low") -> ResourceCatalog:
        """Read ``pattern,sensitivity[,weight][,description]`` (header required)."""
        if not path.exists():
            raise ConfigError(
                f"resource catalog {path} does not exist",
                ko=f"자원 목록 파일 {path}이(가) 없습니다",
            )
        frame = pl.read_csv(path, infer_schema=False)
        missing = [c for c in CATALOG_COLUMNS[:2] if c not in frame.columns]
        if missing:
            raise ConfigError(
                f"resource catalog {path}: missing column(s) {', '.join(missing)} "
                f"(expected header {','.join(CATALOG_COLUMNS)})",
                ko=f"자원 목록 {path}: {', '.join(missing)} 열이 없습니다 "
                f"(필요한 머리글: {','.join(CATALOG_COLUMNS)})",
            )
        rows: list[tuple[str, str, float | None, str]] = []
        for line, row in enumerate(frame.iter_rows(named=True), start=2):
            raw_weight = row.get("weight")
            try:
                weight = float(raw_weight) if raw_weight not in (None, "") else None
            except ValueError:
                raise ConfigError(
                    f"{path}:{line}: weight {raw_weight!r} is not a number",
                    ko=f"{path}:{line}: 가중치 {raw_weight!r}은(는) 숫자가 아닙니다",
                ) from None
            rows.append(
                (
                    str(row["pattern"] or ""),
                    str(row["sensitivity"] or "").strip().lower(),
                    weight,
                    str(row.get("description") or ""),
                )
            )
        return cls.from_rows(rows, default_sensitivity)

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> ResourceCatalog:
        """Build from a frame with the catalog columns (e.g. the synthetic catalog)."""
        rows = [
            (
                str(r["pattern"]),
                str(r["sensitivity"]),
                r.get("weight"),
                str(r.get("description") or ""),
            )
            for r in frame.iter_rows(named=True)
        ]
        return cls.from_rows(rows)

    def lookup(self, resource_ids: pl.Series) -> pl.DataFrame:
        """Per distinct resource id: ``resource_id, sensitivity, weight, level, pattern``.

        Matching runs once per *distinct* id (a catalog of globs against 10M events costs
        only as much as the distinct resources), then callers join on ``resource_id``.
        """
        return self.match(resource_ids.drop_nulls().unique().sort())

    def match(self, ids: pl.Series) -> pl.DataFrame:
        """:meth:`lookup`'s columns for ``ids`` as given: one row per id, in order.

        ``ids`` should be distinct (each is matched once). A null id gets null
        sensitivity, weight, level and pattern. Globs of ``*``, ``?`` and literals run as
        vectorised regular expressions; ``[...]`` classes through :mod:`fnmatch`.
        """
        entries = list(self.entries)
        default = CatalogEntry(
            "", self.default_sensitivity, SENSITIVITY_WEIGHTS[self.default_sensitivity]
        )
        # exact ids first (a repeated pattern: the last row wins), then the longest glob
        exact = {e.pattern: i for i, e in enumerate(entries) if not e.is_glob}
        globs = sorted(
            (i for i, e in enumerate(entries) if e.is_glob), key=lambda i: -len(entries[i].pattern)
        )
        frame = pl.DataFrame({"resource_id": ids.cast(pl.String)})
        rid = frame.get_column("resource_id")
        frame = frame.with_columns(
            rid.replace_strict(
                list(exact), list(exact.values()), default=None, return_dtype=pl.Int32
            ).alias("_exact"),
            *[_glob_matches(rid, entries[i].pattern).alias(f"_glob{i}") for i in globs],
        )
        choice = pl.coalesce(
            "_exact", *[pl.when(pl.col(f"_glob{i}")).then(pl.lit(i, pl.Int32)) for i in globs]
        )
        # no entry matched: the default (last row below); a null id: nulls
        row = (
            frame.select(
                pl.when(pl.col("resource_id").is_not_null()).then(choice.fill_null(len(entries)))
            )
            .to_series()
            .cast(pl.UInt32)
        )
        found = [*entries, default]
        table = {
            "sensitivity": pl.Series([e.sensitivity for e in found], dtype=pl.String),
            "weight": pl.Series([e.weight for e in found], dtype=pl.Float64),
            "level": pl.Series([LEVEL_RANK[e.sensitivity] for e in found], dtype=pl.Int8),
            "pattern": pl.Series([*(e.pattern for e in entries), None], dtype=pl.String),
        }
        return frame.select("resource_id").with_columns(
            values.gather(row).alias(name) for name, values in table.items()
        )


def _glob_matches(ids: pl.Series, pattern: str) -> pl.Series:
    """Which ``ids`` match the glob ``pattern`` exactly as :func:`fnmatch.fnmatchcase`."""
    if "[" in pattern:  # bracket classes: leave them to fnmatch's own translation
        rx = re.compile(fnmatch.translate(pattern))
        hits = [None if i is None else rx.match(i) is not None for i in ids.to_list()]
        return pl.Series(hits, dtype=pl.Boolean)
    parts: list[str] = []
    for ch in pattern:
        if ch == "*":
            if not parts or parts[-1] != ".*":
                parts.append(".*")
        elif ch == "?":
            parts.append(".")
        elif ch.isascii() and ch.isalnum():
            parts.append(ch)
        else:
            parts.append(f"\\x{{{ord(ch):X}}}")
    return ids.str.contains("(?s)^" + "".join(parts) + "$")


def unknown_resources(lookup: pl.DataFrame) -> list[str]:
    """Resource ids of a :meth:`ResourceCatalog.lookup` result that matched no entry."""
    return lookup.filter(pl.col("pattern").is_null()).get_column("resource_id").to_list()
