"""auditlens: find, explain and act on risky user behaviour in access logs."""

from __future__ import annotations

__version__ = "0.1.0"
