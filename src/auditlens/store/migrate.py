"""The store's schema version: connect to a database whose schema is current, migrate it.

An embedded SQLite store that is missing or behind is created or upgraded on opening
(one line on stderr says so): its file belongs to whoever runs auditlens. Any other
database that is behind is refused: there migrations are the owner's act
(`auditlens db upgrade` with ``store_owner_url``; see `auditlens db roles`).

Opening a store whose schema is current does not import Alembic (0.1 to 0.2 s of every
command's start): the revision is read from Alembic's version table with one query and
compared with :data:`HEAD_REVISION`; Alembic runs only to create or upgrade.

Example::

    engine = connect("sqlite:///var/auditlens.db", migrate=True)
    assert current_revision(engine) == head_revision()
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, Engine, column, inspect, select, table
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from auditlens.config import mask_url, url_secrets
from auditlens.errors import StoreError
from auditlens.redaction import scrub
from auditlens.store.db import make_engine

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger("auditlens.store")

#: The newest revision of the migrations this auditlens ships (``migrations/versions``):
#: a store must be at it. Bump it with each new migration (tests/store/test_migrate.py
#: checks it against the scripts' head).
HEAD_REVISION: Final = "0015"
#: Alembic's version table (its default name; migrations/env.py keeps it).
_VERSION_TABLE: Final = "alembic_version"

_UPGRADED = {
    "created": {
        "en": "created the store {url} ({name}, schema {head})",
        "ko": "저장소를 만들었습니다: {url} ({name}, 스키마 {head})",
    },
    "upgraded": {
        "en": "upgraded the store {url} ({name}) from schema {old} to {head}",
        "ko": "저장소 {url}({name})의 스키마를 {old}에서 {head} 버전으로 올렸습니다",
    },
}


def _alembic_config(connection: Connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig  # only to migrate: see the module doc

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("auditlens.store") / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def connect(
    url: str, *, migrate: bool = False, name: str = "store_url", language: str = "en"
) -> Engine:
    """An engine on ``url`` whose schema is current (``migrate``: brought up to date).

    Without ``migrate`` an embedded SQLite store that is missing or behind is created or
    upgraded anyway, and one line (in ``language``) is logged to say so.

    Raises:
        StoreError: not a URL, unreachable, or not migrated (a server database behind, or
            any database ahead of this auditlens) — secrets never in the message.
    """
    try:
        engine = make_engine(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"{name} {mask_url(url)} is not a database URL: {scrub(str(exc), url_secrets(url))}",
            hint="e.g. sqlite:///var/auditlens.db or postgresql+psycopg://user@host/db",
            ko=f"{name} 값이 데이터베이스 URL이 아닙니다: {mask_url(url)} (지원하지 않는 "
            "형식이거나 드라이버가 설치되어 있지 않습니다)",
            ko_hint="예: sqlite:///var/auditlens.db 또는 postgresql+psycopg://user@host/db",
        ) from None
    try:
        revision = current_revision(engine)
        if migrate and revision != head_revision():
            revision = upgrade(engine)
        if revision != head_revision() and _embedded_and_behind(engine, revision):
            upgrade(engine)
            key = "created" if revision is None else "upgraded"
            text = _UPGRADED[key].get(language, _UPGRADED[key]["en"])
            head = head_revision()
            log.warning(text.format(url=mask_url(url), name=name, old=revision, head=head))
            revision = current_revision(engine)
    except (OperationalError, ProgrammingError) as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open {mask_url(url)} ({name}): {scrub(str(exc.orig), url_secrets(url))}",
            hint=f"check {name} and that the database server is running",
            ko=f"데이터베이스를 열 수 없습니다: {mask_url(url)} ({name}), "
            f"{scrub(str(exc.orig), url_secrets(url))}",
            ko_hint=f"{name} 값과 데이터베이스 서버가 실행 중인지 확인하십시오",
        ) from None
    if revision != head_revision():
        engine.dispose()
        known = revision is None or _is_older(revision)
        raise StoreError(
            f"the database at {mask_url(url)} ({name}) is at schema revision "
            f"{revision or 'none'}, this auditlens needs {head_revision()}",
            hint=(
                "run `auditlens db upgrade` as the database owner "
                f"({name.removesuffix('_url')}_owner_url; see `auditlens db roles`)"
                if known
                else "this auditlens is older than the store: install the newer auditlens"
            ),
            ko=f"{mask_url(url)} ({name}) 데이터베이스의 스키마 리비전은 "
            f"{revision or '없음'}인데, 이 auditlens에 필요한 리비전은 {head_revision()}입니다",
            ko_hint=(
                "데이터베이스 소유자 계정으로 `auditlens db upgrade`를 실행하십시오 "
                f"({name.removesuffix('_url')}_owner_url, `auditlens db roles` 참고)"
                if known
                else "이 auditlens가 저장소보다 오래된 버전입니다. 새 auditlens를 설치하십시오"
            ),
        )
    return engine


def _embedded_and_behind(engine: Engine, revision: str | None) -> bool:
    """True for a SQLite store that was never migrated or is at an older revision."""
    return engine.dialect.name == "sqlite" and (revision is None or _is_older(revision))


def _is_older(revision: str) -> bool:
    """True when ``revision`` is one of this auditlens's migrations below head."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(resources.files("auditlens.store") / "migrations"))
    return revision != head_revision() and any(
        step.revision == revision for step in script.walk_revisions()
    )


def upgrade(engine: Engine) -> str:
    """Migrate the store to the newest schema; return the revision now in force."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision, or None when it was never migrated (as Alembic's
    ``MigrationContext.get_current_revision`` reads it; several rows, which Alembic
    refuses, come back joined: never the head, so the store is refused)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(_VERSION_TABLE):
            return None
        version = table(_VERSION_TABLE, column("version_num"))
        found = [str(row[0]) for row in conn.execute(select(version.c.version_num))]
    return ",".join(sorted(found)) if found else None


def head_revision() -> str:
    """The newest revision this version of auditlens knows (:data:`HEAD_REVISION`)."""
    return HEAD_REVISION
