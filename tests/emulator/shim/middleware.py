"""The shim: a WSGI middleware in front of moto's server app that counts every AWS call, adds
latency, injects faults and serves the /_shim/ control endpoints (tests/emulator/server.py lists
them; tests/emulator/README.md, "Shim endpoints")."""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid

from calls import CallLog  # (shared with proxy.py: counts and classifies alike)
from calls import identify as identify_call
from calls import is_write
from consistency import Consistency  # (POST /_shim/consistency)

from . import registry
from .cbor import is_cbor_request, respond_cbor_error
from .patches.ecs import ROLLOUT, current_rollout
from .patches.route53 import R53_FORCED_HEALTH, r53_backends, r53_find_health_check, r53_health
from .patches.sns import sns_confirm
from .wsgi import load_json, read_body, respond, respond_json, xml_escape


# The access key id a request is signed with (SigV4 `Credential=<key>/<date>/...`).
CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/")


class Scope:
    """What one client of the shim sees and sets: its calls, faults, latency, freeze, throttle,
    consistency mode and how its ECS rollouts end. A test signs its calls with an access key id
    of its own and names it in the `X-Shim-Scope` header of its /_shim/ calls, so tests that
    share one emulator run at once without seeing each other's counts or switches. Calls of a
    key no /_shim/ call named (and /_shim/ calls without the header) share the default scope."""

    def __init__(self, delay_ms: int = 0):
        self.log = CallLog()
        self.faults: list[dict] = []
        # AWS calls received and not yet answered (a killed client's calls still land).
        self.in_flight = 0
        # POST /_shim/freeze {"after_writes": k}: the first k writes pass, then every call
        # waits (the client looks hung: a test kills it) until DELETE /_shim/freeze, and is
        # then answered 503 without reaching moto. A kill after exactly k writes.
        self.freeze: dict | None = None
        # POST /_shim/throttle {"rate": r, "seed": n}: each AWS call is throttled with
        # probability r, in its service's own error shape (see throttle_fault).
        self.throttle: dict | None = None
        self.delay_ms = delay_ms
        self.consistency = Consistency()
        # POST /_shim/rollout: how the ECS deployments this scope's calls create end (E2).
        self.rollout = dict(ROLLOUT)


class Shim:
    def __init__(self, app, delay_ms: int = 0):
        self.app = app
        self.lock = threading.Lock()
        self.thawed = threading.Condition(self.lock)
        self.default = Scope(delay_ms)
        self.scopes: dict[str, Scope] = {}

    def scope_of_call(self, environ) -> Scope:
        m = CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
        with self.lock:
            return self.scopes.get(m.group(1), self.default) if m else self.default

    def scope_of_control(self, environ) -> Scope:
        key = environ.get("HTTP_X_SHIM_SCOPE", "").strip()
        if not key:
            return self.default
        with self.lock:
            return self.scopes.setdefault(key, Scope())

    # -- WSGI entry point --------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_shim/"):
            return self.control(environ, start_response, path, self.scope_of_control(environ))
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)

        sc = self.scope_of_call(environ)
        body = read_body(environ)
        service, op = identify(environ, body)
        sc.log.record(service, op)
        with self.lock:
            if self.held(sc, op):
                return respond(start_response, 503, "frozen by /_shim/freeze", "text/plain")
            fault = self.take_fault(sc, service, op)
            t = sc.throttle
            if fault is None and t is not None and t["rng"].random() < t["rate"]:
                t["throttled"] += 1
                fault = throttle_fault(environ, service)
            delay = sc.delay_ms
            sc.in_flight += 1
        try:
            fault, call = sc.consistency.before(environ, service, op, body, fault)
            if delay > 0:
                time.sleep(delay / 1000.0)
            if fault is not None:
                return render_fault(environ, service, fault, start_response)
            with current_rollout(sc.rollout):
                return sc.consistency.after(call, self.app, environ, start_response)
        finally:
            with self.lock:
                sc.in_flight -= 1

    def held(self, sc: Scope, op: str) -> bool:
        """With the lock held: whether this call is frozen (it then waits until thawed)."""
        f = sc.freeze
        if f is None:
            return False
        if not f["frozen"]:
            if is_write(op):
                f["passed"] += 1
                f["frozen"] = f["passed"] >= f["after_writes"]
            return False
        f["waiting"] += 1
        while sc.freeze is f:
            self.thawed.wait(timeout=1.0)
        return True

    @staticmethod
    def take_fault(sc: Scope, service: str, op: str):
        for f in sc.faults:
            if f["op"] == op and f.get("service") in (None, service):
                f["count"] -= 1
                if f["count"] <= 0:
                    sc.faults.remove(f)
                return f
        return None

    # -- /_shim/ control endpoints -----------------------------------------
    def control(self, environ, start_response, path, sc: Scope):
        method = environ.get("REQUEST_METHOD", "GET")
        name = path[len("/_shim/"):].strip("/")
        if name == "health":
            return respond(start_response, 200, "ok", "text/plain")
        if name == "scope" and method == "DELETE":
            # The test is over: forget its scope (its calls still in flight, if any, end in the
            # default scope's counts); calls it froze are let go.
            key = environ.get("HTTP_X_SHIM_SCOPE", "").strip()
            with self.lock:
                self.scopes.pop(key, None)
                sc.freeze = None
                self.thawed.notify_all()
            return respond_json(start_response, {"ok": True})
        if name == "patches" and method == "GET":
            return respond_json(start_response, registry.as_json())
        if name == "stats" and method == "GET":
            with self.lock:
                in_flight = sc.in_flight
            return respond_json(start_response, {**sc.log.stats(), "in_flight": in_flight})
        if name == "reset" and method == "POST":
            sc.log.reset()
            return respond_json(start_response, {"ok": True})
        if name == "delay" and method == "GET":
            return respond_json(start_response, {"ms": sc.delay_ms})
        if name == "delay" and method == "POST":
            try:
                ms = int(load_json(environ).get("ms", 0))
            except (ValueError, TypeError, AttributeError) as e:
                return respond(start_response, 400, f"bad delay: {e}", "text/plain")
            with self.lock:
                sc.delay_ms = max(ms, 0)
            return respond_json(start_response, {"ms": sc.delay_ms})
        if name == "rollout" and method == "POST":
            spec = load_json(environ) or {}
            state = str(spec.get("state", "COMPLETED"))
            if state not in ("COMPLETED", "FAILED", "IN_PROGRESS"):
                return respond(start_response, 400, f"bad rollout state {state}", "text/plain")
            with self.lock:
                sc.rollout["state"], sc.rollout["reason"] = state, spec.get("reason")
            return respond_json(start_response, dict(sc.rollout))
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
                sc.throttle = {"rate": rate, "rng": random.Random(spec.get("seed")), "throttled": 0}
            return respond_json(start_response, {"rate": rate})
        if name == "throttle" and method == "GET":
            with self.lock:
                t = sc.throttle or {}
                return respond_json(start_response, {"rate": t.get("rate", 0.0), "throttled": t.get("throttled", 0)})
        if name == "throttle" and method == "DELETE":
            with self.lock:
                t, sc.throttle = sc.throttle, None
            return respond_json(start_response, {"throttled": (t or {}).get("throttled", 0)})
        if name == "consistency":
            status, text = sc.consistency.control(method, read_body(environ))
            return respond(start_response, status, text, "application/json")
        if name == "freeze" and method == "POST":
            try:
                k = int((load_json(environ) or {})["after_writes"])
                if k < 0:
                    raise ValueError("after_writes must be >= 0")
            except (KeyError, ValueError, TypeError, AttributeError) as e:
                return respond(start_response, 400, f"bad freeze: {e!r}", "text/plain")
            with self.lock:
                sc.freeze = {"after_writes": k, "passed": 0, "frozen": k == 0, "waiting": 0}
                return respond_json(start_response, dict(sc.freeze))
        if name == "freeze" and method == "GET":
            with self.lock:
                return respond_json(start_response, dict(sc.freeze or {}))
        if name == "freeze" and method == "DELETE":
            with self.lock:
                sc.freeze = None
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
                sc.faults.append(fault)
            return respond_json(start_response, fault)
        if name == "faults" and method == "GET":
            with self.lock:
                return respond_json(start_response, list(sc.faults))
        if name == "faults" and method == "DELETE":
            with self.lock:
                sc.faults.clear()
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
