"""The dashboard's pages: their URL paths and titles, and in-app moves between them.

A page is addressed by its URL path (``/overview``, ``/alerts``, ``/person``, ``/model``);
Streamlit identifies a page by that path alone, so a link built here reaches the page
``app.py`` registered under the same path. Moving inside the app (``st.page_link``,
``st.switch_page``) keeps the session — and its login — where a plain ``<a href>``
would start a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Literal

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from auditlens.i18n import pick

PageName = Literal["overview", "alerts", "person", "model"]

#: Every page in menu order: URL path -> (English, Korean) title.
TITLES: Final[Mapping[PageName, tuple[str, str]]] = {
    "overview": ("Overview", "현황"),
    "alerts": ("Alert queue", "알림 처리"),
    "person": ("Person", "개인별 상세"),
    "model": ("Model and data", "모델과 데이터"),
}

#: Query parameters a page reads as its starting point (deep links).
USER_PARAM: Final = "user"
ALERT_PARAM: Final = "alert"


def title(name: PageName, lang: str) -> str:
    """The page's title in ``lang``."""
    en, ko = TITLES[name]
    return pick(lang, en, ko)


def _nothing() -> None:
    """The body of a page object made only to link to it (never run)."""


def page(name: PageName, lang: str, body: Callable[[], None] = _nothing) -> StreamlitPage:
    """The page ``name`` (``body`` renders it; links need no body)."""
    return st.Page(
        body,
        title=title(name, lang),
        url_path=name,
        default=name == "overview",
    )


def go(name: PageName, lang: str, params: Mapping[str, str] | None = None) -> None:
    """Move this session to the page ``name`` with ``params`` as its query (stops the run)."""
    st.switch_page(page(name, lang), query_params=dict(params or {}))
