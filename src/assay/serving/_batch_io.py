"""Streaming input and output for batch scoring: Arrow record batches in, Parquet or CSV out.

Nothing here holds more than a few record batches at a time. Inputs are read with pyarrow's
streaming readers (``ParquetFile.iter_batches`` per file, ``pyarrow.csv.open_csv``), or, for a
table or ``SELECT`` on an engine, with DuckDB's Arrow record-batch reader. Outputs are written to a
temporary file next to the target and renamed into place only once every row is written, so a
failed run never leaves a half-written file under the target's name.

Example::

    src = open_source("data.parquet", None, batch_rows=131_072, column_types={})
    with OutputWriter(Path("out.parquet"), src.schema) as out:
        for batch in src.batches:
            out.write(batch)
"""

from __future__ import annotations

import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa

from assay.errors import AssayError, InvalidInputError, StoreError

__all__ = ["OutputWriter", "Source", "open_source", "prefetch", "target_path"]

_CSV_BLOCK_BYTES = 16 << 20


@dataclass
class Source:
    """An opened input: its Arrow ``schema``, a lazy iterator of record ``batches``, ``rows`` when known."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    rows: int | None
    label: str
    close: Callable[[], None] = lambda: None
    files: tuple[str, ...] = ()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _guarded(batches: Iterator[pa.RecordBatch], label: str) -> Iterator[pa.RecordBatch]:
    """Re-raise reader failures (a corrupt page shows up only when its rows are read) as typed errors."""
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except AssayError:
            raise
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read {label!r}: {_first_line(exc)}; is the file complete?") from exc
        yield batch


def open_source(
    source: object,
    engine: Any,
    *,
    batch_rows: int,
    column_types: dict[str, pa.DataType],
    columns: list[str] | None = None,
) -> Source:
    """Open ``source`` for streaming: Parquet/CSV path, glob or folder; Arrow table or reader; pandas
    DataFrame; or, with ``engine``, a table name or ``SELECT``. ``column_types`` types CSV columns;
    ``columns`` (when not ``None``) is all that is needed, so Parquet reads only those that exist.
    """
    from assay.data.sources import describe_source, is_query_or_table, looks_like_files

    label = describe_source(source)
    if isinstance(source, pa.RecordBatchReader):
        return Source(source.schema, _guarded(iter(source), label), None, label, source.close)
    if isinstance(source, pa.Table):
        return Source(source.schema, iter(source.to_batches(max_chunksize=batch_rows)), source.num_rows, label)
    if type(source).__name__ == "DataFrame" and type(source).__module__.startswith("pandas"):
        table = pa.Table.from_pandas(source, preserve_index=False)  # type: ignore[arg-type]
        return Source(table.schema, iter(table.to_batches(max_chunksize=batch_rows)), table.num_rows, label)
    if not isinstance(source, str | os.PathLike):
        raise InvalidInputError(
            f"cannot score a {type(source).__name__}: pass a Parquet/CSV path, glob or folder, a pandas "
            "DataFrame, a pyarrow Table or RecordBatchReader, or a table name / SELECT with engine="
        )
    text = os.fspath(source)
    if not looks_like_files(text) and is_query_or_table(text):
        if engine is None:
            raise InvalidInputError(
                f"{label!r} is not an existing file: to score a table or a SELECT, pass engine= "
                "(assay.engine.connect(...)) or --engine URL that can see it"
            )
        return _engine_source(text, engine, batch_rows, label)
    from assay.engine.base import classify_source

    found = classify_source(text)
    if found.fmt == "parquet":
        return _parquet_source(found.files, batch_rows, label, columns)
    if found.fmt == "csv":
        return _csv_source(found.files, column_types, label)
    raise InvalidInputError(f"cannot score {label!r} ({found.fmt}): convert it to Parquet or CSV first")


def _parquet_source(files: list[str], batch_rows: int, label: str, columns: list[str] | None) -> Source:
    import pyarrow.parquet as pq

    opened = []
    for path in files:
        try:
            # pre_buffer would fetch every row group's column chunks up front: the whole file in memory
            opened.append(pq.ParquetFile(path, memory_map=False, pre_buffer=False))
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInputError(
                f"cannot read {path!r} as Parquet: {_first_line(exc)}; is it a complete Parquet file?"
            ) from exc
    schema = opened[0].schema_arrow
    for path, pf in zip(files[1:], opened[1:], strict=True):
        if not pf.schema_arrow.equals(schema):
            raise InvalidInputError(
                f"{path!r} has columns {pf.schema_arrow.names} of other types than {files[0]!r} "
                f"({schema.names}); score files with one schema at a time"
            )

    if columns is not None:  # the columns that are there; a missing one is reported by the caller
        wanted = set(columns)
        schema = pa.schema([field for field in schema if field.name in wanted], metadata=schema.metadata)
    names = schema.names

    def batches() -> Iterator[pa.RecordBatch]:
        for pf in opened:
            yield from pf.iter_batches(batch_size=batch_rows, columns=names, use_threads=False)

    def close() -> None:
        for pf in opened:
            pf.close()

    rows = sum(pf.metadata.num_rows for pf in opened)
    return Source(schema, _guarded(batches(), label), rows, label, close, tuple(files))


def _csv_source(files: list[str], column_types: dict[str, pa.DataType], label: str) -> Source:
    import pyarrow.csv as pacsv

    read = pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES, use_threads=False)
    convert = pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True)
    readers = []
    try:
        for path in files:
            readers.append(pacsv.open_csv(path, read_options=read, convert_options=convert))
    except (pa.ArrowException, OSError) as exc:
        for r in readers:
            r.close()
        raise InvalidInputError(f"cannot read {label!r} as CSV: {_first_line(exc)}") from exc
    schema = readers[0].schema
    for path, r in zip(files[1:], readers[1:], strict=True):
        if not r.schema.equals(schema):
            raise InvalidInputError(
                f"{path!r} has other columns or types than {files[0]!r}; score one schema at a time"
            )

    def batches() -> Iterator[pa.RecordBatch]:
        for r in readers:
            yield from r

    def close() -> None:
        for r in readers:
            r.close()

    return Source(schema, _guarded(batches(), label), None, label, close, tuple(files))


def _engine_source(text: str, engine: Any, batch_rows: int, label: str) -> Source:
    """A table or SELECT: streamed from DuckDB; other engines return the rows as one Arrow result."""
    from assay.data.sources import bind

    with bind(text, engine) as bound:
        relation = bound.relation
    query = f"SELECT * FROM {relation}"
    if engine.dialect != "duckdb":
        table = engine.sql(query)
        return Source(table.schema, iter(table.to_batches(max_chunksize=batch_rows)), table.num_rows, label)
    con = engine.native
    try:
        rel = con.sql(query)
        method = getattr(rel, "to_arrow_reader", None) or rel.fetch_record_batch
        reader = method(batch_rows)
    except Exception as exc:
        raise InvalidInputError(f"cannot read {label!r}: {_first_line(exc)}") from exc
    return Source(reader.schema, _guarded(iter(reader), label), None, label, reader.close)


_DONE = object()


def prefetch(batches: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run ``batches`` in a background thread, ``depth`` items ahead (reading overlaps scoring).

    Errors raised by the producer are re-raised in the consumer; closing the generator stops the thread.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(exc)

    thread = threading.Thread(target=produce, name="assay-score-read", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def target_path(output: str | os.PathLike[str], fmt: str | None) -> tuple[Path, str]:
    """The output path (parent must exist) and its format, ``parquet`` or ``csv``."""
    if not isinstance(output, str | os.PathLike) or not os.fspath(output):
        raise InvalidInputError(f"output must be a file path ending in .parquet or .csv; got {output!r}")
    path = Path(output).expanduser()
    suffix = path.suffix.lower()
    fmt = fmt or {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}.get(suffix)
    if fmt not in ("parquet", "csv"):
        raise InvalidInputError(
            f"cannot tell the output format of {str(path)!r}: name it .parquet or .csv, or pass output_format="
        )
    if not path.parent.is_dir():
        raise InvalidInputError(f"the output folder {str(path.parent)!r} does not exist; create it first")
    if path.is_dir():
        raise InvalidInputError(f"the output {str(path)!r} is a folder; give a file name")
    return path, fmt


class OutputWriter:
    """Writes record batches to a temporary file, optionally from a background thread, then renames it.

    ``threaded=True`` queues at most two batches, so writing overlaps scoring with memory bounded.
    """

    def __init__(self, path: Path, fmt: str, schema: pa.Schema, *, threaded: bool = True) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        self.rows = 0
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._writer: Any = pq.ParquetWriter(self.tmp, schema, compression="snappy")
        else:
            import pyarrow.csv as pacsv

            self._writer = pacsv.CSVWriter(self.tmp, schema)
        self._error: BaseException | None = None
        self._queue: queue.Queue[Any] | None = queue.Queue(maxsize=2) if threaded else None
        self._thread: threading.Thread | None = None
        if self._queue is not None:
            self._thread = threading.Thread(target=self._drain, name="assay-score-write", daemon=True)
            self._thread.start()

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            batch = self._queue.get()
            if batch is _DONE:
                return
            if self._error is None:
                try:
                    self._writer.write_batch(batch)
                except BaseException as exc:  # reported to the producer on its next write
                    self._error = exc

    def write(self, batch: pa.RecordBatch) -> None:
        """Write one batch (queued when threaded); raises a failure of an earlier write."""
        if self._error is not None:
            raise StoreError(f"writing {str(self.path)!r} failed: {_first_line(self._error)}") from self._error
        if self._queue is not None:
            self._queue.put(batch)
        else:
            self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._thread is not None and self._queue is not None:
            self._queue.put(_DONE)
            self._thread.join()
        try:
            self._writer.close()
        finally:
            if kind is None and self._error is None:
                os.replace(self.tmp, self.path)
            else:
                self.tmp.unlink(missing_ok=True)
        if kind is None and self._error is not None:
            raise StoreError(f"writing {str(self.path)!r} failed: {_first_line(self._error)}") from self._error
