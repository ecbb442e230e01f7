"""Per-invocation state of the command line: the global options and a client opened on first use.

The root callback stores a :class:`State` on the Click context; commands fetch it with
:func:`get_state` and use ``state.client`` (opened lazily, closed when the command ends).

Example::

    state = get_state(ctx)   # in a command taking ``ctx: typer.Context``
    df = state.client.search_runs(project="churn")
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import typer

from assay.config import Settings
from assay.tracking.client import Client

__all__ = ["State", "get_state"]


@dataclass
class State:
    """Global options of one ``assay`` invocation (``None`` means: use env / ``assay.toml`` / default)."""

    store_url: str | None = None
    artifacts_url: str | None = None
    home: str | None = None
    debug: bool = False
    _client: Client | None = field(default=None, init=False, repr=False)

    def settings(self, cwd: str | os.PathLike[str] | None = None) -> Settings:
        """Settings resolved with the command-line overrides (``assay.toml`` read from ``cwd``)."""
        return Settings.load(home=self.home, store_url=self.store_url, artifacts_url=self.artifacts_url, cwd=cwd)

    @property
    def client(self) -> Client:
        """A client on the resolved stores, created on first use."""
        if self._client is None:
            self._client = Client(store_url=self.store_url, artifacts_url=self.artifacts_url, home=self.home)
        return self._client

    def close(self) -> None:
        """Flush and release the client, if one was opened."""
        if self._client is not None:
            client, self._client = self._client, None
            client.close()


def get_state(ctx: typer.Context) -> State:
    """The :class:`State` of the running command (a default one outside the root callback)."""
    state = ctx.find_object(State)
    return state if state is not None else ctx.ensure_object(State)
