"""The login gate: nothing but the form without a principal; refusals as the API words
them, in the chosen language; a key or an OIDC token logs in; logout forgets it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from auditlens.dashboard.login import CALLER_KEY
from auditlens.store.repo import Store
from tests.api.conftest import AUDIENCE, ISSUER, Issuer
from tests.dashboard.conftest import ENTRY, TIMEOUT, Deployment, OpenApp, write_config


def _type_and_submit(at: AppTest, credential: str) -> AppTest:
    at.text_input(key="login_credential").input(credential)
    return at.button(key="login_submit").click().run()


def test_without_a_principal_nothing_but_the_form_is_shown(open_app: OpenApp) -> None:
    at = open_app(None, "en")
    assert not at.exception
    assert [t.value for t in at.title] == ["auditlens risk dashboard"]
    assert [t.key for t in at.text_input] == ["login_credential"]
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")
    assert not at.subheader and not at.error
    assert [b.key for b in at.sidebar.button] == []  # no logout, no page menu content
    assert CALLER_KEY not in at.session_state


@pytest.mark.parametrize(
    ("lang", "typed", "said"),
    [
        ("en", "alk_0123456789ab_" + "x" * 40, "unknown API key"),
        ("ko", "alk_0123456789ab_" + "x" * 40, "등록되지 않은 API 키입니다"),
        ("en", "", "Enter an API key or a token."),
        ("en", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "bearer tokens are not accepted here"),
    ],
)
def test_a_bad_credential_is_refused_in_the_chosen_language(
    open_app: OpenApp, lang: str, typed: str, said: str
) -> None:
    at = _type_and_submit(open_app(None, lang), typed)
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith(said), at.error[0].value
    assert CALLER_KEY not in at.session_state and not at.metric


def test_a_revoked_key_is_refused(open_app: OpenApp, deployment: Deployment) -> None:
    with Store.open(deployment.settings) as store:
        key = store.keys.find("dash-analyst", dt.datetime.now(dt.UTC))
        store.keys.revoke(key, by="park", now=dt.datetime.now(dt.UTC))
    at = _type_and_submit(open_app(None, "en"), deployment.keys["analyst"])
    assert "was revoked" in at.error[0].value and not at.metric


def test_a_good_key_opens_the_pages_and_logout_closes_them(
    open_app: OpenApp, deployment: Deployment
) -> None:
    at = _type_and_submit(open_app(None, "ko"), deployment.keys["approver"])
    assert not at.exception and not at.error
    caller = at.session_state[CALLER_KEY]
    assert caller.principal.id == "key:dash-approver" and caller.principal.roles == {"approver"}
    assert at.title[0].value == "현황" and len(at.metric) == 11
    assert at.text_input == [] or all(t.key != "login_credential" for t in at.text_input)
    at.sidebar.button(key="logout").click().run()
    assert CALLER_KEY not in at.session_state
    assert [t.value for t in at.title] == ["auditlens 위험 대시보드"] and not at.metric


def test_an_oidc_token_logs_in_with_its_roles(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = Issuer(tmp_path)
    config = tmp_path / "oidc.toml"
    write_config(config, deployment.settings)
    config.write_text(
        config.read_text()
        + f'[api]\noidc_issuer = "{ISSUER}"\noidc_audience = "{AUDIENCE}"\n'
        + f'oidc_jwks = "{issuer.jwks}"\n'
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.run()
    at = _type_and_submit(at, issuer.token())
    assert not at.exception and not at.error, [e.value for e in at.error]
    caller = at.session_state[CALLER_KEY]
    assert (caller.principal.id, caller.via, caller.principal.roles) == (
        "choi",
        "oidc",
        {"analyst"},
    )
    bad = _type_and_submit(AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run(),
                           issuer.token(aud="someone-else"))  # fmt: skip
    assert len(bad.error) == 1 and CALLER_KEY not in bad.session_state
