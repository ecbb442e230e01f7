"""Remote mode: the same :class:`~assay.tracking.client.Client` API, over an assay server's REST API.

With ``ASSAY_TRACKING_URL=http://host:5000`` (and ``ASSAY_TOKEN`` on a multi-user server) ``assay.Client()``
and the fluent functions build a :class:`RemoteClient`: runs, params, metrics, tags, datasets, artifacts,
search, models and aliases go to the server, which checks the token's roles as it does for any API call.

Metric logging stays the microsecond append of embedded mode: the background writer sends what it buffered
as one ``POST /runs/{id}/metric-columns`` per run per tick (every 0.2 s, or sooner when 50,000 points wait) over one
keep-alive connection, and ``flush()`` / ``run.end()`` / ``close()`` return once the server has committed
them. A server that cannot be reached keeps the batch buffered and retried (at-least-once: a batch whose
answer was lost may be written twice). Server errors come back as the same typed errors embedded mode raises.

Operations that need the stores themselves (governance, monitoring, data checks ...) raise ``StateError``
saying so: run them on the server's machine, or against the store with ``ASSAY_STORE_URL``.

Example::

    client = Client(tracking_url="http://127.0.0.1:5000", token="...")   # or just Client() with the env set
    with client.start_run(project="churn") as run:
        run.log_metric("loss", 0.3)
    client.search_runs(project="churn", filter="metrics.loss < 0.5")
"""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from assay.artifacts import safe_relative_path
from assay.config import Settings
from assay.data.datasets import describe_dataset
from assay.errors import ConfigError, InvalidInputError, NotFoundError, StateError
from assay.store.runs import MetricPoint
from assay.tracking._http import HttpSession
from assay.tracking.client import RUN_STATUSES, Client, _as_text
from assay.tracking.environment import capture_environment
from assay.tracking.run import Run, _validate_key
from assay.tracking.writer import BackgroundWriter

__all__ = ["RemoteClient", "needs_store"]

REMOTE_BATCH_SIZE = 50_000  # points per request at most (a few MB of JSON)


def needs_store(what: str, url: str) -> StateError:
    """The error for an operation remote mode cannot do."""
    return StateError(
        f"{what} needs direct store access, and this client talks to the assay server at {url} "
        "(ASSAY_TRACKING_URL). Run it where the store is reachable, with ASSAY_STORE_URL (and "
        "ASSAY_ARTIFACTS_URL) set and ASSAY_TRACKING_URL unset, or pass store_url= explicitly."
    )


class _Target:
    """What the writer names in its messages (it never touches a database in remote mode)."""

    def __init__(self, url: str) -> None:
        self.safe_url = url

    def retrying_write(self, fn: Any, **kw: Any) -> Any:  # pragma: no cover - the sink replaces it
        raise StateError("remote mode writes metrics through the server")


class RemoteClient(Client):
    """A :class:`Client` whose store is an assay server (see the module docs)."""

    def __init__(
        self,
        store_url: str | None = None,
        artifacts_url: str | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        token: str | None = None,
        tracking_url: str | None = None,
    ) -> None:
        self.settings = Settings.load(
            home=home, store_url=store_url, artifacts_url=artifacts_url, token=token, tracking_url=tracking_url
        )
        url = self.settings.tracking_url
        if url is None:
            raise ConfigError("RemoteClient needs a tracking URL: set ASSAY_TRACKING_URL or pass tracking_url=")
        self._http = HttpSession(url, self.settings.token)
        self._db = None
        self._artifacts = None
        self._project_ids: dict[str, int] = {}
        self._writer = BackgroundWriter(_Target(url), batch_size=REMOTE_BATCH_SIZE, sink=self._send_metrics)  # type: ignore[arg-type]
        from assay.tracking.remote_registry import RemoteRegistry

        self.registry = RemoteRegistry(self)  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<assay.Client remote={self.settings.tracking_url!r}>"

    @property
    def tracking_url(self) -> str:
        return self._http.base_url

    @property
    def db(self) -> Any:
        raise needs_store("this operation", self.tracking_url)

    @property
    def artifacts(self) -> Any:
        raise needs_store("direct artifact-store access", self.tracking_url)

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
        """Create a run on the server; the environment, host and pid are captured here, where it runs."""
        _validate_key(project, "project")
        body = {
            "project": project,
            "name": name,
            "tags": {_validate_key(k, "tag"): _as_text(v) for k, v in (tags or {}).items()},
            "parent_run_id": parent_run_id,
        }
        info = self._http.request("POST", "/runs", json=body)
        run_id = info["run_id"]
        env = {
            "environment": capture_environment() if capture_env else {},
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        self._http.request("PUT", f"/runs/{run_id}/environment", json=env)
        return Run(self, run_id, project, info["name"], active=True)

    def get_run(self, run_id: str) -> Run:
        info = self._http.request("GET", f"/runs/{_seg(run_id)}")
        return Run(self, run_id, info["project"], info["name"], active=False)

    def resume_run(self, run_id: str) -> Run:
        info = self._http.request("POST", f"/runs/{_seg(run_id)}/resume")
        return Run(self, run_id, info["project"], info["name"], active=True)

    def run_info(self, run_id: str) -> dict[str, Any]:
        info = self._http.request("GET", f"/runs/{_seg(run_id)}")
        info.pop("metric_keys", None)
        for key in ("start_time", "end_time"):
            info[key] = None if info.get(key) is None else pd.Timestamp(info[key]).tz_convert("UTC")
        info["environment"] = info.get("environment") or {}
        return info

    def set_terminated(self, run_id: str, status: str = "finished") -> None:
        if status not in RUN_STATUSES[1:]:
            raise InvalidInputError(f"run status must be one of {RUN_STATUSES[1:]}; got {status!r}")
        self._http.request("POST", f"/runs/{_seg(run_id)}/terminate", json={"status": status})

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        if not isinstance(params, dict):
            raise InvalidInputError(f"log_params needs a dict of name → value; got {type(params).__name__}")
        text = {_validate_key(k, "param"): _as_text(v) for k, v in params.items()}
        if text:
            self._http.request("POST", f"/runs/{_seg(run_id)}/batch", json={"params": text})

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        text = {_validate_key(k, "tag"): _as_text(v) for k, v in tags.items()}
        if text:
            self._http.request("POST", f"/runs/{_seg(run_id)}/tags", json={"tags": text})

    def _send_metrics(self, points: list[MetricPoint]) -> None:
        """The writer's sink: one request per run in the batch, its points as columns, in order.

        Built with C-level transposition (``zip(*points)``, ``map``) so the writer thread holds the GIL as
        briefly as possible while the training loop keeps logging.
        """
        run_ids, keys, values, steps, stamps = zip(*points, strict=True)
        first = run_ids[0]
        if run_ids.count(first) == len(run_ids):
            groups = {first: (keys, values, steps, stamps)}
        else:
            rows: dict[str, list[MetricPoint]] = {}
            for point in points:
                rows.setdefault(point[0], []).append(point)
            groups = {rid: tuple(zip(*pts, strict=True))[1:] for rid, pts in rows.items()}  # type: ignore[misc]
        for run_id, (keys, values, steps, stamps) in groups.items():
            index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
            if any(map(math.isnan, values)):
                values = tuple(None if v != v else v for v in values)  # NaN travels as null
            body = {"keys": list(index), "key": list(map(index.__getitem__, keys)), "value": values, "step": steps,
                    "timestamp_ms": stamps}  # fmt: skip
            self._http.request(
                "POST",
                f"/runs/{_seg(run_id)}/metric-columns",
                content=json.dumps(body, separators=(",", ":")).encode(),  # ±inf as ±Infinity, which the server reads
                headers={"Content-Type": "application/json"},
            )

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float, int]]:
        self.flush()
        cols = self._http.request("GET", f"/runs/{_seg(run_id)}/metric-history", params={"key": key})
        values = [float(v) if isinstance(v, str) else v for v in cols["value"]]  # "Infinity", "-Infinity"
        return list(zip(cols["step"], values, cols["timestamp_ms"], strict=True))

    # -- datasets and artifacts --------------------------------------------------------------------
    def log_dataset(self, run_id: str, source: Any, *, role: str = "train", name: str | None = None) -> dict[str, Any]:
        """Fingerprint the dataset here (it never leaves this machine) and link the version on the server."""
        info = describe_dataset(source, name=name)
        _validate_key(role, "dataset role")
        body = {"name": info.name, "fingerprint": info.fingerprint, "schema": info.schema, "num_rows": info.num_rows,
                "source_uri": info.source_uri, "role": role}  # fmt: skip
        answer = self._http.request("POST", f"/runs/{_seg(run_id)}/inputs", json=body)
        return {"dataset_version_id": answer["dataset_version_id"], "role": role, **info.to_dict()}

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
        """Upload a file (or every file under a folder), each streamed in one request."""
        src = Path(local_path)
        if src.is_dir():
            base = safe_relative_path(artifact_path or src.name)
            files = [(p, f"{base}/{p.relative_to(src).as_posix()}") for p in sorted(src.rglob("*")) if p.is_file()]
        elif src.is_file():
            files = [(src, safe_relative_path(artifact_path or src.name))]
        else:
            raise NotFoundError(f"cannot log artifact {str(local_path)!r}: no such file or folder")
        for path, rel in files:
            self._http.request("PUT", f"/runs/{_seg(run_id)}/artifact", params={"path": rel}, file=path)
        return files[0][1] if src.is_file() else safe_relative_path(artifact_path or src.name)

    def list_artifacts(self, run_id: str, prefix: str | None = None) -> list[dict[str, Any]]:
        params = {"prefix": prefix} if prefix else {}
        return list(self._http.pages(f"/runs/{_seg(run_id)}/artifacts", params))

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        rel = safe_relative_path(path)
        found = {a["path"]: a["digest"] for a in self.list_artifacts(run_id)}
        if rel not in found:
            raise NotFoundError(f"run {run_id!r} has no artifact {rel!r}; it has {sorted(found)[:20]}")
        target = Path(dest)
        if target.is_dir():
            target = target / Path(rel).name
        return self._http.download(f"/runs/{_seg(run_id)}/artifact", {"path": rel}, target, digest=found[rel])

    def run_inputs(self, run_id: str) -> list[dict[str, Any]]:
        return self._http.request("GET", f"/runs/{_seg(run_id)}/inputs")

    # -- search ------------------------------------------------------------------------------------
    def search_runs(
        self,
        project: str | list[str] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """The same DataFrame as embedded mode (same columns, order and dtypes), searched on the server."""
        from assay.tracking.search import _check_arguments, _frame

        _check_arguments(None, filter, order_by, limit, offset)
        self.flush()
        params: dict[str, Any] = {"offset": offset}
        if project is not None:
            params["project"] = [project] if isinstance(project, str) else list(project)
        if filter is not None:
            params["filter"] = filter
        if order_by:
            params["order_by"] = list(order_by)
        if limit is not None:
            params["limit"] = limit
        cols: dict[str, list[Any]] = self._http.request("GET", "/run-table", params=params)["columns"]
        base = ("run_id", "project", "name", "status", "start_time", "end_time", "user")
        rows = list(zip(*(cols[c] for c in base), strict=True))
        if not rows:
            return _frame([], {})
        ids = cols["run_id"]
        details: dict[str, dict[str, dict[str, Any]]] = {"params": {}, "metrics": {}, "tags": {}}
        for col, values in cols.items():
            group, _, key = col.partition(".")
            if group in details and key:
                if group == "metrics":  # ±inf arrive as "Infinity" / "-Infinity"
                    values = [float(v) if isinstance(v, str) else v for v in values]
                details[group][key] = {rid: v for rid, v in zip(ids, values, strict=True) if v is not None}
        return _frame(rows, details)

    def list_projects(self) -> list[str]:
        return [p["name"] for p in self._http.pages("/projects")]

    def close(self) -> None:
        """Flush metrics and close the connection to the server."""
        try:
            self._writer.close()
        finally:
            self._http.close()


def _seg(value: str) -> str:
    """``value`` as one URL path segment."""
    return quote(str(value), safe="")
