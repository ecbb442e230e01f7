"""Record data-quality results against dataset versions in the store, and read them back.

A dataset version is identified by its content fingerprint (:func:`assay.data.describe_dataset`), so
profiling or validating the same file twice records two results on one version, and a changed file
is a new version. A stored profile becomes the drift reference of a monitor (``reference:
{dataset: NAME}``) without keeping the reference rows around.

Example::

    prof = data.profile("orders.parquet")
    data.record(prof, "orders.parquet", dataset="orders")         # kind "profile"; also the version's profile
    data.load_profile("orders")                                    # the newest version's profile
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from assay._defaults import client_or_default as _client
from assay.data.datasets import describe_dataset
from assay.errors import InvalidInputError, NotFoundError
from assay.store import lineage as lq
from assay.store import monitoring as mq
from assay.store.models import Dataset, DatasetVersion
from assay.tracking.environment import current_user

if TYPE_CHECKING:
    from assay.data.profile import Profile
    from assay.tracking.client import Client

__all__ = ["dataset_checks", "load_profile", "record"]

_KINDS = {"Profile": "profile", "ValidationResult": "validation", "PiiScan": "pii", "SchemaDiff": "schema_diff"}


def record(result: Any, source: Any, *, dataset: str | None = None, client: Client | None = None) -> int:
    """Store ``result`` (a Profile, ValidationResult, PiiScan or SchemaDiff) against the dataset version of
    ``source`` (a file, folder or DataFrame; fingerprinted), creating the version if new. Returns the id
    of the stored check. A profile is also kept as the version's reference profile."""
    kind = _KINDS.get(type(result).__name__)
    if kind is None:
        raise InvalidInputError(
            f"cannot record a {type(result).__name__}: pass a Profile, ValidationResult, PiiScan or SchemaDiff"
        )
    try:
        info = describe_dataset(source, name=dataset)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc}. Results are recorded against a file, a folder or a DataFrame.") from exc
    payload = result.to_dict()
    passed = getattr(result, "passed", None)
    if kind == "schema_diff":
        passed = not result.breaking
    summary = result.summary()
    who = current_user()

    def write(conn: Any) -> int:
        version_id, _ = lq.get_or_create_dataset_version(
            conn,
            name=info.name,
            fingerprint=info.fingerprint,
            schema=info.schema,
            num_rows=info.num_rows,
            source_uri=info.source_uri,
        )
        if kind == "profile":
            conn.execute(update(DatasetVersion).where(DatasetVersion.id == version_id).values(profile=payload))
        return mq.record_dataset_check(
            conn, version_id, kind, payload, actor=who, passed=None if passed is None else bool(passed), summary=summary
        )

    return _client(client).db.retrying_write(write)


def _version_id(conn: Any, dataset: str, fingerprint: str | None, *, with_profile: bool) -> int:
    stmt = (
        select(DatasetVersion.id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(Dataset.name == dataset)
        .order_by(DatasetVersion.created_ms.desc(), DatasetVersion.id.desc())
    )
    if fingerprint is not None:
        stmt = stmt.where(DatasetVersion.fingerprint.startswith(fingerprint))
    if with_profile:
        stmt = stmt.where(DatasetVersion.profile.is_not(None))
    found = conn.execute(stmt.limit(1)).scalar()
    if found is None:
        what = f"dataset {dataset!r}" + (f" version {fingerprint}" if fingerprint else "")
        hint = (
            " has no stored profile; record one: assay data profile FILE --dataset NAME"
            if with_profile
            else (" not found")
        )
        raise NotFoundError(what + hint)
    return found


def load_profile(dataset: str, *, fingerprint: str | None = None, client: Client | None = None) -> Profile:
    """The stored profile of ``dataset`` (its newest profiled version, or the one whose fingerprint starts
    with ``fingerprint``)."""
    from assay.data.profile import Profile

    with _client(client).db.read() as conn:
        version_id = _version_id(conn, dataset, fingerprint, with_profile=True)
        payload = conn.execute(select(DatasetVersion.profile).where(DatasetVersion.id == version_id)).scalar_one()
    return Profile.from_dict(payload)


def dataset_checks(
    dataset: str, *, kind: str | None = None, fingerprint: str | None = None, client: Client | None = None
) -> list[dict[str, Any]]:
    """Results recorded against the newest version of ``dataset`` (or the given one), newest first."""
    with _client(client).db.read() as conn:
        version_id = _version_id(conn, dataset, fingerprint, with_profile=False)
        return mq.list_dataset_checks(conn, version_id, kind=kind)
