"""Drift: PSI and KS on planted shifts (a quality floor over many features and seeds),
constant and discrete features, the alert rate, the training reference in the fitted
pipeline (and artefacts without one), runs storing ``run_drift`` end to end, the
`auditlens monitor drift` command (text and HTML) and the Prometheus families."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import MonitoringConfig, Settings
from auditlens.detect.ensemble import default_unsupervised
from auditlens.features.base import FeatureContext
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import HISTORY_DAYS, MatrixBuilder
from auditlens.fitted import REFERENCE_ROWS, FittedPipeline, training_reference
from auditlens.monitor.drift import Rows, alert_rate, bins, ks, measure, psi
from auditlens.monitor.metrics import StoreCollector
from auditlens.pipeline import ingest, run
from auditlens.pipeline.drift import drift_report
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.drift import FEATURE, DriftRow
from auditlens.store.repo import Store
from auditlens.views.drift import drift_history, run_drift
from tests.fresh_python import fresh_json
from tests.views.conftest import SHA_A, model, scores

runner = CliRunner()
LIMITS = MonitoringConfig()
SPEC = GeneratorSpec(users=80, days=24, seed=11, insider_rate=0.05)
CUT = dt.datetime(2026, 9, 17, 15, tzinfo=dt.UTC)  # 2026-09-18 00:00 KST


# --- the measures ---------------------------------------------------------------------


def _column(kind: str, rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    """A feature of one of the shapes the matrix has, moved when ``shifted``."""
    if kind == "normal":
        return rng.normal(0.6 if shifted else 0.0, 1.0, n)
    if kind == "counts":
        return rng.poisson(2.0 if shifted else 1.0, n).astype(float)
    if kind == "binary":
        return (rng.random(n) < (0.35 if shifted else 0.1)).astype(float)
    if kind == "zero_inflated":
        share = 0.5 if shifted else 0.8
        return np.where(rng.random(n) < share, 0.0, rng.exponential(3.0, n))
    return rng.lognormal(0.5 if shifted else 0.0, 1.0, n)  # skewed


KINDS = ("normal", "counts", "binary", "zero_inflated", "skewed")


def test_shifted_features_drift_and_unchanged_ones_do_not_over_many_seeds() -> None:
    """30 features (6 of each shape), 5 of them shifted, 300 windows against 5,000
    reference rows, 20 seeds: every shifted feature is found in at least 95% of the
    seeds and an unchanged feature is flagged in under 1% of its trials."""
    found = missed = false = trials = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        names = [f"{k}_{i}" for k in KINDS for i in range(6)]
        moved = {f"{k}_0" for k in KINDS}
        ref = np.column_stack([_column(n.rsplit("_", 1)[0], rng, 5000, False) for n in names])
        cur = np.column_stack([_column(n.rsplit("_", 1)[0], rng, 300, n in moved) for n in names])
        risk_ref, risk_cur = rng.uniform(0, 40, 5000), rng.uniform(0, 40, 300)
        result = measure(
            Rows(tuple(names), ref, risk_ref),
            Rows(tuple(names), cur, risk_cur),
            reference_rate=0.01,
            alert_line=50.0,
            model_sha256="a" * 64,
            settings=LIMITS,
        )
        for row in result.rows:
            if row.kind != FEATURE:
                assert not row.drifted, row  # the score and alert rate did not move
            elif row.name in moved:
                found += row.drifted
                missed += not row.drifted
            else:
                false += row.drifted
                trials += 1
    assert found / (found + missed) >= 0.95, (found, missed)
    assert false / trials < 0.01, (false, trials)


def test_psi_is_near_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=5000)
    values = [psi(ref, rng.normal(shift, 1.0, 2000)) for shift in (0.0, 0.25, 0.5, 1.0)]
    assert values[0] < 0.02
    assert values == sorted(values) and values[-1] > 0.5
    statistic, p_value = ks(ref, rng.normal(size=2000))
    assert statistic < 0.05 and p_value > 0.01
    statistic, p_value = ks(ref, rng.normal(1.0, 1.0, 2000))
    assert statistic > 0.3 and p_value < 1e-10


def test_constant_and_discrete_features_are_binned_per_value() -> None:
    same = bins(np.full(500, 3.0), np.full(80, 3.0))
    assert same.labels == ("= 3", "other")
    assert same.psi < 0.01 and ks(np.full(500, 3.0), np.full(80, 3.0)) == (0.0, 1.0)
    moved = bins(np.full(500, 3.0), np.full(80, 4.0))  # a value training never had
    assert np.isfinite(moved.psi) and moved.psi > 2
    below = bins(np.full(500, 3.0), np.full(80, 1.0))
    assert np.isfinite(below.psi) and below.psi > 2
    # a binary feature: two bins and "other"; zeros kept apart from small positives
    assert bins(np.r_[np.zeros(400), np.ones(100)], np.ones(50)).labels == ("= 0", "= 1", "other")
    rng = np.random.default_rng(2)
    zeros = np.r_[np.zeros(3000), rng.exponential(1.0, 2000)]
    assert bins(zeros, zeros[:10]).labels[0] == "≤ 0"
    # missing values are left out on both sides, not counted as a bin
    with_nan = np.r_[rng.normal(size=1000), np.full(50, np.nan)]
    assert psi(with_nan, rng.normal(size=500)) < 0.1


def _awkward(rng: np.random.Generator, n: int, kind: int) -> np.ndarray:
    """Ties, zeros of both signs, a few values per column, NaN and infinities."""
    values = [
        rng.normal(size=n),
        rng.integers(0, 4, n).astype(float),
        np.round(rng.exponential(size=n), 1) * rng.choice([-1.0, 1.0], n),
        np.where(rng.random(n) < 0.6, 0.0, rng.gamma(1.0, 3.0, n)) * rng.choice([-1.0, 1.0], n),
    ][kind]
    odd = rng.random(n)
    values[odd < 0.03] = np.nan
    values[odd > 0.99] = np.inf
    return values


@pytest.mark.parametrize("kind", range(4))
def test_ks_is_scipys_two_sample_test(kind: int) -> None:
    from scipy import stats

    rng = np.random.default_rng(kind)
    # exact, then asymptotic with a small effective sample (SciPy's p-value), then ours
    for n, m in [(40, 30), (1200, 900), (5000, 1), (10000, 101), (3000, 2500), (10000, 5000)]:
        ref, cur = _awkward(rng, n, kind), _awkward(rng, m, (kind + 1) % 4)
        finite_ref, finite_cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        method = "exact" if finite_ref.size * finite_cur.size <= 1_000_000 else "asymp"
        found = stats.ks_2samp(finite_ref, finite_cur, method=method)
        statistic, p_value = ks(ref, cur)
        assert statistic == float(found.statistic)  # the same bits
        if method == "exact" or min(n, m) < 200:
            assert p_value == float(found.pvalue)
        else:
            assert p_value == pytest.approx(float(found.pvalue), rel=1e-8, abs=1e-300)


def test_drift_of_large_samples_does_not_import_scipy_stats() -> None:
    # a daily run in a fresh process: SciPy's stats package cost 0.4-0.6 CPU-s to import
    script = """
import json, sys
import numpy as np
from auditlens.monitor.drift import alert_rate, ks
rng = np.random.default_rng(0)
statistic, p_value = ks(rng.normal(size=10000), rng.normal(0.05, size=5000))
row = alert_rate(0.01, 10000, 80, 5000, model_sha256="x", ratio=1.5)
loaded = sorted(m for m in sys.modules if m.startswith("scipy"))
print(json.dumps({"p": p_value, "alert_p": row.ks_pvalue, "scipy": loaded}))
"""
    found = fresh_json(script, Path.cwd())
    assert found["scipy"] == []
    assert 0.0 < found["p"] < 0.05 and 0.0 < found["alert_p"] < 0.001


@pytest.mark.parametrize("kind", range(4))
def test_bin_counts_are_the_values_in_each_bin(kind: int) -> None:
    rng = np.random.default_rng(10 + kind)
    ref, cur = _awkward(rng, 2000, kind), _awkward(rng, 700, (kind + 2) % 4)
    found = bins(ref, cur)
    finite_ref, finite_cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    distinct = np.unique(finite_ref)

    def counted(values: np.ndarray) -> np.ndarray:
        if distinct.size <= 10:
            each = [int((values == v).sum()) for v in distinct]
            return np.array([*each, values.size - sum(each)], dtype=float)
        edges = np.unique(np.quantile(finite_ref, np.linspace(0, 1, 11)[1:-1]))
        bounds = [-np.inf, *edges, np.inf]
        inside = [((lo < values) & (values <= hi)).sum() for lo, hi in itertools.pairwise(bounds)]
        return np.array(inside, dtype=float)

    for side, values in ((found.reference, finite_ref), (found.current, finite_cur)):
        expected = counted(values) + 0.5
        assert side == tuple(float(v) for v in expected / expected.sum())


def test_features_a_run_lacks_are_skipped_and_nothing_crashes_on_tiny_samples() -> None:
    rng = np.random.default_rng(3)
    result = measure(
        Rows(("a", "b"), rng.normal(size=(100, 2)), rng.uniform(0, 60, 100)),
        Rows(("a",), rng.normal(size=(3, 1)), rng.uniform(0, 60, 3)),
        reference_rate=0.0,
        alert_line=50.0,
        model_sha256="a" * 64,
        settings=LIMITS,
    )
    assert [(r.kind, r.name) for r in result.rows] == [
        ("feature", "a"),
        ("score", "risk"),
        ("alert_rate", "alert_rate"),
    ]
    assert all(r.psi is None or np.isfinite(r.psi) for r in result.rows)


def test_the_alert_rate_drifts_on_a_significant_change_of_the_set_ratio() -> None:
    base = {"model_sha256": "a" * 64, "ratio": 2.0}
    doubled = alert_rate(0.01, 5000, 60, 2000, **base)  # 3% against 1%
    assert doubled.drifted and doubled.current_value == pytest.approx(0.03)
    assert doubled.reference_value == 0.01 and doubled.ks_pvalue is not None
    assert not alert_rate(0.01, 5000, 22, 2000, **base).drifted  # 1.1%: the same
    assert alert_rate(0.05, 5000, 20, 2000, **base).drifted  # 1% against 5%: fell
    assert not alert_rate(0.01, 5000, 2, 60, **base).drifted  # 2 of 60: too few to say
    never = alert_rate(0.0, 5000, 0, 500, **base)  # training never alerted, nor does it
    assert not never.drifted and never.ks_pvalue == pytest.approx(1.0, abs=0.1)


# --- the reference in the fitted pipeline ------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated organisation: the first 17 days, the rest as they happened, and the
    rest shifted by nine hours (work moved into the night)."""
    out = tmp_path_factory.mktemp("drift-sample")
    data = generate(SPEC)
    write_sample(data, out)
    data.events.filter(pl.col("timestamp") < CUT).write_parquet(out / "part1.parquet")
    later = data.events.filter(pl.col("timestamp") >= CUT)
    later.write_parquet(out / "part2.parquet")
    later.with_columns(pl.col("timestamp") + pl.duration(hours=9)).write_parquet(
        out / "shifted.parquet"
    )
    return out


def _settings(base: Settings, sample: Path, **monitoring: float) -> Settings:
    return base.model_copy(
        update={
            "resource_catalog": sample / "resource_catalog.csv",
            "peer_directory": sample / "directory.csv",
            "monitoring": MonitoringConfig(**monitoring),  # type: ignore[arg-type]
        }
    )


def _ingest(settings: Settings, path: Path) -> None:
    with Store.open(settings, migrate=True) as store:
        ingest(FileSource(path, name=path.stem), settings, store=store)


def _model(settings: Settings) -> FittedPipeline:
    with Store.open(settings) as store:
        record = store.models.in_force()
    assert record is not None
    return FittedPipeline.load(Path(record.path), record.sha256)


def test_a_fitted_pipeline_keeps_a_seeded_reference_of_its_training_rows(
    sqlite_settings: Settings, sample: Path
) -> None:
    settings = _settings(sqlite_settings, sample)
    _ingest(settings, sample / "part1.parquet")
    run(settings)
    model = _model(settings)
    reference = model.reference()
    assert reference is not None
    assert reference.columns == tuple(model.feature_columns)
    assert reference.values.shape == (
        min(model.n_train_, REFERENCE_ROWS),
        len(model.feature_columns),
    )
    assert reference.n_train == model.n_train_ and reference.seed == settings.model_seed
    assert reference.risk.min() >= 0 and reference.risk.max() <= 100
    # risk is a rank among the training windows: about 1% at or above the medium line
    assert 0.0 < reference.risk_at_or_above["medium"] <= 0.05
    assert reference.risk_at_or_above["critical"] <= reference.risk_at_or_above["medium"]


def test_reference_sampling_is_deterministic_and_bounded(sample: Path) -> None:
    events = pl.read_parquet(sample / "part1.parquet")
    catalog = pl.read_csv(sample / "resource_catalog.csv")
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(catalog))
    features = MatrixBuilder()
    matrix = features.fit_transform(events, ctx)
    rows = matrix.frame.filter(matrix.info[HISTORY_DAYS] >= 7)
    risk = FittedPipeline(features, default_unsupervised(seed=5)).fit(rows).risk_
    first = training_reference(risk, rows, seed=5, rows=100)
    again = training_reference(risk, rows, seed=5, rows=100)
    other = training_reference(risk, rows, seed=6, rows=100)
    assert first.n == 100 and np.array_equal(first.values, again.values, equal_nan=True)
    assert not np.array_equal(first.values, other.values, equal_nan=True)
    whole = training_reference(risk, rows, seed=5)
    assert whole.n == rows.height  # fewer rows than REFERENCE_ROWS: every one


# --- runs store their drift -----------------------------------------------------------


def test_runs_store_drift_and_a_shifted_batch_drifts(
    sqlite_settings: Settings, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(sqlite_settings, sample)
    _ingest(settings, sample / "part1.parquet")
    first = run(settings)
    assert first.run_id is not None
    with Store.open(settings) as store:
        same = run_drift(store, first.run_id)
    # the first run's windows are the training windows: nothing moved
    assert same.measured and same.features_measured == len(_model(settings).feature_columns)
    assert not [m.name for m in same.measures if m.drifted]
    assert same.windows == first.windows_scored

    _ingest(settings, sample / "shifted.parquet")
    second = run(settings)
    assert second.run_id is not None
    with Store.open(settings) as store:
        moved = run_drift(store, second.run_id)
        history = drift_history(store)
        stored = store.drift.of_run(second.run_id)
    assert moved.measured and moved.features_drifted >= 3
    drifted = {m.name for m in moved.measures if m.drifted}
    assert {"off_hours_action_ratio", "first_activity_hour"} <= drifted, drifted
    assert moved.measures[0].drifted  # worst first
    assert moved.score is not None and moved.alert_rate is not None
    assert moved.alert_rate.ratio is not None and moved.alert_rate.ratio > 1
    assert any("auditlens monitor drift --run" in note for note in second.notes)
    assert [h.run_id for h in history] == [second.run_id, first.run_id]
    assert history[0].drifted and not history[1].drifted
    assert stored is not None and all(r.model_sha256 == second.model_sha256 for r in stored.rows)
    # the bins behind the charts live in the store, so any host reading it can draw them
    assert {"risk", "off_hours_action_ratio"} <= set(moved.bins)
    assert not (settings.data_dir / "drift").exists()

    # the command: text in both languages, the HTML report, the exit codes
    monkeypatch.setenv("AUDITLENS_STORE_URL", settings.store_url.get_secret_value())
    monkeypatch.setenv("AUDITLENS_DATA_DIR", str(settings.data_dir))
    page = tmp_path / "report" / "drift.html"
    result = runner.invoke(app, ["--lang", "en", "monitor", "drift", "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert f"run {second.run_id}" in result.output and "DRIFTED" in result.output
    assert second.model_sha256[:12] in result.output and f"wrote {page}" in result.output
    ko = runner.invoke(app, ["--lang", "ko", "monitor", "drift", "--run", str(first.run_id)])
    assert ko.exit_code == 0 and "드리프트 0건" in ko.output and "DRIFTED" not in ko.output
    failing = runner.invoke(app, ["monitor", "drift", "--fail-on-drift"])
    assert failing.exit_code == 4
    quiet = runner.invoke(app, ["monitor", "drift", "--run", str(first.run_id), "--fail-on-drift"])
    assert quiet.exit_code == 0
    missing = runner.invoke(app, ["--lang", "en", "monitor", "drift", "--run", "999"])
    assert missing.exit_code == 1 and "no score run 999" in missing.output

    text = page.read_text(encoding="utf-8")
    assert f"run {second.run_id}" in text and second.model_sha256[:12] in text
    assert "드리프트 보고서" in text and "Drift report" in text
    assert text.count("<svg") >= 1 + min(8, moved.features_measured)  # score + features
    assert "off_hours_action_ratio" in text and "drifted / 드리프트" in text
    # self-contained: nothing fetched from anywhere
    assert not re.search(r"<script|<link|src=|@import|url\(", text)
    assert re.findall(r"https?://[^'\" ]+", text) == ["http://www.w3.org/2000/svg"] * len(
        re.findall("<svg xmlns", text)
    )
    assert not list(page.parent.glob(".*tmp*"))

    # Prometheus: the newest measured run
    registry = CollectorRegistry(auto_describe=False)
    with Store.open(settings) as store:
        registry.register(StoreCollector(store))
        exposition = generate_latest(registry).decode()
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }
    assert got[("auditlens_drift_features_drifted", ())] == moved.features_drifted
    assert got[("auditlens_drift_features_measured", ())] == moved.features_measured
    assert got[("auditlens_drift_run_id", ())] == second.run_id
    psi_of = {m.name: m.psi for m in moved.measures}
    assert got[("auditlens_drift_psi", (("feature", "off_hours_action_ratio"),))] == pytest.approx(
        psi_of["off_hours_action_ratio"]
    )
    assert ("auditlens_drift_ks", (("feature", "first_activity_hour"),)) in got
    assert got[("auditlens_score_psi", ())] == pytest.approx(moved.score.psi)
    assert got[("auditlens_alert_rate_ratio", ())] == pytest.approx(moved.alert_rate.ratio)
    drifted_kinds = {
        dict(k[1])["kind"]: v for k, v in got.items() if k[0] == "auditlens_drift_drifted"
    }
    assert drifted_kinds["feature"] == moved.features_drifted
    assert set(drifted_kinds) == {"feature", "score", "alert_rate"}


def test_a_model_saved_without_a_reference_says_drift_is_not_measured(
    sqlite_settings: Settings, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An artefact from before the reference: the run goes on, says so, stores why; the
    command says so in both languages."""
    settings = _settings(sqlite_settings, sample)
    _ingest(settings, sample / "part1.parquet")
    first = run(settings)
    with Store.open(settings) as store:
        record = store.models.in_force()
        assert record is not None
        old = FittedPipeline.load(Path(record.path), record.sha256)
        del old.reference_  # as an artefact saved before auditlens kept one
        path = Path(record.path).with_name("old.joblib")
        sha = old.save(path)
        later = record.created_at + dt.timedelta(seconds=1)
        store.models.register(replace(record, sha256=sha, path=str(path), created_at=later))
    assert FittedPipeline.load(path, sha).reference() is None
    _ingest(settings, sample / "part2.parquet")
    second = run(settings)
    assert second.run_id is not None and second.run_id != first.run_id
    assert any("드리프트를 측정하지 않았습니다" in note for note in second.notes), second.notes
    with Store.open(settings) as store:
        found = run_drift(store, second.run_id)
    assert not found.measured and found.unmeasured_reason == "no_reference"
    assert found.measures == () and found.windows is not None and found.windows > 0

    monkeypatch.setenv("AUDITLENS_STORE_URL", settings.store_url.get_secret_value())
    monkeypatch.setenv("AUDITLENS_DATA_DIR", str(settings.data_dir))
    en = runner.invoke(app, ["--lang", "en", "monitor", "drift", "--fail-on-drift"])
    assert en.exit_code == 0 and "saved before auditlens kept a training reference" in en.output
    ko = runner.invoke(app, ["--lang", "ko", "monitor", "drift"])
    assert ko.exit_code == 0 and "학습 기준을 보관하기 전에" in ko.output
    report = drift_report(settings, html=settings.data_dir / "old.html")
    assert report.html is not None and "Drift not measured" in report.html.read_text("utf-8")


def test_too_few_new_windows_are_not_measured(sqlite_settings: Settings, sample: Path) -> None:
    settings = _settings(sqlite_settings, sample, drift_min_rows=100_000)
    _ingest(settings, sample / "part1.parquet")
    first = run(settings)
    assert any("drift_min_rows" in note for note in first.notes)
    with Store.open(settings) as store:
        found = run_drift(store)
    assert not found.measured and found.unmeasured_reason == "too_few_rows"


# --- the repository on both databases ---------------------------------------------------


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store.open(settings, migrate=True) as opened:
        yield opened


def test_the_repository_round_trips_and_replaces_a_runs_rows(store: Store) -> None:
    model(store, SHA_A)
    run_id = scores(store, [("U1", dt.date(2026, 9, 7), 70.0, "high", [])])
    row = DriftRow("a" * 64, "feature", "login_count", 0.3, 0.25, 1e-6, 1.0, 2.0, 5000, 80, True)
    now = dt.datetime(2026, 9, 8, tzinfo=dt.UTC)
    store.drift.record(run_id, [row, row.__class__(**{**row.__dict__, "name": "x"})], now=now)
    store.drift.record(run_id, [row], now=now)  # measured again: replaces
    stored = store.drift.of_run(run_id)
    assert stored is not None and stored.rows == (row,) and stored.created_at == now
    assert store.drift.latest_run_id() == run_id and store.drift.recent_run_ids(5) == [run_id]
    assert store.drift.of_run(run_id + 1) is None
    # a run stored before drift was measured: said so, not an error
    other = scores(store, [("U2", dt.date(2026, 9, 7), 10.0, "low", [])])
    found = run_drift(store, other)
    assert not found.measured and found.unmeasured_reason == "not_recorded"
