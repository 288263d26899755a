"""The batch jobs as compositions of plain functions (ingest, score, run, explain, demo)."""

from auditlens.pipeline.demo import (
    DEMO_EXPORT_COLUMNS,
    DemoResult,
    SampleSummary,
    generate_sample,
    run_demo,
)
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

__all__ = [
    "DEMO_EXPORT_COLUMNS",
    "BatchReport",
    "DemoResult",
    "IngestReport",
    "SampleSummary",
    "generate_sample",
    "ingest",
    "make_source",
    "parse_column_map",
    "quarantined",
    "run_demo",
    "source_for_path",
    "sources_to_ingest",
    "upgrade_store",
    "utc_now",
]
