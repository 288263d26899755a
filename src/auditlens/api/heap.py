"""Keep Python's full garbage collections out of the service's latency.

A full (generation 2) collection walks every container object the process holds and
stops every request meanwhile. A service worker holds ~150,000 of them once its modules,
the store's engine and its first queries are loaded — all alive for the life of the
process — and CPython starts a full collection whenever the old generation has grown by a
quarter: measured under ``bench/bench_api.py`` at 500 requests/s, each worker paused 120 to
320 ms every few seconds on a loaded machine, collecting nothing, and the risk API's p99
was those pauses.

:func:`freeze` moves what the process holds into the permanent generation
(``gc.freeze``), which collections skip: the service does it once its app is built and,
through :class:`FreezeHeap`, again after its first requests have loaded what they load
lazily (drivers, query caches). Later full collections walk only what was made since.
Reference counting still frees frozen objects; only reference cycles that were already
garbage when frozen stay, once (the young generations are collected first to keep that
small). Only serving processes freeze (``serve api``): a test process building apps
by the hundred must not.
"""

from __future__ import annotations

import gc
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

#: Served requests after which the heap is frozen again (lazy loads settle by then).
FREEZE_AFTER: Final = (100, 2_000)


def freeze(*, full: bool = False) -> None:
    """Collect (the young generations, or all with ``full``), then freeze what is left."""
    gc.collect() if full else gc.collect(1)
    gc.freeze()


class FreezeHeap:
    """ASGI middleware: :func:`freeze` after the ``after``-th requests this process served."""

    def __init__(self, app: ASGIApp, after: tuple[int, ...] = FREEZE_AFTER) -> None:
        self.app = app
        self.after = frozenset(after)
        self.served = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.served += 1
            if self.served in self.after:
                freeze()
