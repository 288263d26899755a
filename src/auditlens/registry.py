"""MLflow tracking and model registry: every trained model is a run and a version.

Embedded by default: tracking and registry in ``sqlite:///<data_dir>/mlflow.db``, artifacts
under ``<data_dir>/mlartifacts`` (no server, no network); ``mlflow_tracking_uri`` points
at a team's server instead. MLflow is imported only when a registry is opened (it takes
seconds), and its usage telemetry is switched off.

A version's source is the saved fitted pipeline (the joblib file the store's ``models``
table records); its ``sha256`` tag is that file's hash, so the registry and the store
agree on which file a version is. Aliases: ``champion`` (what ``auditlens run`` scores
with), ``challenger`` (the newest version not yet promoted) and ``previous`` (the champion
before the last promotion, for ``auditlens model rollback``).

Example::

    registry = Registry.open(settings)
    champion = registry.by_alias(CHAMPION)  # Version(number=1, sha256=..., ...) or None
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from auditlens.config import Settings
from auditlens.errors import AuditlensError

#: Name of the experiment runs are logged in and of the registered model.
NAME: Final = "auditlens"
CHAMPION: Final = "champion"
CHALLENGER: Final = "challenger"
PREVIOUS: Final = "previous"
#: Run tags auditlens writes.
TRAINER_TAG: Final = "auditlens.trainer"
SHA_TAG: Final = "sha256"
#: Where a version's data fingerprint and labels sit among its run's artifacts.
FINGERPRINT_FILE: Final = "fingerprint.json"
LABELS_DIR: Final = "labels"


class RegistryError(AuditlensError):
    """The model registry cannot do what was asked."""


def tracking_uri(settings: Settings) -> str:
    """The configured tracking URI, else the embedded sqlite file under ``data_dir``."""
    if settings.mlflow_tracking_uri.strip():
        return settings.mlflow_tracking_uri.strip()
    return f"sqlite:///{embedded_db(settings)}"


def embedded_db(settings: Settings) -> Path:
    """The embedded registry's database file."""
    return settings.data_dir.resolve() / "mlflow.db"


def exists(settings: Settings) -> bool:
    """True when a registry may hold versions (a server is configured, or the embedded
    file exists): lets `auditlens run` skip importing MLflow when nothing was trained."""
    return bool(settings.mlflow_tracking_uri.strip()) or embedded_db(settings).exists()


@dataclass(frozen=True)
class Version:
    """A registered version of the fitted pipeline."""

    number: int
    sha256: str
    aliases: list[str]
    run_id: str
    trainer: str
    created_at: dt.datetime
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingRun:
    """What `auditlens train` logs: parameters, cross-validated metrics, files (reports,
    charts), the data fingerprint, the saved model and who trained it."""

    params: dict[str, Any]
    metrics: dict[str, float]
    files: list[Path]
    fingerprint: dict[str, Any]
    labels: Path
    model_path: Path
    sha256: str
    trainer: str


class Registry:
    """The MLflow tracking store and model registry of a deployment."""

    def __init__(self, client: Any, uri: str, artifacts: str) -> None:
        self._client = client
        self._uri = uri
        self._artifacts = artifacts

    @classmethod
    def open(cls, settings: Settings) -> Registry:
        """Connect (creating the embedded database on first use)."""
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("DO_NOT_TRACK", "true")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from mlflow import MlflowClient

        # its INFO lines (creating the database tables ...) are not the user's business
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)

        uri = tracking_uri(settings)
        if not settings.mlflow_tracking_uri.strip():
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        artifacts = (settings.data_dir.resolve() / "mlartifacts").as_uri()
        return cls(MlflowClient(tracking_uri=uri, registry_uri=uri), uri, artifacts)

    def _experiment(self) -> str:
        found = self._client.get_experiment_by_name(NAME)
        if found is not None:
            return str(found.experiment_id)
        return str(self._client.create_experiment(NAME, artifact_location=self._artifacts))

    def log_training(self, run: TrainingRun) -> Version:
        """Log ``run`` and register its model as a new version; the first version becomes
        ``champion``, a later one ``challenger``."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        client = self._client
        created = client.create_run(self._experiment(), tags={TRAINER_TAG: run.trainer})
        run_id = created.info.run_id
        for key, value in sorted(run.params.items()):
            client.log_param(run_id, key, json.dumps(value, sort_keys=True, default=str))
        for key, number in sorted(run.metrics.items()):
            client.log_metric(run_id, key, number)
        for path in run.files:
            client.log_artifact(run_id, str(path), "reports")
        client.log_artifact(run_id, str(run.labels), LABELS_DIR)
        client.log_dict(run_id, run.fingerprint, FINGERPRINT_FILE)
        digest = _digest(run.fingerprint)
        dataset = Dataset(
            name="lake",
            digest=digest,
            source_type="auditlens_lake",
            source=json.dumps({"store_batches": run.fingerprint.get("batches", [])}),
            profile=json.dumps(run.fingerprint, sort_keys=True, default=str),
        )
        client.log_inputs(
            run_id, datasets=[DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])]
        )
        client.log_artifact(run_id, str(run.model_path), "model")
        client.set_terminated(run_id)
        if client.search_registered_models(f"name = '{NAME}'") == []:
            client.create_registered_model(NAME)
        source = f"{created.info.artifact_uri}/model/{run.model_path.name}"
        made = client.create_model_version(
            NAME, source=source, run_id=run_id, tags={SHA_TAG: run.sha256}
        )
        alias = CHAMPION if self.by_alias(CHAMPION) is None else CHALLENGER
        client.set_registered_model_alias(NAME, alias, made.version)
        return self.version(int(made.version))

    def versions(self) -> list[Version]:
        """Every registered version, newest first."""
        if self._client.search_registered_models(f"name = '{NAME}'") == []:
            return []
        found = self._client.search_model_versions(f"name = '{NAME}'")
        numbers = sorted((int(v.version) for v in found), reverse=True)
        return [self.version(n) for n in numbers]

    def version(self, number: int) -> Version:
        """Version ``number``.

        Raises:
            RegistryError: no such version.
        """
        from mlflow.exceptions import MlflowException

        try:
            found = self._client.get_model_version(NAME, str(number))
        except MlflowException:
            raise RegistryError(
                f"model version {number} is not registered",
                hint="see `auditlens model list`",
                ko=f"모델 버전 {number}은(는) 등록되어 있지 않습니다",
                ko_hint="`auditlens model list`로 확인하십시오",
            ) from None
        run = self._client.get_run(found.run_id)
        return Version(
            number=int(found.version),
            sha256=str(found.tags.get(SHA_TAG, "")),
            aliases=sorted(found.aliases),
            run_id=str(found.run_id),
            trainer=str(run.data.tags.get(TRAINER_TAG, "")),
            created_at=dt.datetime.fromtimestamp(found.creation_timestamp / 1000, dt.UTC),
            metrics={k: float(v) for k, v in run.data.metrics.items()},
            params=dict(run.data.params),
        )

    def by_alias(self, alias: str) -> Version | None:
        """The version ``alias`` points at, if any."""
        from mlflow.exceptions import MlflowException

        try:
            found = self._client.get_model_version_by_alias(NAME, alias)
        except MlflowException:
            return None
        return self.version(int(found.version))

    def set_alias(self, alias: str, number: int) -> None:
        """Point ``alias`` at version ``number``."""
        self._client.set_registered_model_alias(NAME, alias, str(number))

    def drop_alias(self, alias: str) -> None:
        """Remove ``alias`` (nothing happens when it is not set)."""
        if self.by_alias(alias) is not None:
            self._client.delete_registered_model_alias(NAME, alias)

    def fingerprint(self, version: Version) -> dict[str, Any]:
        """The data fingerprint logged with ``version``'s run."""
        loaded: dict[str, Any] = json.loads(self._download(version, FINGERPRINT_FILE).read_text())
        return loaded

    def labels(self, version: Version) -> Path:
        """A local copy of the labels file ``version`` was trained on."""
        return next(self._download(version, LABELS_DIR).iterdir())

    def _download(self, version: Version, path: str) -> Path:
        from mlflow.artifacts import download_artifacts

        local = download_artifacts(
            run_id=version.run_id,
            artifact_path=path,
            tracking_uri=self._uri,
        )
        return Path(local)


def _digest(fingerprint: dict[str, Any]) -> str:
    text = json.dumps(fingerprint, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
