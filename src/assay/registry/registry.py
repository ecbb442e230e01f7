"""The model registry: versions numbered per name, aliases, and loading any version as a predictor.

A logged model is a folder (the flavor's files plus ``assay-model.json``) stored file by file in
the content-addressed artifact store under the run's ``model/`` path, then registered as the next
version of its name. URIs accepted by :meth:`ModelRegistry.load_model`:

- ``models:/churn@production`` — the version an alias points at
- ``models:/churn/3`` — a version number; ``models:/churn/latest`` — the newest version
- ``runs:/<run_id>/model`` — a model logged in a run, registered or not
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.artifacts import safe_relative_path
from assay.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from assay.registry.flavors import FlavorInfo, save_model
from assay.registry.predictor import Predictor
from assay.registry.signature import Signature, infer_signature
from assay.store import lineage as lq
from assay.store import registry as mq
from assay.store import runs as rq
from assay.tracking.environment import current_user

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["MODEL_META", "ModelRegistry", "ModelVersion", "parse_model_uri"]

MODEL_META = "assay-model.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model."""

    name: str
    version: int
    run_id: str | None
    flavor: str
    model_class: str
    artifact_uri: str
    signature: dict[str, Any] | None
    created_at: pd.Timestamp
    description: str | None = None
    aliases: tuple[str, ...] = field(default=())

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def summary(self) -> str:
        alias = f" (aliases: {', '.join(self.aliases)})" if self.aliases else ""
        return (
            f"{self.name} v{self.version}{alias}: {self.model_class} stored as {self.flavor}, "
            f"from run {self.run_id or '-'}, registered {self.created_at:%Y-%m-%d %H:%M} UTC"
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["aliases"] = list(self.aliases)
        return d

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(self.name)}</b> v{self.version}: {html.escape(self.summary())}</p>"


def parse_model_uri(uri: str) -> tuple[str, str, str]:
    """Split a model URI into ``(kind, name_or_run, ref)``: ``("alias"|"version"|"latest"|"run", .., ..)``."""
    if not isinstance(uri, str):
        raise InvalidInputError(f"model URI must be a string like 'models:/churn@production'; got {uri!r}")
    if uri.startswith("models:/"):
        rest = uri[len("models:/") :].strip("/")
        if "@" in rest:
            name, alias = rest.split("@", 1)
            if name and alias:
                return "alias", name, alias
        elif "/" in rest:
            name, ref = rest.rsplit("/", 1)
            if ref == "latest":
                return "latest", name, ref
            if ref.isdigit():
                return "version", name, ref
    elif uri.startswith("runs:/"):
        parts = uri[len("runs:/") :].strip("/").split("/", 1)
        if len(parts) == 2 and parts[0] and parts[1]:
            return "run", parts[0], parts[1]
    raise InvalidInputError(
        f"model URI {uri!r} is not understood; use models:/NAME@ALIAS, models:/NAME/VERSION, "
        "models:/NAME/latest or runs:/RUN_ID/model"
    )


class ModelRegistry:
    """Registry operations over a client's metadata and artifact stores."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _db(self) -> Any:
        return self._client.db

    def save_to_run(
        self,
        run_id: str,
        model: Any,
        *,
        input_example: Any = None,
        artifact_path: str = "model",
        name: str | None = None,
    ) -> dict[str, Any]:
        """Save ``model`` under the run's ``artifact_path`` without registering it.

        Returns a dict with ``flavor`` (FlavorInfo), ``signature``, ``files`` ({path: digest}) and ``uri``;
        the model loads with ``load_model("runs:/<run_id>/<artifact_path>")``.
        """
        base = safe_relative_path(artifact_path)
        signature = infer_signature(input_example) if input_example is not None else None
        with tempfile.TemporaryDirectory(prefix="assay-model-") as tmp:
            folder = Path(tmp)
            info = save_model(model, folder)
            meta = {
                "flavor": info.to_dict(),
                "signature": signature.to_dict() if signature is not None else None,
                "run_id": run_id,
                "name": name,
            }
            (folder / MODEL_META).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
            files = sorted(p for p in folder.rglob("*") if p.is_file())
            stored = {
                p.relative_to(folder).as_posix(): (self._client.artifacts.put_file(p), p.stat().st_size) for p in files
            }

        def record(conn: Any) -> None:
            rq.get_run_row(conn, run_id)
            for rel, (digest, size) in stored.items():
                lq.record_artifact(conn, run_id, f"{base}/{rel}", digest, size)

        self._db.retrying_write(record)
        return {
            "flavor": info,
            "signature": meta["signature"],
            "files": {rel: digest for rel, (digest, _) in stored.items()},
            "uri": f"runs:/{run_id}/{base}",
        }

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
        """Save ``model`` with run ``run_id`` and register it as the next version of ``name``."""
        _check_name(name)
        saved = self.save_to_run(run_id, model, input_example=input_example, artifact_path=artifact_path, name=name)
        info: FlavorInfo = saved["flavor"]
        user = self._actor("scientist", run_id=run_id, action="register model versions")

        def register(conn: Any) -> int:
            version = mq.create_version(
                conn,
                name,
                {
                    "run_id": run_id,
                    "flavor": info.flavor,
                    "flavor_info": info.to_dict(),
                    "artifact_uri": saved["uri"],
                    "files": saved["files"],
                    "signature": saved["signature"],
                    "description": description,
                },
            )
            rq.append_event(
                conn,
                actor=user,
                action="model.register",
                entity_type="model_version",
                entity_id=f"{name}/{version}",
                payload={"run_id": run_id, "flavor": info.flavor},
            )
            return version

        version = self._db.retrying_write(register)
        return self.get_version(name, version)

    def get_version(self, name: str, version: int) -> ModelVersion:
        with self._db.read() as conn:
            row = mq.get_version_row(conn, name, int(version))
            aliases = mq.aliases_of(conn, name)
        return _to_version(name, row, aliases)

    def list_versions(self, name: str) -> list[ModelVersion]:
        with self._db.read() as conn:
            rows = mq.list_versions(conn, name)
            aliases = mq.aliases_of(conn, name)
        return [_to_version(name, r, aliases) for r in rows]

    def list_models(self) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            return mq.list_models(conn)

    def set_alias(self, name: str, alias: str, version: int, *, _approved: bool = False) -> None:
        """Point ``alias`` (e.g. ``production``) at ``version``; moving it is recorded in the event log.

        In a multi-user store a protected alias (``production`` by default) only moves through
        :func:`assay.governance.approvals.promote` (gates + an approval by someone other than the author).
        """
        if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == "latest":
            raise InvalidInputError(
                f"alias {alias!r} is not valid: use a letter then letters, digits, '-' or '_' "
                "(at most 64 characters; 'latest' is reserved)"
            )
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidInputError(f"version must be an integer version number; got {version!r}")
        user = self._alias_actor(name, alias, version, _approved)

        def move(conn: Any) -> None:
            previous = mq.set_alias(conn, name, alias, version)
            rq.append_event(
                conn,
                actor=user,
                action="model.alias",
                entity_type="model",
                entity_id=name,
                payload={"alias": alias, "version": version, "previous": previous},
            )

        self._db.retrying_write(move)

    def delete_alias(self, name: str, alias: str) -> None:
        current = next((mv.version for mv in self.list_versions(name) if alias in mv.aliases), None)
        user = self._alias_actor(name, alias, current, False) if current is not None else current_user()

        def drop(conn: Any) -> None:
            previous = mq.delete_alias(conn, name, alias)
            rq.append_event(
                conn,
                actor=user,
                action="model.alias_delete",
                entity_type="model",
                entity_id=name,
                payload={"alias": alias, "previous": previous},
            )

        self._db.retrying_write(drop)

    def _actor(self, role: str, *, run_id: str | None = None, project: str | None = None, action: str) -> str:
        """Who is acting, checked for ``role`` in the run's (or given) project; the OS user in single-user mode."""
        from assay.governance.identity import require

        if project is None and run_id is not None:
            with self._db.read() as conn:
                project = rq.run_project(conn, run_id)
        return require(role, project, action=action, client=self._client).user

    def _alias_actor(self, name: str, alias: str, version: int | None, approved: bool) -> str:
        from assay.governance.identity import current_identity

        project = None
        if version is not None:
            mv = self.get_version(name, version)
            if mv.run_id is not None:
                with self._db.read() as conn:
                    project = rq.run_project(conn, mv.run_id)
        who = current_identity(self._client)
        if who.single_user:
            return who.user
        actor = self._actor("scientist", project=project, action=f"move the alias {name}@{alias}")
        if not approved:
            from assay.governance.approvals import protected_aliases

            if alias in protected_aliases(project, client=self._client):
                raise PermissionDeniedError(
                    f"{name}@{alias} is protected: request approval (`assay models promote {name} {version} "
                    f"--alias {alias}`), have a reviewer approve it, then promote"
                )
        return actor

    def resolve(self, uri: str) -> tuple[str, ModelVersion | None, dict[str, str]]:
        """``(uri, version or None for unregistered run models, manifest {file: digest})``."""
        kind, who, ref = parse_model_uri(uri)
        if kind == "run":
            base = safe_relative_path(ref)
            with self._db.read() as conn:
                rq.get_run_row(conn, who)
                arts = lq.list_artifacts(conn, who, base)
            if not arts:
                raise NotFoundError(f"run {who!r} has no model at {base!r}; log one with run.log_model(...)")
            manifest = {a["path"][len(base) + 1 :]: a["digest"] for a in arts}
            if MODEL_META not in manifest:
                raise NotFoundError(f"{uri}: artifacts exist under {base!r} but no {MODEL_META}; not an assay model")
            return uri, None, manifest
        with self._db.read() as conn:
            if kind == "alias":
                version = mq.resolve_alias(conn, who, ref)
            elif kind == "latest":
                version = mq.latest_version(conn, who)
            else:
                version = int(ref)
            row = mq.get_version_row(conn, who, version)
            aliases = mq.aliases_of(conn, who)
        return uri, _to_version(who, row, aliases), dict(row.files)

    def load_model(self, uri: str, *, trusted: bool = False) -> Predictor:
        """Load any version as a :class:`Predictor` that validates inputs against the signature."""
        uri, mv, manifest = self.resolve(uri)
        key = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
        cache = self._client.settings.home / "cache" / "models" / key
        folder = self._client.artifacts.copy_tree_from(manifest, cache)
        try:
            meta = json.loads((folder / MODEL_META).read_text(encoding="utf-8"))
            info = FlavorInfo.from_dict(meta["flavor"])
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidInputError(f"{uri}: {MODEL_META} is unreadable ({exc}); the model folder is corrupt") from exc
        sig = Signature.from_dict(meta["signature"]) if meta.get("signature") else None
        return Predictor.load(
            folder,
            info,
            signature=sig,
            trusted=trusted,
            name=mv.name if mv else meta.get("name", ""),
            version=mv.version if mv else None,
            uri=uri,
        )


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"model name {name!r} is not valid: start with a letter or digit, then letters, digits, '.', '-' "
            "or '_' (at most 255 characters)"
        )


def _to_version(name: str, row: Any, aliases: dict[str, int]) -> ModelVersion:
    return ModelVersion(
        name=name,
        version=row.version,
        run_id=row.run_id,
        flavor=row.flavor,
        model_class=(row.flavor_info or {}).get("model_class", ""),
        artifact_uri=row.artifact_uri,
        signature=row.signature,
        created_at=pd.Timestamp(row.created_ms, unit="ms", tz="UTC"),
        description=row.description,
        aliases=tuple(sorted(a for a, v in aliases.items() if v == row.version)),
    )
