"""The demo's team: an admin, a scientist who trains and asks for promotion, a reviewer who approves, a viewer.

Creating the first user switches the store to multi-user mode (see :mod:`assay.governance.identity`): from then
on every write needs an API token. The tokens are written to ``<home>/demo/team.json`` and
``<home>/demo/tokens.env`` (mode 0600) so a newcomer can log in to the UI or act as any of them on the CLI;
a second demo run on the same store reuses them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assay.errors import AssayError, PermissionDeniedError
from assay.governance import identity as ident

if TYPE_CHECKING:
    from assay.tracking.client import Client

__all__ = ["MEMBERS", "Team", "assemble_team"]

#: name -> (role, project, what they do in the demo)
MEMBERS: dict[str, tuple[str, str, str]] = {
    "demo-admin": ("admin", "*", "administers the store (users, tokens, roles, overrides)"),
    "ana": ("scientist", "churn", "trains the churn models and asks for their promotion"),
    "rui": ("reviewer", "churn", "reviews and approves promotions to production"),
    "mia": ("viewer", "*", "reads everything: the executive's seat"),
}


@dataclass(frozen=True)
class Team:
    """A client per demo user, their tokens, and where the tokens were written."""

    clients: dict[str, Client]
    tokens: dict[str, str]
    file: Path
    env_file: Path
    created: bool  # False when an earlier demo run's team was reused

    def __getitem__(self, name: str) -> Client:
        return self.clients[name]

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


def _as(client: Client, token: str) -> Client:
    from assay.tracking.client import Client

    s = client.settings
    return Client(store_url=s.store_url, artifacts_url=s.artifacts_url, home=s.home, token=token)


def _valid(client: Client, tokens: dict[str, str]) -> bool:
    """Whether ``tokens`` still open this store as the demo's users."""
    for name in MEMBERS:
        if name not in tokens:
            return False
        probe = _as(client, tokens[name])
        try:
            if ident.current_identity(probe).user != name:
                return False
        except AssayError:
            return False
        finally:
            probe.close()
    return True


def assemble_team(client: Client, folder: Path) -> Team:
    """Create the demo users and tokens (or reuse an earlier run's), and write the token files.

    On a store that already has users and no usable demo tokens, the acting client must be an admin
    (``ASSAY_TOKEN``); otherwise :class:`~assay.errors.PermissionDeniedError` says how to go on.
    """
    file, env_file = folder / "team.json", folder / "tokens.env"
    if file.exists():
        try:
            saved = json.loads(file.read_text(encoding="utf-8"))["tokens"]
        except (ValueError, KeyError, TypeError):
            saved = {}
        if _valid(client, saved):
            return Team({n: _as(client, t) for n, t in saved.items() if n in MEMBERS}, saved, file, env_file, False)
    who = ident.current_identity(client)
    existing = {u["name"] for u in ident.list_users(client=client)}
    if not who.single_user and not who.can("admin"):
        raise PermissionDeniedError(
            f"this store already has users and {who.user} is not an admin: run the demo with an admin's "
            "ASSAY_TOKEN, or on a fresh workspace (`assay --home ./assay-demo demo`)"
        )
    tokens: dict[str, str] = {}
    admin_client = client
    if who.single_user:
        first = ident.add_user("demo-admin", role="admin", client=client)
        tokens["demo-admin"] = first["token"]
        admin_client = _as(client, first["token"])
    for name, (role, project, _) in MEMBERS.items():
        if name in tokens:
            continue
        if name in existing or name in {u["name"] for u in ident.list_users(client=admin_client)}:
            ident.grant(name, role, project=project, client=admin_client)
        else:
            ident.add_user(name, role=role, project=project, client=admin_client)
        tokens[name] = ident.create_token(name, name="assay-demo", client=admin_client)
    _write(file, env_file, tokens, client)
    clients = {n: (admin_client if n == "demo-admin" and admin_client is not client else _as(client, t))
               for n, t in tokens.items()}  # fmt: skip
    return Team(clients, tokens, file, env_file, True)


def _write(file: Path, env_file: Path, tokens: dict[str, str], client: Client) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    members = {n: {"role": r, "project": p, "does": d, "token": tokens[n]} for n, (r, p, d) in MEMBERS.items()}
    body = json.dumps({"store_url": client.db.safe_url, "tokens": tokens, "members": members}, indent=2)
    lines = ["# assay demo: API tokens (shown once by the store; keep this file private)\n"]
    for name, (role, project, does) in MEMBERS.items():
        lines.append(f"# {name}: {role} in {'every project' if project == '*' else project}; {does}\n")
        lines.append(f"ASSAY_TOKEN_{name.upper().replace('-', '_')}={tokens[name]}\n")
    for path, text in ((file, body), (env_file, "".join(lines))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(path)
