"""Where the configuration file is: ``AUDITLENS_CONFIG`` or ``./auditlens.toml``.

Apart from :mod:`auditlens.config` so that cheap readers (the language of an error
message, before pydantic is imported) find the same file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

DEFAULT_CONFIG_FILE: Final = "auditlens.toml"


def config_path() -> Path:
    """The TOML file settings are read from: ``AUDITLENS_CONFIG`` or ``./auditlens.toml``."""
    return Path(os.environ.get("AUDITLENS_CONFIG", DEFAULT_CONFIG_FILE))
