"""Fixtures of the report tests: a deployment filled from a generated organisation
(tests/organisation.py: ingested in two parts with quarantined rows, scored twice, alerts
triaged by kim and lee with four eyes), the month holding its first run's alerts and
decisions, and the :class:`ReportData` of that month.

The organisation is built once per session (a few seconds); a test that writes to the
store (a report records an audit entry) takes :func:`report_settings`, its own copy.

Example::

    def test_something(report_data: ReportData, report_store: Store) -> None:
        assert report_data.kpis == views.kpis(report_store, ...)
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from auditlens.config import Settings
from auditlens.reports.model import ReportData, build_report
from auditlens.reports.period import Period
from auditlens.store.repo import Store
from tests.organisation import ZONE, Organisation, build, copy_deployment

#: When the shared report was built (a fixed clock: its footer is reproducible).
BUILT_AT = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.UTC)
#: A pseudonym key for the pseudonymised deployment (at least 32 characters).
PSEUDONYM_KEY = "report-tests-pseudonym-key-0123456789"


@pytest.fixture(scope="session")
def report_organisation(tmp_path_factory: pytest.TempPathFactory) -> Organisation:
    """The generated organisation, built once per session."""
    return build(tmp_path_factory.mktemp("report-org"))


@pytest.fixture(scope="session")
def report_period(report_organisation: Organisation) -> Period:
    """The month holding the organisation's first run: alerts opened, triaged, four eyes."""
    opened = report_organisation.first_run_at.astimezone(zoneinfo.ZoneInfo(ZONE)).date()
    return Period.containing(opened, "monthly")


@pytest.fixture
def report_store(report_organisation: Organisation) -> Iterator[Store]:
    """The shared organisation's store, for reads only."""
    with Store.open(report_organisation.settings) as store:
        yield store


@pytest.fixture(scope="session")
def report_data(report_organisation: Organisation, report_period: Period) -> ReportData:
    """The Korean report of :func:`report_period` (built once: reads only)."""
    with Store.open(report_organisation.settings) as store:
        return build_report(store, report_organisation.settings, report_period, "ko", now=BUILT_AT)


@pytest.fixture
def report_settings(report_organisation: Organisation, tmp_path: Path) -> Settings:
    """Settings of a copy of the organisation's store and lake (a test's own: writable)."""
    return copy_deployment(report_organisation, tmp_path)


def pseudonymised(settings: Settings) -> Settings:
    """``settings`` with ``privacy.pseudonymise`` on."""
    privacy = settings.privacy.model_copy(
        update={"pseudonymise": True, "pseudonym_key": SecretStr(PSEUDONYM_KEY)}
    )
    return settings.model_copy(update={"privacy": privacy})
