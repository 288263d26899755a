"""Every error as RFC 9457 problem details (``application/problem+json``).

A problem names its kind (``type``, a ``urn:auditlens:problem:...`` URN, or
``about:blank`` for a plain HTTP status), a short ``title``, the ``status``, a ``detail``
for a person (in the caller's language: ``Accept-Language`` ko or en, else the configured
``language``) and the ``instance`` (the request path). Server errors get an ``error_id``
that is also logged with the traceback; no stack trace, query or secret is ever sent.

A route raises :class:`Problem` and documents what it can return with
:func:`problem_responses`::

    @router.get("/v1/things/{id}", responses=problem_responses(401, 403, 404, 422))
"""

from __future__ import annotations

import http
import logging
import uuid
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from auditlens.i18n import Lang, is_lang, pick

log = logging.getLogger("auditlens.api")

MEDIA_TYPE: Final = "application/problem+json"
#: What a 401 tells the client it may send (RFC 9110 requires the header on 401).
CHALLENGE: Final = 'Bearer realm="auditlens", ApiKey realm="auditlens"'


class ProblemDocument(BaseModel):
    """RFC 9457 problem details, as this API sends them."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong in this occurrence, for a person.")
    instance: str = Field(description="The request path this occurrence belongs to.")


class Problem(Exception):
    """An error answered as problem details; raise it from routes and dependencies."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail_en: str,
        detail_ko: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail_en)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail_en = detail_en
        self.detail_ko = detail_ko
        self.headers = headers or {}
        self.extra = extra or {}


def unauthenticated(detail_en: str, detail_ko: str) -> Problem:
    """401: no credential, or one that proves nothing (with the WWW-Authenticate challenge)."""
    return Problem(
        401,
        "unauthenticated",
        "Authentication required",
        detail_en,
        detail_ko,
        headers={"WWW-Authenticate": CHALLENGE},
    )


def forbidden(detail_en: str, detail_ko: str) -> Problem:
    """403: a proven principal without the role the route needs."""
    return Problem(403, "forbidden", "Not allowed", detail_en, detail_ko)


def request_language(request: Request) -> Lang:
    """ko or en from ``Accept-Language`` (first listed wins), else the configured language."""
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if is_lang(tag):
            return tag
    configured = getattr(request.app.state, "language", "ko")
    return configured if is_lang(configured) else "ko"


def problem_response(
    request: Request,
    status: int,
    *,
    type_: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response for ``request``."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)  # noqa: S101 - registered for Problem only
    return problem_response(
        request,
        exc.status,
        type_=f"urn:auditlens:problem:{exc.slug}",
        title=exc.title,
        detail=pick(request_language(request), exc.detail_en, exc.detail_ko),
        headers=exc.headers,
        extra=exc.extra,
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    lang = request_language(request)
    detail = {
        404: pick(lang, f"nothing at {request.url.path}", f"{request.url.path}에 자원이 없습니다"),
        405: pick(
            lang,
            f"{request.method} is not allowed on {request.url.path}",
            f"{request.url.path}에는 {request.method}를 쓸 수 없습니다",
        ),
    }.get(exc.status_code, str(exc.detail) if exc.status_code < 500 else _phrase(exc.status_code))
    return problem_response(
        request,
        exc.status_code,
        type_="about:blank",
        title=_phrase(exc.status_code),
        detail=detail,
        headers=dict(exc.headers or {}),
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    # loc, msg and type only: pydantic's "input" would echo what was sent (maybe a secret)
    errors = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]
    lang = request_language(request)
    return problem_response(
        request,
        422,
        type_="urn:auditlens:problem:invalid-request",
        title="Invalid request",
        detail=pick(
            lang,
            f"the request does not match the API ({len(errors)} error(s), see errors)",
            f"요청이 API 형식에 맞지 않습니다 (오류 {len(errors)}개, errors 참고)",
        ),
        extra={"errors": errors},
    )


async def _on_crash(request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex
    log.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
    lang = request_language(request)
    return problem_response(
        request,
        500,
        type_="urn:auditlens:problem:internal",
        title="Internal server error",
        detail=pick(
            lang,
            f"the server failed; the operator can find error {error_id} in its log",
            f"서버 오류입니다; 운영자가 로그에서 오류 {error_id}를 찾을 수 있습니다",
        ),
        extra={"error_id": error_id},
    )


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem details."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Exception, _on_crash)


_TITLES: Final = {
    400: "Bad request",
    401: "No valid credential (API key or bearer token)",
    403: "The principal lacks the role the route needs",
    404: "Not found",
    409: "Conflict with the current state",
    422: "The request does not match the API (strict types, no unknown fields)",
    500: "Server error (an error_id to quote to the operator)",
    503: "Not ready (the store is unreachable or its schema is not current)",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the problem statuses a route can return (500 always)."""
    return {
        status: {
            "model": ProblemDocument,
            "description": _TITLES.get(status, _phrase(status)),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
        }
        for status in sorted({*statuses, 500})
    }
