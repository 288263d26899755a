"""Synthetic organisation with planted, labelled insider scenarios (deterministic per seed).

A Korean financial firm in miniature: departments and roles, each user with a home PC,
a personal working rhythm that respects weekends and Korean public holidays, a resource
catalog with sensitivity levels, and sessions of plausibly ordered actions. A few users
(``insider_rate``) act out one of :data:`SCENARIOS` in a window after a clean baseline;
``labels`` says who, what and when. Generation is vectorised (numpy + polars), so ten
million events take seconds.

Example::

    >>> data = generate(GeneratorSpec(users=50, days=14))
    >>> data.events.columns == list(schema.EVENT_COLUMNS)
    True
    >>> sorted(data.labels["scenario"].unique()) == sorted(SCENARIOS)
    True
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens import schema
from auditlens.calendar import BusinessCalendar
from auditlens.errors import AuditlensError, SourceError
from auditlens.sources.base import Batch, Source, Watermark

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

SCENARIOS: Final = (
    "after_hours_theft",
    "privilege_misuse",
    "tampering_sequence",
    "departing_mass_download",
    "account_sharing",
)

_HOUR: Final = 3_600_000_000  # microseconds
_DAY: Final = 24 * _HOUR
_EPOCH: Final = dt.date(1970, 1, 1)
_NEVER: Final = np.iinfo(np.int64).max
_STRIDE: Final = 7919  # prime: maps popularity ranks onto a team's own favourite items


class _Family(NamedTuple):
    pattern: str  # catalog pattern (glob, or the exact id for a single resource)
    sensitivity: str
    kind: str  # file | record | db | system: decides which actions make sense
    fmt: str  # id format with one ``{}`` field
    size: int  # numbered ids 1..size, unless ``names`` is given
    description: str
    names: tuple[str, ...] = ()

    def ids(self) -> list[str]:
        items: list[Any] = list(self.names) or list(range(1, self.size + 1))
        return [self.fmt.format(item) for item in items]


# fmt: off
_FAMILIES: Final[dict[str, _Family]] = {
    "notice": _Family("fileshare/common/notice-*", "low", "file", "fileshare/common/notice-{:03d}.pdf", 150, "전사 공지 (company notices)"),  # noqa: E501
    "intranet": _Family("app/intranet/*", "low", "record", "app/intranet/page-{}", 400, "인트라넷 (intranet pages)"),  # noqa: E501
    "mail": _Family("app/groupware/mail", "low", "record", "app/groupware/{}", 1, "그룹웨어 메일 (groupware mail)", ("mail",)),  # noqa: E501
    "sales_report": _Family("fileshare/sales/report-*", "medium", "file", "fileshare/sales/report-{:04d}.xlsx", 1500, "영업 실적 보고서 (sales reports)"),  # noqa: E501
    "sales_pipeline": _Family("fileshare/sales/pipeline-*", "high", "file", "fileshare/sales/pipeline-{:03d}.xlsx", 300, "영업 파이프라인·제안서 (pipeline, proposals)"),  # noqa: E501
    "crm_customer": _Family("app/crm/customer-*", "high", "record", "app/crm/customer-{}", 20000, "CRM 고객 정보 (customer records)"),  # noqa: E501
    "mkt_campaign": _Family("fileshare/marketing/campaign-*", "low", "file", "fileshare/marketing/campaign-{:04d}.pptx", 800, "캠페인 자료 (campaign material)"),  # noqa: E501
    "mkt_target": _Family("fileshare/marketing/target-list-*", "high", "file", "fileshare/marketing/target-list-{:03d}.csv", 200, "마케팅 대상 고객 목록 (customer target lists)"),  # noqa: E501
    "cms_page": _Family("app/cms/*", "low", "record", "app/cms/page-{}", 400, "홈페이지 CMS (web pages)"),  # noqa: E501
    "db_marketing": _Family("db/marketing/*", "high", "db", "db/marketing/{}", 3, "마케팅 세그먼트 DB (segments, consent)", ("segments", "campaign_responses", "consent")),  # noqa: E501
    "fin_ledger": _Family("fileshare/finance/ledger-*", "high", "file", "fileshare/finance/ledger-{:04d}.xlsx", 800, "회계 원장 사본 (ledger extracts)"),  # noqa: E501
    "fin_budget": _Family("fileshare/finance/budget-*", "medium", "file", "fileshare/finance/budget-{:03d}.xlsx", 300, "예산 (budgets)"),  # noqa: E501
    "erp_journal": _Family("app/erp/journal-*", "high", "record", "app/erp/journal-{}", 5000, "ERP 전표 (journal entries)"),  # noqa: E501
    "db_finance": _Family("db/finance/*", "critical", "db", "db/finance/{}", 3, "회계·지급 DB (ledger, payments)", ("general_ledger", "payments", "settlements")),  # noqa: E501
    "hr_policy": _Family("fileshare/hr/policy-*", "low", "file", "fileshare/hr/policy-{:03d}.pdf", 100, "인사 규정 (HR policies)"),  # noqa: E501
    "hr_eval": _Family("fileshare/hr/evaluation-*", "high", "file", "fileshare/hr/evaluation-{:04d}.docx", 500, "인사 평가 (performance reviews)"),  # noqa: E501
    "hris_employee": _Family("app/hris/employee-*", "high", "record", "app/hris/employee-{}", 3000, "인사 정보 (employee records)"),  # noqa: E501
    "db_hr_salary": _Family("db/hr/salary", "critical", "db", "db/hr/{}", 1, "급여 DB (HR salary)", ("salary",)),  # noqa: E501
    "itsm_ticket": _Family("app/itsm/ticket-*", "low", "record", "app/itsm/ticket-{}", 8000, "IT 서비스 요청 (IT tickets)"),  # noqa: E501
    "sys_server": _Family("sys/server/*", "medium", "system", "sys/server/srv-{:03d}", 300, "서버 (servers)"),  # noqa: E501
    "repo_code": _Family("repo/code/*", "medium", "system", "repo/code/service-{:03d}", 150, "소스 코드 (source repositories)"),  # noqa: E501
    "db_customer": _Family("db/customer/*", "critical", "db", "db/customer/{}", 6, "고객 개인정보 DB (customer PII)", ("accounts", "cards", "loans", "kyc", "contacts", "transactions")),  # noqa: E501
    "comp_case": _Family("fileshare/compliance/case-*", "high", "file", "fileshare/compliance/case-{:04d}.docx", 600, "준법 조사 건 (compliance cases)"),  # noqa: E501
    "audit_finding": _Family("app/audit/finding-*", "medium", "record", "app/audit/finding-{}", 2000, "감사 지적 사항 (audit findings)"),  # noqa: E501
    "aml_alert": _Family("app/aml/alert-*", "high", "record", "app/aml/alert-{}", 5000, "자금세탁방지 경보 (AML alerts)"),  # noqa: E501
    "trading_system": _Family("app/trading/*", "critical", "record", "app/trading/{}", 4, "트레이딩 시스템 (trading systems)", ("order-blotter", "positions", "limits", "pnl")),  # noqa: E501
    "trading_strategy": _Family("fileshare/trading/strategy-*", "high", "file", "fileshare/trading/strategy-{:03d}.xlsx", 200, "운용 전략 (trading strategies)"),  # noqa: E501
    "market_quote": _Family("app/market/quote-*", "low", "record", "app/market/quote-{}", 3000, "시세 (market quotes)"),  # noqa: E501
    "risk_report": _Family("fileshare/risk/var-report-*", "high", "file", "fileshare/risk/var-report-{:04d}.xlsx", 500, "리스크 보고서 (VaR reports)"),  # noqa: E501
    "db_risk": _Family("db/risk/exposures", "high", "db", "db/risk/{}", 1, "익스포저 DB (exposures)", ("exposures",)),  # noqa: E501
    "risk_model": _Family("app/risk/model-*", "medium", "record", "app/risk/model-{}", 150, "리스크 모형 (risk models)"),  # noqa: E501
    "callcenter": _Family("app/callcenter/ticket-*", "low", "record", "app/callcenter/ticket-{}", 20000, "상담 이력 (call-centre tickets)"),  # noqa: E501
    "cs_script": _Family("fileshare/cs/script-*", "low", "file", "fileshare/cs/script-{:03d}.docx", 100, "상담 스크립트 (call scripts)"),  # noqa: E501
}
# fmt: on

#: Exact ids listed in the catalog on top of a glob covering them (same level, no conflict).
_EXACT_EXTRA: Final = (("db/customer/accounts", "critical", "고객 계좌 원장 (customer accounts)"),)

_COMMON: Final = {"notice": 1.0, "intranet": 1.5, "mail": 2.5}
#: Critical data a misusing insider reaches for outside their own department.
_MISUSE_TARGETS: Final = ("db_customer", "db_hr_salary", "trading_system", "db_finance")


class _Department(NamedTuple):
    share: float
    roles: dict[str, float]
    families: dict[str, float]


_DEPARTMENTS: Final[dict[str, _Department]] = {
    "sales": _Department(
        0.16,
        {"staff": 0.85, "manager": 0.15},
        {"sales_report": 5, "sales_pipeline": 2, "crm_customer": 4},
    ),
    "marketing": _Department(
        0.09,
        {"staff": 0.7, "analyst": 0.2, "manager": 0.1},
        {"mkt_campaign": 5, "cms_page": 3, "mkt_target": 1.5, "db_marketing": 1},
    ),
    "finance": _Department(
        0.10,
        {"staff": 0.65, "analyst": 0.2, "manager": 0.15},
        {"fin_ledger": 3, "fin_budget": 2, "erp_journal": 4, "db_finance": 0.8},
    ),
    "hr": _Department(
        0.06,
        {"staff": 0.8, "manager": 0.2},
        {"hr_policy": 2, "hr_eval": 2, "hris_employee": 4, "db_hr_salary": 0.5},
    ),
    "it": _Department(
        0.12,
        {"developer": 0.5, "sysadmin": 0.25, "dba": 0.25},
        {"itsm_ticket": 4, "sys_server": 3, "repo_code": 3},
    ),
    "compliance": _Department(
        0.07,
        {"auditor": 0.8, "manager": 0.2},
        {"comp_case": 3, "audit_finding": 3, "aml_alert": 3},
    ),
    "trading": _Department(
        0.09,
        {"trader": 0.8, "manager": 0.2},
        {"trading_system": 4, "trading_strategy": 2, "market_quote": 4},
    ),
    "risk": _Department(
        0.07,
        {"analyst": 0.8, "manager": 0.2},
        {"risk_report": 4, "db_risk": 2, "risk_model": 2},
    ),
    "customer_service": _Department(
        0.24,
        {"agent": 0.9, "manager": 0.1},
        {"callcenter": 5, "crm_customer": 5, "cs_script": 1},
    ),
}

#: Roles whose job replaces the department's usual resources (DBAs touch every database).
_ROLE_FAMILIES: Final[dict[str, dict[str, float]]] = {
    "dba": {
        "db_customer": 5,
        "db_finance": 1.5,
        "db_marketing": 1,
        "db_risk": 1,
        "db_hr_salary": 0.3,
        "sys_server": 2,
        "itsm_ticket": 2,
    },
    "sysadmin": {"sys_server": 6, "itsm_ticket": 4, "repo_code": 1},
    "developer": {"repo_code": 6, "itsm_ticket": 3, "sys_server": 1},
}
#: Auditors legitimately read other departments' files on top of their own.
_AUDITOR_EXTRA: Final = {
    "sales_report": 0.5,
    "fin_ledger": 0.5,
    "erp_journal": 0.5,
    "hr_policy": 0.3,
}

_TEMPLATES: Final[dict[str, tuple[str, ...]]] = {
    "read": ("view",),
    "browse": ("view", "view"),
    "edit": ("view", "edit"),
    "rework": ("view", "edit", "edit"),
    "create": ("create", "edit"),
    "draft_upload": ("create", "upload"),
    "upload": ("upload",),
    "download": ("view", "download"),
    "export": ("view", "export"),
    "print": ("view", "print"),
    "delete": ("view", "delete"),
    "maintain": ("view", "edit", "delete"),
    "usb": ("usb_connect",),
}
_BASE_MIX: Final = {
    "read": 30, "browse": 15, "edit": 14, "rework": 5, "create": 5, "draft_upload": 2,
    "upload": 3, "download": 8, "export": 2, "print": 3, "delete": 0.6, "maintain": 0.05,
    "usb": 0.1,
}  # fmt: skip
_ROLE_MIX: Final[dict[str, dict[str, float]]] = {
    "manager": {"read": 40, "browse": 20, "edit": 8, "print": 6, "download": 6},
    "dba": {
        "read": 25,
        "edit": 25,
        "rework": 8,
        "delete": 5,
        "maintain": 5,
        "export": 4,
        "usb": 0.3,
    },
    "sysadmin": {"edit": 20, "download": 6, "delete": 1.5, "usb": 0.6},
    "developer": {"edit": 20, "create": 8, "upload": 6, "usb": 0.3},
    "analyst": {"export": 6, "download": 12},
    "trader": {"read": 45, "browse": 15, "edit": 6, "print": 4},
    "agent": {"read": 45, "edit": 20, "browse": 10, "create": 6, "usb": 0.0},
    "auditor": {"read": 40, "browse": 20, "download": 10, "print": 5, "export": 4},
}
#: Legit heavy jobs: a share of these roles edits, deletes or exports far more than peers.
_HEAVY: Final[dict[str, dict[str, float]]] = {
    "dba": {"maintain": 4.0, "delete": 3.0, "edit": 1.5},
    "analyst": {"export": 4.0, "download": 2.0},
    "developer": {"edit": 1.5, "upload": 2.0},
}
_INTENSITY: Final = {"agent": 1.3, "trader": 1.2, "dba": 1.1, "manager": 0.7}
_ONCALL_ROLES: Final = frozenset({"dba", "sysadmin"})
#: Actions that make no sense on a kind of resource are swapped for ones that do.
_KIND_REMAP: Final[dict[str, dict[str, str]]] = {
    "file": {},
    "record": {"upload": "read", "draft_upload": "create", "download": "export"},
    "db": {
        "upload": "read",
        "draft_upload": "edit",
        "create": "edit",
        "download": "export",
        "print": "export",
    },
    "system": {"print": "read", "export": "download"},
}
_KINDS: Final = tuple(_KIND_REMAP)

ACTIONS: Final = (
    "login", "logout", "view", "edit", "create", "delete",
    "download", "upload", "export", "print", "usb_connect",
)  # fmt: skip
_A: Final = {name: code for code, name in enumerate(ACTIONS)}
_T: Final = {name: code for code, name in enumerate(_TEMPLATES)}
_F: Final = {name: code for code, name in enumerate(_FAMILIES)}
_TPL_LEN: Final = np.array([len(a) for a in _TEMPLATES.values()], dtype=np.int64)
_TPL_ACT: Final = np.array(
    [[_A[a] for a in acts] + [-1] * (3 - len(acts)) for acts in _TEMPLATES.values()],
    dtype=np.int8,
)
_REMAP: Final = np.array(
    [[_T[_KIND_REMAP[k].get(t, t)] for t in _TEMPLATES] for k in _KINDS], dtype=np.int64
)
_FAM_KIND: Final = np.array([_KINDS.index(f.kind) for f in _FAMILIES.values()], dtype=np.int64)
_FAM_SIZE: Final = np.array([len(f.names) or f.size for f in _FAMILIES.values()], np.int64)
_FAM_OFFSET: Final = np.concatenate(([0], np.cumsum(_FAM_SIZE)[:-1])).astype(np.int64)


@dataclass(frozen=True)
class GeneratorSpec:
    """What to generate: ``users`` people over ``days`` calendar days from ``start``.

    ``insider_rate`` is the share of users who act out a scenario (at least one per
    scenario when there are enough users outside IT; 0 plants none). ``actions_per_day``
    is the mean number of resource actions of an ordinary user on a working day.
    Raises AuditlensError for impossible values.
    """

    users: int = 200
    days: int = 30
    seed: int = 7
    start: dt.date = dt.date(2026, 9, 1)
    insider_rate: float = 0.02
    timezone: str = "Asia/Seoul"
    actions_per_day: float = 40.0

    def __post_init__(self) -> None:
        problems = []
        if self.users < 1:
            problems.append(f"users must be at least 1, got {self.users}")
        if self.days < 1:
            problems.append(f"days must be at least 1, got {self.days}")
        if not 0.0 <= self.insider_rate <= 0.5:
            problems.append(f"insider_rate must be within 0..0.5, got {self.insider_rate}")
        if not self.actions_per_day > 0:
            problems.append(f"actions_per_day must be positive, got {self.actions_per_day}")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone {self.timezone!r} is not a known IANA zone")
        if problems:
            raise AuditlensError(
                "invalid synthetic spec: " + "; ".join(problems),
                hint="e.g. GeneratorSpec(users=200, days=30, insider_rate=0.02)",
            )

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready plain data (``start`` as ISO date)."""
        return {
            "users": self.users,
            "days": self.days,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "insider_rate": self.insider_rate,
            "timezone": self.timezone,
            "actions_per_day": self.actions_per_day,
        }


@dataclass(frozen=True)
class SyntheticData:
    """A generated organisation: events, the answer key, the catalog and the directory.

    ``events`` has the canonical columns and dtypes, sorted by timestamp. ``labels`` has
    one row per insider: ``start`` is local midnight of the first scenario day and ``end``
    the exclusive end of the scenario (UTC). ``directory`` has ``user_id, department,
    role, host, src_ip, hired, left``; ``left`` (nullable) is the first day without events.
    """

    events: pl.DataFrame
    labels: pl.DataFrame
    catalog: pl.DataFrame
    directory: pl.DataFrame


def generate(spec: GeneratorSpec, calendar: BusinessCalendar | None = None) -> SyntheticData:
    """Generate the organisation ``spec`` describes; identical output for identical input.

    ``calendar`` decides weekends and holidays (default: Korean holidays); wall-clock
    times are in ``spec.timezone``.
    """
    return _Generator(spec, calendar or BusinessCalendar(timezone=spec.timezone)).run()


def catalog_frame() -> pl.DataFrame:
    """The resource catalog: every generated resource id matches exactly one level."""
    rows = [(f.pattern, f.sensitivity, f.description) for f in _FAMILIES.values()]
    rows += list(_EXACT_EXTRA)
    return pl.DataFrame(
        {
            "pattern": [r[0] for r in rows],
            "sensitivity": [r[1] for r in rows],
            "weight": [schema.SENSITIVITY_WEIGHTS[r[1]] for r in rows],
            "description": [r[2] for r in rows],
        },
        schema={"pattern": pl.String, "sensitivity": pl.String, "weight": pl.Float64,
                "description": pl.String},
    )  # fmt: skip


class _Sessions:
    """Column lists of sessions, appended kind by kind and concatenated once."""

    def __init__(self) -> None:
        self.cols: dict[str, list[npt.NDArray[Any]]] = {
            k: [] for k in ("user", "day", "start", "end", "host", "ip", "rate", "fail")
        }
        self.size = 0

    def add(self, **cols: npt.NDArray[Any] | float | int) -> I64:
        n = int(np.size(cols["user"]))
        for key, value in cols.items():
            dtype = np.float64 if key in ("rate", "fail") else np.int64
            self.cols[key].append(np.broadcast_to(np.asarray(value).astype(dtype), (n,)).copy())
        self.size += n
        return np.arange(self.size - n, self.size, dtype=np.int64)

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {k: np.concatenate(v) for k, v in self.cols.items()}


class _Generator:
    def __init__(self, spec: GeneratorSpec, cal: BusinessCalendar) -> None:
        self.spec = spec
        self.cal = cal
        self.rng = np.random.default_rng(spec.seed)
        self.depts = list(_DEPARTMENTS)
        self.roles = sorted({r for d in _DEPARTMENTS.values() for r in d.roles})
        self.hosts: list[str] = []
        self.ips: list[str] = []
        self.injected: list[dict[str, npt.NDArray[Any]]] = []
        self.labels: list[tuple[str, str, int, int]] = []

    # --- organisation -------------------------------------------------------------------

    def _organisation(self) -> None:
        n, rng = self.spec.users, self.rng
        shares = np.array([d.share for d in _DEPARTMENTS.values()])
        counts = np.floor(shares / shares.sum() * n).astype(np.int64)
        rest = np.argsort(-(shares / shares.sum() * n - counts), kind="stable")
        counts[rest[: n - counts.sum()]] += 1
        self.dept = rng.permutation(np.repeat(np.arange(len(self.depts)), counts))
        self.role = np.zeros(n, dtype=np.int64)
        for d, dep in enumerate(_DEPARTMENTS.values()):
            members = np.flatnonzero(self.dept == d)
            p = np.array(list(dep.roles.values()))
            codes = [self.roles.index(r) for r in dep.roles]
            self.role[members] = np.array(codes)[
                rng.choice(len(codes), members.size, p=p / p.sum())
            ]
        role_names = np.array(self.roles)[self.role]
        self.heavy = np.isin(role_names, list(_HEAVY)) & (rng.random(n) < 0.3)
        width = max(4, len(str(n)))
        self.user_ids = [f"U{i:0{width}d}" for i in range(1, n + 1)]
        self.hosts = [f"PC-{i:0{width}d}" for i in range(1, n + 1)]
        self.ips = [f"10.{20 + int(d)}.{i // 200}.{i % 200 + 10}" for i, d in enumerate(self.dept)]
        self.hosts += [f"VDI-{i:02d}" for i in range(1, 25)]
        self.ips += [f"10.250.0.{i}" for i in range(1, 25)]
        self.hired = [
            self.spec.start - dt.timedelta(days=int(x)) for x in rng.integers(30, 5000, n)
        ]
        # personal rhythm (local hours) and activity level
        trader = role_names == "trader"
        self.start_h = np.where(trader, rng.uniform(7.0, 8.0, n), rng.uniform(8.0, 10.0, n))
        self.len_h = rng.uniform(8.0, 10.0, n)
        self.p_overtime = rng.beta(1.3, 15.0, n)
        self.p_weekend = np.where(rng.random(n) < 0.15, rng.uniform(0.02, 0.1, n), 0.0)
        self.p_oncall = np.where(
            np.isin(role_names, list(_ONCALL_ROLES)), rng.uniform(0.02, 0.06, n), 0.0
        )
        factor = np.array([_INTENSITY.get(r, 1.0) for r in self.roles])[self.role]
        self.intensity = (
            self.spec.actions_per_day * factor * rng.lognormal(0.0, 0.3, n)
            * np.where(self.heavy, 2.5, 1.0)
        )  # fmt: skip
        team = np.zeros(n, dtype=np.int64)
        for d in range(len(self.depts)):
            members = np.flatnonzero(self.dept == d)
            team[members] = np.arange(members.size) // 8
        self.team_shift = (team * 104729 + self.dept * 31) % 1_000_003
        self._profiles()

    def _profiles(self) -> None:
        """Per (department, role, heavy) cumulative weights of families and templates."""
        key = (self.dept * len(self.roles) + self.role) * 2 + self.heavy
        uniq, self.profile = np.unique(key, return_inverse=True)
        fam_cum, tpl_cum, mean_len, p_bulk = [], [], [], []
        for k in uniq.tolist():
            dept, role = self.depts[k // 2 // len(self.roles)], self.roles[k // 2 % len(self.roles)]
            fam = dict(_COMMON) | _ROLE_FAMILIES.get(role, dict(_DEPARTMENTS[dept].families))
            if role == "auditor":
                fam |= _AUDITOR_EXTRA
            mix = dict(_BASE_MIX) | _ROLE_MIX.get(role, {})
            if k % 2:
                mix = {t: w * _HEAVY[role].get(t, 1.0) for t, w in mix.items()}
            fw = np.array([fam.get(f, 0.0) for f in _FAMILIES])
            tw = np.array([mix[t] for t in _TEMPLATES])
            fam_cum.append(np.cumsum(fw / fw.sum()))
            tpl_cum.append(np.cumsum(tw / tw.sum()))
            mean_len.append(float((tw / tw.sum()) @ _TPL_LEN))
            p_bulk.append(sum(mix[t] for t in ("download", "export", "print")) / tw.sum())
        self.fam_cum, self.tpl_cum = np.array(fam_cum), np.array(tpl_cum)
        self.mean_len, self.p_bulk = np.array(mean_len), np.array(p_bulk)

    # --- calendar -----------------------------------------------------------------------

    def _days(self) -> None:
        spec, zone = self.spec, zoneinfo.ZoneInfo(self.spec.timezone)
        self.dates = [spec.start + dt.timedelta(days=i) for i in range(spec.days)]
        holidays = self.cal.holidays({d.year for d in self.dates})
        self.day_off = np.array(
            [d.isoweekday() in self.cal.weekend or d in holidays for d in self.dates]
        )
        self.midnight = np.array([(d - _EPOCH).days * _DAY for d in self.dates], dtype=np.int64)
        offsets = [
            dt.datetime(d.year, d.month, d.day, 12, tzinfo=zone).utcoffset() for d in self.dates
        ]
        self.utc_offset = np.array(
            [int((o or dt.timedelta()).total_seconds()) * 1_000_000 for o in offsets], np.int64
        )

    def _utc(self, local_us: int) -> dt.datetime:
        day = min(max((local_us - int(self.midnight[0])) // _DAY, 0), self.spec.days - 1)
        us = local_us - int(self.utc_offset[day])
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)

    # --- insiders -----------------------------------------------------------------------

    def _window(self, lo: int, hi: int, spare: int) -> I64:
        """Scenario days after the first third of the period, with working days in them.

        ``spare`` days are kept free at the end (a leaver's last day must be inside).
        """
        days = self.spec.days
        first = min(days - 1, max(1, math.ceil(days / 3)))
        room = days - first - spare if days - first - spare >= 1 else days - first
        best = np.arange(first, first + 1)
        for _ in range(20):  # a window can fall on Chuseok and a weekend: draw again
            length = min(int(self.rng.integers(lo, hi + 1)), room)
            start = first + int(self.rng.integers(0, room - length + 1))
            window = np.arange(start, start + length)
            workdays = int((~self.day_off[window]).sum())
            if workdays >= min(2, length):
                return window
            if workdays > int((~self.day_off[best]).sum()):
                best = window
        return best

    def _plan(self) -> None:
        n, rng = self.spec.users, self.rng
        self.left = np.full(n, _NEVER, dtype=np.int64)
        self.forced = np.zeros((n, self.spec.days), dtype=bool)
        eligible = np.flatnonzero(self.dept != self.depts.index("it"))
        count = round(self.spec.insider_rate * n)
        if self.spec.insider_rate > 0:
            count = max(count, min(len(SCENARIOS), eligible.size // 2))
        count = min(count, eligible.size // 2)
        chosen = rng.choice(eligible, size=count, replace=False) if count else eligible[:0]
        turn = int(rng.integers(len(SCENARIOS)))
        self.plan = []
        for i, user in enumerate(chosen.tolist()):
            scenario = SCENARIOS[(i + turn) % len(SCENARIOS)]
            if scenario == "departing_mass_download":
                days = self._window(3, 10, spare=1)
                self.left[user] = self.midnight[0] + (days[-1] + 1) * _DAY
            else:
                days = self._window(3, 14, spare=0)
            self.forced[user, days[~self.day_off[days]]] = True
            self.plan.append((user, scenario, days))
        # a few ordinary leavers, so that "left" alone is no signal
        if self.spec.days >= 4:
            others = np.setdiff1d(np.arange(n), chosen)
            leavers = others[rng.random(others.size) < 0.01]
            last = rng.integers(self.spec.days // 2, self.spec.days, leavers.size)
            self.left[leavers] = self.midnight[0] + last * _DAY

    # --- sessions -----------------------------------------------------------------------

    def _ordinary_sessions(self) -> None:
        n, days, rng, s = self.spec.users, self.spec.days, self.rng, self.sessions
        user = np.repeat(np.arange(n), days)
        day = np.tile(np.arange(days), n)
        midnight = self.midnight[day]
        employed = midnight < self.left[user]
        off = self.day_off[day]
        r = rng.random((5, n * days))
        busy = np.full(n * days, np.iinfo(np.int64).min, dtype=np.int64)
        # working days: the personal rhythm, some overtime, now and then a shared desktop
        work = employed & ~off & ((r[0] < 0.95) | self.forced.ravel())
        u, d = user[work], day[work]
        start = midnight[work] + ((self.start_h[u] + rng.normal(0, 0.25, u.size)) * _HOUR)
        hours = self.len_h[u] + rng.normal(0, 0.4, u.size)
        hours += np.where(r[1][work] < self.p_overtime[u], rng.uniform(1.0, 3.5, u.size), 0.0)
        end = start + np.clip(hours, 1.0, 14.0) * _HOUR
        host = np.where(r[2][work] < 0.003, n + rng.integers(0, 24, u.size), u)
        idx = s.add(user=u, day=d, start=start, end=end, host=host, ip=host, rate=1.0, fail=0.02)
        main = np.full(n * days, -1, dtype=np.int64)
        main[work] = idx
        main_start = np.zeros(n * days, dtype=np.int64)
        main_start[work] = start
        busy[work] = end
        # occasional weekend / holiday catch-up work
        weekend = employed & off & (r[3] < self.p_weekend[user])
        u, d = user[weekend], day[weekend]
        start = midnight[weekend] + rng.uniform(10.0, 15.0, u.size) * _HOUR
        end = start + rng.uniform(1.5, 5.0, u.size) * _HOUR
        s.add(user=u, day=d, start=start, end=end, host=u, ip=u, rate=0.6, fail=0.02)
        busy[weekend] = end
        # IT on-call: short evening or night sessions, after the day's own work
        oncall = employed & (r[4] < self.p_oncall[user])
        u, d = user[oncall], day[oncall]
        start = np.maximum(
            midnight[oncall] + rng.uniform(20.5, 23.5, u.size) * _HOUR, busy[oncall] + _HOUR // 2
        )
        end = start + rng.uniform(0.3, 1.5, u.size) * _HOUR
        s.add(user=u, day=d, start=start, end=end, host=u, ip=u, rate=1.0, fail=0.03)
        busy[oncall] = end
        self.main = main.reshape(n, days)
        self.main_start = main_start.reshape(n, days)
        self.busy = busy.reshape(n, days)

    def _inject(
        self, session: int, templates: list[str], families: I64, fail: Bool | None = None
    ) -> None:
        """Queue scenario tasks for ``session`` on uniformly random items of ``families``.

        A ``usb`` template goes first in its session; other tasks mix with ordinary work.
        """
        tpl = np.array([_T[t] for t in templates], dtype=np.int64)
        inst = (self.rng.random(tpl.size) * _FAM_SIZE[families]).astype(np.int64)
        self.injected.append(
            {
                "session": np.full(tpl.size, session, dtype=np.int64),
                "template": tpl,
                "resource": np.where(tpl == _T["usb"], -1, _FAM_OFFSET[families] + inst),
                "fail": np.zeros(tpl.size, bool) if fail is None else fail,
                "key": np.where(tpl == _T["usb"], -1.0, self.rng.random(tpl.size)),
            }
        )

    def _own_families(self, user: int, sensitive: bool) -> I64:
        fams = _DEPARTMENTS[self.depts[self.dept[user]]].families
        levels = ("high", "critical") if sensitive else schema.SENSITIVITY_LEVELS
        return np.array([_F[f] for f in fams if _FAMILIES[f].sensitivity in levels])

    def _pick(self, pool: I64, k_lo: int, k_hi: int) -> list[int]:
        k = min(pool.size, int(self.rng.integers(k_lo, k_hi + 1)))
        return sorted(self.rng.choice(pool, size=k, replace=False).tolist()) if k else []

    def _late_session(self, user: int, day: int, hours: tuple[float, float], length: float) -> int:
        """An extra session on the user's own PC, after whatever they did that day."""
        start = max(
            int(self.midnight[day] + self.rng.uniform(*hours) * _HOUR),
            int(self.busy[user, day]) + _HOUR // 2,
        )
        end = start + int(length * _HOUR)
        self.busy[user, day] = end
        add = self.sessions.add
        return int(add(user=user, day=day, start=start, end=end, host=user, ip=user,
                       rate=0.0, fail=0.05)[0])  # fmt: skip

    def _scenarios(self) -> None:
        handlers: dict[str, Callable[[int, I64], int]] = {
            "after_hours_theft": self._after_hours_theft,
            "privilege_misuse": self._privilege_misuse,
            "tampering_sequence": self._tampering_sequence,
            "departing_mass_download": self._departing_mass_download,
            "account_sharing": self._account_sharing,
        }
        for user, scenario, days in self.plan:
            end = max(handlers[scenario](user, days), int(self.midnight[days[-1]] + _DAY))
            end = -(-min(end, int(self.left[user])) // 1_000_000) * 1_000_000  # whole seconds
            self.labels.append((self.user_ids[user], scenario, int(self.midnight[days[0]]), end))

    def _after_hours_theft(self, user: int, days: I64) -> int:
        """Nights and days off: USB stick in, bulk downloads of sensitive files."""
        rng, own, last = self.rng, self._own_families(user, sensitive=True), 0
        for day in self._pick(days, 2, 5):
            sess = self._late_session(user, day, (21.0, 23.5), rng.uniform(0.75, 2.0))
            k = int(rng.integers(15, 41))
            tpl = rng.choice(["download", "export", "print"], k, p=[0.6, 0.3, 0.1]).tolist()
            self._inject(sess, ["usb", *tpl], rng.choice(own, k + 1))
            last = max(last, int(self.busy[user, day]))
        return last

    def _privilege_misuse(self, user: int, days: I64) -> int:
        """Reading critical data of other departments in office hours; some attempts denied."""
        rng = self.rng
        mine = _DEPARTMENTS[self.depts[self.dept[user]]].families
        targets = np.array([_F[f] for f in _MISUSE_TARGETS if f not in mine])
        chosen = rng.choice(targets, size=min(targets.size, int(rng.integers(1, 3))), replace=False)
        for day in self._pick(days[self.main[user, days] >= 0], 3, 6):
            k = int(rng.integers(4, 13))
            denied = rng.random(k) < 0.25
            tpl = rng.choice(["read", "browse", "download", "export"], k, p=[0.4, 0.2, 0.25, 0.15])
            tpl = np.where(denied, "read", tpl).tolist()
            self._inject(int(self.main[user, day]), tpl, rng.choice(chosen, k), fail=denied)
        return 0

    def _tampering_sequence(self, user: int, days: I64) -> int:
        """View, edit, delete of sensitive records, mostly in a late-evening session."""
        rng, last = self.rng, 0
        own = self._own_families(user, sensitive=True)
        own = own[_FAM_SIZE[own] > 1]
        for i, day in enumerate(self._pick(days, 2, 4)):
            if i == 0 or self.main[user, day] < 0 or rng.random() < 0.7:
                sess = self._late_session(user, day, (19.5, 22.5), rng.uniform(0.5, 1.5))
                last = max(last, int(self.busy[user, day]))
            else:
                sess = int(self.main[user, day])
            k = int(rng.integers(8, 19))
            tpl = rng.choice(["maintain", "edit"], k, p=[0.85, 0.15]).tolist()
            self._inject(sess, tpl, rng.choice(own, k))
        return last

    def _departing_mass_download(self, user: int, days: I64) -> int:
        """The last days before leaving: downloads, exports and prints many times baseline."""
        rng, prof = self.rng, self.profile[user]
        own = self._own_families(user, sensitive=False)
        weight = np.where(np.isin(own, self._own_families(user, sensitive=True)), 2.0, 1.0)
        baseline = self.intensity[user] / self.mean_len[prof] * self.p_bulk[prof]
        for day in days[self.main[user, days] >= 0].tolist():
            k = max(10, round(baseline * rng.uniform(5.0, 10.0)))
            tpl = rng.choice(["download", "export", "print"], k, p=[0.5, 0.3, 0.2]).tolist()
            self._inject(
                int(self.main[user, day]), tpl, rng.choice(own, k, p=weight / weight.sum())
            )
        return int(self.left[user])

    def _account_sharing(self, user: int, days: I64) -> int:
        """Someone else logs in as the user: a colleague's PC or an outside laptop, at the same
        time as the user's own session."""
        rng, s, last = self.rng, self.sessions, 0
        peers = np.flatnonzero(self.dept == self.dept[user])
        peers = peers[peers != user]
        own = self._own_families(user, sensitive=False)
        for day in self._pick(days[self.main[user, days] >= 0], 3, 6):
            for _ in range(int(rng.integers(1, 3))):
                if peers.size and rng.random() < 0.5:
                    host = int(rng.choice(peers))
                else:
                    self.hosts.append(f"LAPTOP-{int(rng.integers(16**5)):05X}")
                    net = rng.choice(["203.0.113", "198.51.100"])
                    self.ips.append(f"{net}.{int(rng.integers(2, 255))}")
                    host = len(self.hosts) - 1
                start = int(self.main_start[user, day] + rng.uniform(0.5, 4.0) * _HOUR)
                end = start + int(rng.uniform(1.0, 4.0) * _HOUR)
                sess = int(s.add(user=user, day=day, start=start, end=end, host=host, ip=host,
                                 rate=0.6, fail=0.4)[0])  # fmt: skip
                k = int(rng.integers(2, 7))
                self._inject(sess, ["download"] * k, rng.choice(own, k))
                last = max(last, end)
        return last

    # --- tasks and events ---------------------------------------------------------------

    def _tasks(self, sess: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        """Ordinary tasks drawn from each user's profile, with scenario tasks merged in.

        Ordinary tasks are i.i.d., so their order within a session is already random;
        a scenario task lands at a random slot of its session (``usb`` first).
        """
        rng = self.rng
        user = sess["user"]
        prof = self.profile[user]
        hours = (sess["end"] - sess["start"]) / _HOUR
        counts = rng.poisson(
            self.intensity[user] * hours / 9.0 * sess["rate"] / self.mean_len[prof]
        )
        t_sess = np.repeat(np.arange(user.size), counts)
        t_user, t_prof = user[t_sess], prof[t_sess]
        fam = _sample(self.fam_cum, t_prof, rng.random(t_sess.size))
        tpl = _REMAP[_FAM_KIND[fam], _sample(self.tpl_cum, t_prof, rng.random(t_sess.size))]
        # popular items first, and each team has its own favourites
        rank = (_FAM_SIZE[fam] * rng.random(t_sess.size) ** 2.5).astype(np.int64)
        inst = (self.team_shift[t_user] + rank * _STRIDE) % _FAM_SIZE[fam]
        fail = rng.random(t_sess.size) < 0.002  # access denied: the look fails, nothing follows
        tpl = np.where(fail, _T["read"], tpl)
        tasks = {
            "session": t_sess,
            "template": tpl,
            "fail": fail,
            "resource": np.where(tpl == _T["usb"], -1, _FAM_OFFSET[fam] + inst),
        }
        if not self.injected:
            return tasks
        extra = {k: np.concatenate([p[k] for p in self.injected]) for k in (*tasks, "key")}
        order = np.lexsort((extra["key"], extra["session"]))
        extra = {k: v[order] for k, v in extra.items()}
        first = (np.cumsum(counts) - counts)[extra["session"]]
        slot = first + (np.maximum(extra["key"], 0.0) * (counts[extra["session"]] + 1)).astype(
            np.int64
        )
        return {k: np.insert(v, slot, extra[k]) for k, v in tasks.items()}

    def _events(self, sess: dict[str, npt.NDArray[Any]], tasks: dict[str, I64]) -> pl.DataFrame:
        """Integer-coded events in time order: login, the tasks' steps, logout per session."""
        rng, n_sess = self.rng, sess["user"].size
        t_len = _TPL_LEN[tasks["template"]]
        acts = np.bincount(tasks["session"], weights=t_len, minlength=n_sess).astype(np.int64)
        act_start = np.cumsum(acts) - acts
        failed = rng.random(n_sess) < sess["fail"]
        per_sess = acts + 2 + failed
        off = np.cumsum(per_sess) - per_sess
        total = int(per_sess.sum())
        action = np.empty(total, dtype=np.int8)
        resource = np.full(total, len(self.resources), dtype=np.int32)  # the null entry
        ok = np.ones(total, dtype=bool)
        ts = np.empty(total, dtype=np.int64)
        start, end = sess["start"], sess["end"]
        # logins (a mistyped password first, now and then), logouts
        pos = off[failed]
        action[pos], ok[pos] = _A["login"], False
        ts[pos] = start[failed] - rng.integers(5_000_000, 120_000_000, pos.size)
        action[off + failed], ts[off + failed] = _A["login"], start
        action[off + per_sess - 1], ts[off + per_sess - 1] = _A["logout"], end
        # actions: task steps in order, spread over the session (steps of a task close)
        task = np.repeat(np.arange(t_len.size), t_len)
        a_sess = tasks["session"][task]
        step = np.arange(task.size) - (np.cumsum(t_len) - t_len)[task]
        gaps = rng.exponential(1.0, task.size)
        gaps[step > 0] *= 0.1
        cum = np.concatenate(([0.0], np.cumsum(gaps)))
        del gaps
        before = cum[act_start]
        span = cum[act_start + acts] - before + rng.exponential(1.0, n_sess)
        frac = (cum[1:] - before[a_sess]) / span[a_sess]
        del cum
        pos = off[a_sess] + failed[a_sess] + 1 + (np.arange(task.size) - act_start[a_sess])
        action[pos] = _TPL_ACT[tasks["template"][task], step]
        has_item = tasks["resource"][task] >= 0
        resource[pos[has_item]] = tasks["resource"][task][has_item]
        ok[pos] = ~tasks["fail"][task]
        ts[pos] = start[a_sess] + (frac * (end - start)[a_sess]).astype(np.int64)
        del pos, task, a_sess, step, frac
        ts //= 1000
        ts *= 1000  # logs keep milliseconds
        ev_sess = np.repeat(np.arange(n_sess, dtype=np.int32), per_sess)
        user = sess["user"].astype(np.int32)[ev_sess]
        ts -= self.utc_offset[sess["day"]][ev_sess]
        frame = pl.DataFrame({
            "ts": ts, "user": user, "action": action, "resource": resource,
            "host": sess["host"].astype(np.int32)[ev_sess],
            "ip": sess["ip"].astype(np.int32)[ev_sess], "ok": ok,
        })  # fmt: skip
        del ts, user, action, resource, ok, ev_sess
        # nothing on or after a leaver's last day (a late session may run past midnight)
        left_utc = self.left - self.utc_offset[-1]
        if (left_utc < _NEVER).any():
            limit = pl.Series(np.where(self.left == _NEVER, _NEVER, left_utc)).gather(frame["user"])
            frame = frame.filter(frame["ts"] < limit)
        return frame.with_row_index("seq").sort(["ts", "seq"]).drop("seq")

    def _strings(self, f: pl.DataFrame) -> pl.DataFrame:
        """Turn the integer-coded frame into the canonical event frame."""

        def lookup(values: Sequence[str | None], codes: pl.Series) -> pl.Series:
            return pl.Series(values, dtype=pl.String).gather(codes)

        user = f["user"]
        n = f.height
        return pl.DataFrame({
            schema.EVENT_ID: pl.select(
                pl.lit("E")
                + (pl.int_range(n, dtype=pl.Int64) + 10**12).cast(pl.String).str.slice(1)
            ).to_series(),
            schema.USER_ID: lookup(list(self.user_ids), user),
            schema.TIMESTAMP: f["ts"].cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            schema.ACTION_TYPE: lookup(list(ACTIONS), f["action"]),
            schema.RESOURCE_ID: lookup([*self.resources, None], f["resource"]),
            schema.HOST: lookup(list(self.hosts), f["host"]),
            schema.SRC_IP: lookup(list(self.ips), f["ip"]),
            schema.SUCCESS: f["ok"],
            schema.DEPARTMENT: lookup(self.depts, pl.Series(self.dept).gather(user)),
            schema.ROLE: lookup(self.roles, pl.Series(self.role).gather(user)),
        }).cast(pl.Schema(schema.EVENT_DTYPES))  # fmt: skip

    # --- assembly -----------------------------------------------------------------------

    def run(self) -> SyntheticData:
        self._days()
        self._organisation()
        self._plan()
        self.sessions = _Sessions()
        self.resources = [rid for fam in _FAMILIES.values() for rid in fam.ids()]
        self._ordinary_sessions()
        self._scenarios()
        sess = self.sessions.arrays()
        events = self._strings(self._events(sess, self._tasks(sess)))
        labels = pl.DataFrame(
            {
                "user_id": [lb[0] for lb in self.labels],
                "scenario": [lb[1] for lb in self.labels],
                "start": [self._utc(lb[2]) for lb in self.labels],
                "end": [self._utc(lb[3]) for lb in self.labels],
            },
            schema=schema.LABEL_DTYPES,
        )
        left = [
            None if x == _NEVER else _EPOCH + dt.timedelta(days=int(x // _DAY)) for x in self.left
        ]
        directory = pl.DataFrame(
            {
                "user_id": self.user_ids,
                "department": [self.depts[d] for d in self.dept],
                "role": [self.roles[r] for r in self.role],
                "host": self.hosts[: self.spec.users],
                "src_ip": self.ips[: self.spec.users],
                "hired": self.hired,
                "left": left,
            },
            schema={"user_id": pl.String, "department": pl.String, "role": pl.String,
                    "host": pl.String, "src_ip": pl.String, "hired": pl.Date, "left": pl.Date},
        )  # fmt: skip
        return SyntheticData(events, labels.sort("user_id"), catalog_frame(), directory)


def _sample(cum: F64, row: I64, u: F64) -> I64:
    """Draw one category per item from the cumulative weights ``cum[row]`` (vectorised).

    Row ``r`` occupies ``[r, r + 1)`` of one flat sorted array, so a single searchsorted
    serves every profile at once.
    """
    width = cum.shape[1]
    flat = (cum + np.arange(cum.shape[0])[:, None]).ravel()
    flat[width - 1 :: width] = np.arange(1, cum.shape[0] + 1)
    idx = np.searchsorted(flat, row + u, side="right") - row * width
    out: I64 = np.minimum(idx, width - 1).astype(np.int64)
    return out


# --- writing ---------------------------------------------------------------------------

_ISO: Final = "%Y-%m-%dT%H:%M:%S%.3f%:z"


def write_sample(
    data: SyntheticData,
    out_dir: Path,
    fmt: Literal["parquet", "csv", "jsonl"] = "parquet",
    *,
    timezone: str = "Asia/Seoul",
) -> dict[str, Path]:
    """Write events, labels, catalog and directory into ``out_dir``, each file atomically.

    Returns paths by name (``events``, ``labels``, ``catalog``, ``directory``). In CSV and
    JSON Lines, timestamps are ISO 8601 in ``timezone`` with its offset
    (``2026-09-01T09:03:12.000+09:00``); polars reads them back to UTC with the
    canonical schema, e.g. ``pl.read_csv(path, schema=schema.EVENT_DTYPES)``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt not in ("parquet", "csv", "jsonl"):
        raise AuditlensError(f"unknown sample format {fmt!r}", hint="use parquet, csv or jsonl")

    def text_times(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            pl.col(c).dt.convert_time_zone(timezone).dt.strftime(_ISO)
            for c, t in frame.schema.items()
            if isinstance(t, pl.Datetime)
        )

    def write_events(path: Path) -> None:
        if fmt == "parquet":
            data.events.write_parquet(path)
        elif fmt == "csv":
            text_times(data.events).write_csv(path)
        else:
            text_times(data.events).write_ndjson(path)

    files: dict[str, tuple[str, Callable[[Path], object]]] = {
        "events": (f"events.{fmt}", write_events),
        "labels": ("labels.csv", text_times(data.labels).write_csv),
        "catalog": ("resource_catalog.csv", data.catalog.write_csv),
        "directory": ("directory.csv", data.directory.write_csv),
    }
    paths: dict[str, Path] = {}
    for name, (filename, write) in files.items():
        final = out_dir / filename
        tmp = out_dir / f".{filename}.tmp-{os.getpid()}"
        try:
            write(tmp)
            os.replace(tmp, final)  # readers never see a half-written file
        finally:
            tmp.unlink(missing_ok=True)
        paths[name] = final
    return paths


# --- source ----------------------------------------------------------------------------


class SyntheticSource(Source):
    """The generated events as a Source: batches of ``batch_rows`` with a watermark.

    Each row's ``_location`` is ``synthetic:seed=<seed>#row=<n>``. The watermark records
    the spec and the rows done, so reading again with it yields only what is left
    (nothing, once all was read). Raises SourceError for a watermark of another spec.
    """

    name = "synthetic"

    def __init__(
        self,
        spec: GeneratorSpec | None = None,
        *,
        batch_rows: int = 1_000_000,
        calendar: BusinessCalendar | None = None,
    ) -> None:
        self.spec = spec or GeneratorSpec()
        self.batch_rows = batch_rows
        self.calendar = calendar

    def read(self, since: Watermark | None = None) -> Iterator[Batch]:
        """Yield the events not yet covered by ``since``, oldest first."""
        done = self._rows_done(since)
        events = generate(self.spec, self.calendar).events
        seed = self.spec.seed
        step = max(1, self.batch_rows)
        for offset in range(done, events.height, step):
            chunk = (
                events.slice(offset, step)
                .with_row_index("_n", offset)
                .with_columns(
                    (pl.lit(f"synthetic:seed={seed}#row=") + pl.col("_n").cast(pl.String)).alias(
                        schema.LOCATION
                    )
                )
                .drop("_n")
            )
            rows = offset + chunk.height
            mark = json.dumps(
                {"seed": seed, "spec": self.spec.to_dict(), "rows": rows}, sort_keys=True
            )
            yield Batch(chunk, Watermark(mark), label=f"synthetic rows {offset}..{rows - 1}")

    def _rows_done(self, since: Watermark | None) -> int:
        if since is None:
            return 0
        try:
            state = json.loads(since.value)
            spec, rows = state["spec"], int(state["rows"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(
                f"synthetic watermark {since.value[:80]!r} is not readable ({exc})",
                hint="drop the stored watermark of source 'synthetic' to read from the start",
            ) from None
        if spec != self.spec.to_dict():
            raise SourceError(
                f"synthetic watermark belongs to spec {spec}, not {self.spec.to_dict()}",
                hint="use the same spec, or drop the stored watermark to start over",
            )
        return rows
