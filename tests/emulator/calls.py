"""Which AWS call a request is, and the call log behind /_shim/stats.

Shared by the moto shim (server.py) and the LocalStack proxy (proxy.py), so both count and
classify calls the same way. Standard library only: the proxy runs without moto.
"""

from __future__ import annotations

import re
import threading
from typing import Callable
from urllib.parse import parse_qs

READ_PREFIXES = ("Describe", "List", "Get")
CREDENTIAL_RE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")


def is_write(op: str) -> bool:
    """A read is an op named Describe*, List* or Get*; everything else writes."""
    return not op.startswith(READ_PREFIXES)


def identify(
    header: Callable[[str], str],
    method: str,
    path: str,
    query: str,
    body: bytes,
) -> tuple[str, str]:
    """(service, operation) of an AWS request.

    `header(name)` returns a request header ("" if absent); `path` has no query string.
    Service: the SigV4 credential scope of `Authorization`. Operation: the `X-Amz-Target`
    suffix (JSON protocols), the rpc-v2-cbor path, else the `Action` parameter (query
    protocols: EC2, ELBv2, IAM, STS) from the form body or the query string.
    """
    service = ""
    m = CREDENTIAL_RE.search(header("Authorization"))
    if m:
        service = m.group(2)
    target = header("X-Amz-Target")
    if target:
        op = target.rsplit(".", 1)[-1]
        if not service:
            service = target.split(".", 1)[0]
        return service, op
    # rpc-v2-cbor: /service/<Service>/operation/<Op>
    parts = path.split("/")
    if len(parts) == 5 and parts[1] == "service" and parts[3] == "operation":
        return service or parts[2], parts[4]
    params = parse_qs(query)
    if "form-urlencoded" in header("Content-Type") or (body and b"Action=" in body):
        params.update(parse_qs(body.decode("utf-8", "replace")))
    op = params.get("Action", [""])[0]
    return service or "unknown", op or f"{method} {path}"


class CallLog:
    """AWS calls in arrival order, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict] = []

    def record(self, service: str, op: str) -> None:
        with self.lock:
            self.calls.append({"service": service, "op": op, "write": is_write(op)})

    def stats(self) -> dict:
        """The /_shim/stats body: {"total", "writes", "reads", "calls": [...]}."""
        with self.lock:
            calls = list(self.calls)
        writes = sum(1 for c in calls if c["write"])
        return {"total": len(calls), "writes": writes, "reads": len(calls) - writes, "calls": calls}

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
