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
  GET /_shim/faults    -> pending faults;  DELETE /_shim/faults -> clear them

FIDELITY PATCHES -- where moto 5.2.5 differs from real AWS in ways ballast
relies on. Each is a small wrapper around a moto method, applied at startup
(patch_ecs / patch_elbv2 / patch_application_autoscaling); the tag (E1...)
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
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
import time
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
            fault = self.take_fault(service, op)
            delay = self.delay_ms
        if delay > 0:
            time.sleep(delay / 1000.0)
        if fault is not None:
            return render_fault(environ, service, fault, start_response)
        return self.app(environ, start_response)

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
            return respond_json(start_response, self.log.stats())
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


def render_fault(environ, service: str, fault: dict, start_response):
    code, message, status = fault["code"], fault["message"], fault["status"]
    request_id = str(uuid.uuid4())
    if environ.get("HTTP_X_AMZ_TARGET"):
        ctype = environ.get("CONTENT_TYPE", "")
        if not ctype.startswith("application/x-amz-json"):
            ctype = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message})
        return respond(start_response, status, body, ctype, [("x-amzn-RequestId", request_id)])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing to bind a non-loopback address")
    os.environ.setdefault("MOTO_PORT", str(args.port))

    patch_ecs()
    patch_elbv2()
    patch_application_autoscaling()
    app = Shim(DomainDispatcherApplication(create_backend_app), delay_ms=args.delay_ms)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
