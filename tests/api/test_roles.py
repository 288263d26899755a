"""Roles: viewer joins analyst, approver and admin; every role reads; none includes another."""

from __future__ import annotations

import pytest

from auditlens.config import Settings
from auditlens.identity import ROLES, Directory, IdentityError, Principal, cli_acting


def test_viewer_is_a_role_and_every_role_reads() -> None:
    assert ROLES == ("viewer", "analyst", "approver", "admin")
    for role in ROLES:
        assert Principal("p", frozenset({role})).has("viewer")
    assert not Principal("p", frozenset()).has("viewer")
    assert not Principal("p", frozenset({"admin"})).has("analyst")  # no role includes another


def test_a_viewer_on_the_command_line_may_read_but_not_triage() -> None:
    settings = Settings(principals={"yoon": ["viewer"], "park": ["admin"]})
    directory = Directory.from_settings(settings)
    acting = cli_acting(directory, None, who_am_i=lambda: "Yoon")
    acting.require("viewer", "read alerts")
    with pytest.raises(IdentityError, match="needs the analyst role"):
        acting.require("analyst", "acknowledge alerts")
    with pytest.raises(ValueError, match="principals"):
        Settings(principals={"yoon": ["reader"]})  # type: ignore[list-item]
