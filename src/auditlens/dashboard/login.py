"""The login gate: nothing but this form is shown to a session without a proven principal.

The form takes an API key (``auditlens keys create``) or an OIDC access token and proves
it with the API's :class:`~auditlens.api.auth.Authenticator` — the same check, the same
refusals (unknown, revoked or expired key; a token that does not verify), told in the
reader's language. The proven :class:`~auditlens.api.auth.Caller` is kept in
``st.session_state["caller"]``; logging out forgets it.

A test (or an embedding page) may put a key in ``st.session_state["api_key"]`` before the
first run: it is proven once, as if typed, and then forgotten.
"""

from __future__ import annotations

from typing import Final

import streamlit as st

from auditlens.api.auth import Authenticator, Caller
from auditlens.api.problems import Problem
from auditlens.i18n import Lang, pick
from auditlens.store.keys import KEY_MARK

#: Session-state key of the proven caller.
CALLER_KEY: Final = "caller"
#: Session-state key of a credential to prove on the next run (then removed).
PRESET_KEY: Final = "api_key"
_ERROR_KEY: Final = "login_error"


def credentials(given: str) -> tuple[str | None, str | None]:
    """``(api_key, authorization)`` for a credential as typed: an auditlens key
    (``alk_...``) goes as the key, anything else (a JWT, or ``Bearer ...``) as a bearer
    token.

    >>> credentials("alk_abc")
    ('alk_abc', None)
    >>> credentials("eyJhbGciOi.x.y")
    (None, 'Bearer eyJhbGciOi.x.y')
    """
    text = given.strip()
    if text.lower().startswith("bearer "):
        return None, text
    if text.startswith(KEY_MARK) or "." not in text:
        return text, None
    return None, f"Bearer {text}"


def prove(authenticator: Authenticator, given: str, lang: Lang) -> Caller | str:
    """The caller ``given`` proves, or the refusal's detail in ``lang``."""
    if not given.strip():
        return pick(lang, "Enter an API key or a token.", "API 키나 토큰을 입력하십시오.")
    api_key, authorization = credentials(given)
    try:
        return authenticator.authenticate(api_key, authorization)
    except Problem as problem:
        return pick(lang, problem.detail_en, problem.detail_ko)


def caller() -> Caller | None:
    """This session's proven caller (None: not logged in)."""
    found = st.session_state.get(CALLER_KEY)
    return found if isinstance(found, Caller) else None


def gate(authenticator: Authenticator, lang: Lang) -> Caller | None:
    """The session's caller; without one, the login form alone (None until proven)."""
    preset = st.session_state.pop(PRESET_KEY, None)
    if caller() is None and isinstance(preset, str):
        _accept(prove(authenticator, preset, lang))
    if caller() is not None:
        return caller()
    st.title(pick(lang, "auditlens risk dashboard", "auditlens 위험 대시보드"))
    with st.form("login", border=True):
        given = st.text_input(
            pick(lang, "API key or OIDC token", "API 키 또는 OIDC 토큰"),
            type="password",
            key="login_credential",
            help=pick(
                lang,
                "A key from `auditlens keys create`, or an access token of the "
                "configured OIDC issuer.",
                "`auditlens keys create`로 만든 키 또는 설정된 OIDC 발급자의 액세스 토큰.",
            ),
        )
        sent = st.form_submit_button(pick(lang, "Log in", "로그인"), key="login_submit")
    if sent:
        _accept(prove(authenticator, given, lang))
        if caller() is not None:
            st.rerun()
    refusal = st.session_state.get(_ERROR_KEY)
    if isinstance(refusal, str):
        st.error(refusal)
    return None


def _accept(outcome: Caller | str) -> None:
    if isinstance(outcome, Caller):
        st.session_state[CALLER_KEY] = outcome
        st.session_state.pop(_ERROR_KEY, None)
    else:
        st.session_state[_ERROR_KEY] = outcome


def logout() -> None:
    """Forget this session's caller (the next run shows the login form)."""
    st.session_state.pop(CALLER_KEY, None)
    st.session_state.pop(_ERROR_KEY, None)
