"""Progress of a long command: a live display on a terminal, log lines elsewhere.

On a terminal (stderr is a TTY) every stage gets a line with a bar, the units done, the
time taken and, when the stage knows its total, an estimate of the time left. When not
(cron, Airflow, a pipe) the same reports become plain lines with a timestamp in the
configured zone, labelled with it (localtime), one when a stage starts and ends and at
most one every :data:`LOG_EVERY` seconds in between, on stderr so that stdout keeps only
the results. Both speak the invocation's language (stage names, units, durations).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from auditlens.cli.common import err_console
from auditlens.i18n import say
from auditlens.localtime import DEFAULT_ZONE, local_time
from auditlens.pipeline.stages import DONE, Stage, stage_label, unit_label

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

#: Seconds between two log lines of the same stage when not on a terminal.
LOG_EVERY: Final = 10.0


def stage_name(name: str, lang: str) -> str:
    """A stage's name in ``lang``: 'ingest sample' -> 'sample 수집'.

    >>> stage_name("ingest sample", "ko"), stage_name("score", "ko"), stage_name("score", "en")
    ('sample 수집', '점수 계산', 'score')
    """
    return stage_label(lang, name)


def unit_name(unit: str, lang: str) -> str:
    """A unit of work in ``lang``: 'rows' -> '행'."""
    return unit_label(lang, unit)


class StageLog:
    """Timestamped lines for each stage of ``job`` (its start, progress and end)."""

    def __init__(
        self, job: str, console: Console, lang: str = "ko", timezone: str = DEFAULT_ZONE
    ) -> None:
        self.job = job
        self.console = console
        self.lang = lang
        self.timezone = timezone
        self._stage = Stage("")
        self._began = self._logged = time.monotonic()

    def __call__(self, stage: Stage) -> None:
        """Log a stage's start, its progress now and then, and the end of the one before."""
        now = time.monotonic()
        lang = self.lang
        if stage.name != self._stage.name:
            if self._stage.name:
                took = f" ({_duration(now - self._began, lang)})"
                name = stage_name(self._stage.name, lang)
                count = self._count(self._stage)
                self._line(say(lang, "progress.done", stage=name, count=count, took=took))
            if stage.name != DONE:
                planned = (
                    f" ({stage.total:,}{self._unit(stage)})" if stage.total is not None else ""
                )
                name = stage_name(stage.name, lang)
                self._line(say(lang, "progress.started", stage=name, planned=planned))
            self._stage, self._began, self._logged = stage, now, now
            return
        self._stage = stage
        if now - self._logged >= LOG_EVERY:
            name = stage_name(stage.name, lang)
            self._line(f"{name}{self._count(stage)}{self._left(stage, now)}")
            self._logged = now

    def _unit(self, stage: Stage) -> str:
        """The stage's unit, after a number: ' rows' / '행'."""
        unit = unit_name(stage.unit, self.lang)
        return unit if self.lang == "ko" else f" {unit}"

    def _count(self, stage: Stage) -> str:
        if not stage.unit:
            return ""
        if stage.total is None:
            return f": {stage.done:,}{self._unit(stage)}"
        unit = unit_name(stage.unit, self.lang)
        return say(self.lang, "progress.of", done=stage.done, total=stage.total, unit=unit)

    def _left(self, stage: Stage, now: float) -> str:
        if not stage.total or not stage.done:
            return ""
        left = (now - self._began) / stage.done * (stage.total - stage.done)
        return say(self.lang, "progress.left", left=_duration(left, self.lang))

    def _line(self, text: str) -> None:
        stamp = local_time(dt.datetime.now(dt.UTC), self.timezone, seconds=True)
        line = f"{stamp} auditlens {self.job}: {text}"
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)


class StageBars:
    """A rich progress display: one line per stage, an estimate where the total is known."""

    def __init__(self, bars: Progress, lang: str = "ko") -> None:
        self.bars = bars
        self.lang = lang
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
                self._task = self.bars.add_task(
                    stage_name(stage.name, self.lang),
                    total=stage.total,
                    unit=unit_name(stage.unit, self.lang),
                )
        self._stage = stage
        if self._task is not None:
            self.bars.update(self._task, completed=stage.done, total=stage.total)


@contextmanager
def stages(
    job: str, console: Console | None = None, lang: str = "ko", timezone: str = DEFAULT_ZONE
) -> Iterator[StageLog | StageBars]:
    """The callback to hand a job as ``on_stage``, shown as suits the console (stderr),
    in ``lang``, log lines stamped in ``timezone``."""
    console = console or err_console
    if not console.is_terminal:
        log = StageLog(job, console, lang, timezone)
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
        display = StageBars(bars, lang)
        yield display
        display(Stage(DONE))


def _duration(seconds: float, lang: str = "en") -> str:
    """``seconds`` as people say it: 42 s, 3 min 05 s, 1 h 02 min (42초, 3분 05초, 1시간 02분).

    >>> _duration(185, "en"), _duration(185, "ko"), _duration(3720, "ko")
    ('3 min 05 s', '3분 05초', '1시간 02분')
    """
    s, m, h = ("초", "분", "시간") if lang == "ko" else (" s", " min", " h")
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}{s}" if seconds < 10 else f"{whole}{s}"
    if whole < 3600:
        return f"{whole // 60}{m} {whole % 60:02d}{s}"
    return f"{whole // 3600}{h} {whole % 3600 // 60:02d}{m}"
