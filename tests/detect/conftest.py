"""A generated organisation with planted scenarios and its feature matrix (built once)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pytest

from auditlens.features.base import FeatureContext
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import HISTORY_DAYS, FeatureMatrix, build_matrix
from auditlens.sources.synthetic import GeneratorSpec, SyntheticData, generate


@dataclass(frozen=True)
class Planted:
    data: SyntheticData
    matrix: FeatureMatrix
    frame: pl.DataFrame  # scored windows (past warm-up)
    info: pl.DataFrame


@pytest.fixture(scope="session")
def planted() -> Planted:
    data = generate(GeneratorSpec(users=600, days=45, seed=3, insider_rate=0.03))
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog))
    matrix = build_matrix(data.events, ctx)
    keep = matrix.info.get_column(HISTORY_DAYS) >= 7
    return Planted(data, matrix, matrix.frame.filter(keep), matrix.info.filter(keep))
