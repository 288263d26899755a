"""The CERT Insider Threat Test Dataset (CMU SEI / ExactData) as an event source.

A release directory holds ``logon.csv`` (required), ``device.csv``, ``file.csv``,
``http.csv``, ``email.csv`` and ``LDAP/YYYY-MM.csv`` monthly snapshots. Each activity file
becomes one batch of canonical events; ``event_id`` is the CERT id, ``timestamp`` the
original ``MM/DD/YYYY HH:MM:SS`` text (``validate.py`` parses it), ``host`` the ``pc``.

Mapping rules (``action_type``, ``resource_id``):

- logon.csv: ``Logon`` -> login, ``Logoff`` -> logout; no resource.
- device.csv: ``Connect`` -> usb_connect, ``Disconnect`` -> usb_disconnect; no resource.
- file.csv: resource = ``filename``. r4.2 (no ``activity`` column; every row is a copy to
  removable media) -> copy. r5.2+: ``File Open`` -> view, ``File Write`` -> edit,
  ``File Copy`` -> copy, ``File Delete`` -> delete, except that a write or copy with
  ``to_removable_media`` True is ``copy``: ``copy`` always includes "onto a removable
  drive", the r4.2 meaning, so releases stay comparable.
- http.csv: resource = the URL's host name, lower-case (``http://www.X.com/a`` ->
  ``www.x.com``). No ``activity`` (r4.2/r5.2) -> view; r6: ``WWW Visit`` -> view,
  ``WWW Download`` -> download, ``WWW Upload`` -> upload.
- email.csv: sending (no ``activity`` column, or ``Send``) -> send with resource = the
  recipients' domains (to, cc and bcc), lower-case, de-duplicated, sorted, joined by
  ``;`` (``dtaa.com;gmail.com``); ``View`` (r5.2+) -> view with resource = the sender's
  domain.
- An unknown activity is passed through unchanged, so ``validate.py`` quarantines it
  with its value instead of it being guessed.

``department`` and ``role`` come from the LDAP snapshots when ``LDAP/`` exists: for each
event the user's row in the snapshot of the event's month, else in the latest earlier
snapshot that lists the user, else in the latest snapshot that lists the user at all.
Bulky columns (``content``) are never loaded. A row cut off at the end of a file is in
``Batch.rejected``. ``read_cert_labels`` reads the answer key.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from auditlens import schema
from auditlens.errors import SourceError
from auditlens.sources.base import Batch, Source, Watermark
from auditlens.sources.files import (
    csv_header,
    files_watermark,
    read_csv_file,
    scan_file,
    seen_files,
)
from auditlens.sources.labels import read_cert_labels, read_labels
from auditlens.vocabulary import ValueRules

__all__ = ["CertSource", "read_cert_labels", "read_labels"]

LDAP_COLUMNS: Final = ("user_id", "department", "role")
_BASE: Final = ("id", "date", "user", "pc")
_ACTIVITY: Final = pl.col("activity").str.strip_chars()

LOGON_ACTIONS: Final = {"Logon": "login", "Logoff": "logout"}
DEVICE_ACTIONS: Final = {"Connect": "usb_connect", "Disconnect": "usb_disconnect"}
FILE_ACTIONS: Final = {
    "File Open": "view",
    "File Write": "edit",
    "File Copy": "copy",
    "File Delete": "delete",
}
HTTP_ACTIONS: Final = {"WWW Visit": "view", "WWW Download": "download", "WWW Upload": "upload"}
EMAIL_ACTIONS: Final = {"Send": "send", "View": "view"}

_URL_HOST: Final = r"^\s*(?:[A-Za-z][A-Za-z0-9+.\-]*://)?(?:[^@/?#]*@)?([^/:?#\s]+)"
_MAIL_DOMAIN: Final = r"@([^@\s>]+)"


def _logon(raw: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    return _ACTIVITY.replace(LOGON_ACTIONS), pl.lit(None, pl.String)


def _device(raw: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    return _ACTIVITY.replace(DEVICE_ACTIONS), pl.lit(None, pl.String)


def _file(raw: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    if "activity" not in raw.columns:
        return pl.lit("copy"), pl.col("filename")
    action = _ACTIVITY.replace(FILE_ACTIONS)
    if "to_removable_media" in raw.columns:
        removable = pl.col("to_removable_media").str.strip_chars().str.to_lowercase() == "true"
        to_drive = removable & _ACTIVITY.is_in(["File Write", "File Copy"])
        action = pl.when(to_drive).then(pl.lit("copy")).otherwise(action)
    return action, pl.col("filename")


def _http(raw: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    action = _ACTIVITY.replace(HTTP_ACTIONS) if "activity" in raw.columns else pl.lit("view")
    return action, pl.col("url").str.extract(_URL_HOST, 1).str.to_lowercase()


def _email(raw: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    recipients = pl.concat_str(
        [pl.col(c) for c in ("to", "cc", "bcc") if c in raw.columns],
        separator=";",
        ignore_nulls=True,
    )
    domains = (
        recipients.str.split(";")
        .list.eval(pl.element().str.extract(_MAIL_DOMAIN, 1).str.to_lowercase().drop_nulls())
        .list.unique()
        .list.sort()
        .list.join(";")
    )
    sent_to = pl.when(domains != "").then(domains)
    if "activity" not in raw.columns:
        return pl.lit("send"), sent_to
    has_from = "from" in raw.columns
    sender = pl.col("from") if has_from else pl.lit(None, pl.String)
    sender = sender.str.extract(_MAIL_DOMAIN, 1).str.to_lowercase()
    resource = pl.when(_ACTIVITY == "View").then(sender).otherwise(sent_to)
    return _ACTIVITY.replace(EMAIL_ACTIONS), resource


@dataclass(frozen=True)
class _Kind:
    """One CERT activity file: its name, the columns read and how rows become events."""

    file: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    mapper: Callable[[pl.DataFrame], tuple[pl.Expr, pl.Expr]]


KINDS: Final = (
    _Kind("logon.csv", (*_BASE, "activity"), (), _logon),
    _Kind("device.csv", (*_BASE, "activity"), (), _device),
    _Kind("file.csv", (*_BASE, "filename"), ("activity", "to_removable_media"), _file),
    _Kind("http.csv", (*_BASE, "url"), ("activity",), _http),
    _Kind("email.csv", (*_BASE, "to"), ("cc", "bcc", "from", "activity"), _email),
)


class CertSource(Source):
    """Events from a CERT Insider Threat release directory (r4.2, r5.2, r6.x layouts).

    Yields one batch per activity file present, in the order logon, device, file, http,
    email; ``label`` is the file name. The watermark holds the SHA-256 digests of files
    read (as for ``FileSource``), so a re-run skips them. See the module docstring for
    the mapping rules. Raises SourceError (from ``read``) when the directory or
    ``logon.csv`` is missing, or a file lacks a column the mapping needs.

    Example::

        for batch in CertSource(Path("r4.2")).read():
            print(batch.label, batch.events.height)
    """

    def __init__(
        self, directory: Path | str, name: str | None = None, *, rules: ValueRules | None = None
    ) -> None:
        self.directory = Path(directory)
        self.name = name or f"cert:{self.directory}"
        # CERT dates are MM/DD/YYYY HH:MM:SS in every release
        self.rules = dataclasses.replace(rules or ValueRules(), date_order="MDY")

    def read(self, since: Watermark | None = None) -> Iterator[Batch]:
        """Yield one batch per activity file not yet read according to ``since``."""
        if not (self.directory / "logon.csv").is_file():
            raise SourceError(
                f"{self.directory / 'logon.csv'} does not exist",
                hint="point the cert source's path at a CERT release directory "
                "(the one holding logon.csv, device.csv, ...)",
                ko=f"{self.directory / 'logon.csv'} 파일이 없습니다",
                ko_hint="cert 소스의 path를 CERT 릴리스 디렉터리(logon.csv, device.csv 등이 "
                "있는 곳)로 지정하십시오",
            )
        seen = seen_files(since)
        ldap: pl.DataFrame | None = None
        for kind in KINDS:
            path = self.directory / kind.file
            if not path.is_file():
                continue
            scan = scan_file(path)
            if scan.digest in seen:
                continue
            header = csv_header(scan)
            missing = [c for c in kind.required if c not in header]
            if missing:
                raise SourceError(
                    f"{path}: column(s) {missing} missing; columns present: {header}",
                    hint=f"expected a CERT Insider Threat header with {','.join(kind.required)}",
                    ko=f"{path}: 열이 없습니다: {missing}. 있는 열: {header}",
                    ko_hint=f"CERT Insider Threat 머리글({','.join(kind.required)})이어야 합니다",
                )
            wanted = [*kind.required, *(c for c in kind.optional if c in header)]
            raw, rejected = read_csv_file(path, scan, wanted)
            action, resource = kind.mapper(raw)
            events = raw.select(
                pl.col("id").alias(schema.EVENT_ID),
                pl.col("user").alias(schema.USER_ID),
                pl.col("date").alias(schema.TIMESTAMP),
                action.alias(schema.ACTION_TYPE),
                resource.cast(pl.String).alias(schema.RESOURCE_ID),
                pl.col("pc").alias(schema.HOST),
                pl.col(schema.LOCATION),
            )
            if ldap is None:
                ldap = read_ldap(self.directory / "LDAP")
            seen = {**seen, scan.digest: str(path)}
            yield Batch(
                events=with_org(events, ldap),
                watermark=files_watermark(seen),
                label=kind.file,
                rejected=rejected,
                metadata={"sha256": scan.digest, "format": "cert"},
            )


def read_ldap(directory: Path) -> pl.DataFrame:
    """All ``LDAP/YYYY-MM.csv`` snapshots as ``user_id, month, department, role``.

    ``month`` is ``year * 12 + month - 1``. Empty when the directory does not exist.
    Raises SourceError for a file not named ``YYYY-MM.csv`` or lacking a column.
    """
    types = {"user_id": pl.String, "month": pl.Int32, "department": pl.String, "role": pl.String}
    frames = [pl.DataFrame(schema=types)]
    for path in sorted(directory.glob("*.csv")) if directory.is_dir() else []:
        name = re.fullmatch(r"(\d{4})-(\d{2})", path.stem)
        if name is None:
            raise SourceError(
                f"{path}: LDAP snapshot names must be YYYY-MM.csv",
                hint="rename or remove the file",
                ko=f"{path}: LDAP 스냅숏 파일 이름은 YYYY-MM.csv여야 합니다",
                ko_hint="파일 이름을 바꾸거나 파일을 치우십시오",
            )
        try:
            frame = pl.read_csv(path, infer_schema=False)
        except pl.exceptions.PolarsError as exc:
            raise SourceError(
                f"{path}: cannot read LDAP snapshot: {exc}",
                ko=f"{path}: LDAP 스냅숏을 읽을 수 없습니다: {exc}",
            ) from exc
        missing = [c for c in LDAP_COLUMNS if c not in frame.columns]
        if missing:
            raise SourceError(
                f"{path}: LDAP column(s) {missing} missing; columns present: {frame.columns}",
                hint="expected the CERT LDAP header employee_name,user_id,email,role,...",
                ko=f"{path}: LDAP 열이 없습니다: {missing}. 있는 열: {frame.columns}",
                ko_hint="CERT LDAP 머리글(employee_name,user_id,email,role,...)이어야 합니다",
            )
        month = int(name[1]) * 12 + int(name[2]) - 1
        frames.append(
            frame.select(
                pl.col("user_id"), pl.lit(month, pl.Int32).alias("month"), "department", "role"
            )
        )
    return pl.concat(frames).unique(["user_id", "month"], keep="last").sort("month")


def with_org(events: pl.DataFrame, ldap: pl.DataFrame) -> pl.DataFrame:
    """Add ``department`` and ``role`` from LDAP snapshots (rule in the module docstring).

    Events keep their order; with no snapshots at all the frame is returned unchanged.
    """
    if ldap.height == 0:
        return events
    parts = pl.col(schema.TIMESTAMP).str.extract_groups(r"^\s*(?<m>\d{1,2})/\d{1,2}/(?<y>\d{4})")
    year, number = (parts.struct.field(f).str.to_integer(strict=False) for f in ("y", "m"))
    month = (year * 12 + number - 1).cast(pl.Int32)
    keyed = events.with_row_index("_row").with_columns(month.fill_null(-1).alias("month"))
    # Same month or the latest earlier snapshot that lists the user: a backward as-of join.
    hit = ldap.with_columns(_hit=pl.lit(True))
    joined = keyed.sort("month").join_asof(
        hit,
        on="month",
        by=schema.USER_ID,
        check_sortedness=False,  # both sorted just above
    )
    latest = ldap.group_by(schema.USER_ID).last()  # ldap is sorted by month
    joined = joined.join(latest, on=schema.USER_ID, how="left", suffix="_latest")
    org = [
        pl.when(pl.col("_hit")).then(pl.col(c)).otherwise(pl.col(f"{c}_latest")).alias(c)
        for c in (schema.DEPARTMENT, schema.ROLE)
    ]
    return joined.sort("_row").select(
        *(c for c in events.columns if c != schema.LOCATION), *org, schema.LOCATION
    )
