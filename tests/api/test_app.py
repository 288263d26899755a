"""The application's door: health without a principal, problem details, roles, OpenAPI."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from auditlens.api.app import create_app
from auditlens.api.auth import Admin, Analyst, v1_router
from auditlens.api.models import Strict
from auditlens.api.problems import problem_responses
from auditlens.config import Settings
from tests.api.conftest import NOW, Issuer

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


class Decision(Strict):
    """A strict request body of the test route."""

    risk: float
    note: str = ""


def _with_test_routes(app: FastAPI) -> FastAPI:
    """Routes as the /v1 data routes will declare them: a role per route, strict bodies."""
    router = v1_router()

    @router.post("/test/decisions", responses=problem_responses(401, 403, 422))
    def decide(body: Decision, caller: Analyst) -> dict[str, object]:
        return {"actor": caller.principal.id, "risk": body.risk}

    @router.get("/test/admin", responses=problem_responses(401, 403))
    def admin_only(caller: Admin) -> dict[str, str]:
        return {"actor": caller.principal.id}

    @router.get("/test/crash")
    def crash() -> None:
        raise RuntimeError("boom s3cr3t-value in a traceback")

    @router.get("/test/forgot-role")
    def forgot() -> dict[str, str]:
        return {"ok": "yes"}

    app.include_router(router)
    return app


@pytest.fixture
def keys(issue: Callable[..., str]) -> dict[str, str]:
    """A key per role."""
    return {role: issue(f"k-{role}", role) for role in ("viewer", "analyst", "approver", "admin")}


@pytest.fixture
def test_client(deployment: Settings) -> Iterator[TestClient]:
    app = _with_test_routes(create_app(deployment, clock=lambda: NOW))
    with TestClient(
        app, headers={"Accept-Language": "en"}, raise_server_exceptions=False
    ) as client:
        yield client


def _problem(response: object, status: int) -> dict[str, object]:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert PROBLEM_KEYS <= set(body) and body["status"] == status
    assert "Traceback" not in response.text
    return dict(body)


def test_health_needs_no_principal_and_tells_nothing_else(test_client: TestClient) -> None:
    assert test_client.get("/healthz").json() == {"status": "ok"}
    assert test_client.get("/readyz").json() == {"status": "ok"}


def test_readyz_is_a_bare_503_when_the_store_is_unreachable(sqlite_settings: Settings) -> None:
    down = sqlite_settings.model_copy(
        update={"store_url": SecretStr("postgresql+psycopg://app:hunter2@127.0.0.1:1/none")}
    )
    with TestClient(create_app(down), raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        body = _problem(client.get("/readyz", headers={"Accept-Language": "en"}), 503)
        assert body["detail"] == "not ready"
        assert "hunter2" not in str(body) and "127.0.0.1" not in str(body)
        # a key cannot be checked either: 503, not 401 and not 500
        keyed = client.get("/v1/whoami", headers={"X-API-Key": "alk_" + "0" * 12 + "_" + "x" * 43})
        assert _problem(keyed, 503)["type"] == "urn:auditlens:problem:store-unavailable"


def test_every_route_but_health_needs_a_principal(test_client: TestClient) -> None:
    paths = test_client.app.openapi()["paths"]  # type: ignore[attr-defined]
    operations = [(method, path) for path, ops in paths.items() for method in ops]
    assert len(operations) >= 7
    for method, path in operations:
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        response = test_client.request(method.upper(), concrete, json={})
        if path in {"/healthz", "/readyz"}:
            assert response.status_code == 200
        else:
            body = _problem(response, 401)
            assert body["type"] == "urn:auditlens:problem:unauthenticated"
            assert "Bearer" in response.headers["www-authenticate"]


def test_the_api_description_needs_a_principal_and_no_doc_pages_exist(
    test_client: TestClient, keys: dict[str, str]
) -> None:
    refused = test_client.get("/v1/openapi.json")
    assert refused.status_code == 401 and "/v1/users" not in refused.text
    spec = test_client.get("/v1/openapi.json", headers={"X-API-Key": keys["viewer"]}).json()
    assert "/v1/users/{user_id}/risk" in spec["paths"]
    for gone in ("/openapi.json", "/docs", "/redoc"):
        assert test_client.get(gone).status_code == 404


def test_whoami_with_each_credential(test_client: TestClient, keys: dict[str, str]) -> None:
    secret = keys["approver"]
    for headers in (
        {"X-API-Key": secret},
        {"Authorization": f"ApiKey {secret}"},
        {"Authorization": f"Bearer {secret}"},  # BI tools that only send bearer tokens
    ):
        body = test_client.get("/v1/whoami", headers=headers).json()
        assert body["id"] == "key:k-approver" and body["roles"] == ["approver"]
        assert body["via"] == "api_key" and body["key"]["name"] == "k-approver"
    both = test_client.get(
        "/v1/whoami", headers={"X-API-Key": secret, "Authorization": f"ApiKey {secret}"}
    )
    assert "one credential" in str(_problem(both, 401)["detail"])
    odd = test_client.get("/v1/whoami", headers={"Authorization": f"Basic {secret}"})
    assert "unsupported Authorization scheme" in str(_problem(odd, 401)["detail"])


def test_401_versus_403_by_role(test_client: TestClient, keys: dict[str, str]) -> None:
    for role, secret in keys.items():
        headers = {"X-API-Key": secret}
        admin = test_client.get("/v1/test/admin", headers=headers)
        if role == "admin":
            assert admin.json() == {"actor": "key:k-admin"}
        else:
            body = _problem(admin, 403)
            assert body["type"] == "urn:auditlens:problem:forbidden"
            assert f"key:k-{role} needs the admin role" in str(body["detail"])
        decided = test_client.post("/v1/test/decisions", headers=headers, json={"risk": 80.0})
        assert decided.status_code == (200 if role == "analyst" else 403)
        # a route that forgot to declare a role still needs a principal
        assert test_client.get("/v1/test/forgot-role", headers=headers).status_code == 200
    _problem(test_client.get("/v1/test/admin"), 401)
    _problem(test_client.get("/v1/test/admin", headers={"X-API-Key": "nonsense"}), 401)


def test_strict_bodies_are_422_problems(test_client: TestClient, keys: dict[str, str]) -> None:
    headers = {"X-API-Key": keys["analyst"]}
    ok = test_client.post("/v1/test/decisions", headers=headers, json={"risk": 80.0})
    assert ok.json() == {"actor": "key:k-analyst", "risk": 80.0}
    for bad in ({"risk": False}, {"risk": "80"}, {"risk": 80.0, "actor": "someone-else"}, {}):
        body = _problem(test_client.post("/v1/test/decisions", headers=headers, json=bad), 422)
        assert body["type"] == "urn:auditlens:problem:invalid-request"
        errors = body["errors"]
        assert isinstance(errors, list) and errors
        assert all(set(e) == {"loc", "msg", "type"} for e in errors)  # no echo of the input


def test_404_405_and_500_are_problems_without_internals(
    test_client: TestClient, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"X-API-Key": keys["viewer"]}
    _problem(test_client.get("/nowhere", headers=headers), 404)
    _problem(test_client.delete("/v1/whoami", headers=headers), 405)
    crash = _problem(test_client.get("/v1/test/crash", headers=headers), 500)
    assert "s3cr3t" not in str(crash) and "RuntimeError" not in str(crash)
    assert crash["error_id"] and str(crash["error_id"]) in caplog.text  # the operator finds it


def test_problem_detail_follows_accept_language(test_client: TestClient) -> None:
    ko = test_client.get("/v1/whoami", headers={"Accept-Language": "ko-KR,ko;q=0.9"}).json()
    assert "인증 정보가 없습니다" in ko["detail"]


def test_no_secret_reaches_the_logs(
    test_client: TestClient,
    keys: dict[str, str],
    issuer: Issuer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for secret in keys.values():
        test_client.get("/v1/whoami", headers={"X-API-Key": secret})
        test_client.get("/v1/whoami", headers={"X-API-Key": secret[:-2] + "zz"})
    token = issuer.token()
    test_client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    for secret in [*keys.values(), token]:
        assert secret not in caplog.text


def test_openapi_documents_statuses_and_security(test_client: TestClient) -> None:
    spec = test_client.app.openapi()  # type: ignore[attr-defined]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKey"]["description"],
    }
    assert schemes["OIDC"]["scheme"] == "bearer"
    whoami = spec["paths"]["/v1/whoami"]["get"]
    assert set(whoami["responses"]) == {"200", "401", "403", "500", "503"}
    assert whoami["security"] == [{"ApiKey": []}, {"OIDC": []}]
    assert set(spec["paths"]["/readyz"]["get"]["responses"]) == {"200", "500", "503"}
    assert "security" not in spec["paths"]["/healthz"]["get"]
    assert "422" in spec["paths"]["/v1/test/decisions"]["post"]["responses"]
    for path in spec["paths"].values():
        for operation in path.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], status


def test_opentelemetry_hooks_are_off_unless_configured(sqlite_settings: Settings) -> None:
    # FastAPI asked OpenTelemetry for its tracer provider on every request (a tenth of
    # the service's CPU under load) although nothing was configured to receive spans
    off = create_app(sqlite_settings)
    assert not off._native_telemetry.enabled()  # FastAPI has no public getter
    assert off._telemetry["tracing"] is False
    api = sqlite_settings.api.model_copy(update={"opentelemetry": True})
    on = create_app(sqlite_settings.model_copy(update={"api": api}))
    assert on._telemetry["tracing"] is True
