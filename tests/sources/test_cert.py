"""CertSource and the label readers, on small CERT-shaped fixtures in tests/data/."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from auditlens import schema
from auditlens.errors import SourceError
from auditlens.sources.base import Batch
from auditlens.sources.cert import CertSource, read_cert_labels, read_labels
from auditlens.sources.files import TRUNCATED

DATA = Path(__file__).parent.parent / "data"
R42 = DATA / "cert_r42"
R62 = DATA / "cert_r62"
UTC = dt.UTC


def batches(directory: Path) -> dict[str, Batch]:
    return {b.label: b for b in CertSource(directory).read()}


def mapped(batch: Batch) -> list[tuple[str | None, ...]]:
    """(user, action, resource, host) per event, in file order."""
    return batch.events.select(
        schema.USER_ID, schema.ACTION_TYPE, schema.RESOURCE_ID, schema.HOST
    ).rows()


def data_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) - 1


def test_every_r42_file_becomes_one_batch_and_every_line_is_accounted_for() -> None:
    got = batches(R42)
    assert list(got) == ["logon.csv", "device.csv", "file.csv", "http.csv", "email.csv"]
    for name, batch in got.items():
        assert batch.rejected is not None
        assert batch.events.height + batch.rejected.height == data_lines(R42 / name)
        raw = pl.read_csv(R42 / name, infer_schema=False)
        assert batch.events[schema.EVENT_ID].to_list() == raw["id"].to_list()
        assert batch.events[schema.TIMESTAMP].to_list() == raw["date"].to_list()
        assert batch.events[schema.LOCATION][0] == f"{R42 / name}:2"
        assert "content" not in batch.events.columns
        assert set(batch.events.columns) <= {*schema.EVENT_COLUMNS, schema.LOCATION}


def test_r42_logon_and_device_mapping() -> None:
    got = batches(R42)
    assert mapped(got["logon.csv"])[:4] == [
        ("AAM0658", "login", None, "PC-6377"),
        ("AAM0658", "logout", None, "PC-6377"),
        ("BCM1234", "login", None, "PC-1001"),
        ("CDE1846", "login", None, "PC-2002"),
    ]
    assert [r[1] for r in mapped(got["device.csv"])] == [
        "usb_connect",
        "usb_disconnect",
        "usb_connect",
        "usb_disconnect",
    ]


def test_r42_file_http_and_email_mapping() -> None:
    got = batches(R42)
    # r4.2 file.csv has no activity: every row is a copy to removable media.
    assert mapped(got["file.csv"]) == [
        ("CDE1846", "copy", "ABC1234.doc", "PC-2002"),
        ("CDE1846", "copy", "XYZ9876.pdf", "PC-2002"),
        ("AAM0658", "copy", "QWE5555.zip", "PC-6377"),
    ]
    assert mapped(got["http.csv"]) == [
        ("AAM0658", "view", "www.monster.com", "PC-6377"),
        ("CDE1846", "view", "wikileaks.org", "PC-2002"),
        ("AAM0658", "view", "dropbox.com", "PC-6377"),
        ("ZZZ9999", "view", "jobhuntersbible.com", "PC-9999"),
    ]
    # Recipients' domains (to, cc, bcc): lower-case, unique, sorted, ';'-joined.
    assert mapped(got["email.csv"]) == [
        ("AAM0658", "send", "dtaa.com", "PC-6377"),
        ("CDE1846", "send", "dtaa.com;gmail.com;yahoo.com", "PC-2002"),
        ("AAM0658", "send", "competitor.com;gmail.com", "PC-6377"),
    ]


def test_department_and_role_follow_the_ldap_snapshot_of_the_month() -> None:
    logon = batches(R42)["logon.csv"].events
    org = logon.select(schema.USER_ID, schema.TIMESTAMP, schema.DEPARTMENT, schema.ROLE).rows()
    assert org == [
        ("AAM0658", "01/04/2010 07:12:44", "2 - Sales", "Salesman"),  # January snapshot
        ("AAM0658", "01/04/2010 17:30:02", "2 - Sales", "Salesman"),
        ("BCM1234", "01/05/2010 08:01:00", "1 - ITSupport", "ITAdmin"),
        ("CDE1846", "01/05/2010 23:45:10", "3 - Engineering", "Engineer"),
        # Not listed before February: the latest snapshot listing the user.
        ("DFX0001", "01/06/2010 09:00:00", "3 - Engineering", "Manager"),
        ("AAM0658", "02/01/2010 08:00:00", "3 - Marketing", "Marketer"),  # moved in February
        # Gone from the February snapshot (left): the latest earlier one.
        ("CDE1846", "02/02/2010 08:10:00", "3 - Engineering", "Engineer"),
        ("CDE1846", "02/02/2010 18:10:00", "3 - Engineering", "Engineer"),
        # No March snapshot: the latest earlier one (February).
        ("AAM0658", "03/01/2010 08:00:00", "3 - Marketing", "Marketer"),
        ("ZZZ9999", "03/01/2010 08:05:00", None, None),  # in no snapshot
    ]


def test_r62_activity_columns_mapping_and_truncated_last_line() -> None:
    got = batches(R62)
    assert mapped(got["file.csv"]) == [
        ("ACM2278", "view", "C:\\Docs\\plan.doc", "PC-6427"),  # File Open
        ("ACM2278", "edit", "C:\\Docs\\plan.doc", "PC-6427"),  # File Write
        ("ACM2278", "copy", "R:\\plan.doc", "PC-6427"),  # File Write to removable media
        ("ACM2278", "copy", "R:\\budget.xls", "PC-6427"),  # File Copy to removable media
        ("ACM2278", "copy", "C:\\Docs\\photo.jpg", "PC-6427"),  # File Copy from it
        ("ACM2278", "delete", "C:\\Docs\\old.txt", "PC-6427"),  # File Delete
    ]
    assert mapped(got["http.csv"]) == [
        ("BSS0369", "view", "news.example.com", "PC-5866"),
        ("BSS0369", "download", "downloads.example.org", "PC-5866"),
        ("BSS0369", "upload", "www.dropbox.com", "PC-5866"),
    ]
    # Send: recipients' domains; View: the sender's domain.
    assert mapped(got["email.csv"]) == [
        ("ACM2278", "send", "dtaa.com", "PC-6427"),
        ("ACM2278", "view", "vendor.com", "PC-6427"),
        ("ACM2278", "send", "hotmail.com", "PC-6427"),
    ]
    assert [r[1] for r in mapped(got["device.csv"])] == ["usb_connect", "usb_disconnect"]
    rejected = got["http.csv"].rejected
    assert rejected is not None
    assert rejected.rows() == [
        (
            f"{R62 / 'http.csv'}:5",
            f"{TRUNCATED}: expected 7 fields, found 5",
            "{DGNN-QFKPL9EK-A024SCOS},01/02/2010 07:33:00,BSS0369,PC-5866,http://www.face",
        )
    ]
    for name, batch in got.items():
        assert batch.rejected is not None
        assert batch.events.height + batch.rejected.height == data_lines(R62 / name)
        # No LDAP directory: no organisation columns are invented.
        assert schema.DEPARTMENT not in batch.events.columns


def test_unknown_activity_is_passed_through_for_validation(tmp_path: Path) -> None:
    (tmp_path / "logon.csv").write_text(
        "id,date,user,pc,activity\n{A},01/02/2010 06:55:16,U1,PC-1,Reboot\n"
    )
    (event,) = batches(tmp_path)["logon.csv"].events.iter_rows(named=True)
    assert event[schema.ACTION_TYPE] == "Reboot"


def test_watermark_skips_files_already_read(tmp_path: Path) -> None:
    directory = tmp_path / "r42"
    shutil.copytree(R42, directory)
    source = CertSource(directory)
    first = list(source.read())
    assert len(json.loads(first[-1].watermark.value)["files"]) == 5
    with (directory / "device.csv").open("a") as fh:
        fh.write("{NEW1-AAAAAAAA-BBBBBBBB},03/02/2010 10:00:00,AAM0658,PC-6377,Connect\n")
    again = list(source.read(first[-1].watermark))
    assert [b.label for b in again] == ["device.csv"]
    assert again[0].events.height == 5
    # Resuming after the logon batch reads the rest.
    assert [b.label for b in source.read(first[0].watermark)][:2] == ["device.csv", "file.csv"]


def test_errors_name_the_file_and_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"logon\.csv does not exist.*CERT release"):
        list(CertSource(tmp_path).read())
    (tmp_path / "logon.csv").write_text("id,date,user,activity\n")
    with pytest.raises(SourceError, match=r"logon\.csv: column\(s\) \['pc'\] missing"):
        list(CertSource(tmp_path).read())
    (tmp_path / "logon.csv").write_text("id,date,user,pc,activity\n")
    (tmp_path / "LDAP").mkdir()
    (tmp_path / "LDAP" / "january.csv").write_text("user_id,department,role\n")
    with pytest.raises(SourceError, match=r"january\.csv: LDAP snapshot names must be YYYY-MM"):
        list(CertSource(tmp_path).read())


# --- labels ----------------------------------------------------------------------------


def test_cert_answer_key_becomes_utc_labels() -> None:
    labels = read_cert_labels(R42 / "answers" / "insiders.csv", dataset="4.2")
    assert labels.schema == pl.Schema(schema.LABEL_DTYPES)
    assert labels.rows() == [
        (
            "CDE1846",
            "1",
            dt.datetime(2010, 1, 5, 14, 45, 10, tzinfo=UTC),  # 23:45:10 in Seoul
            dt.datetime(2010, 1, 5, 14, 59, tzinfo=UTC),
        ),
        (
            "AAM0658",
            "2",
            dt.datetime(2010, 1, 3, 22, 20, tzinfo=UTC),
            dt.datetime(2010, 2, 2, 3, 20, tzinfo=UTC),
        ),
    ]
    every = read_cert_labels(R42 / "answers" / "insiders.csv", timezone="UTC")
    assert every[schema.USER_ID].to_list() == ["CDE1846", "AAM0658", "QRS7777"]
    assert every["start"][0] == dt.datetime(2010, 1, 5, 23, 45, 10, tzinfo=UTC)


def test_bad_answer_key_date_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "insiders.csv"
    path.write_text(
        "dataset,scenario,details,user,start,end\n"
        "4.2,1,a.csv,U1,01/05/2010 23:45:10,01/06/2010 00:00:00\n"
        "4.2,2,b.csv,U2,2010-13-45,01/06/2010 00:00:00\n"
    )
    with pytest.raises(SourceError, match=r"insiders\.csv:3: start '2010-13-45'"):
        read_cert_labels(path)


def test_read_labels_tells_the_formats_apart(tmp_path: Path) -> None:
    cert = read_labels(R42 / "answers" / "insiders.csv")
    assert cert.height == 3
    own = tmp_path / "labels.csv"
    own.write_text(
        "user_id,scenario,start,end\n"
        "E1001,audit-2026-07,2026-07-01T09:00:00,2026-07-03 18:00:00\n"
        "E1002,2,2026-07-01T00:00:00Z,2026-07-02T09:00:00+09:00\n"
    )
    labels = read_labels(own)
    assert labels.schema == pl.Schema(schema.LABEL_DTYPES)
    assert labels.rows() == [
        (
            "E1001",
            "audit-2026-07",
            dt.datetime(2026, 7, 1, 0, 0, tzinfo=UTC),
            dt.datetime(2026, 7, 3, 9, 0, tzinfo=UTC),
        ),
        (
            "E1002",
            "2",
            dt.datetime(2026, 7, 1, 0, 0, tzinfo=UTC),
            dt.datetime(2026, 7, 2, 0, 0, tzinfo=UTC),
        ),
    ]
    own.write_text("user_id,scenario,start,end\nE1,1,yesterday,2026-07-02T00:00:00\n")
    with pytest.raises(SourceError, match=r"labels\.csv:2: start 'yesterday'"):
        read_labels(own)
    own.write_text("who,when\nE1,2026-07-01\n")
    with pytest.raises(SourceError, match="not a labels file"):
        read_labels(own)
