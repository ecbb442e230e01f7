"""What a ``client=None`` argument means everywhere: the default client (kept import-light to avoid cycles)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["client_or_default"]


def client_or_default(client: Client | None) -> Client:
    """``client`` itself, or the default client (``assay.get_client()``) when it is ``None``."""
    if client is not None:
        return client
    from assay.tracking.fluent import get_client

    return get_client()
