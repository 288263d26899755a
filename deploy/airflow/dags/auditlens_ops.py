"""Helpers of the auditlens DAGs (docs/deploy.md): which sources to ingest, how a task
calls the auditlens CLI, and the failure and deadline callbacks.

Standard library only: this module is imported when the scheduler parses the DAG folder
(so it must be cheap) and by the callbacks, which Airflow finds by import path (the DAG
folder is on ``sys.path``; ``.airflowignore`` keeps the parser from treating it as a DAG
file). It never imports auditlens, which lives in its own environment or image.

Configuration, all by environment (the worker's, or the pod's in Kubernetes):

- ``AUDITLENS_CONFIG``: the auditlens configuration file (default ``auditlens.toml``);
  its ``[sources.NAME]`` tables name the per-source ingest tasks.
- ``AUDITLENS_DAG_SOURCES``: comma-separated source names, instead of reading the file.
- ``AUDITLENS_BIN``: the auditlens command (default ``auditlens``), e.g.
  ``/opt/auditlens/.venv/bin/auditlens``.
- ``AUDITLENS_WORKDIR``: the directory the commands run in, against which relative paths
  of the configuration (``var/``, catalogs, file sources) resolve; default: the directory
  of ``AUDITLENS_CONFIG`` when it is set (otherwise Airflow's temporary directory).
- ``AUDITLENS_DAG_RETRIES``: retries of every task (default 2; 0 for ``airflow dags test``).
- ``AUDITLENS_DAG_DEADLINE_HOURS``: the daily run's deadline after it was queued (default
  4; 0: none — for ``airflow dags test``, which Airflow 3.3.2 fails on a DAG with a
  deadline after every task succeeded: apache/airflow#73428).
- ``AUDITLENS_ALERTMANAGER_URL``: where failures and missed deadlines are raised as
  alerts (``http://alertmanager:9093``), routed like every auditlens operational alert by
  deploy/alertmanager/alertmanager.yml.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shlex
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: A source name that may become part of a task id and a shell word.
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
#: Tasks whose failure means no scores today: these page (critical); others warn.
CRITICAL_TASKS = frozenset({"run", "alerts_dispatch"})
ALERT_NAME = "AuditlensAirflowTaskFailed"
DEADLINE_ALERT_NAME = "AuditlensAirflowDeadlineMissed"


def configured_sources() -> list[str]:
    """The source names to ingest, from ``AUDITLENS_DAG_SOURCES`` or the config file.

    Reading the TOML file costs a millisecond; a missing or unreadable file gives no
    ingest tasks (``auditlens run`` still ingests every configured source itself).
    """
    listed = os.environ.get("AUDITLENS_DAG_SOURCES")
    if listed is not None:
        names = [name.strip() for name in listed.split(",") if name.strip()]
    else:
        path = Path(os.environ.get("AUDITLENS_CONFIG", "auditlens.toml"))
        try:
            with path.open("rb") as handle:
                names = sorted(tomllib.load(handle).get("sources", {}))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            log.warning("auditlens sources not read from %s: %s", path, exc)
            return []
    bad = [name for name in names if not _NAME.match(name)]
    if bad:
        raise ValueError(f"source names must match {_NAME.pattern}: {bad}")
    return names


def workdir() -> str | None:
    """Where the tasks run: ``AUDITLENS_WORKDIR``, or the configuration file's directory."""
    explicit = os.environ.get("AUDITLENS_WORKDIR")
    if explicit:
        return explicit
    config = os.environ.get("AUDITLENS_CONFIG")
    return str(Path(config).resolve().parent) if config else None


def retries() -> int:
    """Retries of every task: ``AUDITLENS_DAG_RETRIES`` (default 2)."""
    return int(os.environ.get("AUDITLENS_DAG_RETRIES", "2"))


def deadline_hours() -> float:
    """The daily run's deadline in hours: ``AUDITLENS_DAG_DEADLINE_HOURS`` (default 4)."""
    return float(os.environ.get("AUDITLENS_DAG_DEADLINE_HOURS", "4"))


def auditlens(*args: str) -> str:
    """The shell command running ``auditlens ARGS`` (``AUDITLENS_BIN`` or ``auditlens``)."""
    binary = os.environ.get("AUDITLENS_BIN", "auditlens")
    return " ".join(shlex.quote(word) for word in (binary, *args))


def _post_alert(labels: dict[str, str], annotations: dict[str, str]) -> bool:
    """POST one alert to Alertmanager's v2 API; False (logged) when none is configured."""
    base = os.environ.get("AUDITLENS_ALERTMANAGER_URL", "").rstrip("/")
    if not base:
        log.error("AUDITLENS_ALERTMANAGER_URL is not set: alert %s only logged", labels)
        return False
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"AUDITLENS_ALERTMANAGER_URL must be http(s): {base!r}")
    now = dt.datetime.now(dt.UTC)
    body = [
        {
            "labels": labels,
            "annotations": annotations,
            "startsAt": now.isoformat(),
            # a failure is a fact, not a state that resolves: it stays up for a day
            "endsAt": (now + dt.timedelta(hours=24)).isoformat(),
        }
    ]
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        f"{base}/api/v2/alerts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return 200 <= int(response.status) < 300
    except OSError as exc:
        # a callback must not raise: the task's own failure is what Airflow records
        log.error("alert %s not delivered to %s: %s", labels, base, exc)
        return False


def on_task_failure(context: dict[str, Any]) -> bool:
    """``on_failure_callback`` of every auditlens task: raise an operational alert.

    Critical (pages) for ``run`` and ``alerts_dispatch``, warning for the others. The
    alert names DAG, task, run and try; the task log has the auditlens error itself.
    """
    ti = context.get("task_instance") or context.get("ti")
    dag_id = str(getattr(ti, "dag_id", context.get("dag_id", "?")))
    task_id = str(getattr(ti, "task_id", "?"))
    run_id = str(getattr(ti, "run_id", context.get("run_id", "?")))
    try_number = str(getattr(ti, "try_number", "?"))
    base_task = task_id.rsplit(".", 1)[-1]
    severity = "critical" if base_task in CRITICAL_TASKS else "warning"
    error = context.get("exception")
    return _post_alert(
        {
            "alertname": ALERT_NAME,
            "severity": severity,
            "dag_id": dag_id,
            "task_id": task_id,
        },
        {
            "summary": f"auditlens task {dag_id}.{task_id} failed (run {run_id}, try {try_number})",
            "summary_ko": f"auditlens 작업 {dag_id}.{task_id}이(가) 실패했습니다"
            f"(실행 {run_id}, 시도 {try_number})",
            "description": f"{type(error).__name__ if error else 'failure'}: see the task log.",
            "description_ko": "작업 로그에서 auditlens 오류를 확인하십시오.",
        },
    )


def on_deadline_missed(dag_id: str = "?", within: str = "?", **_: Any) -> bool:
    """The DAG's deadline callback: the daily run did not finish in time (critical)."""
    return _post_alert(
        {"alertname": DEADLINE_ALERT_NAME, "severity": "critical", "dag_id": dag_id},
        {
            "summary": f"auditlens DAG {dag_id} did not finish within {within}",
            "summary_ko": f"auditlens DAG {dag_id}이(가) {within} 안에 끝나지 않았습니다",
        },
    )
