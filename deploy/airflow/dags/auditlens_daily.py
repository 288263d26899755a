"""The auditlens DAGs (docs/deploy.md): the daily job, and the weekly and monthly reports.

``auditlens_daily`` (02:00 Asia/Seoul)::

    ingest.<source> (one per configured source, in parallel)
        -> lake_compact -> run -> alerts_dispatch -> monitor.textfile, monitor.drift
                               -> report_send (e-mails the digests on their scheduled day)

``auditlens_weekly_report`` (Monday 06:00) and ``auditlens_monthly_report`` (the 1st,
06:00) build the last finished week's / month's workbook and deck.

Every task runs an auditlens CLI command in the worker's environment (``AUDITLENS_CONFIG``
names the configuration; the store URL and secrets come from ``AUDITLENS_*`` variables,
never from this file). Each source is its own task so that a source that fails or
quarantines rows fails and retries alone (the store still writes one ingestion at a time:
a task that waits too long for it exits 6 and is retried); ``lake_compact`` then merges
the small lake parts the day left (a Kafka drain writes one per batch; every part is
checked against its ingestion hash first, and a changed one fails the task: it pages,
and ``audit verify`` names it); ``run`` goes ahead when some ingest or the compaction
failed (``all_done``) and reads every configured source itself. A failed task
raises an operational alert through Alertmanager, and a run not finished four hours after
it was queued raises another (auditlens_ops.py).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, DeadlineAlert, DeadlineReference, SyncCallback, TaskGroup
from auditlens_ops import (
    auditlens,
    configured_sources,
    deadline_hours,
    on_task_failure,
    retries,
    workdir,
)

SEOUL = pendulum.timezone("Asia/Seoul")
START = pendulum.datetime(2026, 1, 1, tz=SEOUL)
#: The daily run must be done this long after it was queued, or it pages.
DAILY_DEADLINE = dt.timedelta(hours=deadline_hours())

DEFAULTS = {
    "owner": "audit-ops",
    "retries": retries(),
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "execution_timeout": dt.timedelta(hours=1),
    "on_failure_callback": on_task_failure,
    "cwd": workdir(),  # relative paths in the configuration resolve here
}

with DAG(
    dag_id="auditlens_daily",
    description="auditlens: ingest every source, score, dispatch alerts, monitor",
    schedule="0 2 * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,  # one run per store at a time anyway (`auditlens run` exits 6)
    default_args=DEFAULTS,
    tags=["auditlens"],
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=DAILY_DEADLINE,
        callback=SyncCallback(
            "auditlens_ops.on_deadline_missed",
            kwargs={"dag_id": "auditlens_daily", "within": str(DAILY_DEADLINE)},
        ),
    )
    if DAILY_DEADLINE
    else None,
) as daily:
    with TaskGroup("ingest", tooltip="one task per configured source") as ingest:
        for source in configured_sources():
            BashOperator(
                task_id=source,
                bash_command=auditlens("ingest", "--source", source),
                execution_timeout=dt.timedelta(hours=2),
            )
    compact = BashOperator(
        task_id="lake_compact",
        bash_command=auditlens("db", "compact"),
        trigger_rule="all_done",  # after every ingest task, whether or not it succeeded
        execution_timeout=dt.timedelta(hours=1),
    )
    run = BashOperator(
        task_id="run",
        # the ingest tasks reported their quarantine already (exit 3 fails them)
        bash_command=auditlens("run", "--wait", "600", "--allow-quarantine"),
        trigger_rule="all_done",
        execution_timeout=dt.timedelta(hours=3),
    )
    dispatch = BashOperator(
        task_id="alerts_dispatch",
        bash_command=auditlens("alerts", "dispatch"),
        execution_timeout=dt.timedelta(minutes=30),
    )
    with TaskGroup("monitor", tooltip="metrics file and drift check") as monitor:
        BashOperator(
            task_id="textfile",
            # node_exporter's textfile collector reads it (docs/monitoring.md)
            bash_command=auditlens("monitor", "textfile")
            + ' "${AUDITLENS_METRICS_TEXTFILE:-/var/lib/node_exporter/textfile/auditlens.prom}"',
            execution_timeout=dt.timedelta(minutes=15),
        )
        BashOperator(
            task_id="drift",
            # exit 4 on drift: the task fails and warns (it is a finding, not a crash)
            bash_command=auditlens("monitor", "drift", "--fail-on-drift"),
            retries=0,
            execution_timeout=dt.timedelta(minutes=15),
        )
    send = BashOperator(
        task_id="report_send",
        bash_command=auditlens("report", "send", "--due"),
        execution_timeout=dt.timedelta(minutes=30),
    )
    if ingest.children:  # an empty group would make `>>` see a cycle
        ingest >> compact
    compact >> run >> dispatch >> monitor
    run >> send


def _report_dag(kind: str, schedule: str) -> DAG:
    """The DAG building the last finished ``kind`` report (XLSX + PPTX) into REPORTS_DIR."""
    with DAG(
        dag_id=f"auditlens_{kind}_report",
        description=f"auditlens: the {kind} report of the last finished period",
        schedule=schedule,
        start_date=START,
        catchup=False,
        default_args=DEFAULTS,
        tags=["auditlens", "report"],
    ) as dag:
        BashOperator(
            task_id=f"report_{kind}",
            bash_command=auditlens("report", kind, "--format", "xlsx,pptx")
            + ' --out "${AUDITLENS_REPORTS_DIR:-reports}"',
        )
    return dag


weekly = _report_dag("weekly", "0 6 * * 1")
monthly = _report_dag("monthly", "0 6 1 * *")
