"""Watch the watchers on the dashboard: a page that shows one named person records it in
the audit trail, as the API does for every read (:func:`auditlens.privacy.record_view`).

Streamlit runs a page's script again on every click in it; those runs are one look, not
many. A session records a view when it first shows a person (or an alert of theirs), when
the reader gives a different purpose, and again once :data:`RENEW` has passed since the
last entry for that same view — so the trail tells who looked at whom, when and why,
without an entry per click.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.privacy import record_view
from auditlens.store.audit import AuditEntry

#: A view of the same person, for the same purpose, is recorded again after this long.
RENEW: Final = dt.timedelta(minutes=30)
_SEEN_KEY: Final = "_views_recorded"


def viewed(ctx: Context, user_id: str, what: str, purpose: str | None = None) -> AuditEntry | None:
    """Record that the session's principal sees ``what`` of ``user_id`` (the real id),
    unless this session recorded the same view less than :data:`RENEW` ago; the entry
    written, or None."""
    given = (purpose or "").strip()
    key = (what, user_id, given, ctx.caller.principal.id)
    seen: dict[tuple[str, str, str, str], dt.datetime] = st.session_state.setdefault(_SEEN_KEY, {})
    last = seen.get(key)
    if last is not None and ctx.now - last < RENEW:
        return None
    entry = record_view(
        ctx.store,
        ctx.caller.acting,
        user_id,
        what,
        given or None,
        now=ctx.now,
        pseudonymised=not ctx.sees_ids,
    )
    seen[key] = ctx.now
    return entry
