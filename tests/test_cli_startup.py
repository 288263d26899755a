"""`auditlens --help` and `version` start without loading the heavy libraries (issue 12).

The time itself is measured in bench/bench_startup.py; here the cause is checked, which
does not depend on how busy the machine is: the modules a fresh interpreter imports.
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import auditlens.pipeline

ROOT = Path(__file__).resolve().parents[1]

#: Libraries (and our own jobs) that took the seconds before issue 12; none is needed to
#: print the help or the version.
HEAVY = (
    "sklearn",
    "scipy",
    "shap",
    "matplotlib",
    "gensim",
    "pandera",
    "polars",
    "pydantic_settings",
    "sqlalchemy",
    "auditlens.config",
    "auditlens.pipeline.run",
    "auditlens.pipeline.learning",
    "auditlens.store",
)


def _imported(*python_args: str) -> set[str]:
    """Every module a fresh ``python -X importtime PYTHON_ARGS`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *python_args],
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def imported_by(*args: str) -> set[str]:
    """Every module a fresh ``python -X importtime -m auditlens.cli ARGS`` imports."""
    return _imported("-m", "auditlens.cli", *args)


@pytest.mark.parametrize("args", [("--help",), ("version",), ("alerts", "--help")])
def test_help_and_version_import_nothing_heavy(args: tuple[str, ...]) -> None:
    modules = imported_by(*args)
    assert "auditlens.cli" in modules  # the parse worked: we read the right output
    loaded = sorted(
        m for m in modules if any(m == heavy or m.startswith(heavy + ".") for heavy in HEAVY)
    )
    assert loaded == []


def test_a_command_still_loads_what_it_needs() -> None:
    # the check above would also pass if the parse found nothing; a real command imports
    modules = imported_by("config", "show")
    assert "auditlens.config" in modules
    assert "pydantic_settings" in modules


def _type_checking_imports() -> dict[str, str]:
    """Name → module of the ``if TYPE_CHECKING:`` imports in pipeline/__init__.py."""
    tree = ast.parse(Path(auditlens.pipeline.__file__).read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for each in node.body:
                assert isinstance(each, ast.ImportFrom) and each.module
                names |= {alias.name: each.module for alias in each.names}
    return names


def test_lazy_exports_match_what_type_checkers_see() -> None:
    exports = auditlens.pipeline._EXPORTS
    assert _type_checking_imports() == exports
    assert sorted(exports) == sorted(auditlens.pipeline.__all__)


@pytest.mark.parametrize("name", auditlens.pipeline.__all__)
def test_every_lazy_export_resolves_to_its_module(name: str) -> None:
    module = importlib.import_module(auditlens.pipeline._EXPORTS[name])
    assert getattr(auditlens.pipeline, name) is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'not_a_job'"):
        _ = auditlens.pipeline.not_a_job  # type: ignore[attr-defined]
    assert "run" in dir(auditlens.pipeline)


def test_run_stays_the_function_after_its_module_loads() -> None:
    import auditlens.pipeline.run
    from auditlens.pipeline import run
    from auditlens.pipeline.run import RunReport

    assert callable(run) and run.__module__ == "auditlens.pipeline.run"
    assert auditlens.pipeline.RunReport is RunReport


#: Libraries only fitting, validating or measuring needs (issue 17): a command that reads
#: the store (alerts list, quarantine) should not wait for them.
FITTING_ONLY = ("sklearn", "gensim", "pandera", "shap", "matplotlib", "scipy")


def imported_with(module: str) -> set[str]:
    """Every module a fresh interpreter imports to import ``module``."""
    return _imported("-c", f"import {module}")


@pytest.mark.parametrize("module", ["auditlens.pipeline.alerting", "auditlens.pipeline.ingestion"])
def test_store_commands_do_not_import_the_fitting_libraries(module: str) -> None:
    modules = imported_with(module)
    assert module in modules  # the parse worked
    loaded = sorted(
        m for m in modules if any(m == lib or m.startswith(lib + ".") for lib in FITTING_ONLY)
    )
    assert loaded == []


def test_a_run_does_not_import_the_read_model() -> None:
    # the views (the API's, dashboard's and reports' read model, ~60 ms) come with the
    # drift report and shadow comparisons only, not with a run that records drift
    modules = imported_with("auditlens.pipeline.run")
    assert "auditlens.pipeline.drift" in modules and "auditlens.pipeline.shadow" in modules
    assert sorted(m for m in modules if m.startswith("auditlens.views")) == []
