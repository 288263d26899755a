"""The lake's identity and integrity: one lake per store, every part as it was written.

A store records its id and where its lake is; the lake holds ``.store-id`` naming the
store (store/lake.py). :class:`LakeBinding` refuses a lake that is not its store's before
anything reads or writes it, binds a new store to a new lake on the first write, and
checks every committed part against the sha256 recorded when it was written.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from auditlens.errors import StoreError
from auditlens.store.db import (
    ingest_batches,
    lake_pending,
    lake_retired,
    lake_segments,
    store_identity,
)
from auditlens.store.lake import EventLake
from auditlens.store.segments import current_files

_DATA_DIR_HINT = (
    "each store needs a lake of its own: set data_dir (AUDITLENS_DATA_DIR) to the "
    "directory that holds this store's lake, or to a new directory for a new store"
)


class LakeMismatch(StoreError):
    """The event lake in data_dir belongs to another store (or the store to another lake)."""

    hint = _DATA_DIR_HINT
    ko_hint = (
        "저장소마다 이벤트 레이크가 따로 있어야 합니다. data_dir(AUDITLENS_DATA_DIR)을 이 "
        "저장소의 레이크가 있는 디렉터리로, 새 저장소라면 새 디렉터리로 지정하십시오"
    )


@dataclass(frozen=True)
class LakeCheck:
    """The result of checking every committed lake part against its recorded sha256."""

    parts: int
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unhashed: int = 0  # parts committed before hashes were recorded (not checkable)

    @property
    def ok(self) -> bool:
        """True when every checkable part is present and unchanged."""
        return not self.missing and not self.changed

    @property
    def problem(self) -> str:
        """One sentence naming the missing and changed parts (empty when ok)."""
        said = []
        if self.missing:
            said.append(f"lake part(s) missing: {', '.join(self.missing)}")
        if self.changed:
            said.append(f"lake part(s) changed since ingestion: {', '.join(self.changed)}")
        return "; ".join(said)

    def problem_text(self, lang: str) -> str:
        """:attr:`problem` in ``lang``."""
        if lang != "ko":
            return self.problem
        said = []
        if self.missing:
            said.append(f"레이크 파일이 없음: {', '.join(self.missing)}")
        if self.changed:
            said.append(f"수집 후 바뀐 레이크 파일: {', '.join(self.changed)}")
        return "; ".join(said)


class LakeBinding:
    """The tie between one store and its lake (checked once, then cheap)."""

    def __init__(self, engine: Engine, lake: EventLake) -> None:
        self.engine = engine
        self.lake = lake
        self.checked = False
        #: The store's id once this process bound (or found) it.
        self.store_id: str | None = None

    def _identity(self) -> tuple[str, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(store_identity.c.store_id, store_identity.c.lake_location).where(
                    store_identity.c.id == 1
                )
            ).one_or_none()
        return None if row is None else (str(row[0]), str(row[1]))

    def _store_name(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def check(self) -> None:
        """Refuse a lake that is not this store's (read-only; cheap after the first call).

        Raises LakeMismatch naming both sides: the lake in data_dir belongs to another
        store, or this store's lake is somewhere else (another directory or machine).
        """
        if self.checked:
            return
        ours = self._identity()
        theirs = self.lake.identity()
        here = self.lake.location
        if ours is not None and theirs is not None:
            if theirs.get("store_id") != ours[0]:
                raise LakeMismatch(
                    f"the event lake at {here} belongs to another store "
                    f"({theirs.get('store') or 'unknown'}, id {theirs.get('store_id')}), "
                    f"not to the store at {self._store_name()} (id {ours[0]}, lake at {ours[1]})",
                    ko=f"{here}의 이벤트 레이크는 다른 저장소"
                    f"({theirs.get('store') or '알 수 없음'}, ID {theirs.get('store_id')})의 "
                    f"것이며, {self._store_name()} 저장소(ID {ours[0]}, 레이크 {ours[1]})의 것이 "
                    "아닙니다",
                )
        elif ours is not None:
            if ours[1] != here:
                raise LakeMismatch(
                    f"the store at {self._store_name()} keeps its event lake at {ours[1]}, "
                    f"but this run's lake is {here}: two lakes for one store would store "
                    "every event twice",
                    ko=f"{self._store_name()} 저장소의 이벤트 레이크는 {ours[1]}에 있는데 이번 "
                    f"실행의 레이크는 {here}입니다. 저장소 하나에 레이크가 둘이면 모든 이벤트가 "
                    "두 번 저장됩니다",
                )
        elif theirs is not None:
            raise LakeMismatch(
                f"the event lake at {here} belongs to another store "
                f"({theirs.get('store') or 'unknown'}, id {theirs.get('store_id')}); "
                f"the store at {self._store_name()} has no lake yet (if that other store "
                f"was deleted on purpose, its lake {self.lake.root} can be removed too)",
                ko=f"{here}의 이벤트 레이크는 다른 저장소"
                f"({theirs.get('store') or '알 수 없음'}, ID {theirs.get('store_id')})의 것이며, "
                f"{self._store_name()} 저장소에는 아직 레이크가 없습니다 (그 저장소를 일부러 "
                f"삭제했다면 그 레이크 {self.lake.root}도 지워도 됩니다)",
            )
        else:
            self._refuse_foreign_parts(here)
        self.checked = True

    def _refuse_foreign_parts(self, here: str) -> None:
        """An unbound store and an unbound lake: the lake must hold only our parts."""
        with self.engine.connect() as conn:
            pending = {str(r[0]) for r in conn.execute(select(lake_pending.c.part))}
            retired = {str(r[0]) for r in conn.execute(select(lake_retired.c.part))}
            known = set(current_files(conn)) | pending | retired
        foreign = [p for p in self.lake.part_files() if p not in known]
        if foreign:
            raise LakeMismatch(
                f"the event lake at {here} holds {len(foreign)} part(s) the store at "
                f"{self._store_name()} did not write (e.g. {foreign[0]}): it is another "
                "store's lake",
                ko=f"{here}의 이벤트 레이크에 {self._store_name()} 저장소가 쓰지 않은 파일 "
                f"{len(foreign)}개가 있습니다 (예: {foreign[0]}). 다른 저장소의 레이크입니다",
            )

    def bind(self, *, now: dt.datetime | None = None) -> str:
        """Make sure the lake in data_dir is bound to this store; return the store id.

        The first write binds an unbound store and lake: the store records its id and the
        lake's location, then the lake gets ``.store-id``. Raises LakeMismatch as
        :meth:`check`.
        """
        self.checked = False
        self.check()
        ours = self._identity()
        if ours is None:
            store_id = uuid.uuid4().hex
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(store_identity).values(
                            id=1,
                            store_id=store_id,
                            lake_location=self.lake.location,
                            bound_at=now or dt.datetime.now(dt.UTC),
                        )
                    )
            except IntegrityError:  # another process bound it first: check against that
                self.checked = False
                self.check()
                ours = self._identity()
                if ours is None:  # pragma: no cover - the row exists after the conflict
                    raise
                store_id = ours[0]
        else:
            store_id = ours[0]
        found = self.lake.identity()
        if found is None:
            self.lake.write_identity(store_id, self._store_name())
        elif ours is not None and ours[1] != self.lake.location:
            # the same lake (its .store-id proves it) seen from a new place: remember that
            with self.engine.begin() as conn:
                conn.execute(
                    update(store_identity)
                    .where(store_identity.c.id == 1)
                    .values(lake_location=self.lake.location)
                )
        self.store_id = store_id
        return store_id

    def verify(self) -> LakeCheck:
        """Check every committed part against the sha256 recorded when it was written.

        A missing part or one whose bytes changed (e.g. rewritten without some events)
        is named. A compacted part is checked once, against the hash recorded when the
        compaction wrote it. Parts committed before hashes were recorded are counted as
        unhashed.
        """
        joined = ingest_batches.outerjoin(
            lake_segments, lake_segments.c.batch_id == ingest_batches.c.id
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    func.coalesce(lake_segments.c.part, ingest_batches.c.lake_part),
                    func.coalesce(lake_segments.c.part_sha256, ingest_batches.c.lake_sha256),
                )
                .select_from(joined)
                .where(ingest_batches.c.lake_part.is_not(None))
                .order_by(ingest_batches.c.id)
            ).all()
        files = dict.fromkeys((str(part), recorded) for part, recorded in rows)
        missing: list[str] = []
        changed: list[str] = []
        unhashed = 0
        for part, recorded in files:
            actual = self.lake.sha256(part)
            if actual is None:
                missing.append(part)
            elif recorded is None:
                unhashed += 1
            elif actual != recorded:
                changed.append(part)
        return LakeCheck(parts=len(files), missing=missing, changed=changed, unhashed=unhashed)
