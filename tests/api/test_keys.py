"""API keys: made by an admin, shown once, stored hashed, listed without secrets, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from auditlens.api import auth
from auditlens.api.app import create_app
from auditlens.cli import app as cli
from auditlens.config import Settings
from auditlens.identity import IdentityError
from auditlens.pipeline.keys import create_key, list_keys, revoke_key
from auditlens.store.db import api_keys, audit_log
from auditlens.store.keys import ApiKeyError
from auditlens.store.repo import Store
from tests.api.conftest import NOW


def _dump(settings: Settings) -> str:
    """Every row of api_keys and audit_log as text."""
    with Store.open(settings) as store, store.engine.connect() as conn:
        rows = list(conn.execute(select(api_keys))) + list(conn.execute(select(audit_log)))
    return repr(rows)


def test_key_lifecycle_hash_only_shown_once_audited(
    deployment: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = create_key(
        deployment, "PowerBI-Audit", "viewer", who_am_i=lambda: "park", clock=lambda: NOW
    )
    secret = issued.secret
    assert secret.startswith(f"alk_{issued.key.prefix}_") and len(secret) >= 4 + 12 + 1 + 43
    assert secret not in repr(issued)
    stored = _dump(deployment)
    assert secret not in stored and secret.split("_", 2)[2] not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored  # only the hash is kept
    listed = list_keys(deployment, who_am_i=lambda: "park")
    assert [(k.name, k.role, k.created_by, k.state(NOW)) for k in listed] == [
        ("powerbi-audit", "viewer", "park", "active")
    ]
    assert secret not in repr(listed)
    with Store.open(deployment) as store, store.engine.connect() as conn:
        trail = conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.target)
        ).all()
    assert [tuple(r) for r in trail] == [("park", "key_create", f"key:{issued.key.id}")]

    revoked = revoke_key(deployment, "powerbi-audit", who_am_i=lambda: "PARK", clock=lambda: NOW)
    assert revoked.revoked_by == "park" and revoked.state(NOW) == "revoked"
    with pytest.raises(ApiKeyError, match="revoked already"):
        revoke_key(deployment, str(revoked.id), who_am_i=lambda: "park", clock=lambda: NOW)
    # the name is free again once revoked; an active name is not
    create_key(deployment, "powerbi-audit", "analyst", who_am_i=lambda: "park", clock=lambda: NOW)
    with pytest.raises(ApiKeyError, match="already named"):
        create_key(deployment, "powerbi-audit", "viewer", who_am_i=lambda: "park")
    assert secret not in caplog.text and secret not in _dump(deployment)
    assert "key_revoke" in _dump(deployment)


def test_only_an_admin_manages_keys(deployment: Settings) -> None:
    for who in ("kim", "lee", "stranger"):
        with pytest.raises(IdentityError):
            create_key(deployment, "x", "viewer", who_am_i=lambda w=who: w)  # type: ignore[misc]
        with pytest.raises(IdentityError):
            list_keys(deployment, who_am_i=lambda w=who: w)  # type: ignore[misc]
    create_key(deployment, "x", "viewer", who_am_i=lambda: "park")
    with pytest.raises(IdentityError):
        revoke_key(deployment, "x", who_am_i=lambda: "kim")
    with pytest.raises(Exception, match="unknown role 'root'"):
        create_key(deployment, "y", "root", who_am_i=lambda: "park")
    with pytest.raises(ApiKeyError, match="key name"):
        create_key(deployment, "has space", "viewer", who_am_i=lambda: "park")
    with pytest.raises(Exception, match="already past"):
        create_key(deployment, "z", "viewer", expires=dt.date(2020, 1, 1), who_am_i=lambda: "park")


def test_api_refuses_unknown_revoked_and_expired_keys(
    deployment: Settings,
    issue: Callable[..., str],
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = issue("bi", "viewer")
    short = issue("temp", "viewer", dt.date(2026, 12, 1))  # valid through 1 Dec, Seoul
    assert client.get("/v1/whoami", headers={"X-API-Key": good}).status_code == 200
    assert client.get("/v1/whoami", headers={"X-API-Key": short}).status_code == 200
    # the last day ends at midnight Seoul = 15:00 UTC
    late = TestClient(
        create_app(deployment, clock=lambda: dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)),
        headers={"Accept-Language": "en"},
    )
    expired = late.get("/v1/whoami", headers={"X-API-Key": short})
    assert expired.status_code == 401 and "has expired" in expired.json()["detail"]
    assert late.get("/v1/whoami", headers={"X-API-Key": good}).status_code == 200

    revoke_key(deployment, "bi", who_am_i=lambda: "park", clock=lambda: NOW)
    # a key proven moments ago is trusted for api.key_cache_seconds (5 s by default) ...
    assert client.get("/v1/whoami", headers={"X-API-Key": good}).status_code == 200
    later = time.monotonic() + deployment.api.key_cache_seconds
    monkeypatch.setattr(auth.time, "monotonic", lambda: later)
    # ... and refused once that has passed
    refused = client.get("/v1/whoami", headers={"X-API-Key": good})
    assert refused.status_code == 401 and "was revoked" in refused.json()["detail"]
    assert refused.headers["www-authenticate"].startswith("Bearer")
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    unknown = client.get("/v1/whoami", headers={"X-API-Key": forged})
    assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown API key"


def test_without_a_key_cache_revocation_counts_at_once(
    deployment: Settings, issue: Callable[..., str]
) -> None:
    settings = deployment.model_copy(
        update={"api": deployment.api.model_copy(update={"key_cache_seconds": 0})}
    )
    client = TestClient(create_app(settings), headers={"Accept-Language": "en"})
    good = issue("bi", "viewer")
    assert client.get("/v1/whoami", headers={"X-API-Key": good}).status_code == 200
    revoke_key(deployment, "bi", who_am_i=lambda: "park", clock=lambda: NOW)
    refused = client.get("/v1/whoami", headers={"X-API-Key": good})
    assert refused.status_code == 401 and "was revoked" in refused.json()["detail"]


def test_last_use_is_recorded(
    deployment: Settings, issue: Callable[..., str], client: TestClient
) -> None:
    secret = issue("bi", "viewer")
    assert client.get("/v1/whoami", headers={"X-API-Key": secret}).status_code == 200
    with Store.open(deployment) as store, store.engine.connect() as conn:
        used = conn.execute(text("SELECT last_used_at FROM api_keys")).scalar_one()
    assert used is not None


def test_cli_keys_create_list_revoke(
    deployment: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("AUDITLENS_STORE_URL", deployment.store_url.get_secret_value())
    monkeypatch.setenv("AUDITLENS_DATA_DIR", str(deployment.data_dir))
    monkeypatch.setenv("AUDITLENS_PRINCIPALS", '{"park": ["admin"], "kim": ["analyst"]}')
    runner = CliRunner()
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "kim")
    refused = runner.invoke(
        cli, ["--lang", "en", "keys", "create", "--name", "bi", "--role", "viewer"]
    )
    assert refused.exit_code == 1 and "needs the admin role" in refused.output
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "park")
    made = runner.invoke(
        cli,
        [
            "--lang",
            "en",
            "keys",
            "create",
            "--name",
            "bi",
            "--role",
            "viewer",
            "--expires",
            "2099-12-31",
        ],
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("alk_") and "\n" not in secret
    assert "shown only now" in made.stderr
    listed = runner.invoke(cli, ["--lang", "en", "keys", "list"])
    assert listed.exit_code == 0 and "bi" in listed.output and secret not in listed.output
    assert secret.split("_")[1] in listed.output  # the public prefix names it
    uncached = deployment.api.model_copy(update={"key_cache_seconds": 0})
    served = deployment.model_copy(update={"principals": {}, "api": uncached})
    with TestClient(create_app(served)) as client:
        ok = client.get("/v1/whoami", headers={"Authorization": f"ApiKey {secret}"})
        assert ok.json()["id"] == "key:bi" and ok.json()["roles"] == ["viewer"]
        revoked = runner.invoke(cli, ["--lang", "ko", "keys", "revoke", "bi"])
        assert revoked.exit_code == 0 and "폐기했습니다" in revoked.output
        assert client.get("/v1/whoami", headers={"X-API-Key": secret}).status_code == 401


def test_a_lapsed_key_is_proven_once_however_many_requests_wait(
    deployment: Settings, issue: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a busy key's cache entry lapses every key_cache_seconds: the requests arriving
    # meanwhile wait for one lookup instead of each asking the store (and each writing
    # its last use to the same row) — that herd stalled the API for half a second
    import threading

    from auditlens.api.stores import StoreHolder

    good = issue("bi", "viewer")
    authenticator = auth.Authenticator(deployment, StoreHolder(deployment), lambda: NOW)
    store = authenticator.stores.get()
    lookups = 0
    real_lookup = store.keys.lookup

    def slow_lookup(presented: str) -> object:
        nonlocal lookups
        lookups += 1
        time.sleep(0.05)  # the store is slow: everyone else arrives meanwhile
        return real_lookup(presented)

    monkeypatch.setattr(store.keys, "lookup", slow_lookup)
    start = threading.Barrier(16)
    callers: list[auth.Caller] = []

    def request() -> None:
        start.wait()
        callers.append(authenticator.authenticate(good, None))

    threads = [threading.Thread(target=request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(callers) == 16 and {c.principal.roles for c in callers} == {frozenset({"viewer"})}
    assert lookups == 1
    authenticator.stores.close()
