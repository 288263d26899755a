"""Canonical schemas: access events, labels and the resource-sensitivity catalog.

Every source maps its input onto the canonical event columns below; ``validate.py``
coerces and checks them. Timestamps are stored tz-aware in UTC and shown in the
configured zone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import polars as pl

from auditlens import vocabulary

if TYPE_CHECKING:
    from types import ModuleType

    import pandera.polars as pa

EVENT_ID: Final = "event_id"
USER_ID: Final = "user_id"
TIMESTAMP: Final = "timestamp"
ACTION_TYPE: Final = "action_type"
RESOURCE_ID: Final = "resource_id"
HOST: Final = "host"
SRC_IP: Final = "src_ip"
SUCCESS: Final = "success"
DEPARTMENT: Final = "department"
ROLE: Final = "role"

#: Column every source adds: where the row came from ("file.csv:12", "events#key=42").
LOCATION: Final = "_location"

REQUIRED_COLUMNS: Final = (EVENT_ID, USER_ID, TIMESTAMP, ACTION_TYPE)
OPTIONAL_COLUMNS: Final = (RESOURCE_ID, HOST, SRC_IP, SUCCESS, DEPARTMENT, ROLE)
EVENT_COLUMNS: Final = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

TIMESTAMP_DTYPE: Final = pl.Datetime("us", "UTC")

#: Canonical dtypes of a validated event frame.
EVENT_DTYPES: Final[dict[str, pl.DataType]] = {
    EVENT_ID: pl.String(),
    USER_ID: pl.String(),
    TIMESTAMP: TIMESTAMP_DTYPE,
    ACTION_TYPE: pl.String(),
    RESOURCE_ID: pl.String(),
    HOST: pl.String(),
    SRC_IP: pl.String(),
    SUCCESS: pl.Boolean(),
    DEPARTMENT: pl.String(),
    ROLE: pl.String(),
}

#: The canonical action vocabulary (defined in vocabulary.py with its synonyms).
CORE_ACTIONS: Final = vocabulary.CORE_ACTIONS
#: Categorical columns a source's value map may name.
VALUE_MAP_COLUMNS: Final = vocabulary.VALUE_MAP_COLUMNS

#: Actions that are about an account or a device, not a resource: resource_id may be null.
RESOURCELESS_ACTIONS: Final = frozenset({"login", "logout", "usb_connect", "usb_disconnect"})

#: Action tokens are lower-case words: letters, digits and underscores.
ACTION_PATTERN: Final = r"^[a-z][a-z0-9_]*$"

#: Earliest accepted event time: ``validate.py`` quarantines older ones (e.g. 0001-01-01,
#: a placeholder some exports write for "unknown"; pandera cannot even report such a
#: value). The latest is now + future_tolerance (the schema's check).
EARLIEST_TIMESTAMP: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

SENSITIVITY_LEVELS: Final = ("low", "medium", "high", "critical")
#: Default weight of each level in the sensitivity-weighted resource score.
SENSITIVITY_WEIGHTS: Final = {"low": 1.0, "medium": 2.0, "high": 5.0, "critical": 10.0}


def event_schema(now: dt.datetime, future_tolerance: dt.timedelta) -> pa.DataFrameSchema:
    """The pandera schema of a coerced event frame.

    ``now`` comes from the caller's clock so that "timestamp in the future" is exact
    in tests. Row-level failures are reported per column and check by ``validate.py``.
    """
    latest = (now.astimezone(dt.UTC) + future_tolerance).replace(microsecond=0)
    px = pandera_polars()  # imported only where events are validated

    non_empty = px.Check.str_length(min_value=1, error="must not be empty")
    schema: pa.DataFrameSchema = px.DataFrameSchema(
        {
            EVENT_ID: px.Column(pl.String, nullable=False, checks=[non_empty]),
            USER_ID: px.Column(pl.String, nullable=False, checks=[non_empty]),
            TIMESTAMP: px.Column(
                TIMESTAMP_DTYPE,
                nullable=False,
                checks=[
                    px.Check.le(
                        latest,
                        error=f"is in the future (later than {latest.isoformat()})",
                    ),
                ],
            ),
            # which action names are accepted is validate.py's (value maps, unknown_actions)
            ACTION_TYPE: px.Column(pl.String, nullable=False),
            RESOURCE_ID: px.Column(pl.String, nullable=True),
            HOST: px.Column(pl.String, nullable=True),
            SRC_IP: px.Column(pl.String, nullable=True),
            SUCCESS: px.Column(pl.Boolean, nullable=True),
            DEPARTMENT: px.Column(pl.String, nullable=True),
            ROLE: px.Column(pl.String, nullable=True),
        },
        checks=[
            px.Check(
                lambda data: data.lazyframe.select(
                    pl.col(RESOURCE_ID).is_not_null()
                    | pl.col(ACTION_TYPE).is_in(sorted(RESOURCELESS_ACTIONS))
                ),
                name="resource_required",
                error=f"resource_id is required unless action_type is one of "
                f"{sorted(RESOURCELESS_ACTIONS)}",
            )
        ],
        strict="filter",
        ordered=False,
    )
    return schema


def pandera_polars() -> ModuleType:
    """``pandera.polars``, imported on first use without pandas when this process has not
    loaded pandas (nor pandera) yet.

    pandera's package ``__init__`` loads pandas, its pandas API and, where pyspark is
    installed, ``pyspark.pandas`` whenever pandas can be imported: 1.1 of the 1.3
    CPU-s importing ``pandera.polars`` took in `auditlens ingest` (issue 17). When pandas
    cannot be imported it takes its own polars-only path, which validates Polars frames
    with the same backend; so while pandera is imported, this thread's imports of pandas
    are refused (:class:`_WithoutPandas`; other threads import as ever, and pandas itself
    stays importable afterwards). Only ``pandera.polars`` is used here; pandera's pandas
    API (``pandera.typing``'s pandas types) is then missing from this process. Should
    the polars-only import fail (another pandera), pandera is imported as usual.
    """
    loaded = sys.modules.get("pandera.polars")
    if loaded is not None:
        return loaded
    if "pandas" not in sys.modules and "pandera" not in sys.modules:
        before = set(sys.modules)
        refuse = _WithoutPandas()
        sys.meta_path.insert(0, refuse)
        try:
            found = importlib.import_module("pandera.polars")
            # pandera looks for its pandas backends once, on the first check it runs,
            # and remembers what it found: found now, it finds none (as without pandas)
            with contextlib.suppress(ImportError):
                checks = importlib.import_module("pandera.backends.register_checks")
                looked = getattr(checks, _LOOKUP, None)
                if callable(looked):
                    looked()
            return found
        except Exception:
            for name in set(sys.modules) - before:
                if name == "pandera" or name.startswith("pandera."):
                    del sys.modules[name]
        finally:
            sys.meta_path.remove(refuse)
    return importlib.import_module("pandera.polars")


#: pandera's one-time lookup of its pandas backends (``backends/register_checks.py``).
_LOOKUP: Final = "_load_get_backend_types_from_mro"


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Refuses imports of pandas in the thread that made it, as an install without
    pandas would (pandera's ``__init__`` looks for that message)."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if threading.get_ident() == self.thread and fullname.split(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def empty_events() -> pl.DataFrame:
    """An empty, correctly typed event frame."""
    return pl.DataFrame(schema=EVENT_DTYPES)


def user_departments(
    events: pl.LazyFrame | pl.DataFrame,
    directory: pl.DataFrame | None = None,
    users: Collection[str] | None = None,
) -> dict[str, str]:
    """Each user's department: the one way auditlens resolves it.

    The directory's (``user_id, department``; a user listed twice: the last row) when it
    names one, else the user's most frequent non-null department in ``events`` (a tie:
    the alphabetically first) — the rule peer groups follow (features/peers.py). Users
    with neither are absent. ``users`` limits the answer to those users.

    Example::

        >>> events = pl.DataFrame({"user_id": ["a", "a", "a", "b"],
        ...                        "department": ["IT", "HR", "IT", "HR"]})
        >>> user_departments(events, pl.DataFrame({"user_id": ["b"], "department": ["Ops"]}))
        {'a': 'IT', 'b': 'Ops'}
    """
    frame = events.lazy()
    wanted = pl.lit(True) if users is None else pl.col(USER_ID).is_in(list(users))
    counts = None
    if DEPARTMENT in frame.collect_schema().names():
        counts = (
            frame.filter(wanted & pl.col(DEPARTMENT).is_not_null())
            .group_by(USER_ID, DEPARTMENT)
            .agg(pl.len().alias("_n"))
            .collect()
        )
    return departments_of_counts(counts, directory, users)


def departments_of_counts(
    counts: pl.DataFrame | None,
    directory: pl.DataFrame | None = None,
    users: Collection[str] | None = None,
) -> dict[str, str]:
    """:func:`user_departments` from ``counts`` (``user_id, department, _n``: events per
    user and department, rows of the same pair summed) instead of the events: for a
    caller that keeps those counts (the stream's peer history).

    >>> counts = pl.DataFrame({"user_id": ["a", "a", "a", "b"],
    ...                        "department": ["IT", "HR", "IT", "HR"], "_n": [1, 2, 2, 4]})
    >>> departments_of_counts(counts)
    {'a': 'IT', 'b': 'HR'}
    """
    wanted = pl.lit(True) if users is None else pl.col(USER_ID).is_in(list(users))
    found: dict[str, str] = {}
    if counts is not None:
        total = (
            counts.filter(wanted & pl.col(DEPARTMENT).is_not_null())
            .group_by(USER_ID, DEPARTMENT)
            .agg(pl.col("_n").sum())
        )
        # the most events; a tie: the alphabetically first
        modes = total.sort(USER_ID, "_n", DEPARTMENT, descending=[False, True, False]).unique(
            USER_ID, keep="first", maintain_order=True
        )
        found.update(zip(modes[USER_ID].to_list(), modes[DEPARTMENT].to_list(), strict=True))
    if directory is not None and {USER_ID, DEPARTMENT} <= set(directory.columns):
        listed = directory.filter(wanted & pl.col(DEPARTMENT).is_not_null())
        found.update(zip(listed[USER_ID].to_list(), listed[DEPARTMENT].to_list(), strict=True))
    return found


@dataclass(frozen=True)
class Watermark:
    """Opaque, source-specific position: everything up to here has been read.

    ``value`` is a JSON string the source alone interprets (a change id for SQL,
    the digests of files already read for files). The store saves it per source.
    """

    value: str


# --- labels (past audit findings, planted scenarios, CERT answer key) -----------------

LABEL_DTYPES: Final[dict[str, pl.DataType]] = {
    USER_ID: pl.String(),
    "scenario": pl.String(),
    "start": TIMESTAMP_DTYPE,
    "end": TIMESTAMP_DTYPE,
}

# --- resource-sensitivity catalog ------------------------------------------------------

#: Columns of the catalog CSV: exact id or glob pattern, level, optional weight override.
CATALOG_COLUMNS: Final = ("pattern", "sensitivity", "weight", "description")
