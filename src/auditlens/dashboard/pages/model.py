"""Model and data (placeholder: filled in below the skeleton)."""

from __future__ import annotations

import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.dashboard.navigation import title


def render(ctx: Context) -> None:
    """The page title."""
    st.title(title("model", ctx.lang))
