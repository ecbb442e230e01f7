"""Reading YAML definitions (experiments, metric catalogs, contracts, policies, monitors) from a path or text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from assay.errors import InvalidInputError

__all__ = ["load_yaml"]


def load_yaml(path_or_text: str | os.PathLike[str], what: str) -> Any:
    """Parse YAML from a file path or from text; errors name the line."""
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml is a dependency
        raise InvalidInputError("reading YAML needs pyyaml: pip install pyyaml") from exc
    text = os.fspath(path_or_text) if isinstance(path_or_text, os.PathLike) else path_or_text
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be YAML text or a path to a YAML file. Got {type(text).__name__}.")
    origin = "text"
    looks_like_path = "\n" not in text and (text.strip().endswith((".yaml", ".yml")) or os.path.isfile(text))
    if isinstance(path_or_text, os.PathLike) or looks_like_path:
        path = Path(text.strip())
        if not path.is_file():
            raise InvalidInputError(f"{what}: file not found: {str(path)!r}")
        try:
            origin, text = str(path), path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"{what}: cannot read {str(path)!r}: {exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInputError(f"{what} ({origin}) is not valid YAML{where}: {problem}") from exc
