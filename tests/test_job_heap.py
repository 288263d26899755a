"""A job (ingest, run) freezes what the process held when it started, so its full
collections walk only what it made, and gives it back to the collector when it ends:
nothing is kept from the collector, nested jobs freeze once, a process frozen for good
(``serve api``) is left as it is; the ``auditlens`` command freezes its heap as it exits
(the interpreter's last full collection walks nothing)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlens.config import Settings
from auditlens.pipeline import ingest, run
from auditlens.pipeline.heap import job_heap
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from tests.fresh_python import fresh_json


class Node:
    """A container that can sit in a reference cycle and be watched by a weakref."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    if gc.get_freeze_count():
        pytest.skip("this process froze its heap before the test")
    yield
    gc.unfreeze()  # (a failing test must not leave the worker's heap frozen)


def test_a_job_freezes_what_the_process_held_and_gives_it_back() -> None:
    holder, watched = cycle()
    gc.collect()  # the cycle is alive: it moves to the old generation
    with job_heap():
        assert gc.get_freeze_count() > 0
        del holder  # garbage now, but frozen: the job's collections do not walk it
        gc.collect()
        assert watched() is not None
    assert gc.get_freeze_count() == 0
    gc.collect()  # back in the old generation: collected as before
    assert watched() is None


def test_young_cycles_are_collected_before_the_job_freezes() -> None:
    holder, watched = cycle()
    del holder  # garbage in the young generation when the job starts
    with job_heap():
        assert watched() is None


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The collector's freezes and thaws, in order (each still done). Counted, not read off
    ``gc.get_freeze_count``: a frozen object that dies meanwhile lowers that count."""
    seen: list[str] = []
    freeze, unfreeze = gc.freeze, gc.unfreeze

    def frozen() -> None:
        seen.append("freeze")
        freeze()

    def thawed() -> None:
        seen.append("unfreeze")
        unfreeze()

    monkeypatch.setattr(gc, "freeze", frozen)
    monkeypatch.setattr(gc, "unfreeze", thawed)
    return seen


def test_nested_jobs_freeze_once_and_the_outer_one_thaws(calls: list[str]) -> None:
    with job_heap():
        with job_heap():
            assert calls == ["freeze"]
        assert calls == ["freeze"]  # the inner job did not thaw the outer's
    assert calls == ["freeze", "unfreeze"]
    assert gc.get_freeze_count() == 0


def test_a_failing_job_thaws_too(calls: list[str]) -> None:
    with pytest.raises(RuntimeError), job_heap():
        raise RuntimeError("boom")
    assert calls == ["freeze", "unfreeze"]
    assert gc.get_freeze_count() == 0


def test_a_heap_frozen_for_good_is_left_frozen(calls: list[str]) -> None:
    gc.freeze()  # as `serve api` does once its app is built
    with job_heap():
        pass
    assert calls == ["freeze"]  # that one: the job neither froze nor thawed
    assert gc.get_freeze_count() > 0


def test_jobs_on_two_threads_keep_the_heap_frozen_until_the_last_one_ends(
    calls: list[str],
) -> None:
    # the first job freezes; the second, started while it runs, neither freezes again
    # nor is thawed under when the first ends first; the last one out thaws, once
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, list[str]] = {}

    def first() -> None:
        with job_heap():
            first_in.set()
            second_in.wait(10)
        seen["first out"] = list(calls)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with job_heap():
            second_in.set()
            first_out.wait(10)
            seen["second, after the first ended"] = list(calls)
        seen["second out"] = list(calls)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert seen == {
        "first out": ["freeze"],
        "second, after the first ended": ["freeze"],
        "second out": ["freeze", "unfreeze"],
    }
    assert gc.get_freeze_count() == 0


def test_ingest_and_run_work_frozen_and_thaw(sqlite_settings: Settings, tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    data = generate(GeneratorSpec(users=40, days=12, seed=3))
    write_sample(data, sample)
    settings = sqlite_settings.model_copy(
        update={
            "resource_catalog": sample / "resource_catalog.csv",
            "peer_directory": sample / "directory.csv",
        }
    )
    path = tmp_path / "events.parquet"
    data.events.write_parquet(path)
    while_ingested: list[int] = []
    report = ingest(
        FileSource(path, name="events"),
        settings,
        on_batch=lambda _: while_ingested.append(gc.get_freeze_count()),
    )
    assert report.accepted == data.events.height
    assert while_ingested and min(while_ingested) > 0
    assert gc.get_freeze_count() == 0
    while_run: list[int] = []
    found = run(settings, alerts=False, on_stage=lambda _: while_run.append(gc.get_freeze_count()))
    assert found.rows_stored > 0
    assert while_run and min(while_run) > 0
    assert gc.get_freeze_count() == 0


SCRIPT = """
import gc, json, sys
counts = {}
sys.argv = ["auditlens", "version"]
from auditlens.cli import main
try:
    main()
except SystemExit:
    pass
counts["frozen_after_main"] = gc.get_freeze_count()
print(json.dumps(counts), flush=True)
"""


def test_the_command_freezes_its_heap_as_it_exits(tmp_path: Path) -> None:
    counts = fresh_json(SCRIPT, tmp_path)
    # every object the command's modules hold is frozen: the exit's collection skips them
    assert counts["frozen_after_main"] > 10_000
