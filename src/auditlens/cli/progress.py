"""Progress of a long command: a live display on a terminal, log lines elsewhere.

On a terminal (stderr is a TTY) every stage gets a line with a bar, the units done, the
time taken and, when the stage knows its total, an estimate of the time left. When not
(cron, Airflow, a pipe) the same reports become plain lines with a timestamp and its UTC
offset, one when a stage starts and ends and at most one every :data:`LOG_EVERY` seconds
in between, on stderr so that stdout keeps only the results.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from auditlens.cli.common import err_console
from auditlens.pipeline.stages import DONE, Stage

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

#: Seconds between two log lines of the same stage when not on a terminal.
LOG_EVERY: Final = 10.0


class StageLog:
    """Timestamped lines for each stage of ``job`` (its start, progress and end)."""

    def __init__(self, job: str, console: Console) -> None:
        self.job = job
        self.console = console
        self._stage = Stage("")
        self._began = self._logged = time.monotonic()

    def __call__(self, stage: Stage) -> None:
        """Log a stage's start, its progress now and then, and the end of the one before."""
        now = time.monotonic()
        if stage.name != self._stage.name:
            if self._stage.name:
                took = f" ({_duration(now - self._began)})"
                self._line(f"{self._stage.name} done{self._count(self._stage)}{took}")
            if stage.name != DONE:
                planned = f" ({stage.total:,} {stage.unit})" if stage.total is not None else ""
                self._line(f"{stage.name} started{planned}")
            self._stage, self._began, self._logged = stage, now, now
            return
        self._stage = stage
        if now - self._logged >= LOG_EVERY:
            self._line(f"{stage.name}{self._count(stage)}{self._left(stage, now)}")
            self._logged = now

    def _count(self, stage: Stage) -> str:
        if not stage.unit:
            return ""
        of = f" of {stage.total:,}" if stage.total is not None else ""
        return f": {stage.done:,}{of} {stage.unit}"

    def _left(self, stage: Stage, now: float) -> str:
        if not stage.total or not stage.done:
            return ""
        left = (now - self._began) / stage.done * (stage.total - stage.done)
        return f", about {_duration(left)} left"

    def _line(self, text: str) -> None:
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        line = f"{stamp} auditlens {self.job}: {text}"
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)


class StageBars:
    """A rich progress display: one line per stage, an estimate where the total is known."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self._task: TaskID | None = None
        self._stage = Stage("")

    def __call__(self, stage: Stage) -> None:
        """Move the current stage's bar, or end it and start the next one's."""
        if stage.name != self._stage.name:
            if self._task is not None:  # a full bar: ended, whether its total was known
                done = max(self._stage.done, 1)
                self.bars.update(self._task, total=done, completed=done)
            self._task = None
            if stage.name != DONE:
                self._task = self.bars.add_task(stage.name, total=stage.total, unit=stage.unit)
        self._stage = stage
        if self._task is not None:
            self.bars.update(self._task, completed=stage.done, total=stage.total)


@contextmanager
def stages(job: str, console: Console | None = None) -> Iterator[StageLog | StageBars]:
    """The callback to hand a job as ``on_stage``, shown as suits the console (stderr)."""
    console = console or err_console
    if not console.is_terminal:
        log = StageLog(job, console)
        yield log
        log(Stage(DONE))
        return
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bars = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} {task.fields[unit]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    with bars:
        display = StageBars(bars)
        yield display
        display(Stage(DONE))


def _duration(seconds: float) -> str:
    """``seconds`` as people say it: 42 s, 3 min 05 s, 1 h 02 min."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
