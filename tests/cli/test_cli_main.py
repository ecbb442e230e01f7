"""The ``assay`` entry point: help, version, error mapping, --debug, db, init and demo."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli.main import app, exit_code
from assay.config import Settings
from assay.errors import (
    AssayError,
    ConfigError,
    ConflictError,
    FilterSyntaxError,
    InvalidInputError,
    NotFoundError,
    StateError,
    StoreError,
    UnsafePathError,
)
from assay.store import Database, current_revision, head_revision

runner = CliRunner()


def test_console_script_help_runs_in_a_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "assay.cli.main", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("init", "runs", "models", "db", "demo"):
        assert command in proc.stdout


def test_version_and_no_args_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip().startswith("assay ")
    result = runner.invoke(app, [])
    assert "Usage" in result.output


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInputError("x"), 2),
        (FilterSyntaxError("x", text="a", position=0), 2),
        (UnsafePathError("x"), 2),
        (NotFoundError("x"), 3),
        (ConflictError("x"), 4),
        (StateError("x"), 1),
        (StoreError("x"), 1),
        (ConfigError("x"), 1),
        (AssayError("x"), 1),
        (RuntimeError("x"), 1),
    ],
)
def test_exit_codes(error, code):
    assert exit_code(error) == code


def test_errors_one_line_and_debug_traceback(client):
    args = ["--store-url", client.settings.store_url, "--artifacts-url", client.settings.artifacts_url]
    result = runner.invoke(app, [*args, "runs", "show", "f" * 32])
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: run 'ffff") and "Traceback" not in result.output
    result = runner.invoke(app, ["--debug", *args, "runs", "show", "f" * 32])
    assert isinstance(result.exception, NotFoundError)


def test_config_error_from_bad_toml(tmp_path, monkeypatch):
    (tmp_path / "assay.toml").write_text("store_url = 3\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["runs", "list"])
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and "store_url" in result.stderr


def test_unexpected_error_is_one_line(client, monkeypatch):
    def boom(*args, **kwargs):
        raise ZeroDivisionError("bad luck\nsecond line")

    monkeypatch.setattr("assay.tracking.client.Client.search_runs", boom)
    result = runner.invoke(app, ["--store-url", client.settings.store_url, "runs", "list"])
    assert result.exit_code == 1
    assert result.stderr == "error: unexpected ZeroDivisionError: bad luck (run again with --debug for the traceback)\n"


# -- db --------------------------------------------------------------------------------------------
def test_db_current_and_upgrade(store_url):
    before = runner.invoke(app, ["--store-url", store_url, "db", "current", "--json"])
    assert before.exit_code == 0, before.output
    assert json.loads(before.stdout) == {
        "store_url": Database(store_url).safe_url,
        "current": None,
        "head": head_revision(),
        "up_to_date": False,
    }
    if store_url.startswith("sqlite"):
        assert not Path(store_url.removeprefix("sqlite:///")).exists()  # reading never creates the store
    assert "no schema yet" in runner.invoke(app, ["--store-url", store_url, "db", "current"]).stdout
    result = runner.invoke(app, ["--store-url", store_url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"(empty) → {head_revision()}" in result.stdout
    assert current_revision(Database(store_url)) == head_revision()
    result = runner.invoke(app, ["--store-url", store_url, "db", "upgrade", "--json"])
    assert json.loads(result.stdout)["changed"] is False
    assert "(the newest)" in runner.invoke(app, ["--store-url", store_url, "db", "current"]).stdout


# -- init ------------------------------------------------------------------------------------------
def test_init_writes_settings_creates_stores_and_refuses_overwrite(store_url, tmp_path):
    folder = tmp_path / "project"
    args = ["--store-url", store_url, "--artifacts-url", str(tmp_path / "arts"), "--home", str(tmp_path / "h")]
    result = runner.invoke(app, [*args, "init", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Initialised assay" in result.stdout
    written = tomllib.loads((folder / "assay.toml").read_text())["assay"]
    assert written == {"home": str(tmp_path / "h"), "store_url": store_url, "artifacts_url": str(tmp_path / "arts")}
    assert "ASSAY_STORE_URL" in (folder / "assay.toml").read_text()  # explained in comments
    loaded = Settings.load(cwd=folder)  # ASSAY_HOME from the test environment still wins for home
    assert (loaded.store_url, loaded.artifacts_url) == (store_url, str(tmp_path / "arts"))
    assert (tmp_path / "arts").is_dir() and (tmp_path / "h").is_dir()
    assert current_revision(Database(store_url)) == head_revision()

    (folder / "assay.toml").write_text("# mine\n")
    result = runner.invoke(app, [*args, "init", str(folder)])
    assert result.exit_code == 4 and "already exists" in result.stderr and "--force" in result.stderr
    assert (folder / "assay.toml").read_text() == "# mine\n"
    assert runner.invoke(app, [*args, "init", str(folder), "--force"]).exit_code == 0
    assert "store_url" in (folder / "assay.toml").read_text()


def test_init_defaults_to_cwd_and_force_replaces_broken_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assay.toml").write_text("this is [ not toml")
    assert runner.invoke(app, ["init"]).exit_code == 4
    result = runner.invoke(app, ["init", "--force"])
    assert result.exit_code == 0, result.output
    written = tomllib.loads((tmp_path / "assay.toml").read_text())["assay"]
    assert written["home"] == str(tmp_path / "home")  # ASSAY_HOME set by the test fixture
    assert written["store_url"] == f"sqlite:///{tmp_path / 'home' / 'assay.db'}"
    assert (tmp_path / "home" / "assay.db").is_file() and (tmp_path / "home" / "artifacts").is_dir()


# -- demo ------------------------------------------------------------------------------------------
def test_demo_passes_options_console_and_client(client, monkeypatch):
    calls = {}

    def fake_run_demo(*, rows, seed, console, client):
        calls.update(rows=rows, seed=seed, store=client.settings.store_url)
        console.print("demo progress")
        return {"chosen": {"model_uri": "models:/churn/2"}, "rows": rows}

    monkeypatch.setitem(sys.modules, "assay.demo", types.SimpleNamespace(run_demo=fake_run_demo))
    args = ["--store-url", client.settings.store_url, "demo", "--rows", "600", "--seed", "3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert calls == {"rows": 600, "seed": 3, "store": client.settings.store_url}
    assert "demo progress" in result.stdout
    result = runner.invoke(app, [*args, "--json"])
    assert json.loads(result.stdout) == {"chosen": {"model_uri": "models:/churn/2"}, "rows": 600}
    assert "demo progress" in result.stderr


def test_demo_missing_module_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "assay.demo", None)
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 1 and "demo is not part of this installation" in result.stderr


@pytest.mark.slow
def test_demo_end_to_end(client):
    pytest.importorskip("assay.demo")
    s = client.settings
    args = ["--store-url", s.store_url, "--artifacts-url", s.artifacts_url, "--home", str(s.home)]
    result = runner.invoke(app, [*args, "demo", "--rows", "800", "--seed", "1", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["chosen"]["model_uri"].startswith("models:/churn/")
    listed = json.loads(runner.invoke(app, [*args, "runs", "list", "--project", "churn", "--json"]).stdout)
    assert len(listed) >= 2
    assert runner.invoke(app, [*args, "demo", "--rows", "10"]).exit_code == 2  # below the demo's minimum
