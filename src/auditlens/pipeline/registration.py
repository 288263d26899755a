"""What `auditlens train` records in the model registry, and the champion `run` scores
with.

The data fingerprint of a training is what `auditlens model verify` retrains from: the
store's committed batches up to the one trained on (id, source, lake part and the part's
sha256), each source's watermark after that batch, the labels file's sha256, the seed and
the configuration hash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import polars as pl

from auditlens import identity
from auditlens.config import Settings
from auditlens.errors import AuditlensError
from auditlens.registry import CHAMPION, Registry, TrainingRun, Version, exists
from auditlens.store.champions import Champion
from auditlens.store.models import ModelRecord
from auditlens.store.repo import Store


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_fingerprint(
    store: Store, settings: Settings, batch_id: int | None, labels: Path
) -> dict[str, Any]:
    """The batches, their lake parts' hashes and the watermarks a training read (none
    when it read ``--input`` files: then only the labels, seed and configuration)."""
    batches: list[dict[str, Any]] = []
    watermarks: dict[str, str] = {}
    if batch_id is not None:
        rows = store.events.batches().filter(pl.col("id") <= batch_id)
        moved = {r["batch_id"]: r for r in store.events.segments().iter_rows(named=True)}
        hashes: dict[str, str | None] = {}  # a compacted part is read once
        for row in rows.iter_rows(named=True):
            part, segment = row["lake_part"], moved.get(row["id"])
            if segment is not None:  # its events now are rows of a compacted part
                part = segment["part"]
            if part is not None and part not in hashes:
                hashes[part] = store.events.lake.sha256(part)
            entry = {
                "id": row["id"],
                "source": row["source"],
                "lake_part": part,
                "sha256": None if part is None else hashes[part],
            }
            if segment is not None:
                entry["rows"] = [segment["first_row"], segment["rows"]]
                entry["ingested_part"] = row["lake_part"]
            batches.append(entry)
            watermarks[row["source"]] = row["watermark_after"]
    return {
        "batch_id": batch_id,
        "batches": batches,
        "watermarks": watermarks,
        "labels_sha256": file_sha256(labels),
        "seed": settings.model_seed,
        "config_hash": settings.fingerprint(),
    }


def register_training(
    settings: Settings,
    record: ModelRecord,
    *,
    params: dict[str, Any],
    metrics: dict[str, float],
    files: list[Path],
    fingerprint: dict[str, Any],
    labels: Path,
    trainer: str | None = None,
) -> Version:
    """Log the training as an MLflow run and register ``record``'s file as a version
    (the first becomes champion: the store's ``champions`` records it too)."""
    run = TrainingRun(
        params=params,
        metrics=metrics,
        files=files,
        fingerprint=fingerprint,
        labels=labels,
        model_path=Path(record.path),
        sha256=record.sha256,
        trainer=identity.normalise(trainer or identity.os_user()),
    )
    version = Registry.open(settings).log_training(run)
    if CHAMPION in version.aliases:  # the registry's first version: the store records it
        with Store.open(settings) as store:
            store.champions.record(
                Champion(
                    model_version=version.number,
                    model_sha256=version.sha256,
                    action="train",
                    actor=run.trainer,
                    at=version.created_at,
                )
            )
    return version


def champion(store: Store, settings: Settings) -> tuple[Version, ModelRecord] | None:
    """The registry's champion and the store's record of its file, if a champion exists.

    Raises:
        AuditlensError: the champion's file is not one the store knows (another store's
            registry, or a changed file).
    """
    if not exists(settings):
        return None
    version = Registry.open(settings).by_alias(CHAMPION)
    if version is None:
        return None
    record = store.models.by_sha(version.sha256)
    if record is None:
        raise AuditlensError(
            f"the registry's champion (version {version.number}, sha256 "
            f"{version.sha256[:12]}) is not a model this store registered",
            hint="check mlflow_tracking_uri and data_dir point at the same deployment",
            ko=f"레지스트리의 champion(버전 {version.number}, sha256 {version.sha256[:12]})은 "
            "이 저장소가 등록한 모델이 아닙니다",
            ko_hint="mlflow_tracking_uri와 data_dir가 같은 배포를 가리키는지 확인하십시오",
        )
    return version, record
