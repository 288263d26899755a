"""Generation as a chain of steps, each taking what it needs and returning what it made.

One random generator, seeded by the spec, is passed through the steps in a fixed order
(people, plan, ordinary sessions, scenarios, tasks, events): the same spec gives the
same data, byte for byte. The realistic profile takes the same steps with look-alikes,
joiners, leavers and transfers planned first (:mod:`.realistic`); the default profile's
draws are untouched by it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from auditlens import schema
from auditlens.calendar import BusinessCalendar
from auditlens.sources.synthetic import casting, realistic
from auditlens.sources.synthetic.catalog import catalog_frame, resource_ids
from auditlens.sources.synthetic.events import coded_events, event_frame, task_table
from auditlens.sources.synthetic.organisation import DEPARTMENT_NAMES, ROLE_NAMES, People, people
from auditlens.sources.synthetic.scenarios import Plan, Planted, plan_insiders, plant
from auditlens.sources.synthetic.sessions import ordinary_sessions, session_arrays
from auditlens.sources.synthetic.spec import (
    DAY,
    EPOCH,
    NEVER,
    GeneratorSpec,
    Period,
    SyntheticData,
)


def generate(spec: GeneratorSpec, calendar: BusinessCalendar | None = None) -> SyntheticData:
    """Generate the organisation ``spec`` describes; identical output for identical input.

    ``calendar`` decides weekends and holidays (default: Korean holidays); wall-clock
    times are in ``spec.timezone``.
    """
    rng = np.random.default_rng(spec.seed)
    period = Period.of(spec, calendar or BusinessCalendar(timezone=spec.timezone))
    staff = people(spec, rng)
    if spec.profile == "realistic":
        return _realistic(spec, rng, period, staff)
    plan = plan_insiders(spec, rng, period, staff)
    resources = resource_ids()
    work = ordinary_sessions(spec, rng, period, staff, left=plan.left, forced=plan.forced)
    planted = plant(rng, period, staff, plan, work)
    sess = session_arrays(work.sessions, planted.sessions)
    tasks = task_table(rng, sess, staff, planted.tasks)
    codes = coded_events(
        rng, sess, tasks, n_resources=len(resources), period=period, left=plan.left
    )
    hosts, ips = staff.hosts + planted.hosts, staff.ips + planted.ips
    events = event_frame(codes, staff, resources, hosts, ips)
    return SyntheticData(events, _labels(planted, period), catalog_frame(), _directory(staff, plan))


def _realistic(
    spec: GeneratorSpec, rng: np.random.Generator, period: Period, staff: People
) -> SyntheticData:
    """The realistic profile: life events and look-alikes, quiet insiders, then the same
    steps as the default; movers work under a second code from their transfer day."""
    life = realistic.plan_life(spec, rng, period, staff)
    plan = realistic.plan_quiet(spec, rng, period, staff, life)
    resources = resource_ids()
    work = ordinary_sessions(
        spec, rng, period, staff, left=plan.left, forced=plan.forced,
        joined=life.joined, absent=life.absent,
    )  # fmt: skip
    planted = realistic.plant_realistic(rng, period, staff, plan, life, work)
    sess = session_arrays(work.sessions, planted.sessions)
    moved, sess, left = casting.transfer(staff, life, sess, plan.left)
    tasks = casting.first_usb(task_table(rng, sess, moved, planted.tasks), sess, plan)
    codes = coded_events(rng, sess, tasks, n_resources=len(resources), period=period, left=left)
    hosts, ips = staff.hosts + planted.hosts, staff.ips + planted.ips
    events = event_frame(codes, moved, resources, hosts, ips)
    directory = casting.directory_now(_directory(staff, plan), staff, life)
    cast = casting.cast(staff, period, life, plan)
    return SyntheticData(events, _labels(planted, period), catalog_frame(), directory, cast)


def _labels(planted: Planted, period: Period) -> pl.DataFrame:
    """The answer key, one row per insider, sorted by user id."""
    labels = pl.DataFrame(
        {
            "user_id": [lb[0] for lb in planted.labels],
            "scenario": [lb[1] for lb in planted.labels],
            "start": [period.utc(lb[2]) for lb in planted.labels],
            "end": [period.utc(lb[3]) for lb in planted.labels],
        },
        schema=schema.LABEL_DTYPES,
    )
    return labels.sort("user_id")


def _directory(staff: People, plan: Plan) -> pl.DataFrame:
    """Who works where as what, on which PC, since and until when."""
    left = [None if x == NEVER else EPOCH + dt.timedelta(days=int(x // DAY)) for x in plan.left]
    users = len(staff.user_ids)
    return pl.DataFrame(
        {
            "user_id": staff.user_ids,
            "department": [DEPARTMENT_NAMES[d] for d in staff.dept],
            "role": [ROLE_NAMES[r] for r in staff.role],
            "host": staff.hosts[:users],
            "src_ip": staff.ips[:users],
            "hired": staff.hired,
            "left": left,
        },
        schema={"user_id": pl.String, "department": pl.String, "role": pl.String,
                "host": pl.String, "src_ip": pl.String, "hired": pl.Date, "left": pl.Date},
    )  # fmt: skip
