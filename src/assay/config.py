"""Settings from the environment or an ``assay.toml`` in the working folder.

Precedence, highest first: explicit arguments, environment variables (``ASSAY_HOME``,
``ASSAY_STORE_URL``, ``ASSAY_ARTIFACTS_URL``, ``ASSAY_TRACKING_URL``, ``ASSAY_TOKEN``), ``assay.toml`` (keys
``home``, ``store_url``, ``artifacts_url``, ``tracking_url``, ``token``, optionally under an ``[assay]`` table),
then the defaults::

    home          ~/.assay
    store_url     sqlite:///<home>/assay.db
    artifacts_url <home>/artifacts
    tracking_url  none: the stores are used directly (embedded mode)

With a ``tracking_url`` (``http://host:5000``) the client talks to an assay server instead of the stores
(remote mode, :mod:`assay.tracking.remote`). An explicit ``store_url`` argument wins over a tracking URL from
the environment or the file, so code (and the server itself) that names its store stays embedded.

Example::

    settings = Settings.load()
    settings.store_url   # 'sqlite:////home/me/.assay/assay.db'
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from assay.errors import ConfigError

__all__ = ["Settings"]

_KEYS = ("home", "store_url", "artifacts_url", "tracking_url", "token")


@dataclass(frozen=True)
class Settings:
    """Where assay keeps its metadata and artifacts."""

    home: Path
    store_url: str
    artifacts_url: str
    token: str | None = None  # API token of the user acting (ASSAY_TOKEN); unused while the store has no users
    tracking_url: str | None = None  # an assay server (ASSAY_TRACKING_URL): remote mode instead of the stores

    @classmethod
    def load(
        cls,
        *,
        home: str | os.PathLike[str] | None = None,
        store_url: str | None = None,
        artifacts_url: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        token: str | None = None,
        tracking_url: str | None = None,
    ) -> Settings:
        """Resolve settings from arguments, environment and ``assay.toml`` (see module docs)."""
        file_values = _read_toml(Path(cwd or os.getcwd()) / "assay.toml")
        home_val = home or os.environ.get("ASSAY_HOME") or file_values.get("home") or "~/.assay"
        home_path = Path(home_val).expanduser()
        store = (
            store_url
            or os.environ.get("ASSAY_STORE_URL")
            or file_values.get("store_url")
            or f"sqlite:///{home_path / 'assay.db'}"
        )
        artifacts = (
            artifacts_url
            or os.environ.get("ASSAY_ARTIFACTS_URL")
            or file_values.get("artifacts_url")
            or str(home_path / "artifacts")
        )
        token = token or os.environ.get("ASSAY_TOKEN") or file_values.get("token") or None
        if tracking_url is None and store_url is None:
            tracking_url = os.environ.get("ASSAY_TRACKING_URL") or file_values.get("tracking_url") or None
        if tracking_url is not None:
            tracking_url = _check_tracking_url(tracking_url)
        return cls(home=home_path, store_url=store, artifacts_url=artifacts, token=token, tracking_url=tracking_url)


def _check_tracking_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise ConfigError(
            f"tracking URL {url!r} is not an http(s) URL; set ASSAY_TRACKING_URL to the server, e.g. http://host:5000"
        )
    return url


def _read_toml(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}. Fix the file or remove it.") from exc
    table = data.get("assay", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [assay] must be a table of settings")
    unknown = sorted(set(table) - set(_KEYS) - {"assay"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {unknown}; known settings are {list(_KEYS)}")
    out: dict[str, str] = {}
    for key in _KEYS:
        if key in table:
            if not isinstance(table[key], str):
                raise ConfigError(f"{path}: '{key}' must be a string, got {type(table[key]).__name__}")
            out[key] = table[key]
    return out
