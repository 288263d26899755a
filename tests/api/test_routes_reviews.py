"""Review samples through the API: the list (JSON and CSV, pseudonyms for viewers and
analysts), verdicts by analysts only, once (409 on a second, and one of two at once),
each an audit entry with the authenticated principal."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from auditlens.config import Settings
from auditlens.privacy import Pseudonymiser
from auditlens.store.repo import Store
from auditlens.store.reviews import NewSample
from tests.alerts.conftest import T0
from tests.api.test_routes import World, make_world, rows_of
from tests.api.test_routes_privacy import KEY, pseudonymised


def _draw(store: Store) -> list[int]:
    """The seeded run's rows of U9 and U0042 as two pending samples (U9 first)."""
    run = store.scores.last_run()
    assert run is not None
    rows = store.scores.of_run(run.id).sort("user_id", descending=True)
    drawn = [
        NewSample(run.id, r["id"], r["user_id"], r["window"], r["decayed_risk"], r["severity"], 3)
        for r in rows.iter_rows(named=True)
        if r["user_id"] in ("U9", "U0042") and str(r["window"]) == "2026-09-07"
    ]
    return store.reviews.add(drawn, T0)


@pytest.fixture
def world(deployment: Settings, issue: Callable[..., str]) -> Iterator[World]:
    """A filled store with two review samples, user ids shown."""
    for made in make_world(deployment, issue):
        made.alerts |= dict(zip(("u9", "u0042"), _draw(made.store), strict=True))
        yield made


@pytest.fixture
def hidden(deployment: Settings, issue: Callable[..., str]) -> Iterator[World]:
    """The same, pseudonymised."""
    for made in make_world(pseudonymised(deployment), issue):
        made.alerts |= dict(zip(("u9", "u0042"), _draw(made.store), strict=True))
        yield made


def test_the_list_pages_filters_and_speaks_csv(world: World) -> None:
    listed = world.get("viewer", "/v1/reviews").json()
    assert listed["total"] == 2 and {r["status"] for r in listed["items"]} == {"pending"}
    assert {r["user_id"] for r in listed["items"]} == {"U9", "U0042"}
    assert listed["items"][0]["population"] == 3
    one = world.get("viewer", "/v1/reviews", params={"limit": 1}).json()
    assert len(one["items"]) == 1 and one["next_offset"] == 1
    none = world.get("viewer", "/v1/reviews", params={"status": "missed"}).json()
    assert none["total"] == 0
    bad = world.get("viewer", "/v1/reviews", params={"status": "done"})
    assert bad.status_code == 422
    as_csv = world.get("analyst", "/v1/reviews", params={"format": "csv"})
    rows = rows_of(as_csv.text)
    assert rows[0][:3] == ["id", "run_id", "user_id"]
    assert {r[2] for r in rows[1:]} == {"U9", "U0042"}


def test_a_verdict_once_by_an_analyst_with_the_principal_in_the_trail(world: World) -> None:
    sample = world.alerts["u9"]
    url = f"/v1/reviews/{sample}/verdict"
    body = {"verdict": "missed", "reason": "suspected_violation", "note": "exported files"}
    for role in ("viewer", "approver", "admin"):
        refused = world.post(role, url, body)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert world.post("analyst", url, {"verdict": "missed", "reason": "other"}).status_code == 422
    assert world.post("analyst", url, {**body, "actor": "someone"}).status_code == 422
    assert world.post("analyst", url, {**body, "verdict": "maybe"}).status_code == 422
    made = world.post("analyst", url, body)
    assert made.status_code == 201, made.text
    answer = made.json()
    assert answer["actor"] == "key:k-analyst"
    assert answer["review"]["status"] == "missed"
    assert answer["review"]["decided_by"] == "key:k-analyst"
    again = world.post("analyst2", url, {"verdict": "clean", "reason": "explained"}, lang="ko")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "이미 판정" in again.json()["detail"]
    missing = world.post("analyst", "/v1/reviews/999/verdict", body)
    assert missing.status_code == 404
    (entry,) = world.store.audit.entries(actions=("review_verdict",))
    assert (entry.actor, entry.target, entry.subject, entry.reason_code, entry.seq) == (
        "key:k-analyst",
        f"review:{sample}",
        "U9",
        "suspected_violation",
        answer["audit_seq"],
    )
    assert world.store.reviews.get(sample).note == "exported files"


def test_two_analysts_at_once_one_verdict(world: World) -> None:
    url = f"/v1/reviews/{world.alerts['u0042']}/verdict"
    barrier = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def post(role: str, verdict: str) -> None:
        barrier.wait()
        answers[role] = world.post(role, url, {"verdict": verdict, "reason": "explained"})

    threads = [
        threading.Thread(target=post, args=("analyst", "clean")),
        threading.Thread(target=post, args=("analyst2", "missed")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers.values()) == [201, 409], {
        k: a.text for k, a in answers.items()
    }
    assert len(world.store.audit.entries(actions=("review_verdict",))) == 1


def test_viewers_and_analysts_see_pseudonyms(hidden: World) -> None:
    alias = Pseudonymiser(KEY).user("U9")
    for role in ("viewer", "analyst"):
        listed = hidden.get(role, "/v1/reviews").json()
        assert "U9" not in {r["user_id"] for r in listed["items"]}
        assert alias in {r["user_id"] for r in listed["items"]}
        as_csv = hidden.get(role, "/v1/reviews", params={"format": "csv"}).text
        assert "U0042" not in as_csv and alias in as_csv
    shown = hidden.get("approver", "/v1/reviews").json()
    assert {r["user_id"] for r in shown["items"]} == {"U9", "U0042"}
    made = hidden.post(
        "analyst",
        f"/v1/reviews/{hidden.alerts['u9']}/verdict",
        {"verdict": "clean", "reason": "other", "note": "U9 was on leave"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["review"]["user_id"] == alias
    assert made.json()["review"]["note"] == f"{alias} was on leave"
