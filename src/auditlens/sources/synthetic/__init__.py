"""Synthetic organisation with planted, labelled insider scenarios (deterministic per seed).

A Korean financial firm in miniature: departments and roles, each user with a home PC,
a personal working rhythm that respects weekends and Korean public holidays, a resource
catalog with sensitivity levels, and sessions of plausibly ordered actions. A few users
(``insider_rate``) act out one of :data:`SCENARIOS` in a window after a clean baseline;
``labels`` says who, what and when. Generation is vectorised (numpy + polars), so ten
million events take seconds.

The rooms: ``spec`` (what to generate, the period), ``catalog`` (resources, actions,
task templates), ``organisation`` (departments, roles, people), ``scenarios`` (who
acts out what), ``sessions`` (ordinary working days), ``events`` (tasks to events),
``generator`` (the steps in order), ``realistic`` (the realistic profile: quiet
insiders among benign look-alikes) with ``casting`` (movers, who plays which part),
``writing`` and ``source``.

Example::

    >>> from auditlens import schema
    >>> data = generate(GeneratorSpec(users=50, days=14))
    >>> data.events.columns == list(schema.EVENT_COLUMNS)
    True
    >>> sorted(data.labels["scenario"].unique()) == sorted(SCENARIOS)
    True
"""

from __future__ import annotations

from auditlens.sources.synthetic.catalog import ACTIONS, catalog_frame
from auditlens.sources.synthetic.generator import generate
from auditlens.sources.synthetic.realistic import QUIET_SCENARIOS
from auditlens.sources.synthetic.scenarios import SCENARIOS
from auditlens.sources.synthetic.source import SyntheticSource
from auditlens.sources.synthetic.spec import PROFILES, GeneratorSpec, SyntheticData
from auditlens.sources.synthetic.writing import write_sample

__all__ = [
    "ACTIONS",
    "PROFILES",
    "QUIET_SCENARIOS",
    "SCENARIOS",
    "GeneratorSpec",
    "SyntheticData",
    "SyntheticSource",
    "catalog_frame",
    "generate",
    "write_sample",
]
