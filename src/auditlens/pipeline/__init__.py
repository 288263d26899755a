"""The batch jobs as compositions of plain functions (ingest, score, run, explain, demo)."""

from auditlens.alerts.dispatch import DispatchReport
from auditlens.pipeline.alerting import (
    AlertDetail,
    AlertListing,
    JobReport,
    RaiseReport,
    batch_job,
    decide_alert,
    dispatch_alerts,
    list_alerts,
    list_deliveries,
    raise_alerts,
    requeue_delivery,
    show_alert,
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
    quarantined,
    upgrade_store,
    utc_now,
    verify_lake,
)
from auditlens.pipeline.inputs import (
    InputOptions,
    input_source,
    make_source,
    parse_column_map,
    source_for_path,
    sources_to_ingest,
)
from auditlens.pipeline.learning import (
    EvaluationReport,
    TrainReport,
    evaluate,
    false_positive_comparison,
    train,
)
from auditlens.pipeline.replay import Explanation, explain_user
from auditlens.pipeline.run import (
    DEFAULT_RUN_WAIT,
    RunInProgress,
    RunReport,
    run,
)
from auditlens.pipeline.texts import say
from auditlens.pipeline.trail import audit_log, local_time, verify_trail
from auditlens.sources.textfile import SETTLE_SECONDS

__all__ = [
    "DEFAULT_RUN_WAIT",
    "DEMO_EXPORT_COLUMNS",
    "SETTLE_SECONDS",
    "AlertDetail",
    "AlertListing",
    "BatchReport",
    "DemoResult",
    "DispatchReport",
    "EvaluationReport",
    "Explanation",
    "IngestReport",
    "InputOptions",
    "JobReport",
    "RaiseReport",
    "RunInProgress",
    "RunReport",
    "SampleSummary",
    "ScoreFileReport",
    "TrainReport",
    "audit_log",
    "batch_job",
    "decide_alert",
    "dispatch_alerts",
    "evaluate",
    "explain_user",
    "false_positive_comparison",
    "generate_sample",
    "ingest",
    "input_source",
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
    "say",
    "score_file",
    "show_alert",
    "source_for_path",
    "sources_to_ingest",
    "train",
    "upgrade_store",
    "utc_now",
    "verify_lake",
    "verify_trail",
]
