"""Reason sentences: no peer echo, days off and new IPs in words, floors, units (issue 12)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from auditlens.detect.base import ContributionUnit, Detector, Scores
from auditlens.detect.explain import Reason, explain, unusual
from auditlens.features.docs import FEATURE_DOCS, TIMES_OF, show_value
from auditlens.features.matrix import build_matrix
from tests.features.test_features import CTX, at, events, holiday_alone


class Pointing(Detector):
    """Says one feature explains everything (contribution 5 surprise units), others 0."""

    contribution_unit: ClassVar[ContributionUnit] = "surprise"

    def __init__(self, *columns: str) -> None:
        self.columns = columns

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        return self

    def score(self, X: pl.DataFrame) -> Scores:
        return np.zeros(X.height)

    def feature_contributions(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], list[str]]:
        names = [c for c in X.columns if c not in ("user_id", "window")]
        weights = [5.0 - self.columns.index(c) if c in self.columns else 0.0 for c in names]
        return np.tile(np.array(weights), (X.height, 1)), names


def reasons_of(log: pl.DataFrame, user: str, day: dt.date, *columns: str) -> list[Reason]:
    fm = build_matrix(log, CTX)
    pick = (pl.col("user_id") == user) & (pl.col("window") == day)
    return explain(Pointing(*columns), fm.frame.filter(pick), fm.info.filter(pick), top=5)[0]


def test_a_user_alone_on_a_holiday_is_not_compared_with_themself() -> None:
    # U0022's "삭제 건수 14 (본인 평균 2, 동료 그룹 평균 14)": the peer mean was the user's own
    chuseok = dt.date(2026, 9, 25)
    (deletes, first) = reasons_of(
        holiday_alone(), "u0", chuseok, "delete_count", "first_activity_hour"
    )
    assert deletes.ko.startswith("삭제 건수 14건 (")
    assert "그날 활동한 동료 없음" in deletes.ko and "no peer active that day" in deletes.en
    assert "동료 그룹 평균 14" not in deletes.ko and deletes.peer_average is None
    # a working-hours reason on a holiday names the holiday (from the calendar)
    assert first.ko.startswith("추석 연휴 중 활동: 첫 활동 시각 22:43 (")
    assert "그날 활동한 동료 없음" in first.ko
    assert first.en.startswith("activity on a holiday (Chuseok): first activity 22:43")


def test_a_first_time_external_ip_is_named() -> None:
    rows: list[dict[str, Any]] = [
        {"user": "u", "t": at(d, 10), "action": "login", "ip": "10.0.0.1"} for d in range(1, 12)
    ]
    rows += [{"user": "u", "t": at(14, 10), "action": "login", "ip": "203.0.113.7"}]
    (reason,) = reasons_of(events(rows), "u", dt.date(2026, 9, 14), "new_src_ip_count")
    # alone in the organisation: no peer group to compare with
    assert reason.ko == "처음 보는 외부 IP 203.0.113.7 (본인 평균 0.1개, 비교할 동료 없음)"
    assert (
        reason.en
        == "first-time external IP 203.0.113.7 (own average 0.1, no peers to compare with)"
    )


def test_a_reason_below_the_floor_is_not_shown() -> None:
    # '접근한 서로 다른 자원 수 5 (본인 평균 4.9) — 0.7 표준편차 높음' described nothing unusual
    row = {"distinct_resources": 5, "peer_z_distinct_resources": 0.7}
    assert not unusual("peer_z_distinct_resources", row, {"_own_distinct_resources": 4.9})
    assert not unusual("distinct_resources", row, {"_own_distinct_resources": 4.9})
    assert unusual("peer_z_distinct_resources", row | {"peer_z_distinct_resources": 2.0}, {})
    # the same in explain: six users with 5 resources every day, one day u0 has 6
    rows: list[dict[str, Any]] = []
    for day in range(14, 19):
        for i in range(6):
            n = 6 if (i, day) == (0, 18) else 5
            rows += [{"user": f"u{i}", "t": at(day, 10, k), "resource": f"fileshare/{k}"}
                     for k in range(n)]  # fmt: skip
    chosen = ("distinct_resources", "peer_z_distinct_resources", "login_count")
    assert reasons_of(events(rows), "u0", dt.date(2026, 9, 18), *chosen) == []


def test_times_the_usual_reads_as_a_sentence_with_the_count_beside_it() -> None:
    rows: list[dict[str, Any]] = [
        {"user": "u", "t": at(d, 10, k), "action": "delete", "resource": "fileshare/a"}
        for d in range(1, 12)
        for k in range(2)
    ]
    rows += [{"user": "u", "t": at(14, 10, k), "action": "delete", "resource": "fileshare/a"}
             for k in range(14)]  # fmt: skip
    (reason,) = reasons_of(events(rows), "u", dt.date(2026, 9, 14), "delete_vs_baseline")
    # not "삭제, 본인 평소 대비 배수 5.0배 (본인 평균 1.0배 …)"
    assert reason.ko.startswith("삭제 건수가 본인 평소의 5.0배 (오늘 14건, 본인 평균 2건")
    assert reason.en.startswith("deletions 5.0x the own usual (today 14, own average 2")


KOREAN_UNIT = re.compile(r"(\d(건|회|개|대|%|배|점|비트| 표준편차|일|시간)|^\d\d:\d\d)$")


@pytest.mark.parametrize("column", sorted(FEATURE_DOCS))
def test_every_korean_value_has_a_unit(column: str) -> None:
    # '평소와 다른 로그인 시각(편차) 19.1' — 19.1 of what?
    for value in (0.0, 3.0, 19.1, 1234.5):
        shown = show_value(value, column, "ko")
        assert KOREAN_UNIT.search(shown), (column, shown)


def test_every_times_column_names_an_existing_count() -> None:
    for column, counted in TIMES_OF.items():
        assert FEATURE_DOCS[column].unit == "times" and FEATURE_DOCS[counted].unit == "count"


def _session_words_of_every_token(tokens: str, lang: str) -> str:
    """The sequence wording read over every token (what _session_words stops early on)."""
    from auditlens.detect.explain import SHOWN_TOKENS
    from auditlens.features.docs import token_words

    runs: list[tuple[str, int]] = []
    for token in tokens.split():
        if runs and runs[-1][0] == token:
            runs[-1] = (token, runs[-1][1] + 1)
        else:
            runs.append((token, 1))
    words = [token_words(t, lang) + (f" x{n}" if n > 1 else "") for t, n in runs]
    shown = " → ".join(words[:SHOWN_TOKENS])
    return shown + (" → …" if len(words) > SHOWN_TOKENS else "")


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_session_words_stop_after_the_shown_runs_with_the_same_words(lang: str) -> None:
    from auditlens.detect.explain import _session_words

    rng = np.random.default_rng(5)
    steps = ["login", "read", "read:high", "delete", "logout"]
    for n in [0, 1, 7, 8, 9, 10, 30, 2_000]:
        for _ in range(20):
            tokens = " ".join(rng.choice(steps, size=n, p=[0.1, 0.5, 0.2, 0.1, 0.1]))
            assert _session_words(tokens, lang) == _session_words_of_every_token(tokens, lang)
