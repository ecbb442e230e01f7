"""The explicit client that holds assay's tracking and registry logic.

The fluent functions (``assay.start_run``, ``assay.log_metric``, ...) are one-line wrappers over
a process-wide default ``Client``; create your own to talk to another store.

Example::

    client = Client(store_url="sqlite:////tmp/a.db", artifacts_url="/tmp/artifacts")
    with client.start_run(project="churn") as run:
        run.log_metric("auc", 0.91)
    client.search_runs(project="churn", filter="metrics.auc > 0.9")
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from assay.artifacts import ArtifactStore, safe_relative_path
from assay.config import Settings
from assay.data.datasets import describe_dataset
from assay.errors import InvalidInputError, NotFoundError
from assay.store import Database, open_database
from assay.store import lineage as lq
from assay.store import runs as rq
from assay.store.models import Run as RunRow
from assay.tracking.environment import capture_environment, current_user
from assay.tracking.run import Run, _validate_key
from assay.tracking.writer import BackgroundWriter

__all__ = ["RUN_STATUSES", "Client"]

RUN_STATUSES = ("running", "finished", "failed", "killed")


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    return str(value)


class Client:
    """Access to one metadata store and one artifact store.

    With a tracking URL (``tracking_url=`` or ``ASSAY_TRACKING_URL``, unless ``store_url`` is given) the client
    is a :class:`~assay.tracking.remote.RemoteClient`: the same API over an assay server.
    """

    def __new__(
        cls,
        store_url: str | None = None,
        artifacts_url: str | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        token: str | None = None,
        tracking_url: str | None = None,
    ) -> Client:
        if cls is Client and (tracking_url is not None or store_url is None):
            settings = Settings.load(
                home=home, store_url=store_url, artifacts_url=artifacts_url, token=token, tracking_url=tracking_url
            )
            if settings.tracking_url is not None:
                from assay.tracking.remote import RemoteClient

                return super().__new__(RemoteClient)
        return super().__new__(cls)

    def __init__(
        self,
        store_url: str | None = None,
        artifacts_url: str | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        token: str | None = None,
        tracking_url: str | None = None,
    ) -> None:
        self.settings = Settings.load(home=home, store_url=store_url, artifacts_url=artifacts_url, token=token)
        self._db: Database | None = None
        self._project_ids: dict[str, int] = {}  # projects are never deleted or renamed, so ids can be cached
        self._artifacts: ArtifactStore | None = None
        self._writer = BackgroundWriter(_LazyDb(self))  # type: ignore[arg-type]
        from assay.registry.registry import ModelRegistry

        self.registry = ModelRegistry(self)

    def __repr__(self) -> str:
        return f"<assay.Client store={self.db.safe_url!r} artifacts={self.settings.artifacts_url!r}>"

    @property
    def db(self) -> Database:
        """The metadata store (schema migrated on first use)."""
        if self._db is None:
            self._db = open_database(self.settings.store_url)  # thread-safe, one handle per URL
        return self._db

    @property
    def artifacts(self) -> ArtifactStore:
        if self._artifacts is None:
            self._artifacts = ArtifactStore(self.settings.artifacts_url)
        return self._artifacts

    # -- runs --------------------------------------------------------------------------------------
    def start_run(
        self,
        project: str = "default",
        name: str | None = None,
        tags: dict[str, Any] | None = None,
        *,
        parent_run_id: str | None = None,
        capture_env: bool = True,
    ) -> Run:
        """Create a run in ``project`` (created if new) and return its active handle."""
        _validate_key(project, "project")
        from assay.governance.identity import require

        run_id = uuid.uuid4().hex
        run_name = name or f"run-{run_id[:8]}"
        env = capture_environment() if capture_env else None

        def create(conn: Any) -> None:
            # checked inside the insert's transaction: no extra round trip, and no race with a role change
            user = require(
                "scientist", project, action=f"start runs in project {project!r}", client=self, conn=conn
            ).user
            pid = rq.get_or_create_project(conn, project)
            if parent_run_id is not None:
                rq.get_run_row(conn, parent_run_id)
            conn.execute(
                RunRow.__table__.insert().values(
                    id=run_id,
                    project_id=pid,
                    name=run_name,
                    status="running",
                    start_ms=rq.now_ms(),
                    user=user,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    parent_run_id=parent_run_id,
                    environment=env,
                )
            )
            if tags:
                rq.upsert_tags(conn, run_id, {_validate_key(k, "tag"): _as_text(v) for k, v in tags.items()})
            rq.append_event(
                conn,
                actor=user,
                action="run.start",
                entity_type="run",
                entity_id=run_id,
                payload={"project": project, "name": run_name},
            )

        self.db.retrying_write(create)
        return Run(self, run_id, project, run_name, active=True)

    def get_run(self, run_id: str) -> Run:
        """A handle on an existing run (for reading; logging needs an active run)."""
        with self.db.read() as conn:
            row = rq.get_run_row(conn, run_id)
        return Run(self, run_id, row.project, row.name, active=False)

    def resume_run(self, run_id: str) -> Run:
        """Reopen a run for logging (e.g. after a restarted job); its status goes back to ``running``."""
        run = self.get_run(run_id)
        self.db.retrying_write(lambda conn: rq.set_run_status(conn, run_id, "running", None))
        run._active = True
        return run

    def run_info(self, run_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = rq.get_run_row(conn, run_id)
            details = rq.run_details(conn, [run_id])[run_id]
        r = row
        return {
            "run_id": r.id,
            "project": row.project,
            "name": r.name,
            "status": r.status,
            "start_time": pd.Timestamp(r.start_ms, unit="ms", tz="UTC"),
            "end_time": None if r.end_ms is None else pd.Timestamp(r.end_ms, unit="ms", tz="UTC"),
            "user": r.user,
            "host": r.host,
            "pid": r.pid,
            "parent_run_id": r.parent_run_id,
            "environment": r.environment or {},
            **details,
        }

    def set_terminated(self, run_id: str, status: str = "finished") -> None:
        """End a run with ``finished``, ``failed`` or ``killed`` (e.g. one whose process died)."""
        if status not in RUN_STATUSES[1:]:
            raise InvalidInputError(f"run status must be one of {RUN_STATUSES[1:]}; got {status!r}")

        def end(conn: Any) -> None:
            rq.set_run_status(conn, run_id, status, rq.now_ms())
            rq.append_event(conn, actor=current_user(), action=f"run.{status}", entity_type="run", entity_id=run_id)

        self.db.retrying_write(end)

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        if not isinstance(params, dict):
            raise InvalidInputError(f"log_params needs a dict of name → value; got {type(params).__name__}")
        text = {_validate_key(k, "param"): _as_text(v) for k, v in params.items()}
        self.db.retrying_write(lambda conn: rq.insert_params(conn, run_id, text))

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        text = {_validate_key(k, "tag"): _as_text(v) for k, v in tags.items()}
        self.db.retrying_write(lambda conn: rq.upsert_tags(conn, run_id, text))

    def log_metric(self, run_id: str, key: str, value: float, step: int = 0, timestamp: float | None = None) -> None:
        """Queue one point for any run by id (the Run handle's method is the usual way)."""
        Run(self, run_id, "", "", active=True).log_metric(key, value, step=step, timestamp=timestamp)

    def log_batch(self, run_id: str, points: list[tuple[str, float, int]], *, timestamp: float | None = None) -> None:
        """Queue many ``(key, value, step)`` points at once (bulk import)."""
        ts = int((timestamp if timestamp is not None else pd.Timestamp.now(tz="UTC").timestamp()) * 1000)
        batch = []
        for key, value, step in points:
            _validate_key(key, "metric")
            try:
                batch.append((run_id, key, float(value), int(step), ts))
            except (TypeError, ValueError):
                raise InvalidInputError(f"metric {key!r}: value {value!r} / step {step!r} not numeric") from None
        self._writer.put_many(batch)

    def flush(self) -> None:
        """Block until every queued metric point is durable."""
        self._writer.flush()

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float, int]]:
        self.flush()
        with self.db.read() as conn:
            rq.get_run_row(conn, run_id)
            rows = rq.metric_history(conn, run_id, key)
            if not rows and key not in rq.metric_keys(conn, run_id):
                known = rq.metric_keys(conn, run_id)
                raise NotFoundError(f"run {run_id!r} has no metric {key!r}; it has {sorted(known)}")
        return rows

    # -- datasets and artifacts --------------------------------------------------------------------
    def log_dataset(self, run_id: str, source: Any, *, role: str = "train", name: str | None = None) -> dict[str, Any]:
        info = describe_dataset(source, name=name)
        _validate_key(role, "dataset role")

        def link(conn: Any) -> int:
            rq.get_run_row(conn, run_id)
            dv_id, _ = lq.get_or_create_dataset_version(
                conn,
                name=info.name,
                fingerprint=info.fingerprint,
                schema=info.schema,
                num_rows=info.num_rows,
                source_uri=info.source_uri,
            )
            lq.add_run_input(conn, run_id, dv_id, role)
            return dv_id

        dv_id = self.db.retrying_write(link)
        return {"dataset_version_id": dv_id, "role": role, **info.to_dict()}

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
        src = Path(local_path)
        if src.is_dir():
            base = safe_relative_path(artifact_path or src.name)
            files = [(p, f"{base}/{p.relative_to(src).as_posix()}") for p in sorted(src.rglob("*")) if p.is_file()]
        elif src.is_file():
            files = [(src, safe_relative_path(artifact_path or src.name))]
        else:
            raise NotFoundError(f"cannot log artifact {str(local_path)!r}: no such file or folder")
        stored = [(self.artifacts.put_file(p), rel, p.stat().st_size) for p, rel in files]

        def record(conn: Any) -> None:
            rq.get_run_row(conn, run_id)
            for digest, rel, size in stored:
                lq.record_artifact(conn, run_id, rel, digest, size)

        self.db.retrying_write(record)
        return files[0][1] if src.is_file() else safe_relative_path(artifact_path or src.name)

    def list_artifacts(self, run_id: str, prefix: str | None = None) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rq.get_run_row(conn, run_id)
            return lq.list_artifacts(conn, run_id, prefix)

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        rel = safe_relative_path(path)
        found = {a["path"]: a["digest"] for a in self.list_artifacts(run_id)}
        if rel not in found:
            raise NotFoundError(f"run {run_id!r} has no artifact {rel!r}; it has {sorted(found)[:20]}")
        target = Path(dest)
        if target.is_dir():
            target = target / Path(rel).name
        return self.artifacts.download(found[rel], target)

    def run_inputs(self, run_id: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rq.get_run_row(conn, run_id)
            return lq.list_run_inputs(conn, run_id)

    # -- search ------------------------------------------------------------------------------------
    def search_runs(
        self,
        project: str | list[str] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Runs matching a filter such as ``metrics.auc > 0.85 and params.num_leaves = 31``, as a DataFrame."""
        from assay.tracking.search import search_runs

        self.flush()
        with self.db.read() as conn:
            project_ids = None
            if project is not None:
                names = [project] if isinstance(project, str) else list(project)
                project_ids = [self._project_id(conn, n) for n in names]
            return search_runs(
                conn, project_ids=project_ids, filter=filter, order_by=order_by, limit=limit, offset=offset
            )

    def _project_id(self, conn: Any, name: str) -> int:
        pid = self._project_ids.get(name)
        if pid is None:
            pid = self._project_ids[name] = rq.get_project_id(conn, name)
        return pid

    def list_projects(self) -> list[str]:
        from sqlalchemy import select

        from assay.store.models import Project

        with self.db.read() as conn:
            return list(conn.execute(select(Project.name).order_by(Project.name)).scalars())

    # -- registry (delegated) ----------------------------------------------------------------------
    def log_model(self, run_id: str, model: Any, name: str, **kwargs: Any) -> Any:
        return self.registry.log_model(run_id, model, name, **kwargs)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.registry.set_alias(name, alias, version)

    def load_model(self, uri: str, *, trusted: bool = False) -> Any:
        return self.registry.load_model(uri, trusted=trusted)

    def close(self) -> None:
        """Flush metrics and release connections."""
        self._writer.close()
        if self._db is not None:
            self._db.dispose()


class _LazyDb:
    """Defers opening (and migrating) the store until the writer first needs it."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def retrying_write(self, fn: Any, **kw: Any) -> Any:
        return self._client.db.retrying_write(fn, **kw)

    @property
    def safe_url(self) -> str:
        return self._client.db.safe_url
