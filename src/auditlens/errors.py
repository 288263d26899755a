"""Errors a user can hit, each saying what was wrong, where, and what to do."""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import Final


class AuditlensError(Exception):
    """Base error: the message is shown to the user as one line, in their language.

    ``message``/``hint`` are English; ``ko``/``ko_hint`` the same in Korean (style guide:
    docs/style-ko.md). ``str(error)`` is the English line (logs, tracebacks);
    :meth:`text` the line in a language. ``exit_code`` is the command's exit status
    (README, *Exit codes*).

    >>> error = AuditlensError("no such file x.csv", ko="x.csv 파일이 없습니다",
    ...                        hint="check the path", ko_hint="경로를 확인하십시오")
    >>> error.text("ko")
    'x.csv 파일이 없습니다 — 경로를 확인하십시오'
    >>> str(error)
    'no such file x.csv — check the path'
    """

    hint: str = ""
    ko_hint: str = ""
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str = "", ko: str = "", ko_hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.ko = ko
        if hint or ko_hint:
            # a hint given here replaces the class's, in both languages
            self.hint, self.ko_hint = hint, ko_hint

    def text(self, lang: str) -> str:
        """The message and hint in ``lang`` (Korean falls back to English where no Korean
        was given; the CLI language test finds those)."""
        if lang == "ko":
            message, hint = self.ko or self.message, self.ko_hint or self.hint
        else:
            message, hint = self.message, self.hint
        return f"{message} — {hint}" if hint else message

    def __str__(self) -> str:
        return self.text("en")


class ConfigError(AuditlensError):
    """The configuration file or an AUDITLENS_* variable is invalid."""

    hint = "fix auditlens.toml or the AUDITLENS_* variable (see `auditlens config show`)"
    ko_hint = (
        "auditlens.toml 또는 AUDITLENS_* 환경 변수를 고치십시오 (`auditlens config show`로 확인)"
    )


def check_choices(given: Sequence[str], allowed: Sequence[str], *, what: str, what_ko: str) -> None:
    """Refuse the values of ``given`` that are not in ``allowed``, naming them all.

    >>> try:
    ...     check_choices(["shut", "x"], ["open", "closed"], what="status", what_ko="상태")
    ... except ConfigError as exc:
    ...     print(exc, "/", korean_of(exc))
    unknown statuses shut, x — use one of open, closed / 알 수 없는 상태입니다: `shut`, `x`

    Raises:
        ConfigError: ``what`` (its plural with an ``es`` when several are wrong) and the
            allowed values as the hint.
    """
    bad = [g for g in given if g not in allowed]
    if not bad:
        return
    ticked = ", ".join(f"`{a}`" for a in allowed)
    raise ConfigError(
        f"unknown {what}{'es' if len(bad) > 1 and what.endswith('s') else ''} {', '.join(bad)}",
        hint=f"use one of {', '.join(allowed)}",
        ko=f"알 수 없는 {what_ko}입니다: {', '.join(f'`{b}`' for b in bad)}",
        ko_hint=f"{ticked} 중 하나를 쓰십시오",
    )


class SourceError(AuditlensError):
    """A source cannot be read (missing file, unknown format, unreachable database)."""


class ValidationFailed(AuditlensError):
    """A whole batch was invalid: nothing in it could be accepted."""

    hint = "see the quarantine table (`auditlens quarantine`) for every row's reason"
    ko_hint = "행마다 격리 사유는 `auditlens quarantine`으로 확인하십시오"


class StoreError(AuditlensError):
    """The store is unreachable or not migrated."""

    hint = "run `auditlens db upgrade` and check store_url"
    ko_hint = "`auditlens db upgrade`를 실행하고 store_url을 확인하십시오"


class NoEvents(AuditlensError):
    """The input holds no valid event to score, train or evaluate on (exit code 5)."""

    exit_code = 5


class BilingualValueError(ValueError):
    """A ValueError for a bad configured value that also carries its Korean text.

    Raised inside pydantic validators and value-map checks; :func:`auditlens.config.load_settings`
    and the value-map reader put ``ko`` into the Korean ConfigError.
    """

    def __init__(self, message: str, *, ko: str) -> None:
        super().__init__(message)
        self.ko = ko


def korean_of(exc: BaseException) -> str:
    """The Korean text of ``exc`` when it carries one, else its English text."""
    return str(getattr(exc, "ko", "") or exc)


#: What the operating system says, in Korean, for the errors a user meets with files.
_OS_REASONS_KO: Final = {
    errno.ENOENT: "파일이나 디렉터리가 없음",
    errno.EACCES: "권한 없음",
    errno.EPERM: "허용되지 않은 작업",
    errno.EISDIR: "디렉터리임",
    errno.ENOTDIR: "디렉터리가 아님",
    errno.EEXIST: "같은 이름의 파일이 이미 있음",
    errno.ENOSPC: "디스크 공간 부족",
    errno.EROFS: "읽기 전용 파일 시스템",
}


def os_reason(exc: OSError, lang: str) -> str:
    """Why an operating-system call failed, in ``lang`` (the errno's own words in English).

    >>> os_reason(FileNotFoundError(2, "No such file or directory"), "ko")
    '파일이나 디렉터리가 없음'
    >>> os_reason(FileNotFoundError(2, "No such file or directory"), "en")
    'No such file or directory'
    """
    english = exc.strerror or str(exc)
    if lang != "ko":
        return english
    return _OS_REASONS_KO.get(exc.errno or -1, english)
