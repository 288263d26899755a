"""The store of one deployment: SQL metadata plus the Parquet event lake, reached through
one typed repository per aggregate.

===========================  =======================================================
Example::

    >>> with Store.open(settings) as fresh:  # SQLite: created; a server database must be migrated
    ...     fresh.events.watermark("hr_db") is None  # nothing read from that source yet
    ...     fresh.events.counts()
    ...     fresh.scores.last_run() is None  # a ScoreRun once `auditlens run` stored one
    True
    {'batches': 0, 'ingested': 0, 'accepted': 0, 'quarantined': 0, 'tamper_findings': 0}
    True
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine

from auditlens.config import Settings
from auditlens.errors import StoreError
from auditlens.store.alerts import AlertRepository
from auditlens.store.audit import Trail
from auditlens.store.audit_repository import AuditRepository
from auditlens.store.champions import ChampionRepository
from auditlens.store.drift import DriftRepository
from auditlens.store.events import EventRepository
from auditlens.store.keys import KeyRepository
from auditlens.store.lake import EventLake
from auditlens.store.migrate import connect
from auditlens.store.models import ModelRepository
from auditlens.store.online import OnlineRepository
from auditlens.store.reidentifications import ReidentificationRepository
from auditlens.store.reviews import ReviewRepository
from auditlens.store.scores import ScoreRepository
from auditlens.store.shadow import ShadowRepository


class Store:
    """The store of one deployment; a context manager that releases its connections."""

    def __init__(self, engine: Engine, lake: EventLake, audit_engine: Engine | None = None) -> None:
        self.engine = engine
        self.lake = lake
        #: The database holding the audit trail: the store itself unless audit_store_url.
        self.audit_engine = audit_engine or engine
        #: Where audit entries are written (see store/audit.py ``Trail``).
        self.trail = Trail(audit_engine)
        self.events = EventRepository(engine, lake)
        self.scores = ScoreRepository(engine)
        self.models = ModelRepository(engine)
        self.alerts = AlertRepository(engine)
        self.audit = AuditRepository(self.audit_engine)
        self.reidentifications = ReidentificationRepository(engine)
        self.keys = KeyRepository(engine)
        self.drift = DriftRepository(engine)
        self.reviews = ReviewRepository(engine)
        #: The challenger's scores of shadow-scored runs (never read as the champion's).
        self.shadow = ShadowRepository(engine)
        #: Which registry version was champion from when.
        self.champions = ChampionRepository(engine)
        #: The streaming run's online (River) scores, beside its runs' score rows.
        self.online = OnlineRepository(engine)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = False) -> Store:
        """Connect; with ``migrate`` bring the schema up to date, else require it current.

        An embedded SQLite store is created or upgraded in any case, with one line saying so
        (store/migrate.py ``connect``). With ``audit_store_url`` the audit trail lives in
        that database (migrated likewise).
        """
        lang = settings.language
        engine = connect(settings.store_url.get_secret_value(), migrate=migrate, language=lang)
        audit = None
        if settings.audit_store_url is not None:
            try:
                audit = connect(
                    settings.audit_store_url.get_secret_value(),
                    migrate=migrate,
                    name="audit_store_url",
                    language=lang,
                )
            except StoreError:
                engine.dispose()
                raise
        return cls(engine, EventLake(settings.lake_dir), audit)

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
        if self.audit_engine is not self.engine:
            self.audit_engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
