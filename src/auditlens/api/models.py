"""Request and response models of the API: strict (no lax coercion), no unknown fields.

Request bodies derive from :class:`Strict`: ``"risk": false`` where a number is expected,
or a field the API does not know, is a 422 — never silently coerced or ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Base of every request model: strict types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Health(BaseModel):
    """Liveness or readiness: ``ok`` (readiness failing is a 503 problem instead)."""

    status: Literal["ok"] = "ok"


class KeyInfo(BaseModel):
    """The API key a request used (never its secret)."""

    name: str
    prefix: str
    expires_at: dt.datetime | None


class WhoAmI(BaseModel):
    """The proven principal of the request."""

    id: str = Field(description="Principal id (API keys: key:NAME); the actor in the trail.")
    roles: list[str] = Field(description="Roles held (every role can also read).")
    via: Literal["api_key", "oidc"] = Field(description="How the principal was proven.")
    key: KeyInfo | None = Field(None, description="The API key used, if any.")
