"""Scrub secrets from text before it is shown, logged, stored or put in the audit trail.

A secret leaks in more shapes than its plain text: URL-encoded in a connection string,
base64-encoded inside an SMTP ``AUTH PLAIN`` blob (``\\0user\\0password``) or ``AUTH LOGIN``
exchange that a server echoes in its error reply. :func:`scrub` replaces the plain and
URL-encoded forms, then decodes every base64-looking token and hides any that contains a
secret, whatever its alignment in the blob.

Example::

    >>> scrub("535 auth failed: AGF1ZGl0bGVucwBwYTU1", ["pa55"])
    '535 auth failed: ***'
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK: Final = "***"
#: Secrets shorter than this are not scrubbed from free text (every "a" would go).
MIN_SECRET_LENGTH: Final = 3
_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]{4,}={0,2}")
_URL_ESCAPED = re.compile(r"\S*%[0-9A-Fa-f]{2}\S*")


def secret_forms(secret: str) -> set[str]:
    """The plain and URL-encoded spellings of ``secret`` (base64 is found by decoding)."""
    if len(secret) < MIN_SECRET_LENGTH:
        return set()
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}
    return {f for f in forms if f}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every secret replaced by ``***``.

    Args:
        text: anything about to leave the process (an error, an attempt record, a note).
        secrets: the secret values (passwords, tokens, whole webhook URLs).
    """
    plain = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    if not plain or not text:
        return text
    for secret in plain:
        for form in sorted(secret_forms(secret), key=len, reverse=True):
            text = text.replace(form, MASK)
    needles = [s.encode("utf-8") for s in plain]

    def _b64(match: re.Match[str]) -> str:
        token = match.group(0)
        decoded = _decode_base64(token)
        if any(n in decoded for n in needles):
            return MASK
        return token

    text = _BASE64_TOKEN.sub(_b64, text)

    def _url(match: re.Match[str]) -> str:
        token = match.group(0)
        decoded = {unquote(token), unquote_plus(token)}
        return MASK if any(s in d for s in plain for d in decoded) else token

    return _URL_ESCAPED.sub(_url, text)


def _decode_base64(token: str) -> bytes:
    """Everything a base64-looking token may stand for, standard or URL-safe alphabet,
    read from each of the first four offsets (the blob may be glued to other text)."""
    core = token.rstrip("=")
    found = b""
    for start in range(min(4, len(core))):
        part = core[start:]
        for alphabet in (None, b"-_"):
            try:
                found += b"\0" + base64.b64decode(
                    part + "=" * (-len(part) % 4), altchars=alphabet, validate=True
                )
            except (binascii.Error, ValueError):
                part = part[: len(part) - len(part) % 4]
                try:
                    found += b"\0" + base64.b64decode(part, altchars=alphabet, validate=True)
                except (binascii.Error, ValueError):
                    continue
    return found
