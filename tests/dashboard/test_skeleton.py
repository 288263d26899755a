"""The skeleton: no principal sees only the login form; a key logs in; every page runs."""

from __future__ import annotations

import pytest

from auditlens.dashboard.navigation import title
from tests.dashboard.conftest import OpenApp


def test_without_a_principal_only_the_login_form_shows(open_app: OpenApp) -> None:
    at = open_app(None, "en")
    assert not at.exception
    assert [t.value for t in at.title] == ["auditlens risk dashboard"]
    assert [t.label for t in at.text_input] == ["API key or OIDC token"]
    assert not at.metric and not at.dataframe


@pytest.mark.parametrize("page", ["overview", "alerts", "person", "model"])
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_page_runs_in_both_languages(open_app: OpenApp, page: str, lang: str) -> None:
    at = open_app("viewer", lang, page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]
    shown = [t.value for t in at.title] + [c.value for c in at.caption]
    assert any(
        title(page, lang) in text or "coming" in text or "준비 중" in text for text in shown
    ), shown
