"""Every page runs in both languages for a logged-in viewer, without errors or warnings."""

from __future__ import annotations

import pytest

from auditlens.dashboard.navigation import title
from tests.dashboard.conftest import OpenApp


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
