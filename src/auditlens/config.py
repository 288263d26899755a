# size: every setting is one typed, documented field here (DESIGN rule 4), 102 fields.
"""Settings: ``auditlens.toml`` plus ``AUDITLENS_*`` environment overrides.

Precedence (highest first): keyword arguments, environment variables
(``AUDITLENS_TIMEZONE``, nested with ``__`` as in ``AUDITLENS_SOURCES__HR__URL``),
the TOML file (``AUDITLENS_CONFIG`` or ``./auditlens.toml``), then defaults.

Example::

    >>> Settings().timezone
    'Asia/Seoul'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from auditlens.configfile import config_path
from auditlens.errors import BilingualValueError as Bad
from auditlens.errors import ConfigError
from auditlens.vocabulary import (
    AmbiguousTimes,
    DateOrder,
    Encoding,
    EngineKind,
    FileFormat,
    Severity,
    UnknownActions,
    check_value_map,
)

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: An e-mail address as a recipient list takes it (one @, a dot in the domain, no spaces).
_ADDRESS: Final = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


class ValueRulesConfig(BaseModel):
    """How a source's values are read (docs/ingestion.md); unset = the global setting."""

    value_map: dict[str, dict[str, str | bool]] = Field(
        default_factory=dict,
        description="Per categorical column (action_type, success, department, role): the "
        "source's value -> the canonical value, e.g. [sources.NAME.value_map.action_type] "
        '"조회" = "view"; on top of the built-in Korean/English synonyms.',
    )
    unknown_actions: UnknownActions | None = Field(
        None,
        description="An action neither canonical nor mapped: 'quarantine' the row or 'keep' "
        "it as given (features count it as 'other'); unset = the global unknown_actions.",
    )
    date_order: DateOrder | None = Field(
        None,
        description="How dates that do not start with the year read: 'DMY' or 'MDY'; 'YMD' "
        "refuses them; unset = the global date_order.",
    )
    ambiguous_times: AmbiguousTimes | None = Field(
        None,
        description="A local time that occurs twice (DST fall-back): 'earliest', 'latest' or "
        "'quarantine'; unset = the global ambiguous_times.",
    )

    @field_validator("value_map")
    @classmethod
    def _value_map(cls, value: dict[str, dict[str, str | bool]]) -> dict[str, dict[str, str]]:
        return check_value_map(value)


class FileSourceConfig(ValueRulesConfig):
    """A file source: CSV, Parquet or JSON Lines files (a path or a glob)."""

    kind: Literal["file"] = Field("file", description="Source kind.")
    path: str = Field(description="File, directory or glob of event files.")
    format: FileFormat = Field(
        "auto", description="File format; 'auto' picks it from the file extension."
    )
    encoding: Encoding = Field(
        "utf-8",
        description="Text encoding of CSV and JSON Lines files; 'auto' reads UTF-8 when the "
        "bytes are valid UTF-8, else CP949 (Korean Windows exports), and says so.",
    )
    settle_seconds: float = Field(
        5.0,
        ge=0,
        description="A last line without a line end is read only once the file has not "
        "changed for this many seconds (it may still be being written); 0 reads it at once.",
    )
    column_map: dict[str, str] = Field(
        default_factory=dict,
        description="Customer column name -> canonical name, e.g. {login_time = 'timestamp'}.",
    )
    id_scope: Literal["source", "file"] = Field(
        "source",
        description="Where event_id is unique: 'source', or 'file' for exports whose ids "
        "restart in every file (then the same id in another file is another event).",
    )
    parquet_batch_rows: int = Field(
        2_000_000,
        ge=1_000,
        description="A Parquet file with an event_id column and more rows than this is "
        "read this many rows at a time, each slice committed as its own batch: ingest "
        "memory is set by the slice, not the file, and a stopped run goes on from the "
        "next slice.",
    )


class SqlSourceConfig(ValueRulesConfig):
    """A relational database read incrementally through its change-log table."""

    kind: Literal["sql"] = Field("sql", description="Source kind.")
    url: SecretStr = Field(description="SQLAlchemy URL of the customer database (secret).")
    events_table: str = Field("access_events", description="Table holding the access events.")
    key_column: str = Field("id", description="Primary-key column of the events table.")
    change_log_table: str = Field("db_change_log", description="The change-log table.")
    page_size: int = Field(50_000, gt=0, description="Change-log rows read per page.")
    settle_seconds: float = Field(
        0.0,
        ge=0,
        description="Hold back change-log rows newer than this many seconds (optional: "
        "late commits are caught by gap tracking).",
    )
    gap_wait_seconds: float = Field(
        3600.0,
        ge=0,
        description="Databases other than PostgreSQL: how long a gap in change_id (a "
        "transaction that may still commit) is re-read before it is given up.",
    )
    column_map: dict[str, str] = Field(
        default_factory=dict, description="Customer column name -> canonical name."
    )


class KafkaSourceConfig(ValueRulesConfig):
    """Kafka topics read in micro-batches; the consumed offsets are the source's watermark."""

    kind: Literal["kafka"] = Field("kafka", description="Source kind.")
    bootstrap_servers: str = Field(
        description="Comma-separated HOST:PORT list of brokers, e.g. 'kafka1:9092,kafka2:9092'."
    )
    topics: list[str] = Field(min_length=1, description="Topics to read (all their partitions).")
    group_id: str = Field(
        "auditlens",
        description="Consumer group; the offsets committed to Kafka under it are informational "
        "(the store's watermark decides where reading resumes).",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security.protocol ('SASL_SSL' on most real clusters)."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism when security_protocol is SASL_*."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (secret).")
    ssl_ca_location: str | None = Field(
        None, description="CA certificate file (PEM) for SSL / SASL_SSL; unset = system CAs."
    )
    ssl_certificate_location: str | None = Field(
        None, description="Client certificate file (PEM) when the brokers want mutual TLS."
    )
    ssl_key_location: str | None = Field(None, description="Client private key file (PEM).")
    ssl_key_password: SecretStr | None = Field(
        None, description="Password of the client private key (secret)."
    )
    format: Literal["json", "csv"] = Field(
        "json",
        description="Message format: 'json' (one JSON object per message) or 'csv' (one CSV "
        "line per message, columns named by csv_columns).",
    )
    csv_columns: list[str] = Field(
        default_factory=list, description="Column names of the CSV lines (format = 'csv')."
    )
    column_map: dict[str, str] = Field(
        default_factory=dict,
        description="Message key (or CSV column) -> canonical name, e.g. {emp_no = 'user_id'}.",
    )
    max_records: int = Field(
        10_000, gt=0, description="Micro-batch bound: at most this many messages per batch."
    )
    max_seconds: float = Field(
        1.0, gt=0, description="Micro-batch bound: a batch is closed after this many seconds."
    )
    start_from: Literal["earliest", "latest"] = Field(
        "earliest",
        description="Where a partition without a stored offset starts: 'earliest' (all "
        "retained messages) or 'latest' (only new ones).",
    )
    dead_letter_topic: str | None = Field(
        None,
        description="Also produce every quarantined message (as received, reason in the "
        "headers) to this topic, after its batch is committed; unset = quarantine only.",
    )
    options: dict[str, str] = Field(
        default_factory=dict,
        description="Further librdkafka client settings, e.g. {'fetch.max.bytes' = '52428800'}; "
        "no secrets (use sasl_password, ssl_key_password).",
    )

    @model_validator(mode="after")
    def _check(self) -> KafkaSourceConfig:
        if self.format == "csv" and not self.csv_columns:
            raise Bad(
                "format 'csv' needs csv_columns (the names of the fields of each line)",
                ko="format 'csv'에는 csv_columns(각 줄의 필드 이름)가 필요합니다",
            )
        secret = [k for k in self.options if any(w in k.lower() for w in SECRET_QUERY_KEYS)]
        if secret:
            raise Bad(
                f"options {secret} would hold a secret in plain text: use sasl_password or "
                "ssl_key_password (masked when shown)",
                ko=f"options {secret}에는 비밀 값을 평문으로 둘 수 없습니다: sasl_password나 "
                "ssl_key_password를 쓰십시오 (표시할 때 가려짐)",
            )
        if self.security_protocol.startswith("SASL") and self.sasl_mechanism is None:
            raise Bad(
                f"security_protocol {self.security_protocol} needs sasl_mechanism",
                ko=f"security_protocol {self.security_protocol}에는 sasl_mechanism이 필요합니다",
            )
        return self


class CertSourceConfig(BaseModel):
    """A directory in the CERT Insider Threat Test Dataset layout."""

    kind: Literal["cert"] = Field("cert", description="Source kind.")
    path: str = Field(description="Directory holding logon.csv, device.csv, ...")


SourceConfig = Annotated[
    FileSourceConfig | SqlSourceConfig | KafkaSourceConfig | CertSourceConfig,
    Field(discriminator="kind"),
]


# --- alerts: channels and routing rules (alerts/ uses them; docs/configuration.md) ---------


def _severities(*names: Severity) -> list[Severity]:
    return list(names)


class SlackChannelConfig(BaseModel):
    """Slack incoming webhook (Block Kit message)."""

    kind: Literal["slack"] = Field("slack", description="Channel kind.")
    webhook_url: SecretStr = Field(description="Incoming-webhook URL (secret).")


class TeamsChannelConfig(BaseModel):
    """Microsoft Teams incoming webhook or Workflows URL (Adaptive Card)."""

    kind: Literal["teams"] = Field("teams", description="Channel kind.")
    webhook_url: SecretStr = Field(description="Webhook / workflow URL (secret).")


class EmailChannelConfig(BaseModel):
    """E-mail over SMTP (HTML and plain-text parts)."""

    kind: Literal["email"] = Field("email", description="Channel kind.")
    host: str = Field(description="SMTP server host.")
    port: int = Field(587, gt=0, description="SMTP port (587 STARTTLS, 465 SSL, 25 none).")
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="STARTTLS upgrade, implicit TLS (ssl) or plain (none)."
    )
    username: str | None = Field(None, description="SMTP login user; none = no AUTH.")
    password: SecretStr | None = Field(None, description="SMTP password (secret).")
    sender: str = Field(description="From address, e.g. auditlens@bank.example.")
    recipients: list[str] = Field(
        default_factory=list, description="To addresses (routing rules can add more)."
    )
    ca_file: Path | None = Field(
        None, description="PEM CA bundle to trust besides the system's (an internal CA)."
    )


class PagerDutyChannelConfig(BaseModel):
    """PagerDuty Events API v2 (trigger with dedup_key; resolve when the alert closes)."""

    kind: Literal["pagerduty"] = Field("pagerduty", description="Channel kind.")
    routing_key: SecretStr = Field(description="Integration (routing) key (secret).")
    events_url: str = Field(
        "https://events.pagerduty.com/v2/enqueue", description="Events API v2 endpoint."
    )


class FileChannelConfig(BaseModel):
    """Append each alert as one JSON line to a local file (demo, archives, SIEM pickup)."""

    kind: Literal["file"] = Field("file", description="Channel kind.")
    path: Path = Field(description="JSON Lines file alerts are appended to.")


class ConsoleChannelConfig(BaseModel):
    """Print each alert as one line on standard output."""

    kind: Literal["console"] = Field("console", description="Channel kind.")


ChannelConfig = Annotated[
    SlackChannelConfig
    | TeamsChannelConfig
    | EmailChannelConfig
    | PagerDutyChannelConfig
    | FileChannelConfig
    | ConsoleChannelConfig,
    Field(discriminator="kind"),
]


class ScheduleConfig(BaseModel):
    """When a rule may deliver: days, local hours (end exclusive), holidays or not."""

    days: list[str] = Field(
        default_factory=lambda: list(WEEKDAY_NAMES), description="Days, as mon..sun."
    )
    start: dt.time = Field(dt.time(0, 0), description="Window start (local time).")
    end: dt.time | None = Field(None, description="Window end, exclusive; none = midnight.")
    skip_holidays: bool = Field(False, description="Closed on public and company holidays.")

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v.strip().lower()[:3] not in WEEKDAY_NAMES]
        if bad or not value:
            raise Bad(
                f"days must be some of {list(WEEKDAY_NAMES)}, got {value}",
                ko=f"days는 {list(WEEKDAY_NAMES)} 중에서 골라야 합니다 (현재 {value})",
            )
        return [v.strip().lower()[:3] for v in value]

    @model_validator(mode="after")
    def _window(self) -> ScheduleConfig:
        if self.end is not None and self.end <= self.start:
            raise Bad(
                f"schedule end {self.end} must be after start {self.start} (same day)",
                ko=f"일정의 end({self.end})는 같은 날 start({self.start})보다 늦어야 합니다",
            )
        return self


class AlertRouteConfig(BaseModel):
    """A routing rule: which alerts go to which channels and recipients, and when."""

    id: str = Field(description="Rule id (recorded with every delivery and in the trail).")
    severities: list[Severity] = Field(
        default_factory=lambda: _severities(Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL),
        description="Severities the rule matches.",
    )
    departments: list[str] = Field(
        default_factory=list, description="Departments the rule matches; empty = any."
    )
    scenarios: list[str] = Field(
        default_factory=list,
        description="Scenarios (top reason's feature) the rule matches; empty = any.",
    )
    channels: list[str] = Field(description="Names of [alert_channels.NAME] to deliver to.")
    recipients: list[str] = Field(
        default_factory=list, description="Extra e-mail recipients / people to mention."
    )
    schedule: Literal["always", "business_hours"] | ScheduleConfig = Field(
        "always",
        description="'always', 'business_hours' (configured hours, weekdays, not holidays) "
        "or a {days, start, end, skip_holidays} window; held alerts go out when it opens.",
    )
    digest_at: dt.time | None = Field(
        None, description="Collect matches and send one digest a day at this local time."
    )


class PrivacyConfig(BaseModel):
    """Pseudonymised triage ([privacy]; docs/configuration.md, auditlens.privacy)."""

    pseudonymise: bool = Field(
        False,
        description="Viewers and analysts see stable pseudonyms (P-XXXX-XXXX-XXXX, a keyed "
        "HMAC-SHA256 of the user id) instead of user ids: API, dashboard, reports and "
        "alerts' text; seeing the person behind one alert needs an analyst's request and a "
        "different approver's grant (`auditlens reidentify`).",
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description="Secret HMAC key of the pseudonyms (at least 32 characters; set it in "
        "AUDITLENS_PRIVACY__PSEUDONYM_KEY, never in a shared file). Changing it changes "
        "every pseudonym. Required when pseudonymise is on.",
    )
    reidentify_ttl_minutes: float = Field(
        60.0,
        gt=0,
        description="How long a granted re-identification lets its requester see the "
        "alert's user id.",
    )
    durable_views: bool = Field(
        False,
        description="PostgreSQL: flush each commit of recorded reads of people to disk "
        "before the read is answered. Off (default): the same durability as SQLite's "
        "default, where an operating-system crash may lose the last fraction of a second "
        "of view entries (an application crash loses none); decisions and alerts are "
        "always flushed.",
    )


#: Signature algorithms an OIDC token may use: asymmetric only (never ``none`` or HS*,
#: whose key would be a secret shared with every client).
OidcAlgorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
]


class ApiConfig(BaseModel):
    """The risk service (``auditlens serve api``): where it listens, whom it trusts."""

    host: str = Field("127.0.0.1", description="Address `auditlens serve api` listens on.")
    port: int = Field(8000, gt=0, lt=65536, description="TCP port of `auditlens serve api`.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes `auditlens serve api` answers with (one per core is a good "
        "start; each keeps its own connections, key cache and view recorder).",
    )
    access_log: bool = Field(
        False,
        description="uvicorn's access log (one line per request on stderr). Off: its request "
        "lines name the people looked at (/v1/users/ID/risk), which the audit trail already "
        "records under access control.",
    )
    opentelemetry: bool = Field(
        False,
        description="FastAPI's OpenTelemetry spans, metrics and logs of each request (providers "
        "and exporters from the environment, e.g. FASTAPI_OTEL_AUTO_CONFIGURE=true); off: "
        "asking for them cost a tenth of the service's CPU.",
    )
    key_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="How long a proven API key is trusted without asking the store again: "
        "a revoked key is refused within this many seconds (0 = ask on every request).",
    )
    oidc_issuer: str | None = Field(
        None,
        description="OIDC bearer tokens: the issuer (`iss`) they must name; none = bearer "
        "tokens are refused (API keys only).",
    )
    oidc_audience: str | None = Field(
        None, description="OIDC: the audience (`aud`) a token must name (this API's client id)."
    )
    oidc_jwks: str | None = Field(
        None,
        description="OIDC: the issuer's signing keys, a JWKS file (works offline) or an "
        "https:// URL (fetched and cached).",
    )
    oidc_algorithms: list[OidcAlgorithm] = Field(
        default_factory=lambda: list[OidcAlgorithm](["RS256", "ES256"]),
        min_length=1,
        description="OIDC: signature algorithms accepted (asymmetric only; none/HS* never).",
    )
    oidc_principal_claim: str = Field(
        "preferred_username",
        description="OIDC: the claim naming the principal (falls back to `sub`).",
    )
    oidc_roles_claim: str = Field(
        "roles",
        description="OIDC: the claim listing the principal's roles (dotted for nested, e.g. "
        "realm_access.roles); roles auditlens does not know are ignored.",
    )
    oidc_leeway_seconds: int = Field(
        30, ge=0, le=300, description="OIDC: clock skew allowed on exp/nbf/iat, in seconds."
    )
    oidc_jwks_cache_seconds: int = Field(
        300, gt=0, description="OIDC: how long keys fetched from an https JWKS URL are kept."
    )

    @model_validator(mode="after")
    def _oidc_complete(self) -> ApiConfig:
        given = {
            "oidc_issuer": self.oidc_issuer,
            "oidc_audience": self.oidc_audience,
            "oidc_jwks": self.oidc_jwks,
        }
        missing = [k for k, v in given.items() if not v]
        if 0 < len(missing) < len(given):
            raise ValueError(
                f"api: OIDC needs oidc_issuer, oidc_audience and oidc_jwks; {missing} unset"
            )
        jwks = self.oidc_jwks or ""
        if "://" in jwks and not jwks.startswith("https://"):
            raise ValueError(f"api.oidc_jwks: {jwks!r}: a URL must be https:// (or give a file)")
        return self

    @property
    def oidc(self) -> bool:
        """True when OIDC bearer tokens are configured."""
        return self.oidc_issuer is not None


class MonitoringConfig(BaseModel):
    """Models under governance: drift thresholds, shadow scoring and miss-rate sampling
    (``[monitoring]``; docs/monitoring.md)."""

    drift_psi: float = Field(
        0.2,
        gt=0,
        description="Population stability index at or above which a feature (or the score) "
        "has drifted from the model's training reference (0.1 = watch, 0.2 = act).",
    )
    drift_ks: float = Field(
        0.2,
        gt=0,
        le=1,
        description="Kolmogorov-Smirnov statistic (largest gap between the two cumulative "
        "distributions) at or above which a feature or the score has drifted.",
    )
    drift_alert_rate: float = Field(
        2.0,
        gt=1,
        description="Alert-rate drift: a run whose share of new windows at or above the alert "
        "line (alert_min_severity) is this many times the training share, or below it "
        "divided by this, has drifted.",
    )
    drift_min_rows: int = Field(
        50,
        gt=0,
        description="Fewer windows than this in a run: drift is not measured (too few to say).",
    )
    shadow: bool = Field(
        False,
        description="Every `auditlens run` also scores with the registry's challenger and "
        "stores its scores apart (shadow mode); `run --shadow` does it once.",
    )
    review_sample: int = Field(
        0,
        ge=0,
        description="Unflagged users each run draws at random for review (miss-rate "
        "sampling); 0 = off.",
    )


_BYTE_UNITS: Final = {"": 1, "B": 1, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
                      "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}  # fmt: skip


def parse_bytes(text: str) -> int:
    """Bytes of a size such as ``8GiB``, ``512 MiB`` or ``2000000000``.

    >>> parse_bytes("8GiB"), parse_bytes("1.5 GB")
    (8589934592, 1500000000)
    """
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?i?B)?\s*", text, re.IGNORECASE)
    unit = (match.group(2) or "").upper() if match else None
    if match is None or unit not in _BYTE_UNITS:
        raise ValueError(f"not a size: {text!r} (write e.g. 8GiB, 512MiB or 2000000000)")
    return int(float(match.group(1)) * _BYTE_UNITS[unit])


class EngineConfig(BaseModel):
    """How a batch run uses the machine (``[engine]``): memory budget and threads. Never
    changes a score: a stored model scores the same windows identically however the run
    is partitioned (left out of the config hash)."""

    kind: EngineKind = Field(
        "polars",
        description="What computes the features: 'polars' (embedded, this machine) or "
        "'spark' (the lake read by Spark, the same feature code run per user partition on "
        "its executors; [spark] says where). Scores are the same either way.",
    )
    memory_budget: str = Field(
        "8GiB",
        description="Peak memory a batch run (`auditlens run`) plans for, e.g. '8GiB': the "
        "stored events are processed in as many user partitions as it takes to stay under "
        "it (one partition when everything fits: the in-memory path).",
    )
    threads: int = Field(
        0,
        ge=0,
        description="Partitions built at once (a stored model's matrix is built in this "
        "many partitions from 1M events on, even when they fit); 0 = one per CPU core.",
    )

    @field_validator("memory_budget")
    @classmethod
    def _size(cls, value: str) -> str:
        if parse_bytes(value) < 256 * 2**20:
            raise ValueError(f"memory_budget {value!r} is under 256MiB: too small to run")
        return value

    @property
    def budget_bytes(self) -> int:
        """``memory_budget`` in bytes."""
        return parse_bytes(self.memory_budget)

    @property
    def workers(self) -> int:
        """Threads to use: ``threads``, or one per CPU core this process may run on."""
        return self.threads or len(os.sched_getaffinity(0))


class SparkConfig(BaseModel):
    """Where the Spark engine runs (``[spark]``; used when ``[engine] kind = "spark"``)."""

    master: str | None = Field(
        None,
        description="Spark master URL: local[N] (this machine, N cores), spark://host:7077, "
        "yarn, k8s://https://host:443 (docs/deploy.md); unset = Spark's own "
        "(spark-defaults.conf in SPARK_CONF_DIR, spark-submit's --master), else local[*].",
    )
    driver_memory: str = Field(
        "4g", description="spark.driver.memory: the driver holds the combined feature matrix."
    )
    partitions: int = Field(
        8,
        ge=1,
        le=100_000,
        description="User partitions the features are computed in (one Spark task each); "
        "more partitions, less memory per executor task.",
    )
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = Field(
        "ERROR",
        description="What Spark itself logs on the terminal once its session runs.",
    )
    conf: dict[str, str] = Field(
        default_factory=dict,
        description='Any other spark.* settings, e.g. {"spark.executor.memory" = "8g"}; '
        "credentials belong in the environment or spark-defaults.conf, not here.",
    )


class DashboardConfig(BaseModel):
    """The risk dashboard (``auditlens serve dashboard``): where it listens."""

    host: str = Field("127.0.0.1", description="Address `auditlens serve dashboard` listens on.")
    port: int = Field(8501, gt=0, lt=65536, description="TCP port of `auditlens serve dashboard`.")


class ReportScheduleConfig(BaseModel):
    """When `auditlens report send` (run daily from cron or Airflow) sends each digest."""

    weekly: str | None = Field(
        "mon",
        description="Weekday the weekly digest of the week before is sent (mon..sun); "
        "none = no weekly digest.",
    )
    monthly: int | None = Field(
        1,
        ge=1,
        le=28,
        description="Day of the month (1-28) the monthly digest of the month before is sent; "
        "none = no monthly digest.",
    )

    @field_validator("weekly")
    @classmethod
    def _weekday(cls, value: str | None) -> str | None:
        if value is None:
            return None
        day = value.strip().lower()[:3]
        if day not in WEEKDAY_NAMES:
            raise Bad(
                f"unknown weekday {value!r} (expected one of {list(WEEKDAY_NAMES)})",
                ko=f"알 수 없는 요일 {value!r}입니다 ({list(WEEKDAY_NAMES)} 중 하나)",
            )
        return day


#: Settings that do not change any score (left out of the config hash).
NOT_SCORING: Final = frozenset(
    {
        "store_url",
        "data_dir",
        "mlflow_tracking_uri",
        "language",
        "sources",
        "future_tolerance_seconds",
        "review_capacity",
        # how raw values are read: the stored events are pinned by the ingest watermark
        "unknown_actions",
        "date_order",
        "ambiguous_times",
        # where the audit trail lives and who may act, never a score
        "store_owner_url",
        "audit_store_url",
        "audit_store_owner_url",
        "principals",
        # who sees names, never a score
        "privacy",
        "api",
        "dashboard",
        # how models are watched, never a score
        "monitoring",
        # how a run uses the machine: a stored model scores the same however partitioned
        "engine",
        "spark",
        # how reports look and whom they go to, never a score
        "report_template",
        "report_controls",
        "report_recipients",
        "report_schedule",
    }
)


class Settings(BaseSettings):
    """Effective configuration of auditlens; every field has a default."""

    model_config = SettingsConfigDict(
        env_prefix="AUDITLENS_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    store_url: SecretStr = Field(
        SecretStr("sqlite:///var/auditlens.db"),
        description="SQLAlchemy URL the application connects with (SQLite file or "
        "PostgreSQL); on PostgreSQL use a role without ownership (`auditlens db roles`).",
    )
    store_owner_url: SecretStr | None = Field(
        None,
        description="URL of the role that owns the tables, used only by `auditlens db "
        "upgrade` and `auditlens db roles`; none = store_url.",
    )
    audit_store_url: SecretStr | None = Field(
        None,
        description="URL of a separate audit database holding the audit trail (own "
        "server and roles); none = the trail lives in the store.",
    )
    audit_store_owner_url: SecretStr | None = Field(
        None,
        description="Owner URL of the separate audit database (migrations, roles); "
        "none = audit_store_url.",
    )
    principals: dict[str, list[Literal["viewer", "analyst", "approver", "admin"]]] = Field(
        default_factory=dict,
        description="Who may decide on alerts: principal id (the OS account) -> roles "
        "(viewer, analyst, approver, admin); anyone else is refused.",
    )
    data_dir: Path = Field(
        Path("var"), description="Directory for the Parquet event lake and other local state."
    )
    mlflow_tracking_uri: str = Field(
        "",
        description="MLflow tracking and registry URI of a team's server (http://..., "
        "sqlite:///...); empty = embedded sqlite:///<data_dir>/mlflow.db, artifacts under "
        "<data_dir>/mlartifacts.",
    )
    timezone: str = Field("Asia/Seoul", description="IANA time zone for hours and days.")
    business_hours_start: dt.time = Field(
        dt.time(9, 0), description="Start of business hours (local time)."
    )
    business_hours_end: dt.time = Field(
        dt.time(18, 0), description="End of business hours (local time, exclusive)."
    )
    weekend_days: list[str] = Field(
        default_factory=lambda: ["sat", "sun"],
        description="Days off every week, as mon..sun.",
    )
    holiday_country: str | None = Field(
        "KR", description="Country code for public holidays (holidays package); empty = none."
    )
    company_holidays_file: Path | None = Field(
        None,
        description="File of company-specific days off: one YYYY-MM-DD per line, '#' comments.",
    )
    language: Literal["ko", "en"] = Field("ko", description="Language of reports and messages.")
    resource_catalog: Path | None = Field(
        None, description="CSV mapping resource id or glob pattern to sensitivity level."
    )
    future_tolerance_seconds: int = Field(
        300, ge=0, description="Accept timestamps at most this far in the future (clock skew)."
    )
    unknown_actions: UnknownActions = Field(
        "quarantine",
        description="An action neither canonical nor mapped by a value map: 'quarantine' the "
        "row (reason lists the unknown values and counts) or 'keep' it as given ('other').",
    )
    date_order: DateOrder = Field(
        "YMD",
        description="How dates that do not start with the year read: 'DMY' (01/09/2026 = 1 "
        "September) or 'MDY' (= January 9); 'YMD' refuses such a batch instead of guessing.",
    )
    ambiguous_times: AmbiguousTimes = Field(
        "quarantine",
        description="A naive local time that occurs twice (DST fall-back): take the 'earliest' "
        "or 'latest' instant, or 'quarantine' the row with the reason.",
    )
    sources: dict[str, SourceConfig] = Field(
        default_factory=dict, description="Named event sources read by `auditlens run`."
    )
    default_sensitivity: Literal["low", "medium", "high", "critical"] = Field(
        "low", description="Sensitivity of resources the catalog does not list."
    )
    peer_directory: Path | None = Field(
        None,
        description="CSV user_id,department,role defining peer groups; default: from events.",
    )
    profile_days: int = Field(
        28, ge=1, description="Days of a user's own rolling baseline (the day itself excluded)."
    )
    min_history_days: int = Field(
        7, ge=0, description="Windows in a user's first N days are not scored (warm-up)."
    )
    min_peer_group: int = Field(
        5, ge=2, description="Smallest department/role group used as peers; else department."
    )
    decay_half_life_days: float = Field(
        7.0, gt=0, description="Days for a user's accumulated risk to halve."
    )
    review_capacity: int = Field(
        20, ge=0, description="Users the team can review per run: the top N are flagged."
    )
    model_seed: int = Field(7, description="Random seed of the models (same data, same model).")
    session_gap_minutes: float = Field(
        30.0, gt=0, description="A pause longer than this starts a new session (sequences)."
    )
    watchlist: dict[str, str] = Field(
        default_factory=dict,
        description="Named action-sequence patterns that always raise a reason, e.g. "
        "{tamper = 'view>edit>delete within 10m on sensitivity>=high same resource'}; "
        "'off_hours' and 'on holiday' restrict a pattern to business-time rules.",
    )
    alert_min_severity: Severity = Field(
        Severity.MEDIUM,
        description="A stored score at or above this severity band (scoring.py) raises an alert.",
    )
    alert_channels: dict[str, ChannelConfig] = Field(
        default_factory=dict,
        description="Named alert channels ([alert_channels.NAME] kind = slack, teams, email, "
        "pagerduty, file or console).",
    )
    alert_routes: list[AlertRouteConfig] = Field(
        default_factory=list,
        description="Routing rules ([[alert_routes]]): severity/department/scenario -> "
        "channels, recipients, schedule.",
    )
    alert_link_template: str = Field(
        "http://localhost:8501/alerts?alert={alert_id}",
        description="Link shown in every alert; {alert_id}, {window} (and {user_id}, which "
        "puts the person's id in the message: avoid it when pseudonymising). Default: the "
        "alert on the dashboard's alert queue (`auditlens serve dashboard`).",
    )
    alert_dedup_hours: float = Field(
        24.0,
        ge=0,
        description="One alert per person: an active alert absorbs new detections; a closed "
        "or dismissed one still absorbs them this many hours after it was opened.",
    )
    alert_max_attempts: int = Field(
        6, ge=1, description="Delivery attempts before a delivery is dead-lettered."
    )
    alert_backoff_seconds: float = Field(
        30.0, gt=0, description="Wait before the first retry; doubles after each failure."
    )
    alert_backoff_max_seconds: float = Field(
        3600.0, gt=0, description="Longest wait between retries (also caps Retry-After)."
    )
    alert_timeout_seconds: float = Field(
        10.0, gt=0, description="Network timeout of one delivery attempt."
    )
    alert_four_eyes: list[Severity] = Field(
        default_factory=lambda: _severities(Severity.CRITICAL),
        description="Closing an alert of these severities needs a second person's approval.",
    )
    alert_sla_hours: dict[Severity, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {
            Severity.CRITICAL: 4.0,
            Severity.HIGH: 24.0,
            Severity.MEDIUM: 72.0,
            Severity.LOW: 168.0,
        },
        description="Hours an alert of each severity may stay unresolved (open, acknowledged, "
        "escalated or waiting for approval) after it was opened; the dashboard's alert queue "
        "marks older ones as past their SLA. A severity left out has no SLA.",
    )
    alert_fp_suppress_days: float = Field(
        0.0,
        ge=0,
        description="Dismissing as false positive suppresses the same scenario for that user "
        "this many days (0 = off; `--suppress-days` overrides).",
    )
    privacy: PrivacyConfig = Field(
        default_factory=PrivacyConfig,
        description="Pseudonymised triage ([privacy] pseudonymise, pseudonym_key, "
        "reidentify_ttl_minutes).",
    )
    api: ApiConfig = Field(
        default_factory=ApiConfig,
        description="[api] table: the risk service's address and OIDC trust (see "
        "docs/configuration.md, *API*); API keys live in the store (`auditlens keys`).",
    )
    dashboard: DashboardConfig = Field(
        default_factory=DashboardConfig,
        description="[dashboard] table: where the risk dashboard listens (see "
        "docs/configuration.md, *Dashboard*).",
    )
    monitoring: MonitoringConfig = Field(
        default_factory=MonitoringConfig,
        description="[monitoring] table: drift thresholds, shadow scoring with the "
        "challenger and miss-rate sampling (see docs/configuration.md, *Monitoring*).",
    )
    spark: SparkConfig = Field(
        default_factory=SparkConfig,
        description="[spark] table: the Spark master and settings of the Spark engine (see "
        "docs/configuration.md, *Engine*).",
    )
    engine: EngineConfig = Field(
        default_factory=EngineConfig,
        description="[engine] table: the memory budget a batch run stays under (user "
        "partitions) and its threads (see docs/configuration.md, *Engine*).",
    )

    report_template: Path | None = Field(
        None,
        description="PowerPoint master (.pptx) the PPTX report is built on: its layouts and "
        "placeholders are used; none = the built-in look.",
    )
    report_controls: Path | None = Field(
        None,
        description="TOML file mapping what auditlens did to the controls you are examined on "
        "(docs/reports.md); none = the built-in mapping (Korean financial-sector rules).",
    )
    report_recipients: list[str] = Field(
        default_factory=list,
        description="E-mail addresses `auditlens report send` sends the digest to (through "
        "the SMTP settings of an e-mail alert channel).",
    )
    report_schedule: ReportScheduleConfig = Field(
        default_factory=ReportScheduleConfig,
        description="[report_schedule] table: weekly = weekday, monthly = day of the month "
        "on which `auditlens report send` sends each digest.",
    )

    @model_validator(mode="after")
    def _routes_name_channels(self) -> Settings:
        seen: set[str] = set()
        for route in self.alert_routes:
            if route.id in seen:
                raise Bad(
                    f"alert_routes: rule id {route.id!r} is used twice",
                    ko=f"alert_routes: 규칙 ID가 두 번 쓰였습니다: {route.id!r}",
                )
            seen.add(route.id)
            unknown = [c for c in route.channels if c not in self.alert_channels]
            if unknown:
                raise Bad(
                    f"alert_routes {route.id!r}: unknown channel(s) {unknown}; "
                    f"defined: {sorted(self.alert_channels)}",
                    ko=f"alert_routes {route.id!r}: 알 수 없는 채널 {unknown}입니다 "
                    f"(정의된 채널: {sorted(self.alert_channels)})",
                )
            paging = [
                c
                for c in route.channels
                if isinstance(self.alert_channels[c], PagerDutyChannelConfig)
            ]
            if route.digest_at is not None and paging:
                raise Bad(
                    f"alert_routes {route.id!r}: PagerDuty cannot take a digest",
                    ko=f"alert_routes {route.id!r}: PagerDuty 채널로는 요약(digest)을 보낼 수 "
                    "없습니다",
                )
        return self

    @field_validator("report_recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not _ADDRESS.fullmatch(a.strip())]
        if bad:
            raise Bad(
                f"not an e-mail address: {bad}",
                ko=f"전자우편 주소가 아닙니다: {bad}",
            )
        return [a.strip() for a in value]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise Bad(
                f"unknown time zone {value!r} (expected e.g. 'Asia/Seoul')",
                ko=f"알 수 없는 시간대 {value!r}입니다 (예: 'Asia/Seoul')",
            ) from exc
        return value

    @field_validator("weekend_days")
    @classmethod
    def _weekday_names(cls, value: list[str]) -> list[str]:
        full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        given = [v.strip().lower() for v in value]
        bad = [v for v in given if v not in WEEKDAY_NAMES and v not in full]
        if bad:
            raise Bad(
                f"unknown weekday(s) {bad} (expected some of {list(WEEKDAY_NAMES)})",
                ko=f"알 수 없는 요일 {bad}입니다 ({list(WEEKDAY_NAMES)} 중에서 고르십시오)",
            )
        return [v[:3] for v in given]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = config_path()
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )

    @property
    def weekend_day_numbers(self) -> frozenset[int]:
        """Weekend days as ISO weekday numbers (Monday = 1)."""
        return frozenset(WEEKDAY_NAMES.index(d) + 1 for d in self.weekend_days)

    @property
    def lake_dir(self) -> Path:
        """Directory of the Parquet event lake."""
        return self.data_dir / "lake"

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, secrets masked (safe to print or log)."""
        data = json.loads(self.model_dump_json())
        for key in ("store_url", "store_owner_url", "audit_store_url", "audit_store_owner_url"):
            value = getattr(self, key)
            if value is not None:
                data[key] = mask_url(value.get_secret_value())
        for name, src in self.sources.items():
            if isinstance(src, SqlSourceConfig):
                data["sources"][name]["url"] = mask_url(src.url.get_secret_value())
        return dict(data)

    def scoring_config(self) -> dict[str, Any]:
        """The settings that change scores, as plain data (what :meth:`fingerprint` hashes).

        Left out: where things are stored, the language of messages, which sources are
        read (the data is pinned by the ingest watermark instead), ingestion checks,
        reviewer capacity and alert delivery — changing those must not make every stored
        score look irreproducible or trigger a rescore. Files the scores depend on
        (resource catalog, peer directory, company holidays) count by their content.
        """
        kept = {
            k: v
            for k, v in self.masked().items()
            if k not in NOT_SCORING and not k.startswith("alert_")
        }
        for name in ("resource_catalog", "peer_directory", "company_holidays_file"):
            path = getattr(self, name)
            if path is not None and Path(path).is_file():
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
                kept[name] = f"{kept[name]}#sha256:{digest}"
        return kept

    def fingerprint(self) -> str:
        """Stable hash of the settings that change scores (for replayable evidence)."""
        blob = json.dumps(self.scoring_config(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


#: Query-string keys of a database URL whose values are secrets (libpq and drivers).
SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "secret", "token", "key", "passphrase")


def mask_url(url: str) -> str:
    """Hide every secret of a database URL: the password (``postgresql://u:***@host/db``)
    and secret query parameters (``?password=***``, ``sslpassword=***``, ``api_key=***``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "***"
    hidden = {
        key: "***" for key in parsed.query if any(word in key.lower() for word in SECRET_QUERY_KEYS)
    }
    if hidden:
        parsed = parsed.update_query_dict(hidden)
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def url_secrets(url: str) -> list[str]:
    """The secret values inside a database URL (password, secret query parameters), for
    scrubbing them from error messages (auditlens.redaction.scrub)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return [url]
    found = [url]
    if parsed.password:
        found.append(str(parsed.password))
    for key, value in parsed.query.items():
        if any(word in key.lower() for word in SECRET_QUERY_KEYS):
            found.extend([value] if isinstance(value, str) else list(value))
    return [s for s in found if s]


def load_settings(**overrides: Any) -> Settings:
    """Load settings, turning validation problems into one readable ConfigError.

    A TOML syntax error names the file, the line and column, the line itself and how to
    write a key that is not plain ASCII (``"사번" = "user_id"``; the English hint's example
    is ``"Employee No." = "user_id"`` so that English text stays English).
    """
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc) from None
    except ValidationError as exc:
        errors = [(".".join(str(p) for p in err["loc"]) or "config", err) for err in exc.errors()]
        problems = "; ".join(f"{place}: {err['msg']}" for place, err in errors)
        problems_ko = "; ".join(f"{place}: {_korean(err)}" for place, err in errors)
        raise ConfigError(
            f"invalid configuration: {problems}", ko=f"설정 값이 올바르지 않습니다: {problems_ko}"
        ) from None


#: Korean for pydantic's error types a configuration file commonly hits (the rest keep
#: pydantic's English message after the Korean framing).
_PYDANTIC_KO: Final = {
    "missing": "값이 없습니다",
    "extra_forbidden": "알 수 없는 설정 항목입니다",
    "int_parsing": "정수가 아닙니다",
    "int_from_float": "정수가 아닙니다",
    "float_parsing": "숫자가 아닙니다",
    "bool_parsing": "true 또는 false여야 합니다",
    "string_type": "문자열이어야 합니다",
    "list_type": "목록이어야 합니다",
    "dict_type": "테이블이어야 합니다",
    "literal_error": "{expected} 중 하나여야 합니다",
    "greater_than": "{gt}보다 커야 합니다",
    "greater_than_equal": "{ge} 이상이어야 합니다",
    "less_than": "{lt}보다 작아야 합니다",
    "less_than_equal": "{le} 이하여야 합니다",
    "time_parsing": "시각이 아닙니다 (HH:MM 형식)",
    "date_from_datetime_parsing": "날짜가 아닙니다 (YYYY-MM-DD 형식)",
    "url_parsing": "URL이 아닙니다",
}


def _korean(err: Any) -> str:
    """One pydantic error in Korean: our own validators' Korean text, else a translation of
    the error type, else pydantic's English message."""
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, Bad):
        return error.ko
    template = _PYDANTIC_KO.get(err["type"])
    if template is None:
        return str(err["msg"])
    ctx = {k: str(v).replace(" or ", ", ") for k, v in (err.get("ctx") or {}).items()}
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return str(err["msg"])


#: tomllib's messages in Korean (the common ones; others are shown as the parser wrote them).
_TOML_REASONS_KO: Final = {
    "Invalid initial character for a key part": (
        "키의 첫 글자가 올바르지 않음 (따옴표 없는 한글 키 등)"
    ),
    "Invalid value": "값이 올바르지 않음 (따옴표 없는 문자열 등)",
    "Expected '=' after a key in a key/value pair": "키 뒤에 '='가 없음",
    "Unclosed array": "배열이 닫히지 않음",
    "Unterminated string": "문자열이 닫히지 않음",
    "Invalid statement": "문장을 읽을 수 없음",
    "Cannot overwrite a value": "같은 키가 두 번 나옴",
    "Cannot declare": "같은 표가 두 번 나옴",
}


def _toml_reason_ko(reason: str) -> str:
    """The parser's reason in Korean where it is a common one."""
    at_end = "(at end of document)" in reason
    core = reason.replace("(at end of document)", "").strip()
    for english, korean in _TOML_REASONS_KO.items():
        if core.startswith(english):
            return korean + (", 문서 끝" if at_end else "")
    return f"파서 메시지: {reason}"


def _toml_error(exc: tomllib.TOMLDecodeError) -> ConfigError:
    """A ConfigError naming the file, line and column of a TOML syntax error."""
    path = config_path()
    reason = str(exc)
    found = re.search(r"\(at line (\d+), column (\d+)\)", reason)
    where, shown, line_ko = str(path), "", ""
    if found:
        line = int(found.group(1))
        where = f"{path}:{line}:{found.group(2)}"
        line_ko = f" ({line}행 {found.group(2)}열)"
        reason = reason[: found.start()].strip()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            shown = f"`{lines[line - 1].strip()[:120]}`" if 0 < line <= len(lines) else ""
        except (OSError, UnicodeDecodeError):
            shown = ""
    return ConfigError(
        f"{where}: not valid TOML: {reason}{f' in {shown}' if shown else ''}",
        hint='quote keys that are not plain ASCII letters, digits, "_" or "-", e.g. '
        '"Employee No." = "user_id" (Korean column names too); quote text values '
        '("Asia/Seoul"); see docs/configuration.md',
        ko=f"{where}: TOML 문법 오류입니다{line_ko}{f': {shown}' if shown else ''} "
        f"({_toml_reason_ko(reason)})",
        ko_hint='영문자, 숫자, "_", "-"가 아닌 글자가 든 키는 따옴표로 감싸고 '
        '(예: "사번" = "user_id"), 문자열 값도 따옴표로 감싸십시오 ("Asia/Seoul"). '
        "docs/configuration.md를 참고하십시오",
    )
