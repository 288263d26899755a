"""Writing a generated organisation to files: events, labels, catalog and directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal

import polars as pl

from auditlens.errors import AuditlensError
from auditlens.sources.synthetic.spec import SyntheticData

_ISO: Final = "%Y-%m-%dT%H:%M:%S%.3f%:z"


def write_sample(
    data: SyntheticData,
    out_dir: Path,
    fmt: Literal["parquet", "csv", "jsonl"] = "parquet",
    *,
    timezone: str = "Asia/Seoul",
) -> dict[str, Path]:
    """Write events, labels, catalog and directory into ``out_dir``, each file atomically.

    Returns paths by name (``events``, ``labels``, ``catalog``, ``directory``, and
    ``cast`` for the realistic profile: who plays which look-alike). In CSV and
    JSON Lines, timestamps are ISO 8601 in ``timezone`` with its offset
    (``2026-09-01T09:03:12.000+09:00``); polars reads them back to UTC with the
    canonical schema, e.g. ``pl.read_csv(path, schema=schema.EVENT_DTYPES)``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt not in ("parquet", "csv", "jsonl"):
        raise AuditlensError(
            f"unknown sample format {fmt!r}",
            hint="use parquet, csv or jsonl",
            ko=f"알 수 없는 샘플 형식입니다: {fmt!r}",
            ko_hint="parquet, csv, jsonl 중 하나를 쓰십시오",
        )

    def text_times(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            pl.col(c).dt.convert_time_zone(timezone).dt.strftime(_ISO)
            for c, t in frame.schema.items()
            if isinstance(t, pl.Datetime)
        )

    def write_events(path: Path) -> None:
        if fmt == "parquet":
            data.events.write_parquet(path)
        elif fmt == "csv":
            text_times(data.events).write_csv(path)
        else:
            text_times(data.events).write_ndjson(path)

    files: dict[str, tuple[str, Callable[[Path], object]]] = {
        "events": (f"events.{fmt}", write_events),
        "labels": ("labels.csv", text_times(data.labels).write_csv),
        "catalog": ("resource_catalog.csv", data.catalog.write_csv),
        "directory": ("directory.csv", data.directory.write_csv),
    }
    if data.cast is not None:
        files["cast"] = ("cast.csv", data.cast.write_csv)
    paths: dict[str, Path] = {}
    for name, (filename, write) in files.items():
        final = out_dir / filename
        tmp = out_dir / f".{filename}.tmp-{os.getpid()}"
        try:
            write(tmp)
            os.replace(tmp, final)  # readers never see a half-written file
        finally:
            tmp.unlink(missing_ok=True)
        paths[name] = final
    return paths
