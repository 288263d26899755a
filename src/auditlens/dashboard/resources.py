"""What a dashboard server process keeps, and what each session gets from it.

One :class:`Resources` per settings (``st.cache_resource``): the store holder, the
:class:`~auditlens.api.auth.Authenticator`, the pseudonymiser and its index — the same
objects the API keeps on ``app.state``. A session's page gets a
:class:`~auditlens.api.routes.common.Context` built from them, its proven caller and
its language, exactly as an API request does.

The settings are those of ``auditlens serve dashboard``: the command puts the absolute
path of its configuration file in ``AUDITLENS_CONFIG`` (and ``--lang`` in
``AUDITLENS_LANGUAGE``) before Streamlit runs this script, so :func:`current_settings`
reads the same file and environment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import streamlit as st
from pydantic import SecretStr

from auditlens.api.auth import Authenticator, Caller
from auditlens.api.routes.common import Context, PseudonymIndex
from auditlens.api.stores import StoreHolder
from auditlens.config import Settings, load_settings
from auditlens.i18n import Lang
from auditlens.privacy import Pseudonymiser, pseudonymiser_for


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Resources:
    """The long-lived objects of one deployment in this server process."""

    settings: Settings
    stores: StoreHolder
    authenticator: Authenticator
    pseudonymiser: Pseudonymiser | None
    pseudonyms: PseudonymIndex

    def context(self, caller: Caller, lang: Lang) -> Context:
        """The context a page of ``caller``'s session renders with (the clock read now).

        Raises:
            Problem: 503 when the store cannot be opened.
        """
        return Context(
            store=self.stores.get(),
            caller=caller,
            lang=lang,
            pseudonymiser=self.pseudonymiser,
            pseudonyms=self.pseudonyms,
            now=self.authenticator.clock(),
            settings=self.settings,
        )


def fingerprint(settings: Settings) -> str:
    """A digest of every setting, secrets included (two deployments never share one)."""

    def plain(value: Any) -> Any:
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    text = json.dumps(settings.model_dump(), default=plain, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _release(resources: Resources) -> None:
    resources.stores.close()


@st.cache_resource(show_spinner=False, on_release=_release)
def _resources(key: str, _settings: Settings) -> Resources:
    del key  # the cache key: the settings' fingerprint
    pseudonymiser = pseudonymiser_for(_settings)
    stores = StoreHolder(_settings)
    return Resources(
        settings=_settings,
        stores=stores,
        authenticator=Authenticator(_settings, stores, _utc_now),
        pseudonymiser=pseudonymiser,
        pseudonyms=PseudonymIndex(pseudonymiser),
    )


def resources(settings: Settings) -> Resources:
    """This process's resources for ``settings`` (made once, kept while it runs).

    Raises:
        ConfigError: the OIDC key set cannot be read, or pseudonymisation is on without
            a usable key.
    """
    return _resources(fingerprint(settings), settings)


def current_settings() -> Settings:
    """The deployment's settings, read as the CLI reads them (``AUDITLENS_CONFIG`` or
    ``./auditlens.toml``, then ``AUDITLENS_*``).

    Raises:
        ConfigError: the file or a variable is invalid.
    """
    return load_settings()


def forget() -> None:
    """Drop every kept resource, closing their stores (tests; a reloaded deployment)."""
    _resources.clear()
