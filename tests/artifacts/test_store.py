"""Content-addressed artifact store: dedup, atomicity, verification, path safety."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from assay.artifacts import ArtifactStore, safe_relative_path
from assay.errors import ArtifactStoreError, NotFoundError, UnsafePathError


def test_put_and_get(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    f = tmp_path / "x.bin"
    f.write_bytes(b"hello" * 1000)
    digest = store.put_file(f)
    assert digest == hashlib.sha256(f.read_bytes()).hexdigest()
    assert store.get_bytes(digest) == f.read_bytes()
    assert store.put_file(f) == digest  # idempotent
    assert store.put_bytes(b"hello" * 1000) == digest
    objects = [p for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert len(objects) == 1 and not any(p.name.startswith(".tmp") for p in objects)


def test_corruption_is_detected(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    digest = store.put_bytes(b"payload")
    Path(store.uri(digest)).write_bytes(b"tampered")
    with pytest.raises(ArtifactStoreError, match="corrupt"):
        store.get_bytes(digest)
    with pytest.raises(ArtifactStoreError, match="corrupt"):
        store.download(digest, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()


def test_missing_object_and_bad_digest(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    with pytest.raises(NotFoundError, match="missing"):
        store.get_bytes("0" * 64)
    with pytest.raises(ArtifactStoreError, match="not a sha256"):
        store.get_bytes("../../etc/passwd")
    with pytest.raises(NotFoundError, match="not a file"):
        store.put_file(tmp_path / "nope")


def test_half_written_temp_file_is_invisible(tmp_path: Path) -> None:
    """A crash mid-write leaves only a .tmp- file, which no digest can name."""
    store = ArtifactStore(tmp_path / "a")
    digest = hashlib.sha256(b"full content").hexdigest()
    folder = Path(store.uri(digest)).parent
    folder.mkdir(parents=True)
    (folder / ".tmp-deadbeef").write_bytes(b"full con")
    assert not store.exists(digest)
    assert store.put_bytes(b"full content") == digest
    assert store.get_bytes(digest) == b"full content"


def test_fsspec_memory_backend() -> None:
    store = ArtifactStore("memory://assay-test-artifacts")
    digest = store.put_bytes(b"in memory")
    assert store.exists(digest) and store.get_bytes(digest) == b"in memory"
    assert store.uri(digest).startswith("memory://")


def test_copy_tree(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    manifest = {"model.skops": store.put_bytes(b"m"), "sub/meta.json": store.put_bytes(b"{}")}
    out = store.copy_tree_from(manifest, tmp_path / "cache" / "m1")
    assert (out / "model.skops").read_bytes() == b"m" and (out / "sub" / "meta.json").read_bytes() == b"{}"
    assert store.copy_tree_from(manifest, out) == out  # cached


@pytest.mark.parametrize(
    ("path", "expected"), [("a/b.txt", "a/b.txt"), ("./a//b.txt", "a/b.txt"), ("a\\b.txt", "a/b.txt")]
)
def test_safe_relative_path(path: str, expected: str) -> None:
    assert safe_relative_path(path) == expected


@pytest.mark.parametrize("path", ["", "   ", "/abs", "../x", "a/../../x", "C:\\x", "."])
def test_unsafe_paths(path: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_relative_path(path)
