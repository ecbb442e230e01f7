"""Web UI pages through the real app (``create_app``) on a real store: every page renders what is stored, the
runs table filters / sorts / pages / swaps under HTMX, and roles decide what is offered and what is refused."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay.governance.approvals import list_requests
from assay.server import create_app
from assay.tracking.client import Client

from .ui_fixtures import DATASET, EXPERIMENT, MODEL, MONITOR, PROJECT, Workspace, build_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = build_workspace(tmp_path_factory.mktemp("ui-store"))
    yield workspace
    workspace.client.close()


@pytest.fixture(scope="module")
def app_client(ws: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(ws.client), raise_server_exceptions=False) as tc:
        yield tc


def as_user(tc: TestClient, ws: Workspace, user: str | None) -> TestClient:
    tc.cookies.clear()
    if user is not None:
        tc.cookies.set("assay_token", ws.tokens[user])
    return tc


def text_of(page: str) -> str:
    """What a reader sees: tags and scripts dropped, entities decoded, white space collapsed."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


# -- login -------------------------------------------------------------------------------------------------------
def test_anonymous_browser_is_sent_to_login_and_a_good_token_sets_an_httponly_cookie(
    app_client: TestClient, ws: Workspace
) -> None:
    tc = as_user(app_client, ws, None)
    r = tc.get("/ui/projects", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?next=/ui/projects"
    assert "API token" in tc.get(r.headers["location"]).text

    bad = tc.post("/ui/login", data={"token": "assay_nope", "next": "/ui/projects"}, follow_redirects=False)
    assert bad.status_code == 401 and "not known" in bad.text and "assay_token" not in bad.headers.get("set-cookie", "")

    ok = tc.post("/ui/login", data={"token": ws.tokens["vic"], "next": "/ui/projects"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/ui/projects"
    cookie = ok.headers["set-cookie"]
    assert cookie.startswith("assay_token=") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    page = tc.get("/ui/projects")
    assert page.status_code == 200 and PROJECT in page.text and "vic" in page.text

    out = tc.post("/ui/logout", follow_redirects=False)
    assert out.status_code == 303 and 'assay_token=""' in out.headers["set-cookie"]


def test_login_never_redirects_off_site(app_client: TestClient, ws: Workspace) -> None:
    tc = as_user(app_client, ws, None)
    r = tc.post("/ui/login", data={"token": ws.tokens["vic"], "next": "https://evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/ui/"


def test_a_form_posted_from_another_site_is_refused(app_client: TestClient, ws: Workspace) -> None:
    tc = as_user(app_client, ws, "rita")
    r = tc.post(f"/ui/approvals/{ws.request_id}", data={"decision": "approve"},
                headers={"Origin": "https://evil.example"})  # fmt: skip
    assert r.status_code == 403 and "cannot act on this server" in r.text
    assert next(q for q in list_requests(client=ws.client) if q["id"] == ws.request_id)["state"] == "pending"


# -- pages render stored objects ---------------------------------------------------------------------------------
def test_overview_lists_projects_models_experiments_and_open_incidents(app_client: TestClient, ws: Workspace) -> None:
    body = text_of(as_user(app_client, ws, "vic").get("/ui/").text)
    assert f"{PROJECT} 14 runs" in body  # 12 tracked runs + 2 training runs
    assert MODEL in body and "staging → v2" in body and EXPERIMENT in body
    assert "drift.share_drifted" in body  # the open incident's title


def test_runs_table_filters_sorts_pages_and_chooses_columns(app_client: TestClient, ws: Workspace) -> None:
    tc = as_user(app_client, ws, "vic")
    url = f"/ui/projects/{PROJECT}"
    full = tc.get(url)
    assert full.status_code == 200 and "<html" in full.text and "14 runs · page 1 of 1" in text_of(full.text)

    r = tc.get(url, params={"filter": "params.model = 'lgbm' and metrics.auc > 0.8", "order": "metrics.auc desc",
                            "col": ["metrics.auc", "params.lr"]})  # fmt: skip
    names = re.findall(r'href="/ui/runs/\w+">([\w-]+)<', r.text)
    assert names == ["lgbm-11", "lgbm-09", "lgbm-07"]  # last auc = 0.74 + 0.01 i
    assert "metrics.auc ▼" in r.text and "params.lr" in r.text and "metrics.loss" not in r.text.split("<tbody>")[1]
    assert "0.12" in r.text  # lr of lgbm-11

    page1 = tc.get(url, params={"size": "5", "order": "attributes.name asc"}, headers={"HX-Request": "true"})
    assert "<html" not in page1.text and 'id="runs-table"' in page1.text  # only the table, for HTMX to swap
    assert re.findall(r'href="/ui/runs/\w+">([\w-]+)<', page1.text)[0] == "lgbm-01"
    assert "page 1 of 3" in page1.text and 'id="next-page"' in page1.text
    page3 = tc.get(
        url, params={"size": "5", "order": "attributes.name asc", "page": "3"}, headers={"HX-Request": "true"}
    )
    assert re.findall(r'href="/ui/runs/\w+">([\w-]+)<', page3.text) == [
        "logreg-08",
        "logreg-10",
        "train-v1",
        "train-v2",
    ]
    assert 'id="next-page"' not in page3.text


def test_runs_table_explains_a_bad_filter(app_client: TestClient, ws: Workspace) -> None:
    tc = as_user(app_client, ws, "vic")
    r = tc.get(f"/ui/projects/{PROJECT}", params={"filter": "metrics.auc >"}, headers={"HX-Request": "true"})
    assert r.status_code == 400 and "<html" not in r.text and "position 13" in r.text
    r = tc.get(f"/ui/projects/{PROJECT}", params={"size": "0"})
    assert r.status_code == 400 and "'size' must be a whole number from 1 to 200" in text_of(r.text)


def test_run_page_and_compare_show_params_metrics_and_history_charts(app_client: TestClient, ws: Workspace) -> None:
    tc = as_user(app_client, ws, "vic")
    first, second = ws.runs[0], ws.runs[1]
    run = tc.get(f"/ui/runs/{first}")
    body = text_of(run.text)
    assert run.status_code == 200 and "logreg-00" in body and "lr 0.01" in body and "team growth" in body
    assert "auc 0.74" in body and "/ui/static/plotly.min.js" in run.text and run.text.count('class="plot"') == 2

    cmp = tc.get("/ui/compare", params={"run": [first, second]})
    body = text_of(cmp.text)
    assert cmp.status_code == 200 and "Compare 2 runs" in body and "logreg-00" in body and "lgbm-01" in body
    assert '<tr class="differs"><th>model</th>' in cmp.text and '<tr class=""><th>team</th>' in cmp.text
    assert cmp.text.count('class="plot"') == 2  # auc and loss histories, one line per run
    assert tc.get("/ui/compare", params={"run": [first]}).status_code == 400
    assert tc.get("/ui/runs/not-a-run").status_code == 404


def test_plotly_and_htmx_are_served_by_the_app(app_client: TestClient, ws: Workspace) -> None:
    tc = as_user(app_client, ws, None)
    js = tc.get("/ui/static/plotly.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript") and len(js.content) > 1e6
    htmx = tc.get("/ui/static/htmx.min.js")
    assert htmx.status_code == 200 and b"htmx" in htmx.content[:100]
    assert tc.get("/ui/static/style.css").headers["content-type"].startswith("text/css")
    assert tc.get("/ui/static/..%2Fqueries.py").status_code == 404


def test_model_and_version_pages(app_client: TestClient, ws: Workspace) -> None:
    tc = as_user(app_client, ws, "vic")
    model = text_of(tc.get(f"/ui/models/{MODEL}").text)
    assert "v2 @staging" in model and "higher AUC" in model
    assert "@staging v2 v1 root" in model and "@staging v1 root" in model  # alias history, newest first

    page = tc.get(f"/ui/models/{MODEL}/2")
    body = text_of(page.text)
    assert page.status_code == 200
    assert "card complete" in body and "intended_use" in body  # the default policy's gate, with its evidence
    assert "Predictions lean most on spend" in body  # the stored explanation
    assert "sex = f" in body and "sex = m" in body and "four-fifths rule passed" in body
    assert "trained on churn-train" in body and "watched by churn-prod" in body and "served in checkout-v2" in body
    assert page.text.count('class="plot"') == 3  # importance, fairness by group, lineage graph


def test_monitor_page_shows_drift_heat_map_performance_alerts_and_incidents(
    app_client: TestClient, ws: Workspace
) -> None:
    tc = as_user(app_client, ws, "vic")
    assert MONITOR in tc.get("/ui/monitoring").text
    page = tc.get(f"/ui/monitors/{MONITOR}")
    body = text_of(page.text)
    assert page.status_code == 200 and '"type":"heatmap"' in page.text
    assert '"y":["plan","spend"]' in page.text  # one heat-map row per feature
    assert "estimated (no labels)" in page.text and "measured" in page.text
    assert "drift drift.share_drifted" in body and "open" in body
    assert "2026-11-03 00:00 alerting" in body and "2026-11-01 00:00 ok" in body


def test_experiment_readout(app_client: TestClient, ws: Workspace) -> None:
    tc = as_user(app_client, ws, "vic")
    assert EXPERIMENT in tc.get("/ui/experiments").text
    page = tc.get(f"/ui/experiments/{EXPERIMENT}")
    body = text_of(page.text)
    assert page.status_code == 200 and "Decision: ship" in body
    assert "Treatment raised conversion by" in body and "Sample ratio OK" in body
    assert re.search(r"OK p = 0\.\d+ \(alarm below 0\.001\)", body)
    assert "views · treatment ok margin 5.0%" in body
    assert '"error_x"' in page.text and "conversion (%)" in page.text  # the forest plot
    assert f'href="/ui/models/{MODEL}/2">models:/{MODEL}/2</a>' in page.text  # the variant's model version
    assert tc.get("/ui/experiments/nope").status_code == 404


def test_dataset_page_shows_versions_profile_contract_results_and_schema_diff(
    app_client: TestClient, ws: Workspace
) -> None:
    tc = as_user(app_client, ws, "vic")
    assert DATASET in tc.get("/ui/data").text
    newest = text_of(tc.get(f"/ui/data/{DATASET}").text)
    assert "breaking" in newest and "'tenure' was probably renamed to 'tenure_months'" in newest
    assert "900 rows, 4 columns" in newest
    first_id = re.findall(r"\?version=(\d+)", tc.get(f"/ui/data/{DATASET}").text)[-1]
    oldest = text_of(tc.get(f"/ui/data/{DATASET}", params={"version": first_id}).text)
    assert "failed" in oldest and "tenure.max" in oldest and "800 rows, 4 columns" in oldest
    assert tc.get(f"/ui/data/{DATASET}", params={"version": "999"}).status_code == 404


# -- roles: not offered, and refused -----------------------------------------------------------------------------
def test_only_reviewers_are_offered_approve_and_only_scientists_a_promotion_request(
    app_client: TestClient, ws: Workspace
) -> None:
    url = f"/ui/models/{MODEL}/2"
    vic = as_user(app_client, ws, "vic").get(url).text
    assert f'id="approve-{ws.request_id}"' not in vic and 'id="request-promotion"' not in vic
    sam = as_user(app_client, ws, "sam").get(url).text
    assert f'id="approve-{ws.request_id}"' not in sam and 'id="request-promotion"' in sam
    rita = as_user(app_client, ws, "rita").get(url).text
    assert f'id="approve-{ws.request_id}"' in rita and f'id="reject-{ws.request_id}"' in rita


def test_a_viewer_and_a_scientist_are_refused_the_approval_with_a_403_page(
    app_client: TestClient, ws: Workspace
) -> None:
    for user in ("vic", "sam"):
        r = as_user(app_client, ws, user).post(f"/ui/approvals/{ws.request_id}", data={"decision": "approve"})
        assert r.status_code == 403 and "Not allowed" in r.text and "reviewer role" in r.text
    r = as_user(app_client, ws, "vic").post(f"/ui/models/{MODEL}/1/request", data={"alias": "production"})
    assert r.status_code == 403 and "scientist role" in r.text
    assert next(q for q in list_requests(client=ws.client) if q["id"] == ws.request_id)["state"] == "pending"


def test_request_then_reviewer_rejects_with_a_comment(app_client: TestClient, ws: Workspace) -> None:
    sam = as_user(app_client, ws, "sam")
    r = sam.post(f"/ui/models/{MODEL}/1/request", data={"alias": "production", "comment": "baseline"},
                 follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == f"/ui/models/{MODEL}/1#approvals"
    (req,) = [q for q in list_requests(model=MODEL, client=ws.client) if q["version"] == 1]
    assert req["requested_by"] == "sam" and req["state"] == "pending"

    rita = as_user(app_client, ws, "rita")
    refused = rita.post(f"/ui/approvals/{req['id']}", data={"decision": "reject"})
    assert refused.status_code == 400 and "say why" in refused.text
    done = rita.post(f"/ui/approvals/{req['id']}", data={"decision": "reject", "comment": "AUC too low"})
    assert done.status_code == 200 and "rejected" in done.text and "AUC too low" in done.text
    stored = next(q for q in list_requests(model=MODEL, client=ws.client) if q["id"] == req["id"])
    assert (stored["state"], stored["decided_by"], stored["decision_comment"]) == ("rejected", "rita", "AUC too low")
    again = rita.post(f"/ui/approvals/{req['id']}", data={"decision": "approve"})
    assert again.status_code == 409 and "only a pending request" in again.text


def test_approve_then_only_an_admin_may_promote_past_failed_gates(app_client: TestClient, ws: Workspace) -> None:
    url = f"/ui/models/{MODEL}/2"
    r = as_user(app_client, ws, "rita").post(f"/ui/approvals/{ws.request_id}", data={"decision": "approve"})
    assert r.status_code == 200 and r.url.path == url and "approved" in text_of(r.text)

    sam = as_user(app_client, ws, "sam").get(url).text  # the default policy's gate fails: no button for sam
    assert f'id="promote-{ws.request_id}"' not in sam and "moves once the policy gates below pass" in sam
    refused = as_user(app_client, ws, "sam").post(f"{url}/promote", data={"alias": "production"})
    assert refused.status_code == 403 and "fails policy gates" in text_of(refused.text)

    ada = as_user(app_client, ws, "ada")
    assert f'id="promote-{ws.request_id}"' in ada.get(url).text and 'name="override"' in ada.get(url).text
    done = ada.post(f"{url}/promote", data={"alias": "production", "override": "card text follows this week"})
    assert done.status_code == 200 and "@production" in done.text
    assert ws.client.registry.get_version(MODEL, 2).aliases == ("production", "staging")
    history = text_of(ada.get(f"/ui/models/{MODEL}").text)
    assert "@production v2 ada" in history


def test_incident_actions_are_for_scientists(app_client: TestClient, ws: Workspace) -> None:
    vic = as_user(app_client, ws, "vic")
    assert ">Acknowledge<" not in vic.get(f"/ui/monitors/{MONITOR}").text
    (incident,) = re.findall(r'action="/ui/incidents/(\d+)"', as_user(app_client, ws, "sam").get(
        f"/ui/monitors/{MONITOR}").text)  # fmt: skip
    assert as_user(app_client, ws, "vic").post(f"/ui/incidents/{incident}", data={"action": "acknowledge"}
                                               ).status_code == 403  # fmt: skip
    r = as_user(app_client, ws, "sam").post(f"/ui/incidents/{incident}", data={"action": "acknowledge"})
    assert r.status_code == 200 and "acknowledged" in text_of(r.text) and "sam" in text_of(r.text)


def test_single_user_store_needs_no_login_and_stored_text_is_escaped(tmp_path: Path) -> None:
    c = Client(store_url=f"sqlite:///{tmp_path / 'solo.db'}", artifacts_url=str(tmp_path / "a"), home=tmp_path)
    with c.start_run(project="solo", name="<b>bold</b>", tags={"note": "<script>alert(1)</script>"},
                     capture_env=False) as run:  # fmt: skip
        run.log_metric("auc", 0.9)
    with TestClient(create_app(c), raise_server_exceptions=False) as tc:
        r = tc.get("/ui/projects/solo", params={"col": "tags.note"})
        assert r.status_code == 200 and "single-user" in r.text and run.id in r.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text and "<script>alert" not in r.text
        page = tc.get(f"/ui/runs/{run.id}").text
        assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page
        assert tc.get("/", follow_redirects=False).headers["location"] == "/ui/"
    c.close()
