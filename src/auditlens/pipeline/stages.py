"""Where a long job is, for whoever shows progress: named stages with units done.

The jobs (``run``, ``train``, ``evaluate``) take an optional ``on_stage`` callback and
report through :class:`Steps`; the command line turns the reports into a live display
on a terminal or timestamped log lines elsewhere (cli/progress.py). Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from auditlens.i18n import CATALOGUE, say

T = TypeVar("T")


@dataclass(frozen=True)
class Stage:
    """One report: the job is in stage ``name`` with ``done`` of ``total`` units."""

    #: Stable word(s) naming the stage: "ingest SOURCE", "features and model", "score",
    #: "reasons", "store", "alerts", "grid search", "cross-validation", "fit", "report".
    name: str
    done: int = 0
    #: Units in all, when known beforehand (fits of a cross-validation); None for a
    #: stream whose length is unknown (batches of a source).
    total: int | None = None
    #: What one unit is ("rows", "fits"); empty when the stage is not counted.
    unit: str = ""


OnStage = Callable[[Stage], None]

#: The name of the report sent after the last stage ended.
DONE: Final = "done"


def stage_label(lang: str, name: str) -> str:
    """A stage's name as a person reads it in ``lang`` ("ingest SOURCE" keeps the source's
    name; a name the catalogue does not know is shown as it is).

    >>> stage_label("ko", "grid search"), stage_label("ko", "ingest hr")
    ('하이퍼파라미터 탐색', 'hr 수집')
    """
    if f"stage_{name}" in CATALOGUE:
        return say(lang, f"stage_{name}")
    if name.startswith("ingest "):
        return say(lang, "stage_ingest", source=name.removeprefix("ingest "))
    return name


def unit_label(lang: str, unit: str) -> str:
    """A stage's unit ("rows", "fits") in ``lang``; unknown units as they are."""
    return say(lang, f"unit_{unit}") if f"unit_{unit}" in CATALOGUE else unit


class Steps:
    """Reports a job's stages to an optional ``on_stage`` callback (none: does nothing)."""

    def __init__(self, on_stage: OnStage | None) -> None:
        self._on_stage = on_stage
        self._current = Stage("")

    def start(self, name: str, total: int | None = None, unit: str = "") -> None:
        """A new stage begins (the previous one, if any, has ended)."""
        self._current = Stage(name, 0, total, unit)
        self._send()

    def advance(self, by: int = 1) -> None:
        """``by`` more units of the current stage are done."""
        current = self._current
        self._current = Stage(current.name, current.done + by, current.total, current.unit)
        self._send()

    def counted(self, make: Callable[[], T]) -> Callable[[], T]:
        """``make``, advancing one unit each time it is called (a model built per fit)."""

        def counting() -> T:
            self.advance()
            return make()

        return counting

    def finish(self) -> None:
        """The last stage ended."""
        self.start(DONE)

    def _send(self) -> None:
        if self._on_stage is not None:
            self._on_stage(self._current)
