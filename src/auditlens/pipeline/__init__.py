"""The batch jobs as compositions of plain functions (ingest, score, run, explain, demo)."""

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
from auditlens.pipeline.run import Explanation, RunReport, explain_user, run

__all__ = [
    "DEMO_EXPORT_COLUMNS",
    "BatchReport",
    "DemoResult",
    "Explanation",
    "IngestReport",
    "RunReport",
    "SampleSummary",
    "ScoreFileReport",
    "explain_user",
    "generate_sample",
    "ingest",
    "make_source",
    "parse_column_map",
    "quarantined",
    "run",
    "run_demo",
    "score_file",
    "source_for_path",
    "sources_to_ingest",
    "upgrade_store",
    "utc_now",
]
