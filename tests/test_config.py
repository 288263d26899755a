from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from auditlens.config import Settings, SqlSourceConfig, load_settings, mask_url
from auditlens.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_korean_compliance_defaults() -> None:
    s = Settings()
    assert s.store_url.get_secret_value() == "sqlite:///var/auditlens.db"
    assert s.timezone == "Asia/Seoul"
    assert (s.business_hours_start, s.business_hours_end) == (dt.time(9), dt.time(18))
    assert s.weekend_day_numbers == frozenset({6, 7})
    assert s.holiday_country == "KR"
    assert s.language == "ko"


def test_toml_file_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "auditlens.toml"
    cfg.write_text(
        'timezone = "UTC"\nlanguage = "en"\nbusiness_hours_start = "08:30:00"\n'
        '[sources.hr]\nkind = "sql"\nurl = "postgresql://u:s3cret@db/x"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(cfg))
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "ko")
    s = load_settings()
    assert s.timezone == "UTC"
    assert s.language == "ko"  # env wins over the file
    assert s.business_hours_start == dt.time(8, 30)
    assert isinstance(s.sources["hr"], SqlSourceConfig)


def test_secrets_are_masked_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLENS_STORE_URL", "postgresql+psycopg://app:hunter2@db:5432/audit")
    monkeypatch.setenv("AUDITLENS_SOURCES__HR__KIND", "sql")
    monkeypatch.setenv("AUDITLENS_SOURCES__HR__URL", "postgresql://u:pw-xyz@h/db")
    s = load_settings()
    shown = str(s.masked())
    assert "hunter2" not in shown and "pw-xyz" not in shown
    assert "app:***@db:5432/audit" in shown
    assert "hunter2" not in repr(s)
    assert mask_url("not a url") == "***"


def test_invalid_values_give_one_readable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLENS_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match=r"timezone: .*unknown time zone 'Mars/Olympus'"):
        load_settings()
    monkeypatch.delenv("AUDITLENS_TIMEZONE")
    monkeypatch.setenv("AUDITLENS_WEEKEND_DAYS", '["fri", "funday"]')
    with pytest.raises(ConfigError, match="funday"):
        load_settings()


def test_every_field_has_help_and_is_documented() -> None:
    docs = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = (ROOT / "auditlens.example.toml").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no help text"
        assert f"`{name}`" in docs, f"{name} missing from docs/configuration.md"
        assert re.search(rf"^#? ?{name}\b", example, re.M), f"{name} missing from example toml"


def test_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLENS_CONFIG", str(ROOT / "auditlens.example.toml"))
    s = load_settings()
    assert s.timezone == "Asia/Seoul"


def test_fingerprint_changes_with_settings() -> None:
    assert Settings().fingerprint() == Settings().fingerprint()
    assert Settings().fingerprint() != Settings(timezone="UTC").fingerprint()


def test_alert_secrets_are_masked_and_routes_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLENS_ALERT_CHANNELS__OPS__KIND", "slack")
    monkeypatch.setenv(
        "AUDITLENS_ALERT_CHANNELS__OPS__WEBHOOK_URL",
        "https://hooks.slack.com/services/T1/B2/s3cr3t",
    )
    monkeypatch.setenv("AUDITLENS_ALERT_CHANNELS__PD__KIND", "pagerduty")
    monkeypatch.setenv("AUDITLENS_ALERT_CHANNELS__PD__ROUTING_KEY", "R0UT1NGKEY")
    monkeypatch.setenv("AUDITLENS_ALERT_CHANNELS__MAIL__KIND", "email")
    monkeypatch.setenv("AUDITLENS_ALERT_CHANNELS__MAIL__HOST", "smtp.example")
    monkeypatch.setenv("AUDITLENS_ALERT_CHANNELS__MAIL__SENDER", "a@example")
    monkeypatch.setenv("AUDITLENS_ALERT_CHANNELS__MAIL__PASSWORD", "pa55w0rd")
    s = load_settings()
    shown = str(s.masked()) + repr(s)
    for secret in ("s3cr3t", "R0UT1NGKEY", "pa55w0rd"):
        assert secret not in shown
    assert s.fingerprint() == Settings().fingerprint()  # delivery settings do not change scores
    monkeypatch.setenv("AUDITLENS_ALERT_ROUTES", '[{"id": "r", "channels": ["nowhere"]}]')
    with pytest.raises(ConfigError, match=r"unknown channel\(s\) \['nowhere'\]"):
        load_settings()
    monkeypatch.setenv(
        "AUDITLENS_ALERT_ROUTES", '[{"id": "r", "channels": ["pd"], "digest_at": "09:00:00"}]'
    )
    with pytest.raises(ConfigError, match="PagerDuty cannot take a digest"):
        load_settings()


def test_example_alert_block_loads_when_uncommented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "auditlens.example.toml").read_text(encoding="utf-8")
    block = text[text.index("# --- Alerts") : text.index("# Named sources read by")].splitlines()
    plain = [ln for ln in block if ln and not ln.startswith("#")]
    examples = [
        ln[2:]
        for ln in block
        if re.match(r"^# (\[|[a-z_]+ = )", ln)
        and not ln.startswith(("# alert_channels =", "# alert_routes ="))
    ]
    cfg = tmp_path / "auditlens.toml"
    cfg.write_text("\n".join(plain + examples) + "\n", encoding="utf-8")
    monkeypatch.setenv("AUDITLENS_CONFIG", str(cfg))
    monkeypatch.setenv("AUDITLENS_ALERT_CHANNELS__ONCALL__ROUTING_KEY", "k")
    s = load_settings()
    assert [r.id for r in s.alert_routes] == [
        "critical-any-hour",
        "high-business-hours",
        "medium-daily-digest",
    ]
    assert s.alert_channels["audit_mail"].kind == "email"
    assert s.alert_routes[2].digest_at == dt.time(9, 0)


def test_report_settings_are_checked_and_change_no_score() -> None:
    settings = Settings(
        report_recipients=[" audit@bank.example ", "ciso@bank.example"],
        report_schedule={"weekly": "Friday", "monthly": 3},  # type: ignore[arg-type]
        report_controls=Path("controls.toml"),
        report_template=Path("master.pptx"),
    )
    assert settings.report_recipients == ["audit@bank.example", "ciso@bank.example"]
    assert (settings.report_schedule.weekly, settings.report_schedule.monthly) == ("fri", 3)
    assert settings.fingerprint() == Settings().fingerprint()
    assert (
        Settings(report_schedule={"weekly": None, "monthly": None}).report_schedule.weekly is None
    )  # type: ignore[arg-type]
    for bad, words, ko in (
        ({"report_recipients": ["not an address"]}, "not an e-mail address", "전자우편"),
        ({"report_schedule": {"weekly": "someday"}}, "unknown weekday", "요일"),
        ({"report_schedule": {"monthly": 31}}, "less than or equal to 28", "28 이하"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_settings(**bad)
        assert words in caught.value.text("en") and ko in caught.value.text("ko")
