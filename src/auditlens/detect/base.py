"""The Detector plug-in point: fit on a feature matrix, score it, higher = riskier."""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Self

import joblib
import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.errors import AuditlensError

Scores = npt.NDArray[np.float64]


class ModelError(AuditlensError):
    """A saved model cannot be loaded or does not fit the feature matrix."""

    hint = "train again (`auditlens run --refit`) or point to the right model file"


class Detector(ABC):
    """Scores rows of a feature matrix; the score's only promise is: higher = riskier.

    Constructors store parameters; ``fit`` learns (attributes ending in ``_``) and
    returns self. ``feature_columns_`` names the columns fitted on, in order; scoring a
    frame without them raises ModelError.
    """

    feature_columns_: list[str]

    @abstractmethod
    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Learn from the feature columns of ``X`` (keys are ignored)."""

    @abstractmethod
    def score(self, X: pl.DataFrame) -> Scores:
        """One score per row of ``X``; higher = riskier."""

    def matrix(self, X: pl.DataFrame) -> npt.NDArray[np.float64]:
        """The fitted feature columns of ``X`` as a float array (checked)."""
        missing = [c for c in self.feature_columns_ if c not in X.columns]
        if missing:
            raise ModelError(
                f"{type(self).__name__} was fitted on columns the matrix lacks: "
                f"{', '.join(missing)}"
            )
        return X.select(self.feature_columns_).cast(pl.Float64).to_numpy()

    def save(self, path: Path) -> str:
        """Write the fitted detector atomically; return the sha256 of the saved bytes."""
        return save_artifact(self, path)


#: Temporary files of a save: ``.NAME.tmp-PID-RANDOM`` beside the target.
_TMP_PATTERN = re.compile(r"^\..+\.tmp-(\d+)-[0-9a-f]+$")


def save_artifact(obj: object, path: Path) -> str:
    """Write ``obj`` with joblib atomically (temp file + rename); return its sha256.

    A save killed midway leaves its temp file behind; the next save or load in that
    directory removes temp files of processes that no longer run
    (:func:`remove_stale_temp_files`).
    """
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return hashlib.sha256(data).hexdigest()


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

    Only load files this deployment wrote: joblib files are pickles.
    """
    remove_stale_temp_files(path.parent)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise ModelError(
            f"model file {path} has sha256 {digest[:12]}…, the store recorded "
            f"{expected_sha256[:12]}…: it was changed or replaced"
        )
    return joblib.load(io.BytesIO(data))


def load_detector(path: Path, expected_sha256: str | None = None) -> Detector:
    """Load a detector saved by :meth:`Detector.save`, verifying its hash when given."""
    model = load_artifact(path, expected_sha256)
    if not isinstance(model, Detector):
        raise ModelError(f"{path} does not hold an auditlens detector")
    return model
