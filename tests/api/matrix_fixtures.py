"""A seeded deployment for the whole-API tests (authorisation matrix, schemathesis).

One store per test module, filled through the real repositories, intake and triage (the
helpers of ``tests/views/conftest.py``): scores of two users on two days, three alerts
(one acknowledged, one closed and approved by four eyes), an ingest batch with a
quarantined row. Keys come from the real key functions (``auditlens keys``): one per role,
one expired and one revoked; an OIDC issuer of the test signs tokens per role and the
bad ones (wrong audience, unknown kid, a key the issuer never published).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import polars as pl
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from auditlens.api.app import create_app
from auditlens.config import Settings
from auditlens.identity import ROLES, Acting, Directory, Principal
from auditlens.pipeline.keys import create_key, revoke_key
from auditlens.privacy.reidentify import decide_reidentification, request_reidentification
from auditlens.store.repo import Store
from auditlens.store.reviews import NewSample
from tests.alerts.conftest import T0
from tests.api.conftest import AUDIENCE, ISSUER, NOW, PRINCIPALS, Issuer
from tests.views.conftest import SHA_A, act, batch, model, open_alert, reason, scores

#: The users with scores; RISKY has alerts too.
RISKY = "U0042"
QUIET = "U0007"
#: a user with an open alert and no scores
OTHER = "U0099"
DAYS = (dt.date(2026, 9, 6), dt.date(2026, 9, 7))


@dataclass
class Seeded:
    """A migrated, filled store with keys and an issuer; ids to put in request paths."""

    settings: Settings
    issuer: Issuer
    keys: dict[str, str] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    #: re-identification requests: ``pending`` (by kim, on the closed alert)
    requests: dict[str, int] = field(default_factory=dict)
    #: review samples (miss-rate sampling): ``pending`` (QUIET's), ``spare`` (RISKY's)
    reviews: dict[str, int] = field(default_factory=dict)
    #: a second RSA key the issuer never published (tokens signed by an unknown key)
    stranger: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def app(self) -> FastAPI:
        """A fresh application on the seeded store (clock at NOW)."""
        return create_app(self.settings, clock=lambda: NOW)

    def key_headers(self, name: str) -> dict[str, str]:
        """``X-API-Key`` headers of the key ``name`` (a role, ``expired`` or ``revoked``)."""
        return {"X-API-Key": self.keys[name]}

    def token(self, *roles: str, **changes: Any) -> str:
        """A valid RS256 token of principal ``choi`` with ``roles`` (``changes`` to claims)."""
        return self.issuer.token(roles=list(roles), **changes)

    def bearer(self, token: str) -> dict[str, str]:
        """``Authorization: Bearer`` headers."""
        return {"Authorization": f"Bearer {token}"}

    def foreign_token(self, *roles: str) -> str:
        """A token under the issuer's kid, signed by a key the issuer never published."""
        return jwt.encode(
            self.issuer.claims(roles=list(roles)),
            self.stranger,
            algorithm="RS256",
            headers={"kid": "rsa-1"},
        )


def _fill(store: Store) -> dict[str, int]:
    """Scores, alerts, decisions and trail entries; returns alert ids by name (``awaiting``:
    closed by kim, critical, so it waits for another principal's approval)."""
    model(store, SHA_A)
    rows = [
        (user, day, risk, severity, [reason("off_hours_login_ratio", 0.62)])
        for day in DAYS
        for user, risk, severity in ((RISKY, 88.0, "high"), (QUIET, 12.0, "low"))
    ]
    scores(store, rows)
    batch(store, "w1", T0, quarantined=1)
    acked = open_alert(store, T0, user=RISKY, severity="high")
    act(store, acked, "acknowledge", "kim", T0 + dt.timedelta(minutes=5))
    closed = open_alert(store, T0, user=QUIET, severity="critical", feature="bulk_delete")
    act(store, closed, "close", "kim", T0 + dt.timedelta(minutes=10), reason="confirmed")
    act(store, closed, "approve", "lee", T0 + dt.timedelta(minutes=20))
    fresh = open_alert(store, T0, user=OTHER, severity="medium", feature="usb_copy", risk=61.0)
    awaiting = open_alert(store, T0, user="U0123", severity="critical", feature="bulk_delete")
    act(store, awaiting, "close", "kim", T0 + dt.timedelta(minutes=10), reason="confirmed")
    return {"acknowledged": acked, "closed": closed, "open": fresh, "awaiting": awaiting}


def _reviews(store: Store) -> dict[str, int]:
    """Two pending review samples of the seeded run (its users' first day)."""
    run = store.scores.last_run()
    assert run is not None
    first = store.scores.of_run(run.id).filter(pl.col("window") == DAYS[0])
    drawn = [
        NewSample(run.id, r["id"], r["user_id"], r["window"], r["decayed_risk"], r["severity"], 2)
        for r in first.sort("user_id", descending=True).iter_rows(named=True)
    ]
    pending, spare = store.reviews.add(drawn, T0)
    return {"pending": pending, "spare": spare}


def _keys(settings: Settings) -> dict[str, str]:
    """A key per role, an expired one and a revoked one (made by admin park)."""

    def issue(name: str, role: str, expires: dt.date | None = None, at: dt.datetime = NOW) -> str:
        made = create_key(
            settings, name, role, expires=expires, who_am_i=lambda: "park", clock=lambda: at
        )
        return made.secret

    keys: dict[str, str] = {role: issue(f"m-{role}", role) for role in ROLES}
    long_ago = NOW - dt.timedelta(days=30)
    last_day = (long_ago + dt.timedelta(days=2)).date()
    keys["expired"] = issue("m-expired", "admin", last_day, long_ago)
    keys["revoked"] = issue("m-revoked", "admin")
    revoke_key(settings, "m-revoked", who_am_i=lambda: "park", clock=lambda: NOW)
    return keys


@contextmanager
def _isolated() -> Iterator[None]:
    """No AUDITLENS_* variable or auditlens.toml of the developer (module scope)."""
    import os

    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AUDITLENS_") and name != "AUDITLENS_TEST_PG_URL":
                patch.delenv(name)
        patch.setenv("AUDITLENS_CONFIG", "/nonexistent/auditlens.toml")
        yield


def prepare(directory: Path, store_url: str) -> Seeded:
    """Settings for a store at ``store_url`` trusting a new issuer (JWKS in ``directory``);
    nothing is written to the store yet (an app made now opens it on first use)."""
    issuer = Issuer(directory)
    with _isolated():
        settings = Settings(
            store_url=store_url,
            data_dir=directory / "var",
            principals=PRINCIPALS,
            api={"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_jwks": str(issuer.jwks)},
        )
    return Seeded(settings=settings, issuer=issuer)


def fill(seeded: Seeded) -> Seeded:
    """Migrate and fill the store of ``seeded``; make its keys and re-identifications."""
    with _isolated():
        with Store.open(seeded.settings, migrate=True) as store:
            seeded.alerts = _fill(store)
            seeded.reviews = _reviews(store)
        seeded.keys = _keys(seeded.settings)
        with Store.open(seeded.settings) as store:
            seeded.requests = _reidentifications(store, seeded.alerts)
    return seeded


def _reidentifications(store: Store, alerts: dict[str, int]) -> dict[str, int]:
    """Live grants of the open alert for the analyst key and the analyst token (choi), so
    both may see its user; a pending request (kim's, on the closed alert) to decide."""
    lee = Directory(PRINCIPALS).acting("lee")
    at = NOW - dt.timedelta(minutes=1)
    for requester in ("key:m-analyst", "choi"):
        acting = Acting(Principal(requester, frozenset({"analyst"})))
        asked = request_reidentification(store, acting, alerts["open"], "case 2026-031", now=at)
        decide_reidentification(store, lee, asked.id, True, "case confirmed", now=at)
    kim = Directory(PRINCIPALS).acting("kim")
    pending = request_reidentification(store, kim, alerts["closed"], "case 2026-032", now=at)
    return {"pending": pending.id}


def seed(directory: Path, store_url: str) -> Seeded:
    """Migrate and fill the store at ``store_url``; keys and an issuer in ``directory``."""
    return fill(prepare(directory, store_url))


def client_of(seeded: Seeded) -> TestClient:
    """A test client of a fresh app on ``seeded`` (English problems, 500s as responses)."""
    return TestClient(
        seeded.app(), headers={"Accept-Language": "en"}, raise_server_exceptions=False
    )
