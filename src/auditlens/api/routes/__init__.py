"""The /v1 data routes of the risk service (docs/api.md): risk, alerts and decisions,
KPIs, audit trail, models, re-identification, miss-rate review samples.

:func:`install` mounts them on an app made by :func:`auditlens.api.app.create_app`.
"""

from __future__ import annotations

from fastapi import FastAPI

from auditlens.api.routes import alerts, audit, privacy, reviews, risk
from auditlens.api.routes.common import PseudonymIndex, install_errors
from auditlens.config import Settings
from auditlens.privacy import pseudonymiser_for


def install(app: FastAPI, settings: Settings) -> None:
    """Mount every /v1 data route on ``app``.

    Raises:
        ConfigError: pseudonymisation is on without a usable key (the service refuses
            to start rather than show user ids).
    """
    app.state.pseudonymiser = pseudonymiser_for(settings)
    app.state.pseudonyms = PseudonymIndex(app.state.pseudonymiser)
    install_errors(app)
    for module in (risk, alerts, privacy, audit, reviews):
        app.include_router(module.router())
