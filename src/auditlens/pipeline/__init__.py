"""The batch jobs as compositions of plain functions (ingest, score, run, explain, demo)."""

from auditlens.alerts.dispatch import DispatchReport
from auditlens.pipeline.alerting import (
    AlertListing,
    RaiseReport,
    audit_log,
    decide_alert,
    dispatch_alerts,
    list_alerts,
    list_deliveries,
    local_time,
    raise_alerts,
    requeue_delivery,
    verify_trail,
)
from auditlens.pipeline.demo import (
    DEMO_EXPORT_COLUMNS,
    DemoResult,
    SampleSummary,
    generate_sample,
    run_demo,
)
from auditlens.pipeline.detection import ScoreFileReport, score_file
from auditlens.pipeline.ingestion import (
    BatchReport,
    IngestReport,
    ingest,
    make_source,
    parse_column_map,
    quarantined,
    source_for_path,
    sources_to_ingest,
    upgrade_store,
    utc_now,
)
from auditlens.pipeline.learning import EvaluationReport, TrainReport, evaluate, train
from auditlens.pipeline.run import Explanation, RunReport, explain_user, run

__all__ = [
    "DEMO_EXPORT_COLUMNS",
    "AlertListing",
    "BatchReport",
    "DemoResult",
    "DispatchReport",
    "EvaluationReport",
    "Explanation",
    "IngestReport",
    "RaiseReport",
    "RunReport",
    "SampleSummary",
    "ScoreFileReport",
    "TrainReport",
    "audit_log",
    "decide_alert",
    "dispatch_alerts",
    "evaluate",
    "explain_user",
    "generate_sample",
    "ingest",
    "list_alerts",
    "list_deliveries",
    "local_time",
    "make_source",
    "parse_column_map",
    "quarantined",
    "raise_alerts",
    "requeue_delivery",
    "run",
    "run_demo",
    "score_file",
    "source_for_path",
    "sources_to_ingest",
    "train",
    "upgrade_store",
    "utc_now",
    "verify_trail",
]
