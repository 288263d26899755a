"""How long the command line takes before it does anything: ``--help`` and ``version``.

Runs ``python -m auditlens.cli --help`` and ``version`` N times each in fresh
subprocesses (the package byte-compiled first, as an installed one is; the first run
warms the OS file cache and is not counted) and prints the
median seconds, the slowest, and the ratio to ``python -c pass``. The target (issue 12)
is under 0.5 s; tests/test_cli_startup.py checks the cause instead (which modules
``--help`` imports), since a timed assertion would fail on a busy machine.

    .venv/bin/python bench/bench_startup.py [N] [SRC]

SRC (default: this checkout's src/) lets one compare two checkouts on the same machine.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "auditlens --help": ["-m", "auditlens.cli", "--help"],
    "auditlens version": ["-m", "auditlens.cli", "version"],
}


def seconds(args: list[str], runs: int, src: Path = SRC) -> list[float]:
    """Wall-clock seconds of ``runs`` fresh interpreters running ``args`` on ``src``, its
    package byte-compiled first (as an installed one is: with ``PYTHONDONTWRITEBYTECODE``
    set every run would compile every module it imports)."""
    byte_compile(src / "auditlens")
    env = os.environ | {"PYTHONPATH": str(src)}
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times[1:]


def byte_compile(package: Path) -> None:
    """Byte-compile ``package`` where Python looks for it (``__pycache__`` beside each
    module), as ``pip install`` leaves an installed package: a checkout run with
    ``PYTHONDONTWRITEBYTECODE`` set (this development machine, the image's environment)
    would compile every module it imports in every process, which a deployment never
    pays."""
    if not compileall.compile_dir(package, quiet=1):
        raise SystemExit(f"could not byte-compile {package}")


def main() -> None:
    """Time each command and print median, slowest and the ratio to a bare interpreter."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    src = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else SRC
    print(f"src: {src}")
    bare = 0.0
    for name, args in COMMANDS.items():
        times = seconds(args, runs, src)
        bare = bare or statistics.median(times)
        median = statistics.median(times)
        print(
            f"{name:<20} median {median:.3f} s  slowest {max(times):.3f} s  "
            f"{median / bare:5.1f}x python -c pass  ({runs} runs)"
        )


if __name__ == "__main__":
    main()
