"""Keep a job's full garbage collections from walking what the process held before it.

A full (generation 2) collection walks every container object the process holds, and
CPython starts one whenever the old generation has grown by a quarter. A command's
process holds ~140,000 such objects once its modules are imported (Polars, numpy,
SQLAlchemy, pydantic, the model), all alive until it exits: a daily ``auditlens run``
(one new day on 60 days of history, 10M events) made two full collections while it
worked, 0.16 and 0.20 CPU-s, that freed 10 objects between them (issue 17).

:func:`job_heap` moves what the process holds when a job starts into the permanent
generation (``gc.freeze``) for the job's length and back when it ends (``gc.unfreeze``),
so the job's collections walk only what the job itself made. Nothing is kept from the
collector: the young generations are collected first, and what was frozen returns to the
old generation at the end, where the next full collection sees it. A job inside a job (a
run ingesting its sources) freezes once, at the outermost; a process that froze its heap
for good (``serve api``, api/heap.py) is left as it is.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_frozen_here = False


@contextlib.contextmanager
def job_heap() -> Iterator[None]:
    """Freeze what the process holds for the length of the ``with`` block (module
    docstring); unfreeze it after, when this call froze it."""
    global _depth, _frozen_here
    with _lock:
        _depth += 1
        if _depth == 1 and gc.isenabled() and gc.get_freeze_count() == 0:
            gc.collect(1)  # young cycles stay collectable: only survivors are frozen
            gc.freeze()
            _frozen_here = True
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _frozen_here:
                gc.unfreeze()
                _frozen_here = False
