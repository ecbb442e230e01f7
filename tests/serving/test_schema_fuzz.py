"""schemathesis against the model server's OpenAPI document: valid and invalid generated requests, no 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from .conftest import Store


@pytest.mark.parametrize("uri", ["models:/churn@production", "models:/plans/1"])
def test_no_generated_request_is_a_server_error(store: Store, make_app: Callable, uri: str) -> None:
    app = make_app(uri, log=False)
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {"POST /predict", "POST /explain", "GET /model"}
    failures: list[str] = []
    statuses: set[int] = set()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def call(case: schemathesis.Case) -> None:
                response = case.call()
                statuses.add(response.status_code)
                if response.status_code >= 500 and response.status_code != 501:
                    failures.append(f"{case.method} {case.formatted_path} {case.body!r} -> {response.text}")
                elif response.status_code >= 400 and response.headers.get("content-type") == "application/json":
                    assert {"error", "message"} <= set(response.json())

            try:
                call()
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
                assert mode is GenerationMode.NEGATIVE
    assert not failures, "\n".join(failures[:10])
    assert 200 in statuses and 422 in statuses
