"""Fixtures of the API tests: an admin-configured deployment, keys, clients, OIDC keys."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from auditlens.api.app import create_app
from auditlens.config import Settings
from auditlens.pipeline.keys import create_key
from auditlens.store.repo import Store

PRINCIPALS = {"park": ["admin"], "kim": ["analyst"], "lee": ["analyst", "approver"]}
ISSUER = "https://sso.bank.example/realms/audit"
AUDIENCE = "auditlens"
#: A fixed "now" for keys and tokens (Tuesday 2026-12-01 10:00 in Seoul).
NOW = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)


def with_principals(settings: Settings, **api: Any) -> Settings:
    """``settings`` with the test principals and ``[api]`` overrides."""
    return settings.model_copy(
        update={
            "principals": PRINCIPALS,
            "api": settings.api.model_copy(update=api) if api else settings.api,
        }
    )


@pytest.fixture
def deployment(settings: Settings) -> Settings:
    """The ``settings`` store (SQLite and PostgreSQL, migrated) with admin park, analysts kim
    and lee."""
    Store.open(settings, migrate=True).close()
    return with_principals(settings)


@pytest.fixture
def issue(deployment: Settings) -> Callable[..., str]:
    """Make a key as the admin park; returns the secret."""

    def make(name: str, role: str, expires: dt.date | None = None) -> str:
        issued = create_key(
            deployment, name, role, expires=expires, who_am_i=lambda: "park", clock=lambda: NOW
        )
        return issued.secret

    return make


@pytest.fixture
def client(deployment: Settings) -> Iterator[TestClient]:
    """A client of the app on ``deployment`` (clock at NOW), English problem details."""
    with TestClient(
        create_app(deployment, clock=lambda: NOW),
        headers={"Accept-Language": "en"},
        raise_server_exceptions=False,
    ) as test_client:
        yield test_client


def _b64(number: int, size: int = 0) -> str:
    raw = number.to_bytes(size or (number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Issuer:
    """An OIDC issuer of the test: an RSA and an EC key, their JWKS file, signed tokens."""

    def __init__(self, directory: Path) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.jwks = directory / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [self._public("rsa-1"), self._public("ec-1")]}))

    def _public(self, kid: str) -> dict[str, Any]:
        if kid.startswith("rsa"):
            numbers = self.rsa.public_key().public_numbers()
            return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                    "n": _b64(numbers.n), "e": _b64(numbers.e)}  # fmt: skip
        point = self.ec.public_key().public_numbers()
        return {"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                "x": _b64(point.x, 32), "y": _b64(point.y, 32)}  # fmt: skip

    def claims(self, **changes: Any) -> dict[str, Any]:
        """Valid claims for principal choi, analyst, changed by ``changes`` (None removes).

        Times are real: PyJWT checks them against the system clock."""
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "0f6c1e2a",
            "preferred_username": "Choi",
            "roles": ["analyst", "offline_access"],
            "iat": now - 60,
            "exp": now + 600,
        }
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    def token(self, kid: str = "rsa-1", alg: str | None = None, **changes: Any) -> str:
        """A token signed by the key ``kid`` names (``rsa-*``: RSA, else EC)."""
        key = self.rsa if kid.startswith("rsa") else self.ec
        algorithm = alg or ("RS256" if kid.startswith("rsa") else "ES256")
        return jwt.encode(self.claims(**changes), key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
def issuer(tmp_path: Path) -> Issuer:
    """A test OIDC issuer with a JWKS file in tmp_path."""
    return Issuer(tmp_path)


@pytest.fixture
def oidc_settings(sqlite_settings: Settings, issuer: Issuer) -> Settings:
    """A SQLite deployment trusting ``issuer``."""
    return with_principals(
        sqlite_settings, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks=str(issuer.jwks)
    )


@pytest.fixture
def oidc_client(oidc_settings: Settings) -> Iterator[TestClient]:
    """A client of the app trusting ``issuer`` (clock at NOW)."""
    with TestClient(
        create_app(oidc_settings, clock=lambda: NOW),
        headers={"Accept-Language": "en"},
        raise_server_exceptions=False,
    ) as test_client:
        yield test_client
