"""Import the DAG folder as Airflow's scheduler does and print what it found, as JSON.

Run with the Airflow environment's Python (``make airflow-venv``)::

    AIRFLOW_HOME=$(mktemp -d) .venv-airflow/bin/python deploy/airflow/check_dags.py

Prints, as its last line, one JSON object: ``import_errors`` (file: error), ``dags``
(dag_id: task_id: downstream ids), ``deadlines``, ``timeouts``, ``retries`` and
``commands`` per task; exit 1 when a file failed to import (tests/deploy/test_airflow.py
checks the graph).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

DAGS = Path(__file__).resolve().parent / "dags"


def main() -> int:
    """Load the DagBag of deploy/airflow/dags and print it."""
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
    sys.path.insert(0, str(DAGS))
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    found = {
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "dags": {
            dag_id: {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
            for dag_id, dag in sorted(bag.dags.items())
        },
        "deadlines": {dag_id: len(dag.deadline or []) for dag_id, dag in bag.dags.items()},
        "timeouts": {
            dag_id: {
                t.task_id: t.execution_timeout.total_seconds() if t.execution_timeout else None
                for t in dag.tasks
            }
            for dag_id, dag in bag.dags.items()
        },
        "retries": {
            dag_id: {t.task_id: t.retries for t in dag.tasks} for dag_id, dag in bag.dags.items()
        },
        "commands": {
            dag_id: {t.task_id: getattr(t, "bash_command", None) for t in dag.tasks}
            for dag_id, dag in bag.dags.items()
        },
    }
    sys.stdout.flush()
    print(json.dumps(found, sort_keys=True))  # one line, the last (Airflow logs to stdout)
    return 1 if bag.import_errors else 0


if __name__ == "__main__":
    sys.exit(main())
