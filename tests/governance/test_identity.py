"""Users, tokens and roles: single-user stores stay open; multi-user stores enforce roles through the Python API
and the CLI (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from assay.cli.main import app
from assay.errors import ConflictError, InvalidInputError, PermissionDeniedError
from assay.governance import identity as ident
from assay.governance.history import audit_log
from assay.tracking.client import Client

MODEL = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def _as(client: Client, token: str | None) -> Client:
    return Client(store_url=client.settings.store_url, artifacts_url=client.settings.artifacts_url, token=token)


def test_single_user_store_lets_the_local_owner_do_everything(client: Client) -> None:
    who = ident.current_identity(client)
    assert who.single_user and who.can("admin", "any")
    with client.start_run(project="p", capture_env=False) as run:
        client.log_model(run.id, MODEL, "churn")
    client.set_alias("churn", "production", 1)  # protected aliases only bind in multi-user stores
    assert ident.list_users(client=client) == []


def test_first_user_must_be_an_admin(client: Client) -> None:
    with pytest.raises(InvalidInputError, match="must be an admin of every project"):
        ident.add_user("li", role="scientist", client=client)
    with pytest.raises(InvalidInputError, match="role must be one of"):
        ident.add_user("li", role="boss", client=client)
    ident.add_user("root", role="admin", client=client)
    with pytest.raises(PermissionDeniedError, match="set ASSAY_TOKEN"):
        ident.current_identity(client)  # multi-user now: a token is required


def test_roles_are_enforced_and_tokens_can_be_revoked(client: Client) -> None:
    root_token = ident.add_user("root", role="admin", client=client)["token"]
    with pytest.raises(PermissionDeniedError, match="set ASSAY_TOKEN"):
        ident.create_token("root", client=client)  # the local owner is nobody special any more
    root = _as(client, root_token)
    assert ident.current_identity(root).user == "root"
    ident.add_user("sci", role="scientist", project="churn", client=root)
    ident.add_user("rev", role="reviewer", project="churn", client=root)
    ident.add_user("view", role="viewer", project="churn", client=root)
    with pytest.raises(ConflictError, match="already exists"):
        ident.add_user("sci", client=root)
    sci = _as(client, ident.create_token("sci", client=root))
    view = _as(client, ident.create_token("view", client=root))
    rev_token = ident.create_token("rev", client=root, expires_days=30)
    rev = _as(client, rev_token)

    with sci.start_run(project="churn", capture_env=False) as run:
        version = sci.log_model(run.id, MODEL, "churn").version
    with pytest.raises(PermissionDeniedError, match="needs the scientist role in project 'churn'"):
        view.start_run(project="churn", capture_env=False)
    with pytest.raises(PermissionDeniedError, match="no role"):
        sci.start_run(project="other", capture_env=False)
    with pytest.raises(PermissionDeniedError, match="register model versions"):
        view.log_model(run.id, MODEL, "churn")
    with pytest.raises(PermissionDeniedError, match="is protected"):
        sci.set_alias("churn", "production", version)
    sci.set_alias("churn", "staging", version)  # unprotected aliases move freely
    with pytest.raises(PermissionDeniedError, match="cannot change roles"):
        ident.grant("view", "admin", client=sci)
    assert ident.grant("view", "scientist", project="churn", client=root) == "viewer"

    tokens = ident.list_tokens("rev", client=root)
    assert len(tokens) == 1 and tokens[0]["prefix"].startswith("assay_") and rev_token not in str(tokens)
    assert ident.current_identity(rev).user == "rev"
    ident.revoke_token(tokens[0]["id"], client=root)
    with pytest.raises(PermissionDeniedError, match="revoked"):
        ident.current_identity(rev)
    with pytest.raises(PermissionDeniedError, match="not known"):
        ident.current_identity(_as(client, "assay_made_up"))
    actions = [e["action"] for e in audit_log(action="user.", client=root)] + [
        e["action"] for e in audit_log(action="token.", client=root)
    ]
    assert actions.count("user.add") == 4 and "token.revoke" in actions


def test_cli_first_admin_gets_a_token_and_roles_apply(client: Client, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--store-url", client.db.safe_url, "--artifacts-url", str(tmp_path / "artifacts")]
    added = runner.invoke(app, [*base, "users", "add", "root", "--role", "admin"])
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1]
    assert token.startswith("assay_")
    env = {"ASSAY_TOKEN": token}
    sci = runner.invoke(app, [*base, "users", "add", "li", "--role", "scientist", "--project", "churn"], env=env)
    assert sci.exit_code == 0, sci.output
    listed = runner.invoke(app, [*base, "users", "list"], env=env)
    assert "scientist (churn)" in listed.output
    denied = runner.invoke(app, [*base, "users", "list"])
    assert denied.exit_code == 0  # reading needs no token
    refused = runner.invoke(app, [*base, "users", "grant", "li", "admin"], env={"ASSAY_TOKEN": "assay_nope"})
    assert refused.exit_code == 7 and "not known" in refused.output
