"""The one catalogue of what a person reads, in Korean and English (DESIGN rule 14).

Texts live in one module per area (``run``: what a scoring run tells a person, ...);
:data:`CATALOGUE` joins them and :func:`say` picks one in a language. A test checks that
every entry has both languages, the same ``{placeholders}`` in each, no Hangul in the
English and Hangul in the Korean. Errors carry their Korean beside the English at the
raise site (:class:`auditlens.errors.AuditlensError` ``ko=``/``ko_hint=``): an error is
read where it is raised, and a key there would only hide the sentence.

The language of a command comes from :func:`language`: ``--lang`` on the command line,
else ``AUDITLENS_LANGUAGE``, else ``language`` in ``auditlens.toml``, else Korean.

Example::

    >>> say("en", "run_busy", wait="10")
    'another `auditlens run` is working on this store (waited 10 s)'
    >>> pick("ko", "risk", "위험도")
    '위험도'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final, Literal, TypeGuard

from auditlens.i18n import cli, pipeline, run

Lang = Literal["ko", "en"]
LANGS: Final[tuple[Lang, ...]] = ("ko", "en")
DEFAULT_LANG: Final[Lang] = "ko"

#: Every text by key: ``{"ko": ..., "en": ...}``.
CATALOGUE: Final[Mapping[str, Mapping[str, str]]] = {**run.TEXTS, **cli.TEXTS, **pipeline.TEXTS}


def is_lang(value: object) -> TypeGuard[Lang]:
    """True for a language auditlens speaks."""
    return value in LANGS


def say(lang: str, key: str, **values: object) -> str:
    """The text ``key`` in ``lang`` (ko, else en) with ``values`` filled in."""
    entry = CATALOGUE[key]
    return entry["ko" if lang == "ko" else "en"].format(**values)


def severity_label(value: str, lang: str) -> str:
    """A severity (low, medium, high, critical) as a word in ``lang``: '높음' / 'high'.

    >>> severity_label("high", "ko"), severity_label("high", "en")
    ('높음', 'high')
    """
    key = f"severity.{value}"
    return say(lang, key) if key in CATALOGUE else value


def pick(lang: str, en: str, ko: str) -> str:
    """``ko`` when ``lang`` is Korean, else ``en`` — for a text used in one place only."""
    return ko if lang == "ko" else en


_chosen: list[Lang] = []


def choose_language(lang: str | None) -> None:
    """The command line's ``--lang`` for this invocation (None: none given); the CLI calls
    it once per command so that :func:`language` and the settings agree with it."""
    _chosen.clear()
    if lang is not None and is_lang(lang):
        _chosen.append(lang)


def chosen_language() -> Lang | None:
    """The ``--lang`` of this invocation, if one was given."""
    return _chosen[0] if _chosen else None


def language(explicit: str | None = None) -> Lang:
    """The language of this invocation: ``explicit``, the command line's ``--lang``,
    ``AUDITLENS_LANGUAGE``, ``language`` in the configuration file, else Korean. Never
    raises: a broken configuration file is reported by the command that loads it, in this
    language."""
    for candidate in (explicit, chosen_language(), os.environ.get("AUDITLENS_LANGUAGE")):
        if candidate:
            folded = candidate.strip().lower()
            return folded if is_lang(folded) else DEFAULT_LANG
    return _configured() or DEFAULT_LANG


def _configured() -> Lang | None:
    """``language`` from the configuration file, read with tomllib alone (cheap)."""
    import tomllib

    from auditlens.configfile import config_path

    path = config_path()
    try:
        with path.open("rb") as handle:
            value = tomllib.load(handle).get("language")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    return value if is_lang(value) else None
