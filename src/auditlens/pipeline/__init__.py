"""The batch jobs as compositions of plain functions (ingest, score, run, explain, demo).

The names below load on first use (PEP 562 ``__getattr__``): the jobs pull in
scikit-learn, SciPy, pandera and matplotlib, several seconds that ``auditlens --help`` or
``auditlens version`` should not pay. ``from auditlens.pipeline import run`` works as
before; type checkers read the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from auditlens.alerts.dispatch import DispatchReport
    from auditlens.i18n import say
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
    from auditlens.pipeline.defaults import DEFAULT_RUN_WAIT
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
        compact_lake,
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
    from auditlens.pipeline.privacy import (
        Revealed,
        reidentify_decide,
        reidentify_list,
        reidentify_request,
        reidentify_show,
    )
    from auditlens.pipeline.replay import Explanation, explain_user
    from auditlens.pipeline.run import RunInProgress, RunReport, run
    from auditlens.pipeline.stream_job import StreamControl, StreamReport, stream
    from auditlens.pipeline.streaming import ProduceReport, produce_events
    from auditlens.pipeline.trail import audit_log, local_time, verify_trail
    from auditlens.sources.textfile import SETTLE_SECONDS

#: Where each exported name lives (the same as the TYPE_CHECKING imports above; a test
#: holds the two together).
_EXPORTS: Final[dict[str, str]] = {
    "DispatchReport": "auditlens.alerts.dispatch",
    **dict.fromkeys(
        (
            "AlertDetail",
            "AlertListing",
            "JobReport",
            "RaiseReport",
            "batch_job",
            "decide_alert",
            "dispatch_alerts",
            "list_alerts",
            "list_deliveries",
            "raise_alerts",
            "requeue_delivery",
            "show_alert",
        ),
        "auditlens.pipeline.alerting",
    ),
    "DEFAULT_RUN_WAIT": "auditlens.pipeline.defaults",
    **dict.fromkeys(
        ("DEMO_EXPORT_COLUMNS", "DemoResult", "SampleSummary", "generate_sample", "run_demo"),
        "auditlens.pipeline.demo",
    ),
    **dict.fromkeys(("ScoreFileReport", "score_file"), "auditlens.pipeline.detection"),
    **dict.fromkeys(
        (
            "BatchReport",
            "IngestReport",
            "compact_lake",
            "ingest",
            "quarantined",
            "upgrade_store",
            "utc_now",
            "verify_lake",
        ),
        "auditlens.pipeline.ingestion",
    ),
    **dict.fromkeys(
        (
            "InputOptions",
            "input_source",
            "make_source",
            "parse_column_map",
            "source_for_path",
            "sources_to_ingest",
        ),
        "auditlens.pipeline.inputs",
    ),
    **dict.fromkeys(
        ("EvaluationReport", "TrainReport", "evaluate", "false_positive_comparison", "train"),
        "auditlens.pipeline.learning",
    ),
    **dict.fromkeys(
        (
            "Revealed",
            "reidentify_decide",
            "reidentify_list",
            "reidentify_request",
            "reidentify_show",
        ),
        "auditlens.pipeline.privacy",
    ),
    **dict.fromkeys(("Explanation", "explain_user"), "auditlens.pipeline.replay"),
    **dict.fromkeys(("ProduceReport", "produce_events"), "auditlens.pipeline.streaming"),
    **dict.fromkeys(("StreamControl", "StreamReport", "stream"), "auditlens.pipeline.stream_job"),
    **dict.fromkeys(("RunInProgress", "RunReport", "run"), "auditlens.pipeline.run"),
    "say": "auditlens.i18n",
    **dict.fromkeys(("audit_log", "local_time", "verify_trail"), "auditlens.pipeline.trail"),
    "SETTLE_SECONDS": "auditlens.sources.textfile",
}

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
    "ProduceReport",
    "RaiseReport",
    "Revealed",
    "RunInProgress",
    "RunReport",
    "SampleSummary",
    "ScoreFileReport",
    "StreamControl",
    "StreamReport",
    "TrainReport",
    "audit_log",
    "batch_job",
    "compact_lake",
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
    "produce_events",
    "quarantined",
    "raise_alerts",
    "reidentify_decide",
    "reidentify_list",
    "reidentify_request",
    "reidentify_show",
    "requeue_delivery",
    "run",
    "run_demo",
    "say",
    "score_file",
    "show_alert",
    "source_for_path",
    "sources_to_ingest",
    "stream",
    "train",
    "upgrade_store",
    "utc_now",
    "verify_lake",
    "verify_trail",
]

if not TYPE_CHECKING:
    # Only at run time: under a type checker the imports above define every name, and a
    # module __getattr__ would let misspelt names pass as Any.

    def __getattr__(name: str) -> object:
        """Import the module holding ``name`` on first use and keep the name here."""
        where = _EXPORTS.get(name)
        if where is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        """The exported names, loaded or not."""
        return sorted(set(globals()) | set(__all__))

    class _Package(types.ModuleType):
        """This package, keeping ``run`` the function when its module loads.

        Importing the submodule ``auditlens.pipeline.run`` sets the package's attribute
        ``run`` to that module; the eager imports this file had used to overwrite it with
        the function right after, and so does this.
        """

        def __setattr__(self, name: str, value: object) -> None:
            if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == value.__name__:
                value = getattr(value, name)
            super().__setattr__(name, value)

    sys.modules[__name__].__class__ = _Package
