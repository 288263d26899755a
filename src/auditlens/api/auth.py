"""Who is calling, proven: an API key or an OIDC bearer token; and what they may do.

Credentials, one per request:

* ``X-API-Key: alk_...`` or ``Authorization: ApiKey alk_...`` (``Bearer alk_...`` works
  too, for BI tools that only send bearer tokens) — a key made by ``auditlens keys
  create``; its principal is ``key:NAME`` with the key's one role;
* ``Authorization: Bearer <JWT>`` — an OIDC token (``api/oidc.py``); its principal is the
  configured claim, its roles the configured claim's known roles.

No credential, an unknown, revoked or expired key, or a token that does not verify is a
401 (with ``WWW-Authenticate``); a proven principal without the route's role is a 403.
A route declares its role by the type of one parameter::

    @router.get("/v1/alerts", responses=problem_responses(401, 403))
    def alerts(caller: Viewer) -> ...:        # Viewer, Analyst, Approver or Admin
        ...  caller.principal.id is the actor to record, never a request field

Routes on :func:`v1_router` need a principal even if they forget to declare a role.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from auditlens.api.oidc import OidcVerifier
from auditlens.api.problems import forbidden, problem_responses, unauthenticated
from auditlens.api.stores import StoreHolder
from auditlens.config import Settings
from auditlens.identity import ROLES, Acting, Principal, Role
from auditlens.store.keys import KEY_MARK, ApiKey

Via = Literal["api_key", "oidc"]
Clock = Callable[[], dt.datetime]

_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="An API key from `auditlens keys create` (also accepted as "
    "`Authorization: ApiKey KEY`).",
    auto_error=False,
)
_bearer = HTTPBearer(
    scheme_name="OIDC",
    bearerFormat="JWT",
    description="An OIDC access token from the configured issuer ([api] oidc_*).",
    auto_error=False,
)


@dataclass(frozen=True)
class Caller:
    """The proven principal of a request and how it was proven."""

    principal: Principal
    via: Via
    key: ApiKey | None = None

    @property
    def acting(self) -> Acting:
        """The principal as the store's triage functions take it (no one acts for another)."""
        return Acting(self.principal)


class Authenticator:
    """Turns the credential a request carries into a :class:`Caller`."""

    def __init__(self, settings: Settings, stores: StoreHolder, clock: Clock) -> None:
        self.stores = stores
        self.clock = clock
        self.oidc = OidcVerifier(settings.api) if settings.api.oidc else None

    def authenticate(self, api_key: str | None, authorization: str | None) -> Caller:
        """The caller proven by the ``X-API-Key`` and ``Authorization`` headers.

        Raises:
            Problem: 401 (no or a bad credential, or two), 503 (store or keys unavailable).
        """
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if api_key and authorization:
            raise unauthenticated(
                "send one credential: X-API-Key or Authorization, not both",
                "인증 정보는 하나만 보내십시오: X-API-Key 또는 Authorization",
            )
        if api_key:
            return self._by_key(api_key.strip())
        if not authorization:
            raise unauthenticated(
                "no credential: send X-API-Key: KEY or Authorization: Bearer TOKEN",
                "인증 정보가 없습니다: X-API-Key: 키 또는 Authorization: Bearer 토큰을 보내십시오",
            )
        if scheme.lower() == "apikey" or (
            scheme.lower() == "bearer" and value.startswith(KEY_MARK)
        ):
            return self._by_key(value)
        if scheme.lower() == "bearer" and value:
            if self.oidc is None:
                raise unauthenticated(
                    "bearer tokens are not accepted here (no OIDC issuer configured); "
                    "use an API key",
                    "이 서비스는 베어러 토큰을 받지 않습니다 (OIDC 미설정); API 키를 쓰십시오",
                )
            return Caller(self.oidc.verify(value), "oidc")
        raise unauthenticated(
            f"unsupported Authorization scheme {scheme!r}: use Bearer or ApiKey",
            f"지원하지 않는 Authorization 방식 {scheme!r}입니다: Bearer 또는 ApiKey를 쓰십시오",
        )

    def _by_key(self, presented: str) -> Caller:
        store = self.stores.get()
        key = store.keys.lookup(presented)
        if key is None:
            raise unauthenticated("unknown API key", "등록되지 않은 API 키입니다")
        now = self.clock()
        state = key.state(now)
        if state == "revoked":
            raise unauthenticated(
                f"API key {key.prefix} was revoked", f"API 키 {key.prefix}은(는) 폐기되었습니다"
            )
        if state == "expired":
            raise unauthenticated(
                f"API key {key.prefix} has expired", f"API 키 {key.prefix}은(는) 만료되었습니다"
            )
        if key.role not in ROLES:  # pragma: no cover - create_key checks the role
            raise unauthenticated("API key with an unknown role", "알 수 없는 역할의 API 키입니다")
        store.keys.mark_used(key, now)
        return Caller(Principal(key.principal_id, frozenset({key.role})), "api_key", key)


def principal(
    request: Request,
    api_key: Annotated[str | None, Security(_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Caller:
    """FastAPI dependency: the proven caller of the request (401 when there is none)."""
    authenticator: Authenticator = request.app.state.authenticator
    del bearer  # declared for the OpenAPI security scheme; the header is read whole below
    return authenticator.authenticate(api_key, request.headers.get("authorization"))


def require(role: Role) -> Callable[[Caller], Caller]:
    """FastAPI dependency: the caller, who must hold ``role`` (403 otherwise)."""

    def check(caller: Annotated[Caller, Depends(principal)]) -> Caller:
        if not caller.principal.has(role):
            held = ", ".join(sorted(caller.principal.roles)) or "none"
            raise forbidden(
                f"{caller.principal.id} needs the {role} role here (has: {held})",
                f"{caller.principal.id}에게 {role} 역할이 필요합니다 (보유: {held})",
            )
        return caller

    check.__name__ = f"require_{role}"
    return check


Viewer = Annotated[Caller, Depends(require("viewer"))]
Analyst = Annotated[Caller, Depends(require("analyst"))]
Approver = Annotated[Caller, Depends(require("approver"))]
Admin = Annotated[Caller, Depends(require("admin"))]

#: What every authenticated route can answer besides its own statuses.
AUTH_PROBLEMS: Final = (401, 403, 503)


def v1_router() -> APIRouter:
    """A router under ``/v1`` whose every route needs a proven principal (401 without)."""
    return APIRouter(
        prefix="/v1",
        dependencies=[Depends(principal)],
        responses=problem_responses(*AUTH_PROBLEMS),
    )
