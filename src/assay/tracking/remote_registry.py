"""The model registry of remote mode: log, list, alias and load model versions through an assay server.

``log_model`` saves the model folder here (the same flavors and ``assay-model.json`` as embedded mode), uploads
its files as the run's artifacts and asks the server to register them; ``load_model`` resolves the URI on the
server, downloads the files once into ``<home>/cache/models`` (each checked against its sha256) and loads them.

Example::

    mv = client.registry.log_model(run.id, model, "churn", input_example=X.head())
    client.registry.set_alias("churn", "staging", mv.version)
    client.registry.load_model("models:/churn@staging").predict(X)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pandas as pd

from assay.artifacts import safe_relative_path
from assay.errors import InvalidInputError
from assay.registry.flavors import FlavorInfo, save_model
from assay.registry.predictor import Predictor
from assay.registry.registry import _ALIAS, MODEL_META, ModelVersion, _check_name, parse_model_uri
from assay.registry.signature import Signature, infer_signature

if TYPE_CHECKING:
    from assay.tracking.remote import RemoteClient

__all__ = ["RemoteRegistry", "version_from_json"]


def version_from_json(data: dict[str, Any]) -> ModelVersion:
    """A :class:`ModelVersion` from the API's JSON form of one."""
    return ModelVersion(
        name=data["name"],
        version=int(data["version"]),
        run_id=data.get("run_id"),
        flavor=data["flavor"],
        model_class=data.get("model_class", ""),
        artifact_uri=data["artifact_uri"],
        signature=data.get("signature"),
        created_at=pd.Timestamp(data["created_at"]).tz_convert("UTC"),
        description=data.get("description"),
        aliases=tuple(data.get("aliases") or ()),
    )


class RemoteRegistry:
    """The registry operations of :class:`~assay.registry.registry.ModelRegistry`, over the REST API."""

    def __init__(self, client: RemoteClient) -> None:
        self._client = client
        self._http = client._http

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        from assay.tracking.remote import needs_store

        raise needs_store(f"registry.{name}", self._http.base_url)

    def log_model(
        self,
        run_id: str,
        model: Any,
        name: str,
        *,
        input_example: Any = None,
        description: str | None = None,
        artifact_path: str = "model",
    ) -> ModelVersion:
        """Save ``model`` here, upload it as the run's ``artifact_path`` and register the next version of ``name``."""
        _check_name(name)
        base = safe_relative_path(artifact_path)
        signature = infer_signature(input_example) if input_example is not None else None
        run = quote(run_id, safe="")
        with tempfile.TemporaryDirectory(prefix="assay-model-") as tmp:
            folder = Path(tmp)
            info = save_model(model, folder)
            meta = {"flavor": info.to_dict(), "signature": signature.to_dict() if signature is not None else None,
                    "run_id": run_id, "name": name}  # fmt: skip
            (folder / MODEL_META).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
            files = {}
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                rel = path.relative_to(folder).as_posix()
                stored = self._http.request("PUT", f"/runs/{run}/artifact", params={"path": f"{base}/{rel}"}, file=path)
                files[rel] = stored["digest"]
        body = {"name": name, "artifact_path": base, "files": files, "description": description}
        return version_from_json(self._http.request("POST", f"/runs/{run}/models", json=body))

    def get_version(self, name: str, version: int) -> ModelVersion:
        data = self._http.request("GET", f"/models/{_seg(name)}/versions/{int(version)}")
        return version_from_json(data)

    def list_versions(self, name: str) -> list[ModelVersion]:
        return [version_from_json(d) for d in self._http.pages(f"/models/{_seg(name)}/versions")]

    def list_models(self) -> list[dict[str, Any]]:
        return list(self._http.pages("/models"))

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version`` (the server checks roles and protected aliases)."""
        if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == "latest":
            raise InvalidInputError(
                f"alias {alias!r} is not valid: use a letter then letters, digits, '-' or '_' "
                "(at most 64 characters; 'latest' is reserved)"
            )
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidInputError(f"version must be an integer version number; got {version!r}")
        self._http.request("PUT", f"/models/{_seg(name)}/aliases/{alias}", json={"version": version})

    def delete_alias(self, name: str, alias: str) -> None:
        self._http.request("DELETE", f"/models/{_seg(name)}/aliases/{_seg(alias)}")

    def load_model(self, uri: str, *, trusted: bool = False) -> Predictor:
        """Load any version (``models:/churn@production``, ``models:/churn/3``, ``runs:/ID/model``) to score here."""
        parse_model_uri(uri)  # the same InvalidInputError as embedded mode, before any request
        found = self._http.request("GET", "/model-files", params={"uri": uri})
        mv = version_from_json(found["version"]) if found["version"] else None
        manifest: dict[str, str] = found["files"]
        source = mv.uri if mv is not None else uri  # a version's files never change; an alias may move meanwhile
        key = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
        folder = self._client.settings.home / "cache" / "models" / key
        if not folder.is_dir():
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
            try:
                for rel, digest in manifest.items():
                    target = staging / safe_relative_path(rel)
                    self._http.download("/model-file", {"uri": source, "file": rel}, target, digest=digest)
                try:
                    staging.replace(folder)
                except OSError:
                    if not folder.is_dir():  # lost a race to another process: theirs is as good
                        raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        try:
            meta = json.loads((folder / MODEL_META).read_text(encoding="utf-8"))
            info = FlavorInfo.from_dict(meta["flavor"])
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidInputError(f"{uri}: {MODEL_META} is unreadable ({exc}); the model folder is corrupt") from exc
        sig = Signature.from_dict(meta["signature"]) if meta.get("signature") else None
        return Predictor.load(
            folder, info, signature=sig, trusted=trusted, name=mv.name if mv else meta.get("name", ""),
            version=mv.version if mv else None, uri=uri,
        )  # fmt: skip


def _seg(value: str) -> str:
    return quote(str(value), safe="")
