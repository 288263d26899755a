"""schemathesis over the OpenAPI document, in process, with a valid key: no server error,
no undocumented status or content type, responses matching their schemas."""

from __future__ import annotations

from pathlib import Path

import hypothesis
import schemathesis

from auditlens.api.app import create_app
from auditlens.config import Settings
from auditlens.pipeline.keys import create_key
from auditlens.store.repo import Store


def test_api_conforms_to_its_openapi(tmp_path: Path) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'store.db'}",  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
        principals={"park": ["admin"]},
    )
    Store.open(settings, migrate=True).close()
    secret = create_key(settings, "schemathesis", "admin", who_am_i=lambda: "park").secret
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/healthz", "/readyz", "/v1/whoami"}
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=25, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"X-API-Key": secret})

        check()
