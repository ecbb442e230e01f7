"""``assay users ...`` and ``assay tokens ...``: identities and roles (see :mod:`assay.governance.identity`).

Example::

    $ assay users add maria --role admin              # the first user: the store becomes multi-user
    $ assay tokens create maria                       # printed once; export ASSAY_TOKEN=...
    $ assay users add li --role scientist --project churn
    $ assay users grant ana reviewer --project churn
    $ assay tokens revoke 3
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from assay.cli.context import get_state
from assay.cli.render import JsonOption, cell, fmt_time, new_table, print_json, stdout
from assay.governance import identity as ident

__all__ = ["tokens_app", "users_app"]

users_app = typer.Typer(help="Users and their roles per project (viewer, scientist, reviewer, admin).",
                        no_args_is_help=True)  # fmt: skip
tokens_app = typer.Typer(help="API tokens (stored hashed; shown once).", no_args_is_help=True)

ProjectOption = Annotated[str, typer.Option("--project", help="The project ('*': every project).")]


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user's name.")],
    role: Annotated[str | None, typer.Option("--role", help="viewer, scientist, reviewer or admin.")] = None,
    project: ProjectOption = "*",
    email: Annotated[str | None, typer.Option("--email", help="Contact address.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Create a user (the first must be an admin: it switches the store to multi-user mode)."""
    user = ident.add_user(name, role=role, project=project, email=email, client=get_state(ctx).client)
    if json_output:
        print_json(user)
        return
    role_text = f" as {role} of {'every project' if project == '*' else project}" if role else ""
    if "token" in user:
        typer.echo(
            f"User {name} added{role_text}; the store is now multi-user. Their token (shown once; "
            "export ASSAY_TOKEN=... to act as them):",
            err=True,
        )
        typer.echo(user["token"])
        return
    stdout().print(Text(f"User {name} added{role_text}. Create a token: assay tokens create {name}"))


@users_app.command("list")
def users_list(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Every user with their roles."""
    users = ident.list_users(client=get_state(ctx).client)
    if json_output:
        print_json(users)
        return
    if not users:
        stdout().print(Text("No users: this store is in single-user mode (the local user is admin).", style="dim"))
        return
    table = new_table("user", "roles", "email", "created (UTC)")
    for u in users:
        roles = ", ".join(f"{r} ({'all' if p == '*' else p})" for p, r in sorted(u["roles"].items()))
        table.add_row(cell(u["name"], "bold"), cell(roles), cell(u["email"] or ""), cell(fmt_time(u["created_ms"])))
    stdout().print(table)


@users_app.command("grant")
def users_grant(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="viewer, scientist, reviewer or admin.")],
    project: ProjectOption = "*",
) -> None:
    """Give a user a role in a project (admins only)."""
    previous = ident.grant(name, role, project=project, client=get_state(ctx).client)
    was = f" (was {previous})" if previous else ""
    stdout().print(Text(f"{name} is {role} in {'every project' if project == '*' else project}{was}."))


@users_app.command("revoke")
def users_revoke(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The user.")], project: ProjectOption = "*"
) -> None:
    """Remove a user's role in a project (admins only)."""
    ident.revoke(name, project=project, client=get_state(ctx).client)
    stdout().print(Text(f"{name} has no role in {'every project' if project == '*' else project} any more."))


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="Whose token.")],
    name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "default",
    expires_days: Annotated[int | None, typer.Option("--expires-days", help="Expire after N days.")] = None,
) -> None:
    """Create an API token; it is printed once (only its hash is stored)."""
    token = ident.create_token(user, name=name, expires_days=expires_days, client=get_state(ctx).client)
    typer.echo(token)
    typer.echo(f"Store it now; assay keeps only its hash. Use it with: export ASSAY_TOKEN={token}", err=True)


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Tokens (never their values): id, user, label, prefix, created, expiry, revoked."""
    tokens = ident.list_tokens(user, client=get_state(ctx).client)
    if json_output:
        print_json(tokens)
        return
    table = new_table("id", "user", "name", "prefix", "created (UTC)", "expires", "revoked")
    for t in tokens:
        table.add_row(cell(str(t["id"])), cell(t["user"], "bold"), cell(t["name"]), cell(t["prefix"] + "…"),
                      cell(fmt_time(t["created_ms"])), cell(fmt_time(t["expires_ms"]) if t["expires_ms"] else ""),
                      cell(fmt_time(t["revoked_ms"]) if t["revoked_ms"] else "", "red"))  # fmt: skip
    stdout().print(table)


@tokens_app.command("revoke")
def tokens_revoke(ctx: typer.Context, token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token (admins only); it is refused from then on."""
    ident.revoke_token(token_id, client=get_state(ctx).client)
    stdout().print(Text(f"Token {token_id} revoked."))
