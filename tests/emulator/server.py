#!/usr/bin/env python3
"""AWS emulator for ballast's integration tests: moto server 5.2.5 + a small shim.

Usage: python tests/emulator/server.py --port PORT [--delay-ms N]

The shim is a WSGI middleware in front of moto's own server app. It
  * counts every AWS API call (service, operation, read/write),
  * can sleep N ms before each AWS call (simulated latency for benchmarks),
  * can make the next K calls of an operation fail with a chosen error,
and exposes this under /_shim/ (see tests/emulator/README.md):

  GET  /_shim/health   -> 200 "ok"
  GET  /_shim/stats    -> {"total", "writes", "reads", "calls": [{"service", "op", "write"}]}
  POST /_shim/reset    -> zero the counters
  GET|POST /_shim/delay  {"ms": N}
  POST /_shim/faults   {"op", "count", "status", "code", "message"[, "service"]}
  POST /_shim/throttle {"rate": r, "seed": n} -> each AWS call throttled with probability r
       in its service's error shape; GET -> {"rate", "throttled"}; DELETE -> off
  POST /_shim/freeze   {"after_writes": k} -> k writes pass, then every call hangs;
  GET /_shim/freeze -> {"after_writes", "passed", "frozen", "waiting"};
  DELETE /_shim/freeze -> the hung calls get 503 without reaching moto (a kill after write k)
  GET /_shim/faults    -> pending faults;  DELETE /_shim/faults -> clear them
  POST /_shim/sns/confirm {"endpoint"[, "topic_arn"]} -> confirm pending SNS subscriptions
  POST /_shim/route53/health/<id> {"healthy": bool}, DELETE, GET -> force a Route 53 health
       check's endpoint unhealthy (R2)
  POST|GET|DELETE /_shim/consistency -> consistency mode: first uses of new ids fail, listings
       lag, deletes conflict, as on AWS while resources propagate (consistency.py)

It also serves CloudWatch over Smithy RPC v2 CBOR (the protocol of aws-sdk-cloudwatch), which
moto lacks: CborToJson translates those calls to moto's awsJson1_0 and the answers back.

FIDELITY PATCHES -- where moto 5.2.5 differs from real AWS in ways ballast
relies on. Each is a small wrapper around a moto method, applied at startup
(patch_ec2 / patch_ecs / patch_elbv2 / patch_application_autoscaling / patch_cloudwatch /
patch_sns / patch_route53 / patch_s3 / patch_cloudfront); the tag (E1...)
appears in the code. Details and rationale: tests/emulator/README.md.

  E1 ECS CreateService/UpdateService keep deploymentConfiguration (default
     {circuit breaker off, max 200%, min 100%}), capacityProviderStrategy
     (falling back to the cluster default; launchType then omitted, not
     "EC2"), healthCheckGracePeriodSeconds, enableExecuteCommand, createdAt.
     UpdateService merges deploymentConfiguration, stores taskDefinition as a
     full ARN, and validates taskDefinition/networkConfiguration before
     changing anything.
  E2 ECS services are always steady: runningCount == desiredCount,
     pendingCount 0, one PRIMARY deployment (rolloutState COMPLETED, counts ==
     desiredCount, id ecs-svc/NNNN). A new deployment id when UpdateService
     changes taskDefinition/networkConfiguration/platformVersion/
     capacityProviderStrategy or forces a new deployment.
  E3 ECS CreateService on a name that is ACTIVE fails with
     InvalidParameterException "Creation of service was not idempotent."
     (moto silently replaces the service).
  E4 ECS deleted (INACTIVE) services: Update/DeleteService fail with
     ServiceNotActiveException, counts drop to 0, ListServices omits them.
  E5 ECS clusters: DeleteCluster with ACTIVE services fails with
     ClusterContainsServicesException; a deleted (INACTIVE) cluster is absent
     from ListClusters and ClusterNotFoundException for everything but
     DescribeClusters; DescribeClusters computes activeServicesCount and
     runningTasksCount.
  E6 ECS RegisterTaskDefinition returns the tags in its response.
  E7 ECS CreateCluster on an ACTIVE cluster returns it unchanged (moto
     replaces it, dropping tags and capacity providers).
  G1 EC2 DescribeLaunchTemplates answers a template's live tags (moto: the tags
     it had when created; CreateTags/DeleteTags later are not seen).
  G2 EC2 DeleteSecurityGroup of a group that network interfaces are in, or that another
     group's rules name -> DependencyViolation (400) (moto deletes it).
  L1 ELBv2 CreateLoadBalancer with an existing name returns that load balancer
     (moto creates a second one with the same name).
  L2 ELBv2 TargetGroup.LoadBalancerArns always reflects current listeners and
     rules (moto never removes entries and ignores ModifyListener).
  L3 ELBv2 DescribeTargetGroups(LoadBalancerArn) of a load balancer without
     target groups returns [] (moto: TargetGroupNotFound).
  A1 Application Auto Scaling keeps RegisterScalableTarget Tags and implements
     TagResource/UntagResource/ListTagsForResource (moto: ignored / HTTP 500).
  A2 Application Auto Scaling DeregisterScalableTarget deletes the target's
     scaling policies.
  C1 CloudWatch alarms start INSUFFICIENT_DATA (moto: OK); PutMetricAlarm or
     PutCompositeAlarm on an existing alarm keeps its state and ignores Tags.
  C2 CloudWatch PutCompositeAlarm (moto: HTTP 500), stored in moto's alarm table
     (so DeleteAlarms, SetAlarmState and tags work); the rule's alarms must exist.
     DescribeAlarms honours AlarmTypes (default: metric alarms only), combines
     its filters, sorts by name and pages by MaxRecords/NextToken.
  C3 CloudWatch DeleteAlarms deletes the alarm's tags.
  C4 CloudWatch ListTagsForResource/UntagResource: unknown ARN ->
     ResourceNotFoundException; untagging an alarm without tags works.
  C5 CloudWatch DescribeAlarmHistory (moto: HTTP 500): create/update/delete and
     state changes; StateTransitionedTimestamp is kept.
  C6 CloudWatch PutMetricAlarm validates its metric (one of Statistic /
     ExtendedStatistic, no single-metric fields with Metrics, one ReturnData).
  S1 SNS CreateTopic on an existing name with other Tags/Attributes fails.
  S2 SNS email/email-json/http/https subscriptions start pending confirmation
     ("pending confirmation", listed as "PendingConfirmation"); confirmed via
     POST /_shim/sns/confirm. Pending subscriptions receive nothing.
  S3 SNS Subscribe validates protocol and endpoint.
  S4 SNS GetTopicAttributes counts SubscriptionsConfirmed/SubscriptionsPending.
  R1 Route 53 ChangeResourceRecordSets validates the whole batch and applies it all or
     nothing: CREATE of an existing record set, DELETE that does not match an existing
     record set exactly, a name outside the zone, an alias to a missing record of the zone
     -> InvalidChangeBatch "[msg, msg]". UPSERT/DELETE act on (name, type, SetIdentifier)
     only; names compare case- and trailing-dot-insensitively.
  R2 Route 53 GetHealthCheckStatus / GetHealthCheckLastFailureReason (moto: always healthy /
     404) follow the check: Inverted, Disabled, and POST /_shim/route53/health/<id>.
  R3 Route 53 TestDNSAnswer (moto: 404) answers like Route 53: failover by health, aliases
     within the zone followed, an alias to anything else answers its DNSName.
  R4 Route 53 UpdateHealthCheck keeps Regions and ChildHealthChecks it does not name,
     honours ResetElements and counts HealthCheckVersion.
  B1 S3 PutBucketPolicy of a public policy while BlockPublicPolicy is on -> AccessDenied.
  B2 S3 new buckets have all four Block Public Access settings on.
  F1 CloudFront UpdateDistribution/DeleteDistribution with an IfMatch other than the current
     ETag -> PreconditionFailed (412); every UpdateDistribution makes a new ETag (moto: one
     ETag for life, any IfMatch accepted).
  F2 CloudFront DeleteDistribution of an enabled (or not yet Deployed) distribution ->
     DistributionNotDisabled (409) (moto deletes it).
  F3 CloudFront viewer certificate: ACMCertificateArn must be an ACM certificate of the account
     in us-east-1 -> else InvalidViewerCertificate (moto takes any string).
  F4 CloudFront: an alias that another distribution has -> CNAMEAlreadyExists (409).
  M1 SSM PutParameter and DeleteParameter are atomic (moto: a check and a write, so two
     creates with Overwrite=false could both succeed; the stack lock depends on it).
  W1 CloudWatch Logs: a deleted log group's tags go with it (a group made again starts
     untagged).
  Opt-in, off by default: /_shim/consistency (consistency.py) adds AWS's propagation delays.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import json
import os
import random
import re
import sys
import threading
import time
import traceback
import uuid
from http import HTTPStatus

# Must be set before moto is imported: makes AWS managed policies (e.g.
# AmazonECSTaskExecutionRolePolicy) exist in IAM.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

from werkzeug.serving import run_simple  # noqa: E402

from moto.server import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

from calls import CallLog  # noqa: E402  (shared with proxy.py: counts and classifies alike)
from calls import identify as identify_call  # noqa: E402
from calls import is_write  # noqa: E402
from consistency import Consistency  # noqa: E402  (POST /_shim/consistency)

# --------------------------------------------------------------------------
# Shim middleware
# --------------------------------------------------------------------------


class Shim:
    def __init__(self, app, delay_ms: int = 0):
        self.app = app
        self.delay_ms = delay_ms
        self.lock = threading.Lock()
        self.log = CallLog()
        self.faults: list[dict] = []
        # AWS calls received and not yet answered (a killed client's calls still land).
        self.in_flight = 0
        # POST /_shim/freeze {"after_writes": k}: the first k writes pass, then every call
        # waits (the client looks hung: a test kills it) until DELETE /_shim/freeze, and is
        # then answered 503 without reaching moto. A kill after exactly k writes.
        self.freeze: dict | None = None
        self.thawed = threading.Condition(self.lock)
        # POST /_shim/throttle {"rate": r, "seed": n}: each AWS call is throttled with
        # probability r, in its service's own error shape (see throttle_fault).
        self.throttle: dict | None = None
        self.consistency = Consistency()

    # -- WSGI entry point --------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_shim/"):
            return self.control(environ, start_response, path)
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)

        body = read_body(environ)
        service, op = identify(environ, body)
        self.log.record(service, op)
        with self.lock:
            if self.held(op):
                return respond(start_response, 503, "frozen by /_shim/freeze", "text/plain")
            fault = self.take_fault(service, op)
            t = self.throttle
            if fault is None and t is not None and t["rng"].random() < t["rate"]:
                t["throttled"] += 1
                fault = throttle_fault(environ, service)
            delay = self.delay_ms
            self.in_flight += 1
        try:
            fault, call = self.consistency.before(environ, service, op, body, fault)
            if delay > 0:
                time.sleep(delay / 1000.0)
            if fault is not None:
                return render_fault(environ, service, fault, start_response)
            return self.consistency.after(call, self.app, environ, start_response)
        finally:
            with self.lock:
                self.in_flight -= 1

    def held(self, op: str) -> bool:
        """With the lock held: whether this call is frozen (it then waits until thawed)."""
        f = self.freeze
        if f is None:
            return False
        if not f["frozen"]:
            if is_write(op):
                f["passed"] += 1
                f["frozen"] = f["passed"] >= f["after_writes"]
            return False
        f["waiting"] += 1
        while self.freeze is f:
            self.thawed.wait(timeout=1.0)
        return True

    def take_fault(self, service: str, op: str):
        for f in self.faults:
            if f["op"] == op and f.get("service") in (None, service):
                f["count"] -= 1
                if f["count"] <= 0:
                    self.faults.remove(f)
                return f
        return None

    # -- /_shim/ control endpoints -----------------------------------------
    def control(self, environ, start_response, path):
        method = environ.get("REQUEST_METHOD", "GET")
        name = path[len("/_shim/"):].strip("/")
        if name == "health":
            return respond(start_response, 200, "ok", "text/plain")
        if name == "stats" and method == "GET":
            with self.lock:
                in_flight = self.in_flight
            return respond_json(start_response, {**self.log.stats(), "in_flight": in_flight})
        if name == "reset" and method == "POST":
            self.log.reset()
            return respond_json(start_response, {"ok": True})
        if name == "delay" and method == "GET":
            return respond_json(start_response, {"ms": self.delay_ms})
        if name == "delay" and method == "POST":
            try:
                ms = int(load_json(environ).get("ms", 0))
            except (ValueError, TypeError, AttributeError) as e:
                return respond(start_response, 400, f"bad delay: {e}", "text/plain")
            with self.lock:
                self.delay_ms = max(ms, 0)
            return respond_json(start_response, {"ms": self.delay_ms})
        if name == "rollout" and method == "POST":
            spec = load_json(environ) or {}
            state = str(spec.get("state", "COMPLETED"))
            if state not in ("COMPLETED", "FAILED", "IN_PROGRESS"):
                return respond(start_response, 400, f"bad rollout state {state}", "text/plain")
            with self.lock:
                ROLLOUT["state"], ROLLOUT["reason"] = state, spec.get("reason")
            return respond_json(start_response, dict(ROLLOUT))
        if name == "sns/confirm" and method == "POST":
            spec = load_json(environ) or {}
            if not spec.get("endpoint"):
                return respond(start_response, 400, "bad confirm: endpoint is required", "text/plain")
            with self.lock:
                arns = sns_confirm(str(spec["endpoint"]), spec.get("topic_arn"))
            return respond_json(start_response, {"confirmed": arns})
        if name.startswith("route53/health/"):
            return self.route53_health(start_response, method, name[len("route53/health/"):], environ)
        if name == "throttle" and method == "POST":
            try:
                spec = load_json(environ) or {}
                rate = float(spec["rate"])
                if not 0.0 <= rate < 1.0:
                    raise ValueError("rate must be in [0, 1)")
            except (KeyError, ValueError, TypeError, AttributeError) as e:
                return respond(start_response, 400, f"bad throttle: {e!r}", "text/plain")
            with self.lock:
                self.throttle = {"rate": rate, "rng": random.Random(spec.get("seed")), "throttled": 0}
            return respond_json(start_response, {"rate": rate})
        if name == "throttle" and method == "GET":
            with self.lock:
                t = self.throttle or {}
                return respond_json(start_response, {"rate": t.get("rate", 0.0), "throttled": t.get("throttled", 0)})
        if name == "throttle" and method == "DELETE":
            with self.lock:
                t, self.throttle = self.throttle, None
            return respond_json(start_response, {"throttled": (t or {}).get("throttled", 0)})
        if name == "consistency":
            status, text = self.consistency.control(method, read_body(environ))
            return respond(start_response, status, text, "application/json")
        if name == "freeze" and method == "POST":
            try:
                k = int((load_json(environ) or {})["after_writes"])
                if k < 0:
                    raise ValueError("after_writes must be >= 0")
            except (KeyError, ValueError, TypeError, AttributeError) as e:
                return respond(start_response, 400, f"bad freeze: {e!r}", "text/plain")
            with self.lock:
                self.freeze = {"after_writes": k, "passed": 0, "frozen": k == 0, "waiting": 0}
                return respond_json(start_response, dict(self.freeze))
        if name == "freeze" and method == "GET":
            with self.lock:
                return respond_json(start_response, dict(self.freeze or {}))
        if name == "freeze" and method == "DELETE":
            with self.lock:
                self.freeze = None
                self.thawed.notify_all()
            return respond_json(start_response, {"ok": True})
        if name == "faults" and method == "POST":
            try:
                spec = load_json(environ)
                fault = {
                    "op": str(spec["op"]),
                    "count": int(spec.get("count", 1)),
                    "status": int(spec.get("status", 400)),
                    "code": str(spec.get("code", "ThrottlingException")),
                    "message": str(spec.get("message", "Rate exceeded")),
                }
                if spec.get("service"):
                    fault["service"] = str(spec["service"])
                if fault["count"] < 1 or not 400 <= fault["status"] <= 599:
                    raise ValueError("count must be >= 1 and status 4xx/5xx")
            except (KeyError, ValueError, TypeError, AttributeError) as e:
                return respond(start_response, 400, f"bad fault: {e!r}", "text/plain")
            with self.lock:
                self.faults.append(fault)
            return respond_json(start_response, fault)
        if name == "faults" and method == "GET":
            with self.lock:
                return respond_json(start_response, list(self.faults))
        if name == "faults" and method == "DELETE":
            with self.lock:
                self.faults.clear()
            return respond_json(start_response, {"ok": True})
        return respond(start_response, 404, f"no such shim endpoint: {method} {path}", "text/plain")


    def route53_health(self, start_response, method, health_check_id, environ):
        """POST /_shim/route53/health/<id> {"healthy": bool}: what Route 53's checkers find at
        that health check's endpoint from now on (before Inverted); DELETE (or
        {"healthy": true}) makes it answer OK again; GET shows it (R2)."""
        with self.lock:
            hc = r53_find_health_check(health_check_id)
            if hc is None:
                return respond(start_response, 404, f"no such health check: {health_check_id}", "text/plain")
            if method == "POST":
                spec = load_json(environ) or {}
                if not isinstance(spec.get("healthy"), bool):
                    return respond(start_response, 400, 'bad health: {"healthy": true|false} is required', "text/plain")
                R53_FORCED_HEALTH[health_check_id] = spec["healthy"]
            elif method == "DELETE":
                R53_FORCED_HEALTH.pop(health_check_id, None)
            elif method != "GET":
                return respond(start_response, 405, f"method {method} not allowed", "text/plain")
            backend = next(b for b in r53_backends() if health_check_id in b.health_checks)
            healthy, status = r53_health(backend, hc)
            return respond_json(start_response, {
                "id": health_check_id, "endpoint_healthy": R53_FORCED_HEALTH.get(health_check_id, True),
                "inverted": bool(hc.inverted), "healthy": healthy, "status": status})

def read_body(environ) -> bytes:
    """Read the request body and put it back so moto can read it too."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def identify(environ, body: bytes) -> tuple[str, str]:
    """(service, operation) of an AWS request (see calls.identify)."""
    def header(name: str) -> str:
        key = name.upper().replace("-", "_")
        return environ.get(key if key == "CONTENT_TYPE" else "HTTP_" + key, "")

    return identify_call(
        header,
        environ.get("REQUEST_METHOD", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        body,
    )


def throttle_fault(environ, service: str) -> dict:
    """The error AWS answers a throttled call with, per service and protocol: EC2 503
    RequestLimitExceeded (its own XML), S3 503 SlowDown (its own XML), JSON and CBOR protocols
    400 ThrottlingException, query and REST-XML protocols 400 Throttling."""
    if service == "ec2":
        return {"code": "RequestLimitExceeded", "status": 503, "message": "Request limit exceeded."}
    if service == "s3":
        return {"code": "SlowDown", "status": 503, "message": "Please reduce your request rate."}
    if is_cbor_request(environ) or environ.get("HTTP_X_AMZ_TARGET"):
        return {"code": "ThrottlingException", "status": 400, "message": "Rate exceeded"}
    return {"code": "Throttling", "status": 400, "message": "Rate exceeded"}


def render_fault(environ, service: str, fault: dict, start_response):
    code, message, status = fault["code"], fault["message"], fault["status"]
    request_id = str(uuid.uuid4())
    if service == "s3":
        # S3's own shape: <Error> at the root.
        body = (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<Error><Code>{xml_escape(code)}</Code><Message>{xml_escape(message)}</Message>"
            + (f"<BucketName>{xml_escape(fault['bucket'])}</BucketName>" if fault.get("bucket") else "")
            + f"<RequestId>{request_id}</RequestId></Error>"
        )
        return respond(start_response, status, body, "application/xml", [("x-amz-request-id", request_id)])
    if is_cbor_request(environ):
        return respond_cbor_error(start_response, status, code, message, request_id)
    if environ.get("HTTP_X_AMZ_TARGET"):
        ctype = environ.get("CONTENT_TYPE", "")
        if not ctype.startswith("application/x-amz-json"):
            ctype = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message})
        return respond(start_response, status, body, ctype,
                       [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)])
    if service == "ec2":
        body = (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<Response><Errors><Error><Code>{xml_escape(code)}</Code>"
            f"<Message>{xml_escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
    else:
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{xml_escape(code)}</Code>"
            f"<Message>{xml_escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return respond(start_response, status, body, "text/xml", [("x-amzn-RequestId", request_id)])


def xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def load_json(environ) -> dict:
    body = read_body(environ)
    return json.loads(body) if body.strip() else {}


def respond(start_response, status: int, body: str, ctype: str, headers=()):
    data = body.encode("utf-8")
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    start_response(f"{status} {reason}", [
        ("Content-Type", ctype), ("Content-Length", str(len(data))), *headers,
    ])
    return [data]


def respond_json(start_response, obj) -> list[bytes]:
    return respond(start_response, 200, json.dumps(obj), "application/json")


# --------------------------------------------------------------------------
# Smithy RPC v2 CBOR -> moto's awsJson1_0 (CloudWatch)
# --------------------------------------------------------------------------
# aws-sdk-cloudwatch speaks rpc-v2-cbor: POST /service/<Service>/operation/<Op>, header
# smithy-protocol: rpc-v2-cbor, body = CBOR map of the input members. moto 5.2.5 has no route
# for it (404) but serves the same operations over awsJson1_0, so CborToJson rewrites the
# request into a JSON call (X-Amz-Target <prefix>.<Op>) and the answer back into CBOR, typed by
# the botocore model of the operation's output: Smithy's CBOR decoders are strict (a double
# must be a CBOR float, an integer an integer, a timestamp tag 1 over a float).

CBOR_PATH_RE = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")
# Smithy service shape name -> how to reach it in moto.
CBOR_SERVICES = {
    "GraniteServiceVersion20100801": {
        "botocore": "cloudwatch", "signing_name": "monitoring",
        "namespace": "com.amazonaws.cloudwatch", "target_prefix": "GraniteServiceVersion20100801",
    },
}
CBOR_HEADERS = [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]
_SERVICE_MODELS: dict = {}


def is_cbor_request(environ) -> bool:
    return bool(CBOR_PATH_RE.match(environ.get("PATH_INFO", ""))) or \
        environ.get("HTTP_SMITHY_PROTOCOL", "") == "rpc-v2-cbor"


def service_model(name: str):
    if name not in _SERVICE_MODELS:
        import botocore.session
        _SERVICE_MODELS[name] = botocore.session.get_session().get_service_model(name)
    return _SERVICE_MODELS[name]


def respond_cbor(start_response, status: int, obj, request_id: str, headers=()):
    import cbor2
    data = cbor2.dumps(obj)
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    start_response(f"{status} {reason}", [
        *CBOR_HEADERS, ("Content-Length", str(len(data))), ("x-amzn-RequestId", request_id),
        *headers,
    ])
    return [data]


def respond_cbor_error(start_response, status: int, type_: str, message: str, request_id: str,
                       query_code: str | None = None):
    """An rpc-v2-cbor error: CBOR map {__type, message}. CloudWatch is @awsQueryCompatible, so
    the x-amzn-query-error header carries the awsQuery error code (what the SDKs report as the
    error code when the header is present)."""
    code = query_code or type_.rsplit("#", 1)[-1]
    fault = "Sender" if status < 500 else "Receiver"
    return respond_cbor(start_response, status, {"__type": type_, "message": message}, request_id,
                        [("x-amzn-query-error", f"{code};{fault}")])


def cbor_to_json(value):
    """Decoded CBOR input -> the JSON document moto's awsJson parser reads."""
    import cbor2
    if isinstance(value, dict):
        # A null member is an absent member.
        return {str(k): cbor_to_json(v) for k, v in value.items()
                if v is not None and v is not cbor2.undefined}
    if isinstance(value, (list, tuple)):
        return [cbor_to_json(v) for v in value]
    if isinstance(value, dt.datetime):  # tag 1 (epoch) or tag 0 (RFC 3339), decoded by cbor2
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, cbor2.CBORTag):
        return cbor_to_json(value.value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    return value


def json_to_cbor(value, shape):
    """moto's JSON output -> CBOR-ready Python values, typed by the botocore output shape.
    Members the model does not know are dropped, as the real service would not send them."""
    import cbor2
    if value is None:
        return None
    t = shape.type_name
    if t == "structure":
        out = {}
        for name, member in shape.members.items():
            if isinstance(value, dict) and value.get(name) is not None:
                out[name] = json_to_cbor(value[name], member)
        return out
    if t == "list":
        return [json_to_cbor(v, shape.member) for v in value]
    if t == "map":
        return {str(k): json_to_cbor(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=dt.timezone.utc)
                value = parsed.timestamp()
        return cbor2.CBORTag(1, float(value))  # tag 1 over a double, as smithy-rs decodes it
    if t in ("double", "float"):
        return float(value)
    if t in ("integer", "long", "short", "byte"):
        return int(value)
    if t == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if t == "blob":
        return base64.b64decode(value) if isinstance(value, str) else bytes(value)
    return value if isinstance(value, str) else str(value)


class CborToJson:
    """WSGI layer between the shim and moto: serves rpc-v2-cbor requests of CBOR_SERVICES by
    calling moto over awsJson1_0 and translating both ways (see the section comment)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        m = CBOR_PATH_RE.match(environ.get("PATH_INFO", ""))
        svc = CBOR_SERVICES.get(m.group(1)) if m else None
        if svc is None or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        import cbor2
        op_name = m.group(2)
        request_id = str(uuid.uuid4())
        model = service_model(svc["botocore"])
        try:
            op = model.operation_model(op_name)
        except Exception:  # botocore.exceptions.OperationNotFoundError
            return respond_cbor_error(start_response, 404, "UnknownOperationException",
                                      f"unknown operation {op_name}", request_id)
        body = read_body(environ)
        try:
            params = cbor2.loads(body) if body else {}
            if not isinstance(params, dict):
                raise ValueError(f"input is a CBOR {type(params).__name__}, not a map")
        except Exception as e:  # noqa: BLE001 -- any decoding failure is the client's
            return respond_cbor_error(start_response, 400, "SerializationException",
                                      f"cannot decode the CBOR request body: {e}", request_id)
        data = json.dumps(cbor_to_json(params)).encode()
        inner = dict(environ)
        inner.update({
            "PATH_INFO": "/", "QUERY_STRING": "", "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data),
            "HTTP_X_AMZ_TARGET": f"{svc['target_prefix']}.{op_name}",
            "HTTP_ACCEPT": "application/json",
        })
        inner.pop("HTTP_SMITHY_PROTOCOL", None)
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda _chunk: None

        try:
            chunks = self.app(inner, capture)
            try:
                out = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
            status = int(captured["status"].split()[0])
        except Exception:  # noqa: BLE001 -- moto raises out of its app for unimplemented actions
            traceback.print_exc()
            status, out = 500, b""
        for k, v in captured.get("headers", ()):
            if k.lower() == "x-amzn-requestid":
                request_id = v
        if 200 <= status < 300:
            doc = json.loads(out) if out.strip() else {}
            result = json_to_cbor(doc, op.output_shape) if op.output_shape is not None else {}
            return respond_cbor(start_response, status, result, request_id)
        return self.error(start_response, status, out, op, model, svc, request_id)

    @staticmethod
    def error(start_response, status, out, op, model, svc, request_id):
        try:
            doc = json.loads(out)
            code = str(doc.get("__type", "")).rsplit("#", 1)[-1]
            message = doc.get("message") or doc.get("Message") or ""
        except ValueError:  # moto answered HTML: an exception or an operation it lacks
            from moto.cloudwatch.responses import CloudWatchResponse
            from botocore import xform_name
            if svc["botocore"] == "cloudwatch" and not hasattr(CloudWatchResponse, xform_name(op.name)):
                return respond_cbor_error(
                    start_response, 501, "NotImplemented",
                    f"emulator: moto 5.2.5 does not implement {op.name}", request_id)
            return respond_cbor_error(
                start_response, status, f"{svc['namespace']}#InternalServiceFault",
                f"emulator: moto failed on {op.name} (see .emulator/server.log)", request_id,
                "InternalServiceError")
        # The modeled error shape: by the operation's errors first (ResourceNotFound is both
        # DashboardNotFoundError and ResourceNotFound), then by any of the service's.
        shapes = list(op.error_shapes) + list(model.error_shapes)
        shape = next((e for e in shapes if code in (e.error_code, e.name)), None)
        if shape is None:
            return respond_cbor_error(start_response, status, code or "UnknownError", message,
                                      request_id)
        return respond_cbor_error(start_response, status, f"{svc['namespace']}#{shape.name}",
                                  message, request_id, shape.error_code)


# --------------------------------------------------------------------------
# Fidelity patches (see the comment block at the top of this file)
# --------------------------------------------------------------------------

DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


# How new ECS deployments end (POST /_shim/rollout): moto has no tasks, so a test picks the
# outcome a real rollout would have reached. COMPLETED (default), FAILED (as after a circuit
# breaker rollback) or IN_PROGRESS (never settles).
ROLLOUT = {"state": "COMPLETED", "reason": None}


def patch_ec2() -> None:
    """G1: DescribeLaunchTemplates answers a template's live tags. G2: a security group in use
    cannot be deleted."""
    from moto.ec2.models.launch_templates import LaunchTemplate

    # moto copies the tags into the template when it is created and answers that copy, so
    # CreateTags/DeleteTags on a launch template later are never seen (AWS: they are).
    LaunchTemplate.tags = property(lambda self: self.get_tags(), lambda self, _value: None)

    # G2: DeleteSecurityGroup deletes a group that network interfaces are in, or that another
    # group's rules name. AWS answers DependencyViolation (400) until they are gone.
    from moto.ec2.exceptions import DependencyViolationError

    def in_use(self, group_id: str) -> bool:
        if any(
            group_id in [g.id for g in eni.group_set] for eni in list(self.enis.values())
        ):
            return True
        for groups in list(self.groups.values()):
            for other in list(groups.values()):
                if other.id == group_id:
                    continue
                for rule in list(other.ingress_rules) + list(other.egress_rules):
                    if (rule.source_group or {}).get("GroupId") == group_id:
                        return True
        return False

    # Only the API call is checked: moto's own DeleteVpc deletes the VPC's default group through
    # the same backend method, and moto's DeleteAutoScalingGroup leaves its instances running
    # (AWS terminates them), which would hold that group for good.
    from moto.ec2.responses.security_groups import SecurityGroups

    delete_response = SecurityGroups.delete_security_group

    def checked_delete(self):
        key = self._get_param("GroupId") or self._get_param("GroupName")
        backend = self.ec2_backend
        group = backend.get_security_group_by_name_or_id(key) if key else None
        if group is not None and in_use(backend, group.id):
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
        return delete_response(self)

    SecurityGroups.delete_security_group = checked_delete


def patch_ecs() -> None:
    from moto.core.utils import utcnow
    from moto.ecs import models
    from moto.ecs.exceptions import ECSException, InvalidParameterException
    from moto.ecs.responses import EC2ContainerServiceResponse as R

    Backend = models.EC2ContainerServiceBackend

    def not_active():
        return ECSException("ServiceNotActiveException", "Service was not ACTIVE.")

    def normalize_strategy(strategy):
        """Real ECS reports weight and base on every capacity provider strategy item."""
        return [{"capacityProvider": i["capacityProvider"], "weight": i.get("weight", 0),
                 "base": i.get("base", 0)} for i in strategy] if strategy else None

    def make_steady(svc, new_deployment: bool) -> None:
        """E2: the service has finished rolling out, whatever happened."""
        svc.running_count, svc.pending_count = svc.desired_count, 0
        if svc.deployment_controller.get("type", "ECS") != "ECS":
            return
        now = utcnow()
        old = svc.deployments[0] if svc.deployments else None
        if new_deployment or old is None:
            dep_id = f"ecs-svc/{models.mock_random.randint(10**18, 10**19 - 1)}"
            created = now
        else:
            dep_id, created = old["id"], old["createdAt"]
        state = ROLLOUT["state"] if (new_deployment or old is None) else (old or {}).get("rolloutState", "COMPLETED")
        settled = state == "COMPLETED"
        reason = ROLLOUT["reason"] if not settled else None
        svc.deployments = [{
            "id": dep_id,
            "status": "PRIMARY",
            "taskDefinition": svc.task_definition,
            "desiredCount": svc.desired_count,
            "pendingCount": 0,
            "runningCount": svc.desired_count if settled else 0,
            "failedTasks": 0 if state != "FAILED" else max(svc.desired_count, 1),
            "createdAt": created,
            "updatedAt": now,
            "capacityProviderStrategy": svc.capacity_provider_strategy,
            "launchType": svc.launch_type,
            "platformVersion": svc.platform_version,
            "platformFamily": None if svc.launch_type == "EC2" else "Linux",
            "networkConfiguration": svc.network_configuration or None,
            "rolloutState": state,
            "rolloutStateReason": reason or (f"ECS deployment {dep_id} completed." if settled else f"ECS deployment {dep_id} in progress."),
        }]
        svc.events.insert(0, {
            "id": str(uuid.uuid4()),
            "createdAt": now,
            "message": f"(service {svc.name}) has reached a steady state." if settled
            else f"(service {svc.name}) deployment {dep_id} {'failed: ' + (reason or 'tasks failed to start') if state == 'FAILED' else 'is in progress'}.",
        })

    orig_create = R.create_service

    def create_service(self):
        """E1 + E2 + E3."""
        cluster_str = self._get_param("cluster", "default")
        name = self._get_param("serviceName")
        backend = self.ecs_backend
        try:
            existing = backend._get_service(cluster_str, name)
        except ECSException:
            existing = None
        if existing is not None and existing.status == "ACTIVE":  # E3
            raise InvalidParameterException("Creation of service was not idempotent.")
        launch_type = self._get_param("launchType")
        strategy = self._get_param("capacityProviderStrategy")
        if not strategy and not launch_type:
            # Real ECS falls back to the cluster's default strategy, then EC2.
            strategy = backend._get_cluster(cluster_str).default_capacity_provider_strategy
        result = orig_create(self)
        svc = result.result["service"]
        svc.capacity_provider_strategy = normalize_strategy(strategy)
        if strategy and not launch_type:
            svc.launch_type = None
        svc.deployment_configuration = (
            self._get_param("deploymentConfiguration") or DEFAULT_DEPLOYMENT_CONFIGURATION
        )
        svc.health_check_grace_period_seconds = self._get_param("healthCheckGracePeriodSeconds")
        svc.enable_execute_command = bool(self._get_param("enableExecuteCommand", False))
        svc.created_at = utcnow()
        make_steady(svc, new_deployment=True)
        return result

    orig_update = R.update_service

    def update_service(self):
        """E1 + E2 + E4."""
        params = self._get_params()
        backend = self.ecs_backend
        svc = backend._get_service(params.get("cluster", "default"), params["service"])
        if svc.status != "ACTIVE":
            raise not_active()
        # moto copies every request field onto the service (camelCase -> snake_case)
        # before validating, and stores taskDefinition as given: validate first.
        td_arn = None
        if params.get("taskDefinition"):
            td_arn = backend.describe_task_definition(params["taskDefinition"]).arn
        if params.get("networkConfiguration"):
            svc._validate_network(params["networkConfiguration"])
        before = (svc.task_definition, svc.platform_version, svc.network_configuration,
                  svc.capacity_provider_strategy)
        old_dc = svc.deployment_configuration
        result = orig_update(self)
        if td_arn:
            svc.task_definition = td_arn
        if params.get("deploymentConfiguration"):
            svc.deployment_configuration = {**(old_dc or {}), **params["deploymentConfiguration"]}
        if params.get("capacityProviderStrategy"):
            svc.capacity_provider_strategy = normalize_strategy(params["capacityProviderStrategy"])
            if not params.get("launchType"):
                svc.launch_type = None
        if params.get("enableExecuteCommand") is not None:
            svc.enable_execute_command = bool(params["enableExecuteCommand"])
        after = (svc.task_definition, svc.platform_version, svc.network_configuration,
                 svc.capacity_provider_strategy)
        make_steady(svc, new_deployment=before != after or bool(params.get("forceNewDeployment")))
        return result

    orig_delete = Backend.delete_service

    def delete_service(self, cluster_name, service_name, force):
        """E4."""
        if self._get_service(cluster_name, service_name).status != "ACTIVE":
            raise not_active()
        svc = orig_delete(self, cluster_name, service_name, force)
        svc.desired_count = svc.running_count = svc.pending_count = 0
        for dep in svc.deployments:
            dep.update(desiredCount=0, runningCount=0, pendingCount=0)
        return svc

    orig_list_services = Backend.list_services

    def list_services(self, cluster_str, *args, **kwargs):
        """E4: deleted (INACTIVE) services are not listed."""
        arns = orig_list_services(self, cluster_str, *args, **kwargs)
        inactive = {s.arn for s in self.services.values() if s.status != "ACTIVE"}
        return [a for a in arns if a not in inactive]

    def active_services(backend, cluster):
        return [s for s in backend.services.values()
                if s.cluster_arn == cluster.arn and s.status == "ACTIVE"]

    orig_describe_clusters = Backend.describe_clusters

    def describe_clusters(self, cluster_names):
        """E5: counts derived from the (steady) services."""
        clusters, failures = orig_describe_clusters(self, cluster_names)
        for c in clusters:
            svcs = active_services(self, c)
            c.active_services_count = len(svcs)
            c.running_tasks_count = sum(s.desired_count for s in svcs)
            c.pending_tasks_count = 0
        return clusters, failures

    orig_get_cluster = Backend._get_cluster

    def get_cluster(self, name):
        """E5: a deleted (INACTIVE) cluster is gone for every operation but Describe."""
        cluster = orig_get_cluster(self, name)
        if cluster.status != "ACTIVE":
            raise models.ClusterNotFoundException
        return cluster

    def list_clusters(self):
        return [c.arn for c in self.clusters.values() if c.status == "ACTIVE"]

    orig_create_cluster = Backend.create_cluster

    def create_cluster(self, cluster_name, *args, **kwargs):
        """E7: CreateCluster on an ACTIVE cluster returns it unchanged (moto replaces it)."""
        existing = self.clusters.get(cluster_name)
        if existing is not None and existing.status == "ACTIVE":
            return existing
        return orig_create_cluster(self, cluster_name, *args, **kwargs)

    orig_delete_cluster = Backend.delete_cluster

    def delete_cluster(self, cluster_str):
        """E5."""
        if active_services(self, self._get_cluster(cluster_str)):
            raise ECSException("ClusterContainsServicesException",
                               "The Cluster cannot be deleted while Services are active.")
        return orig_delete_cluster(self, cluster_str)

    # Service objects created before a patch field existed would miss the attribute.
    models.Service.capacity_provider_strategy = None
    models.Service.deployment_configuration = None
    models.Service.health_check_grace_period_seconds = None
    models.Service.enable_execute_command = False
    models.Service.created_at = None

    orig_register = R.register_task_definition

    def register_task_definition(self):
        """E6: the response carries the tags, like real ECS."""
        result = orig_register(self)
        if self._get_param("tags"):
            result.result["tags"] = self._get_param("tags")
        return result

    R.create_service, R.update_service = create_service, update_service
    R.register_task_definition = register_task_definition
    Backend.delete_service, Backend.list_services = delete_service, list_services
    Backend.describe_clusters, Backend.delete_cluster = describe_clusters, delete_cluster
    Backend._get_cluster, Backend.list_clusters = get_cluster, list_clusters
    Backend.create_cluster = create_cluster


def patch_elbv2() -> None:
    from moto.elbv2.models import ELBv2Backend as Backend

    orig_create_lb = Backend.create_load_balancer

    def create_load_balancer(self, name, *args, **kwargs):
        """L1: CreateLoadBalancer with an existing name returns that load balancer."""
        for lb in self.load_balancers.values():
            if lb.name == name:
                return lb
        return orig_create_lb(self, name, *args, **kwargs)

    def recompute_target_group_lbs(self) -> None:
        """L2: TargetGroup.LoadBalancerArns = load balancers whose listeners forward to it."""
        for tg in self.target_groups.values():
            tg.load_balancer_arns = [
                lb.arn for lb in self.load_balancers.values()
                if any(tg.arn in self._get_target_group_arns_from(action_data=a.data)
                       for listener in lb.listeners.values()
                       for rule in listener.rules.values() for a in rule.actions)
            ]

    def after(method):
        orig = getattr(Backend, method)

        def wrapped(self, *args, **kwargs):
            result = orig(self, *args, **kwargs)
            recompute_target_group_lbs(self)
            return result
        setattr(Backend, method, wrapped)

    orig_describe_tgs = Backend.describe_target_groups

    def describe_target_groups(self, load_balancer_arn, *args, **kwargs):
        """L3: a load balancer without target groups yields an empty list, not an error."""
        if load_balancer_arn and load_balancer_arn in self.load_balancers and not any(
                load_balancer_arn in tg.load_balancer_arns for tg in self.target_groups.values()):
            return []
        return orig_describe_tgs(self, load_balancer_arn, *args, **kwargs)

    Backend.create_load_balancer = create_load_balancer
    Backend.describe_target_groups = describe_target_groups
    for method in ("create_listener", "modify_listener", "delete_listener", "create_rule",
                   "modify_rule", "delete_rule", "delete_load_balancer"):
        after(method)


def patch_application_autoscaling() -> None:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend as Backend
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as R
    from moto.core.exceptions import JsonRESTError

    def tag_store(self) -> dict:
        backend = self.applicationautoscaling_backend
        if not hasattr(backend, "shim_tags"):
            backend.shim_tags = {}
        return backend.shim_tags

    def tags_for(self, arn: str) -> dict:
        backend = self.applicationautoscaling_backend
        if not any(t.arn == arn for d in backend.targets.values() for t in d.values()):
            raise JsonRESTError("ResourceNotFoundException", f"No scalable target found for {arn}")
        return tag_store(self).setdefault(arn, {})

    orig_register = R.register_scalable_target

    def register_scalable_target(self):
        """A1: Tags on RegisterScalableTarget are kept (moto ignores them)."""
        out = orig_register(self)
        tags_for(self, json.loads(out)["ScalableTargetARN"]).update(self._get_param("Tags") or {})
        return out

    def list_tags_for_resource(self):
        return json.dumps({"Tags": tags_for(self, self._get_param("ResourceARN"))})

    def tag_resource(self):
        tags_for(self, self._get_param("ResourceARN")).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self):
        tags = tags_for(self, self._get_param("ResourceARN"))
        for key in self._get_param("TagKeys") or []:
            tags.pop(key, None)
        return "{}"

    orig_deregister = Backend.deregister_scalable_target

    def deregister_scalable_target(self, namespace, r_id, dimension):
        """A2: deregistering a scalable target deletes its scaling policies."""
        orig_deregister(self, namespace, r_id, dimension)
        for key, pol in list(self.policies.items()):
            if (pol.service_namespace, pol.resource_id, pol.scalable_dimension) == (
                    namespace, r_id, dimension):
                del self.policies[key]

    R.register_scalable_target = register_scalable_target
    R.list_tags_for_resource, R.tag_resource = list_tags_for_resource, tag_resource
    R.untag_resource = untag_resource
    Backend.deregister_scalable_target = deregister_scalable_target


ALARM_REF_RE = re.compile(r'\b(?:ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"([^"]+)"|([^()\s,"]+))\s*\)')
AT_LEAST_RE = re.compile(r'\bAT_LEAST\s*\([^()]*\(([^()]*)\)\s*\)')


def rule_alarm_names(rule: str) -> list[str]:
    """Alarm names an AlarmRule refers to: ALARM(x), OK("x"), INSUFFICIENT_DATA(arn), and the
    names listed in AT_LEAST(n, STATE, (a, b)). ARNs are reduced to the alarm name."""
    refs = [a or b for a, b in ALARM_REF_RE.findall(rule)]
    for group in AT_LEAST_RE.findall(rule):
        refs += [r.strip().strip('"') for r in group.split(",") if r.strip()]
    return [r.split(":alarm:", 1)[1] if r.startswith("arn:") and ":alarm:" in r else r
            for r in refs]


def patch_cloudwatch() -> None:
    from moto.cloudwatch import models
    from moto.cloudwatch.exceptions import (InvalidParameterValue, ResourceNotFoundException,
                                            ValidationError)
    from moto.cloudwatch.responses import CloudWatchResponse as R
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult, EmptyResult
    from moto.core.utils import utcnow

    Backend, Alarm = models.CloudWatchBackend, models.Alarm

    class InvalidNextToken(ServiceException):
        code = "InvalidNextToken"

    def alarm_type(alarm) -> str:
        return "MetricAlarm" if alarm.rule is None else "CompositeAlarm"

    def history(backend) -> list:
        """C5: alarm history per account and region; kept after DeleteAlarms, as AWS does."""
        if not hasattr(backend, "shim_history"):
            backend.shim_history = []
        return backend.shim_history

    def record(backend, alarm, item_type: str, summary: str, data: dict) -> None:
        history(backend).append({
            "AlarmName": alarm.name, "AlarmType": alarm_type(alarm), "Timestamp": utcnow(),
            "HistoryItemType": item_type, "HistorySummary": summary,
            "HistoryData": json.dumps({"version": "1.0", **data}),
        })

    orig_put = Backend.put_metric_alarm

    def put_metric_alarm(self, name, *args, **kwargs):
        """C1: a new alarm starts INSUFFICIENT_DATA (moto: OK). Updating an alarm keeps its
        state and ignores Tags, as AWS documents (moto resets the state, merges the tags)."""
        old = self.alarms.get(name)
        if old is not None:
            kwargs["tags"] = None
        alarm = orig_put(self, name, *args, **kwargs)
        if old is not None:
            for attr in ("state_value", "state_reason", "state_reason_data",
                         "state_updated_timestamp", "state_transitioned_timestamp", "history"):
                setattr(alarm, attr, getattr(old, attr, None))
            record(self, alarm, "ConfigurationUpdate", f'Alarm "{name}" updated', {"type": "Update"})
        else:
            alarm.state_value = "INSUFFICIENT_DATA"
            alarm.state_transitioned_timestamp = alarm.state_updated_timestamp
            record(self, alarm, "ConfigurationUpdate", f'Alarm "{name}" created', {"type": "Create"})
        return alarm

    orig_update_state = Alarm.update_state

    def update_state(self, reason, reason_data, state_value):
        """C5: SetAlarmState leaves a StateUpdate history item and a StateTransitionedTimestamp."""
        old_value, old_reason = self.state_value, self.state_reason
        orig_update_state(self, reason, reason_data, state_value)
        if state_value != old_value:
            self.state_transitioned_timestamp = self.state_updated_timestamp
            backend = models.cloudwatch_backends[self.alarm_arn.split(":")[4]][self.region_name]
            record(backend, self, "StateUpdate", f"Alarm updated from {old_value} to {state_value}", {
                "oldState": {"stateValue": old_value, "stateReason": old_reason},
                "newState": {"stateValue": state_value, "stateReason": reason,
                             **({"stateReasonData": json.loads(reason_data)} if reason_data else {})},
            })

    orig_delete = Backend.delete_alarms

    def delete_alarms(self, alarm_names):
        """C3: deleting an alarm deletes its tags (moto keeps them for a later alarm of the
        same name)."""
        gone = [self.alarms[n] for n in alarm_names if n in self.alarms]
        orig_delete(self, alarm_names)
        for alarm in gone:
            self.tagger.delete_all_tags_for_resource(alarm.alarm_arn)
            record(self, alarm, "ConfigurationUpdate", f'Alarm "{alarm.name}" deleted', {"type": "Delete"})

    def known_arn(self, arn: str) -> bool:
        return any(a.alarm_arn == arn for a in self.alarms.values()) or any(
            r.rule_arn == arn for r in self.insight_rules.values())

    orig_list_tags, orig_untag = Backend.list_tags_for_resource, Backend.untag_resource

    def list_tags_for_resource(self, arn):
        """C4: an unknown ARN is ResourceNotFoundException (moto: no tags)."""
        if not known_arn(self, arn):
            raise ResourceNotFoundException
        return orig_list_tags(self, arn)

    def untag_resource(self, arn, tag_keys):
        """C4: untagging an alarm without tags works (moto: ResourceNotFoundException)."""
        if not known_arn(self, arn):
            raise ResourceNotFoundException
        self.tagger.untag_resource_using_names(arn, tag_keys)

    orig_put_response = R.put_metric_alarm

    def put_metric_alarm_response(self) -> ActionResult:
        """C6: PutMetricAlarm validates the metric the way AWS does (moto accepts an alarm
        without a metric, or with both Statistic and ExtendedStatistic)."""
        metrics = self._get_param("Metrics") or []
        single = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions",
                  "Period", "Unit")
        if metrics:
            for param in single:
                if self._get_param(param):
                    raise ValidationError(f"{param} should not be set if list of Metrics is set.")
            if not self._get_param("ThresholdMetricId") and sum(
                    1 for m in metrics if m.get("ReturnData", True)) != 1:
                raise ValidationError("Exactly one element of the metrics list should return data.")
        else:
            if not self._get_param("MetricName") or not self._get_param("Namespace"):
                raise ValidationError("MetricName and Namespace must be set if list of Metrics is not set.")
            if bool(self._get_param("Statistic")) == bool(self._get_param("ExtendedStatistic")):
                raise ValidationError("Exactly one of Statistic and ExtendedStatistic must be set.")
            if not self._get_param("Period"):
                raise ValidationError("Period must be set if list of Metrics is not set.")
        return orig_put_response(self)

    def put_composite_alarm(self) -> ActionResult:
        """C2: PutCompositeAlarm (moto: HTTP 500), kept in moto's own alarm table as an alarm
        with a rule, which moto already models for DescribeAlarms, DeleteAlarms, SetAlarmState
        and tags."""
        backend = self.cloudwatch_backend
        name, rule = self._get_param("AlarmName"), self._get_param("AlarmRule")
        for param, value in (("alarmName", name), ("alarmRule", rule)):
            if not value:
                raise ValidationError(f"1 validation error detected: Value null at '{param}' "
                                      "failed to satisfy constraint: Member must not be null")
        missing = [n for n in dict.fromkeys(rule_alarm_names(rule)) if n not in backend.alarms]
        if missing:
            raise ValidationError(f"Could not save the composite alarm as alarms {missing} "
                                  "in the alarm rule do not exist")
        alarm = backend.put_metric_alarm(
            name=name, namespace=None, metric_name=None, comparison_operator=None,
            evaluation_periods=None, period=None, threshold=None, statistic=None,
            description=self._get_param("AlarmDescription"), dimensions=[],
            alarm_actions=self._get_param("AlarmActions", []),
            ok_actions=self._get_param("OKActions", []),
            insufficient_data_actions=self._get_param("InsufficientDataActions", []),
            actions_enabled=self._get_param("ActionsEnabled"), rule=rule,
            tags=self._get_param("Tags", []))
        alarm.actions_suppressor = self._get_param("ActionsSuppressor")
        alarm.actions_suppressor_wait_period = self._get_param("ActionsSuppressorWaitPeriod")
        alarm.actions_suppressor_extension_period = self._get_param("ActionsSuppressorExtensionPeriod")
        return EmptyResult()

    def page(self, items: list, default_size: int) -> tuple[list, str | None]:
        size = self._get_param("MaxRecords") or default_size
        token = self._get_param("NextToken")
        try:
            start = int(base64.b64decode(token).decode().removeprefix("shim:")) if token else 0
        except ValueError:
            raise InvalidNextToken("The service returned an invalid next token.")
        end = start + int(size)
        return items[start:end], (base64.b64encode(f"shim:{end}".encode()).decode()
                                  if end < len(items) else None)

    def describe_alarms(self) -> ActionResult:
        """C2: AlarmTypes is honoured (default: metric alarms only, as on AWS), AlarmNames,
        AlarmNamePrefix, StateValue and ActionPrefix all apply (moto: only the first given),
        alarms come sorted by name and paged by MaxRecords (default 50) / NextToken."""
        if self._get_param("ChildrenOfAlarmName") or self._get_param("ParentsOfAlarmName"):
            raise InvalidParameterValue(
                "emulator: ChildrenOfAlarmName and ParentsOfAlarmName are not emulated")
        names = self._get_param("AlarmNames") or []
        prefix = self._get_param("AlarmNamePrefix")
        state = self._get_param("StateValue")
        action_prefix = self._get_param("ActionPrefix")
        types = self._get_param("AlarmTypes") or ["MetricAlarm"]
        alarms = sorted(
            (a for a in self.cloudwatch_backend.alarms.values()
             if (not names or a.name in names)
             and (not prefix or a.name.startswith(prefix))
             and (not state or a.state_value == state)
             and (not action_prefix or any(x.startswith(action_prefix) for x in (
                 *a.alarm_actions, *a.ok_actions, *a.insufficient_data_actions)))
             and alarm_type(a) in types),
            key=lambda a: (alarm_type(a) != "MetricAlarm", a.name))
        alarms, token = page(self, alarms, 50)
        return ActionResult({
            "MetricAlarms": [a for a in alarms if a.rule is None],
            "CompositeAlarms": [a for a in alarms if a.rule is not None],
            "NextToken": token,
        })

    def describe_alarm_history(self) -> ActionResult:
        """C5: DescribeAlarmHistory (moto: HTTP 500) from the history the patches record:
        create/update/delete (ConfigurationUpdate) and state changes (StateUpdate)."""
        name = self._get_param("AlarmName")
        kind = self._get_param("HistoryItemType")
        types = self._get_param("AlarmTypes") or ["MetricAlarm"]
        start, end = self._get_param("StartDate"), self._get_param("EndDate")
        items = [h for h in history(self.cloudwatch_backend)
                 if (not name or h["AlarmName"] == name) and (not kind or h["HistoryItemType"] == kind)
                 and h["AlarmType"] in types
                 and (start is None or h["Timestamp"] >= start.replace(tzinfo=None))
                 and (end is None or h["Timestamp"] <= end.replace(tzinfo=None))]
        if self._get_param("ScanBy") != "TimestampAscending":
            items.reverse()
        items, token = page(self, items, 100)
        return ActionResult({"AlarmHistoryItems": items, "NextToken": token})

    # Alarms created before a patch field existed would miss the attribute.
    Alarm.state_transitioned_timestamp = None
    Alarm.actions_suppressor = None
    Alarm.actions_suppressor_wait_period = None
    Alarm.actions_suppressor_extension_period = None

    Backend.put_metric_alarm, Backend.delete_alarms = put_metric_alarm, delete_alarms
    Backend.list_tags_for_resource, Backend.untag_resource = list_tags_for_resource, untag_resource
    Alarm.update_state = update_state
    R.put_composite_alarm, R.describe_alarms = put_composite_alarm, describe_alarms
    R.put_metric_alarm = put_metric_alarm_response
    R.describe_alarm_history = describe_alarm_history


# Protocols whose subscriptions wait for the endpoint's owner to confirm them (S2).
SNS_CONFIRM_PROTOCOLS = ("email", "email-json", "http", "https")
SNS_PROTOCOLS = ("http", "https", "email", "email-json", "sms", "sqs", "application", "lambda",
                 "firehose")


def patch_sns() -> None:
    from moto.sns import models
    from moto.sns.exceptions import SNSInvalidParameter
    from moto.sns.responses import SNSResponse as R
    from moto.core.utils import camelcase_to_underscores

    Backend, Subscription = models.SNSBackend, models.Subscription

    orig_create_topic = Backend.create_topic

    def create_topic(self, name, attributes=None, tags=None):
        """S1: CreateTopic of an existing topic with other Tags or Attributes fails, as on
        AWS (moto returns the topic and ignores them)."""
        existing = next((t for t in self.topics.values() if t.name == name), None)
        if existing is not None:
            if tags and dict(tags) != dict(existing._tags or {}):
                raise SNSInvalidParameter(
                    "Invalid parameter: Tags Reason: Topic already exists with different tags")
            for key, value in (attributes or {}).items():
                current = getattr(existing, camelcase_to_underscores(key), None)
                if key in ("Policy", "DeliveryPolicy") and current:
                    try:
                        same = json.loads(value) == json.loads(current)
                    except ValueError:
                        same = False
                else:
                    same = str(value) == str(current)
                if not same:
                    raise SNSInvalidParameter("Invalid parameter: Attributes Reason: Topic "
                                              "already exists with different attributes")
        return orig_create_topic(self, name, attributes, tags)

    orig_subscribe = Backend.subscribe

    def subscribe(self, topic_arn, endpoint, protocol):
        """S2 + S3: protocol and endpoint are validated; email/email-json/http/https
        subscriptions start pending confirmation (moto: confirmed at once)."""
        if protocol not in SNS_PROTOCOLS:
            raise SNSInvalidParameter(
                f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}")
        if protocol in ("email", "email-json") and not re.fullmatch(r"[^@\s]+@[^@\s]+", endpoint or ""):
            raise SNSInvalidParameter("Invalid parameter: Email address")
        if protocol in ("http", "https") and not (endpoint or "").lower().startswith(f"{protocol}://"):
            raise SNSInvalidParameter("Invalid parameter: Endpoint must match the specified protocol")
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        sub = orig_subscribe(self, topic_arn, endpoint, protocol)
        if existing is None:
            sub.confirmed = protocol not in SNS_CONFIRM_PROTOCOLS
            if not sub.confirmed:
                sub.attributes["PendingConfirmation"] = True
                sub.attributes["ConfirmationWasAuthenticated"] = False
        return sub

    def shown_arn(sub) -> str:
        return sub.arn if sub.confirmed else "PendingConfirmation"

    orig_subscribe_response = R.subscribe

    def subscribe_response(self):
        """S2: a pending subscription answers "pending confirmation" unless
        ReturnSubscriptionArn is true."""
        result = orig_subscribe_response(self)
        arn = result.result["SubscriptionArn"]
        sub = self.backend.subscriptions.get(arn)
        want_arn = str(self._get_param("ReturnSubscriptionArn", "false")).lower() == "true"
        if sub is not None and not sub.confirmed and not want_arn:
            result.result["SubscriptionArn"] = "pending confirmation"
        return result

    def listing(orig):
        def wrapped(self):
            """S2: pending subscriptions are listed with SubscriptionArn "PendingConfirmation"."""
            result = orig(self)
            result.result["Subscriptions"] = [{
                "SubscriptionArn": shown_arn(s), "Owner": s.account_id, "Protocol": s.protocol,
                "Endpoint": s.endpoint, "TopicArn": s.topic.arn,
            } for s in result.result["Subscriptions"]]
            return result
        return wrapped

    orig_unsubscribe = Backend.unsubscribe

    def unsubscribe(self, subscription_arn):
        """S2: "PendingConfirmation" (or anything that is not an ARN) is rejected like on AWS."""
        parts = (subscription_arn or "").split(":")
        if len(parts) < 6 or parts[0] != "arn":
            raise SNSInvalidParameter("Invalid parameter: SubscriptionArn Reason: An ARN must "
                                      f"have at least 6 elements, not {len(parts)}")
        return orig_unsubscribe(self, subscription_arn)

    orig_topic_attributes = R.get_topic_attributes

    def get_topic_attributes(self):
        """S4: SubscriptionsConfirmed / SubscriptionsPending count the topic's subscriptions
        (moto: always 0)."""
        topic = self.backend.get_topic(self._get_param("TopicArn"))
        subs = self.backend._get_topic_subscriptions(topic)
        topic.subscriptions_confimed = sum(1 for s in subs if s.confirmed)
        topic.subscriptions_pending = sum(1 for s in subs if not s.confirmed)
        return orig_topic_attributes(self)

    orig_publish = Subscription.publish

    def publish(self, *args, **kwargs):
        """S2: nothing is delivered to a pending subscription (and so no HTTP request leaves
        for an unconfirmed http(s) endpoint)."""
        if not self.confirmed:
            return None
        return orig_publish(self, *args, **kwargs)

    Backend.create_topic, Backend.subscribe, Backend.unsubscribe = create_topic, subscribe, unsubscribe
    R.subscribe, R.get_topic_attributes = subscribe_response, get_topic_attributes
    R.list_subscriptions = listing(R.list_subscriptions)
    R.list_subscriptions_by_topic = listing(R.list_subscriptions_by_topic)
    Subscription.publish = publish


def sns_confirm(endpoint: str, topic_arn: str | None = None) -> list[str]:
    """POST /_shim/sns/confirm: what the owner of a pending endpoint does by following the
    confirmation link. Confirms the matching pending subscriptions in every account and region."""
    from moto.sns.models import sns_backends
    confirmed = []
    for account in list(sns_backends.keys()):
        for region in list(sns_backends[account].keys()):
            for sub in sns_backends[account][region].subscriptions.values():
                if not sub.confirmed and sub.endpoint == endpoint and topic_arn in (None, sub.topic.arn):
                    sub.confirmed = True
                    sub.attributes["PendingConfirmation"] = False
                    sub.attributes["ConfirmationWasAuthenticated"] = True
                    confirmed.append(sub.arn)
    return confirmed


# --------------------------------------------------------------------------
# Route 53 (R1-R4)
# --------------------------------------------------------------------------

# Health the tests force on Route 53 health checks (POST /_shim/route53/health/<id>): what the
# checkers see at the endpoint, before Inverted is applied. id -> True (healthy) / False.
R53_FORCED_HEALTH: dict[str, bool] = {}
# Checker regions reported when a health check names no Regions (a subset of AWS's default set).
R53_CHECKER_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1")
R53_MAX_ALIAS_DEPTH = 8


def dns_key(name: str | None) -> str:
    """Route 53 compares names case-insensitively, with or without the trailing dot."""
    return (name or "").rstrip(".").lower()


def fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def is_true(value) -> bool:
    return value is True or str(value).lower() == "true"


def r53_backends():
    """Every Route 53 backend (one per account and partition) that exists."""
    from moto.route53.models import route53_backends
    for account in list(route53_backends.keys()):
        for partition in list(route53_backends[account].keys()):
            yield route53_backends[account][partition]


def r53_find_health_check(health_check_id: str):
    for backend in r53_backends():
        if health_check_id in backend.health_checks:
            return backend.health_checks[health_check_id]
    return None


def r53_health(backend, hc, depth: int = 0) -> tuple[bool, str]:
    """R2: (healthy, StatusReport.Status) of a health check, as Route 53's checkers would report.
    The endpoint answers OK unless a test forced it unhealthy; Inverted flips the outcome;
    a disabled check is always healthy; CALCULATED counts its healthy children."""
    if hc.disabled:
        return True, "Success: The health check is disabled; Route 53 considers it healthy."
    if hc.type_ == "CALCULATED":
        children = [backend.health_checks.get(c) for c in hc.children or []]
        up = sum(1 for c in children if c is not None and depth < R53_MAX_ALIAS_DEPTH
                 and r53_health(backend, c, depth + 1)[0])
        ok = up >= (hc.health_threshold or 0)
        return ok != bool(hc.inverted), f"{up} of {len(children)} child health checks are healthy."
    endpoint_ok = R53_FORCED_HEALTH.get(hc.id, True)
    if hc.type_ in ("TCP",):
        probe = "TCP connection established." if endpoint_ok else "Connection timed out."
    else:
        probe = "HTTP Status Code 200, OK" if endpoint_ok else "HTTP Status Code 503, Service Unavailable"
    healthy = endpoint_ok != bool(hc.inverted)
    inverted = " (inverted health check)" if hc.inverted else ""
    return healthy, f"{'Success' if healthy else 'Failure'}: {probe}{inverted}"


def r53_observations(backend, hc) -> list[dict]:
    """R2: one observation per checker region (the check's Regions, else a default set), with a
    fake checker IP from 198.51.100.0/24 (TEST-NET-2)."""
    from moto.core.utils import utcnow
    if hc.type_ == "CALCULATED":
        return []
    _, status = r53_health(backend, hc)
    return [{"Region": region, "IPAddress": f"198.51.100.{10 + i}",
             "StatusReport": {"Status": status, "CheckedTime": utcnow()}}
            for i, region in enumerate(hc.regions or R53_CHECKER_REGIONS)]


def rrset_dict(rs) -> dict:
    """A moto RecordSet as the ResourceRecordSet dict of a request."""
    out = {"Name": rs.name, "Type": rs.type, "TTL": rs.ttl, "SetIdentifier": rs.set_identifier,
           "Weight": rs.weight, "Region": rs.region, "HealthCheckId": rs.health_check_id,
           "AliasTarget": rs.alias_target, "Failover": rs.failover,
           "GeoLocation": rs.geo_location, "MultiValueAnswer": rs.multi_value_answer,
           "ResourceRecords": [{"Value": v} for v in rs.records or []]}
    return {k: v for k, v in out.items() if v not in (None, [])}


def rrset_identity(rr: dict) -> tuple:
    """What names a record set: name, type and SetIdentifier (UPSERT replaces by this)."""
    return dns_key(rr.get("Name")), rr.get("Type"), rr.get("SetIdentifier")


def rrset_values(rr: dict) -> dict:
    """Everything a DELETE must repeat exactly, normalized for comparison."""
    alias = rr.get("AliasTarget")
    return {
        "TTL": None if rr.get("TTL") is None else int(rr["TTL"]),
        "ResourceRecords": sorted(str(x["Value"]) for x in rr.get("ResourceRecords") or []),
        "AliasTarget": None if not alias else (
            str(alias.get("HostedZoneId", "")).replace("/hostedzone/", ""),
            dns_key(alias.get("DNSName")), is_true(alias.get("EvaluateTargetHealth"))),
        **{k: rr.get(k) for k in ("Failover", "HealthCheckId", "Region", "GeoLocation",
                                  "MultiValueAnswer")},
        "Weight": None if rr.get("Weight") is None else int(rr["Weight"]),
    }


def rrset_label(rr: dict) -> str:
    """How Route 53's InvalidChangeBatch messages name a record set."""
    label = f"name='{fqdn(dns_key(rr.get('Name')))}', type='{rr.get('Type')}'"
    if rr.get("SetIdentifier"):
        label += f", set-identifier='{rr['SetIdentifier']}'"
    return f"[{label}]"


def alias_in_zone(zone, rr: dict) -> bool:
    alias = rr.get("AliasTarget")
    return bool(alias) and str(alias.get("HostedZoneId", "")).replace(
        "/hostedzone/", "") == zone.resource_id


def zone_records(zone, name: str, rtype: str | None = None) -> list:
    return [r for r in zone.rrsets
            if dns_key(r.name) == dns_key(name) and rtype in (None, r.type)]


def record_healthy(backend, zone, rs, depth: int) -> bool:
    """R3: a record is healthy when its health check is (none counts as healthy) and, for an
    alias with EvaluateTargetHealth to a record in the same zone, when that target has a
    healthy record. Aliases to anything else (load balancers, S3 websites) count as healthy."""
    hc = backend.health_checks.get(rs.health_check_id) if rs.health_check_id else None
    if hc is not None and not r53_health(backend, hc)[0]:
        return False
    rr = rrset_dict(rs)
    if alias_in_zone(zone, rr) and is_true(rr["AliasTarget"].get("EvaluateTargetHealth")):
        if depth >= R53_MAX_ALIAS_DEPTH:
            return False
        return any(record_healthy(backend, zone, t, depth + 1)
                   for t in zone_records(zone, rr["AliasTarget"]["DNSName"], rs.type))
    return True


def choose_record(backend, zone, records: list, depth: int):
    """R3: the record Route 53 answers with: the PRIMARY while it is healthy, else the
    SECONDARY; of other sets the first healthy one. If none is healthy, all count as healthy."""
    ordered = sorted(records, key=lambda r: (r.failover or "") != "PRIMARY")
    return next((r for r in ordered if record_healthy(backend, zone, r, depth)), ordered[0])


def test_dns_answer(backend, zone, name: str, rtype: str, depth: int = 0) -> tuple[str, list[str]]:
    """R3: (ResponseCode, RecordData) for name/type, following aliases within the zone."""
    if not zone_records(zone, name):
        return "NXDOMAIN", []
    records = zone_records(zone, name, rtype)
    if not records:
        return "NOERROR", []
    if depth >= R53_MAX_ALIAS_DEPTH:
        return "SERVFAIL", []
    chosen = rrset_dict(choose_record(backend, zone, records, depth))
    alias = chosen.get("AliasTarget")
    if not alias:
        return "NOERROR", [x["Value"] for x in chosen.get("ResourceRecords", [])]
    if alias_in_zone(zone, chosen):
        return test_dns_answer(backend, zone, alias["DNSName"], rtype, depth + 1)
    return "NOERROR", [alias["DNSName"].rstrip(".")]


def patch_route53() -> None:
    from moto.core.responses import ActionResult
    from moto.route53 import urls
    from moto.route53.exceptions import (DnsNameInvalidForZone, InvalidActionValue,
                                         Route53ClientError)
    from moto.route53.models import RecordSet, Route53Backend as Backend
    from moto.route53.responses import Route53 as R
    from moto.route53.utils import validate_domain_name

    def change_resource_record_sets(self, zoneid, change_list):
        """R1: the whole batch is validated first and applied all or nothing: CREATE of an
        existing record set, DELETE of one that does not exist with exactly these values, a
        name outside the zone, or an alias to a missing record of the zone make the batch fail
        with InvalidChangeBatch listing every problem. UPSERT and DELETE act on one record set
        (name, type, SetIdentifier); names compare case- and trailing-dot-insensitively."""
        zone = self.get_hosted_zone(zoneid)
        rrsets, errors = list(zone.rrsets), []
        for change in change_list:
            action, rr = change["Action"], change["ResourceRecordSet"]
            validate_domain_name(rr["Name"], code="InvalidChangeBatch")
            if action not in ("CREATE", "UPSERT", "DELETE"):
                raise InvalidActionValue(action)
            name, zone_name = dns_key(rr["Name"]), dns_key(zone.name)
            if name != zone_name and not name.endswith("." + zone_name):
                errors.append(DnsNameInvalidForZone(fqdn(rr["Name"]), zone.name).message)
                continue
            at = next((i for i, r in enumerate(rrsets)
                       if rrset_identity(rrset_dict(r)) == rrset_identity(rr)), None)
            label = rrset_label(rr)
            if action == "DELETE":
                if at is None:
                    errors.append(f"Tried to delete resource record set {label} but it was not found")
                elif rrset_values(rrset_dict(rrsets[at])) != rrset_values(rr):
                    errors.append(f"Tried to delete resource record set {label} but the values "
                                  "provided do not match the current values")
                else:
                    del rrsets[at]
                continue
            if action == "CREATE" and at is not None:
                errors.append(f"Tried to create resource record set {label} but it already exists")
                continue
            new = RecordSet({**rr, "Name": fqdn(rr["Name"]), "ResourceRecords": [
                x["Value"] for x in rr.get("ResourceRecords") or []]})
            if at is None:
                rrsets.append(new)
            else:
                rrsets[at] = new
        for change in change_list:
            rr = change["ResourceRecordSet"]
            if change["Action"] != "DELETE" and alias_in_zone(zone, rr) and not any(
                    dns_key(r.name) == dns_key(rr["AliasTarget"]["DNSName"]) and r.type == rr["Type"]
                    for r in rrsets):
                errors.append(f"Tried to create an alias that targets "
                              f"{fqdn(dns_key(rr['AliasTarget']['DNSName']))}, type {rr['Type']} "
                              f"in zone {zone.resource_id}, but that target was not found")
        if errors:
            raise Route53ClientError("InvalidChangeBatch", "[" + ", ".join(errors) + "]")
        zone.rrsets = rrsets

    orig_update_health_check = R.update_health_check

    def update_health_check(self) -> ActionResult:
        """R4: fields UpdateHealthCheck does not name stay as they are (moto drops Regions and
        ChildHealthChecks), ResetElements resets, HealthCheckVersion counts the updates."""
        hc = self.backend.get_health_check(self._get_param("HealthCheckId"))
        kept = {"Regions": hc.regions, "ChildHealthChecks": hc.children}
        result = orig_update_health_check(self)
        for param, attr in (("Regions", "regions"), ("ChildHealthChecks", "children")):
            if not self._get_param(param):
                setattr(hc, attr, kept[param])
        resets = {"FullyQualifiedDomainName": "fqdn", "Regions": "regions",
                  "ResourcePath": "resource_path", "ChildHealthChecks": "children"}
        for element in self._get_param("ResetElements") or []:
            setattr(hc, resets[element], None)
        hc.health_check_version += 1
        return result

    def get_health_check_status(self) -> ActionResult:
        """R2: observations follow the check's health (Inverted, /_shim/route53/health)."""
        hc = self.backend.get_health_check(self._get_param("HealthCheckId"))
        return ActionResult({"HealthCheckObservations": r53_observations(self.backend, hc)})

    def get_health_check_last_failure_reason(self) -> ActionResult:
        """R2: (moto: 404) the failing observations; none while the check is healthy."""
        hc = self.backend.get_health_check(self._get_param("HealthCheckId"))
        failing = not r53_health(self.backend, hc)[0]
        return ActionResult({"HealthCheckObservations": r53_observations(self.backend, hc)
                             if failing else []})

    def test_dns_answer_response(self) -> ActionResult:
        """R3: (moto: 404) the answer Route 53 would give for the record, failover and
        aliases within the zone followed."""
        zone = self.backend.get_hosted_zone(self._get_param("HostedZoneId"))
        name, rtype = self._get_param("RecordName"), self._get_param("RecordType")
        code, data = test_dns_answer(self.backend, zone, name, rtype)
        return ActionResult({
            "Nameserver": zone.delegation_set.name_servers[0] if zone.delegation_set
            else "ns-2048.awsdns-64.com",
            "RecordName": name, "RecordType": rtype, "RecordData": data,
            "ResponseCode": code, "Protocol": "UDP"})

    Backend.change_resource_record_sets = change_resource_record_sets
    R.update_health_check, R.get_health_check_status = update_health_check, get_health_check_status
    R.get_health_check_last_failure_reason = get_health_check_last_failure_reason
    R.test_dns_answer = test_dns_answer_response
    urls.url_paths.update({
        r"{0}/(?P<api_version>[\d_-]+)/healthcheck/(?P<health_check_id>[^/]+)/lastfailurereason$": R.dispatch,
        r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$": R.dispatch,
    })


def policy_is_public(policy: dict) -> bool:
    """An Allow statement for every principal ("*" or {"AWS": "*"}) without a Condition: what
    S3 Block Public Access counts as public (AWS also accepts some conditions as non-public)."""
    statements = policy.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        principal = st.get("Principal")
        everyone = principal == "*" or (isinstance(principal, dict) and "*" in (
            principal.get("AWS") if isinstance(principal.get("AWS"), list) else [principal.get("AWS")]))
        if st.get("Effect") == "Allow" and everyone and not st.get("Condition"):
            return True
    return False


def patch_s3() -> None:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import PublicAccessBlock, S3Backend as Backend

    class PublicPolicyBlocked(S3ClientError):
        code = "AccessDenied"

    orig_put_policy = Backend.put_bucket_policy

    def put_bucket_policy(self, bucket_name, policy):
        """B1: a public policy on a bucket whose public access block has BlockPublicPolicy is
        refused with AccessDenied, as on AWS (moto stores it)."""
        block = self.get_bucket(bucket_name).public_access_block
        try:
            doc = json.loads(policy)
        except ValueError:
            doc = {}
        if block is not None and block.block_public_policy and policy_is_public(doc):
            raise PublicPolicyBlocked(
                "AccessDenied", "User is not authorized to perform: s3:PutBucketPolicy on resource: "
                f"\"arn:aws:s3:::{bucket_name}\" because public policies are blocked by the "
                "BlockPublicPolicy block public access setting.")
        return orig_put_policy(self, bucket_name, policy)

    orig_create_bucket = Backend.create_bucket

    def create_bucket(self, bucket_name, *args, **kwargs):
        """B2: a new bucket has all four Block Public Access settings on, as on AWS since April
        2023 (moto: none, GetPublicAccessBlock -> NoSuchPublicAccessBlockConfiguration)."""
        existed = bucket_name in self.buckets
        bucket = orig_create_bucket(self, bucket_name, *args, **kwargs)
        if not existed and bucket.public_access_block is None:
            bucket.public_access_block = PublicAccessBlock(True, True, True, True)
        return bucket

    Backend.put_bucket_policy, Backend.create_bucket = put_bucket_policy, create_bucket


# --------------------------------------------------------------------------
# CloudFront (F1-F4)
# --------------------------------------------------------------------------

def cf_aliases(config: dict) -> list[str]:
    items = (config.get("Aliases") or {}).get("Items") or []
    if isinstance(items, dict):  # one <CNAME> element parses as a dict
        items = items.get("CNAME") or []
    return [dns_key(a) for a in ([items] if isinstance(items, str) else items)]


def patch_cloudfront() -> None:
    from moto.acm.models import acm_backends
    from moto.cloudfront.exceptions import CloudFrontException
    from moto.cloudfront.models import CloudFrontBackend as Backend, random_id

    def error(code: str, message: str) -> CloudFrontException:
        return CloudFrontException(code, message)

    def check_config(backend, config: dict, own_id: str | None) -> None:
        """F3: the viewer certificate is an ACM certificate of this account in us-east-1 (moto
        takes any string). F4: an alias on another distribution -> CNAMEAlreadyExists (409)."""
        cert = config.get("ViewerCertificate") or {}
        arn = cert.get("ACMCertificateArn") if isinstance(cert, dict) else None
        if arn:
            region = arn.split(":")[3] if arn.count(":") >= 5 else ""
            known = region == "us-east-1" and arn in acm_backends[backend.account_id][
                "us-east-1"]._certificates
            if not known:
                raise error("InvalidViewerCertificate",
                            "The specified SSL certificate doesn't exist, isn't in us-east-1 "
                            "region, isn't valid, or doesn't include a valid certificate chain.")
        mine = set(cf_aliases(config))
        for other in backend.distributions.values():
            if other.distribution_id == own_id:
                continue
            taken = mine & set(cf_aliases({"Aliases": other.distribution_config.Aliases}))
            if taken:
                raise error("CNAMEAlreadyExists",
                            "One or more of the CNAMEs you provided are already associated with "
                            f"a different resource: {sorted(taken)[0]}")

    def find(backend, dist_id):
        return backend.distributions.get(dist_id)

    def check_if_match(dist, if_match) -> None:
        """F1: IfMatch must be the distribution's current ETag (moto takes any value)."""
        if dist is not None and if_match and if_match != dist.etag:
            raise error("PreconditionFailed",
                        "The If-Match version is missing or not valid for the resource.")

    orig_create = Backend.create_distribution_with_tags

    def create_distribution_with_tags(self, distribution_config, tags):
        check_config(self, distribution_config, None)
        return orig_create(self, distribution_config, tags)

    orig_update = Backend.update_distribution

    def update_distribution(self, dist_config, _id, if_match):
        """F1: a stale IfMatch -> PreconditionFailed (412); every update makes a new ETag."""
        dist = find(self, _id)
        check_if_match(dist, if_match)
        if dist is not None and dist_config:
            check_config(self, dist_config, _id)
        result = orig_update(self, dist_config, _id, if_match)
        dist.etag = random_id()
        return result[0], result[1], dist.etag

    orig_delete = Backend.delete_distribution

    def delete_distribution(self, distribution_id, if_match):
        """F1 and F2: DeleteDistribution needs the current ETag, and a distribution that is
        disabled and Deployed (DistributionNotDisabled, 409; moto deletes an enabled one)."""
        dist = find(self, distribution_id)
        if dist is not None and if_match:
            check_if_match(dist, if_match)
            if is_true(dist.distribution_config.Enabled) or dist.status != "Deployed":
                raise error("DistributionNotDisabled",
                            "The distribution you are trying to delete has not been disabled.")
        return orig_delete(self, distribution_id, if_match)

    Backend.create_distribution_with_tags = create_distribution_with_tags
    Backend.update_distribution = update_distribution
    Backend.delete_distribution = delete_distribution


# --------------------------------------------------------------------------
# SSM (M1)
# --------------------------------------------------------------------------

def patch_ssm() -> None:
    from moto.ssm.models import SimpleSystemManagerBackend as Backend

    # One lock for every account and region: moto's PutParameter checks "exists" and appends
    # the new version in two steps, so two concurrent creates with Overwrite=false could both
    # succeed. SSM's conditional create is atomic: exactly one wins, the other gets
    # ParameterAlreadyExists (ballast's stack lock depends on it).
    ssm_lock = threading.Lock()
    orig_put, orig_delete = Backend.put_parameter, Backend.delete_parameter

    def put_parameter(self, *args, **kwargs):
        """M1: PutParameter and DeleteParameter are atomic."""
        with ssm_lock:
            return orig_put(self, *args, **kwargs)

    def delete_parameter(self, *args, **kwargs):
        with ssm_lock:
            return orig_delete(self, *args, **kwargs)

    Backend.put_parameter, Backend.delete_parameter = put_parameter, delete_parameter


def patch_logs() -> None:
    from moto.logs.models import LogsBackend as Backend

    orig_delete = Backend.delete_log_group

    def delete_log_group(self, log_group_name: str) -> None:
        """W1: a deleted log group's tags go with it (a group made again starts untagged)."""
        group = self.groups.get(log_group_name)
        orig_delete(self, log_group_name)
        if group is not None:
            self.tagger.delete_all_tags_for_resource(group.arn)

    Backend.delete_log_group = delete_log_group


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing to bind a non-loopback address")
    os.environ.setdefault("MOTO_PORT", str(args.port))

    patch_ec2()
    patch_ecs()
    patch_elbv2()
    patch_application_autoscaling()
    patch_cloudwatch()
    patch_sns()
    patch_route53()
    patch_s3()
    patch_cloudfront()
    patch_ssm()
    patch_logs()
    app = Shim(CborToJson(DomainDispatcherApplication(create_backend_app)), delay_ms=args.delay_ms)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
