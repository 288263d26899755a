"""Privacy: pseudonymised triage, re-identification with four eyes, watching the watchers.

* ``pseudonyms``: :class:`Pseudonymiser` (keyed HMAC-SHA256 → ``P-XXXX-XXXX-XXXX``),
  :func:`mask_text`, :func:`disguise_alert` (what channels show), :func:`shown_user`.
* ``reidentify``: request → a different approver's grant or denial → time-limited reveal
  of one alert's user id to its requester; every step in the audit trail.
* ``watch``: :func:`record_view`, an audit entry for every read of a named person;
  :class:`ViewRecorder` commits many of them at once for a busy service.

Settings: ``[privacy]`` in docs/configuration.md.
"""

from __future__ import annotations

from auditlens.privacy.pseudonyms import (
    Pseudonymiser,
    alert_disguise,
    disguise_alert,
    mask_text,
    pseudonymiser_for,
    sees_user_ids,
    shown_user,
)
from auditlens.privacy.reidentify import (
    ReidentificationError,
    decide_reidentification,
    expire_due,
    request_reidentification,
    reveal,
)
from auditlens.privacy.watch import ViewError, ViewRecorder, record_view

__all__ = [
    "Pseudonymiser",
    "ReidentificationError",
    "ViewError",
    "ViewRecorder",
    "alert_disguise",
    "decide_reidentification",
    "disguise_alert",
    "expire_due",
    "mask_text",
    "pseudonymiser_for",
    "record_view",
    "request_reidentification",
    "reveal",
    "sees_user_ids",
    "shown_user",
]
