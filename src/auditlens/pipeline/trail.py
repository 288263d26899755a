"""Audit-trail jobs as plain functions: verify the trail (hash chain, then the tables
replayed from it) and list its entries (what `auditlens audit` calls)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import zoneinfo
from collections.abc import Sequence
from pathlib import Path

from auditlens.config import Settings
from auditlens.errors import ConfigError
from auditlens.identity import normalise
from auditlens.localtime import local_time as local_time  # re-exported as pipeline.local_time
from auditlens.store.audit import AuditEntry
from auditlens.store.audit_repository import Verification
from auditlens.store.reidentifications import replay_reidentifications
from auditlens.store.replay import replay
from auditlens.store.repo import Store


def verify_trail(
    settings: Settings,
    *,
    anchor: str | Sequence[str] | None = None,
    checkpoints: Path | None = None,
) -> Verification:
    """Verify the audit trail: the hash chain, then the tables replayed from the trail.

    Args:
        anchor: "SEQ:HASH" printed by an earlier verify and kept elsewhere (or several,
            e.g. one kept each day: a rewrite is placed between two of them).
        checkpoints: a file of ``SEQ HASH`` lines kept outside the database: each entry
            is checked against it (naming the first rewritten entry even when the chain
            after it was rehashed), and after a clean verify the new entries' hashes are
            appended to it.
    """
    given = [anchor] if isinstance(anchor, str) else list(anchor or [])
    pinned: list[tuple[int, str]] = []
    for text in given:
        seq, _, digest = text.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ConfigError(
                f"anchor {text!r} is not SEQ:HASH",
                hint="use the 'head' printed by an earlier `auditlens audit verify`",
                ko=f"기준점 {text!r}은(는) SEQ:HASH 형식이 아닙니다",
                ko_hint="이전 `auditlens audit verify`가 출력한 'head' 값을 사용하십시오",
            )
        pinned.append((int(seq), digest))
    pins = read_checkpoints(checkpoints) if checkpoints is not None else None
    with Store.open(settings) as store:
        result = store.audit.verify(checkpoints=pins, anchors=pinned)
        found = (
            ()
            if result.table_missing
            else tuple(
                replay(store.engine, store.audit_engine)
                + replay_reidentifications(store.engine, store.audit_engine)
            )
        )
    result = dataclasses.replace(
        result,
        mismatches=tuple(m.text for m in found),
        mismatches_ko=tuple(m.line("ko") for m in found),
    )
    if result.ok and checkpoints is not None and result.new_checkpoints:
        _append_checkpoints(checkpoints, result.new_checkpoints)
    return result


def read_checkpoints(path: Path) -> dict[int, str]:
    """``{seq: hash}`` from a checkpoints file (missing file: none yet).

    Raises:
        ConfigError: a line that is not ``SEQ HASH``.
    """
    pins: dict[int, str] = {}
    if not path.exists():
        return pins
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        seq, _, digest = line.strip().partition(" ")
        if not seq.isdigit() or len(digest.strip()) != 64:
            raise ConfigError(
                f"{path}:{number}: expected 'SEQ HASH', got {line[:40]!r}",
                ko=f"{path}:{number}: 'SEQ HASH' 형식이어야 하는데 {line[:40]!r}입니다",
            )
        pins[int(seq)] = digest.strip()
    return pins


def _append_checkpoints(path: Path, fresh: tuple[tuple[int, str], ...]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(f"{seq} {digest}\n" for seq, digest in fresh)
        handle.flush()
        os.fsync(handle.fileno())


def audit_log(
    settings: Settings,
    *,
    user: str | None = None,
    actor: str | None = None,
    since: dt.date | None = None,
    decisions_only: bool = False,
    limit: int = 200,
) -> list[AuditEntry]:
    """Trail entries about ``user`` / by ``actor`` since a local day, oldest first."""
    start = None
    if since is not None:
        zone = zoneinfo.ZoneInfo(settings.timezone)
        start = dt.datetime.combine(since, dt.time(0), tzinfo=zone)
    actions = (
        ("acknowledge", "escalate", "dismiss", "close", "request_close", "approve", "reopen")
        if decisions_only
        else ()
    )
    with Store.open(settings) as store:
        return store.audit.entries(
            subject=user,
            actor=None if actor is None else normalise(actor),
            since=start,
            actions=actions,
            limit=limit,
        )
