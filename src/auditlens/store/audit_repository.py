"""Reading the audit trail: its entries, and the verification of its hash chain.

Example::

    if not store.audit.verify().ok: ...
    actions = [e.action for e in store.audit.entries(subject="U0042")]
    # ['detect', 'alert', 'acknowledge']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from auditlens.store.audit import GENESIS, AuditEntry, entry_hash, entry_of, timestamp
from auditlens.store.db import audit_log
from auditlens.store.repository import Repository


@dataclass(frozen=True)
class Verification:
    """The result of recomputing the chain (and replaying the trail against the tables)."""

    entries: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str = ""
    #: ``problem`` in Korean.
    problem_ko: str = ""
    #: Where the tables disagree with what the trail says happened (store/replay.py).
    mismatches: tuple[str, ...] = ()
    #: ``mismatches`` in Korean, one for one.
    mismatches_ko: tuple[str, ...] = ()
    #: ``(seq, hash)`` of every verified entry after the last given checkpoint.
    new_checkpoints: tuple[tuple[int, str], ...] = ()
    #: The audit_log table itself is gone.
    table_missing: bool = False

    @property
    def ok(self) -> bool:
        """True when every link holds and the tables match the trail."""
        return self.broken_seq is None and not self.mismatches

    def problem_text(self, lang: str) -> str:
        """The broken link's description in ``lang`` (English where no Korean was given)."""
        return (self.problem_ko or self.problem) if lang == "ko" else self.problem

    def mismatch_lines(self, lang: str) -> tuple[str, ...]:
        """The table/trail disagreements in ``lang``."""
        if lang == "ko" and len(self.mismatches_ko) == len(self.mismatches):
            return self.mismatches_ko
        return self.mismatches


class AuditRepository(Repository):
    """The audit trail of one database (the store's, or the separate audit database)."""

    def entries(
        self,
        *,
        subject: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        actions: tuple[str, ...] = (),
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, oldest first (the newest ``limit`` of them)."""
        query = select(audit_log)
        if subject is not None:
            query = query.where(audit_log.c.subject == subject)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        if actions:
            query = query.where(audit_log.c.action.in_(actions))
        if since is not None:
            query = query.where(audit_log.c.at >= timestamp(since))
        query = query.order_by(audit_log.c.seq.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        return [entry_of(r) for r in reversed(rows)]

    def verify(
        self,
        *,
        anchor: tuple[int, str] | None = None,
        checkpoints: Mapping[int, str] | None = None,
        anchors: Sequence[tuple[int, str]] = (),
    ) -> Verification:
        """Recompute the whole chain; report the first broken link.

        Args:
            anchor: optionally ``(seq, hash)`` noted earlier (e.g. printed by a previous
                verify and kept outside the database): the entry ``seq`` must still exist
                with that hash, which also catches removal of the newest entries. An anchor
                is one hash over the whole prefix: if someone rewrites an entry *and
                recomputes every hash after it*, the anchor proves that some entry up to
                ``seq`` changed but cannot say which.
            checkpoints: ``{seq: hash}`` of entries recorded outside the database (the
                ``--checkpoints`` file): the first entry whose hash differs from its
                checkpoint is named — the first modified entry, even in a rehashed chain.
            anchors: more ``(seq, hash)`` anchors (e.g. a daily head kept each day): a
                rewrite is then placed between the last anchor that holds and the first
                that does not.

        A missing ``audit_log`` table (dropped) is reported as broken, not raised.
        """
        # a connection of its own: a failed read must not abort a caller's transaction
        engine = self.bind if isinstance(self.bind, Engine) else self.bind.engine
        expected_seq, prev, count = 1, GENESIS, 0
        pins = dict(checkpoints or {})
        last_pin = max(pins, default=0)  # new checkpoints start after this one
        known = pins | dict(anchors) | (dict([anchor]) if anchor is not None else {})
        proven = 0  # the highest entry whose hash matched a checkpoint or anchor
        fresh: list[tuple[int, str]] = []
        try:
            for row in _rows(engine):
                seq = int(row["seq"])
                problem = _link_problem(row, expected_seq, prev)
                if problem is None and seq in known:
                    if row["hash"] == known[seq]:
                        proven = seq
                    else:
                        problem = _pin_problem(seq, known[seq], proven)
                if problem is not None:
                    broken = min(seq, expected_seq)
                    return Verification(
                        count,
                        broken - 1,
                        prev,
                        broken_seq=broken,
                        problem=problem[0],
                        problem_ko=problem[1],
                    )
                count += 1
                prev, expected_seq = str(row["hash"]), seq + 1
                if seq > last_pin:
                    fresh.append((seq, prev))
        except (OperationalError, ProgrammingError) as exc:
            if _table_exists(engine):
                raise
            return Verification(
                count,
                expected_seq - 1,
                prev,
                broken_seq=expected_seq,
                table_missing=True,
                problem=f"the audit_log table is missing: it was dropped ({type(exc).__name__})",
                problem_ko="audit_log 테이블이 없습니다. 테이블이 삭제되었습니다 "
                f"({type(exc).__name__})",
            )
        ends = expected_seq - 1
        highest = max(known, default=0)
        if highest > ends:
            return Verification(
                count,
                ends,
                prev,
                broken_seq=ends + 1,
                problem=f"entry {ends + 1} is gone: an anchor or checkpoint names entry "
                f"{highest}, the trail ends at {ends} (the newest entries were removed)",
                problem_ko=f"{ends + 1}번 항목이 없습니다. 앵커나 체크포인트는 {highest}번 "
                f"항목을 가리키는데 감사 로그는 {ends}번에서 끝납니다 (최근 항목이 삭제됨)",
            )
        return Verification(
            entries=count, head_seq=ends, head_hash=prev, new_checkpoints=tuple(fresh)
        )


def _pin_problem(seq: int, pinned: str, proven: int) -> tuple[str, str]:
    """What entry ``seq`` differing from its kept hash means, and how exactly it says where
    (English, Korean)."""
    if proven == seq - 1:  # the entry before it still matched: this one was rewritten
        return (
            f"entry {seq} differs from its checkpoint {pinned[:12]}: it was rewritten (and the "
            "chain after it rehashed)",
            f"{seq}번 항목이 체크포인트({pinned[:12]})와 다릅니다. 이 항목이 변조되었습니다 "
            "(그 뒤의 해시 체인도 다시 계산됨)",
        )
    return (
        f"entry {seq} differs from its anchor {pinned[:12]}: an entry between {proven + 1} and "
        f"{seq} was rewritten and the chain after it rehashed; one anchor cannot say which — "
        "keep a checkpoint per entry (--checkpoints FILE) to name it",
        f"{seq}번 항목이 앵커({pinned[:12]})와 다릅니다. {proven + 1}번부터 {seq}번 사이의 "
        "항목 하나가 변조되고 그 뒤의 해시 체인이 다시 계산되었습니다. 앵커 하나로는 어느 "
        "항목인지 알 수 없으니 항목마다 체크포인트를 남기십시오 (--checkpoints FILE)",
    )


def _table_exists(engine: Engine) -> bool:
    with engine.connect() as conn:
        return inspect(conn).has_table(audit_log.name)


def _link_problem(row: dict[str, Any], expected_seq: int, prev: str) -> tuple[str, str] | None:
    """What is wrong with ``row`` as the next link after ``prev``, in English and Korean
    (None: nothing)."""
    seq = int(row["seq"])
    if seq != expected_seq:
        return (
            f"entry {expected_seq} is missing (the next entry is {seq}): it was removed",
            f"{expected_seq}번 항목이 없습니다 (다음 항목은 {seq}번). 삭제되었습니다",
        )
    if row["prev_hash"] != prev:
        return (
            f"entry {seq} does not link to entry {seq - 1}: that entry was changed",
            f"{seq}번 항목이 {seq - 1}번 항목과 이어지지 않습니다. {seq - 1}번 항목이 "
            "변경되었습니다",
        )
    if entry_hash(row) != row["hash"]:
        return (
            f"entry {seq} was modified: its content does not match its hash",
            f"{seq}번 항목이 변경되었습니다. 내용이 해시와 맞지 않습니다",
        )
    return None


def _rows(engine: Engine) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=2_000).execute(
            select(audit_log).order_by(audit_log.c.seq)
        )
        for row in result:
            yield dict(row._mapping)
