"""Content-addressed, atomic artifact storage (local folder by default; any fsspec URL)."""

from assay.artifacts.store import ArtifactStore, safe_relative_path, sha256_file

__all__ = ["ArtifactStore", "safe_relative_path", "sha256_file"]
