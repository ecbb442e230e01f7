"""Content-addressed artifact storage over fsspec.

Every blob is stored once under ``objects/<first two hex>/<sha256>``; the metadata store maps a
run's logical paths (``plots/roc.png``) to digests. Writes are atomic: on a local folder the
bytes go to a temporary file in the destination folder, are fsynced, then renamed into place;
on an object store (``s3://``, ``gs://``) a single PUT is already all-or-nothing. A crash never
leaves a half-written object visible, and writing the same content twice is a no-op.

Example::

    store = ArtifactStore("/tmp/artifacts")
    digest = store.put_file("roc.png")
    store.open(digest).read()
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import tempfile
import uuid
from pathlib import Path, PurePosixPath
from typing import IO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from assay.errors import ArtifactStoreError, NotFoundError, UnsafePathError

__all__ = ["ArtifactStore", "safe_relative_path", "sha256_file"]

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a local file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def safe_relative_path(path: str) -> str:
    """Normalise an artifact's logical path; reject anything that could escape its root.

    >>> safe_relative_path("plots/roc.png")
    'plots/roc.png'
    """
    if not isinstance(path, str) or not path.strip():
        raise UnsafePathError("artifact path must be a non-empty string such as 'plots/roc.png'")
    cleaned = path.replace("\\", "/")
    pure = PurePosixPath(cleaned)
    if pure.is_absolute() or cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise UnsafePathError(f"artifact path {path!r} is absolute; give a path relative to the run")
    if any(part == ".." for part in pure.parts):
        raise UnsafePathError(f"artifact path {path!r} contains '..'; artifact paths may not leave the run")
    parts = [p for p in pure.parts if p not in ("", ".")]
    if not parts:
        raise UnsafePathError(f"artifact path {path!r} names no file")
    return "/".join(parts)


class ArtifactStore:
    """Blobs addressed by sha256 under a local folder or any fsspec URL."""

    def __init__(self, url: str | os.PathLike[str]) -> None:
        self.url = str(url)
        self.fs, root = fsspec.core.url_to_fs(self.url)
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def _object_path(self, digest: str) -> str:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ArtifactStoreError(f"{digest!r} is not a sha256 hex digest")
        return posixpath.join(self.root, "objects", digest[:2], digest)

    def uri(self, digest: str) -> str:
        """Where the object with this digest lives."""
        path = self._object_path(digest)
        return path if self.local else self.fs.unstrip_protocol(path)

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._object_path(digest)))

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store a local file; return its sha256 digest."""
        src = Path(path)
        if not src.is_file():
            raise NotFoundError(f"cannot log artifact: {src} is not a file")
        digest = sha256_file(src)
        dest = self._object_path(digest)
        if self.fs.exists(dest):
            return digest
        try:
            if self.local:
                self._atomic_local_copy(src, dest, digest)
            else:
                self.fs.put_file(str(src), dest)
        except OSError as exc:
            raise ArtifactStoreError(f"could not store {src} in {self.url}: {exc}") from exc
        return digest

    def put_bytes(self, data: bytes) -> str:
        """Store bytes; return their sha256 digest."""
        digest = hashlib.sha256(data).hexdigest()
        dest = self._object_path(digest)
        if self.fs.exists(dest):
            return digest
        try:
            if self.local:
                Path(dest).parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=Path(dest).parent, prefix=".tmp-")
                try:
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(data)
                        fh.flush()
                        os.fsync(fh.fileno())
                    os.replace(tmp, dest)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
            else:
                self.fs.pipe_file(dest, data)
        except OSError as exc:
            raise ArtifactStoreError(f"could not store {len(data)} bytes in {self.url}: {exc}") from exc
        return digest

    def _atomic_local_copy(self, src: Path, dest: str, digest: str) -> None:
        dest_path = Path(dest)
        dest_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest_path.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            h = hashlib.sha256()
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                while chunk := fin.read(_CHUNK):
                    h.update(chunk)
                    fout.write(chunk)
                fout.flush()
                os.fsync(fout.fileno())
            if h.hexdigest() != digest:
                raise ArtifactStoreError(f"{src} changed while it was being stored; log it again")
            os.replace(tmp, dest_path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def open(self, digest: str) -> IO[bytes]:
        """Open a stored object for reading."""
        path = self._object_path(digest)
        try:
            return self.fs.open(path, "rb")
        except FileNotFoundError as exc:
            raise NotFoundError(f"artifact object {digest} is missing from {self.url}") from exc

    def get_bytes(self, digest: str, *, verify: bool = True) -> bytes:
        """Read an object whole, checking its digest."""
        with self.open(digest) as fh:
            data = fh.read()
        if verify and hashlib.sha256(data).hexdigest() != digest:
            raise ArtifactStoreError(f"artifact object {digest} in {self.url} is corrupt (digest mismatch)")
        return data

    def download(self, digest: str, dest: str | os.PathLike[str], *, verify: bool = True) -> Path:
        """Copy an object to a local file atomically, checking its digest."""
        dest_path = Path(dest)
        dest_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest_path.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            h = hashlib.sha256()
            with self.open(digest) as fin, open(tmp, "wb") as fout:
                while chunk := fin.read(_CHUNK):
                    h.update(chunk)
                    fout.write(chunk)
            if verify and h.hexdigest() != digest:
                raise ArtifactStoreError(f"artifact object {digest} in {self.url} is corrupt (digest mismatch)")
            os.replace(tmp, dest_path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return dest_path

    def copy_tree_from(self, manifest: dict[str, str], dest: str | os.PathLike[str]) -> Path:
        """Materialise ``{relative path: digest}`` into a local folder (atomically as a whole)."""
        dest_path = Path(dest)
        if dest_path.is_dir():
            return dest_path
        staging = Path(
            tempfile.mkdtemp(
                prefix=".tmp-", dir=dest_path.parent if dest_path.parent.exists() else _mk(dest_path.parent)
            )
        )
        try:
            for rel, digest in manifest.items():
                self.download(digest, staging / safe_relative_path(rel))
            try:
                os.replace(staging, dest_path)
            except OSError:
                if not dest_path.is_dir():  # lost a race to another process: theirs is as good
                    raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return dest_path


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
