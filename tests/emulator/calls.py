"""Which AWS call a request is, and the call log behind /_shim/stats.

Shared by the moto shim (shim/middleware.py) and the LocalStack proxy (proxy.py), so both count
and classify calls the same way. Standard library only: the proxy runs without moto.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Callable
from urllib.parse import parse_qs

READ_PREFIXES = ("Describe", "List", "Get", "Head", "TestDNSAnswer")
CREDENTIAL_RE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")


def is_write(op: str) -> bool:
    """A read is an op named Describe*, List*, Get*, Head* or TestDNSAnswer; everything else
    writes. (Route 53's ListTagsForResources is a POST, and still a read.)"""
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
    if service in REST_OPS:
        return service, REST_OPS[service](method, path, parse_qs(query, keep_blank_values=True))
    params = parse_qs(query)
    if "form-urlencoded" in header("Content-Type") or (body and b"Action=" in body):
        params.update(parse_qs(body.decode("utf-8", "replace")))
    op = params.get("Action", [""])[0]
    return service or "unknown", op or f"{method} {path}"


# Route 53's REST paths (after /2013-04-01/): (method, path pattern) -> operation.
ROUTE53_ROUTES = [
    ("GET", r"healthcheck", "ListHealthChecks"),
    ("POST", r"healthcheck", "CreateHealthCheck"),
    ("GET", r"healthcheck/[^/]+/status", "GetHealthCheckStatus"),
    ("GET", r"healthcheck/[^/]+/lastfailurereason", "GetHealthCheckLastFailureReason"),
    ("GET", r"healthcheck/[^/]+", "GetHealthCheck"),
    ("POST", r"healthcheck/[^/]+", "UpdateHealthCheck"),
    ("DELETE", r"healthcheck/[^/]+", "DeleteHealthCheck"),
    ("POST", r"tags/[^/]+", "ListTagsForResources"),
    ("GET", r"tags/[^/]+/[^/]+", "ListTagsForResource"),
    ("POST", r"tags/[^/]+/[^/]+", "ChangeTagsForResource"),
    ("GET", r"hostedzonesbyname", "ListHostedZonesByName"),
    ("GET", r"hostedzone", "ListHostedZones"),
    ("POST", r"hostedzone", "CreateHostedZone"),
    ("GET", r"hostedzone/[^/]+/rrset/?", "ListResourceRecordSets"),
    ("POST", r"hostedzone/[^/]+/rrset/?", "ChangeResourceRecordSets"),
    ("GET", r"hostedzone/[^/]+", "GetHostedZone"),
    ("DELETE", r"hostedzone/[^/]+", "DeleteHostedZone"),
    ("GET", r"change/[^/]+", "GetChange"),
    ("GET", r"testdnsanswer", "TestDNSAnswer"),
]


def route53_op(method: str, path: str, _query: dict) -> str:
    rest = path.split("/2013-04-01/", 1)[-1].rstrip("/")
    for m, pattern, op in ROUTE53_ROUTES:
        if m == method and re.fullmatch(pattern, rest):
            return op
    return f"{method} {path}"


# CloudFront's REST paths (after /2020-05-31/): (method, path pattern, query key) -> operation.
CLOUDFRONT_ROUTES = [
    ("GET", r"distribution", None, "ListDistributions"),
    ("POST", r"distribution", "WithTags", "CreateDistributionWithTags"),
    ("POST", r"distribution", None, "CreateDistribution"),
    ("GET", r"distribution/[^/]+", None, "GetDistribution"),
    ("DELETE", r"distribution/[^/]+", None, "DeleteDistribution"),
    ("GET", r"distribution/[^/]+/config", None, "GetDistributionConfig"),
    ("PUT", r"distribution/[^/]+/config", None, "UpdateDistribution"),
    ("GET", r"distribution/[^/]+/invalidation", None, "ListInvalidations"),
    ("POST", r"distribution/[^/]+/invalidation", None, "CreateInvalidation"),
    ("GET", r"distribution/[^/]+/invalidation/[^/]+", None, "GetInvalidation"),
    ("GET", r"tagging", None, "ListTagsForResource"),
]


def cloudfront_op(method: str, path: str, query: dict) -> str:
    rest = path.split("/2020-05-31/", 1)[-1].rstrip("/")
    if rest == "tagging" and method == "POST":
        operation = (query.get("Operation") or [""])[0]
        return {"Tag": "TagResource", "Untag": "UntagResource"}.get(operation, f"{method} {path}")
    for m, pattern, key, op in CLOUDFRONT_ROUTES:
        if m == method and re.fullmatch(pattern, rest) and (key is None or key in query):
            return op
    return f"{method} {path}"


# S3 (path style): the bucket subresource in the query names the operation.
S3_SUBRESOURCES = {
    "location": "BucketLocation",
    "tagging": "BucketTagging",
    "website": "BucketWebsite",
    "policy": "BucketPolicy",
    "publicAccessBlock": "PublicAccessBlock",
    "encryption": "BucketEncryption",
    "ownershipControls": "BucketOwnershipControls",
    "lifecycle": "BucketLifecycleConfiguration",
}


def s3_op(method: str, path: str, query: dict) -> str:
    parts = [p for p in path.split("/") if p]
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head"}.get(method, method)
    if not parts:
        return "ListBuckets"
    if len(parts) == 1:
        for key, name in S3_SUBRESOURCES.items():
            if key in query:
                return f"{verb}{name}"
        if method == "GET":
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        return {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"}.get(
            method, f"{method} {path}"
        )
    return f"{verb}Object"


REST_OPS = {"route53": route53_op, "s3": s3_op, "cloudfront": cloudfront_op}


class CallLog:
    """AWS calls in arrival order, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict] = []

    def record(self, service: str, op: str) -> None:
        with self.lock:
            # "t": arrival time (monotonic seconds): round trips in sequence are told apart by it
            # (scripts/depths).
            self.calls.append({"service": service, "op": op, "write": is_write(op),
                               "t": round(time.monotonic(), 4)})

    def stats(self) -> dict:
        """The /_shim/stats body: {"total", "writes", "reads", "calls": [...]}."""
        with self.lock:
            calls = list(self.calls)
        writes = sum(1 for c in calls if c["write"])
        return {"total": len(calls), "writes": writes, "reads": len(calls) - writes, "calls": calls}

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
