"""What every /v1 data route shares: the request's context (store, caller, language,
pseudonymiser, clock), pseudonymised display of user ids, and the errors of the read
model and triage as problem details.

Pseudonymisation (``[privacy] pseudonymise``): a caller who does not see user ids
(viewer, analyst: :func:`auditlens.privacy.sees_user_ids`) gets pseudonyms in every user
id field and in free text that names the person (reasons, notes, audit targets); a user
id they send (path or filter) is read as a pseudonym and resolved among the store's
users — a real user id from them finds nobody (404 or an empty list).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Annotated, Any, Final, Literal, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, StringConstraints
from sqlalchemy import select

from auditlens.alerts.triage import TriageError
from auditlens.api.auth import Caller
from auditlens.api.problems import Problem, problem_response, request_language
from auditlens.config import Settings
from auditlens.i18n import Lang, pick
from auditlens.identity import IdentityError
from auditlens.privacy import Pseudonymiser, ViewRecorder, mask_text, record_view, sees_user_ids
from auditlens.privacy.pseudonyms import canonical
from auditlens.store.alerts import AlertNotFound
from auditlens.store.audit import AuditEntry
from auditlens.store.db import scores
from auditlens.store.repo import Store
from auditlens.views import MAX_LIMIT, NotFound, Page

M = TypeVar("M", bound=BaseModel)

#: A filter value that matches no user (a pseudonym that resolves to nobody).
NOBODY: Final = "\u2400nobody"

#: Days a period may name (dates outside would overflow the time arithmetic).
FIRST_DAY: Final = dt.date(1900, 1, 1)
LAST_DAY: Final = dt.date(2999, 12, 31)


def _clean(text: str) -> str:
    """Text the stores can hold: no NUL, valid Unicode (no lone surrogates)."""
    if "\x00" in text:
        raise ValueError("NUL characters are not allowed")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("invalid Unicode (lone surrogate)") from None
    return text


def _sane_day(day: dt.date) -> dt.date:
    """``day`` held to 1900-2999 (no data lies outside; beyond, time arithmetic overflows)."""
    return min(max(day, FIRST_DAY), LAST_DAY)


#: Text from a request: no NUL, valid Unicode (422 otherwise).
Clean = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$"), AfterValidator(_clean)]


def _iso_day(value: object) -> object:
    """Only ``YYYY-MM-DD`` is a day: pydantic would read ``0`` or ``86400`` as a Unix time."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise ValueError("expected a day as YYYY-MM-DD")
    return value


_ISO_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
#: A day from a request (``YYYY-MM-DD`` only), held to 1900-01-01 .. 2999-12-31.
Day = Annotated[dt.date, BeforeValidator(_iso_day), AfterValidator(_sane_day)]

Format = Annotated[
    Literal["json", "csv"] | None,
    Query(alias="format", description="csv: the list as CSV (same as Accept: text/csv)"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page (1-500)")]
Offset = Annotated[int, Query(ge=0, le=2**31, description="items to skip")]
Purpose = Annotated[
    Clean | None,
    Query(max_length=500, description="why you look (recorded in the audit trail)"),
]


class PseudonymIndex:
    """Pseudonyms already resolved to user ids (a pseudonym never changes its user while
    the key stays; a miss looks among the store's users again, so new users are found)."""

    def __init__(self, pseudonymiser: Pseudonymiser | None) -> None:
        self.pseudonymiser = pseudonymiser
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def find(self, store: Store, given: str) -> str | None:
        """The user whose pseudonym ``given`` is (None: nobody, or not a pseudonym)."""
        wanted = canonical(given)
        if wanted is None or self.pseudonymiser is None:
            return None
        with self._lock:
            if wanted in self._known:
                return self._known[wanted]
        with store.engine.connect() as conn:
            users = conn.execute(select(scores.c.user_id).distinct()).scalars().all()
        found = self.pseudonymiser.reverse(wanted, users)
        if found is not None:
            with self._lock:
                self._known[wanted] = found
        return found


@dataclasses.dataclass(frozen=True)
class Context:
    """One request's view of the service."""

    store: Store
    caller: Caller
    lang: Lang
    pseudonymiser: Pseudonymiser | None
    now: dt.datetime
    settings: Settings
    pseudonyms: PseudonymIndex
    #: Where reads of people are recorded (None: one transaction per read).
    views: ViewRecorder | None = None

    @classmethod
    def of(cls, request: Request, caller: Caller) -> Context:
        """The context of ``request`` made by ``caller`` (503 when the store is down)."""
        state = request.app.state
        return cls(
            store=state.stores.get(),
            caller=caller,
            lang=request_language(request),
            pseudonymiser=state.pseudonymiser,
            pseudonyms=state.pseudonyms,
            now=state.authenticator.clock(),
            settings=state.settings,
            views=state.stores.views(),
        )

    def viewed(self, user_id: str, what: str, purpose: str | None) -> Future[AuditEntry]:
        """Watch the watchers: record that the caller read ``what`` of ``user_id``; the
        future completes when the entry is committed (answer the read only then)."""
        acting, hidden = self.caller.acting, not self.sees_ids
        if self.views is not None:
            return self.views.submit(
                acting, user_id, what, purpose, now=self.now, pseudonymised=hidden
            )
        entry = record_view(
            self.store, acting, user_id, what, purpose, now=self.now, pseudonymised=hidden
        )
        done: Future[AuditEntry] = Future()
        done.set_result(entry)
        return done

    @property
    def sees_ids(self) -> bool:
        """True when the caller is shown user ids (not pseudonyms)."""
        return sees_user_ids(self.caller.acting, self.pseudonymiser)

    @property
    def zone(self) -> str:
        """The deployment's time zone (periods are its local days)."""
        return self.settings.timezone

    def show(self, user_id: str) -> str:
        """``user_id`` as the caller may see it."""
        if self.sees_ids or self.pseudonymiser is None:
            return user_id
        return self.pseudonymiser.user(user_id)

    def mask(self, text: str, user_id: str | None) -> str:
        """``text`` with ``user_id`` replaced by what the caller may see of it."""
        if user_id is None or self.sees_ids or not text:
            return text
        return mask_text(text, {user_id}, self.show(user_id))

    def disguise(self, model: M, user_id: str | None) -> M:
        """``model`` with ``user_id`` shown as the caller may see it in every text field
        (the user id fields included); numbers and the model's shape unchanged."""
        if user_id is None or self.sees_ids:
            return model
        masked = _walk(model.model_dump(mode="json"), lambda text: self.mask(text, user_id))
        return type(model).model_validate_json(json.dumps(masked, ensure_ascii=False))

    def resolve(self, given: str) -> str | None:
        """The user id the caller means by ``given``: itself for callers who see ids, else
        the user whose pseudonym it is (None: nobody)."""
        if self.sees_ids or self.pseudonymiser is None:
            return given
        return self.pseudonyms.find(self.store, given)

    def user_filter(self, given: str | None) -> str | None:
        """A user filter as the store reads it (:data:`NOBODY` for an unknown pseudonym)."""
        if given is None:
            return None
        return self.resolve(given) or NOBODY

    def say(self, en: str, ko: str) -> str:
        """``en`` or ``ko`` in the request's language."""
        return pick(self.lang, en, ko)


def _walk(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _walk(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    return value


def json_response(model: BaseModel) -> Response:
    """``model`` as the JSON body of a 200, serialised once (FastAPI would validate a
    returned view model against itself again: a third of a hot route's time)."""
    return Response(model.model_dump_json(), media_type="application/json")


def page(limit: int, offset: int) -> Page:
    """The page the query asks for."""
    return Page(limit=limit, offset=offset)


def unknown_user(given: str) -> Problem:
    """404: no such user (or, for a pseudonymised caller, no user with that pseudonym)."""
    return Problem(
        404,
        "not-found",
        "Not found",
        f"no stored score of user {given!r}",
        f"사용자 {given!r}의 저장된 위험 점수가 없습니다",
    )


def conflict(en: str, ko: str) -> Problem:
    """409: the request conflicts with the current state (a lifecycle refusal)."""
    return Problem(409, "conflict", "Conflict", en, ko)


async def _on_not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound | AlertNotFound)  # noqa: S101 - registered for these
    lang = request_language(request)
    if isinstance(exc, AlertNotFound):
        detail = pick(lang, str(exc), "알림이 없습니다")
    else:
        detail = exc.ko or exc.message if lang == "ko" else exc.message
    return problem_response(
        request, 404, type_="urn:auditlens:problem:not-found", title="Not found", detail=detail
    )


async def _on_identity(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IdentityError)  # noqa: S101 - registered for IdentityError
    return problem_response(
        request,
        403,
        type_="urn:auditlens:problem:forbidden",
        title="Not allowed",
        detail=exc.text(request_language(request)),
    )


async def _on_triage(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TriageError)  # noqa: S101 - registered for TriageError
    return problem_response(
        request,
        409,
        type_="urn:auditlens:problem:conflict",
        title="Conflict",
        detail=exc.text(request_language(request)),
    )


def install_errors(app: FastAPI) -> None:
    """Answer the read model's and triage's errors as problem details."""
    app.add_exception_handler(NotFound, _on_not_found)
    app.add_exception_handler(AlertNotFound, _on_not_found)
    app.add_exception_handler(IdentityError, _on_identity)
    app.add_exception_handler(TriageError, _on_triage)
