"""What the alert-queue and person page tests share: a pseudonymised deployment, a
session logged in as a principal of any roles, everything a page shows as text, and the
audit trail of a deployment."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from auditlens.api.auth import Caller
from auditlens.config import Settings, load_settings
from auditlens.dashboard import resources
from auditlens.identity import Principal
from auditlens.privacy import Pseudonymiser
from auditlens.store.audit import AuditEntry
from auditlens.store.repo import Store
from tests.dashboard.conftest import ENTRY, TIMEOUT, Deployment, show_page, write_config

#: The pseudonym key of the pseudonymised deployment (tests only).
KEY = "k" * 40


@pytest.fixture
def pseudonymised(deployment: Deployment) -> Iterator[Pseudonymiser]:
    """``deployment`` with ``[privacy] pseudonymise = true``; its pseudonymiser."""
    privacy = f'{{ pseudonymise = true, pseudonym_key = "{KEY}" }}'
    write_config(deployment.config, deployment.settings, privacy=privacy)
    resources.forget()
    assert load_settings().privacy.pseudonymise
    yield Pseudonymiser(SecretStr(KEY))
    resources.forget()


def open_as(
    principal: str,
    roles: set[str],
    lang: str,
    page: str,
    params: dict[str, str] | None = None,
) -> AppTest:
    """The dashboard on ``page`` for a session whose proven caller is ``principal`` with
    ``roles`` (as an OIDC token with several roles proves it; keys carry one role)."""
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.session_state["caller"] = Caller(Principal(principal, frozenset(roles)), "oidc")
    for name, value in (params or {}).items():
        at.query_params[name] = value
    at.run()
    return show_page(at, page).run()


def shown_texts(at: AppTest) -> list[str]:
    """Every text the page shows: headings, Markdown, captions, alerts, metrics, table
    cells, widget labels and options, expanders and the charts' data."""
    found: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "success", "warning",
                 "error"):  # fmt: skip
        found += [str(e.value) for e in getattr(at, kind)]
    found += [f"{m.label} {m.value}" for m in at.metric]
    for frame in at.dataframe:
        found += [str(v) for v in frame.value.astype(str).to_numpy().ravel()]
    for box in at.selectbox:
        found += [box.label, *map(str, box.options)]
    found += [e.label for e in at.expander]
    found += [str(c.proto.spec) for c in at.get("plotly_chart")]
    return found


def chart_specs(at: AppTest) -> list[dict[str, Any]]:
    """The Plotly figures the page drew, as their JSON."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def trail(settings: Settings, **filters: Any) -> list[AuditEntry]:
    """The audit entries matching ``filters`` (AuditRepository.entries), oldest first."""
    with Store.open(settings) as store:
        return store.audit.entries(**filters)


def table(at: AppTest, column: str) -> list[dict[str, str]]:
    """The rows of the first table the page shows with a column named ``column``."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            records = frame.value.astype(str).to_dict("records")
            return [{str(k): str(v) for k, v in row.items()} for row in records]
    raise AssertionError(f"no table with a column {column!r}")


def later(hours: float) -> dt.datetime:
    """Now plus ``hours`` (UTC)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
