"""A serving process freezes its heap (``gc.freeze``) once built and after its first
requests, so full collections skip what lives as long as the process; apps built
without ``freeze_heap`` (tests, embedding) leave the collector alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fresh_python import fresh_json

#: Run in its own interpreter: freezing the test process's heap would keep its garbage.
SCRIPT = """
import gc, json, sys
from fastapi.testclient import TestClient
from auditlens.api.app import create_app
from auditlens.config import load_settings

counts = {"before": gc.get_freeze_count()}
app = create_app(load_settings(), freeze_heap=sys.argv[1] == "on")
with TestClient(app) as client:
    counts["started"] = gc.get_freeze_count()
    for _ in range(99):
        assert client.get("/healthz").status_code == 200
    counts["after_99"] = gc.get_freeze_count()
    gc.collect(1)  # a later young collection must not thaw anything
    assert client.get("/healthz").status_code == 200
    counts["after_100"] = gc.get_freeze_count()
print(json.dumps(counts))
"""


def _freeze_counts(tmp_path: Path, mode: str) -> dict[str, int]:
    env = {
        "AUDITLENS_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "AUDITLENS_DATA_DIR": str(tmp_path / "var"),
    }
    counts: dict[str, int] = fresh_json(SCRIPT, tmp_path, mode, env=env)
    return counts


def test_a_serving_app_freezes_at_start_and_after_its_first_hundred_requests(
    tmp_path: Path,
) -> None:
    counts = _freeze_counts(tmp_path, "on")
    assert counts["before"] == 0
    assert counts["started"] > 10_000  # the modules and the app, frozen at start-up
    # not on every request (frozen objects that die by reference count leave the count)
    assert counts["after_99"] <= counts["started"]
    assert counts["after_100"] > counts["after_99"]  # what the first requests loaded


@pytest.mark.parametrize("mode", ["off"])
def test_an_app_built_without_freeze_heap_leaves_the_collector_alone(
    tmp_path: Path, mode: str
) -> None:
    assert set(_freeze_counts(tmp_path, mode).values()) == {0}
