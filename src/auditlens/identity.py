"""Principals and roles: who is acting, proven rather than typed (DESIGN rule 12).

A *principal* is a person (or service) known to the deployment, with roles from the
``[principals]`` table of the configuration::

    [principals]
    kim = ["analyst"]
    lee = ["analyst", "approver"]
    park = ["admin"]

Roles: ``viewer`` (read), ``analyst`` (acknowledge, escalate, dismiss, request to close,
reopen, requeue), ``approver`` (approve another principal's close request — four eyes;
re-identify a pseudonymised person; promote a model version another principal trained, roll
back the champion) and ``admin`` (act on someone's behalf with ``--as``, API keys). Every
role can read: a principal holding any role counts as a viewer. The other roles do not
include each other. On the command line the acting principal is the operating-system
account running auditlens, not a name typed on the command line; ``--as NAME`` is only for
an admin and is recorded as such (actor = the admin, on_behalf_of = NAME). The API
(``auditlens.api``) proves its principals by API key or OIDC token.

Ids are compared after :func:`normalise` (Unicode NFKC, case-folded, trimmed): ``kim``,
``KIM``, `` Kim `` and full-width ``kim`` are one principal.

Example::

    >>> settings = Settings(principals={"kim": ["analyst"], "park": ["admin"]})
    >>> directory = Directory.from_settings(settings)
    >>> acting = cli_acting(directory, as_name=None, who_am_i=lambda: "KIM")  # the OS user
    >>> acting.effective.id
    'kim'
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from auditlens.config import Settings
from auditlens.errors import AuditlensError

Role = Literal["viewer", "analyst", "approver", "admin"]
ROLES: Final[tuple[Role, ...]] = ("viewer", "analyst", "approver", "admin")
#: The principal of entries auditlens writes itself; no person may take this id.
SYSTEM_PRINCIPAL: Final = "auditlens"


class IdentityError(AuditlensError):
    """The acting principal is unknown or lacks the role for what it tries to do."""


def normalise(name: str) -> str:
    """The comparable form of a principal id: NFKC, case-folded, surrounding space removed.

    >>> normalise(" \\uff4b\\uff49\\uff4d ") == normalise("KIM") == "kim"
    True
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return folded.strip()


@dataclass(frozen=True)
class Principal:
    """A known actor and its roles."""

    id: str
    roles: frozenset[str]

    def has(self, role: Role) -> bool:
        """True when the principal holds ``role`` (``viewer``: any role at all).

        >>> Principal("kim", frozenset({"analyst"})).has("viewer")
        True
        >>> Principal("kim", frozenset({"analyst"})).has("approver")
        False
        """
        if role == "viewer":
            return bool(self.roles & set(ROLES))
        return role in self.roles


@dataclass(frozen=True)
class Acting:
    """Who acts: the principal at the keyboard and, for an admin, whom they act for."""

    actor: Principal
    on_behalf_of: Principal | None = None

    @property
    def effective(self) -> Principal:
        """The principal whose authority the action uses."""
        return self.on_behalf_of or self.actor

    @property
    def ids(self) -> frozenset[str]:
        """Every principal taking part (the four-eyes check compares these)."""
        return frozenset({self.actor.id} | ({self.on_behalf_of.id} if self.on_behalf_of else set()))

    def require(self, role: Role, what: str, what_ko: str = "") -> None:
        """Raise IdentityError unless the effective principal holds ``role``.

        ``what`` names the action in English ("close alert #7"), ``what_ko`` in Korean
        ("7번 경보 종료"); without it the Korean message names the action in English.
        """
        if not self.effective.has(role):
            who = self.effective.id
            held = ", ".join(sorted(self.effective.roles)) or "none"
            action = what_ko or what
            raise IdentityError(
                f"{who} may not {what}: needs the {role} role (has: {held})",
                hint=f'add it in auditlens.toml: [principals] {who} = ["{role}"]',
                ko=f"{who} 사용자는 {role} 역할이 없어 이 작업을 할 수 없습니다: {action} "
                f"(보유 역할: {', '.join(sorted(self.effective.roles)) or '없음'})",
                ko_hint=f'auditlens.toml에 역할을 추가하십시오: [principals] {who} = ["{role}"]',
            )


class Directory:
    """The principals of a deployment, by normalised id."""

    def __init__(self, principals: Mapping[str, Iterable[str]]) -> None:
        self._by_id: dict[str, Principal] = {}
        for raw, roles in principals.items():
            key = normalise(raw)
            if not key:
                raise IdentityError(
                    "principals: an empty principal id is not allowed",
                    ko="principals: 빈 사용자 ID는 쓸 수 없습니다",
                )
            if key == SYSTEM_PRINCIPAL:
                raise IdentityError(
                    f"principals: {raw!r} is reserved for auditlens' own audit entries",
                    ko=f"principals: {raw!r} ID는 auditlens 자체 감사 로그 항목용으로 "
                    "예약되어 있습니다",
                )
            if key in self._by_id:
                raise IdentityError(
                    f"principals: {raw!r} and another entry are the same principal {key!r} "
                    "(ids are compared case-insensitively, NFKC)",
                    ko=f"principals: {raw!r} 항목과 다른 항목이 같은 사용자({key!r})로 "
                    "처리됩니다 (ID는 대소문자를 구분하지 않고 NFKC로 비교함)",
                )
            bad = sorted(set(roles) - set(ROLES))
            if bad:
                raise IdentityError(
                    f"principals.{raw}: unknown role(s) {bad}; use {list(ROLES)}",
                    ko=f"principals.{raw}: 알 수 없는 역할 {bad}입니다. {list(ROLES)} 중에서 "
                    "쓰십시오",
                )
            self._by_id[key] = Principal(key, frozenset(roles))

    @classmethod
    def from_settings(cls, settings: Settings) -> Directory:
        """The ``[principals]`` table of the settings."""
        return cls(settings.principals)

    def get(self, name: str) -> Principal:
        """The principal ``name`` stands for.

        Raises:
            IdentityError: nobody by that id is configured.
        """
        key = normalise(name)
        found = self._by_id.get(key)
        if found is None:
            raise IdentityError(
                f"{name.strip() or '(empty)'!r} is not a known principal",
                hint=f'add [principals] {key or "NAME"} = ["analyst"] to auditlens.toml',
                ko=f"등록되지 않은 사용자입니다: {name.strip() or '(빈 값)'!r}",
                ko_hint=f'auditlens.toml에 [principals] {key or "NAME"} = ["analyst"]를 '
                "추가하십시오",
            )
        return found

    def acting(self, actor: str, on_behalf_of: str | None = None) -> Acting:
        """``actor`` acting (for an admin: on behalf of ``on_behalf_of``).

        Raises:
            IdentityError: unknown principals, or a non-admin acting for someone else.
        """
        who = self.get(actor)
        if on_behalf_of is None or normalise(on_behalf_of) == who.id:
            return Acting(who)
        if not who.has("admin"):
            raise IdentityError(
                f"{who.id} may not act on behalf of {on_behalf_of.strip()!r}: only an admin can",
                hint="leave out --as: decisions are recorded under your own account",
                ko=f"{who.id} 사용자는 {on_behalf_of.strip()!r} 사용자를 대신할 수 없습니다. "
                "관리자만 다른 사용자를 대신할 수 있습니다",
                ko_hint="--as를 빼십시오. 결정은 본인 계정으로 기록됩니다",
            )
        return Acting(who, self.get(on_behalf_of))


def os_user() -> str:
    """The operating-system account running this process (not $USER, which anyone sets)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # pragma: no cover - Windows or a uid without a name
        import getpass

        return getpass.getuser()


def cli_acting(
    directory: Directory, as_name: str | None, *, who_am_i: Callable[[], str] | None = None
) -> Acting:
    """The acting principal of a command-line call: the OS user (``who_am_i``, default
    :func:`os_user`), ``--as`` for admins."""
    return directory.acting((who_am_i or os_user)(), as_name)
