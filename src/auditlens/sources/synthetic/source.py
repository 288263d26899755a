"""The generated events as a Source, with a watermark that records the rows done."""

from __future__ import annotations

import json
from collections.abc import Iterator

import polars as pl

from auditlens import schema
from auditlens.calendar import BusinessCalendar
from auditlens.errors import SourceError
from auditlens.sources.base import Batch, Source, Watermark
from auditlens.sources.synthetic.generator import generate
from auditlens.sources.synthetic.spec import GeneratorSpec


class SyntheticSource(Source):
    """The generated events as a Source: batches of ``batch_rows`` with a watermark.

    Each row's ``_location`` is ``synthetic:seed=<seed>#row=<n>``. The watermark records
    the spec and the rows done, so reading again with it yields only what is left
    (nothing, once all was read). Raises SourceError for a watermark of another spec.
    """

    name = "synthetic"

    def __init__(
        self,
        spec: GeneratorSpec | None = None,
        *,
        batch_rows: int = 1_000_000,
        calendar: BusinessCalendar | None = None,
    ) -> None:
        self.spec = spec or GeneratorSpec()
        self.batch_rows = batch_rows
        self.calendar = calendar

    def read(self, since: Watermark | None = None) -> Iterator[Batch]:
        """Yield the events not yet covered by ``since``, oldest first."""
        done = self._rows_done(since)
        events = generate(self.spec, self.calendar).events
        seed = self.spec.seed
        step = max(1, self.batch_rows)
        for offset in range(done, events.height, step):
            chunk = (
                events.slice(offset, step)
                .with_row_index("_n", offset)
                .with_columns(
                    (pl.lit(f"synthetic:seed={seed}#row=") + pl.col("_n").cast(pl.String)).alias(
                        schema.LOCATION
                    )
                )
                .drop("_n")
            )
            rows = offset + chunk.height
            mark = json.dumps(
                {"seed": seed, "spec": self.spec.to_dict(), "rows": rows}, sort_keys=True
            )
            yield Batch(chunk, Watermark(mark), label=f"synthetic rows {offset}..{rows - 1}")

    def _rows_done(self, since: Watermark | None) -> int:
        if since is None:
            return 0
        try:
            state = json.loads(since.value)
            spec, rows = state["spec"], int(state["rows"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(
                f"synthetic watermark {since.value[:80]!r} is not readable ({exc})",
                hint="drop the stored watermark of source 'synthetic' to read from the start",
                ko=f"synthetic 워터마크를 읽을 수 없습니다: {since.value[:80]!r} ({exc})",
                ko_hint="처음부터 읽으려면 'synthetic' 소스의 저장된 워터마크를 지우십시오",
            ) from None
        if spec != self.spec.to_dict():
            raise SourceError(
                f"synthetic watermark belongs to spec {spec}, not {self.spec.to_dict()}",
                hint="use the same spec, or drop the stored watermark to start over",
                ko=f"synthetic 워터마크는 다른 설정({spec})의 것입니다. 현재 설정: "
                f"{self.spec.to_dict()}",
                ko_hint="같은 설정을 쓰거나 저장된 워터마크를 지우고 처음부터 다시 하십시오",
            )
        return rows
