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
                    f"is not one of {', '.join(SENSITIVITY_LEVELS)}"
                )
            value = SENSITIVITY_WEIGHTS[level] if weight is None else float(weight)
            if value < 0:
                raise ConfigError(
                    f"resource catalog row {number} ({pattern!r}): weight must be >= 0"
                )
            entries.append(CatalogEntry(pattern, level, value, description or ""))
        if default_sensitivity not in LEVEL_RANK:
            raise ConfigError(f"default sensitivity {default_sensitivity!r} is not a level")
        return cls(tuple(entries), default_sensitivity)

    @classmethod
    def read_csv(cls, path: Path, default_sensitivity: str = "low") -> ResourceCatalog:
        """Read ``pattern,sensitivity[,weight][,description]`` (header required)."""
        if not path.exists():
            raise ConfigError(f"resource catalog {path} does not exist")
        frame = pl.read_csv(path, infer_schema=False)
        missing = [c for c in CATALOG_COLUMNS[:2] if c not in frame.columns]
        if missing:
            raise ConfigError(
                f"resource catalog {path}: missing column(s) {', '.join(missing)} "
                f"(expected header {','.join(CATALOG_COLUMNS)})"
            )
        rows: list[tuple[str, str, float | None, str]] = []
        for line, row in enumerate(frame.iter_rows(named=True), start=2):
            raw_weight = row.get("weight")
            try:
                weight = float(raw_weight) if raw_weight not in (None, "") else None
            except ValueError:
                raise ConfigError(f"{path}:{line}: weight {raw_weight!r} is not a number") from None
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
        ids = resource_ids.drop_nulls().unique().sort()
        exact = {e.pattern: e for e in self.entries if not e.is_glob}
        globs = sorted((e for e in self.entries if e.is_glob), key=lambda e: -len(e.pattern))
        compiled = [(re.compile(fnmatch.translate(e.pattern)), e) for e in globs]
        default = CatalogEntry(
            "", self.default_sensitivity, SENSITIVITY_WEIGHTS[self.default_sensitivity]
        )
        levels, weights, patterns = [], [], []
        for rid in ids.to_list():
            entry = exact.get(rid)
            if entry is None:
                entry = next((e for rx, e in compiled if rx.match(rid)), None)
            found = entry or default
            levels.append(found.sensitivity)
            weights.append(found.weight)
            patterns.append(entry.pattern if entry else None)
        return pl.DataFrame(
            {
                "resource_id": ids,
                "sensitivity": pl.Series(levels, dtype=pl.String),
                "weight": pl.Series(weights, dtype=pl.Float64),
                "level": pl.Series([LEVEL_RANK[x] for x in levels], dtype=pl.Int8),
                "pattern": pl.Series(patterns, dtype=pl.String),
            }
        )


def unknown_resources(lookup: pl.DataFrame) -> list[str]:
    """Resource ids of a :meth:`ResourceCatalog.lookup` result that matched no entry."""
    return lookup.filter(pl.col("pattern").is_null()).get_column("resource_id").to_list()
