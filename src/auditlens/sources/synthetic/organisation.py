"""The organisation: departments and roles, the people in them, and how each one works.

Departments have a head-count share, roles and the resource families they use; roles
change the mix of tasks (DBAs maintain, analysts export) and a share of some roles has
a legitimately heavy job. :func:`people` draws the staff of a spec: department, role,
home PC and address, hiring date, a personal working rhythm and activity level, and a
team; :class:`Profiles` turns (department, role, heavy) into sampling weights.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np

from auditlens.sources.synthetic.catalog import FAMILIES, TEMPLATES, TPL_LEN
from auditlens.sources.synthetic.spec import F64, I64, Bool, GeneratorSpec

_COMMON: Final = {"notice": 1.0, "intranet": 1.5, "mail": 2.5}


class Department(NamedTuple):
    """A department: its head-count share, its roles' shares, its families' weights."""

    share: float
    roles: dict[str, float]
    families: dict[str, float]


DEPARTMENTS: Final[dict[str, Department]] = {
    "sales": Department(
        0.16,
        {"staff": 0.85, "manager": 0.15},
        {"sales_report": 5, "sales_pipeline": 2, "crm_customer": 4},
    ),
    "marketing": Department(
        0.09,
        {"staff": 0.7, "analyst": 0.2, "manager": 0.1},
        {"mkt_campaign": 5, "cms_page": 3, "mkt_target": 1.5, "db_marketing": 1},
    ),
    "finance": Department(
        0.10,
        {"staff": 0.65, "analyst": 0.2, "manager": 0.15},
        {"fin_ledger": 3, "fin_budget": 2, "erp_journal": 4, "db_finance": 0.8},
    ),
    "hr": Department(
        0.06,
        {"staff": 0.8, "manager": 0.2},
        {"hr_policy": 2, "hr_eval": 2, "hris_employee": 4, "db_hr_salary": 0.5},
    ),
    "it": Department(
        0.12,
        {"developer": 0.5, "sysadmin": 0.25, "dba": 0.25},
        {"itsm_ticket": 4, "sys_server": 3, "repo_code": 3},
    ),
    "compliance": Department(
        0.07,
        {"auditor": 0.8, "manager": 0.2},
        {"comp_case": 3, "audit_finding": 3, "aml_alert": 3},
    ),
    "trading": Department(
        0.09,
        {"trader": 0.8, "manager": 0.2},
        {"trading_system": 4, "trading_strategy": 2, "market_quote": 4},
    ),
    "risk": Department(
        0.07,
        {"analyst": 0.8, "manager": 0.2},
        {"risk_report": 4, "db_risk": 2, "risk_model": 2},
    ),
    "customer_service": Department(
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

#: Department names (index = department code) and role names (index = role code).
DEPARTMENT_NAMES: Final = list(DEPARTMENTS)
ROLE_NAMES: Final = sorted({r for d in DEPARTMENTS.values() for r in d.roles})


@dataclass(frozen=True, eq=False)
class Profiles:
    """Sampling weights per profile, a profile being one (department, role, heavy) triple.

    ``profile`` is each user's profile; per profile, ``fam_cum`` and ``tpl_cum`` are the
    cumulative weights of families and templates, ``mean_len`` the mean actions per task
    and ``p_bulk`` the share of bulk tasks (download, export, print).
    """

    profile: I64
    fam_cum: F64
    tpl_cum: F64
    mean_len: F64
    p_bulk: F64

    @classmethod
    def of(cls, dept: I64, role: I64, heavy: Bool) -> Profiles:
        """The profiles of users with these department and role codes and heavy flags."""
        roles = ROLE_NAMES
        key = (dept * len(roles) + role) * 2 + heavy
        uniq, profile = np.unique(key, return_inverse=True)
        fam_cum, tpl_cum, mean_len, p_bulk = [], [], [], []
        for k in uniq.tolist():
            dname, rname = DEPARTMENT_NAMES[k // 2 // len(roles)], roles[k // 2 % len(roles)]
            fam = dict(_COMMON) | _ROLE_FAMILIES.get(rname, dict(DEPARTMENTS[dname].families))
            if rname == "auditor":
                fam |= _AUDITOR_EXTRA
            mix = dict(_BASE_MIX) | _ROLE_MIX.get(rname, {})
            if k % 2:
                mix = {t: w * _HEAVY[rname].get(t, 1.0) for t, w in mix.items()}
            fw = np.array([fam.get(f, 0.0) for f in FAMILIES])
            tw = np.array([mix[t] for t in TEMPLATES])
            fam_cum.append(np.cumsum(fw / fw.sum()))
            tpl_cum.append(np.cumsum(tw / tw.sum()))
            mean_len.append(float((tw / tw.sum()) @ TPL_LEN))
            p_bulk.append(sum(mix[t] for t in ("download", "export", "print")) / tw.sum())
        return cls(
            profile, np.array(fam_cum), np.array(tpl_cum), np.array(mean_len), np.array(p_bulk)
        )


@dataclass(frozen=True, eq=False)
class People:
    """The staff: one entry per user (index = user code), plus the shared desktops.

    ``hosts`` and ``ips`` list each user's home PC and address first, then 24 shared
    VDI desktops. ``start_h`` and ``len_h`` are the usual local start and length of the
    working day in hours; ``p_overtime``, ``p_weekend`` and ``p_oncall`` the chances of
    overtime, weekend work and an on-call session on a day; ``intensity`` the mean
    actions per working day; ``team_shift`` rotates each team onto favourite items.
    """

    dept: I64
    role: I64
    heavy: Bool
    user_ids: list[str]
    hosts: list[str]
    ips: list[str]
    hired: list[dt.date]
    start_h: F64
    len_h: F64
    p_overtime: F64
    p_weekend: F64
    p_oncall: F64
    intensity: F64
    team_shift: I64
    profiles: Profiles


def people(spec: GeneratorSpec, rng: np.random.Generator) -> People:
    """Draw the staff of ``spec``: departments by share, roles, rhythms and teams."""
    n = spec.users
    dept, role = _departments_and_roles(n, rng)
    role_names = np.array(ROLE_NAMES)[role]
    heavy = np.isin(role_names, list(_HEAVY)) & (rng.random(n) < 0.3)
    width = max(4, len(str(n)))
    hosts = [f"PC-{i:0{width}d}" for i in range(1, n + 1)]
    ips = [f"10.{20 + int(d)}.{i // 200}.{i % 200 + 10}" for i, d in enumerate(dept)]
    hosts += [f"VDI-{i:02d}" for i in range(1, 25)]
    ips += [f"10.250.0.{i}" for i in range(1, 25)]
    hired = [spec.start - dt.timedelta(days=int(x)) for x in rng.integers(30, 5000, n)]
    # personal rhythm (local hours) and activity level
    trader = role_names == "trader"
    start_h = np.where(trader, rng.uniform(7.0, 8.0, n), rng.uniform(8.0, 10.0, n))
    len_h = rng.uniform(8.0, 10.0, n)
    p_overtime = rng.beta(1.3, 15.0, n)
    p_weekend = np.where(rng.random(n) < 0.15, rng.uniform(0.02, 0.1, n), 0.0)
    p_oncall = np.where(np.isin(role_names, list(_ONCALL_ROLES)), rng.uniform(0.02, 0.06, n), 0.0)
    factor = np.array([_INTENSITY.get(r, 1.0) for r in ROLE_NAMES])[role]
    intensity = (
        spec.actions_per_day * factor * rng.lognormal(0.0, 0.3, n) * np.where(heavy, 2.5, 1.0)
    )
    team = np.zeros(n, dtype=np.int64)
    for d in range(len(DEPARTMENT_NAMES)):
        members = np.flatnonzero(dept == d)
        team[members] = np.arange(members.size) // 8
    return People(
        dept=dept,
        role=role,
        heavy=heavy,
        user_ids=[f"U{i:0{width}d}" for i in range(1, n + 1)],
        hosts=hosts,
        ips=ips,
        hired=hired,
        start_h=start_h,
        len_h=len_h,
        p_overtime=p_overtime,
        p_weekend=p_weekend,
        p_oncall=p_oncall,
        intensity=intensity,
        team_shift=(team * 104729 + dept * 31) % 1_000_003,
        profiles=Profiles.of(dept, role, heavy),
    )


def _departments_and_roles(n: int, rng: np.random.Generator) -> tuple[I64, I64]:
    """Department codes by head-count share (largest remainders), then roles within each."""
    shares = np.array([d.share for d in DEPARTMENTS.values()])
    counts = np.floor(shares / shares.sum() * n).astype(np.int64)
    rest = np.argsort(-(shares / shares.sum() * n - counts), kind="stable")
    counts[rest[: n - counts.sum()]] += 1
    dept: I64 = rng.permutation(np.repeat(np.arange(len(DEPARTMENT_NAMES)), counts))
    role = np.zeros(n, dtype=np.int64)
    for d, dep in enumerate(DEPARTMENTS.values()):
        members = np.flatnonzero(dept == d)
        p = np.array(list(dep.roles.values()))
        codes = [ROLE_NAMES.index(r) for r in dep.roles]
        role[members] = np.array(codes)[rng.choice(len(codes), members.size, p=p / p.sum())]
    return dept, role
