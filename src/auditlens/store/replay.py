# size: the replay of alerts, suppressions and label candidates shares one pass over the trail;
# split, the three comparisons would each re-read it.
"""Replay the audit trail and compare it with the tables it describes.

The hash chain proves the *trail* was not changed; it says nothing about the tables the
trail describes. Someone with write access to ``alerts`` can close a critical alert with
one ``UPDATE``, or insert a suppression by hand, without touching the trail. This module
rebuilds, from the trail alone, what the tables must hold — every alert's state (status,
severity, user, scenario, who asked to close it), every suppression and every label
candidate — and names each row that differs, is missing or has no trail entry.

With a separate audit database a decision is written to the trail first and to the store
second; a crash between the two leaves a trail entry the tables lack, which this reports
the same way ("alert #7 is open in the table, the trail (entry 12) says acknowledged").

Example::

    >>> replay(store.engine)  # the trail and the tables agree
    []
    >>> from sqlalchemy import text
    >>> with store.engine.begin() as conn:  # alert #1 closed by hand, behind the trail's back
    ...     _ = conn.execute(text("UPDATE alerts SET status = 'closed' WHERE id = 1"))
    >>> for mismatch in replay(store.engine):
    ...     print(mismatch.text, mismatch.line("ko"), sep="\\n")
    alert #1: status is closed in the table, the trail (entry 2) says open
    #1 경보: 테이블과 감사 로그의 status 값이 다름 (테이블 closed, 감사 로그 2번 항목 open)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, select

from auditlens.store.db import alerts, audit_log, label_candidates, suppressions

#: Trail actions that set an alert's status (criteria.to_status).
DECISIONS: Final = frozenset(
    {"acknowledge", "escalate", "dismiss", "close", "request_close", "approve", "reopen"}
)
#: Trail actions by which a later detection rewrites an open alert's headline
#: (alerts.intake: ``upgrade`` raises its severity, ``absorb`` keeps it).
HEADLINE_UPDATES: Final = frozenset({"upgrade", "absorb"})
#: Alert columns the trail records when it opens an alert: column -> criteria key.
_OPENED: Final = {"score_id": "score_id", "model_sha256": "model_sha256", "scenario": "scenario"}


@dataclass(frozen=True)
class Mismatch:
    """One place where a table disagrees with the trail."""

    kind: str  # alert | suppression | label_candidate
    id: int
    seq: int | None  # the trail entry concerned, if any
    text: str  # English
    #: What would make the table agree with the trail: (table, values); None when only a
    #: person can decide (a row the trail never wrote).
    fix: tuple[str, dict[str, Any]] | None = None
    ko: str = ""  # ``text`` in Korean

    def line(self, lang: str) -> str:
        """The disagreement in ``lang`` (English where no Korean was given)."""
        return (self.ko or self.text) if lang == "ko" else self.text

    def __str__(self) -> str:
        return self.text


@dataclass
class _AlertState:
    seq: int
    user_id: str | None
    severity: str
    status: str = "open"
    close_requested_by: str | None = None
    close_requested_via: str | None = None
    opened: dict[str, Any] | None = None
    #: Seq of an earlier 'alert' entry for the same id (an id reused after a crash).
    reopened_from: int | None = None


def replay(store_engine: Engine, audit_engine: Engine | None = None) -> list[Mismatch]:
    """Every disagreement between the trail and the alert tables, ordered by alert / row.

    Args:
        store_engine: the store's engine (alerts, suppressions, label candidates).
        audit_engine: the engine of the database holding the trail; None = the store.
    """
    if audit_engine is None or audit_engine is store_engine:
        with _snapshot(store_engine) as conn, conn.begin():
            trail = _trail(conn)
            tables = _tables(conn)
    else:
        # tables first, then the trail: a decision is written to the trail first, so a
        # decision in flight shows as a trail entry the table lacks, never the reverse
        with _snapshot(store_engine) as conn, conn.begin():
            tables = _tables(conn)
        with _snapshot(audit_engine) as conn, conn.begin():
            trail = _trail(conn)
    expected, sups, labels = _expected(trail)
    found = _compare_alerts(expected, tables["alerts"])
    found += _compare_suppressions(sups, tables["suppressions"])
    found += _compare_labels(labels, tables["label_candidates"])
    return found


def _snapshot(engine: Engine) -> Connection:
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        # one consistent snapshot for every read of the comparison
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def _trail(conn: Connection) -> list[dict[str, Any]]:
    query = (
        select(
            audit_log.c.seq,
            audit_log.c.actor,
            audit_log.c.action,
            audit_log.c.target,
            audit_log.c.subject,
            audit_log.c.reason_code,
            audit_log.c.note,
            audit_log.c.criteria,
        )
        .where(audit_log.c.target.like("alert:%"))
        .order_by(audit_log.c.seq)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def _tables(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    return {
        table.name: [dict(r._mapping) for r in conn.execute(select(table))]
        for table in (alerts, suppressions, label_candidates)
    }


def _expected(
    trail: list[dict[str, Any]],
) -> tuple[dict[int, _AlertState], list[dict[str, Any]], dict[int, dict[str, Any]]]:
    states: dict[int, _AlertState] = {}
    sups: list[dict[str, Any]] = []
    labels: dict[int, dict[str, Any]] = {}
    for row in trail:
        try:
            alert_id = int(str(row["target"]).split(":", 1)[1])
        except ValueError:
            continue
        criteria = json.loads(row["criteria"] or "{}")
        action = row["action"]
        if action == "alert":
            earlier = states.get(alert_id)
            states[alert_id] = _AlertState(
                seq=int(row["seq"]),
                user_id=row["subject"],
                severity=row["reason_code"],
                opened={k: criteria.get(v) for k, v in _OPENED.items()},
                reopened_from=earlier.seq if earlier is not None else None,
            )
            continue
        if action in HEADLINE_UPDATES:
            _take_headline(states.get(alert_id), action, row, criteria)
            continue
        if action not in DECISIONS:
            continue
        effective = criteria.get("on_behalf_of") or row["actor"]
        state = states.setdefault(
            alert_id, _AlertState(seq=int(row["seq"]), user_id=None, severity="")
        )
        state.seq = int(row["seq"])
        state.status = str(criteria.get("to_status", state.status))
        requested = action == "request_close"
        state.close_requested_by = effective if requested else None
        state.close_requested_via = (
            row["actor"] if requested and criteria.get("on_behalf_of") else None
        )
        if action == "dismiss":
            labels[int(row["seq"])] = {
                "alert_id": alert_id,
                "user_id": row["subject"],
                "actor": effective,
                "reason_code": row["reason_code"],
                "note": row["note"],
            }
            if criteria.get("suppressed_until"):
                sups.append(
                    {
                        "seq": int(row["seq"]),
                        "alert_id": alert_id,
                        "user_id": row["subject"],
                        "scenario": criteria.get("scenario"),
                        "until": _utc(dt.datetime.fromisoformat(criteria["suppressed_until"])),
                        "actor": effective,
                    }
                )
    return states, sups, labels


def _take_headline(
    state: _AlertState | None, action: str, row: dict[str, Any], criteria: dict[str, Any]
) -> None:
    """A detection taken into an open alert: its model and scenario become the alert's
    (``alerts.intake.apply`` rewrites the headline), an upgrade also its severity."""
    if state is None or state.opened is None:
        return
    state.seq = int(row["seq"])
    for column in ("model_sha256", "scenario"):
        if criteria.get(column) is not None:
            state.opened[column] = criteria[column]
    if action == "upgrade":
        state.severity = row["reason_code"]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _compare_alerts(expected: dict[int, _AlertState], rows: list[dict[str, Any]]) -> list[Mismatch]:
    found: list[Mismatch] = []
    by_id = {int(r["id"]): r for r in rows}
    for alert_id in sorted(set(by_id) | set(expected)):
        row, state = by_id.get(alert_id), expected.get(alert_id)
        if state is None:
            found.append(
                Mismatch(
                    "alert",
                    alert_id,
                    None,
                    f"alert #{alert_id} is in the table but the trail never opened it",
                    ko=f"#{alert_id} 경보가 테이블에는 있지만 감사 로그에는 생성 기록이 없음",
                )
            )
            continue
        if row is None:
            found.append(
                Mismatch(
                    "alert",
                    alert_id,
                    state.seq,
                    f"alert #{alert_id} is in the trail "
                    f"(entry {state.seq}) but missing from the table",
                    ko=f"#{alert_id} 경보가 감사 로그({state.seq}번 항목)에는 있지만 "
                    "테이블에서 삭제됨",
                )
            )
            continue
        if state.reopened_from is not None:
            found.append(
                Mismatch(
                    "alert",
                    alert_id,
                    state.seq,
                    f"alert #{alert_id} was opened twice in the trail (entries "
                    f"{state.reopened_from} and {state.seq}): the first one never reached the "
                    "table (a crash between the audit database and the store)",
                    ko=f"#{alert_id} 경보가 감사 로그에서 두 번 생성됨 ({state.reopened_from}번, "
                    f"{state.seq}번 항목). 첫 번째는 테이블에 반영되지 않음 (감사 데이터베이스와 "
                    "저장소 사이에서 중단됨)",
                )
            )
        mismatch = _alert_differs(alert_id, row, state)
        if mismatch is not None:
            found.append(mismatch)
    return found


def _alert_differs(alert_id: int, row: dict[str, Any], state: _AlertState) -> Mismatch | None:
    """The first field in which an alert's row differs from what the trail says."""
    differs = [
        (name, row[name], want)
        for name, want in (
            ("status", state.status),
            ("close_requested_by", state.close_requested_by),
            ("close_requested_via", state.close_requested_via),
        )
        if row.get(name) != want
    ]
    if state.opened is not None:
        differs += [
            (name, row[name], want)
            for name, want in (
                ("user_id", state.user_id),
                ("severity", state.severity),
                *state.opened.items(),
            )
            if want is not None and str(row[name]) != str(want)
        ]
    else:
        differs.append(("opened", "a row", "no 'alert' entry"))
    if not differs:
        return None
    name, have, want = differs[0]
    fix = None
    if state.opened is not None and state.reopened_from is None:
        values = {
            "status": state.status,
            "close_requested_by": state.close_requested_by,
            "close_requested_via": state.close_requested_via,
            "user_id": state.user_id,
            "severity": state.severity,
        } | {k: v for k, v in state.opened.items() if v is not None}
        fix = ("alerts", {"id": alert_id} | values)
    return Mismatch(
        "alert",
        alert_id,
        state.seq,
        f"alert #{alert_id}: {name} is {have} in the table, the trail (entry "
        f"{state.seq}) says {want}",
        fix,
        ko=f"#{alert_id} 경보: 테이블과 감사 로그의 {name} 값이 다름 (테이블 {have}, "
        f"감사 로그 {state.seq}번 항목 {want})",
    )


def _compare_suppressions(
    expected: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> list[Mismatch]:
    found: list[Mismatch] = []
    remaining = list(expected)
    for row in sorted(rows, key=lambda r: int(r["id"])):
        key = (int(row["alert_id"]), row["user_id"], row["scenario"], _utc(row["until"]))
        match = next(
            (
                e
                for e in remaining
                if (e["alert_id"], e["user_id"], e["scenario"], e["until"]) == key
                and e["actor"] == row["actor"]
            ),
            None,
        )
        if match is None:
            found.append(
                Mismatch(
                    "suppression",
                    int(row["id"]),
                    None,
                    f"suppression #{row['id']} ({row['user_id']}, {row['scenario']}, until "
                    f"{_utc(row['until']):%Y-%m-%d %H:%M} UTC, by {row['actor']}) has no "
                    "dismissal in the trail",
                    ko=f"#{row['id']} 억제 규칙({row['user_id']}, {row['scenario']}, "
                    f"{_utc(row['until']):%Y-%m-%d %H:%M} UTC까지, 작성자 {row['actor']})에 "
                    "해당하는 기각 기록이 감사 로그에 없음",
                )
            )
        else:
            remaining.remove(match)
    for e in remaining:
        found.append(
            Mismatch(
                "suppression",
                e["alert_id"],
                e["seq"],
                f"the trail (entry {e['seq']}) suppressed {e['user_id']} / {e['scenario']} "
                f"after alert #{e['alert_id']}, but that suppression is missing from the table",
                ("suppressions", {k: v for k, v in e.items() if k != "seq"}),
                ko=f"감사 로그({e['seq']}번 항목)에는 #{e['alert_id']} 경보 뒤 {e['user_id']} / "
                f"{e['scenario']} 억제가 기록되어 있지만 테이블에는 그 억제 규칙이 없음",
            )
        )
    return found


def _compare_labels(
    expected: dict[int, dict[str, Any]], rows: list[dict[str, Any]]
) -> list[Mismatch]:
    found: list[Mismatch] = []
    by_seq = {int(r["audit_seq"]): r for r in rows}
    for row in sorted(rows, key=lambda r: int(r["id"])):
        want = expected.get(int(row["audit_seq"]))
        have = {k: row[k] for k in ("alert_id", "user_id", "actor", "reason_code", "note")}
        if want is None or have != want or int(row["label"]) != 0:
            found.append(
                Mismatch(
                    "label_candidate",
                    int(row["id"]),
                    int(row["audit_seq"]),
                    f"label candidate #{row['id']} (alert #{row['alert_id']}, label "
                    f"{row['label']}) does not match a dismissal in the trail (entry "
                    f"{row['audit_seq']})",
                    ko=f"#{row['id']} 학습 라벨 후보(#{row['alert_id']} 경보, 라벨 "
                    f"{row['label']})가 감사 로그({row['audit_seq']}번 항목)의 기각 기록과 다름",
                )
            )
    for seq, want in sorted(expected.items()):
        if seq not in by_seq:
            found.append(
                Mismatch(
                    "label_candidate",
                    int(want["alert_id"]),
                    seq,
                    f"the trail (entry {seq}) dismissed alert #{want['alert_id']} as a false "
                    "positive, but its label candidate is missing",
                    ("label_candidates", want | {"audit_seq": seq}),
                    ko=f"감사 로그({seq}번 항목)에는 #{want['alert_id']} 경보가 오탐으로 기각되어 "
                    "있지만 학습 라벨 후보가 없음",
                )
            )
    return found
