"""Run a script in a fresh interpreter on this checkout and read the JSON it prints last:
for what a test process must not do to itself (freeze its heap, import without pandas)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def fresh_json(script: str, cwd: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """``python -c script args`` in ``cwd`` with this checkout's ``src`` first on the path
    (and ``env`` added); it must exit 0. The JSON of its last line of output."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
