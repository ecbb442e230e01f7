"""The HTTP session of remote mode: one keep-alive ``httpx.Client``, the API token, retries, typed errors.

Every answer of an assay server that is not a success carries ``{"error": TYPE, "message": TEXT}``; it is
raised here as the same typed error the embedded client raises (``NotFoundError`` for 404, ``ConflictError`` or
``StateError`` for 409, ``PermissionDeniedError`` for 401/403, ``InvalidInputError`` for 400/422), with the
server's message. A server that cannot be reached, or whose store failed (5xx), is a ``StoreError``.

Safe requests (GET, PUT, DELETE) are retried on connection failures and on 502/503/504, with a short
back-off; a POST is retried only when it never left this machine (the connection could not be opened).

Example::

    http = HttpSession("http://127.0.0.1:5000", token="...")
    http.request("GET", "/runs/3f2a9c")       # -> dict, or a typed error
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from assay import __version__
from assay.errors import (
    ArtifactStoreError,
    AssayError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
    StoreError,
    UntrustedModelError,
)

__all__ = ["API_PREFIX", "HttpSession", "error_from_response"]

API_PREFIX = "/api/v1"
_SAFE = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_RETRY_STATUS = frozenset({502, 503, 504})
_BY_NAME: dict[str, type[AssayError]] = {
    "StateError": StateError,
    "ConflictError": ConflictError,
    "UntrustedModelError": UntrustedModelError,
}
_BY_STATUS: dict[int, type[AssayError]] = {
    400: InvalidInputError,
    401: PermissionDeniedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidInputError,
}


def error_from_response(response: httpx.Response, where: str) -> AssayError:
    """The typed assay error for a failed answer (the server's message, or its status when it has none)."""
    try:
        body = response.json()
        name, message = str(body.get("error", "")), str(body.get("message", ""))
    except (ValueError, AttributeError):
        name, message = "", response.text[:500]
    status = response.status_code
    message = message or f"HTTP {status} {response.reason_phrase}"
    if status >= 500:
        return StoreError(f"the assay server at {where} failed (HTTP {status}): {message}")
    kind = _BY_NAME.get(name) if status in (403, 409) else None
    kind = kind or _BY_STATUS.get(status, InvalidInputError)
    if status == 401:
        message += " (set ASSAY_TOKEN to an API token of this server)"
    return kind(message)


class _Retry(Exception):
    """A retryable answer (502/503/504) to a download."""


class HttpSession:
    """Requests to one assay server over one keep-alive connection pool (re-made after a fork)."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 60.0, retries: int = 3) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.requests = 0  # answers received (for tests and diagnostics)
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._pid = -1

    def __repr__(self) -> str:
        return f"<HttpSession {self.base_url}>"

    @property
    def http(self) -> httpx.Client:
        """The ``httpx.Client`` (one per process: a forked child does not share its parent's sockets)."""
        if self._http is None or self._pid != os.getpid():
            with self._lock:
                if self._http is None or self._pid != os.getpid():
                    headers = {"User-Agent": f"assay/{__version__}"}
                    if self.token:
                        headers["Authorization"] = f"Bearer {self.token}"
                    self._http = httpx.Client(
                        base_url=self.base_url + API_PREFIX,
                        headers=headers,
                        timeout=httpx.Timeout(self.timeout, connect=10.0),
                        limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=60.0),
                    )
                    self._pid = os.getpid()
        return self._http

    def send(self, method: str, path: str, *, file: Path | None = None, **kwargs: Any) -> httpx.Response:
        """Send one request with retries; return the successful response or raise the typed error.

        ``file``: a local file streamed as the body (re-opened for each attempt).
        """
        safe = method in _SAFE
        delay = 0.2
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                if file is None:
                    response = self.http.request(method, path, **kwargs)
                else:
                    with file.open("rb") as body:
                        response = self.http.request(method, path, content=body, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if last:
                    raise StoreError(
                        f"cannot reach the assay server at {self.base_url} ({exc}); is it running? "
                        "Check ASSAY_TRACKING_URL"
                    ) from exc
            except httpx.TransportError as exc:
                if last or not safe:
                    raise StoreError(
                        f"the connection to the assay server at {self.base_url} failed during {method} {path}: {exc!r}"
                    ) from exc
            else:
                self.requests += 1
                if response.is_success:
                    return response
                if not (safe and response.status_code in _RETRY_STATUS) or last:
                    response.read()
                    raise error_from_response(response, self.base_url)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return its JSON body (``None`` for an empty answer)."""
        response = self.send(method, path, **kwargs)
        return response.json() if response.content else None

    def download(self, path: str, params: dict[str, Any], target: Path, *, digest: str | None = None) -> Path:
        """Stream a GET answer into ``target`` (atomically; checked against ``digest``, a sha256, when given)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".tmp-{uuid.uuid4().hex}"
        delay = 0.2
        try:
            for attempt in range(self.retries + 1):
                try:
                    with self.http.stream("GET", path, params=params) as response:
                        self.requests += 1
                        if not response.is_success:
                            response.read()
                            if response.status_code in _RETRY_STATUS and attempt < self.retries:
                                raise _Retry
                            raise error_from_response(response, self.base_url)
                        h = hashlib.sha256()
                        with tmp.open("wb") as out:
                            for chunk in response.iter_bytes(1 << 20):
                                h.update(chunk)
                                out.write(chunk)
                    break
                except (httpx.TransportError, _Retry) as exc:
                    if attempt == self.retries:
                        raise StoreError(
                            f"downloading {path} from the assay server at {self.base_url} failed: {exc!r}"
                        ) from exc
                    time.sleep(delay)
                    delay *= 2
            if digest is not None and h.hexdigest() != digest:
                raise ArtifactStoreError(f"{path} {params}: the downloaded bytes do not match digest {digest}")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def pages(self, path: str, params: dict[str, Any] | None = None, *, limit: int = 1000) -> Iterator[Any]:
        """Every item of a paginated list (``{"items", "total", "limit", "offset"}``), page by page."""
        offset = 0
        while True:
            page = self.request("GET", path, params={**(params or {}), "limit": limit, "offset": offset})
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def close(self) -> None:
        """Close the connections (a later request opens new ones)."""
        if self._http is not None and self._pid == os.getpid():
            self._http.close()
        self._http = None
