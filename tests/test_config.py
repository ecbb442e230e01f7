"""Settings resolution: arguments > environment > assay.toml > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.config import Settings
from assay.errors import ConfigError


def test_defaults_follow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "h"))
    s = Settings.load(cwd=tmp_path)
    assert s.home == tmp_path / "h"
    assert s.store_url == f"sqlite:///{tmp_path / 'h' / 'assay.db'}"
    assert s.artifacts_url == str(tmp_path / "h" / "artifacts")


def test_toml_then_env_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "assay.toml").write_text('[assay]\nstore_url = "sqlite:////from/toml.db"\nartifacts_url = "/toml/a"\n')
    s = Settings.load(cwd=tmp_path)
    assert s.store_url == "sqlite:////from/toml.db" and s.artifacts_url == "/toml/a"
    monkeypatch.setenv("ASSAY_STORE_URL", "sqlite:////from/env.db")
    assert Settings.load(cwd=tmp_path).store_url == "sqlite:////from/env.db"
    assert Settings.load(cwd=tmp_path, store_url="sqlite:////arg.db").store_url == "sqlite:////arg.db"


def test_flat_toml_also_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSAY_HOME")
    (tmp_path / "assay.toml").write_text('home = "/srv/assay"\n')
    s = Settings.load(cwd=tmp_path)
    assert s.home == Path("/srv/assay") and s.store_url == "sqlite:////srv/assay/assay.db"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("store_url = [", "cannot parse"),
        ("[assay]\nstore = 'x'\n", "unknown setting"),
        ("[assay]\nstore_url = 3\n", "must be a string"),
    ],
)
def test_bad_toml(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "assay.toml").write_text(content)
    with pytest.raises(ConfigError, match=match):
        Settings.load(cwd=tmp_path)
