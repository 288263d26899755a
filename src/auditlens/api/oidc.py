"""OIDC bearer tokens: signature (JWKS), issuer, audience and times checked with PyJWT.

Only asymmetric algorithms from ``[api] oidc_algorithms`` are accepted — never ``none``
and never HS*, whose key would be a secret every client shares. The signing keys come
from a JWKS file (offline) or an https URL (PyJWT's client: cached, refetched when a
token names an unknown ``kid``). The principal is the ``oidc_principal_claim`` (else
``sub``); roles are the ``oidc_roles_claim`` intersected with the roles auditlens knows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet

from auditlens.api.problems import Problem, unauthenticated
from auditlens.config import ApiConfig
from auditlens.errors import ConfigError
from auditlens.identity import ROLES, SYSTEM_PRINCIPAL, Principal, normalise

#: PyJWT's errors, as a person reads them (en, ko).
_REASONS: Final[list[tuple[type[Exception], str, str]]] = [
    (jwt.ExpiredSignatureError, "the token has expired", "토큰이 만료되었습니다"),
    (
        jwt.ImmatureSignatureError,
        "the token is not valid yet (nbf/iat in the future)",
        "토큰이 아직 유효하지 않습니다 (nbf/iat가 미래)",
    ),
    (
        jwt.InvalidAudienceError,
        "the token is for another audience (aud)",
        "다른 대상(aud)을 위한 토큰입니다",
    ),
    (
        jwt.InvalidIssuerError,
        "the token was issued by another issuer (iss)",
        "다른 발급자(iss)가 발급한 토큰입니다",
    ),
    (
        jwt.MissingRequiredClaimError,
        "the token lacks a required claim (exp, iss, aud)",
        "토큰에 필수 클레임(exp, iss, aud)이 없습니다",
    ),
    (
        jwt.InvalidSignatureError,
        "the token's signature does not verify",
        "토큰 서명이 올바르지 않습니다",
    ),
    (
        jwt.InvalidAlgorithmError,
        "the token's algorithm is not accepted",
        "허용되지 않은 서명 알고리즘입니다",
    ),
]


class OidcVerifier:
    """Checks bearer tokens against one issuer, audience and key set."""

    def __init__(self, config: ApiConfig) -> None:
        if not config.oidc:
            raise ConfigError("api: OIDC is not configured (oidc_issuer, oidc_audience, oidc_jwks)")
        self.config = config
        self.algorithms = list(config.oidc_algorithms)
        source = config.oidc_jwks or ""
        self._client: PyJWKClient | None = None
        self._keys: PyJWKSet | None = None
        if source.startswith("https://"):
            self._client = PyJWKClient(
                source, cache_keys=True, lifespan=config.oidc_jwks_cache_seconds, timeout=10
            )
        else:
            self._keys = _read_jwks(Path(source))

    def verify(self, token: str) -> Principal:
        """The principal ``token`` proves.

        Raises:
            Problem: 401 naming what is wrong with the token; 503 when the keys cannot be
                fetched.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthenticated(
                "the bearer token is not a well-formed JWT", "베어러 토큰이 올바른 JWT가 아닙니다"
            ) from None
        alg = header.get("alg")
        accepted = ", ".join(self.algorithms)
        if alg not in self.algorithms:
            raise unauthenticated(
                f"token algorithm {alg!r} is not accepted (accepted: {accepted})",
                f"토큰 서명 알고리즘 {alg!r}은(는) 허용되지 않습니다 ({accepted}만 허용)",
            )
        key = self._key(header.get("kid"))
        family = {"RS": "RSA", "PS": "RSA", "ES": "EC"}.get(str(alg)[:2], "OKP")
        if key.key_type != family or (key.algorithm_name != str(alg) and family != "RSA"):
            raise unauthenticated(
                f"the token's algorithm {alg} does not fit its key ({key.key_type})",
                f"토큰의 서명 알고리즘 {alg}이(가) 키({key.key_type})와 맞지 않습니다",
            )
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[str(alg)],
                audience=self.config.oidc_audience,
                issuer=self.config.oidc_issuer,
                leeway=self.config.oidc_leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            for kind, en, ko in _REASONS:
                if isinstance(exc, kind):
                    raise unauthenticated(en, ko) from None
            raise unauthenticated(
                "the bearer token is invalid", "베어러 토큰이 유효하지 않습니다"
            ) from None
        return self._principal(claims)

    def _key(self, kid: object) -> PyJWK:
        unknown = unauthenticated(
            f"the token's signing key (kid {kid!r}) is not one of the issuer's keys",
            f"토큰의 서명 키(kid {kid!r})는 발급자의 키가 아닙니다",
        )
        if self._client is not None:
            try:
                if kid is None:
                    raise unknown
                return self._client.get_signing_key(str(kid))
            except jwt.PyJWKClientConnectionError:
                raise Problem(
                    503,
                    "identity-provider-unavailable",
                    "Service unavailable",
                    "the identity provider's keys cannot be fetched now",
                    "ID 공급자의 서명 키를 가져올 수 없습니다",
                ) from None
            except jwt.PyJWKClientError:
                raise unknown from None
        assert self._keys is not None  # noqa: S101 - one of the two is set in __init__
        keys = self._keys.keys
        if kid is None and len(keys) == 1:
            found = keys[0]
        else:
            matches = [k for k in keys if k.key_id is not None and k.key_id == kid]
            if not matches:
                raise unknown
            found = matches[0]
        return found

    def _principal(self, claims: dict[str, Any]) -> Principal:
        raw = claims.get(self.config.oidc_principal_claim) or claims.get("sub")
        name = normalise(raw) if isinstance(raw, str) else ""
        if not name or name == SYSTEM_PRINCIPAL or name.startswith("key:"):
            claim = self.config.oidc_principal_claim
            raise unauthenticated(
                f"the token names no usable principal ({claim}/sub)",
                f"토큰에 사용할 수 있는 사용자 식별자가 없습니다 ({claim}/sub)",
            )
        value: Any = claims
        for part in self.config.oidc_roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            value = value.split()
        held = {r for r in value if isinstance(r, str)} if isinstance(value, list) else set()
        return Principal(name, frozenset(held & set(ROLES)))


def _read_jwks(path: Path) -> PyJWKSet:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PyJWKSet.from_dict(data)
    except (OSError, ValueError, jwt.PyJWTError) as exc:
        raise ConfigError(
            f"api.oidc_jwks: cannot read a JWKS from {path}: {exc}",
            ko=f"api.oidc_jwks: {path}에서 JWKS를 읽을 수 없습니다: {exc}",
        ) from None
