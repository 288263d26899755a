"""Pseudonyms: stable, keyed, short, collision-free at scale; text masking; the key stays
secret; pseudonymised without a key auditlens refuses to start."""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import Settings
from auditlens.errors import ConfigError
from auditlens.identity import Directory
from auditlens.privacy import (
    Pseudonymiser,
    disguise_alert,
    mask_text,
    pseudonymiser_for,
    sees_user_ids,
    shown_user,
)
from auditlens.privacy.pseudonyms import ALPHABET, canonical
from tests.alerts.test_channels import make_alert
from tests.privacy.conftest import KEY

P = Pseudonymiser(SecretStr(KEY))
SHAPE = re.compile(rf"^P-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


def test_stable_across_objects_and_normalised_but_not_case_folded() -> None:
    again = Pseudonymiser(SecretStr(KEY))
    first = P.user("U0042")
    assert SHAPE.match(first)
    assert again.user("U0042") == first  # same key, another object (another run)
    assert P.user(" U0042\t") == first
    assert P.user("\uff35\uff10\uff10\uff14\uff12") == first  # full-width U0042 (NFKC)
    assert P.user("u0042") != first  # the store keeps these apart, so must we
    assert P.user("김철수") != P.user("김철수2")
    # a department never shares a user's pseudonym (separate HMAC domains)
    assert P.department("U0042") != first


def test_another_key_gives_other_pseudonyms() -> None:
    other = Pseudonymiser(SecretStr(KEY[::-1]))
    ids = [f"U{i:05d}" for i in range(2_000)]
    assert all(P.user(u) != other.user(u) for u in ids)


def test_no_collision_among_300_thousand_ids() -> None:
    # 60 bits: expected collisions among 300k ids ~ 300k^2 / 2^61 = 4e-8
    ids = [f"E{i:07d}" for i in range(300_000)]
    seen = {P.user(u) for u in ids}
    assert len(seen) == len(ids)


def test_reverse_finds_the_candidate_leniently() -> None:
    pseudonym = P.user("U0042")
    candidates = ["U0041", "U0042", "U0043"]
    assert P.reverse(pseudonym, candidates) == "U0042"
    sloppy = pseudonym.lower().replace("-", "").replace("0", "o")
    assert canonical(sloppy) == pseudonym
    assert P.reverse(sloppy, candidates) == "U0042"
    assert P.reverse(pseudonym, ["U0041"]) is None
    assert P.reverse("not a pseudonym", candidates) is None
    assert Pseudonymiser(SecretStr(KEY[::-1])).reverse(pseudonym, candidates) is None


def test_mask_text_replaces_identifying_values_only_as_whole_ids() -> None:
    text = (
        "U0042 (김철수, kim.cs@bank.example) exported 14 files; U00421 and XU0042 did not; u0042가"
    )
    masked = mask_text(text, ["U0042", "김철수", "kim.cs@bank.example"], "P-AAAA-BBBB-CCCC")
    assert masked == (
        "P-AAAA-BBBB-CCCC (P-AAAA-BBBB-CCCC, P-AAAA-BBBB-CCCC) exported 14 files; U00421 and "
        "XU0042 did not; P-AAAA-BBBB-CCCC가"
    )
    assert mask_text("\uff35\uff10\uff10\uff14\uff12 logged in", ["U0042"], "P") == "P logged in"
    assert mask_text("nothing here", [], "P") == "nothing here"


def test_disguised_alert_carries_no_user_id() -> None:
    alert = make_alert()
    disguised = disguise_alert(alert, P)
    assert disguised.user_id == P.user(alert.user_id)
    assert alert.user_id not in repr(disguised)
    assert disguised.id == alert.id and disguised.risk == alert.risk
    assert alert.user_id == "U0042"  # the original is untouched


def test_who_sees_user_ids() -> None:
    d = Directory({"kim": ["analyst"], "lee": ["approver"], "choi": ["admin"]})
    assert shown_user("U0042", d.acting("kim"), P) == P.user("U0042")
    assert shown_user("U0042", d.acting("lee"), P) == "U0042"
    assert shown_user("U0042", d.acting("choi"), P) == "U0042"
    assert shown_user("U0042", d.acting("kim"), None) == "U0042"  # pseudonymise off
    # an admin acting for an analyst sees what the analyst sees
    assert not sees_user_ids(d.acting("choi", "kim"), P)


def test_refuses_to_start_pseudonymised_without_a_key() -> None:
    assert pseudonymiser_for(Settings()) is None
    with pytest.raises(ConfigError) as missing:
        pseudonymiser_for(Settings(privacy={"pseudonymise": True}))  # type: ignore[arg-type]
    assert "pseudonym_key is not set" in missing.value.text("en")
    assert "키 없이는" in missing.value.text("ko")
    assert "AUDITLENS_PRIVACY__PSEUDONYM_KEY" in missing.value.text("ko")
    short = Settings(privacy={"pseudonymise": True, "pseudonym_key": "short"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="too short") as too_short:
        pseudonymiser_for(short)
    assert "short" not in too_short.value.text("en").replace("too short", "")
    assert "너무 짧습니다" in too_short.value.text("ko")


def test_key_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLENS_PRIVACY__PSEUDONYMISE", "true")
    monkeypatch.setenv("AUDITLENS_PRIVACY__PSEUDONYM_KEY", KEY)
    settings = Settings()
    pseudonymiser = pseudonymiser_for(settings)
    assert pseudonymiser is not None and pseudonymiser.user("U0042") == P.user("U0042")
    for shown in (repr(settings), str(settings.masked()), repr(pseudonymiser), str(settings)):
        assert KEY not in shown
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert KEY not in result.output and "pseudonym_key" in result.output
