"""Errors a user can hit, each saying what was wrong, where, and what to do."""

from __future__ import annotations


class AuditlensError(Exception):
    """Base error: the message is shown to the user as one line.

    ``exit_code`` is the command's exit status (README, *Exit codes*).
    """

    hint: str = ""
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint or self.hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} — {self.hint}" if self.hint else base


class ConfigError(AuditlensError):
    """The configuration file or an AUDITLENS_* variable is invalid."""

    hint = "fix auditlens.toml or the AUDITLENS_* variable (see `auditlens config show`)"


class SourceError(AuditlensError):
    """A source cannot be read (missing file, unknown format, unreachable database)."""


class ValidationFailed(AuditlensError):
    """A whole batch was invalid: nothing in it could be accepted."""

    hint = "see the quarantine table (`auditlens quarantine`) for every row's reason"


class StoreError(AuditlensError):
    """The store is unreachable or not migrated."""

    hint = "run `auditlens db upgrade` and check store_url"


class NoEvents(AuditlensError):
    """The input holds no valid event to score, train or evaluate on (exit code 5)."""

    exit_code = 5
