"""Fixtures for command-line tests: invoke ``assay`` against the test client's stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from assay.cli.main import app
from assay.tracking.client import Client

Invoke = Callable[..., Result]


def store_args(client: Client) -> list[str]:
    """The global options that point the CLI at ``client``'s stores."""
    s = client.settings
    return ["--store-url", s.store_url, "--artifacts-url", s.artifacts_url, "--home", str(s.home)]


@pytest.fixture
def cli(client: Client) -> Invoke:
    """``cli("runs", "list")`` runs ``assay --store-url ... runs list`` on a 200-column terminal."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, [*store_args(client), *args], env={"COLUMNS": "200", **(env or {})})

    return invoke


def ok_json(result: Result) -> Any:
    """The JSON a successful ``--json`` command printed (stdout must hold nothing else)."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def failed(result: Result, code: int) -> str:
    """The stderr of a command that must have failed with ``code`` and a one-line ``error:`` message."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stdout == ""
    return result.stderr


@pytest.fixture(name="ok_json")
def _ok_json() -> Callable[[Result], Any]:
    """The :func:`ok_json` helper, as a fixture."""
    return ok_json


@pytest.fixture(name="failed")
def _failed() -> Callable[[Result, int], str]:
    """The :func:`failed` helper, as a fixture."""
    return failed
