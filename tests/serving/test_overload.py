"""Bounded concurrency: past ``max_concurrency`` requests in flight the server answers 503 with Retry-After."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from .conftest import Store


def _scope(path: str, method: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }


async def _call(app: Any, path: str, body: bytes = b"", method: str = "POST", gate: asyncio.Event | None = None,
                entered: asyncio.Event | None = None) -> tuple[int, dict[bytes, bytes], bytes]:  # fmt: skip
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:  # nothing more: wait like a client that keeps the connection open
            await asyncio.Event().wait()
        if entered is not None:
            entered.set()
        if gate is not None:
            await gate.wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_scope(path, method, body), receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), payload


def test_requests_past_the_bound_get_503_with_retry_after(store: Store, make_app: Callable) -> None:
    app = make_app(max_concurrency=2, retry_after_s=3)
    body = json.dumps([store.record()]).encode()

    async def scenario() -> None:
        gates = [asyncio.Event(), asyncio.Event()]
        entered = [asyncio.Event(), asyncio.Event()]
        held = [
            asyncio.create_task(_call(app, "/predict", body, gate=g, entered=e))
            for g, e in zip(gates, entered, strict=True)
        ]
        for e in entered:  # both requests are inside the server, waiting for their bodies
            await e.wait()
        status, headers, payload = await _call(app, "/predict", body)
        assert status == 503 and headers[b"retry-after"] == b"3"
        assert json.loads(payload)["error"] == "Overloaded"
        assert (await _call(app, "/explain", body))[0] == 503
        assert (await _call(app, "/health", method="GET"))[0] == 200  # probes are never refused
        assert (await _call(app, "/ready", method="GET"))[0] == 200
        for g in gates:
            g.set()
        assert [(await t)[0] for t in held] == [200, 200]
        assert (await _call(app, "/predict", body))[0] == 200  # capacity is back
        status, _, text = await _call(app, "/metrics", method="GET")
        assert 'assay_serving_errors_total{endpoint="/predict",kind="overload"} 1.0' in text.decode()
        assert "assay_serving_in_flight 0.0" in text.decode()

    asyncio.run(scenario())
