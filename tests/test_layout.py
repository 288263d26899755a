"""The house rules of DESIGN.md that a reader can check: small modules, short functions
(over 80 lines of code, docstrings not counted)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "auditlens"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
#: A module over MAX_MODULE_LINES says why in a comment line starting with this.
REASON = "# size:"


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def test_big_modules_say_why_they_are_big() -> None:
    unexplained = []
    for path in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_MODULE_LINES and not any(
            line.startswith(REASON) for line in lines[:40]
        ):
            unexplained.append(f"{path.relative_to(SRC)}: {len(lines)} lines")
    assert not unexplained, (
        f"modules over {MAX_MODULE_LINES} lines without a '{REASON} ...' line near the top: "
        + ", ".join(unexplained)
    )


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function from its signature to its end, its docstring left out."""
    body = node.body
    doc = body[0] if body and isinstance(body[0], ast.Expr) else None
    docstring = (
        doc.end_lineno - doc.lineno + 1
        if doc is not None
        and isinstance(doc.value, ast.Constant)
        and isinstance(doc.value.value, str)
        and doc.end_lineno is not None
        else 0
    )
    return (node.end_lineno or node.lineno) - node.lineno + 1 - docstring


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_function_is_longer_than_the_limit(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name} ({_code_lines(node)} lines, line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and _code_lines(node) > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.relative_to(SRC)}: functions over {MAX_FUNCTION_LINES} lines: {long}"
