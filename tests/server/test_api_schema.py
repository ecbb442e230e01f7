"""schemathesis against the OpenAPI document: generated requests to every operation, on a seeded store, and not
one answers 500 (bad input is a 4xx with a message)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from assay.server import create_app
from assay.tracking.client import Client

from .conftest import make_client, register_model, seed_dataset, seed_experiment, seed_runs


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    tmp = tmp_path_factory.mktemp("schema")
    c = make_client(f"sqlite:///{tmp / 'assay.db'}", tmp)
    seed_runs(c, n=2, tmp_path=tmp)
    register_model(c)
    c.set_alias("churn", "staging", 1)
    seed_dataset(c, tmp)
    seed_experiment(c)
    yield c
    c.close()


def _operations(app: object) -> list[schemathesis.APIOperation]:
    loaded = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    return [result.ok() for result in loaded.get_all_operations()]


@pytest.mark.slow
def test_no_generated_request_is_a_server_error(seeded: Client) -> None:
    operations = _operations(create_app(seeded, ui=False))
    assert len(operations) >= 45
    failures: list[str] = []
    calls = 0

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=5, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def call(case: schemathesis.Case) -> None:
                nonlocal calls
                calls += 1
                response = case.call(headers={"Authorization": "Bearer any-token-single-user-store"})
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}")
                else:  # every error is the one JSON shape
                    assert response.status_code < 400 or set(response.json()) == {"error", "message"}

            try:
                call()
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
                assert mode is GenerationMode.NEGATIVE
    assert calls > 200
    assert not failures, "\n".join(failures[:10])
