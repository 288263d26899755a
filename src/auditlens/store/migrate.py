"""The store's schema version: connect to a database whose schema is current, migrate it.

Example::

    engine = connect("sqlite:///var/auditlens.db", migrate=True)
    assert current_revision(engine) == head_revision()
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from auditlens.config import mask_url, url_secrets
from auditlens.errors import StoreError
from auditlens.redaction import scrub
from auditlens.store.db import make_engine


def _alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("auditlens.store") / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def connect(url: str, *, migrate: bool = False, name: str = "store_url") -> Engine:
    """An engine on ``url`` whose schema is current (``migrate``: brought up to date).

    Raises:
        StoreError: not a URL, unreachable, or not migrated — secrets never in the message.
    """
    try:
        engine = make_engine(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"{name} {mask_url(url)} is not a database URL: {scrub(str(exc), url_secrets(url))}",
            hint="e.g. sqlite:///var/auditlens.db or postgresql+psycopg://user@host/db",
        ) from None
    try:
        if migrate:
            upgrade(engine)
        revision = current_revision(engine)
    except (OperationalError, ProgrammingError) as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open {mask_url(url)} ({name}): {scrub(str(exc.orig), url_secrets(url))}",
            hint=f"check {name} and that the database server is running",
        ) from None
    if revision != head_revision():
        engine.dispose()
        raise StoreError(
            f"the database at {mask_url(url)} ({name}) is at schema revision "
            f"{revision or 'none'}, this auditlens needs {head_revision()}",
            hint="run `auditlens db upgrade`",
        )
    return engine


def upgrade(engine: Engine) -> str:
    """Migrate the store to the newest schema; return the revision now in force."""
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision, or None when it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest revision this version of auditlens knows."""
    script = ScriptDirectory(str(resources.files("auditlens.store") / "migrations"))
    head = script.get_current_head()
    if head is None:  # pragma: no cover - the package ships migrations
        raise StoreError("no migrations found in the auditlens package")
    return head
