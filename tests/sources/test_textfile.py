"""Encodings of text exports (UTF-8, CP949, EUC-KR, auto) and lossless quarantined bytes."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlens import schema
from auditlens.errors import SourceError
from auditlens.sources.textfile import RAW_BASE64, clip, raw_bytes
from tests.sources.reading import read_one, unreadable

HEADER = "timestamp,user_id,action_type,resource_id,host"
KOREAN = [
    "2026-09-01T09:00:00,김철수,view,/인사/급여,pc-01",
    "2026-09-01T09:01:00,이영희,download,/재무/원장.xlsx,pc-02",
    "2026-09-01T09:02:00,E1003,login,,pc-03",
    "2026-09-01T09:03:00,박민수,edit,/영업/고객,pc-04",
]


def test_cp949_export_is_read_whole_with_encoding_cp949(tmp_path: Path) -> None:
    path = tmp_path / "cp949.csv"
    path.write_bytes(("\n".join([HEADER, *KOREAN]) + "\n").encode("cp949"))
    utf8 = read_one(path)  # the default: only the ASCII line can be read as UTF-8
    assert utf8.events.height == 1
    cp949 = read_one(path, encoding="cp949")
    assert cp949.rejected is not None and cp949.rejected.height == 0
    assert cp949.events[schema.USER_ID].to_list() == ["김철수", "이영희", "E1003", "박민수"]
    assert cp949.events[schema.RESOURCE_ID][1] == "/재무/원장.xlsx"
    assert cp949.metadata["encoding"] == "cp949"
    assert read_one(path, encoding="euc-kr").events.height == 4  # these are all EUC-KR too


def test_a_korean_header_in_cp949_names_the_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "kh.csv"
    text = "시각,사번,행위,자원\n2026-09-01T09:00:00,김철수,view,/a\n"
    path.write_bytes(text.encode("cp949"))
    assert re.search(r"kh\.csv:1: header is not valid utf-8.*encoding", unreadable(path))
    mapping = {"시각": "timestamp", "사번": "user_id", "행위": "action_type", "자원": "resource_id"}
    batch = read_one(path, encoding="cp949", column_map=mapping)
    assert batch.events[schema.USER_ID].to_list() == ["김철수"]


def test_cp949_only_characters_need_cp949_not_euc_kr(tmp_path: Path) -> None:
    path = tmp_path / "ext.csv"
    text = f"{HEADER}\n2026-09-01T09:00:00,똠방각하,view,/a,pc\n{KOREAN[0]}\n"  # 똠: CP949 only
    path.write_bytes(text.encode("cp949"))
    assert read_one(path, encoding="cp949").events[schema.USER_ID][0] == "똠방각하"
    euc = read_one(path, encoding="euc-kr")
    assert euc.events[schema.USER_ID].to_list() == ["김철수"]
    assert euc.rejected is not None
    ((location, reason, raw),) = euc.rejected.rows()
    assert location == f"{path}:2" and "not valid EUC-KR" in reason
    assert raw_bytes(raw).decode("cp949") == "2026-09-01T09:00:00,똠방각하,view,/a,pc"


def test_auto_reads_utf8_as_utf8_and_falls_back_to_cp949_with_a_notice(tmp_path: Path) -> None:
    utf8 = tmp_path / "u.csv"
    utf8.write_text("\n".join([HEADER, *KOREAN]) + "\n", encoding="utf-8")
    batch = read_one(utf8, encoding="auto")
    assert batch.metadata["encoding"] == "utf-8" and "notice" not in batch.metadata
    assert batch.events[schema.USER_ID][0] == "김철수"

    cp = tmp_path / "k.jsonl"
    lines = [json.dumps(dict(zip(HEADER.split(","), r.split(","), strict=True)),
                        ensure_ascii=False) for r in KOREAN]  # fmt: skip
    cp.write_bytes(("\n".join(lines) + "\n").encode("cp949"))
    batch = read_one(cp, encoding="auto")
    assert batch.metadata["encoding"] == "cp949"
    assert "read as CP949" in batch.metadata["notice"]
    assert "CP949로 읽었습니다" in batch.metadata["notice_ko"]
    assert batch.events[schema.USER_ID].to_list() == ["김철수", "이영희", "E1003", "박민수"]


def test_undecodable_lines_keep_their_bytes_in_the_quarantine(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    korean = KOREAN[0].encode("cp949")
    path.write_bytes(f"{HEADER}\n{KOREAN[2]}\n".encode() + korean + b"\n")
    batch = read_one(path)  # utf-8: the CP949 line is not readable
    assert batch.rejected is not None
    ((location, reason, raw),) = batch.rejected.rows()
    assert location == f"{path}:3" and "not valid UTF-8" in reason
    assert raw.startswith(RAW_BASE64) and "\ufffd" not in raw
    assert raw_bytes(raw) == korean  # nothing lost: the original bytes come back
    assert raw_bytes("plain text") == b"plain text"


def test_unknown_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(f"{HEADER}\n{KOREAN[2]}\n")
    with pytest.raises(SourceError, match=r"unknown encoding 'latin-9'.*cp949"):
        read_one(path, encoding="latin-9")


def test_clip_caps_long_input_and_says_how_long_it_was() -> None:
    assert clip("short") == "short"
    assert clip("x" * 5000) == "x" * 200 + "… (5,000 bytes)"
    assert clip(b"\xff" * 300).endswith("… (300 bytes)")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parts=st.lists(
        st.sampled_from([b"ab", b",", b'"', b"\n", b"\r\n", b"\xef\xbb\xbf"]), max_size=40
    ),
    more=st.lists(st.sampled_from([b"x", b",", b'"', b"\n"]), max_size=20),
    header=st.booleans(),
    chunk=st.integers(min_value=1, max_value=9),
)
def test_streaming_scan_does_not_depend_on_chunk_size(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parts: list[bytes],
    more: list[bytes],
    header: bool,
    chunk: int,
) -> None:
    """The file is read in chunks: every boundary gives the same scan as one big chunk."""
    from auditlens.sources import textfile

    path = tmp_path / "f.csv"
    path.write_bytes(b"".join(parts))

    def both(since: textfile.FileMark | None) -> textfile.FileScan:
        monkeypatch.setattr(textfile, "_CHUNK", 1 << 24)
        whole = textfile.scan_file(path, since, header=header)
        monkeypatch.setattr(textfile, "_CHUNK", chunk)
        assert textfile.scan_file(path, since, header=header) == whole
        blob = path.read_bytes()
        assert whole.digest == hashlib.sha256(blob).hexdigest()
        assert whole.prefix == hashlib.sha256(blob[: whole.end]).hexdigest()
        region = blob[whole.start : whole.cut]
        assert (whole.lines, whole.quotes, whole.commas) == (
            region.count(b"\n"),
            region.count(b'"'),
            region.count(b","),
        )
        assert blob[whole.cut :] == whole.tail
        return whole

    first = both(None)
    with path.open("ab") as fh:  # the file grows: read on from the mark
        fh.write(b"".join(more))
    second = both(first.mark)
    assert second.restarted is False
    if first.end:
        assert second.start == first.end
    path.write_bytes(b"z\n" + path.read_bytes())  # rewritten before the mark
    third = both(second.mark)
    assert third.restarted == (second.end > 0)
