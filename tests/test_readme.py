"""The README's walk-through, run as written in an empty directory on a small organisation.

The block after ``<!-- walkthrough ... -->`` is parsed line by line: ``cat > FILE <<'EOF'``
writes the file, ``auditlens ARGS`` runs ``python -m auditlens.cli ARGS`` in a subprocess
with this checkout's ``src`` first on PYTHONPATH. Only three things are substituted, as the
README says: the organisation's size (``--users 110 --days 14``: 11 planted insiders,
enough labelled people for ``train``), the login in ``[principals]`` and ``USER`` /
``YYYY-MM-DD`` (the first row of the run's table).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- walkthrough: run by tests/test_readme.py -->"
SMALL = "--users 110 --days 14"


@dataclass(frozen=True)
class Step:
    """One line of the walk-through: a command to run, or a file to write."""

    args: list[str]
    file: str = ""
    content: str = ""


def walkthrough(readme: str) -> list[Step]:
    """The steps of the README's marked bash block, in order."""
    block = readme.split(MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    steps: list[Step] = []
    lines = iter(block.splitlines())
    for line in lines:
        heredoc = re.fullmatch(r"cat > (\S+) <<'EOF'", line.strip())
        if heredoc:
            body = []
            for inner in lines:
                if inner == "EOF":
                    break
                body.append(inner)
            steps.append(Step(args=[], file=heredoc[1], content="\n".join(body) + "\n"))
        elif line.strip() and not line.startswith("#"):
            words = shlex.split(line, comments=True)
            assert words[0] == "auditlens", f"the walk-through runs only auditlens: {line}"
            steps.append(Step(args=words[1:]))
    return steps


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITLENS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env["COLUMNS"] = "200"  # the run's table on one line per user
    env["AUDITLENS_LANGUAGE"] = "en"  # the checks below read the English output
    return subprocess.run(
        [sys.executable, "-m", "auditlens.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_walkthrough_has_every_step() -> None:
    steps = walkthrough((ROOT / "README.md").read_text(encoding="utf-8"))
    verbs = [" ".join(s.args[:2]) if s.args else f"write {s.file}" for s in steps]
    for verb in (
        "generate --users",
        "write auditlens.toml",
        "ingest var/org/events.parquet",
        "train --labels",
        "run",
        "alerts list",
        "explain USER",
        "alerts dispatch",
        "alerts ack",
        "audit log",
        "audit verify",
    ):
        assert any(v.startswith(verb) for v in verbs), verb
    assert "--users 300 --days 40" in " ".join(steps[0].args)


@pytest.mark.slow
def test_the_readme_walkthrough_runs_in_an_empty_directory(tmp_path: Path) -> None:
    login = pwd.getpwuid(os.getuid()).pw_name
    outputs: dict[str, str] = {}
    for step in walkthrough((ROOT / "README.md").read_text(encoding="utf-8")):
        if step.file:
            content = step.content.replace('kim = ["analyst"]', f'"{login}" = ["analyst"]')
            (tmp_path / step.file).write_text(content, encoding="utf-8")
            continue
        line = shlex.join(step.args).replace("--users 300 --days 40", SMALL)
        if step.args[0] == "explain":
            first = re.search(r"│ (U\d+)\s+│ [\d.]+\s+│ \w+\s+│ (\d{4}-\d\d-\d\d)", outputs["run"])
            assert first, outputs["run"]
            line = line.replace("USER", first[1]).replace("YYYY-MM-DD", first[2])
        done = _run(shlex.split(line), tmp_path)
        shown = f"$ auditlens {line}\n{done.stdout}\n{done.stderr}"
        assert done.returncode == 0, shown
        assert "Traceback" not in done.stderr, shown
        outputs[" ".join(step.args[:2]) if step.args[0] != "run" else "run"] = (
            done.stdout + done.stderr
        )

    assert "110 users over 14 days" in outputs["generate --users"]
    ingest = outputs["ingest var/org/events.parquet"]
    assert "created the store sqlite:///var/auditlens.db" in ingest or "저장소" in ingest
    assert re.search(r"ingested ([\d,]+) = accepted \1 \+ quarantined 0", ingest)
    assert "registered" in outputs["train --labels"]
    assert re.search(r"run 1: \d+ users? at or above medium", outputs["run"])
    assert re.search(r"\d+ alerts? opened", outputs["run"])
    assert "no routing rule" not in outputs["run"]
    assert "same  score" in outputs["explain USER"]
    assert re.search(r"delivered (\d+) of \1 attempted", outputs["alerts dispatch"])
    delivered = (tmp_path / "var/alerts/alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert delivered and json.loads(delivered[0])["alerts"][0]["id"] == 1
    assert "reviewing" in outputs["audit log"] and login in outputs["audit log"]
    assert re.search(r"#\d+ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST ", outputs["audit log"])
    assert "audit trail verified" in outputs["audit verify"]
    # a second ingest of the same file reads nothing: the store is not created twice
    again = _run(["ingest", "var/org/events.parquet"], tmp_path)
    assert again.returncode == 0 and "created the store" not in again.stderr
