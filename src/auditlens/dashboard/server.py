"""``auditlens serve dashboard``: Streamlit's server on ``app.py``, headless, no telemetry.

The server runs in this process and executes ``app.py`` once per session run; the app
reads its settings the way the CLI does. So that it reads *the same* settings whatever
its working directory, :func:`serve` first pins ``AUDITLENS_CONFIG`` to the absolute
path of the configuration file the command used and ``AUDITLENS_LANGUAGE`` to the
language it chose (``--lang`` included).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

from auditlens.config import Settings
from auditlens.configfile import config_path

#: The Streamlit script the server runs.
APP: Final = Path(__file__).with_name("app.py")


def streamlit_options(host: str, port: int) -> dict[str, Any]:
    """Streamlit's options for a production server: headless, no usage statistics, no
    file watching or rerun-on-save, no developer menu."""
    return {
        "server.address": host,
        "server.port": port,
        "server.headless": True,
        "server.fileWatcherType": "none",
        "server.runOnSave": False,
        "browser.gatherUsageStats": False,
        "global.developmentMode": False,
        "client.toolbarMode": "viewer",
        "client.showErrorDetails": "none",
        # pages set widgets from their links on purpose (alert queue filters): no warning
        "global.disableWidgetStateDuplicationWarning": True,
    }


def pin_settings(settings: Settings) -> None:
    """Make the app, wherever it runs, load the settings this command loaded."""
    os.environ["AUDITLENS_CONFIG"] = str(config_path().resolve())
    os.environ["AUDITLENS_LANGUAGE"] = settings.language


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve the dashboard until stopped (``host``/``port`` default to ``[dashboard]``)."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import bootstrap

    pin_settings(settings)
    # app.py sits beside the pages/ package: without this, Streamlit's first run would
    # take pages/*.py for old-style page scripts (st.navigation turns it off only later)
    PagesManager.uses_pages_directory = False
    options = streamlit_options(host or settings.dashboard.host, port or settings.dashboard.port)
    flags = {name.replace(".", "_"): value for name, value in options.items()}  # as `streamlit run`
    bootstrap.load_config_options(flag_options=flags)
    bootstrap.run(str(APP), False, [], flags)
