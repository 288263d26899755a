"""detection.incidents: each user's peak-day reasons merged into one JSON list, and the
run's reason texts built from it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pytest

from auditlens.detect.explain import incident_lines
from auditlens.pipeline.detection import incidents
from auditlens.pipeline.run import _with_reason_texts

D1, D2, D3 = dt.date(2026, 9, 1), dt.date(2026, 9, 2), dt.date(2026, 9, 3)


def _reason(feature: str, contribution: float, **more: Any) -> dict[str, Any]:
    return {"feature": feature, "contribution": contribution, "en": f"{feature} high"} | more


def _frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    peaks = pl.DataFrame(
        {
            "user_id": ["kim", "lee", "park", "choi", "jung"],
            "risk_score": [99.0, 90.0, 80.0, 70.0, 60.0],
            "peak_window": [D2, D1, D3, D1, D2],
            "peak_windows": [[D2, D1], [D1], [D3], [D1], [D2]],
            "severity": ["critical", "high", "high", "medium", "medium"],
        }
    )
    stored = [
        ("kim", D1, [_reason("usb", 2.0, ko="USB 사용"), _reason("late", 0.5)]),
        ("kim", D2, [_reason("bulk", 2.0, value=1.5e-7), _reason("deny", 3.0)]),
        ("kim", D3, "not JSON: not a peak day, never decoded"),
        ("lee", D1, [_reason("odd", 1.0, en="", ko=None, own_average=-0.0)]),
        ("park", D3, ""),
        ("choi", D1, None),  # jung: no stored row at all
    ]
    reasons = pl.DataFrame(
        {
            "user_id": [u for u, _, _ in stored],
            "window": [d for _, d, _ in stored],
            "reasons": [
                r if r is None or isinstance(r, str) else json.dumps(r, ensure_ascii=False)
                for _, _, r in stored
            ],
        },
        schema={"user_id": pl.String, "window": pl.Date, "reasons": pl.String},
    )
    return peaks, reasons


def test_incidents_merge_each_users_peak_days_strongest_first() -> None:
    peaks, reasons = _frames()
    found = incidents(peaks, reasons)
    assert found.drop("reasons").equals(peaks)
    merged = [json.loads(r) for r in found["reasons"]]
    # kim's two tied days, by contribution, ties in day order; each names its day
    assert [(r["feature"], r["window"]) for r in merged[0]] == [
        ("deny", "2026-09-02"),
        ("usb", "2026-09-01"),
        ("bulk", "2026-09-02"),
        ("late", "2026-09-01"),
    ]
    assert merged[2:] == [[], [], []]  # empty text, NULL, no row
    # the store's JSON form: keys sorted, no ASCII escapes
    assert found["reasons"][0] == json.dumps(merged[0], ensure_ascii=False, sort_keys=True)
    assert "USB 사용" in found["reasons"][0]


@pytest.mark.parametrize("language", ["ko", "en"])
def test_reason_texts_join_each_users_incident_lines(language: str) -> None:
    peaks, reasons = _frames()
    found = incidents(peaks, reasons)
    expected = [
        "; ".join(incident_lines(json.loads(r), language, len(days)))
        for r, days in zip(found["reasons"], found["peak_windows"].to_list(), strict=True)
    ]
    texts = _with_reason_texts(found, language)
    assert texts["reasons"].to_list() == expected
    assert texts.drop("reasons").equals(found.drop("reasons"))
    assert _with_reason_texts(found.head(2), language)["reasons"].to_list() == expected[:2]
    assert expected[0].startswith("[2026-09-02] ") and expected[1] == "odd"  # en, ko empty
