"""The fixed vocabulary of the generated world: resource families, actions, task templates.

A resource *family* is a numbered (or named) set of resource ids with one sensitivity
level and one kind (file, record, db, system); a *template* is a short, plausibly
ordered run of actions (``view`` then ``edit``). Everything here is constant; the
integer codes and arrays let the generator work vectorised.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import numpy as np
import polars as pl

from auditlens import schema


class Family(NamedTuple):
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
FAMILIES: Final[dict[str, Family]] = {
    "notice": Family("fileshare/common/notice-*", "low", "file", "fileshare/common/notice-{:03d}.pdf", 150, "전사 공지 (company notices)"),  # noqa: E501
    "intranet": Family("app/intranet/*", "low", "record", "app/intranet/page-{}", 400, "인트라넷 (intranet pages)"),  # noqa: E501
    "mail": Family("app/groupware/mail", "low", "record", "app/groupware/{}", 1, "그룹웨어 메일 (groupware mail)", ("mail",)),  # noqa: E501
    "sales_report": Family("fileshare/sales/report-*", "medium", "file", "fileshare/sales/report-{:04d}.xlsx", 1500, "영업 실적 보고서 (sales reports)"),  # noqa: E501
    "sales_pipeline": Family("fileshare/sales/pipeline-*", "high", "file", "fileshare/sales/pipeline-{:03d}.xlsx", 300, "영업 파이프라인·제안서 (pipeline, proposals)"),  # noqa: E501
    "crm_customer": Family("app/crm/customer-*", "high", "record", "app/crm/customer-{}", 20000, "CRM 고객 정보 (customer records)"),  # noqa: E501
    "mkt_campaign": Family("fileshare/marketing/campaign-*", "low", "file", "fileshare/marketing/campaign-{:04d}.pptx", 800, "캠페인 자료 (campaign material)"),  # noqa: E501
    "mkt_target": Family("fileshare/marketing/target-list-*", "high", "file", "fileshare/marketing/target-list-{:03d}.csv", 200, "마케팅 대상 고객 목록 (customer target lists)"),  # noqa: E501
    "cms_page": Family("app/cms/*", "low", "record", "app/cms/page-{}", 400, "홈페이지 CMS (web pages)"),  # noqa: E501
    "db_marketing": Family("db/marketing/*", "high", "db", "db/marketing/{}", 3, "마케팅 세그먼트 DB (segments, consent)", ("segments", "campaign_responses", "consent")),  # noqa: E501
    "fin_ledger": Family("fileshare/finance/ledger-*", "high", "file", "fileshare/finance/ledger-{:04d}.xlsx", 800, "회계 원장 사본 (ledger extracts)"),  # noqa: E501
    "fin_budget": Family("fileshare/finance/budget-*", "medium", "file", "fileshare/finance/budget-{:03d}.xlsx", 300, "예산 (budgets)"),  # noqa: E501
    "erp_journal": Family("app/erp/journal-*", "high", "record", "app/erp/journal-{}", 5000, "ERP 전표 (journal entries)"),  # noqa: E501
    "db_finance": Family("db/finance/*", "critical", "db", "db/finance/{}", 3, "회계·지급 DB (ledger, payments)", ("general_ledger", "payments", "settlements")),  # noqa: E501
    "hr_policy": Family("fileshare/hr/policy-*", "low", "file", "fileshare/hr/policy-{:03d}.pdf", 100, "인사 규정 (HR policies)"),  # noqa: E501
    "hr_eval": Family("fileshare/hr/evaluation-*", "high", "file", "fileshare/hr/evaluation-{:04d}.docx", 500, "인사 평가 (performance reviews)"),  # noqa: E501
    "hris_employee": Family("app/hris/employee-*", "high", "record", "app/hris/employee-{}", 3000, "인사 정보 (employee records)"),  # noqa: E501
    "db_hr_salary": Family("db/hr/salary", "critical", "db", "db/hr/{}", 1, "급여 DB (HR salary)", ("salary",)),  # noqa: E501
    "itsm_ticket": Family("app/itsm/ticket-*", "low", "record", "app/itsm/ticket-{}", 8000, "IT 서비스 요청 (IT tickets)"),  # noqa: E501
    "sys_server": Family("sys/server/*", "medium", "system", "sys/server/srv-{:03d}", 300, "서버 (servers)"),  # noqa: E501
    "repo_code": Family("repo/code/*", "medium", "system", "repo/code/service-{:03d}", 150, "소스 코드 (source repositories)"),  # noqa: E501
    "db_customer": Family("db/customer/*", "critical", "db", "db/customer/{}", 6, "고객 개인정보 DB (customer PII)", ("accounts", "cards", "loans", "kyc", "contacts", "transactions")),  # noqa: E501
    "comp_case": Family("fileshare/compliance/case-*", "high", "file", "fileshare/compliance/case-{:04d}.docx", 600, "준법 조사 건 (compliance cases)"),  # noqa: E501
    "audit_finding": Family("app/audit/finding-*", "medium", "record", "app/audit/finding-{}", 2000, "감사 지적 사항 (audit findings)"),  # noqa: E501
    "aml_alert": Family("app/aml/alert-*", "high", "record", "app/aml/alert-{}", 5000, "자금세탁방지 경보 (AML alerts)"),  # noqa: E501
    "trading_system": Family("app/trading/*", "critical", "record", "app/trading/{}", 4, "트레이딩 시스템 (trading systems)", ("order-blotter", "positions", "limits", "pnl")),  # noqa: E501
    "trading_strategy": Family("fileshare/trading/strategy-*", "high", "file", "fileshare/trading/strategy-{:03d}.xlsx", 200, "운용 전략 (trading strategies)"),  # noqa: E501
    "market_quote": Family("app/market/quote-*", "low", "record", "app/market/quote-{}", 3000, "시세 (market quotes)"),  # noqa: E501
    "risk_report": Family("fileshare/risk/var-report-*", "high", "file", "fileshare/risk/var-report-{:04d}.xlsx", 500, "리스크 보고서 (VaR reports)"),  # noqa: E501
    "db_risk": Family("db/risk/exposures", "high", "db", "db/risk/{}", 1, "익스포저 DB (exposures)", ("exposures",)),  # noqa: E501
    "risk_model": Family("app/risk/model-*", "medium", "record", "app/risk/model-{}", 150, "리스크 모형 (risk models)"),  # noqa: E501
    "callcenter": Family("app/callcenter/ticket-*", "low", "record", "app/callcenter/ticket-{}", 20000, "상담 이력 (call-centre tickets)"),  # noqa: E501
    "cs_script": Family("fileshare/cs/script-*", "low", "file", "fileshare/cs/script-{:03d}.docx", 100, "상담 스크립트 (call scripts)"),  # noqa: E501
}
# fmt: on

#: Exact ids listed in the catalog on top of a glob covering them (same level, no conflict).
EXACT_EXTRA: Final = (("db/customer/accounts", "critical", "고객 계좌 원장 (customer accounts)"),)

TEMPLATES: Final[dict[str, tuple[str, ...]]] = {
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

#: Actions that make no sense on a kind of resource are swapped for ones that do.
KIND_REMAP: Final[dict[str, dict[str, str]]] = {
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
KINDS: Final = tuple(KIND_REMAP)

ACTIONS: Final = (
    "login", "logout", "view", "edit", "create", "delete",
    "download", "upload", "export", "print", "usb_connect",
)  # fmt: skip
ACTION_CODE: Final = {name: code for code, name in enumerate(ACTIONS)}
TEMPLATE_CODE: Final = {name: code for code, name in enumerate(TEMPLATES)}
FAMILY_CODE: Final = {name: code for code, name in enumerate(FAMILIES)}
TPL_LEN: Final = np.array([len(a) for a in TEMPLATES.values()], dtype=np.int64)
TPL_ACT: Final = np.array(
    [[ACTION_CODE[a] for a in acts] + [-1] * (3 - len(acts)) for acts in TEMPLATES.values()],
    dtype=np.int8,
)
REMAP: Final = np.array(
    [[TEMPLATE_CODE[KIND_REMAP[k].get(t, t)] for t in TEMPLATES] for k in KINDS], dtype=np.int64
)
FAM_KIND: Final = np.array([KINDS.index(f.kind) for f in FAMILIES.values()], dtype=np.int64)
FAM_SIZE: Final = np.array([len(f.names) or f.size for f in FAMILIES.values()], np.int64)
FAM_OFFSET: Final = np.concatenate(([0], np.cumsum(FAM_SIZE)[:-1])).astype(np.int64)


def resource_ids() -> list[str]:
    """Every generated resource id, family by family (index = resource code)."""
    return [rid for fam in FAMILIES.values() for rid in fam.ids()]


def catalog_frame() -> pl.DataFrame:
    """The resource catalog: every generated resource id matches exactly one level."""
    rows = [(f.pattern, f.sensitivity, f.description) for f in FAMILIES.values()]
    rows += list(EXACT_EXTRA)
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
