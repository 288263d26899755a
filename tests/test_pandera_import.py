"""pandera is imported without pandas where pandas is not loaded yet (its package would
load pandas and pyspark.pandas: ~1 s of every `auditlens ingest`), and validates the
same: the same rows quarantined for the same reasons as with pandas loaded first; pandas
stays importable; other threads import it as ever; a failing polars-only import falls
back to the usual one."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from auditlens.schema import _WithoutPandas
from tests.fresh_python import fresh_json

#: A batch with one good row and rows each schema check refuses (``now`` fixed below).
VALIDATE = """
import datetime as dt, json, sys
import polars as pl
{first}
from auditlens.validate import validate
rows = [
    ("1", "kim", "2026-09-01T09:00:00", "login", None),
    ("2", "", "2026-09-01T09:00:00", "login", None),
    ("3", "lee", "2027-01-01T00:00:00", "login", None),
    ("4", "lee", "2026-09-01T09:00:00", "view", None),
    ("5", "park", "2026-09-01T09:00:00", "view", "db/x"),
]
raw = pl.DataFrame(
    rows, schema=["event_id", "user_id", "timestamp", "action_type", "resource_id"],
    orient="row",
).with_columns(pl.Series("_location", [f"in.csv:{{i + 2}}" for i in range(len(rows))]))
now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
result = validate(raw, timezone="Asia/Seoul", now=now)
loaded = "pandas" in sys.modules
import pandas  # still importable
print(json.dumps({{
    "pandas_loaded": loaded,
    "valid": sorted(result.valid["event_id"].to_list()),
    "quarantined": sorted(map(list, result.quarantined.select("_location", "reason").rows())),
}}))
"""


def _python(script: str, tmp_path: Path) -> dict[str, object]:
    found: dict[str, object] = fresh_json(script, tmp_path)
    return found


def test_validation_without_pandas_equals_validation_with_it(tmp_path: Path) -> None:
    alone = _python(VALIDATE.format(first=""), tmp_path)
    beside = _python(VALIDATE.format(first="import pandas"), tmp_path)
    assert alone["pandas_loaded"] is False  # pandera came without pandas
    assert beside["pandas_loaded"] is True
    assert alone["valid"] == beside["valid"] == ["1", "5"]
    assert alone["quarantined"] == beside["quarantined"]
    reasons = " ".join(reason for _, reason in alone["quarantined"])  # type: ignore[attr-defined]
    assert "user_id: is missing (required)" in reasons
    assert "in the future" in reasons
    assert "resource_id is required" in reasons


FALLBACK = """
import importlib, json, sys
from auditlens import schema
real = importlib.import_module
calls = []
def flaky(name, *args, **kwargs):
    if name == "pandera.polars":
        calls.append(name)
        if len(calls) == 1:  # a pandera that fails half-way through its polars-only import
            real("pandera.errors")
            raise ImportError("no polars-only path here")
    return real(name, *args, **kwargs)
importlib.import_module = flaky
pa = schema.pandera_polars()
print(json.dumps({"calls": calls, "schema": hasattr(pa, "DataFrameSchema"),
                  "pandas_loaded": "pandas" in sys.modules}))
"""


def test_a_failing_polars_only_import_falls_back_to_the_usual_one(tmp_path: Path) -> None:
    found = _python(FALLBACK, tmp_path)
    assert found["calls"] == ["pandera.polars", "pandera.polars"]
    assert found["schema"] is True
    assert found["pandas_loaded"] is True  # the usual import, pandas and all


def test_only_the_importing_thread_is_refused_pandas() -> None:
    refuse = _WithoutPandas()
    with pytest.raises(ModuleNotFoundError, match="No module named 'pandas'"):
        refuse.find_spec("pandas", None)
    with pytest.raises(ModuleNotFoundError):
        refuse.find_spec("pandas.core.frame", None)
    assert refuse.find_spec("pandera", None) is None
    assert refuse.find_spec("pandas_profiling", None) is None  # another package
    elsewhere: list[object] = []
    other = threading.Thread(target=lambda: elsewhere.append(refuse.find_spec("pandas", None)))
    other.start()
    other.join()
    assert elsewhere == [None]  # another thread imports pandas as ever
