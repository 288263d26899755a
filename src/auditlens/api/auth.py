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

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from auditlens.api.oidc import OidcVerifier
from auditlens.api.problems import Problem, forbidden, problem_responses, unauthenticated
from auditlens.api.stores import StoreHolder
from auditlens.config import Settings
from auditlens.identity import ROLES, Acting, Principal, Role
from auditlens.store import keys as store_keys
from auditlens.store.keys import KEY_MARK, ApiKey

Via = Literal["api_key", "oidc"]
Clock = Callable[[], dt.datetime]

#: The header an API key comes in.
KEY_HEADER: Final = "X-API-Key"
_key_header = APIKeyHeader(
    name=KEY_HEADER,
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
    """Turns the credential a request carries into a :class:`Caller`.

    A key the store proved is remembered for ``api.key_cache_seconds`` (by the sha256 of
    the secret, never the secret), so a busy BI tool does not cost a store query per
    request; its state (revoked, expired) is asked again after that time, and expiry is
    checked on every request.
    """

    def __init__(self, settings: Settings, stores: StoreHolder, clock: Clock) -> None:
        self.stores = stores
        self.clock = clock
        self.oidc = OidcVerifier(settings.api) if settings.api.oidc else None
        self._keys = KeyCache(settings.api.key_cache_seconds)

    def known(self, api_key: str | None, authorization: str | None) -> Caller | None:
        """The caller when the request's API key was proven moments ago and nothing is
        to be written (None: call :meth:`authenticate`, which may ask the store)."""
        if api_key and not authorization:
            presented = api_key.strip()
        elif authorization and not api_key:
            scheme, _, value = authorization.strip().partition(" ")
            presented = value.strip()
            if scheme.lower() not in ("apikey", "bearer") or not presented.startswith(KEY_MARK):
                return None
        else:
            return None
        key = self._keys.get(presented)
        if key is None:
            return None
        now = self.clock()
        if key.state(now) != "active" or key.role not in ROLES or store_keys.needs_touch(key, now):
            return None
        return Caller(Principal(key.principal_id, frozenset({key.role})), "api_key", key)

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
        # one proof per key at a time: when a busy key's cache entry lapses, the requests
        # arriving meanwhile wait for that one lookup (and its last-used write) instead of
        # each asking the store and queueing on the same row — a burst of ~0.5 s with a
        # p99 of 200+ ms every key_cache_seconds at 500 requests/s on PostgreSQL
        with self._keys.proving(presented):
            return self._proven_key(presented)

    def _proven_key(self, presented: str) -> Caller:
        store = self.stores.get()
        key = self._keys.get(presented) or store.keys.lookup(presented)
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
        if store_keys.needs_touch(key, now):
            store.keys.mark_used(key, now)
            key = dataclasses.replace(key, last_used_at=now)
        self._keys.put(presented, key)
        return Caller(Principal(key.principal_id, frozenset({key.role})), "api_key", key)


class KeyCache:
    """Keys proven recently, by the sha256 of their secret, for ``seconds`` each."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._known: dict[str, tuple[float, ApiKey]] = {}
        self._proving: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, presented: str) -> ApiKey | None:
        """The key ``presented`` was proven to be, if that was less than ``seconds`` ago."""
        if self.seconds <= 0:
            return None
        with self._lock:
            found = self._known.get(store_keys.secret_hash(presented))
        if found is None or time.monotonic() - found[0] >= self.seconds:
            return None
        return found[1]

    def proving(self, presented: str) -> threading.Lock:
        """The lock the proof of ``presented`` is made under (one per key secret)."""
        digest = store_keys.secret_hash(presented)
        with self._lock:
            if len(self._proving) >= _MAX_CACHED_KEYS:
                self._proving.clear()  # a flood of made-up keys: locks are cheap to remake
            return self._proving.setdefault(digest, threading.Lock())

    def put(self, presented: str, key: ApiKey) -> None:
        """Remember that ``presented`` is ``key`` (as the store says now)."""
        if self.seconds <= 0:
            return
        digest = store_keys.secret_hash(presented)
        with self._lock:
            if len(self._known) >= _MAX_CACHED_KEYS:
                self._known.clear()  # many keys at once: start over rather than grow
            self._known[digest] = (time.monotonic(), key)


#: Keys remembered at most (a deployment has tens; a flood of made-up keys never lands here).
_MAX_CACHED_KEYS: Final = 1024


def prove(request: Request) -> Caller:
    """The proven caller of ``request``, proven once per request (401 when there is none)."""
    cached: Caller | None = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    authenticator: Authenticator = request.app.state.authenticator
    caller = authenticator.authenticate(
        request.headers.get(KEY_HEADER), request.headers.get("authorization")
    )
    request.state.caller = caller
    return caller


async def proven(request: Request) -> Caller:
    """:func:`prove` without blocking the event loop: a key proven moments ago is answered
    at once; anything that may ask the store or verify a token runs on a worker thread."""
    cached: Caller | None = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    authenticator: Authenticator = request.app.state.authenticator
    known = authenticator.known(
        request.headers.get(KEY_HEADER), request.headers.get("authorization")
    )
    if known is None:
        return await run_in_threadpool(prove, request)
    request.state.caller = known
    return known


async def principal(
    request: Request,
    api_key: Annotated[str | None, Security(_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Caller:
    """FastAPI dependency: the proven caller of the request (401 when there is none)."""
    del api_key, bearer  # declared for the OpenAPI security schemes; prove() reads the headers
    return await proven(request)


#: OpenAPI extension of a write route: the roles it admits at all, checked before its body
#: is read (the route may still check the action's own role inside).
ROLES_EXTENSION: Final = "x-roles"


class ProvenRoute(APIRoute):
    """A /v1 route that proves its caller, and checks the roles a write route names in
    ``openapi_extra={"x-roles": [...]}``, *before* FastAPI reads the body: a caller with no
    right to write learns nothing about the body (401/403, never a 422 listing its fields),
    and a body that is not even JSON is refused the same way."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        admitted = frozenset((self.openapi_extra or {}).get(ROLES_EXTENSION, ()))

        async def proven_first(request: Request) -> Response:
            caller = await proven(request)
            if admitted and not caller.principal.roles & admitted:
                held = ", ".join(sorted(caller.principal.roles)) or "none"
                needed = " or ".join(sorted(admitted))
                raise forbidden(
                    f"{caller.principal.id} needs the {needed} role here (has: {held})",
                    f"{caller.principal.id}에게 {needed} 역할이 필요합니다 (보유: {held})",
                )
            try:
                return await handler(request)
            except HTTPException as exc:
                if exc.status_code != 400:
                    raise
                # FastAPI's "error parsing the body" (not UTF-8, say): a documented 422
                raise Problem(
                    422,
                    "invalid-request",
                    "Invalid request",
                    "the body cannot be read: send UTF-8 JSON",
                    "본문을 읽을 수 없습니다: UTF-8 JSON으로 보내십시오",
                ) from None

        return proven_first


def require(role: Role) -> Callable[[Caller], Coroutine[Any, Any, Caller]]:
    """FastAPI dependency: the caller, who must hold ``role`` (403 otherwise)."""

    async def check(caller: Annotated[Caller, Depends(principal)]) -> Caller:
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
        route_class=ProvenRoute,
        dependencies=[Depends(principal)],
        responses=problem_responses(*AUTH_PROBLEMS),
    )
