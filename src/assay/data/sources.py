"""Turn what a user passes as a data source into something an engine can query.

``data.profile``, ``Contract.validate``, ``schema_diff``, ``scan_pii`` and ``monitoring.drift`` all
accept the same things:

* a path, glob or folder of Parquet/CSV/JSON files;
* a pandas DataFrame or a pyarrow Table (scanned in place by DuckDB, never copied to pandas);
* with ``engine=``: the name of a table the engine can see, or a read-only ``SELECT``.

:func:`bind` registers the source under a fresh name on the engine (opening a DuckDB engine when none
is given, and closing it afterwards) and yields a :class:`Bound` with the SQL relation to put after
``FROM``, its columns and the engine.

Example::

    with bind("orders.parquet") as src:
        src.engine.sql(f"select count(*) as n from {src.relation}")
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assay.engine import Engine, connect
from assay.engine.sqlcheck import parse_select
from assay.engine.sqlcheck import quote_identifier as quote
from assay.errors import AssayError, InvalidInputError

__all__ = ["Bound", "bind", "describe_source", "is_query_or_table", "looks_like_files", "quote"]

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")
_counter = itertools.count()


@dataclass(frozen=True)
class Bound:
    """A source made queryable: ``relation`` goes after ``FROM``; ``columns`` maps name → engine type."""

    engine: Engine
    relation: str
    columns: dict[str, str]
    label: str
    owned: bool = False  # the engine was opened for this source alone (and is closed with it)

    def __str__(self) -> str:
        return self.label


def describe_source(source: object) -> str:
    """A short human label for ``source`` (used in messages and stored results)."""
    if isinstance(source, str | os.PathLike):
        text = " ".join(os.fspath(source).split())
        if not is_query_or_table(text) or _TABLE.match(text):  # paths and table names in full
            return text
        return text if len(text) <= 80 else text[:77] + "..."
    if type(source).__name__ == "DataFrame":
        return f"DataFrame[{len(source)} rows]"  # type: ignore[arg-type]
    if type(source).__name__ == "Table" and hasattr(source, "num_rows"):
        return f"Arrow table[{source.num_rows} rows]"
    return type(source).__name__


def is_query_or_table(source: str) -> bool:
    """Whether ``source`` reads as a table name or a SELECT (rather than a file path)."""
    return bool(_TABLE.match(source)) or source.lstrip().lower().startswith(("select", "with", "("))


@contextmanager
def bind(source: object, engine: Engine | None = None, *, name: str = "src") -> Iterator[Bound]:
    """Make ``source`` queryable on ``engine`` (a new in-process DuckDB when ``None``).

    A string that names an existing file, glob or folder is read as files; otherwise, with an
    ``engine``, a table name or a ``SELECT`` is used as given (the SELECT checked read-only first).
    Raises :class:`~assay.errors.InvalidInputError` naming what to fix.
    """
    if isinstance(source, Bound):
        yield source
        return
    owned = engine is None
    # our own engine: results are aggregates or samples, so DuckDB need not keep row order (less memory, faster)
    eng = connect(preserve_insertion_order=False) if engine is None else engine
    label = describe_source(source)
    try:
        if isinstance(source, str) and not looks_like_files(source) and is_query_or_table(source):
            if owned:
                raise InvalidInputError(
                    f"{label!r} is not an existing file: to read a table or a SELECT, pass engine= "
                    "(assay.engine.connect(...)) that can see it"
                )
            if _TABLE.match(source):
                relation = ".".join(quote(p) for p in source.split("."))
            else:
                relation = "(" + parse_select(source).sql(dialect="duckdb") + ")"
        else:
            reg = f"_assay_{name}_{next(_counter)}"
            eng.register(reg, source)
            relation = reg
        try:
            columns = eng.columns(relation if not relation.startswith("(") else source)  # type: ignore[arg-type]
        except AssayError as exc:
            raise InvalidInputError(f"cannot read the source {label!r}: {exc}") from exc
        yield Bound(engine=eng, relation=relation, columns=columns, label=label, owned=owned)
    finally:
        if owned:
            eng.close()


def looks_like_files(source: str) -> bool:
    """Whether ``source`` names files: an existing path, a glob, a URL or a data-file suffix."""
    if any(ch in source for ch in "*?[") and not source.lstrip().lower().startswith(("select", "with")):
        return True
    if "://" in source:
        return True
    try:
        return Path(source).exists() or Path(source).suffix.lower() in {".parquet", ".csv", ".json", ".pq"}
    except (OSError, ValueError):
        return False
