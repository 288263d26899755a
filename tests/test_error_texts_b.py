"""Every error raised in the pipeline, detection, features, alerts and reports speaks Korean.

A static check (``ast``): each construction of an :class:`AuditlensError` subclass in the
files below passes ``ko=`` (and ``ko_hint=`` beside any ``hint=``), and every such class
that sets a ``hint`` sets a ``ko_hint``. Exceptions are listed with their reason.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import auditlens
from auditlens.errors import AuditlensError

SRC = Path(auditlens.__file__).parent
HANGUL = re.compile(r"[\uac00-\ud7a3]")

#: The files this check covers (issue 12, second half of the error texts).
COVERED = sorted(
    [
        *(p for p in (SRC / "pipeline").rglob("*.py") if p.name != "replay.py"),
        *(SRC / "detect").rglob("*.py"),
        *(p for p in (SRC / "features").rglob("*.py") if p.name != "watchlist.py"),
        *(p for p in (SRC / "alerts").rglob("*.py") if p.name != "message.py"),
        *(SRC / "reports").rglob("*.py"),
        SRC / "fitted.py",
        SRC / "scoring.py",
    ]
)

#: ``path:line`` -> why that construction needs no ``ko=`` (none today).
ALLOWED: dict[str, str] = {}


def _error_classes() -> dict[str, type[AuditlensError]]:
    """Every AuditlensError subclass by name, after importing the whole package."""
    for module in pkgutil.walk_packages([str(SRC)], "auditlens."):
        if any(part in module.name for part in (".cli", ".api", "migrations", "alembic")):
            continue
        importlib.import_module(module.name)
    found: dict[str, type[AuditlensError]] = {}
    pending: list[type[AuditlensError]] = [AuditlensError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _constructions() -> list[tuple[str, ast.Call]]:
    classes = _error_classes()
    found = []
    for path in COVERED:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in classes:
                found.append((f"{path.relative_to(SRC)}:{node.lineno}", node))
    return found


def test_the_check_sees_the_errors_it_is_about() -> None:
    names = {_called_name(node) for _, node in _constructions()}
    # the check would pass vacuously if it found nothing: these are raised in these files
    assert {"ModelError", "NoEvents", "ConfigError", "TriageError", "ChannelError"} <= names


@pytest.mark.parametrize("where", [where for where, _ in _constructions()])
def test_every_error_carries_korean(where: str) -> None:
    node = dict(_constructions())[where]
    keywords = {kw.arg for kw in node.keywords}
    if where in ALLOWED:
        return
    splat = None in keywords  # **texts: checked at run time by the tests of that module
    assert splat or "ko" in keywords, f"{where}: no ko= (Korean message)"
    if "hint" in keywords:
        assert "ko_hint" in keywords, f"{where}: hint= without ko_hint="
    for arg in node.args[:1]:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            assert not HANGUL.search(arg.value), f"{where}: Hangul in the English message"


def test_class_hints_have_korean() -> None:
    covered = {str(p) for p in COVERED}
    for name, cls in _error_classes().items():
        source = sys.modules[cls.__module__].__file__
        if cls.hint and source in covered:
            assert HANGUL.search(cls.ko_hint), f"{name}.hint has no Korean ko_hint"


def test_errors_read_korean_at_run_time(tmp_path: Path) -> None:
    """A few errors raised for real: the Korean text has no English sentence in it."""
    import polars as pl

    from auditlens.detect.evaluation import time_folds
    from auditlens.features.catalog import ResourceCatalog
    from auditlens.pipeline.inputs import parse_column_map

    raised = []
    for attempt in (
        lambda: ResourceCatalog.read_csv(tmp_path / "missing.csv"),
        lambda: time_folds(pl.Series([dt.date(2026, 9, d) for d in (1, 2)]), 3),
        lambda: parse_column_map(["login_time"]),
    ):
        with pytest.raises(AuditlensError) as caught:
            attempt()
        raised.append(caught.value)
    for error in raised:
        korean, english = error.text("ko"), error.text("en")
        assert HANGUL.search(korean) and not HANGUL.search(english), (korean, english)
        assert not re.search(r"\b(is not|does not|cannot|check|use)\b", korean), korean
