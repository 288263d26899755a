"""The pandas yardstick of bench/bench_score.py computes our feature columns.

``bench/pandas_reference.py`` (behavioural sets) and ``bench/pandas_sequences.py`` (the
action-sequence set) are independent pandas readings of the feature definitions; the
benchmark's pandas ratio means something only while they compute what ours computes.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def reference() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("pandas_reference")
    finally:
        sys.path.remove(str(BENCH))


def test_the_pandas_reference_agrees_with_every_column(
    reference: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert reference.check(40, 21, seed=5, sequences=True)
    out = capsys.readouterr().out
    assert "seq_anomaly_score" in out
    assert "rows compared: agree" in out


def test_the_comparison_sees_a_different_definition(
    reference: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sequences = sys.modules["pandas_sequences"]
    monkeypatch.setattr(sequences, "HABIT_DAYS", sequences.HABIT_DAYS - 1)
    assert not reference.check(40, 21, seed=5, sequences=True)
    assert "DIFFER in seq_anomaly_score" in capsys.readouterr().out
