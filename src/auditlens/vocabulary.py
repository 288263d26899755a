"""The canonical value vocabulary and how a source's own words are mapped onto it.

A bank's export says ``조회``/``수정``/``삭제`` and ``성공``/``실패``, another ``READ``,
``Y``/``N`` or ``1.0``/``0.0``. Each source can carry a **value map** (per categorical
column: its value -> the canonical value) on top of the built-in Korean and English
synonyms below; ``validate.py`` applies both. An action that is neither canonical nor
mapped is never silently a new category: ``unknown_actions`` quarantines it (default)
or keeps it as given, and the features then count it as ``other``.

This module is pure data and checks (no Polars, no I/O besides :func:`read_value_map`),
low in the layers so that ``config.py`` can validate a configured value map. For the same
reason it defines the words settings share with the code once: :class:`Severity` (its
risk bands are in scoring.py) and the input formats (:data:`FileFormat`,
:data:`InputFormat`, :data:`SampleFormat`).

Example::

    >>> check_value_map({"action_type": {"조회": "view"}, "success": {"OK": True}})
    {'action_type': {'조회': 'view'}, 'success': {'ok': 'true'}}
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final, Literal

from auditlens.errors import BilingualValueError as Bad
from auditlens.errors import ConfigError, korean_of, os_reason

#: The canonical action vocabulary (``other``: an action outside it, mapped there on
#: purpose or kept with ``unknown_actions = "keep"``).
CORE_ACTIONS: Final = frozenset(
    {
        "login",
        "logout",
        "view",
        "edit",
        "create",
        "delete",
        "download",
        "upload",
        "export",
        "print",
        "copy",
        "send",
        "usb_connect",
        "usb_disconnect",
        "grant",
        "query",
        "other",
    }
)
#: The action every action outside the vocabulary counts as in the features.
OTHER_ACTION: Final = "other"
#: Suffix of a mapping target saying the action failed (``로그인실패`` -> ``login:failed``):
#: the row's ``success`` becomes false.
FAILED_SUFFIX: Final = ":failed"

#: Columns a value map may name (the canonical categorical columns; names as in schema.py).
VALUE_MAP_COLUMNS: Final = ("action_type", "success", "department", "role")

#: Built-in synonyms of the canonical actions, compared with the value stripped and
#: lower-cased. A source's own value map wins over these.
ACTION_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "login": ("로그인", "로그온", "접속", "log in", "log_in", "logon", "log_on", "sign in",
              "sign_in", "signin"),
    "login:failed": ("로그인실패", "로그인 실패", "접속실패", "접속 실패", "인증실패",
                     "인증 실패", "login failed", "login_failed", "login_failure",
                     "failed login", "failed_login", "logon_failure"),
    "logout": ("로그아웃", "로그오프", "접속종료", "접속 종료", "log out", "log_out", "logoff",
               "log_off", "sign out", "sign_out", "signout"),
    "view": ("조회", "열람", "보기", "읽기", "read", "open", "display", "browse", "lookup"),
    "query": ("쿼리", "질의", "검색", "search", "select", "sql"),
    "edit": ("수정", "변경", "편집", "갱신", "update", "modify", "change", "write"),
    "create": ("생성", "등록", "추가", "신규", "insert", "add", "new", "register"),
    "delete": ("삭제", "제거", "remove", "erase", "drop"),
    "download": ("다운로드", "내려받기"),
    "upload": ("업로드", "올리기"),
    "export": ("반출", "내보내기", "추출", "extract"),
    "print": ("출력", "인쇄", "프린트", "printout"),
    "copy": ("복사", "복제"),
    "send": ("전송", "발송", "송신", "mail", "email", "e-mail", "transmit"),
    "usb_connect": ("usb연결", "usb 연결", "usb접속", "usb 접속", "usb_insert", "usb_mount",
                    "device_connect"),
    "usb_disconnect": ("usb해제", "usb 해제", "usb분리", "usb 분리", "usb_remove",
                       "usb_unmount", "usb_eject", "device_disconnect"),
    "grant": ("권한부여", "권한 부여", "권한할당", "grant_access", "permission_grant",
              "assign_role"),
    "other": ("기타", "misc", "etc"),
}  # fmt: skip

#: Built-in success flags (compared stripped and lower-cased).
SUCCESS_TRUE: Final = ("true", "t", "1", "1.0", "yes", "y", "ok", "success", "succeeded",
                       "pass", "passed", "allowed", "성공", "정상", "예", "참")  # fmt: skip
SUCCESS_FALSE: Final = ("false", "f", "0", "0.0", "no", "n", "fail", "failed", "failure",
                        "error", "denied", "blocked", "rejected", "실패", "오류", "에러",
                        "아니오", "아니요", "거짓", "거부")  # fmt: skip

UnknownActions = Literal["quarantine", "keep"]
DateOrder = Literal["YMD", "DMY", "MDY"]
AmbiguousTimes = Literal["earliest", "latest", "quarantine"]

#: A file format read from events files ("auto": from each file's extension).
FileFormat = Literal["csv", "parquet", "jsonl", "xlsx", "auto"]
#: What an ingest reads: a file format, or "cert" (a CERT insider-threat dataset directory).
InputFormat = Literal["auto", "csv", "parquet", "jsonl", "xlsx", "cert"]
#: The formats generated sample events are written in.
SampleFormat = Literal["parquet", "csv", "jsonl"]
#: What computes a batch run's features: the embedded Polars engine or Spark.
EngineKind = Literal["polars", "spark"]
#: Text encodings of CSV and JSON Lines files ("auto": UTF-8 when valid, else CP949).
Encoding = Literal["utf-8", "cp949", "euc-kr", "auto"]


class Severity(StrEnum):
    """How serious a score or an alert is; scoring.py holds the risk band of each.

    Members equal their names as strings (``Severity.HIGH == "high"``), so settings and
    stored rows keep the plain words. Compare seriousness with :attr:`rank`, never with
    ``<`` (that would compare the words alphabetically).

    Example::

        >>> Severity("critical").rank > Severity.HIGH.rank
        True
    """

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 (low) .. 3 (critical)."""
        return list(Severity).index(self)


def severity_rank(value: str) -> int:
    """The rank of a stored severity word; a word that is not a severity ranks as low."""
    try:
        return Severity(value).rank
    except ValueError:
        return 0


def builtin_actions() -> dict[str, str]:
    """Every built-in action synonym (and each canonical action itself) -> its target."""
    table = {action: action for action in CORE_ACTIONS}
    for target, words in ACTION_SYNONYMS.items():
        table.update(dict.fromkeys(words, target))
    return table


def builtin_success() -> dict[str, bool]:
    """Every built-in success word -> true/false."""
    return {**dict.fromkeys(SUCCESS_TRUE, True), **dict.fromkeys(SUCCESS_FALSE, False)}


@dataclass(frozen=True)
class ValueRules:
    """How one source's raw values are read: value map, unknown actions, dates, DST.

    ``value_map`` is already checked (:func:`check_value_map`): column -> raw value ->
    canonical value (success targets ``"true"``/``"false"``; action targets may end in
    ``:failed``). ``date_order`` says how dates that do not start with the year are read
    (``YMD``: they are refused); ``ambiguous_times`` what a local time that occurs twice
    (DST fall-back) means.
    """

    value_map: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    unknown_actions: UnknownActions = "quarantine"
    date_order: DateOrder = "YMD"
    ambiguous_times: AmbiguousTimes = "quarantine"

    def actions(self) -> dict[str, str]:
        """Action value (lower-case) -> canonical action, built-ins overlaid by the map."""
        own = {k.strip().lower(): v for k, v in self.value_map.get("action_type", {}).items()}
        return builtin_actions() | own

    def success(self) -> dict[str, bool]:
        """Success value (lower-case) -> flag, built-ins overlaid by the map."""
        own = {k.strip().lower(): v == "true" for k, v in self.value_map.get("success", {}).items()}
        return builtin_success() | own


def check_value_map(raw: Mapping[str, Mapping[str, object]]) -> dict[str, dict[str, str]]:
    """Check and normalise a value map; raise ValueError saying what is wrong.

    Columns must be among :data:`VALUE_MAP_COLUMNS`; ``action_type`` targets must be
    canonical actions (optionally with ``:failed``); ``success`` targets true/false (or
    a built-in success word); keys and targets must not be empty.
    """
    out: dict[str, dict[str, str]] = {}
    flags = builtin_success()
    for column, mapping in raw.items():
        if column not in VALUE_MAP_COLUMNS:
            raise Bad(
                f"value_map: {column!r} is not a categorical column "
                f"(one of {', '.join(VALUE_MAP_COLUMNS)})",
                ko=f"value_map: {column!r} 열은 범주형 열이 아닙니다 "
                f"({', '.join(VALUE_MAP_COLUMNS)} 중 하나여야 함)",
            )
        if not isinstance(mapping, Mapping):
            raise Bad(
                f"value_map.{column} must be a table of value = canonical value",
                ko=f"value_map.{column} 항목은 '값 = 표준 값' 형식의 테이블이어야 합니다",
            )
        table: dict[str, str] = {}
        for key, value in mapping.items():
            given = str(key).strip()
            if not given:
                raise Bad(
                    f"value_map.{column}: an empty value cannot be mapped",
                    ko=f"value_map.{column}: 빈 값은 매핑할 수 없습니다",
                )
            if column == "success":
                flag = value if isinstance(value, bool) else flags.get(str(value).strip().lower())
                if flag is None:
                    raise Bad(
                        f"value_map.success: {given!r} = {value!r}: expected true or false",
                        ko=f"value_map.success: {given!r} = {value!r}: true 또는 false여야 합니다",
                    )
                table[given.lower()] = "true" if flag else "false"
                continue
            target = str(value).strip()
            if column == "action_type":
                target = target.lower()
                action = target.removesuffix(FAILED_SUFFIX)
                if action not in CORE_ACTIONS:
                    raise Bad(
                        f"value_map.action_type: {given!r} = {value!r}: {action!r} is not a "
                        f"canonical action (one of {', '.join(sorted(CORE_ACTIONS))}, "
                        f"optionally with {FAILED_SUFFIX!r}); map actions outside the "
                        "vocabulary to 'other'",
                        ko=f"value_map.action_type: {given!r} = {value!r}: {action!r} 값은 표준 "
                        f"작업이 아닙니다 ({', '.join(sorted(CORE_ACTIONS))} 중 하나, "
                        f"접미사 {FAILED_SUFFIX!r}를 붙일 수 있음). 목록에 없는 작업은 'other'로 "
                        "매핑하십시오",
                    )
                given = given.lower()
            elif not target:
                raise Bad(
                    f"value_map.{column}: {given!r} maps to an empty value",
                    ko=f"value_map.{column}: {given!r} 값이 빈 값으로 매핑됩니다",
                )
            table[given] = target
        out[column] = table
    return out


def read_value_map(path: Path) -> dict[str, dict[str, str]]:
    """Read a value-map file: TOML (``.toml``) or CSV (``.csv``); raise ConfigError.

    TOML: one table per column, ``[action_type]`` then ``"조회" = "view"`` lines.
    CSV: a header ``column,value,canonical`` and one mapping per row.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            with path.open("rb") as fh:
                data: dict[str, dict[str, object]] = tomllib.load(fh)
        elif suffix == ".csv":
            data = _csv_value_map(path)
        else:
            raise ConfigError(
                f"value map {path}: unknown file type {suffix or '(none)'!r}",
                hint='use a .toml file ([action_type] then "view_screen" = "view") or a .csv '
                "file with the header column,value,canonical",
                ko=f"값 매핑 파일 {path}: 알 수 없는 파일 형식 {suffix or '(없음)'!r}입니다",
                ko_hint='.toml 파일([action_type] 아래 "조회" = "view") 또는 머리글이 '
                "column,value,canonical인 .csv 파일을 쓰십시오",
            )
        return check_value_map(data)
    except OSError as exc:
        raise ConfigError(
            f"value map {path}: cannot read it ({exc.strerror})",
            ko=f"값 매핑 파일을 읽을 수 없습니다: {path} ({os_reason(exc, 'ko')})",
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"value map {path}: not valid TOML/UTF-8: {exc}",
            ko=f"값 매핑 파일이 올바른 TOML/UTF-8이 아닙니다: {path} ({exc})",
        ) from exc
    except ValueError as exc:
        raise ConfigError(
            f"value map {path}: {exc}", ko=f"값 매핑 파일 {path}: {korean_of(exc)}"
        ) from exc


def _csv_value_map(path: Path) -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or set(reader.fieldnames) < {"column", "value", "canonical"}:
            raise Bad(
                f"the header must be column,value,canonical (found {reader.fieldnames})",
                ko=f"머리글은 column,value,canonical이어야 합니다 (현재 {reader.fieldnames})",
            )
        for line, row in enumerate(reader, start=2):
            column, value, canonical = (row.get(k) or "" for k in ("column", "value", "canonical"))
            if not column.strip():
                raise Bad(f"line {line}: empty column", ko=f"{line}행: column이 비어 있습니다")
            table = data.setdefault(column.strip(), {})
            if value.strip() in table:
                raise Bad(
                    f"line {line}: {column}={value!r} is mapped twice",
                    ko=f"{line}행: {column}={value!r} 값이 두 번 매핑되었습니다",
                )
            table[value.strip()] = canonical
    return data
