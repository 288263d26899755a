"""The dashboard's Streamlit script: ``streamlit run app.py`` (``auditlens serve dashboard``).

Each run: page config, the settings (as the CLI reads them), the language toggle
(default ``language`` from the settings), the login gate — nothing else is shown until a
principal is proven — then the navigation over the pages, each rendered with the
session's :class:`~auditlens.api.routes.common.Context`.

Deep links: ``/person?user=ID`` (a user id or a pseudonym) and ``/alerts?alert=ID`` open
those pages at that person or alert once the reader has logged in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import streamlit as st

from auditlens.api.problems import Problem
from auditlens.api.routes.common import Context
from auditlens.config import Settings
from auditlens.dashboard import login
from auditlens.dashboard.navigation import TITLES, PageName, page
from auditlens.dashboard.pages import alerts, model, overview, person
from auditlens.dashboard.resources import current_settings, resources
from auditlens.dashboard.widgets import LANG_KEY, zone_note
from auditlens.errors import AuditlensError
from auditlens.i18n import LANGS, Lang, is_lang, pick

#: Each page's renderer, in menu order.
RENDERERS: Final[dict[PageName, Callable[[Context], None]]] = {
    "overview": overview.render,
    "alerts": alerts.render,
    "person": person.render,
    "model": model.render,
}
_LANG_NAMES: Final = {"ko": "한국어", "en": "English"}


def _settings() -> Settings:
    """The settings, or a stop with the configuration error in both languages."""
    try:
        return current_settings()
    except AuditlensError as exc:
        st.error(f"{exc.text('ko')}\n\n{exc.text('en')}")
        st.stop()
        raise  # pragma: no cover - st.stop() raises


def language(default: str) -> Lang:
    """The sidebar's language toggle (first shown at ``default``)."""
    first = None if LANG_KEY in st.session_state else default if is_lang(default) else "ko"
    chosen = st.sidebar.segmented_control(
        "언어 / Language",
        LANGS,
        default=first,
        key=LANG_KEY,
        format_func=_LANG_NAMES.__getitem__,
        required=True,
    )
    return chosen if is_lang(chosen) else "ko"


def _pages(ctx: Context | None, lang: Lang) -> list[st.Page]:
    def body(name: PageName) -> Callable[[], None]:
        def run() -> None:
            if ctx is not None:
                _render(name, ctx)

        return run

    return [page(name, lang, body(name)) for name in TITLES]


def _render(name: PageName, ctx: Context) -> None:
    """Render one page; an error a person can act on is shown, not a traceback."""
    try:
        RENDERERS[name](ctx)
    except (AuditlensError, Problem) as exc:
        if isinstance(exc, Problem):
            st.error(ctx.say(exc.detail_en, exc.detail_ko))
        else:
            st.error(exc.text(ctx.lang))


def _sidebar(ctx: Context) -> None:
    who = ctx.caller.principal
    roles = ", ".join(sorted(who.roles))
    st.sidebar.caption(ctx.say(f"Signed in as **{who.id}** ({roles})", f"**{who.id}** ({roles})"))
    if st.sidebar.button(ctx.say("Log out", "로그아웃"), key="logout"):
        login.logout()
        st.rerun()
    st.sidebar.caption(zone_note(ctx))


def main() -> None:
    """One run of the script for one session."""
    st.set_page_config(page_title="auditlens", layout="wide")
    settings = _settings()
    kept = resources(settings)
    lang = language(settings.language)
    caller = login.gate(kept.authenticator, lang)
    if caller is None:  # the pages are registered (deep links survive) but none is shown
        st.navigation(_pages(None, lang), position="hidden")
        return
    try:
        ctx = kept.context(caller, lang)
    except Problem as exc:
        st.error(pick(lang, exc.detail_en, exc.detail_ko))
        return
    _sidebar(ctx)
    st.navigation(_pages(ctx, lang)).run()


if __name__ == "__main__":
    main()
