"""What the compiler needs to know about sources: safe identifiers, column names and types, FROM clauses.

Columns are looked up once per source through :meth:`assay.engine.Engine.columns` (a SELECT is planned,
not scanned), so a metric that names a missing column fails before any query runs, with the metric and
the column in the message.
"""

from __future__ import annotations

import difflib

from assay.engine import Engine
from assay.engine.sqlcheck import parse_select
from assay.engine.sqlcheck import quote_identifier as quote
from assay.errors import AssayError, InvalidInputError
from assay.experiments.metrics import is_table_name

__all__ = ["SourceColumns", "from_clause", "is_number", "is_text", "is_time", "quote", "relation", "short"]


def relation(source: str) -> str:
    return ".".join(quote(part) for part in source.split(".")) if is_table_name(source) else source


class SourceColumns:
    """Column names and types of sources, looked up once per source; names resolved case-insensitively."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self._cache: dict[str, dict[str, str]] = {}

    def of(self, source: str, owner: str) -> dict[str, str] | None:
        if self.engine is None:
            return None
        if source not in self._cache:
            try:
                self._cache[source] = self.engine.columns(source)
            except AssayError as exc:
                raise InvalidInputError(f"{owner}: cannot read its source {short(source)!r}: {exc}") from exc
        return self._cache[source]

    def resolve(self, source: str, name: str, owner: str, what: str) -> str:
        cols = self.of(source, owner)
        if cols is None or name in cols:
            return name
        folded = [c for c in cols if c.lower() == name.lower()]
        if len(folded) == 1:
            return folded[0]
        close = difflib.get_close_matches(name, list(cols), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InvalidInputError(
            f"{owner}: column {name!r} ({what}) not found in {short(source)!r}.{hint} Columns there: {', '.join(cols)}."
        )

    def require_time(self, source: str, name: str, owner: str) -> None:
        """Raise unless ``name`` is a TIMESTAMP or DATE column (unknown types pass)."""
        kind = self.type_of(source, name)
        if not is_time(kind):
            raise InvalidInputError(
                f"{owner}: timestamp_column {name!r} is {kind}, not a TIMESTAMP or DATE; CAST it in a SELECT source."
            )

    def type_of(self, source: str, name: str) -> str:
        cols = self.of(source, "") or {}
        return cols.get(name, "").upper()


def short(source: str) -> str:
    text = " ".join(source.split())
    return text if len(text) <= 60 else text[:57] + "..."


def is_text(type_name: str) -> bool:
    return any(t in type_name for t in ("CHAR", "TEXT", "STRING"))


def is_number(type_name: str) -> bool:
    return any(t in type_name for t in ("INT", "DECIMAL", "NUMERIC", "DOUBLE", "FLOAT", "REAL"))


def is_time(type_name: str) -> bool:
    return not type_name or "TIME" in type_name or "DATE" in type_name


def from_clause(source: str, alias: str) -> str:
    """``events AS v``, or a user SELECT (re-generated from its parsed tree, so only that SELECT) as ``(...) AS v``."""
    if is_table_name(source):
        return f"{relation(source)} AS {alias}"
    body = parse_select(source).sql(dialect="duckdb", pretty=True)
    return "(\n" + indent(body, 4) + f"\n  ) AS {alias}"


def indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line if line else line for line in text.splitlines())
