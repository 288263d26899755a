"""The fitted pipeline: fitted feature sets + detector + risk calibration, as one unit.

It is what ``auditlens run`` and ``auditlens train`` save, what the store records by
the sha256 of the saved file, and what every run and ``auditlens explain`` score through:
loading it builds the same features and the same scores on the same events (replayable
evidence), and scores events it was not fitted on with what it learned.

Fitting takes two steps because the rows the detector learns from are chosen on the
training matrix (windows past warm-up, labelled windows)::

    features = MatrixBuilder()
    matrix = features.fit_transform(events, ctx)
    pipeline = FittedPipeline(features, detector).fit(rows_of(matrix.frame))
    sha = pipeline.save(path)

Fitting also keeps a compact **training reference** (:class:`TrainingReference`: a
seeded sample of at most 5,000 training rows' features and their risk) that drift is
measured against (monitor/drift.py). An artefact saved before it has none
(:meth:`FittedPipeline.reference` is None): drift is then not measured.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.detect.base import Detector, ModelError, load_artifact, save_artifact
from auditlens.features.base import FeatureContext, NotFitted
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder, default_sets
from auditlens.features.sequences import SequenceFeatures
from auditlens.scoring import SEVERITY_CUTOFFS, RiskModel, risk_from_surprise

#: Training rows kept in the reference at most (a seeded sample beyond that).
REFERENCE_ROWS: Final = 5_000

#: Version of the saved artefact: 1 was a bare RiskModel carrying its sequence model.
ARTEFACT_FORMAT: Final = 2

#: What an unreadable artefact tells the user to do.
_REFIT: Final = (
    "fit a new model with `auditlens run --refit` "
    "(a trained ensemble: `auditlens train --labels FILE`)"
)
_REFIT_KO: Final = (
    "`auditlens run --refit`로 새 모델을 학습하십시오 "
    "(학습된 앙상블이면 `auditlens train --labels 파일`)"
)


@dataclass(frozen=True)
class TrainingReference:
    """What drift is measured against: a seeded sample of the training rows.

    ``values`` holds the sampled rows' features (one column per ``columns``, float64;
    NaN where a value was missing), ``risk`` their risk 0-100 (before decay) as the
    fitted pipeline scores them, ``risk_at_or_above`` the share of the sampled rows at
    or above each severity band's lower bound (``medium``, ``high``, ``critical``: the
    alert lines), ``n_train`` how many rows the pipeline was fitted on and ``seed`` the
    sample's seed (the detector's).
    """

    columns: tuple[str, ...]
    values: npt.NDArray[np.float64]
    risk: npt.NDArray[np.float64]
    risk_at_or_above: dict[str, float]
    n_train: int
    seed: int

    @property
    def n(self) -> int:
        """Rows in the reference."""
        return int(self.risk.size)


def training_reference(
    model: RiskModel,
    X: pl.DataFrame,
    seed: int,
    rows: int = REFERENCE_ROWS,
    *,
    surprise: npt.NDArray[np.float64] | None = None,
) -> TrainingReference:
    """The reference of a fitted ``model`` on its training rows ``X``: every row when
    there are at most ``rows``, else ``rows`` drawn without replacement with ``seed``
    (the same training rows and seed give the same reference, hence the same file).
    ``surprise``: the model's surprise of every row of ``X`` when the caller has it
    (fitting computed it), so the sampled rows are not scored again."""
    columns = model.feature_columns
    if X.height > rows:
        picked = np.sort(np.random.default_rng(seed).choice(X.height, size=rows, replace=False))
        X = X[picked]
        surprise = None if surprise is None else surprise[picked]
    values = X.select(columns).cast(pl.Float64).fill_null(float("nan")).to_numpy()
    if surprise is None:
        _, surprise = model.score(X)
    risk = risk_from_surprise(surprise)
    shares = {
        band.value: float(np.mean(risk >= bound)) if risk.size else 0.0
        for band, bound in SEVERITY_CUTOFFS.items()
    }
    return TrainingReference(
        columns=tuple(columns),
        values=np.ascontiguousarray(values, dtype=np.float64),
        risk=risk,
        risk_at_or_above=shares,
        n_train=int(model.n_train_),
        seed=seed,
    )


class FittedPipeline:
    """Fitted feature sets, a detector and the risk scale fitted on its training scores.

    ``features`` is a fitted :class:`MatrixBuilder` (its sets learned from the training
    events); ``detector`` is fitted by :meth:`fit`, with the risk scale, as ``risk_``.
    """

    risk_: RiskModel
    format_: int
    reference_: TrainingReference

    def __init__(self, features: MatrixBuilder, detector: Detector) -> None:
        self.features = features
        self.detector = detector

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Fit the detector on rows ``X`` of the features' training matrix (with labels
        ``y`` 1/0/null for a detector that learns from them) and the risk scale on its
        scores of ``X``.

        Raises:
            NotFitted: the feature sets were not fitted.
        """
        self.fit_score(X, y)
        return self

    def fit_score(
        self, X: pl.DataFrame, y: pl.Series | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """:meth:`fit`, returning :meth:`score` of ``X`` (raw score, surprise) from the
        scores fitting took, so the training rows are not scored again.

        Raises:
            NotFitted: the feature sets were not fitted.
        """
        if getattr(self.features, "sets_", None) is None:
            raise NotFitted(
                "fit the feature sets (MatrixBuilder.fit) before the pipeline",
                ko="파이프라인보다 먼저 특성 집합을 학습시키십시오 (MatrixBuilder.fit)",
            )
        risk = RiskModel(self.detector)
        scores = risk.fit_score(X, y)
        self.risk_ = risk
        self.format_ = ARTEFACT_FORMAT
        self.reference_ = training_reference(risk, X, self._seed(), surprise=scores[1])
        return scores

    def _seed(self) -> int:
        """The detector's seed (the model seed it was built with), 0 if it has none."""
        params = self.detector.get_params()
        seed = params.get("seed", params.get("random_state"))
        return int(seed) if isinstance(seed, int) else 0

    def reference(self) -> TrainingReference | None:
        """The training reference drift is measured against; None for an artefact saved
        before auditlens kept one (drift is then not measured)."""
        found: TrainingReference | None = getattr(self, "reference_", None)
        return found

    def matrix(self, events: pl.DataFrame, ctx: FeatureContext) -> FeatureMatrix:
        """The feature matrix of ``events`` built with the fitted feature sets."""
        return self.features.transform(events, ctx)

    def score(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(raw detector score, surprise) per row of a matrix :meth:`matrix` built."""
        return self._risk().score(X)

    @property
    def feature_columns(self) -> list[str]:
        """Columns the detector was fitted on, in order."""
        return self._risk().feature_columns

    @property
    def n_train_(self) -> int:
        """How many windows the detector and the risk scale were fitted on."""
        return int(self._risk().n_train_)

    def _risk(self) -> RiskModel:
        risk: RiskModel | None = getattr(self, "risk_", None)
        if risk is None:
            raise NotFitted(
                "the pipeline is not fitted: call fit first",
                ko="파이프라인이 아직 학습되지 않았습니다: 먼저 fit을 호출하십시오",
            )
        return risk

    def save(self, path: Path) -> str:
        """Save atomically as one file; return its sha256 (what the store records)."""
        self._risk()
        return save_artifact(self, path)

    @staticmethod
    def load(path: Path, expected_sha256: str | None = None) -> FittedPipeline:
        """Load a saved pipeline, refusing a file whose hash differs from the record.

        An artefact of format 1 (a RiskModel and its sequence model, before the fitted
        pipeline) loads as the pipeline it stood for and scores as before.

        Raises:
            ModelError: the file is missing, changed, not an auditlens model, or written
                by a version whose classes this one cannot read (the message says to
                refit).
        """
        try:
            loaded = load_artifact(path, expected_sha256)
        except (ImportError, AttributeError, EOFError, TypeError, ValueError) as exc:
            raise ModelError(
                f"{path} was saved by another auditlens version and cannot be read here "
                f"({type(exc).__name__}: {exc})",
                hint=_REFIT,
                ko=f"{path}은(는) 다른 버전의 auditlens로 저장되어 여기서 읽을 수 없습니다 "
                f"({type(exc).__name__}: {exc})",
                ko_hint=_REFIT_KO,
            ) from None
        except pickle.UnpicklingError as exc:
            raise ModelError(
                f"{path} is not a saved auditlens model ({exc})",
                hint=_REFIT,
                ko=f"{path}은(는) 저장된 auditlens 모델이 아닙니다 ({exc})",
                ko_hint=_REFIT_KO,
            ) from None
        if isinstance(loaded, RiskModel):
            return _from_format_1(loaded, path)
        if not isinstance(loaded, FittedPipeline):
            raise ModelError(
                f"{path} does not hold an auditlens model",
                hint=_REFIT,
                ko=f"{path}에는 auditlens 모델이 없습니다",
                ko_hint=_REFIT_KO,
            )
        return loaded


def _from_format_1(old: RiskModel, path: Path) -> FittedPipeline:
    """The pipeline a format-1 artefact stood for: the default feature sets, its sequence
    model as the fitted sequence features, its detector and risk scale as fitted."""
    sequence_model = old.__dict__.pop("sequence_model", None)
    if sequence_model is None or not hasattr(old, "scale_"):
        raise ModelError(
            f"{path} is a model of an older auditlens without its fitted sequence model",
            hint=_REFIT,
            ko=f"{path}은(는) 학습된 작업 순서 모델이 없는 이전 버전 auditlens의 모델입니다",
            ko_hint=_REFIT_KO,
        )
    sets = default_sets()
    for feature_set in sets:
        if isinstance(feature_set, SequenceFeatures):
            feature_set.model_ = sequence_model  # what transform used from the context
    features = MatrixBuilder()
    features.sets_ = sets
    pipeline = FittedPipeline(features, old.detector)
    pipeline.risk_ = old
    pipeline.format_ = 1
    return pipeline
