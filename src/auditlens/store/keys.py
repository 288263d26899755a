"""API keys of the risk service: made once, stored as a hash, found by a public prefix.

A key reads ``alk_<prefix>_<secret>``: ``prefix`` (12 hex digits) is public — it names the
key in lists and in the trail — and ``secret`` is 256 random bits. The store keeps only
the sha256 of the whole key, so a copy of the database lets nobody call the API; a
presented key is found by its prefix and its hash compared in constant time. Who made or
revoked a key is written to the audit trail by the caller (``pipeline/keys.py``), in the
same transaction, never with the secret.

Example::

    >>> now = dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC)
    >>> issued = store.keys.create("powerbi", "viewer", created_by="park", now=now)
    >>> issued.secret.startswith("alk_" + issued.key.prefix + "_")
    True
    >>> store.keys.lookup(issued.secret).name
    'powerbi'
    >>> store.keys.lookup(issued.secret[:-1] + "x") is None
    True
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from sqlalchemy import Connection, insert, or_, select, update

from auditlens.errors import AuditlensError
from auditlens.store.db import api_keys
from auditlens.store.repository import Repository, new_id, utc

#: Every key starts with this, so a scanner (and a person) can tell what it is.
KEY_MARK: Final = "alk_"
NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
#: A key's last use is written at most this often (a write per request would cost more
#: than the request).
TOUCH_EVERY: Final = dt.timedelta(seconds=60)

KeyState = Literal["active", "expired", "revoked"]


class ApiKeyError(AuditlensError):
    """An API key cannot be made, found or revoked as asked."""


@dataclass(frozen=True)
class ApiKey:
    """A stored API key, without its secret."""

    id: int
    prefix: str
    name: str
    role: str
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None
    last_used_at: dt.datetime | None

    @property
    def principal_id(self) -> str:
        """The principal calls with this key act as (in the trail: ``key:NAME``)."""
        return f"key:{self.name}"

    def state(self, now: dt.datetime) -> KeyState:
        """``revoked``, ``expired`` (at or after ``expires_at``) or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


@dataclass(frozen=True)
class IssuedKey:
    """A key just made: the only time its secret exists outside the caller's hands."""

    key: ApiKey
    secret: str = field(repr=False)


def secret_hash(presented: str) -> str:
    """sha256 (hex) of a whole key as presented."""
    return hashlib.sha256(presented.encode("utf-8")).hexdigest()


def prefix_of(presented: str) -> str | None:
    """The public prefix of a presented key, or None when it is not shaped like one."""
    if not presented.startswith(KEY_MARK):
        return None
    parts = presented[len(KEY_MARK) :].split("_", 1)
    if len(parts) != 2 or not re.fullmatch(r"[0-9a-f]{12}", parts[0]) or len(parts[1]) < 32:
        return None
    return parts[0]


def check_name(name: str) -> str:
    """``name`` trimmed and lower-cased, or ApiKeyError when it is not a valid key name."""
    clean = name.strip().lower()
    if not NAME.match(clean):
        raise ApiKeyError(
            f"key name {name!r}: use 1-63 lower-case letters, digits, '.', '_' or '-'",
            ko=f"키 이름 {name!r}: 영문 소문자·숫자·'.'·'_'·'-' 1~63자로 지으십시오",
        )
    return clean


class KeyRepository(Repository):
    """API keys: create, list, find, revoke, look up a presented key, mark it used."""

    def create(
        self,
        name: str,
        role: str,
        *,
        created_by: str,
        now: dt.datetime,
        expires_at: dt.datetime | None = None,
    ) -> IssuedKey:
        """Make a key; the returned secret is not stored anywhere.

        Raises:
            ApiKeyError: a bad name, or an active key already has it.
        """
        clean = check_name(name)
        with self._writing() as conn:
            for existing in _rows(conn, api_keys.c.name == clean):
                if existing.state(now) == "active":
                    raise ApiKeyError(
                        f"an active key is already named {clean!r} (id {existing.id})",
                        ko=f"{clean!r} 이름의 유효한 키가 이미 있습니다 (id {existing.id})",
                        hint=f"revoke it first (`auditlens keys revoke {clean}`) or pick another",
                        ko_hint=f"먼저 폐기하거나(`auditlens keys revoke {clean}`) "
                        "다른 이름을 쓰십시오",
                    )
            prefix = secrets.token_hex(6)
            secret = f"{KEY_MARK}{prefix}_{secrets.token_urlsafe(32)}"
            result = conn.execute(
                insert(api_keys).values(
                    prefix=prefix,
                    name=clean,
                    role=role,
                    secret_sha256=secret_hash(secret),
                    created_at=now,
                    created_by=created_by,
                    expires_at=expires_at,
                )
            )
            stored = _rows(conn, api_keys.c.id == new_id(result))[0]
        return IssuedKey(stored, secret)

    def list(self) -> builtins.list[ApiKey]:
        """Every key, revoked and expired ones included, oldest first (no secrets)."""
        with self._reading() as conn:
            return _rows(conn, None)

    def find(self, ref: str, now: dt.datetime) -> ApiKey:
        """The key ``ref`` names: its id, its prefix, or the name of an active key.

        Raises:
            ApiKeyError: no such key.
        """
        ref = ref.strip()
        with self._reading() as conn:
            if ref.isdigit():
                found = _rows(conn, api_keys.c.id == int(ref))
            else:
                found = _rows(conn, or_(api_keys.c.prefix == ref, api_keys.c.name == ref.lower()))
        active = [k for k in found if k.state(now) == "active"]
        chosen = active or found
        if not chosen:
            raise ApiKeyError(
                f"no API key {ref!r}",
                ko=f"API 키 {ref!r}이(가) 없습니다",
                hint="see `auditlens keys list`",
                ko_hint="`auditlens keys list`로 확인하십시오",
            )
        return chosen[-1]

    def revoke(self, key: ApiKey, *, by: str, now: dt.datetime) -> ApiKey:
        """Revoke ``key`` (at once: the next request with it is refused).

        Raises:
            ApiKeyError: it is revoked already.
        """
        with self._writing() as conn:
            done = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key.id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now, revoked_by=by)
            )
            if done.rowcount != 1:
                raise ApiKeyError(
                    f"API key {key.name!r} (id {key.id}) is revoked already",
                    ko=f"API 키 {key.name!r}(id {key.id})은(는) 이미 폐기되었습니다",
                )
            return _rows(conn, api_keys.c.id == key.id)[0]

    def lookup(self, presented: str) -> ApiKey | None:
        """The stored key ``presented`` is, whatever its state; None when it is no key.

        The hash is compared in constant time; callers check :meth:`ApiKey.state`.
        """
        prefix = prefix_of(presented)
        if prefix is None:
            return None
        with self._reading() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).first()
        if row is None or not hmac.compare_digest(str(row.secret_sha256), secret_hash(presented)):
            return None
        return _key(row._mapping)

    def mark_used(self, key: ApiKey, now: dt.datetime) -> None:
        """Record that ``key`` was used (at most once per :data:`TOUCH_EVERY`)."""
        if not needs_touch(key, now):
            return
        with self._writing() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(last_used_at=now))


def needs_touch(key: ApiKey, now: dt.datetime) -> bool:
    """True when ``key``'s last use is older than :data:`TOUCH_EVERY` (or unknown)."""
    return key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY


def _rows(conn: Connection, where: Any) -> list[ApiKey]:
    query = select(api_keys).order_by(api_keys.c.id)
    if where is not None:
        query = query.where(where)
    return [_key(row._mapping) for row in conn.execute(query)]


def _key(row: Any) -> ApiKey:
    def when(value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else utc(value)

    return ApiKey(
        id=int(row["id"]),
        prefix=row["prefix"],
        name=row["name"],
        role=row["role"],
        created_at=utc(row["created_at"]),
        created_by=row["created_by"],
        expires_at=when(row["expires_at"]),
        revoked_at=when(row["revoked_at"]),
        revoked_by=row["revoked_by"],
        last_used_at=when(row["last_used_at"]),
    )
