# size: every table of the store in one place, as the migrations build them.
"""SQLAlchemy tables of the store and the engine factory.

Events themselves live in the Parquet lake (``store/lake.py``): feature building scans
millions of rows column-wise, which Parquet does an order of magnitude faster than row
tables. Everything that must be transactional — which lake parts are committed, source
watermarks, quarantine, tampering findings — lives here, so one SQL transaction decides
whether a batch exists.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url

metadata = MetaData()

ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("label", Text, nullable=False, default=""),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("committed_at", DateTime(timezone=True), nullable=False),
    Column("ingested", BigInteger, nullable=False),
    Column("accepted", BigInteger, nullable=False),
    Column("quarantined", BigInteger, nullable=False),
    Column("changes", BigInteger, nullable=False, default=0),
    Column("watermark_before", Text, nullable=True),
    Column("watermark_after", Text, nullable=False),
    Column("lake_part", String(300), nullable=True),
    Column("min_ts", DateTime(timezone=True), nullable=True),
    Column("max_ts", DateTime(timezone=True), nullable=True),
    Index("ix_ingest_batches_source", "source"),
    Column("lake_sha256", String(64), nullable=True),  # migration 0004
)

# --- the lake's identity and pending parts (migration 0004) ------------------------------

#: One row (id 1): the store's id, also written into its lake as ``.store-id``, and the
#: location (host and path) the lake was bound at.
store_identity = Table(
    "store_identity",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("store_id", String(64), nullable=False),
    Column("lake_location", Text, nullable=False),
    Column("bound_at", DateTime(timezone=True), nullable=False),
)

#: Lake parts recorded before they are written; a batch's commit removes its row. What is
#: left after a crash is exactly what cleanup may delete.
lake_pending = Table(
    "lake_pending",
    metadata,
    Column("part", String(300), primary_key=True),
    Column("source", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# --- compacted lake parts (migration 0014) -------------------------------------------------

#: Where a compacted batch's events are now: rows ``first_row .. first_row + rows - 1`` of
#: ``part`` (store/compaction.py). The batch's own row keeps the part it was ingested to
#: and that part's sha256; ``source_sha256`` is that part's hash as verified just before
#: its events were moved, ``part_sha256`` the compacted part's as written.
lake_segments = Table(
    "lake_segments",
    metadata,
    Column(
        "batch_id",
        Integer,
        ForeignKey("ingest_batches.id"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("part", String(300), nullable=False),
    Column("first_row", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("part_sha256", String(64), nullable=False),
    Column("source_sha256", String(64), nullable=True),
    Column("compacted_at", DateTime(timezone=True), nullable=False),
    Index("ix_lake_segments_part", "part"),
)

#: Parts whose events were compacted into another: no longer read, deleted once
#: ``retired_at`` is older than the grace period (a reader that listed them may still be
#: reading them).
lake_retired = Table(
    "lake_retired",
    metadata,
    Column("part", String(300), primary_key=True),
    Column("retired_at", DateTime(timezone=True), nullable=False),
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    Column("batch_id", Integer, ForeignKey("ingest_batches.id"), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("batch_id", Integer, ForeignKey("ingest_batches.id"), nullable=False),
    Column("source", String(200), nullable=False),
    Column("location", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("quarantined_at", DateTime(timezone=True), nullable=False),
    Index("ix_quarantine_batch", "batch_id"),
    Index("ix_quarantine_at", "quarantined_at"),  # migration 0007 (KPIs of a period)
)

tamper_findings = Table(
    "tamper_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", Integer, ForeignKey("ingest_batches.id"), nullable=False),
    Column("source", String(200), nullable=False),
    Column("kind", String(60), nullable=False),
    Column("change_id", BigInteger, nullable=True),
    Column("table_name", String(200), nullable=True),
    Column("row_key", Text, nullable=True),
    Column("op", String(30), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=True),
    Column("event_id", Text, nullable=True),
    Column("stored_copy", Text, nullable=True),
    Column("current_row", Text, nullable=True),
    Column("detected_at", DateTime(timezone=True), nullable=False),
)


models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("kind", String(60), nullable=False),
    Column("path", Text, nullable=False),
    Column("feature_columns", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("n_train", BigInteger, nullable=False),
    Column("data_batch_id", Integer, nullable=True),
    Column("config_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # the order of registration: a model registered again (a refit that reproduced its
    # bytes) counts as the newest (migration 0015)
    Column("registered", Integer, nullable=False),
)

score_runs = Table(
    "score_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("model_sha256", String(64), ForeignKey("models.sha256"), nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("data_batch_id", Integer, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("windows", BigInteger, nullable=False),
    Column("reason_method", Text, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("capacity_cutoff", Float, nullable=True),
    # migration 0005: pending -> raised (with the run's last alert) or skipped
    Column("alerts_state", String(20), nullable=False, server_default="raised"),
    Column("alerts_raised_at", DateTime(timezone=True), nullable=True),
    Column("config", Text, nullable=True),
    Column("model_version", Integer, nullable=True),  # migration 0011: the registry's version
    Index("ix_score_runs_alerts_state", "alerts_state"),
)

scores = Table(
    "scores",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", Integer, ForeignKey("score_runs.id"), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("window", Date, nullable=False),
    Column("raw_score", Float, nullable=False),
    Column("surprise", Float, nullable=False),
    Column("risk", Float, nullable=False),
    Column("decayed_risk", Float, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("feature_hash", String(64), nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("data_batch_id", Integer, nullable=False),
    # migration 0007: a user's newest day and, within it, newest run in one index seek
    Index("ix_scores_user_window_run", "user_id", "window", "run_id"),
    Index("ix_scores_window", "window"),  # migration 0007: the riskiest users of a period
    Index("ix_scores_run", "run_id"),
)


# --- alerts, outbox and the audit trail (migration 0003) ---------------------------------

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(300), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("department", String(200), nullable=True),
    Column("window", Date, nullable=False),
    Column("score_id", BigInteger, nullable=False, unique=True),
    Column("run_id", Integer, nullable=False),
    Column("risk", Float, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("scenario", String(200), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("status", String(30), nullable=False),
    Column("close_requested_by", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # migration 0005: every day of the peak incident (JSON; '[]' = just ``window``)
    Column("windows", Text, nullable=False, server_default="[]"),
    Column("close_requested_via", String(200), nullable=True),  # migration 0006
    Index("ix_alerts_dedup", "dedup_key", "created_at"),
    Index("ix_alerts_status", "status"),
    Index("ix_alerts_user", "user_id", "status"),
    Index("ix_alerts_created", "created_at"),  # migration 0007 (queue and KPIs by period)
)

#: Each detection an alert absorbed, the one that opened it first (migration 0005).
alert_evidence = Table(
    "alert_evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("score_id", BigInteger, nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("kind", String(20), nullable=False),  # open | absorb | upgrade | duplicate
    Column("windows", Text, nullable=False),
    Column("risk", Float, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("scenario", String(200), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Index("ix_alert_evidence_alert", "alert_id"),
    Index("ix_alert_evidence_score", "score_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("channel", String(200), nullable=False),
    Column("rule_id", String(200), nullable=False),
    Column("action", String(20), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("digest", Integer, nullable=False, default=0),
    Column("status", String(20), nullable=False),
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("last_error_ko", Text, nullable=True),  # migration 0010
    Index("ix_deliveries_due", "status", "not_before"),
    Index("ix_deliveries_alert", "alert_id"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("ok", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("retry_after", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_delivery_attempts_delivery", "delivery_id"),
    Column("error_ko", Text, nullable=True),  # migration 0010
)

label_candidates = Table(
    "label_candidates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("window", Date, nullable=False),
    Column("scenario", String(200), nullable=False),
    Column("label", Integer, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason_code", String(100), nullable=False),
    Column("note", Text, nullable=False),
    Column("audit_seq", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(200), nullable=False),
    Column("scenario", String(200), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_suppressions_user", "user_id", "scenario"),
)

#: Append-only and hash-chained (store/audit.py); PostgreSQL and SQLite refuse UPDATE and
#: DELETE on it through triggers created by migration 0003.
audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(200), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("reason_code", String(100), nullable=False),
    Column("note", Text, nullable=False),
    Column("criteria", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_subject", "subject"),
    Index("ix_audit_log_target", "target"),
    Index("ix_audit_log_actor", "actor"),  # migration 0007 (audit search)
    Index("ix_audit_log_at", "at"),  # migration 0007
)

#: Re-identification requests (migration 0009, store/reidentifications.py): an analyst asks
#: to see the person behind one pseudonymised alert, a different approver grants or denies
#: it; a grant lets only the requester see that alert's user id until ``expires_at``. No
#: user id here: the alert holds it.
reidentifications = Table(
    "reidentifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requested_via", String(200), nullable=True),
    Column("reason", Text, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),
    Column("decided_by", String(200), nullable=True),
    Column("decided_via", String(200), nullable=True),
    Column("decision_note", Text, nullable=False, default=""),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("expired_at", DateTime(timezone=True), nullable=True),
    Index("ix_reidentifications_alert", "alert_id", "requested_by"),
    Index("ix_reidentifications_status", "status"),
)

#: API keys of the risk service (migration 0008): a public prefix to find one, the sha256
#: of the whole key (never the key itself), its role and who made and revoked it.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_by", String(200), nullable=True),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_keys_name", "name"),
)


# --- models under governance (migration 0012) --------------------------------------------

#: Drift of one run's features, scores and alert rate against the model's training
#: reference (monitor/drift.py): one row per measure, ``name`` a feature column, ``risk``
#: or ``alert_rate``; ``drifted`` 1 when a configured threshold is crossed.
run_drift = Table(
    "run_drift",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("score_runs.id"), nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # feature | score | alert_rate
    Column("name", String(200), nullable=False),
    Column("psi", Float, nullable=True),
    Column("ks", Float, nullable=True),
    Column("ks_pvalue", Float, nullable=True),
    Column("reference_value", Float, nullable=True),  # alert_rate: the reference rate
    Column("current_value", Float, nullable=True),  # alert_rate: this run's rate
    Column("reference_n", BigInteger, nullable=False),
    Column("current_n", BigInteger, nullable=False),
    Column("drifted", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # the bins behind the PSI (JSON: labels, reference and run shares) for the report
    Column("bins", Text, nullable=True),
    Index("ix_run_drift_run", "run_id"),
)

#: The challenger's scores of a run scored in shadow mode (``auditlens run --shadow``):
#: stored apart from ``scores`` so nothing reads them as the champion's; ``flagged`` 1 when
#: the challenger would have put the user's peak within the review capacity.
shadow_scores = Table(
    "shadow_scores",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", Integer, ForeignKey("score_runs.id"), nullable=False),
    Column("model_version", Integer, nullable=True),
    Column("model_sha256", String(64), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("window", Date, nullable=False),
    Column("risk", Float, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("flagged", Integer, nullable=False),
    Column("reasons", Text, nullable=False),
    Index("ix_shadow_scores_run", "run_id"),
    Index("ix_shadow_scores_user", "user_id", "window"),
)

#: The online (River) detector's score of each window a stream run scored (migration
#: 0013): ``learned`` rows it had learned before, ``closing`` 1 for a completed day's
#: final row. Read beside the run's ``scores`` rows (same run_id, user_id, window).
online_scores = Table(
    "online_scores",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", Integer, ForeignKey("score_runs.id"), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("window", Date, nullable=False),
    Column("score", Float, nullable=False),
    Column("learned", BigInteger, nullable=False),
    Column("closing", Integer, nullable=False),
    Column("reasons", Text, nullable=False),
    Index("ix_online_scores_run", "run_id"),
    Index("ix_online_scores_user", "user_id", "window"),
)

#: Unflagged users drawn at random by a run for review (miss-rate sampling): a reviewer's
#: verdict (``missed``: it should have been flagged; ``clean``) estimates what the
#: capacity cut misses. ``status`` pending -> missed | clean.
review_samples = Table(
    "review_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("score_runs.id"), nullable=False),
    Column("score_id", BigInteger, nullable=False, unique=True),
    Column("user_id", String(200), nullable=False),
    Column("window", Date, nullable=False),
    Column("risk", Float, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("population", BigInteger, nullable=False),  # unflagged users it was drawn from
    Column("drawn_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("reason_code", String(100), nullable=True),
    Column("note", Text, nullable=True),
    Index("ix_review_samples_status", "status"),
    Index("ix_review_samples_run", "run_id"),
)

#: Which registry version was champion from when (migration 0012): the store's own record
#: of promotions and rollbacks, so readers need not reach MLflow to say what is in force.
champions = Table(
    "champions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_version", Integer, nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("action", String(20), nullable=False),  # train (first champion) | promote | rollback
    Column("actor", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


#: Connections a PostgreSQL engine keeps open (and as many more it may open for a while);
#: the risk API runs at most this many requests' database work at once.
POOL_SIZE = 20


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # A pool smaller than the threads drawing on it keeps only ``pool_size`` connections:
    # each one over it is closed on return and opened again on the next burst, a new
    # PostgreSQL backend (a process fork and a login) every time. With the default 5, the
    # risk API opened 102 sessions in 9 s at 300 requests/s; the API caps its threads at
    # POOL_SIZE (api/app.py), so its connections stay open. LIFO: the connection just
    # returned (warm, its statements prepared) is the next one handed out.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=POOL_SIZE,
        pool_use_lifo=True,
    )
