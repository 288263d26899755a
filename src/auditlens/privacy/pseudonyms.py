"""Stable pseudonyms for monitored people: a keyed HMAC of the user id, short and readable.

A pseudonym is ``P-`` and 12 characters of Crockford base32 in three groups
(``P-7K3Q-9XA2-M4TB``): the first 60 bits of HMAC-SHA256(key, user id). Without the key
nobody can compute or reverse it; with the key :meth:`Pseudonymiser.reverse` finds the
person among candidate ids (the store's users) — which is what re-identification does,
after an approver's grant (privacy/reidentify.py).

Why 60 bits: among *n* people the chance that two share a pseudonym is about
n² / 2⁶¹ — 4e-7 for a million users (40 bits, 8 characters, would give 0.4).

User ids are normalised with Unicode NFKC and trimmed, **not** case-folded: the store keeps
``U0042`` and ``u0042`` apart, so their pseudonyms must differ too.

Departments are not pseudonymised: a department is a unit of many people that routing
rules, peer groups and KPIs name; :meth:`Pseudonymiser.department` exists for a deployment
whose units are small enough to identify someone (docs/configuration.md, *Privacy*).

Example::

    >>> p = Pseudonymiser(SecretStr("k" * 32))
    >>> p.user("U0042")
    'P-A21M-K17S-DFZF'
    >>> p.user(" U0042 ") == p.user("U0042")
    True
    >>> p.reverse("p-a21m-k17s-dfzf", ["U0041", "U0042"])
    'U0042'
    >>> mask_text("U0042 (김철수) exported 14 files; U00421 did not", {"U0042", "김철수"}, "P-X")
    'P-X (P-X) exported 14 files; U00421 did not'
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable
from typing import Any, Final

from pydantic import SecretStr

from auditlens.config import Settings
from auditlens.errors import ConfigError
from auditlens.identity import Acting
from auditlens.store.alerts import Alert

#: Crockford's base32: no I, L, O, U (nothing to misread, no accidental words).
ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Characters of a pseudonym after ``P-`` (5 bits each: 60 bits).
LENGTH: Final = 12
PREFIX: Final = "P-"
#: The shortest key accepted (characters): 32 random characters are far beyond guessing.
MIN_KEY_LENGTH: Final = 32
_CROCKFORD: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)
_READ_AS: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})
_PSEUDONYM = re.compile(r"^(?:P-?)?([0-9A-Z]{4})-?([0-9A-Z]{4})-?([0-9A-Z]{4})$")


def normalise_user(user_id: str) -> str:
    """The form of a user id that is pseudonymised: NFKC, surrounding space removed.

    >>> normalise_user(" \\uff35\\uff10\\uff10\\uff14\\uff12 ")  # full-width U0042
    'U0042'
    """
    return unicodedata.normalize("NFKC", user_id).strip()


class Pseudonymiser:
    """Turns user ids into pseudonyms with one secret key (keep the object, not the key)."""

    def __init__(self, key: SecretStr) -> None:
        secret = key.get_secret_value()
        if len(secret) < MIN_KEY_LENGTH:
            raise ConfigError(
                f"privacy.pseudonym_key is too short ({len(secret)} characters, at least "
                f"{MIN_KEY_LENGTH})",
                ko=f"privacy.pseudonym_key가 너무 짧습니다 ({len(secret)}자, "
                f"{MIN_KEY_LENGTH}자 이상)",
                hint=_KEY_HINT_EN,
                ko_hint=_KEY_HINT_KO,
            )
        self._mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "Pseudonymiser(key=***)"

    def _code(self, domain: str, value: str) -> str:
        mac = self._mac.copy()
        mac.update(f"auditlens/{domain}/v1\0{value}".encode())
        # base32 writes 5 bits a character from the top: 12 characters = the first 60 bits
        chars = base64.b32encode(mac.digest()[:8]).decode("ascii")[:LENGTH].translate(_CROCKFORD)
        return f"{PREFIX}{chars[:4]}-{chars[4:8]}-{chars[8:]}"

    def user(self, user_id: str) -> str:
        """The pseudonym of ``user_id`` (the same for the same key, on every run)."""
        return self._code("user", normalise_user(user_id))

    def department(self, name: str) -> str:
        """A pseudonym for a department (another domain: never equal to a user's)."""
        return self._code("department", normalise_user(name))

    def reverse(self, pseudonym: str, candidates: Iterable[str]) -> str | None:
        """The candidate user id whose pseudonym is ``pseudonym`` (None: none of them).

        ``pseudonym`` is read leniently: any case, with or without ``P-`` and hyphens,
        O/I/L read as 0/1/1.

        Raises:
            ConfigError: two candidates share the pseudonym (odds in the docstring above).
        """
        wanted = canonical(pseudonym)
        if wanted is None:
            return None
        found = sorted({c for c in candidates if self.user(c) == wanted})
        if len(found) > 1:
            raise ConfigError(
                f"{len(found)} users share the pseudonym {wanted}",
                ko=f"사용자 {len(found)}명의 가명({wanted})이 같습니다",
                hint="use the alert's re-identification instead",
                ko_hint="알림의 재식별 절차를 이용하십시오",
            )
        return found[0] if found else None


def canonical(pseudonym: str) -> str | None:
    """``pseudonym`` as :meth:`Pseudonymiser.user` writes it, or None if it is not one."""
    text = unicodedata.normalize("NFKC", pseudonym).strip().upper().translate(_READ_AS)
    found = _PSEUDONYM.match(text.replace(" ", ""))
    if found is None or any(ch not in ALPHABET for ch in "".join(found.groups())):
        return None
    return PREFIX + "-".join(found.groups())


_KEY_HINT_EN = (
    "set AUDITLENS_PRIVACY__PSEUDONYM_KEY to a random value of at least 32 characters, e.g. "
    "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
)
_KEY_HINT_KO = (
    "AUDITLENS_PRIVACY__PSEUDONYM_KEY 환경 변수에 32자 이상의 임의 값을 넣으십시오 (예: "
    "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
)


def pseudonymiser_for(settings: Settings) -> Pseudonymiser | None:
    """The deployment's pseudonymiser; None when ``privacy.pseudonymise`` is off.

    Call it when a service starts (API, dispatcher): pseudonymised without a key, it
    refuses to start.

    Raises:
        ConfigError: pseudonymise is on but the key is missing or too short.
    """
    privacy = settings.privacy
    if not privacy.pseudonymise:
        return None
    if privacy.pseudonym_key is None or not privacy.pseudonym_key.get_secret_value().strip():
        raise ConfigError(
            "privacy.pseudonymise is on but privacy.pseudonym_key is not set: auditlens will "
            "not start pseudonymised without its key",
            ko="privacy.pseudonymise가 켜져 있으나 privacy.pseudonym_key가 없습니다: 키 없이는 "
            "가명 처리 상태로 시작하지 않습니다",
            hint=_KEY_HINT_EN,
            ko_hint=_KEY_HINT_KO,
        )
    return Pseudonymiser(privacy.pseudonym_key)


def mask_text(text: str, identifying: Collection[str], replacement: str) -> str:
    """``text`` with each identifying value of one person (user id, name, e-mail) replaced.

    Matching ignores case and Unicode width (NFKC) and needs no letter or digit of the
    Latin alphabet right before or after, so ``U0042`` is replaced in ``U0042가`` or
    ``(U0042)`` but not inside ``U00421``. Longer values are replaced first.
    """
    values = sorted({normalise_user(v) for v in identifying if v and v.strip()}, key=len)
    if not values or not text:
        return text
    pattern = "|".join(re.escape(v) for v in reversed(values))
    found = re.compile(rf"(?<![A-Za-z0-9])(?:{pattern})(?![A-Za-z0-9])", re.IGNORECASE)
    return found.sub(lambda _: replacement, unicodedata.normalize("NFKC", text))


def disguise_alert(alert: Alert, pseudonymiser: Pseudonymiser) -> Alert:
    """``alert`` as a channel may show it: the user id (and the dedup key, which is the user
    id) replaced by the pseudonym, in the reasons' text too. The stored alert is unchanged.
    """
    pseudonym = pseudonymiser.user(alert.user_id)
    person = {alert.user_id}

    def _masked(value: Any) -> Any:
        return mask_text(value, person, pseudonym) if isinstance(value, str) else value

    return dataclasses.replace(
        alert,
        user_id=pseudonym,
        dedup_key=mask_text(alert.dedup_key, person, pseudonym),
        reasons=[{k: _masked(v) for k, v in r.items()} for r in alert.reasons],
    )


def alert_disguise(settings: Settings) -> Callable[[Alert], Alert] | None:
    """What alerts/dispatch applies to every alert before a channel renders it: the
    pseudonymised alert when ``privacy.pseudonymise`` is on, else None (shown as stored).

    Raises:
        ConfigError: pseudonymise is on without a usable key (see :func:`pseudonymiser_for`).
    """
    pseudonymiser = pseudonymiser_for(settings)
    if pseudonymiser is None:
        return None
    return lambda alert: disguise_alert(alert, pseudonymiser)


#: Roles that see user ids even when pseudonymised (the issue: viewers and analysts see
#: pseudonyms; approvers grant re-identification, admins run the deployment).
IDENTIFIED_ROLES: Final = frozenset({"approver", "admin"})


def sees_user_ids(acting: Acting, pseudonymiser: Pseudonymiser | None) -> bool:
    """True when ``acting`` is shown user ids: pseudonymisation is off, or the effective
    principal holds one of :data:`IDENTIFIED_ROLES`."""
    return pseudonymiser is None or bool(acting.effective.roles & IDENTIFIED_ROLES)


def shown_user(user_id: str, acting: Acting, pseudonymiser: Pseudonymiser | None) -> str:
    """``user_id`` as ``acting`` may see it: itself, or its pseudonym (:func:`sees_user_ids`).

    Re-identification of one alert (privacy/reidentify.py ``reveal``) is the only other way
    a pseudonymised reader sees a user id.
    """
    if sees_user_ids(acting, pseudonymiser) or pseudonymiser is None:
        return user_id
    return pseudonymiser.user(user_id)
