"""The realistic profile: quiet insiders, benign look-alikes at their rates, joiners and
leavers, determinism by seed, and the default profile left exactly as it was."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from auditlens import schema
from auditlens.cli import app
from auditlens.errors import AuditlensError
from auditlens.sources.synthetic import (
    QUIET_SCENARIOS,
    GeneratorSpec,
    SyntheticData,
    generate,
)
from auditlens.sources.synthetic.realistic import RATES

TZ = "Asia/Seoul"
SPEC = GeneratorSpec(users=1000, days=42, seed=5, insider_rate=0.02, profile="realistic")
#: sha256 of the default profile's CSVs (users=60, days=20, seed=7), taken before the
#: realistic profile existed: the default output must stay byte for byte the same.
DEFAULT_SHA256 = "b3945cb531c5a1e429fd4fdb9099ad32736f6018e369d604903cc5ec5210b35e"


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return generate(SPEC)


@pytest.fixture(scope="module")
def local(data: SyntheticData) -> pl.DataFrame:
    """Events with local time, date and hour."""
    return data.events.with_columns(
        local=pl.col("timestamp").dt.convert_time_zone(TZ)
    ).with_columns(date=pl.col("local").dt.date(), hour=pl.col("local").dt.hour())


def _sha(data: SyntheticData) -> str:
    digest = hashlib.sha256()
    for frame in (data.events, data.labels, data.catalog, data.directory):
        buffer = io.BytesIO()
        frame.write_csv(buffer)
        digest.update(buffer.getvalue())
    return digest.hexdigest()


def test_default_profile_is_byte_identical_to_before() -> None:
    data = generate(GeneratorSpec(users=60, days=20, seed=7))
    assert _sha(data) == DEFAULT_SHA256
    assert data.cast is None
    assert "profile" not in GeneratorSpec().to_dict()  # stored watermarks stay valid
    assert GeneratorSpec(profile="realistic").to_dict()["profile"] == "realistic"


def test_realistic_is_deterministic_by_seed() -> None:
    spec = GeneratorSpec(users=120, days=21, seed=3, profile="realistic")
    one, two = generate(spec), generate(spec)
    assert _sha(one) == _sha(two)
    assert one.cast is not None and two.cast is not None and one.cast.equals(two.cast)
    other = generate(GeneratorSpec(users=120, days=21, seed=4, profile="realistic"))
    assert _sha(other) != _sha(one)
    default = generate(GeneratorSpec(users=120, days=21, seed=3))
    assert _sha(default) != _sha(one)


def test_unknown_profile_is_refused_in_both_languages() -> None:
    with pytest.raises(AuditlensError) as caught:
        GeneratorSpec(profile="loud")
    assert "profile must be one of default, realistic" in str(caught.value)
    assert "profile은" in (caught.value.ko or "")


def test_labels_have_the_default_shape_and_quiet_scenarios(data: SyntheticData) -> None:
    assert dict(data.labels.schema) == dict(schema.LABEL_DTYPES)
    assert set(data.labels["scenario"]) == set(QUIET_SCENARIOS)
    assert data.labels.height == round(SPEC.insider_rate * SPEC.users)
    insiders = set(data.labels["user_id"])
    # insiders have a clean history of their own: no look-alike part, never IT
    assert data.cast is not None
    parts = data.cast.filter(pl.col("user_id").is_in(list(insiders)))
    assert set(parts["kind"]) <= set(QUIET_SCENARIOS) | {"month_end"}
    it = data.directory.filter(pl.col("department") == "it")["user_id"]
    assert not insiders & set(it)


def test_insiders_do_a_handful_of_novel_things_among_ordinary_work(
    data: SyntheticData, local: pl.DataFrame
) -> None:
    """In the labelled window: few events the person never did before (late logon, USB,
    someone else's PC, a resource family never touched), and no flood of activity."""
    own_pc = data.directory.select("user_id", own="host")
    ev = (
        local.join(data.labels, on="user_id")
        .join(own_pc, on="user_id")
        .with_columns(
            family=pl.col("resource_id").str.extract(r"^([^/]+/[^/]+)"),
            inside=pl.col("timestamp").is_between("start", "end", closed="left"),
            before=pl.col("timestamp") < pl.col("start"),
        )
    )
    late = (pl.col("action_type") == "login") & ((pl.col("hour") >= 21) | (pl.col("hour") < 6))
    foreign = (pl.col("action_type") == "login") & (pl.col("host") != pl.col("own"))
    usb = pl.col("action_type") == "usb_connect"
    for (user, scenario), rows in ev.group_by("user_id", "scenario"):
        before, inside = rows.filter("before"), rows.filter("inside")
        seen = set(before["family"].drop_nulls())
        novel = inside.filter(
            (late & ~pl.lit(before.filter(late).height > 0))
            | (usb & ~pl.lit(before.filter(usb).height > 0))
            | (foreign & ~pl.lit(before.filter(foreign).height > 0))
            | (pl.col("family").is_not_null() & ~pl.col("family").is_in(list(seen)))
        )
        assert novel.height <= 30, (user, scenario, novel.height)
        assert novel.height >= 1, (user, scenario)
        if scenario in ("quiet_after_hours_copy", "quiet_departing"):  # the first stick
            assert before.filter(usb).height == 0 and inside.filter(usb).height >= 1, user
        # ordinary work goes on: the window's daily volume stays near the person's own
        per_day_before = before.height / max(before["date"].n_unique(), 1)
        per_day_inside = inside.height / max(inside["date"].n_unique(), 1)
        assert per_day_inside < 3.0 * per_day_before, (user, scenario)


def test_lookalikes_exist_at_their_stated_rates(data: SyntheticData) -> None:
    assert data.cast is not None
    people = data.cast.group_by("kind").agg(pl.col("user_id").n_unique()).rows()
    count = dict(people)
    d = data.directory
    non_it = d.filter(pl.col("department") != "it").height
    expected = {
        "traveller": RATES["traveller"] * SPEC.users,  # IT stays home: fewer drawn
        "joiner": RATES["joiner"] * SPEC.users,
        "leaver": RATES["leaver"] * SPEC.users,
        "transfer": RATES["transfer"] * non_it,
    }
    count["leaver"] = count.get("leaver", 0) + count.get("handover_leaver", 0)
    for kind, mean in expected.items():
        assert 0.5 * mean <= count.get(kind, 0) <= 1.6 * mean, (kind, count.get(kind), mean)
    ops = d.filter(pl.col("role").is_in(["dba", "sysadmin"])).height
    assert 0.4 * ops <= count["oncall"] <= 0.8 * ops
    assert count["month_end"] >= 0.5 * d.filter(pl.col("department") == "finance").height
    assert 0 < count["handover_leaver"] < count["leaver"]


def test_lookalikes_behave_as_described(data: SyntheticData, local: pl.DataFrame) -> None:
    assert data.cast is not None
    cast = data.cast

    def who(kind: str) -> list[str]:
        return cast.filter(pl.col("kind") == kind)["user_id"].unique().to_list()

    logins = local.filter(pl.col("action_type") == "login")
    night = logins.filter((pl.col("hour") >= 21) | (pl.col("hour") < 6))
    oncall_nights = night.filter(pl.col("user_id").is_in(who("oncall")))
    assert oncall_nights["user_id"].n_unique() >= 0.8 * len(who("oncall"))
    outside = logins.filter(~pl.col("src_ip").str.starts_with("10."))
    assert set(who("traveller")) <= set(outside["user_id"])
    assert outside["host"].str.starts_with("LAPTOP-").all()
    # joiners: nothing before the first day; leavers: nothing from the day they left
    first = local.group_by("user_id").agg(first=pl.col("date").min(), last=pl.col("date").max())
    joiners = cast.filter(pl.col("kind") == "joiner").join(first, on="user_id")
    assert (joiners["first"] >= joiners["start"]).all() and joiners.height > 0
    assert (joiners["start"] > min(local["date"])).all()
    hired = data.directory.join(joiners, on="user_id")
    assert (hired["hired"] == hired["start"]).all()
    gone = data.directory.filter(pl.col("left").is_not_null()).join(first, on="user_id")
    assert gone.height > 0 and (gone["last"] < gone["left"]).all()
    # movers show their old department, then their new one (the directory's)
    moved = cast.filter(pl.col("kind") == "transfer")
    depts = local.filter(pl.col("user_id").is_in(moved["user_id"].to_list()))
    seen = depts.group_by("user_id").agg(pl.col("department").n_unique())
    assert (seen["department"] == 2).all()
    after = depts.join(moved, on="user_id").filter(pl.col("date") >= pl.col("start"))
    now = after.join(data.directory.select("user_id", now="department"), on="user_id")
    assert (now["department"] == now["now"]).all()
    # month-end closing: late sessions of the duty roster on closing days
    closers = local.filter(pl.col("user_id").is_in(who("month_end")) & (pl.col("hour") >= 19))
    assert closers.filter(pl.col("action_type") == "export").height > 0


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_generate_realistic_on_the_command_line(
    lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITLENS_LANGUAGE", lang)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "org"
    args = ["generate", "--profile", "realistic", "--users", "80", "--days", "21"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert ("insiders" if lang == "en" else "내부자") in result.output
    cast = pl.read_csv(out / "cast.csv")
    assert {"user_id", "kind", "start", "end"} == set(cast.columns)
    labels = pl.read_csv(out / "labels.csv")
    assert set(labels["scenario"]) <= set(QUIET_SCENARIOS) and labels.height > 0
    bad = CliRunner().invoke(app, ["generate", "--profile", "loud", "--out", str(out)])
    assert bad.exit_code == 2
    plain = CliRunner().invoke(app, ["generate", "--users", "20", "--days", "5", "--out", "p"])
    assert plain.exit_code == 0 and not (tmp_path / "p" / "cast.csv").exists()
