"""The champions aggregate: the store's own record of which registry version was champion
from when (table ``champions``).

`auditlens train` writes a row when its version becomes the first champion, `auditlens
model promote` and `rollback` one each, in the transaction of their audit-trail entry, so
readers (views/catalog.py) can say which model is in force without reaching MLflow.

Example::

    store.champions.newest()  # Champion(model_version=2, action="promote", ...) or None
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import insert, select

from auditlens.store.db import champions
from auditlens.store.repository import Repository, new_id, utc

#: What made a version champion: its training (the registry's first version), a
#: promotion, a rollback.
CHAMPION_ACTIONS: Final = ("train", "promote", "rollback")


@dataclass(frozen=True)
class Champion:
    """A version that became champion, by whom and when (UTC)."""

    model_version: int
    model_sha256: str
    action: str
    actor: str
    at: dt.datetime
    id: int = 0


class ChampionRepository(Repository):
    """Which registry version was champion from when."""

    def record(self, champion: Champion) -> int:
        """Add a row (bind with :meth:`within` to join the trail entry's transaction)."""
        if champion.action not in CHAMPION_ACTIONS:
            raise ValueError(f"unknown champion action {champion.action!r}")
        values = {
            "model_version": champion.model_version,
            "model_sha256": champion.model_sha256,
            "action": champion.action,
            "actor": champion.actor,
            "at": champion.at,
        }
        with self._writing() as conn:
            return new_id(conn.execute(insert(champions).values(**values)))

    def newest(self) -> Champion | None:
        """The version that became champion last, if the store recorded any."""
        with self._reading() as conn:
            row = conn.execute(select(champions).order_by(champions.c.id.desc()).limit(1)).first()
        return None if row is None else _champion(row._asdict())

    def history(self) -> list[Champion]:
        """Every row, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(select(champions).order_by(champions.c.id))
            return [_champion(r._asdict()) for r in rows]


def _champion(row: dict[str, Any]) -> Champion:
    return Champion(
        model_version=int(row["model_version"]),
        model_sha256=str(row["model_sha256"]),
        action=str(row["action"]),
        actor=str(row["actor"]),
        at=utc(row["at"]),
        id=int(row["id"]),
    )
