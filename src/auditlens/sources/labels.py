"""Labels: known insider cases, from the CERT answer key or auditlens' own ``labels.csv``.

Both become ``user_id, scenario, start, end`` with ``schema.LABEL_DTYPES`` (start and end
in UTC). Naive times are read in the given time zone (default ``Asia/Seoul``).
"""

from __future__ import annotations

import csv
import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Final

import polars as pl

from auditlens import schema
from auditlens.errors import SourceError, os_reason

CERT_LABEL_COLUMNS: Final = ("dataset", "scenario", "details", "user", "start", "end")
LABEL_COLUMNS: Final = ("user_id", "scenario", "start", "end")
#: Date formats of the CERT answer key, tried in order (the documented one first).
CERT_DATE_FORMATS: Final = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")


def read_labels(path: Path | str, timezone: str = "Asia/Seoul") -> pl.DataFrame:
    """Read labels from a CERT answer key or a ``labels.csv``, telling them by the header.

    ``labels.csv`` has ``user_id,scenario,start,end`` with ISO 8601 times (``T`` or a
    space, optional fraction, optional ``Z``/``+09:00``). Raises SourceError for any
    other header, naming both accepted ones.
    """
    path = Path(path)
    header = set(_header(path))
    if set(CERT_LABEL_COLUMNS) - {"details"} <= header:
        return read_cert_labels(path, timezone)
    if set(LABEL_COLUMNS) <= header:
        return _read_own_labels(path, timezone)
    raise SourceError(
        f"{path}: not a labels file (header {sorted(header)})",
        hint=f"expected the columns {','.join(LABEL_COLUMNS)} or the CERT answer key's "
        f"{','.join(CERT_LABEL_COLUMNS)}",
        ko=f"{path}: 라벨 파일이 아닙니다 (머리글 {sorted(header)})",
        ko_hint=f"{','.join(LABEL_COLUMNS)} 열 또는 CERT 정답 파일의 "
        f"{','.join(CERT_LABEL_COLUMNS)} 열이 있어야 합니다",
    )


def read_cert_labels(
    path: Path | str, timezone: str = "Asia/Seoul", dataset: str | None = None
) -> pl.DataFrame:
    """Read the CERT answer key ``answers/insiders.csv`` as labels.

    ``dataset`` keeps only one release (``"4.2"``); the key lists every release, and the
    same user name can be an insider in one release only. ``start``/``end`` are
    ``MM/DD/YYYY HH:MM:SS`` in ``timezone``; ``scenario`` is kept as text (``"1"``).
    Raises SourceError naming the line of a date that cannot be read.
    """
    path = Path(path)
    zone = _zone(timezone)
    frame = _read(path)
    missing = [c for c in CERT_LABEL_COLUMNS if c != "details" and c not in frame.columns]
    if missing:
        raise SourceError(
            f"{path}: answer-key column(s) {missing} missing",
            ko=f"{path}: 정답 파일에 열이 없습니다: {missing}",
        )
    frame = frame.with_row_index("_line", offset=2)
    if dataset is not None:
        frame = frame.filter(pl.col("dataset").str.strip_chars() == dataset)
    frame = frame.select(
        "_line",
        pl.col("user").str.strip_chars().alias(schema.USER_ID),
        pl.col("scenario").str.strip_chars(),
        pl.col("start").str.strip_chars(),
        pl.col("end").str.strip_chars(),
    )
    parsed = frame.with_columns(
        pl.coalesce(
            pl.col(c).str.strptime(pl.Datetime("us"), f, strict=False) for f in CERT_DATE_FORMATS
        )
        .dt.replace_time_zone(zone.key, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .alias(c)
        for c in ("start", "end")
    )
    for column in ("start", "end"):
        bad = frame.filter(parsed[column].is_null())
        if bad.height:
            line, value = bad.row(0, named=True)["_line"], bad[column][0]
            raise SourceError(
                f"{path}:{line}: {column} {value!r} is not a date like 07/01/2010 09:30:00",
                hint="fix the answer key (dates are MM/DD/YYYY HH:MM:SS)",
                ko=f"{path}:{line}: {column} 값 {value!r}은 07/01/2010 09:30:00 같은 날짜가 "
                "아닙니다",
                ko_hint="정답 파일을 고치십시오 (날짜는 MM/DD/YYYY HH:MM:SS 형식)",
            )
    return parsed.select(pl.col(c).cast(t) for c, t in schema.LABEL_DTYPES.items())


def _read_own_labels(path: Path, timezone: str) -> pl.DataFrame:
    zone = _zone(timezone)
    frame = _read(path)
    rows = []
    for line, row in enumerate(frame.iter_rows(named=True), start=2):
        times = [_iso(path, line, c, row[c], zone) for c in ("start", "end")]
        rows.append(((row["user_id"] or "").strip(), (row["scenario"] or "").strip(), *times))
    return pl.DataFrame(rows, schema=schema.LABEL_DTYPES, orient="row")


def _iso(path: Path, line: int, column: str, value: str | None, zone: dt.tzinfo) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise SourceError(
            f"{path}:{line}: {column} {value!r} is not an ISO 8601 time",
            hint="write times like 2026-09-01T09:00:00 or 2026-09-01 09:00:00+09:00",
            ko=f"{path}:{line}: {column} 값 {value!r}은 ISO 8601 시각이 아닙니다",
            ko_hint="시각은 2026-09-01T09:00:00 또는 2026-09-01 09:00:00+09:00처럼 쓰십시오",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(dt.UTC)


def _zone(timezone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise SourceError(
            f"unknown time zone {timezone!r} (expected e.g. 'Asia/Seoul')",
            ko=f"알 수 없는 시간대입니다: {timezone!r} (예: 'Asia/Seoul')",
        ) from exc


def _header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return [c.strip() for c in next(csv.reader(fh), [])]
    except OSError as exc:
        raise SourceError(
            f"cannot read labels file {path}: {exc.strerror}",
            ko=f"라벨 파일을 읽을 수 없습니다: {path} ({os_reason(exc, 'ko')})",
        ) from exc


def _read(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(
            f"cannot read labels file {path}: {exc}",
            ko=f"라벨 파일을 읽을 수 없습니다: {path} "
            f"({os_reason(exc, 'ko') if isinstance(exc, OSError) else exc})",
        ) from exc
    return frame.rename({c: c.strip() for c in frame.columns})


#: Outcome words of a finding, read case-insensitively: positive (a confirmed case) or
#: negative (looked into and cleared, e.g. an alert dismissed as a false positive).
POSITIVE_OUTCOMES: Final = frozenset({"confirmed", "substantiated", "positive", "insider", "1"})
NEGATIVE_OUTCOMES: Final = frozenset(
    {"dismissed", "cleared", "unfounded", "false_positive", "negative", "0"}
)


def read_findings(path: Path | str, timezone: str = "Asia/Seoul") -> pl.DataFrame:
    """Labels plus ``positive`` (bool) and ``case_id``: past audit findings for training.

    A ``labels.csv`` may carry ``outcome`` (confirmed / dismissed, see
    POSITIVE_OUTCOMES and NEGATIVE_OUTCOMES; default confirmed) and ``case_id``
    columns; the CERT answer key lists confirmed insiders only. Raises SourceError
    naming the line of an outcome it cannot read.
    """
    path = Path(path)
    labels = read_labels(path, timezone)
    header = set(_header(path))
    outcome = pl.Series("outcome", ["confirmed"] * labels.height, dtype=pl.String)
    case = pl.Series("case_id", [None] * labels.height, dtype=pl.String)
    if header & {"outcome", "case_id"} and not set(CERT_LABEL_COLUMNS) - {"details"} <= header:
        raw = _read(path)
        if "outcome" in raw.columns:
            outcome = raw.get_column("outcome").fill_null("confirmed").str.strip_chars()
        if "case_id" in raw.columns:
            case = raw.get_column("case_id")
    positive = []
    for line, word in enumerate(outcome.str.to_lowercase().to_list(), start=2):
        if word in POSITIVE_OUTCOMES:
            positive.append(True)
        elif word in NEGATIVE_OUTCOMES:
            positive.append(False)
        else:
            raise SourceError(
                f"{path}:{line}: outcome {word!r} is neither confirmed nor dismissed",
                hint=f"use one of {sorted(POSITIVE_OUTCOMES | NEGATIVE_OUTCOMES)}",
                ko=f"{path}:{line}: 결과 값 {word!r}은 확인(confirmed)도 기각(dismissed)도 "
                "아닙니다",
                ko_hint=f"{sorted(POSITIVE_OUTCOMES | NEGATIVE_OUTCOMES)} 중 하나를 쓰십시오",
            )
    return labels.with_columns(
        pl.Series("positive", positive, dtype=pl.Boolean), case.cast(pl.String).alias("case_id")
    )
