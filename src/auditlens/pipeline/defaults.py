"""Defaults the command line shows in ``--help``, apart from the jobs so that printing
the help does not import them."""

from __future__ import annotations

from typing import Final

#: How long `auditlens run` waits for another run on the same store by default.
DEFAULT_RUN_WAIT: Final = 10.0
