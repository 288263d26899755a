"""Dockerfile: no container engine runs here, so the image's install steps are held equal
to the Makefile's (which CI runs on every push): a venv, pip upgraded, the package —
without only the editable flag and the dev extras. Also: the user deploy/k8s runs as, the
ports auditlens listens on, and that everything the build copies passes .dockerignore.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
#: Flags that change how pip talks, not what it installs.
QUIET = {"--quiet", "--no-cache-dir", "--disable-pip-version-check"}


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _normal(command: str) -> str:
    words = [w for w in shlex.split(command) if w not in QUIET]
    return " ".join(words).replace("-e .[dev]", ".")


def _make_install_steps() -> list[str]:
    """The recipe installing the Makefile's venv, its variables filled in."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(STAMP): pyproject.toml\n", 1)[1].split("\n\n", 1)[0]
    steps = []
    for raw in recipe.splitlines():
        line = raw.strip().lstrip("@")
        line = line.split("||", 1)[1] if line.startswith("test -x") else line
        line = line.replace("$(BIN)", ".venv/bin").replace("$(VENV)", ".venv")
        line = line.replace("$(PYTHON)", "python")
        if "$(STAMP)" not in line:
            steps.append(_normal(line))
    return steps


def test_install_steps_are_the_makefiles() -> None:
    runs = [_normal(args) for word, args in _instructions() if word == "RUN"]
    image_steps = [r for r in runs if "venv" in r or "pip" in r]
    assert (
        image_steps
        == _make_install_steps()
        == [
            "python -m venv .venv",
            ".venv/bin/python -m pip install --upgrade pip",
            ".venv/bin/python -m pip install .",
        ]
    )


def test_python_version_matches_the_project() -> None:
    base = next(args for word, args in _instructions() if word == "FROM")
    version = re.match(r"python:(\d+\.\d+)", base)
    assert version, base
    assert "python" + version.group(1) in (ROOT / "Makefile").read_text(encoding="utf-8")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert f">={version.group(1)}" in project["requires-python"]


def test_runs_as_the_kubernetes_user_and_exposes_the_service_ports() -> None:
    instructions = dict(_instructions())
    assert instructions["USER"] == "10001:10001"
    assert instructions["ENTRYPOINT"] == '["auditlens"]'
    config = tomllib.loads((ROOT / "deploy/k8s/base/auditlens.toml").read_text(encoding="utf-8"))
    ports = {int(p) for p in instructions["EXPOSE"].split()}
    assert ports == {config["api"]["port"], config["dashboard"]["port"]}
    migrate = yaml.safe_load((ROOT / "deploy/k8s/base/migrate-job.yaml").read_text("utf-8"))
    pod = migrate["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (10001, 10001)


def test_what_the_build_copies_passes_dockerignore() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    copied = set()
    for word, args in _instructions():
        if word == "COPY":
            copied.update(args.split()[:-1])
    assert copied == allowed
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert readme["readme"] in copied  # setuptools reads it to build the package
    assert all((ROOT / path).exists() for path in copied)
