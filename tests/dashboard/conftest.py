"""Fixtures of the dashboard tests: a deployment filled from a generated organisation
(tests/organisation.py, built once per session and copied per test), its configuration
file, an API key per role, and :func:`open_app`, a logged-in Streamlit ``AppTest``.

Example::

    def test_something(open_app: OpenApp) -> None:
        at = open_app("viewer", "en", "model")
        assert at.title[0].value == "Model and data"
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from auditlens.api.auth import Caller
from auditlens.api.routes.common import Context
from auditlens.config import Settings, load_settings
from auditlens.dashboard import resources
from auditlens.identity import Principal
from auditlens.store.repo import Store
from tests.organisation import PRINCIPALS, Organisation, build, copy_deployment

ROLES = ("viewer", "analyst", "approver", "admin")
#: The script AppTest runs (tests/dashboard/entry.py says why not dashboard/app.py).
ENTRY = Path(__file__).with_name("entry.py")
#: Seconds an AppTest run may take (a cold first run imports plotly and pandas).
TIMEOUT = 60


@pytest.fixture(scope="session")
def organisation(tmp_path_factory: pytest.TempPathFactory) -> Organisation:
    """The generated organisation, built once (about 4 s), with a key per role."""
    built = build(tmp_path_factory.mktemp("dashboard-org"))
    keys: dict[str, str] = {}
    with Store.open(built.settings) as store:
        for role in ROLES:
            issued = store.keys.create(
                f"dash-{role}", role, created_by="park", now=dt.datetime.now(dt.UTC)
            )
            keys[role] = issued.secret
    (built.root / "keys.json").write_text(json.dumps(keys))
    return built


@dataclass(frozen=True)
class Deployment:
    """A test's own copy of the organisation: settings as the app loads them, the
    configuration file, and a secret API key per role."""

    settings: Settings
    config: Path
    keys: Mapping[str, str]
    organisation: Organisation


def write_config(path: Path, settings: Settings, **extra: str) -> None:
    """An auditlens.toml with ``settings``' store, lake, zone, language and principals
    (``extra``: more top-level lines, already TOML)."""
    lines = [
        f'store_url = "{settings.store_url.get_secret_value()}"',
        f'data_dir = "{settings.data_dir}"',
        f'timezone = "{settings.timezone}"',
        f'language = "{settings.language}"',
        *(f"{key} = {value}" for key, value in extra.items()),
        "[principals]",
        *(f"{who} = {json.dumps(roles)}" for who, roles in PRINCIPALS.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def deployment(
    organisation: Organisation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """A copy of the organisation's store and lake, named by ``AUDITLENS_CONFIG``."""
    copied = copy_deployment(organisation, tmp_path)
    config = tmp_path / "auditlens.toml"
    write_config(config, copied)
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    keys = json.loads((organisation.root / "keys.json").read_text())
    yield Deployment(load_settings(), config, keys, organisation)
    resources.forget()  # close the app's stores before tmp_path goes


def viewer_context(deployment: Deployment, lang: str = "en") -> Context:
    """The context a viewer's page renders with (the app's own store for these settings)."""
    kept = resources.resources(deployment.settings)
    who = Caller(Principal("key:dash-viewer", frozenset({"viewer"})), "api_key")
    return kept.context(who, "ko" if lang == "ko" else "en")


class OpenApp(Protocol):
    """Signature of the :func:`open_app` fixture."""

    def __call__(
        self,
        role: str | None = "viewer",
        lang: str = "ko",
        page: str = "overview",
        params: Mapping[str, str] | None = None,
    ) -> AppTest: ...


def show_page(at: AppTest, page: str) -> AppTest:
    """Open the navigation page ``page`` (its URL path) on the next run.

    ``AppTest.switch_page`` finds only file pages; the dashboard's pages are callables,
    which Streamlit identifies by the hash of their URL path (streamlit/navigation/page.py).
    """
    at._page_hash = calc_hash(page)  # private: no public way to a callable page
    return at


@pytest.fixture
def open_app(deployment: Deployment) -> Callable[..., AppTest]:
    """An AppTest of the dashboard run once, logged in with ``role``'s key (None: not
    logged in), reading ``lang``, on ``page`` with the query ``params``."""

    def make(
        role: str | None = "viewer",
        lang: str = "ko",
        page: str = "overview",
        params: Mapping[str, str] | None = None,
    ) -> AppTest:
        at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
        at.session_state["lang"] = lang
        if role is not None:
            at.session_state["api_key"] = deployment.keys[role]
        for name, value in (params or {}).items():
            at.query_params[name] = value
        at.run()
        if page != "overview" and role is not None:
            show_page(at, page).run()
        return at

    return make
