"""OIDC bearer tokens: signed in the test with RSA and EC keys, checked against a JWKS file."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from auditlens.config import Settings
from auditlens.errors import ConfigError
from tests.api.conftest import AUDIENCE, ISSUER, Issuer, with_principals


def _whoami(client: TestClient, token: str) -> tuple[int, dict[str, object]]:
    response = client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.headers["content-type"].startswith(
        "application/json" if response.status_code == 200 else "application/problem+json"
    )
    return response.status_code, response.json()


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_valid_token_proves_its_principal_and_known_roles(
    oidc_client: TestClient, issuer: Issuer, kid: str
) -> None:
    status, body = _whoami(oidc_client, issuer.token(kid))
    assert status == 200
    # preferred_username, normalised; offline_access is no auditlens role
    assert body == {"id": "choi", "roles": ["analyst"], "via": "oidc", "key": None}


def test_principal_falls_back_to_sub_and_roles_may_be_nested(
    sqlite_settings: Settings, issuer: Issuer
) -> None:
    from auditlens.api.app import create_app

    settings = with_principals(
        sqlite_settings,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks=str(issuer.jwks),
        oidc_roles_claim="realm_access.roles",
    )
    client = TestClient(create_app(settings))
    token = issuer.token(
        preferred_username=None, roles=None, realm_access={"roles": ["approver", "admin"]}
    )
    status, body = _whoami(client, token)
    assert status == 200
    assert body["id"] == "0f6c1e2a" and body["roles"] == ["admin", "approver"]


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _unsigned(issuer: Issuer) -> str:
    return jwt.encode(issuer.claims(roles=["admin"]), None, algorithm="none")


def _hs256_with_public_key(issuer: Issuer) -> str:
    # the classic confusion attack: the public key (known to all) used as an HMAC secret
    return jwt.encode(issuer.claims(), "a" * 64, algorithm="HS256", headers={"kid": "rsa-1"})


REFUSED = {
    "expired": (lambda i: i.token(exp=int(time.time()) - 3600), "has expired"),
    "not yet valid": (lambda i: i.token(nbf=int(time.time()) + 3600), "not valid yet"),
    "wrong audience": (lambda i: i.token(aud="another-app"), "another audience"),
    "wrong issuer": (lambda i: i.token(iss="https://evil.example/"), "another issuer"),
    "no exp": (lambda i: i.token(exp=None), "lacks a required claim"),
    "unknown kid": (lambda i: i.token(kid="rsa-2"), "not one of the issuer's keys"),
    "tampered": (lambda i: _tampered(i.token()), "signature does not verify"),
    "alg none": (_unsigned, "algorithm 'none' is not accepted"),
    "HS256": (_hs256_with_public_key, "algorithm 'HS256' is not accepted"),
    "not a JWT": (lambda i: "not-a-token", "not a well-formed JWT"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_tokens_are_401_with_a_clear_problem(
    oidc_client: TestClient, issuer: Issuer, case: str
) -> None:
    make, why = REFUSED[case]
    status, body = _whoami(oidc_client, make(issuer))
    assert status == 401, body
    assert body["type"] == "urn:auditlens:problem:unauthenticated"
    assert why in str(body["detail"])
    assert body["instance"] == "/v1/whoami"


def test_token_signed_by_the_other_key_under_a_kid_is_refused(
    oidc_client: TestClient, issuer: Issuer
) -> None:
    # an ES256 signature presented under the RSA key's kid
    token = jwt.encode(issuer.claims(), issuer.ec, algorithm="ES256", headers={"kid": "rsa-1"})
    status, body = _whoami(oidc_client, token)
    assert status == 401, body


def test_a_token_without_known_roles_is_authenticated_but_forbidden(
    oidc_client: TestClient, issuer: Issuer
) -> None:
    status, body = _whoami(oidc_client, issuer.token(roles=["offline_access"]))
    assert status == 403
    assert body["type"] == "urn:auditlens:problem:forbidden"
    assert "choi needs the viewer role" in str(body["detail"])


def test_bearer_without_oidc_configured_is_401(client: TestClient, issuer: Issuer) -> None:
    status, body = _whoami(client, issuer.token())
    assert status == 401 and "no OIDC issuer configured" in str(body["detail"])


def test_oidc_settings_are_checked(issuer: Issuer) -> None:
    with pytest.raises(ValueError, match="OIDC needs oidc_issuer, oidc_audience and oidc_jwks"):
        Settings(api={"oidc_issuer": ISSUER})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be https"):
        Settings(api={"oidc_issuer": ISSUER, "oidc_audience": "a", "oidc_jwks": "http://x/j"})  # type: ignore[arg-type]
    # where the service listens and whom it trusts never changes a score
    api = {"port": 9000, "oidc_issuer": ISSUER, "oidc_audience": "a", "oidc_jwks": "j.json"}
    assert Settings(api=api).fingerprint() == Settings().fingerprint()  # type: ignore[arg-type]
    for bad in ("none", "HS256"):
        with pytest.raises(ValueError, match="oidc_algorithms"):
            Settings(api={"oidc_algorithms": [bad]})  # type: ignore[arg-type]


def test_unreadable_jwks_is_a_config_error(sqlite_settings: Settings, tmp_path: object) -> None:
    from auditlens.api.app import create_app

    settings = with_principals(
        sqlite_settings, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks="/no/such/jwks"
    )
    with pytest.raises(ConfigError, match="cannot read a JWKS"):
        create_app(settings)
