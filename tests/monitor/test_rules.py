"""deploy/: the alert rules pass their promtool unit tests and use only metrics auditlens
exports; the example Prometheus and Alertmanager configurations pass ``promtool check
config`` and ``amtool check-config``; the routing sends critical alerts to the pager and
warnings to the team.

promtool and amtool come from Debian's ``prometheus`` and ``prometheus-alertmanager``
packages (.ci/run installs them); without them these tests are skipped, saying so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditlens.pipeline.stream_metrics import StreamMetrics
from tests.monitor.test_metrics import STORE_FAMILIES, TRAIL_FAMILIES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
API_FAMILIES = {
    "auditlens_api_requests_total",
    "auditlens_api_request_duration_seconds_bucket",
    "auditlens_api_request_duration_seconds_count",
    "auditlens_api_request_duration_seconds_sum",
}


def tool(name: str) -> str:
    """The path of ``name``, or skip the test saying which package brings it."""
    found = shutil.which(name)
    if found is None:
        package = "prometheus-alertmanager" if name == "amtool" else "prometheus"
        pytest.skip(f"{name} is not installed (apt-get install {package}; .ci/run does)")
    return found


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of rules.yml."""
    loaded = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in loaded["groups"] for rule in group["rules"] if "alert" in rule]


def test_the_rules_pass_their_unit_tests() -> None:
    promtool = tool("promtool")
    checked = _run(promtool, "check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _run(promtool, "test", "rules", str(DEPLOY / "prometheus" / "rules_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_rule_is_unit_tested_and_says_what_to_do_in_both_languages() -> None:
    tests = yaml.safe_load((DEPLOY / "prometheus" / "rules_test.yml").read_text("utf-8"))
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))
    assert set(names) == fired, "a rule without a test that makes it fire"
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        notes = rule["annotations"]
        assert set(notes) == {"summary", "summary_ko", "description", "description_ko"}
        for key in ("summary_ko", "description_ko"):
            assert re.search("[가-힣]", notes[key]), (rule["alert"], key)


def _stream_families() -> set[str]:
    """The sample names `auditlens stream run --metrics-port` serves (its registry)."""
    metrics = StreamMetrics("bus")
    metrics.batch(1, 0, 0)
    return {s.name for family in metrics.registry.collect() for s in family.samples}


def test_the_rules_use_only_metrics_auditlens_exports() -> None:
    exported = STORE_FAMILIES | TRAIL_FAMILIES | API_FAMILIES | _stream_families() | {"up"}
    used: set[str] = set()
    for rule in alert_rules():
        used |= set(re.findall(r"\b(auditlens_[a-z_]+|up)\b(?=\{|\)|\s|\[)", rule["expr"]))
    assert used, "no metric found in the rules"
    assert used <= exported, f"unknown metrics: {sorted(used - exported)}"
    # drift is alerted on (issue 16)
    assert {"auditlens_drift_features_drifted", "auditlens_drift_drifted"} <= used
    # and the stream's lag and latency (issue 19)
    assert {
        "auditlens_stream_lag_messages",
        "auditlens_stream_event_latency_seconds_bucket",
    } <= used


def test_the_example_prometheus_configuration_checks(tmp_path: Path) -> None:
    promtool = tool("promtool")
    key = tmp_path / "auditlens.key"
    key.write_text("alk_example\n")
    text = (DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    assert "/etc/prometheus/auditlens.key" in text
    (tmp_path / "prometheus.yml").write_text(
        text.replace("/etc/prometheus/auditlens.key", str(key))
    )
    shutil.copy(RULES, tmp_path / "rules.yml")
    checked = _run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load(text)
    api = next(job for job in config["scrape_configs"] if job["job_name"] == "auditlens-api")
    assert api["authorization"]["type"] == "Bearer" and api["metrics_path"] == "/metrics"


def test_the_example_alertmanager_configuration_checks() -> None:
    amtool = tool("amtool")
    config = DEPLOY / "alertmanager" / "alertmanager.yml"
    checked = _run(amtool, "check-config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ("alertname=AuditlensDeadLetters severity=critical", "pager"),
        ("alertname=AuditlensApiSlow severity=warning", "team"),
        ("alertname=Unlabelled", "team"),
    ],
)
def test_alertmanager_routes_by_severity(labels: str, receiver: str) -> None:
    amtool = tool("amtool")
    config = DEPLOY / "alertmanager" / "alertmanager.yml"
    routed = _run(amtool, "config", "routes", "test", "--config.file", str(config), *labels.split())
    assert routed.returncode == 0, routed.stdout + routed.stderr
    assert routed.stdout.split() == [receiver]
