"""What this machine charges for CPU work and for memory, so other benches' figures can be
read: a CPU figure and the kernel's cost of touching memory, fresh and reused.

Prints

* a Python loop of 10M additions (seconds): the machine's speed for interpreted code,
  the figure the README's sessions quote to compare machines;
* touching ``--gib`` GiB of new memory (a numpy array filled with ones): the system
  CPU-seconds per GiB the kernel spends handing out and zeroing the pages;
* the same after freeing it, at once and after each ``--pauses`` seconds: memory the
  process gave back and takes again. On the 2-core VMs these benches run on, memory the
  VM has not touched since it started costs the kernel 1.5-2.9 system CPU-s per GiB the
  first time and ~0.05 once touched (2026-12-07, the README's *Measured*); early in a
  session memory the kernel had had free for a few seconds cost as much again (4 GiB
  again at once 0.22 system CPU-s, after 1 s 3.23, after 3 s 5.26), later not. So a run's
  system time depends on how much memory it takes that the VM has not used yet: a
  session's first large run pays for it, and a run larger than those before (the 100M
  one) pays for all of its new memory.

    .venv/bin/python bench/bench_machine.py                    # 2 GiB, pauses 0 1 3 s
    .venv/bin/python bench/bench_machine.py --gib 4 --pauses 0 1 3 6
"""

from __future__ import annotations

import argparse
import time
from typing import Final

import numpy as np

from bench_batch import system_seconds

#: The loop the README's sessions timed (``python -c``): at module level, its names
#: globals (a loop inside a function, its names locals, runs about twice as fast).
LOOP: Final = "total = 0\nfor i in range(n):\n    total += i\n"


def python_loop(n: int = 10_000_000) -> float:
    """Seconds of :data:`LOOP` over ``n`` additions."""
    code = compile(LOOP, "<loop>", "exec")
    started = time.perf_counter()
    exec(code, {"n": n})  # noqa: S102 - our own constant code
    return time.perf_counter() - started


def touch(gib: float) -> tuple[float, float]:
    """System and wall seconds of filling a new array of ``gib`` GiB (every page
    touched), the array freed after."""
    system, started = system_seconds(), time.perf_counter()
    block = np.ones(int(gib * 2**30) // 8)
    taken = system_seconds() - system, time.perf_counter() - started
    del block
    return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gib", type=float, default=2.0, help="memory touched each time")
    parser.add_argument(
        "--pauses", type=float, nargs="+", default=[0.0, 1.0, 3.0],
        help="seconds between freeing the memory and touching it again",
    )  # fmt: skip
    args = parser.parse_args(argv)
    print(f"python loop of 10M additions   {python_loop():.2f} s")
    system, wall = touch(args.gib)
    print(f"{args.gib:g} GiB of new memory         {system / args.gib:.2f} system CPU-s per GiB "
          f"({wall:.2f} s wall)")  # fmt: skip
    for pause in args.pauses:
        touch(args.gib)  # (freed at once: what the kernel holds now is this memory)
        time.sleep(pause)
        system, wall = touch(args.gib)
        print(f"  again after {pause:g} s free{'':<13}{system / args.gib:.2f} system CPU-s per GiB "
              f"({wall:.2f} s wall)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
