"""The Detector plug-in point: fit on a feature matrix, score it, higher = riskier.

Detectors follow scikit-learn's estimator conventions: the constructor only stores its
parameters (``get_params``/``set_params`` read and write them, :func:`clone` makes an
unfitted copy), ``fit`` learns attributes ending in ``_`` and returns ``self``, and using
an unfitted detector raises :class:`NotFittedError`.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import os
import pickle
import re
import secrets
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, Protocol, Self, TypeVar, runtime_checkable

import joblib
import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.errors import AuditlensError, os_reason
from auditlens.features.base import KEYS

Scores = npt.NDArray[np.float64]


class ModelError(AuditlensError):
    """A saved model cannot be loaded or does not fit the feature matrix."""

    hint = "train again (`auditlens run --refit`) or point to the right model file"
    ko_hint = "다시 학습하거나(`auditlens run --refit`) 올바른 모델 파일을 지정하십시오"


class NotFittedError(ModelError):
    """A detector was used (score, explain) before ``fit``."""

    hint = "call its fit(X) first (fit returns the fitted detector)"
    ko_hint = "먼저 fit(X)를 호출하십시오 (fit은 학습된 탐지기를 돌려줍니다)"


def feature_columns(X: pl.DataFrame) -> list[str]:
    """The columns of ``X`` a detector learns from: every column but the keys, in order.

    >>> feature_columns(pl.DataFrame({"user_id": ["a"], "window": [1], "logins": [3]}))
    ['logins']
    """
    return [c for c in X.columns if c not in KEYS]


class Detector(ABC):
    """Scores rows of a feature matrix; the score's only promise is: higher = riskier.

    Constructors store parameters, unchanged, under their own names; ``fit`` learns
    (attributes ending in ``_``) and returns self. ``feature_columns_`` names the columns
    fitted on, in order; scoring a frame without them raises ModelError, scoring before
    ``fit`` raises NotFittedError.
    """

    feature_columns_: list[str]

    @abstractmethod
    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Learn from the feature columns of ``X`` (keys are ignored)."""

    @abstractmethod
    def score(self, X: pl.DataFrame) -> Scores:
        """One score per row of ``X``; higher = riskier."""

    def fit_score(self, X: pl.DataFrame, y: pl.Series | None = None) -> Scores:
        """``fit`` on ``X``, then the scores of ``X``: equal to ``fit(X, y).score(X)``.

        A detector that scores its training rows while fitting (to calibrate) overrides
        this to hand those scores back instead of computing them again.
        """
        return self.fit(X, y).score(X)

    @classmethod
    def _param_names(cls) -> list[str]:
        """The constructor's parameter names, sorted (scikit-learn's rule)."""
        signature = inspect.signature(cls.__init__)
        return sorted(
            p.name
            for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters; with ``deep``, nested detectors' as ``name__param``."""
        out: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters (``name`` or nested ``name__param``); returns self.

        Raises ModelError for a name the constructor does not take.
        """
        valid = self._param_names()
        nested: defaultdict[str, dict[str, Any]] = defaultdict(dict)
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ModelError(
                    f"{type(self).__name__} has no parameter {name!r} "
                    f"(it takes {', '.join(valid) or 'none'})",
                    ko=f"{type(self).__name__}에는 {name!r} 매개변수가 없습니다 "
                    f"(받는 매개변수: {', '.join(valid) or '없음'})",
                )
            if sub:
                nested[name][sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({params})"

    @property
    def fitted(self) -> bool:
        """Has ``fit`` run (``feature_columns_`` is set)?"""
        return "feature_columns_" in vars(self)

    def check_fitted(self) -> None:
        """Raise NotFittedError, naming this detector, unless ``fit`` has run."""
        if not self.fitted:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet",
                ko=f"{type(self).__name__}이(가) 아직 학습되지 않았습니다",
            )

    def matrix(self, X: pl.DataFrame) -> npt.NDArray[np.float64]:
        """The fitted feature columns of ``X`` as a float array (checked)."""
        self.check_fitted()
        return self.columns_of(X, self.feature_columns_)

    def columns_of(self, X: pl.DataFrame, columns: list[str]) -> npt.NDArray[np.float64]:
        """``columns`` of ``X`` as a float array; raises ModelError naming any missing.

        ``fit`` reads its input with it before it sets ``feature_columns_``: a detector
        is fitted (:attr:`fitted`) only once its fit has succeeded, and a refit that
        fails leaves the detector as it was.
        """
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ModelError(
                f"{type(self).__name__} was fitted on columns the matrix lacks: "
                f"{', '.join(missing)}",
                ko=f"{type(self).__name__}이(가) 학습한 열이 특성 행렬에 없습니다: "
                f"{', '.join(missing)}",
            )
        return X.select(columns).cast(pl.Float64).to_numpy()

    def save(self, path: Path) -> str:
        """Write the fitted detector atomically; return the sha256 of the saved bytes."""
        return save_artifact(self, path)


class HasParams(Protocol):
    """Anything with scikit-learn's ``get_params`` (a Detector, a scikit-learn model)."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters."""
        ...


D = TypeVar("D", bound=HasParams)


def clone(detector: D) -> D:
    """An unfitted copy of ``detector`` with equal parameters (scikit-learn's ``clone``).

    Nested detectors (an ensemble's members) are cloned too, so fitting the copy never
    touches the original.
    """
    from sklearn.base import clone as sklearn_clone  # imported late: slow, rarely needed

    copy: D = sklearn_clone(detector)
    return copy


#: What a contribution measures: a feature's tail surprise (-log10 of the share of
#: training windows at least as high) or its exact share of a calibrated log-odds (SHAP).
ContributionUnit = Literal["surprise", "log_odds"]


@runtime_checkable
class Explainable(Protocol):
    """A detector whose score splits into per-feature contributions (explain.py's reasons)."""

    contribution_unit: ClassVar[ContributionUnit]

    def feature_contributions(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], list[str]]:
        """Per row and feature, the feature's contribution (rows x features), and the
        feature names in column order."""
        ...


#: Temporary files of a save: ``.NAME.tmp-PID-RANDOM`` beside the target.
_TMP_PATTERN = re.compile(r"^\..+\.tmp-(\d+)-[0-9a-f]+$")


def save_artifact(obj: object, path: Path) -> str:
    """Write ``obj`` as a pickle (protocol 5) atomically (temp file + rename); return its
    sha256. (Artefacts of earlier versions were written by joblib; :func:`load_artifact`
    reads both. Plain pickle loads in the C unpickler: 0.06 s against joblib's 0.6 s for
    a 14 MB fitted pipeline, paid by every run and every ``explain``.)

    A save killed midway leaves its temp file behind; the next save or load in that
    directory removes temp files of processes that no longer run
    (:func:`remove_stale_temp_files`).
    """
    data = pickle.dumps(obj, protocol=5)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    tmp = temp_path(path)
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return hashlib.sha256(data).hexdigest()


def temp_path(path: Path) -> Path:
    """Where a save writes ``path`` before renaming it (:data:`_TMP_PATTERN`: named with
    this process's id, so :func:`remove_stale_temp_files` tells a killed save's leftover
    from a concurrent one's)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Remove temp files of earlier saves whose process is gone; return what was removed.

    A temp file of a process still running (a concurrent save) is left alone; one whose
    writer has exited — it was killed midway — is removed, as is any older than this
    process (a reused pid cannot keep it alive).
    """
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for candidate in directory.iterdir():
        match = _TMP_PATTERN.match(candidate.name) or _LEGACY_TMP.match(candidate.name)
        if match is None:
            continue
        pid = int(match.group(1)) if match.groups() else None
        try:
            older = candidate.stat().st_mtime < _PROCESS_STARTED
        except OSError:
            continue
        if pid == os.getpid() or (pid is not None and _alive(pid) and not older):
            continue
        if pid is None and not older:
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


#: What earlier versions named their temp file (``.NAME.tmp``).
_LEGACY_TMP = re.compile(r"^\..+\.joblib\.tmp$")
_PROCESS_STARTED = time.time()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def load_artifact(path: Path, expected_sha256: str | None = None) -> Any:
    """Load what :func:`save_artifact` wrote, verifying its hash when given.

    Only load files this deployment wrote: they are pickles. A joblib file (earlier
    versions; its arrays follow the pickle stream as ``NumpyArrayWrapper`` records) is
    read by joblib, anything else by the C unpickler.
    """
    remove_stale_temp_files(path.parent)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(
            f"cannot read model file {path}: {exc.strerror}",
            ko=f"모델 파일 {path}을(를) 읽을 수 없습니다: {os_reason(exc, 'ko')}",
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise ModelError(
            f"model file {path} has sha256 {digest[:12]}…, the store recorded "
            f"{expected_sha256[:12]}…: it was changed or replaced",
            ko=f"모델 파일 {path}의 sha256은 {digest[:12]}…인데 저장소에는 "
            f"{expected_sha256[:12]}…로 기록되어 있습니다: 파일이 바뀌었거나 교체되었습니다",
        )
    try:  # our own file, its sha256 checked above
        return _Unpickler(io.BytesIO(data)).load()
    except _JoblibFile:
        return joblib.load(io.BytesIO(data))


class _JoblibFile(Exception):
    """The file is joblib's: its arrays follow the pickle stream, which pickle cannot read."""


class _Unpickler(pickle.Unpickler):
    """The C unpickler, stopped at joblib's array record (files of earlier versions).

    It is asked for each class the file names once (not per object): telling a joblib
    file this way costs nothing, where looking for the record's name in the bytes read
    the whole file once more (30 ms for a 38 MB model, paid by every run)."""

    def find_class(self, module: str, name: str) -> Any:  # (pickle's signature)
        """The class, unless it is joblib's array record."""
        if (module, name) == _JOBLIB_ARRAYS:
            raise _JoblibFile
        return super().find_class(module, name)


#: The module and name of joblib's array records (never in a plain pickle of ours).
_JOBLIB_ARRAYS: Final = ("joblib.numpy_pickle", "NumpyArrayWrapper")


def load_detector(path: Path, expected_sha256: str | None = None) -> Detector:
    """Load a detector saved by :meth:`Detector.save`, verifying its hash when given."""
    model = load_artifact(path, expected_sha256)
    if not isinstance(model, Detector):
        raise ModelError(
            f"{path} does not hold an auditlens detector",
            ko=f"{path}은(는) auditlens 탐지기 파일이 아닙니다",
        )
    return model
