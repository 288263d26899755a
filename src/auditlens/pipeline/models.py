"""Models under governance as plain functions: `auditlens model list | promote | rollback |
verify | compare`.

Promotion points the registry's ``champion`` alias at a version (the champion before it
becomes ``previous``); it needs the approver role and a principal other than the one who
trained the version (four eyes, principals compared normalised as triage does). Rollback
(approver role) makes ``previous`` the champion again. Each is an audit-trail entry
(``model_promote`` / ``model_rollback``) written after the alias moved: a trail entry
never claims a promotion that did not happen. The store's ``champions`` table gets its
row in the transaction of that entry (views read the model in force from it).

Verify retrains a version from its recorded data fingerprint (the store's batches up to
the one trained on, the lake parts' hashes, the labels file logged with the run) and seed,
and checks the retrained pipeline scores every training window exactly as the registered
one does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from auditlens.config import Settings
from auditlens.fitted import FittedPipeline
from auditlens.identity import Acting, Directory, IdentityError, cli_acting, normalise
from auditlens.pipeline.ingestion import Clock, utc_now
from auditlens.pipeline.learning import fit_trained, labelled_matrix
from auditlens.pipeline.registration import data_fingerprint, file_sha256
from auditlens.registry import CHALLENGER, CHAMPION, PREVIOUS, Registry, RegistryError, Version
from auditlens.store.audit import NewEntry
from auditlens.store.champions import Champion
from auditlens.store.repo import Store
from auditlens.views.shadow import ShadowComparison, shadow_comparison


def list_versions(settings: Settings) -> list[Version]:
    """Every registered version, newest first (none when nothing was trained)."""
    return Registry.open(settings).versions()


def in_force(settings: Settings) -> str | None:
    """The sha256 of the model `auditlens run` scores with, as the store records it — the
    model GET /v1/models and the dashboard mark ``active`` (store/models.py ``in_force``)."""
    with Store.open(settings) as store:
        found = store.models.in_force()
    return None if found is None else found.sha256


def compare(settings: Settings, *, runs: int = 10) -> ShadowComparison:
    """The champion against the challenger over the newest ``runs`` shadow-scored runs
    (views/shadow.py: flagged users, overlap, rank correlation, triage outcomes)."""
    with Store.open(settings) as store:
        return shadow_comparison(store, runs=runs)


def _approver(settings: Settings, who_am_i: Callable[[], str] | None, what: str, ko: str) -> Acting:
    acting = cli_acting(Directory.from_settings(settings), None, who_am_i=who_am_i)
    acting.require("approver", what, ko)
    return acting


def promote(
    settings: Settings,
    number: int,
    *,
    who_am_i: Callable[[], str] | None = None,
    clock: Clock = utc_now,
) -> Version:
    """Make version ``number`` the champion; the champion before it becomes ``previous``.

    Raises:
        IdentityError: not an approver, or the principal who trained the version.
        RegistryError: no such version, or it is the champion already.
    """
    acting = _approver(
        settings, who_am_i, f"promote model version {number}", f"모델 버전 {number} 승격"
    )
    registry = Registry.open(settings)
    version = registry.version(number)
    if version.trainer and normalise(version.trainer) in acting.ids:
        raise IdentityError(
            f"{acting.effective.id} trained model version {number} and may not promote it "
            "(four eyes)",
            hint="another approver must promote it",
            ko=f"{acting.effective.id} 사용자가 모델 버전 {number}을(를) 학습했으므로 직접 "
            "승격할 수 없습니다 (4안 원칙)",
            ko_hint="다른 승인자가 승격해야 합니다",
        )
    before = registry.by_alias(CHAMPION)
    if before is not None and before.number == number:
        raise RegistryError(
            f"model version {number} is the champion already",
            ko=f"모델 버전 {number}은(는) 이미 champion입니다",
        )
    if before is not None:
        registry.set_alias(PREVIOUS, before.number)
    registry.set_alias(CHAMPION, number)
    if CHALLENGER in version.aliases:
        registry.drop_alias(CHALLENGER)
    promoted = registry.version(number)
    _trail(settings, acting, "model_promote", promoted, before, clock)
    return promoted


def rollback(
    settings: Settings, *, who_am_i: Callable[[], str] | None = None, clock: Clock = utc_now
) -> Version:
    """Make the ``previous`` version the champion again (the alias ``previous`` is then
    cleared: a second rollback needs another promotion first).

    Raises:
        IdentityError: not an approver.
        RegistryError: no previous champion to go back to.
    """
    acting = _approver(settings, who_am_i, "roll back the champion model", "champion 모델 되돌리기")
    registry = Registry.open(settings)
    back = registry.by_alias(PREVIOUS)
    if back is None:
        raise RegistryError(
            "no previous champion to roll back to",
            hint="rollback undoes the last `auditlens model promote`",
            ko="되돌릴 이전 champion이 없습니다",
            ko_hint="rollback은 마지막 `auditlens model promote`를 되돌립니다",
        )
    before = registry.by_alias(CHAMPION)
    registry.set_alias(CHAMPION, back.number)
    registry.drop_alias(PREVIOUS)
    restored = registry.version(back.number)
    _trail(settings, acting, "model_rollback", restored, before, clock)
    return restored


def _trail(
    settings: Settings,
    acting: Acting,
    action: str,
    version: Version,
    before: Version | None,
    clock: Clock,
) -> None:
    entry = NewEntry(
        actor=acting.actor.id,
        action=action,
        target=f"model:{version.number}",
        reason_code=action,
        criteria={
            "version": version.number,
            "sha256": version.sha256,
            "trainer": version.trainer,
            "replaced_version": None if before is None else before.number,
            "replaced_sha256": None if before is None else before.sha256,
        },
    )
    now = clock()
    with Store.open(settings) as store, store.engine.begin() as conn:
        store.champions.within(conn).record(
            Champion(
                model_version=version.number,
                model_sha256=version.sha256,
                action=action.removeprefix("model_"),
                actor=acting.actor.id,
                at=now,
            )
        )
        store.trail.append(conn, entry, now)


@dataclass(frozen=True)
class Verification:
    """What `auditlens model verify` found: windows compared, the largest difference."""

    version: Version
    windows: int
    max_difference: float

    @property
    def identical(self) -> bool:
        """True when every window scored exactly the same."""
        return self.max_difference == 0.0


def verify(settings: Settings, number: int, *, clock: Clock = utc_now) -> Verification:
    """Retrain version ``number`` from its data fingerprint and seed; compare its scores
    of every training window with the registered pipeline's.

    Raises:
        RegistryError: the data or labels changed since, the version was trained on
            ``--input`` files (no fingerprint in the store), or its file is missing.
    """
    registry = Registry.open(settings)
    version = registry.version(number)
    recorded = registry.fingerprint(version)
    labels = registry.labels(version)
    if recorded.get("batch_id") is None:
        raise RegistryError(
            f"model version {number} was trained on --input files, not the store's batches: "
            "there is no recorded data to retrain from",
            ko=f"모델 버전 {number}은(는) 저장소 배치가 아닌 --input 파일로 학습되어 다시 "
            "학습할 기록된 데이터가 없습니다",
        )
    again = settings.model_copy(update={"model_seed": int(recorded["seed"])})
    with Store.open(again) as store:
        now = data_fingerprint(store, again, int(recorded["batch_id"]), labels)
        record = store.models.by_sha(version.sha256)
    _same_data(number, recorded, now, labels)
    if record is None or not Path(record.path).exists():
        raise RegistryError(
            f"the file of model version {number} ({version.sha256[:12]}) is not in this store",
            ko=f"모델 버전 {number}의 파일({version.sha256[:12]})이 이 저장소에 없습니다",
        )
    registered = FittedPipeline.load(Path(record.path), record.sha256)
    data = labelled_matrix(again, labels, inputs=None, clock=clock, upto=int(recorded["batch_id"]))
    n_folds = int(json.loads(version.params.get("n_folds", "3")))
    *_, retrained = fit_trained(data, n_folds, again.model_seed)
    old_raw, old_surprise = registered.score(data.frame)
    new_raw, new_surprise = retrained.score(data.frame)
    gap = max(_gap(old_raw, new_raw), _gap(old_surprise, new_surprise))
    return Verification(version, data.frame.height, gap)


def _gap(a: Any, b: Any) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b), initial=0.0))


def _same_data(number: int, recorded: dict[str, Any], now: dict[str, Any], labels: Path) -> None:
    """Raise RegistryError naming what changed since version ``number`` was trained."""
    if file_sha256(labels) != recorded["labels_sha256"]:
        raise RegistryError(
            f"the labels logged with model version {number} changed (sha256 differs)",
            ko=f"모델 버전 {number}과(와) 함께 기록된 라벨 파일이 바뀌었습니다 (sha256 불일치)",
        )
    changed = [
        str(b["id"]) for b, c in zip(recorded["batches"], now["batches"], strict=False) if b != c
    ]
    if changed or len(recorded["batches"]) != len(now["batches"]):
        which = ", ".join(changed) or "count"
        raise RegistryError(
            f"the data model version {number} was trained on changed (batches: {which}); "
            "it cannot be retrained as it was",
            hint="`auditlens audit verify` checks every lake part against its recorded hash",
            ko=f"모델 버전 {number}이(가) 학습한 데이터가 바뀌었습니다 (배치: {which}). "
            "같은 조건으로 다시 학습할 수 없습니다",
            ko_hint="`auditlens audit verify`로 레이크 파일을 기록된 해시와 대조하십시오",
        )
