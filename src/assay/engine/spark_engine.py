"""Spark backend: a SparkSession (local mode or a cluster) created on first use, shared by the process.

* pyspark is imported only when a ``spark://`` URL is opened; without it you get a
  :class:`~assay.errors.ConfigError` saying what to install.
* Files and folders become temp views (``spark.read.parquet`` / ``.csv`` with header and type
  inference); DataFrames and Arrow tables are shipped to Spark through Arrow.
* Results come back through ``DataFrame.toArrow()`` (pyspark ≥ 4), else ``toPandas()``.
* Local sessions are set up for laptops and tests: UI off, ``spark.driver.host=127.0.0.1``, few
  shuffle partitions, session time zone UTC. Override any setting with ``conf={...}``.
* Temp views live in the shared session: two engines registering the same name see the last one.
  ``close()`` drops this engine's views; the session stays up for the next engine unless
  ``stop_on_close=True``.

Example::

    eng = connect("spark://local[2]", conf={"spark.driver.memory": "4g"})
    eng.register("events", "data/events/")
    eng.sql("select variant, count(*) as n from events group by all")
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from assay.engine.base import Engine, Source
from assay.errors import AssayError, ConfigError, InvalidInputError, StoreError

__all__ = ["SparkEngine", "get_session", "stop_session"]

_SESSION: Any = None
_SESSION_LOCK = threading.Lock()
_LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.sql.adaptive.enabled": "true",
}
_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
}
_USER_ERRORS = (
    "AnalysisException", "ParseException", "IllegalArgumentException", "ArithmeticException",
    "NumberFormatException", "DateTimeException", "SparkRuntimeException", "UnsupportedOperationException",
    "ArrayIndexOutOfBoundsException", "SparkNoSuchElementException", "PySparkValueError", "PySparkTypeError",
)  # fmt: skip


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pyspark warns about pandas >= 3 on its first Arrow conversion; assay hands it Arrow, not pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
        yield


def _import_pyspark() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError("the spark:// engine needs pyspark: pip install 'assay[spark]' (and Java 17+)") from exc
    return SparkSession


def get_session(master: str, conf: dict[str, str] | None = None, app_name: str = "assay") -> Any:
    """The process-wide SparkSession, created on first call (later calls apply ``conf`` at runtime)."""
    global _SESSION
    spark_session = _import_pyspark()
    with _SESSION_LOCK:
        if _SESSION is not None and _SESSION.sparkContext._jsc is not None:
            for key, value in (conf or {}).items():
                try:
                    _SESSION.conf.set(key, str(value))
                except Exception:  # static settings cannot change in a running session
                    logging.getLogger(__name__).warning("Spark setting %s ignored: the session is running", key)
            return _SESSION
        settings = {**(_LOCAL_DEFAULTS if master.startswith("local") else {}), **_DEFAULTS, **(conf or {})}
        builder = spark_session.builder.master(master).appName(app_name)
        for key, value in settings.items():
            builder = builder.config(key, str(value))
        try:
            with _quiet():
                session = builder.getOrCreate()
        except Exception as exc:
            raise ConfigError(f"cannot start Spark ({master}); is Java 17+ installed and on PATH? {exc}") from exc
        session.sparkContext.setLogLevel("ERROR")
        for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):  # errors are raised, not logged
            logging.getLogger(name).setLevel(logging.CRITICAL)
        _SESSION = session
        return session


def stop_session() -> None:
    """Stop the shared SparkSession (the next spark:// engine starts a new one)."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is not None:
            _SESSION.stop()
            _SESSION = None


def _condition(exc: Exception) -> str:
    for getter in ("getCondition", "getErrorClass"):
        method = getattr(exc, getter, None)
        if method is not None:
            try:
                value = method()
            except Exception:
                value = None
            if value:
                return str(value)
    return ""


def _parameters(exc: Exception) -> dict[str, str]:
    method = getattr(exc, "getMessageParameters", None)
    try:
        return dict(method() or {}) if method else {}
    except Exception:
        return {}


def _unquote(name: str) -> str:
    return name.replace("`", "").split(".")[-1]


class SparkEngine(Engine):
    """SQL on a SparkSession; see the module docs for the session's defaults.

    Options: ``conf`` (dict of Spark settings), ``app_name``, ``stop_on_close``.
    """

    dialect = "spark"

    def __init__(
        self,
        master: str = "local[*]",
        *,
        conf: dict[str, Any] | None = None,
        app_name: str = "assay",
        stop_on_close: bool = False,
    ) -> None:
        super().__init__(f"spark://{master}" if master.startswith("local") else master)
        _import_pyspark()  # fail fast when pyspark is missing; the session itself starts on first use
        self._master = master
        self._conf = {k: str(v) for k, v in (conf or {}).items()}
        self._app_name = app_name
        self._stop_on_close = stop_on_close
        self._views: set[str] = set()
        self._session: Any = None

    @property
    def native(self) -> Any:
        """The SparkSession (started if needed)."""
        return self._spark()

    def _spark(self) -> Any:
        session = self._session
        if session is None or session.sparkContext._jsc is None:  # first use, or stopped meanwhile
            session = self._session = get_session(self._master, self._conf or None, self._app_name)
        return session

    # -- hooks ------------------------------------------------------------------------------
    def _execute(self, text: str, params: dict[str, object]) -> pa.Table:
        frame = self._spark().sql(text, args=params) if params else self._spark().sql(text)
        with _quiet():
            if hasattr(frame, "toArrow"):
                return frame.toArrow()
            return pa.Table.from_pandas(frame.toPandas(), preserve_index=False)  # pragma: no cover - pyspark < 4

    def _describe(self, text: str) -> tuple[list[tuple[str, str]], pa.Schema]:
        frame = self._spark().sql(text)  # analysed, not run
        cols = [(name, dtype) for name, dtype in frame.dtypes]
        try:
            from pyspark.sql.pandas.types import to_arrow_schema

            schema = to_arrow_schema(frame.schema)
        except Exception:
            schema = frame.limit(0).toArrow().schema
        return cols, schema

    def _register(self, name: str, source: Source) -> None:
        spark = self._spark()
        if source.kind == "arrow":
            with _quiet():
                frame = spark.createDataFrame(source.table())
        else:
            # a Parquet folder is read as one (hive partitions become columns); otherwise the matched files
            paths = [source.folder] if source.folder and source.fmt == "parquet" else list(source.files)
            if source.fmt == "parquet":
                frame = spark.read.parquet(*paths)
            elif source.fmt == "csv":
                frame = spark.read.options(header=True, inferSchema=True).csv(paths)
            else:
                frame = spark.read.json(paths)
        frame.createOrReplaceTempView(name)
        self._views.add(name)

    def _tables(self) -> list[str]:
        return [t.name for t in self._spark().catalog.listTables()]

    def _translate(self, exc: Exception, sql: str | None, source: Source | None) -> AssayError:
        condition = _condition(exc)
        params = _parameters(exc)
        message = str(exc).strip()
        java = getattr(exc, "java_exception", None)  # py4j.protocol.Py4JJavaError from the DataFrame reader
        if java is not None:
            with contextlib.suppress(Exception):
                message = str(java.toString()).strip()
        first = message.splitlines()[0] if message else type(exc).__name__
        if source is not None and source.kind == "files":
            return InvalidInputError(f"cannot read {source.folder or source.path!r} as {source.fmt}: {first}")
        if condition.startswith("UNRESOLVED_COLUMN") and "objectName" in params:
            return self.missing_column(_unquote(params["objectName"]), sql)
        if condition.startswith("TABLE_OR_VIEW_NOT_FOUND") and "relationName" in params:
            return self.missing_table(_unquote(params["relationName"]))
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if kinds & set(_USER_ERRORS):
            if "FAILED_READ_FILE" in condition or "CANNOT_READ" in condition:
                return InvalidInputError(f"cannot read a file behind this query: {first}")
            return InvalidInputError(message)
        return StoreError(f"Spark failed: {type(exc).__name__}: {first}")

    def _close(self) -> None:
        session, self._session = self._session, None
        if session is not None and session.sparkContext._jsc is not None:
            for name in self._views:
                session.catalog.dropTempView(name)
        self._views.clear()
        if self._stop_on_close:
            stop_session()
