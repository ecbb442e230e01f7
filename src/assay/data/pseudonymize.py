"""Pseudonymise columns with a keyed hash, so tables can still be joined but values cannot be read back.

Each listed column is replaced by ``HMAC-SHA256(key, value)`` written as lower-case hex (64 characters,
or the first ``digest_chars`` of them). The same value and key give the same token in every table, so
joins on pseudonymised ids keep working; without the key the raw value cannot be recovered or
confirmed by hashing guesses (unlike a plain, unkeyed hash). Nulls stay null.

What exactly is hashed (so that a token can be reproduced with Python's ``hmac``; see
:func:`pseudonymize_value`):

* string columns: the UTF-8 bytes of the value; binary columns: the bytes as stored;
* other scalar columns: the UTF-8 bytes of the value's text form (DuckDB ``CAST(x AS VARCHAR)``:
  ``42``, ``2024-01-02``, ``true``). Prefer string or integer ids: float and timestamp text forms
  are engine-specific. List, struct and map columns are refused;
* ``normalize`` (default off): ``"trim"`` strips leading/trailing spaces (spaces only, like SQL
  ``trim``), ``"lower"`` trims and lower-cases (use it for e-mail addresses). Either for all columns,
  or per column as a dict.

``digest_chars`` truncates the hex digest: 64 (the default) keeps all 256 bits. Shorter tokens can
collide — two people sharing one token, wrongly merged by a join: with ``b = 4 * digest_chars`` bits
and ``n`` distinct values the chance of any collision is about ``n**2 / 2**(b + 1)`` (16 characters:
~3% for a billion values; 32 characters: negligible). Keep 32 or more for join keys.

The hashing runs inside DuckDB, vectorised and on every core (``sha256`` over the key pads and the
value: the standard HMAC construction, RFC 2104), so a 10-million-row table never becomes Python
objects: with ``output`` DuckDB's parallel Parquet writer streams the rows to a temporary file that is
renamed into place; without it the rows come back as Arrow record batches. Sources on other engines
(PostgreSQL, Spark) are fetched as Arrow first, then hashed locally. Every other column is kept as it is.

Example::

    pseudonymize("customers.parquet", ["email", "customer_id"], key, output="customers_pseudo.parquet",
                  normalize={"email": "lower"})
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from assay.data.sources import Bound, bind
from assay.engine import Engine, connect
from assay.engine.sqlcheck import quote_identifier as quote
from assay.errors import AssayError, InvalidInputError, StoreError
from assay.results import ResultMixin

__all__ = ["PseudonymizeResult", "key_id", "pseudonymize", "pseudonymize_value"]

Normalize = Literal["trim", "lower"]
_MIN_KEY_BYTES = 16
_BLOCK = 64  # SHA-256 block size: HMAC pads the key to this
_BATCH_ROWS = 262_144
_PROGRESS_MIN_ROWS = 1_000_000
_METADATA_KEY = b"assay.pseudonymized"


@dataclass(frozen=True)
class PseudonymizeResult(ResultMixin):
    """What :func:`pseudonymize` wrote: the Parquet ``path``, its ``rows`` and the pseudonymised ``columns``.

    ``key_id`` identifies the key (an HMAC of a fixed label, not the key itself): tables with the
    same ``key_id`` and settings can be joined on their tokens.
    """

    path: str
    rows: int
    columns: tuple[str, ...]
    key_id: str
    digest_chars: int
    normalize: dict[str, str]
    source: str

    def summary(self) -> str:
        cols = ", ".join(self.columns)
        norm = (
            "; values normalised first (" + ", ".join(f"{c}: {m}" for c, m in self.normalize.items()) + ")"
            if self.normalize
            else ""
        )
        return (
            f"Wrote {self.rows:,} rows from {self.source} to {self.path} with {cols} replaced by keyed "
            f"HMAC-SHA256 tokens ({self.digest_chars} hex characters, key id {self.key_id}){norm}. "
            "Tables pseudonymised with the same key can still be joined on these columns."
        )


def _key_bytes(key: bytes | bytearray | str) -> bytes:
    if isinstance(key, str):
        raw = key.encode("utf-8")
    elif isinstance(key, bytes | bytearray):
        raw = bytes(key)
    else:
        raise InvalidInputError(f"key must be bytes or str, got {type(key).__name__}")
    if len(raw) < _MIN_KEY_BYTES:
        raise InvalidInputError(
            f"key is {len(raw)} bytes; use at least {_MIN_KEY_BYTES} random bytes (e.g. secrets.token_bytes(32)) "
            "kept in a secret store"
        )
    return raw


def key_id(key: bytes | str) -> str:
    """A short public identifier of ``key`` (12 hex characters): same key, same id; reveals nothing of the key."""
    return hmac.new(_key_bytes(key), b"assay:key-id", hashlib.sha256).hexdigest()[:12]


def _check_digest_chars(digest_chars: int) -> int:
    if isinstance(digest_chars, bool) or not isinstance(digest_chars, int) or not 8 <= digest_chars <= 64:
        raise InvalidInputError(f"digest_chars must be an integer from 8 to 64 (hex characters); got {digest_chars!r}")
    return digest_chars


def _check_mode(mode: object, column: str | None = None) -> str | None:
    if mode is None or mode == "none":
        return None
    if mode in ("trim", "lower"):
        return str(mode)
    where = f" for column {column!r}" if column else ""
    raise InvalidInputError(f"normalize{where} must be None, 'trim' or 'lower'; got {mode!r}")


def pseudonymize_value(
    value: object, key: bytes | str, *, normalize: Normalize | None = None, digest_chars: int = 64
) -> str | None:
    """The token :func:`pseudonymize` writes for one ``value`` (``None`` stays ``None``).

    Use it to look up one person's rows in pseudonymised data, or to check the algorithm::

        >>> pseudonymize_value("ada@example.com", b"0123456789abcdef")[:16]
        '512383176ce1b4c2'
    """
    raw = _key_bytes(key)
    digest_chars = _check_digest_chars(digest_chars)
    mode = _check_mode(normalize)
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        message = bytes(value)
    else:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if mode is not None:
            text = text.strip(" ")
        if mode == "lower":
            text = text.lower()
        message = text.encode("utf-8")
    return hmac.new(raw, message, hashlib.sha256).hexdigest()[:digest_chars]


def _pads(raw: bytes) -> tuple[bytes, bytes]:
    """HMAC's inner and outer key pads (RFC 2104): the key hashed when longer than a block, zero-padded."""
    if len(raw) > _BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in raw), bytes(b ^ 0x5C for b in raw)


def _resolve_columns(columns: str | Sequence[str], available: Sequence[str], label: str) -> list[str]:
    wanted = [columns] if isinstance(columns, str) else list(columns or [])
    if not wanted or not all(isinstance(c, str) for c in wanted):
        raise InvalidInputError("pass the names of the columns to pseudonymise, e.g. ['email', 'customer_id']")
    lower = {}
    for name in available:
        lower.setdefault(name.lower(), []).append(name)
    resolved: list[str] = []
    missing: list[str] = []
    for name in wanted:
        if name in available:
            hit = name
        elif len(lower.get(name.lower(), [])) == 1:  # PostgreSQL folds names to lower case
            hit = lower[name.lower()][0]
        else:
            missing.append(name)
            continue
        if hit not in resolved:
            resolved.append(hit)
    if missing:
        raise InvalidInputError(
            f"no column {', '.join(repr(m) for m in missing)} in {label}; its columns are: {', '.join(available)}"
        )
    return resolved


def _message_sql(column: str, dtype: pa.DataType, mode: str | None) -> str:
    ident = quote(column)
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_fixed_size_binary(dtype):
        return f"CAST({ident} AS BLOB)"
    if pa.types.is_nested(dtype):
        raise InvalidInputError(
            f"column {column!r} holds {dtype} values, which cannot be pseudonymised; pseudonymise scalar columns "
            "(ids, e-mails, names)"
        )
    text = f"CAST({ident} AS VARCHAR)"
    if mode is not None:
        text = f"trim({text})"
    if mode == "lower":
        text = f"lower({text})"
    return f"encode({text})"


def _select(schema: pa.Schema, targets: list[str], modes: dict[str, str], digest_chars: int, relation: str) -> str:
    items = []
    for field in schema:
        ident = quote(field.name)
        if field.name in targets:
            msg = _message_sql(field.name, field.type, modes.get(field.name))
            token = f"sha256($opad || unhex(sha256($ipad || {msg})))"
            if digest_chars < 64:
                token = f"substr({token}, 1, {digest_chars})"
            items.append(f"{token} AS {ident}")
        else:
            items.append(ident)
    return f"SELECT {', '.join(items)} FROM {relation}"


def _reader(con: Any, sql: str, params: dict[str, object], batch_rows: int) -> pa.RecordBatchReader:
    relation = con.sql(sql, params=params)
    for name in ("to_arrow_reader", "fetch_record_batch", "record_batch"):  # DuckDB 2.x, 1.x, older
        method = getattr(relation, name, None)
        if method is not None:
            return method(batch_rows)
    raise StoreError("this DuckDB version cannot stream Arrow record batches")  # pragma: no cover


@contextmanager
def _local_duckdb(bound: Bound) -> Iterator[tuple[Any, str, pa.Schema]]:
    """The DuckDB connection, relation and Arrow schema to hash from (a local copy for other engines)."""
    if bound.engine.dialect == "duckdb":
        yield bound.engine.native, bound.relation, bound.engine.schema(bound.relation)
        return
    table = bound.engine.sql(f"SELECT * FROM {bound.relation}")  # warehouse rows come back as Arrow
    with connect() as local:
        local.register("_assay_pseudo_src", table)
        yield local.native, "_assay_pseudo_src", table.schema


def _want_progress(show_progress: bool | None, rows: int | None) -> bool:
    if show_progress is not None:
        return bool(show_progress)
    return _tty() and (rows or 0) >= _PROGRESS_MIN_ROWS


@contextmanager
def _progress(enabled: bool, total: float | None, label: str, *, percent: bool = False) -> Iterator[Any]:
    """A Rich progress bar on stderr; yields ``advance(n, absolute=False)`` (a no-op when disabled)."""
    if not enabled:
        yield lambda n, absolute=False: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    count = TaskProgressColumn() if percent else MofNCompleteColumn()
    with Progress(
        TextColumn("[bold]pseudonymising[/] {task.description}"),
        BarColumn(),
        count,
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)

        def advance(n: float, absolute: bool = False) -> None:
            if absolute:
                bar.update(task, completed=n)
            else:
                bar.advance(task, n)

        yield advance


def _tty() -> bool:
    return sys.stderr.isatty()


def _row_count(con: Any, relation: str) -> int | None:
    try:
        return int(con.sql(f"SELECT count(*) AS n FROM {relation}").fetchall()[0][0])
    except Exception:  # an unreadable source is reported by the main query
        return None


@contextmanager
def _duckdb_progress(con: Any, enabled: bool, label: str) -> Iterator[None]:
    """Show DuckDB's own query progress (polled from a thread) while one statement runs; settings restored."""
    if not enabled:
        yield
        return
    names = ("enable_progress_bar", "enable_progress_bar_print")
    saved = [con.sql(f"SELECT current_setting('{n}')").fetchall()[0][0] for n in names]
    con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
    done = threading.Event()
    with _progress(True, 100, label, percent=True) as advance:

        def poll() -> None:
            while not done.wait(0.25):
                advance(max(0.0, float(con.query_progress())), absolute=True)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            advance(100.0, absolute=True)
            for n, v in zip(names, saved, strict=True):
                con.execute(f"SET {n} = {'true' if v else 'false'}")


def _atomic_target(output: str | os.PathLike[str]) -> Path:
    path = Path(output).expanduser()
    if path.is_dir():
        raise InvalidInputError(
            f"output {str(path)!r} is a folder; pass a file path such as {str(path / 'out.parquet')!r}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def pseudonymize(
    source: object,
    columns: str | Sequence[str],
    key: bytes | str,
    *,
    output: str | os.PathLike[str] | None = None,
    engine: Engine | None = None,
    normalize: Normalize | Mapping[str, Normalize | None] | None = None,
    digest_chars: int = 64,
    show_progress: bool | None = None,
    batch_rows: int = _BATCH_ROWS,
) -> PseudonymizeResult | pa.Table:
    """Replace ``columns`` of ``source`` with keyed HMAC-SHA256 hex tokens; nulls stay null.

    ``source``: anything :func:`assay.data.sources.bind` accepts (a Parquet/CSV path, glob or folder, a
    DataFrame, an Arrow table, or with ``engine=`` a table name or SELECT). ``key``: at least 16 bytes
    (a ``str`` is taken as its UTF-8 bytes) — keep it secret and the same across tables you want to join.
    ``normalize``: ``None`` (default), ``"trim"`` or ``"lower"``, for all columns or as ``{column: mode}``.
    ``digest_chars``: hex characters kept (8–64; default 64, the full digest). ``batch_rows``: Arrow
    record batch size when returning a table.

    With ``output`` a Parquet file is written atomically (a temporary file renamed into place) and a
    :class:`PseudonymizeResult` returned; without it the result is a pyarrow Table. Both carry the
    settings (columns, key id, digest length, normalisation) in the schema metadata ``assay.pseudonymized``.
    A progress bar shows on stderr for long runs in a terminal (or with ``show_progress=True``).

    Raises :class:`~assay.errors.InvalidInputError` for a short key, an unknown column (naming the
    columns there), a nested column or an unreadable source.
    """
    raw = _key_bytes(key)
    digest_chars = _check_digest_chars(digest_chars)
    if not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidInputError(f"batch_rows must be a positive integer; got {batch_rows!r}")
    ipad, opad = _pads(raw)
    with bind(source, engine, name="pseudo") as bound:
        targets = _resolve_columns(columns, list(bound.columns), bound.label)
        if isinstance(normalize, Mapping):
            _resolve_columns(list(normalize), targets, "the columns to pseudonymise")
            modes = {c: m for c in targets if (m := _check_mode(_lookup(normalize, c), c)) is not None}
        else:
            mode = _check_mode(normalize)
            modes = {c: mode for c in targets} if mode else {}
        meta = {
            "algorithm": "HMAC-SHA256",
            "columns": targets,
            "key_id": key_id(raw),
            "digest_chars": digest_chars,
            "normalize": modes,
        }
        with _local_duckdb(bound) as (con, relation, schema):
            sql = _select(schema, targets, modes, digest_chars, relation)
            params = {"ipad": ipad, "opad": opad}
            total = _row_count(con, relation) if show_progress or (show_progress is None and _tty()) else None
            progress = _want_progress(show_progress, total)
            if output is None:
                return _collect(con, sql, params, batch_rows, meta, progress, total, bound.label)
            path = _atomic_target(output)
            rows = _copy(con, sql, params, path, meta, progress, bound.label)
    return PseudonymizeResult(
        path=str(path),
        rows=rows,
        columns=tuple(targets),
        key_id=str(meta["key_id"]),
        digest_chars=digest_chars,
        normalize=modes,
        source=bound.label,
    )


def _lookup(mapping: Mapping[str, Any], column: str) -> Any:
    if column in mapping:
        return mapping[column]
    return next((v for k, v in mapping.items() if k.lower() == column.lower()), None)


def _translate(exc: Exception, label: str) -> AssayError:
    if isinstance(exc, AssayError):
        return exc
    return InvalidInputError(f"cannot read {label!r}: {str(exc).strip().splitlines()[0]}")


def _batches(reader: pa.RecordBatchReader, label: str) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except AssayError:
            raise
        except Exception as exc:  # a corrupt file surfaces only once its rows are read
            raise _translate(exc, label) from exc
        yield batch


def _collect(
    con: Any, sql: str, params: dict, batch_rows: int, meta: dict, progress: bool, total: int | None, label: str
) -> pa.Table:
    """Stream the hashed rows as record batches (the hashing runs in DuckDB) into one Arrow table."""
    try:
        reader = _reader(con, sql, params, batch_rows)
    except Exception as exc:
        raise _translate(exc, label) from exc
    try:
        schema = reader.schema.with_metadata({**(reader.schema.metadata or {}), _METADATA_KEY: json.dumps(meta)})
        batches = []
        with _progress(progress, total, label) as advance:
            for batch in _batches(reader, label):
                batches.append(batch)
                advance(batch.num_rows)
        return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()
    finally:
        reader.close()


def _copy(con: Any, sql: str, params: dict, path: Path, meta: dict, progress: bool, label: str) -> int:
    """Write the hashed rows with DuckDB's parallel Parquet writer to a temporary file, then rename it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    kv = json.dumps(meta).replace("'", "''")
    target = "'" + str(tmp).replace("'", "''") + "'"
    copy = f"COPY ({sql}) TO {target} (FORMAT parquet, KV_METADATA {{'{_METADATA_KEY.decode()}': '{kv}'}})"
    try:
        with _duckdb_progress(con, progress, label):
            rows = con.execute(copy, params).fetchall()[0][0]
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, Exception) and not isinstance(exc, AssayError):
            raise _translate(exc, label) from exc
        raise
    return int(rows)
