"""How a command's input becomes a Source: configured sources, paths and the options that
say how to read them (column map, value map, encoding, date order, id scope).

Every command that reads events (ingest, score, train, evaluate) goes through
:func:`input_source` (or :func:`sources_to_ingest`), so a source reads the same way
everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from auditlens.config import (
    CertSourceConfig,
    FileSourceConfig,
    KafkaSourceConfig,
    Settings,
    SourceConfig,
    SqlSourceConfig,
    ValueRulesConfig,
)
from auditlens.duplicates import IdScope
from auditlens.errors import ConfigError, SourceError
from auditlens.schema import EVENT_COLUMNS
from auditlens.sources.base import Source
from auditlens.sources.cert import CertSource
from auditlens.sources.files import FileSource, resolve_files
from auditlens.sources.sql import SqlChangeLogSource
from auditlens.vocabulary import DateOrder, FileFormat, InputFormat, ValueRules, read_value_map

_FILE_FORMATS: dict[str, FileFormat] = {
    "csv": "csv",
    "parquet": "parquet",
    "jsonl": "jsonl",
    "xlsx": "xlsx",
}


def value_rules(
    settings: Settings,
    config: ValueRulesConfig | None = None,
    *,
    value_map: Mapping[str, Mapping[str, str]] | None = None,
    date_order: DateOrder | None = None,
) -> ValueRules:
    """The rules a source's values are read with: the source's settings over the global
    ones, and ``value_map``/``date_order`` from the command line over both.

    A value map given on the command line replaces the configured mapping of the
    columns it names (its other columns are kept).
    """
    own = config or ValueRulesConfig()
    mapping: dict[str, Mapping[str, str]] = {
        column: {k: str(v) for k, v in table.items()} for column, table in own.value_map.items()
    }
    mapping.update(value_map or {})
    return ValueRules(
        value_map=mapping,
        unknown_actions=own.unknown_actions or settings.unknown_actions,
        date_order=date_order or own.date_order or settings.date_order,
        ambiguous_times=own.ambiguous_times or settings.ambiguous_times,
    )


def make_source(
    name: str, config: SourceConfig, settings: Settings, *, encoding: str | None = None
) -> Source:
    """Build the Source a configuration entry describes (``encoding`` overrides the
    file source's)."""
    if isinstance(config, FileSourceConfig):
        return FileSource(
            config.path,
            config.format,
            config.column_map,
            name=name,
            id_scope=config.id_scope,
            encoding=encoding or config.encoding,
            settle_seconds=config.settle_seconds,
            rules=value_rules(settings, config),
            parquet_batch_rows=config.parquet_batch_rows,
        )
    if isinstance(config, SqlSourceConfig):
        return SqlChangeLogSource(
            config.url.get_secret_value(),
            events_table=config.events_table,
            key_column=config.key_column,
            change_log_table=config.change_log_table,
            page_size=config.page_size,
            column_map=config.column_map,
            name=name,
            timezone=settings.timezone,
            settle_seconds=config.settle_seconds,
            gap_wait_seconds=config.gap_wait_seconds,
            rules=value_rules(settings, config),
        )
    if isinstance(config, KafkaSourceConfig):
        from auditlens.sources.kafka import KafkaSource  # the client library: only when used

        return KafkaSource(
            config.bootstrap_servers,
            config.topics,
            group_id=config.group_id,
            format=config.format,
            csv_columns=config.csv_columns,
            column_map=config.column_map,
            max_records=config.max_records,
            max_seconds=config.max_seconds,
            start_from=config.start_from,
            dead_letter_topic=config.dead_letter_topic,
            client_config=kafka_client_config(config),
            name=name,
            rules=value_rules(settings, config),
        )
    if isinstance(config, CertSourceConfig):
        return CertSource(Path(config.path), name=name, rules=value_rules(settings))
    raise SourceError(
        f"source {name!r}: unknown kind", ko=f"소스 {name!r}: 알 수 없는 종류입니다"
    )  # pragma: no cover - pydantic guards


def kafka_client_config(config: KafkaSourceConfig) -> dict[str, str]:
    """The librdkafka settings of a kafka source besides its servers (security, options)."""
    out: dict[str, str] = {"security.protocol": config.security_protocol}
    if config.sasl_mechanism is not None:
        out["sasl.mechanism"] = config.sasl_mechanism
    if config.sasl_username is not None:
        out["sasl.username"] = config.sasl_username
    if config.sasl_password is not None:
        out["sasl.password"] = config.sasl_password.get_secret_value()
    if config.ssl_ca_location is not None:
        out["ssl.ca.location"] = config.ssl_ca_location
    if config.ssl_certificate_location is not None:
        out["ssl.certificate.location"] = config.ssl_certificate_location
    if config.ssl_key_location is not None:
        out["ssl.key.location"] = config.ssl_key_location
    if config.ssl_key_password is not None:
        out["ssl.key.password"] = config.ssl_key_password.get_secret_value()
    return {**out, **config.options}


def source_for_path(
    path: Path,
    fmt: InputFormat = "auto",
    column_map: Mapping[str, str] | None = None,
    id_scope: IdScope = "source",
    *,
    encoding: str = "utf-8",
    settle_seconds: float = 0.0,
    rules: ValueRules | None = None,
    name: str | None = None,
) -> Source:
    """A Source for a path given on the command line (files, or a CERT directory).

    ``encoding`` applies to CSV and JSON Lines files (utf-8, cp949, euc-kr or auto).
    ``settle_seconds``: see FileSource; the default 0 suits one-shot reads (score,
    evaluate), which have no later run to pick up a last line left for later.
    """
    if fmt == "cert" or (fmt == "auto" and path.is_dir() and (path / "logon.csv").exists()):
        return CertSource(path, name=name, rules=rules)
    resolve_files(path, fmt)  # fail now on a missing path, before touching the store
    return FileSource(
        path,
        fmt,
        column_map,
        name=name,
        id_scope=id_scope,
        encoding=encoding,
        settle_seconds=settle_seconds,
        rules=rules,
    )


@dataclass(frozen=True)
class InputOptions:
    """How a command reads events: the same options on ingest, score, train, evaluate.

    ``source`` names a configured ``[sources.NAME]`` to reuse (its column map, value map,
    encoding and date order); ``path`` a file, directory, glob or CERT directory (with a
    file ``source`` too: read that path the way the source reads its own). ``column_map``
    holds ``CUSTOMER=CANONICAL`` pairs, ``value_map`` a TOML or CSV value-map file; both
    add to (and win over) the source's own.
    """

    path: Path | None = None
    source: str | None = None
    format: InputFormat = "auto"
    column_map: tuple[str, ...] = ()
    value_map: Path | None = None
    encoding: str | None = None
    date_order: DateOrder | None = None
    #: Where event ids are unique for a path (a configured source keeps its own).
    id_scope: IdScope | None = None
    #: How long a last line without a line end must stay unchanged before it is read:
    #: 0 suits one-shot reads (score, evaluate); ingest waits (later runs read the rest).
    settle_seconds: float = 0.0

    @property
    def given(self) -> bool:
        """Whether the options name an input at all (a path or a source)."""
        return self.path is not None or self.source is not None

    @property
    def tuned(self) -> bool:
        """Whether the options say how to read (mapping, encoding, date order...)."""
        return bool(
            self.column_map
            or self.value_map
            or self.encoding
            or self.date_order
            or self.id_scope
            or self.format != "auto"
        )


def input_source(settings: Settings, options: InputOptions) -> Source:
    """The one way a command turns its input options into a Source.

    Raises ConfigError for an unknown source name, a path given with a SQL source,
    a bad ``--map`` pair or value-map file, or no input at all.
    """
    pairs = parse_column_map(list(options.column_map))
    values = read_value_map(options.value_map) if options.value_map is not None else None
    if options.source is None:
        if options.path is None:
            raise ConfigError(
                "no input: give a path (--input PATH) or a configured source (--source NAME)",
                ko="입력이 없습니다: 경로(--input 경로)나 설정된 소스(--source 이름)를 "
                "지정하십시오",
            )
        rules = value_rules(settings, value_map=values, date_order=options.date_order)
        return source_for_path(
            options.path,
            options.format,
            pairs,
            options.id_scope or "source",
            encoding=options.encoding or "utf-8",
            settle_seconds=options.settle_seconds,
            rules=rules,
        )
    config = settings.sources.get(options.source)
    if config is None:
        known = ", ".join(sorted(settings.sources)) or "none configured"
        raise ConfigError(
            f"--source {options.source!r} is not a configured source ({known})",
            hint="define it as [sources.NAME] in auditlens.toml",
            ko=f"--source {options.source!r}은(는) 설정된 소스가 아닙니다 "
            f"({known if settings.sources else '설정된 소스 없음'})",
            ko_hint="auditlens.toml에 [sources.NAME]으로 정의하십시오",
        )
    name = options.source
    update: dict[str, object] = {}
    if isinstance(config, CertSourceConfig):  # CERT's columns and dates are its format's
        if pairs or options.date_order or options.encoding:
            raise ConfigError(
                f"--source {options.source!r} is a CERT source: --map, --date-order and "
                "--encoding do not apply to it",
                ko=f"--source {options.source!r}은(는) CERT 소스라 --map, --date-order, "
                "--encoding을 쓸 수 없습니다",
            )
        path = options.path or Path(config.path)
        rules = value_rules(settings, value_map=values)
        return CertSource(path, name=name if options.path is None else None, rules=rules)
    if isinstance(config, SqlSourceConfig | KafkaSourceConfig):
        what = "SQL" if isinstance(config, SqlSourceConfig) else "Kafka"
        if options.path is not None or options.encoding or options.format != "auto":
            raise ConfigError(
                f"--source {options.source!r} is a {what} source: a path, --format or "
                "--encoding does not apply to it",
                ko=f"--source {options.source!r}은(는) {what} 소스라 경로, --format, "
                "--encoding을 쓸 수 없습니다",
            )
    elif options.format == "cert":
        raise ConfigError(
            f"--format cert: --source {options.source!r} is not a CERT source",
            ko=f"--format cert: --source {options.source!r}은(는) CERT 소스가 아닙니다",
        )
    elif options.path is not None:  # read this path the way the source reads its own
        resolve_files(options.path, _FILE_FORMATS.get(options.format, config.format))
        update["path"] = str(options.path)
        name = f"{config.kind}:{options.path}"  # the source's watermark is for its own path
    update["column_map"] = {**config.column_map, **pairs}
    update["value_map"] = {**config.value_map, **(values or {})}
    update["date_order"] = options.date_order or config.date_order
    if isinstance(config, FileSourceConfig) and options.format != "auto":
        update["format"] = options.format
    if isinstance(config, FileSourceConfig) and options.id_scope is not None:
        update["id_scope"] = options.id_scope
    return make_source(name, config.model_copy(update=update), settings, encoding=options.encoding)


def source_folder(source: Source) -> Path | None:
    """The directory a file or CERT source reads from (for files kept beside the data)."""
    if isinstance(source, CertSource):
        return source.directory
    if isinstance(source, FileSource):
        return Path(source.path)
    return None


def parse_column_map(pairs: list[str]) -> dict[str, str]:
    """Parse ``CUSTOMER=CANONICAL`` pairs from the command line."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        customer, sep, canonical = pair.partition("=")
        if not sep or not customer.strip() or not canonical.strip():
            raise ConfigError(
                f"--map {pair!r} is not CUSTOMER=CANONICAL (e.g. login_time=timestamp)",
                ko=f"--map {pair!r}은(는) 고객열=표준열 형식이 아닙니다 (예: login_time=timestamp)",
            )
        if canonical.strip() not in EVENT_COLUMNS:
            raise ConfigError(
                f"--map {pair!r}: {canonical.strip()!r} is not a canonical column "
                f"(one of {', '.join(EVENT_COLUMNS)})",
                ko=f"--map {pair!r}: {canonical.strip()!r}은(는) 표준 열이 아닙니다 "
                f"({', '.join(EVENT_COLUMNS)} 중 하나)",
            )
        mapping[customer.strip()] = canonical.strip()
    return mapping


def sources_to_ingest(settings: Settings, options: InputOptions) -> list[Source]:
    """The input the command line names, else every configured source."""
    if options.given:
        return [input_source(settings, options)]
    if options.tuned:
        raise ConfigError(
            "--map, --value-map, --encoding, --date-order and --format need a PATH or "
            "--source NAME (each configured source has its own settings in auditlens.toml)",
            ko="--map, --value-map, --encoding, --date-order, --format은 경로나 --source 이름과 "
            "함께 써야 합니다 (설정된 소스는 auditlens.toml에 각자의 설정이 있습니다)",
        )
    if not settings.sources:
        raise ConfigError(
            "no input: give a PATH or configure [sources.NAME] in auditlens.toml",
            hint="see auditlens.example.toml",
            ko="입력이 없습니다: 경로를 지정하거나 auditlens.toml에 [sources.NAME]을 설정하십시오",
            ko_hint="auditlens.example.toml을 참고하십시오",
        )
    return [make_source(name, cfg, settings) for name, cfg in settings.sources.items()]
