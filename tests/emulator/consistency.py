"""Consistency mode of the moto shim: answers as real AWS does while new resources propagate.

POST /_shim/consistency {"first_uses": N, "rate": r, "seed": s, "listing_lag_s": t,
"delete_conflicts": k} turns it on (every field optional), GET shows it with its counters,
DELETE turns it off and forgets what it tracked (see tests/emulator/README.md, "Consistency
mode"). moto itself is consistent at once; AWS is not, and a deploy that works on moto can fail
on AWS at the first call that names a resource made a moment ago. This mode makes moto fail
the same way:

  * first-use faults: after a create succeeds, the ids it made (ids, names, ARNs) are tracked.
    The first `first_uses` requests of each using service that name such an id (other than
    the request that made it) are answered with the error AWS gives while the id propagates
    (InvalidVpcID.NotFound, NoSuchEntity, ClusterNotFoundException, ...), in that service's own
    protocol, without reaching moto. `rate` < 1: each new id is faulted with that probability.
    Deletes are never answered NotFound (a client takes that as done: it would hide a leak).
  * delete conflicts: the first `delete_conflicts` IAM DeleteRole calls of each role answer
    DeleteConflict, the first Logs DeleteLogGroup calls of each group OperationAborted.
  * listing lag: listings (Describe*/List* not given the item's own id) omit every item whose
    own fields hold a tracked id younger than `listing_lag_s`.

Server side: Shim.__call__ calls `before` (the request: which fault, if any) and `after` (the
response: which ids a create made, which listing items to omit). moto is read only to tell
whether an upsert (CreateCluster, PutMetricAlarm, RegisterScalableTarget, ...) made something new.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import unescape

CREDENTIAL_RE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")
INDEX_RE = re.compile(r"\.(?:member\.)?\d+")
LOG_GROUP_ARN_RE = re.compile(r"^arn:[^:]+:logs:[^:]*:[^:]*:log-group:(.+?)(?::\*)?$")
TG_ARN_RE = re.compile(r"^arn:[^:]+:elasticloadbalancing:[^:]*:[^:]*:targetgroup/")
TAG_RE = re.compile(r"<(/?)([A-Za-z_][\w.:-]*)((?:\s[^>]*?)?)(/?)>")
DELETE_PREFIXES = ("Delete", "Deregister", "Detach", "Disassociate", "Remove", "Revoke", "Release")
LOG_MAX = 1000

# --------------------------------------------------------------------------------------------
# What is tracked, and what AWS answers a use of it while it propagates
# --------------------------------------------------------------------------------------------


def ec2_kind(code: str, message: str, deleter: str) -> dict:
    return {"service": "ec2", "ops": None, "keys": None, "code": code, "status": 400,
            "message": message, "deleters": {("ec2", deleter)}}


# kind -> service whose requests use it; ops that are uses (None: every op but the creator);
# keys: the parameters that name it (None: any parameter but EC2 filters and template data);
# the fault; the calls that delete it (a tracked id is forgotten when one of them succeeds).
KINDS: dict[str, dict] = {
    "vpc": ec2_kind("InvalidVpcID.NotFound", "The vpc ID '{id}' does not exist", "DeleteVpc"),
    "subnet": ec2_kind("InvalidSubnetID.NotFound", "The subnet ID '{id}' does not exist",
                       "DeleteSubnet"),
    "security-group": ec2_kind("InvalidGroup.NotFound", "The security group '{id}' does not exist",
                               "DeleteSecurityGroup"),
    "internet-gateway": ec2_kind("InvalidInternetGatewayID.NotFound",
                                 "The internetGateway ID '{id}' does not exist",
                                 "DeleteInternetGateway"),
    "route-table": ec2_kind("InvalidRouteTableID.NotFound", "The routeTable ID '{id}' does not exist",
                            "DeleteRouteTable"),
    "launch-template": ec2_kind("InvalidLaunchTemplateId.NotFound",
                                "The specified launch template, with template ID {id}, does not exist.",
                                "DeleteLaunchTemplate"),
    "nat-gateway": ec2_kind("NatGatewayNotFound", "The Nat Gateway {id} was not found",
                            "DeleteNatGateway"),
    "elastic-ip": ec2_kind("InvalidAllocationID.NotFound", "The allocation ID '{id}' does not exist",
                           "ReleaseAddress"),
    "vpc-endpoint": ec2_kind("InvalidVpcEndpointId.NotFound",
                             "The Vpc Endpoint Id '{id}' does not exist", "DeleteVpcEndpoints"),
    "flow-log": ec2_kind("InvalidFlowLogId.NotFound", "The flow log ID '{id}' does not exist",
                         "DeleteFlowLogs"),
    # VPC Flow Logs cannot yet assume a role made a moment ago (terraform-provider-aws#29323).
    "flow-log-role": {"service": "ec2", "ops": {"CreateFlowLogs"}, "keys": {"DeliverLogsPermissionArn"},
                      "code": "InvalidParameter", "status": 400,
                      "message": "Unable to assume given IAM role: '{id}'",
                      "deleters": {("iam", "DeleteRole")}},
    "role": {"service": "iam", "ops": None, "keys": {"RoleName"}, "code": "NoSuchEntity",
             "status": 404, "message": "The role with name {id} cannot be found.",
             "deleters": {("iam", "DeleteRole")}},
    "role-arn": {"service": "ecs", "ops": {"RegisterTaskDefinition"},
                 "keys": {"executionRoleArn", "taskRoleArn"}, "code": "ClientException", "status": 400,
                 "message": "ECS was unable to assume the role '{id}' that was provided for this task. "
                            "Please verify that the role being passed has the proper trust relationship "
                            "and permissions and that your IAM user has permissions to pass this role.",
                 "deleters": {("iam", "DeleteRole")}},
    "instance-profile": {"service": "iam", "ops": None, "keys": {"InstanceProfileName"},
                         "code": "NoSuchEntity", "status": 404,
                         "message": "Instance Profile {id} cannot be found.",
                         "deleters": {("iam", "DeleteInstanceProfile")}},
    "cluster": {"service": "ecs", "ops": {"CreateService", "UpdateService",
                                          "PutClusterCapacityProviders", "TagResource"},
                "keys": {"cluster", "resourceArn"}, "code": "ClusterNotFoundException", "status": 400,
                "message": "Cluster not found.", "deleters": {("ecs", "DeleteCluster")}},
    "target-group-for-ecs": {
        "service": "ecs", "ops": {"CreateService", "UpdateService"}, "keys": {"targetGroupArn"},
        "code": "InvalidParameterException", "status": 400,
        "message": "The target group with targetGroupArn {id} does not have an associated load balancer.",
        "deleters": {("elasticloadbalancing", "DeleteTargetGroup")}},
    "service-resource-id": {
        "service": "application-autoscaling", "ops": {"RegisterScalableTarget"}, "keys": {"ResourceId"},
        "code": "ValidationException", "status": 400, "message": "ECS service doesn't exist: {id}",
        "deleters": {("ecs", "DeleteService")}},
    "service": {"deleters": {("ecs", "DeleteService")}},
    "scalable-target": {
        "service": "application-autoscaling", "ops": {"PutScalingPolicy", "PutScheduledAction"},
        "keys": {"ResourceId"}, "code": "ObjectNotFoundException", "status": 400,
        "message": "No scalable target registered for service namespace: {ServiceNamespace}, "
                   "resource ID: {id}, scalable dimension: {ScalableDimension}",
        "deleters": {("application-autoscaling", "DeregisterScalableTarget")}},
    "log-group": {"service": "logs", "ops": {"PutRetentionPolicy", "TagResource", "TagLogGroup"},
                  "keys": {"logGroupName", "resourceArn", "logGroupIdentifier"},
                  "code": "ResourceNotFoundException", "status": 400,
                  "message": "The specified log group does not exist.",
                  "deleters": {("logs", "DeleteLogGroup")}},
    "health-check": {"service": "route53", "ops": {"ChangeTagsForResource"}, "keys": {"path"},
                     "code": "NoSuchHealthCheck", "status": 404,
                     "message": "A health check with id {id} does not exist.",
                     "deleters": {("route53", "DeleteHealthCheck")}},
    # A Cloud Map namespace: Cloud Map's own reads of it, and ECS Service Connect naming it.
    "namespace": {"service": "servicediscovery", "ops": {"GetNamespace"}, "keys": {"Id"},
                  "code": "NamespaceNotFound", "status": 400, "message": "Namespace not found: {id}",
                  "deleters": {("servicediscovery", "DeleteNamespace")}},
    "namespace-arn": {"service": "ecs", "ops": {"CreateService", "UpdateService"},
                      "keys": {"namespace"}, "code": "NamespaceNotFoundException", "status": 400,
                      "message": "The specified namespace was not found.",
                      "deleters": {("servicediscovery", "DeleteNamespace")}},
    "bucket": {"service": "s3", "ops": None, "keys": {"Bucket"}, "code": "NoSuchBucket",
               "status": 404, "message": "The specified bucket does not exist",
               "deleters": {("s3", "DeleteBucket")}},
    # ELB checks that it may write to a new access-log bucket; its policy is not seen at once.
    "bucket-for-elb": {"service": "elasticloadbalancing", "ops": {"ModifyLoadBalancerAttributes"},
                       "keys": None, "code": "InvalidConfigurationRequest", "status": 400,
                       "message": "Access Denied for bucket: {id}. Please check S3bucket permission",
                       "deleters": {("s3", "DeleteBucket")}},
    # AWS WAF cannot yet see a web ACL or load balancer made a moment ago (AssociateWebACL;
    # terraform-provider-aws retries WAFUnavailableEntityException for 5 minutes).
    "web-acl": {"service": "wafv2", "ops": {"AssociateWebACL"}, "keys": {"WebACLArn"},
                "code": "WAFUnavailableEntityException", "status": 400,
                "message": "AWS WAF couldn’t retrieve the resource that you requested. Retry your request.",
                "deleters": {("wafv2", "DeleteWebACL")}},
    "load-balancer-for-waf": {"service": "wafv2", "ops": {"AssociateWebACL"}, "keys": {"ResourceArn"},
                              "code": "WAFUnavailableEntityException", "status": 400,
                              "message": "AWS WAF couldn’t retrieve the resource that you requested. "
                                         "Retry your request.",
                              "deleters": {("elasticloadbalancing", "DeleteLoadBalancer")}},
    # Tracked for the listing lag only.
    "task-definition": {"deleters": {("ecs", "DeregisterTaskDefinition")}},
    "load-balancer": {"deleters": {("elasticloadbalancing", "DeleteLoadBalancer")}},
    "target-group": {"deleters": {("elasticloadbalancing", "DeleteTargetGroup")}},
    "listener": {"deleters": {("elasticloadbalancing", "DeleteListener")}},
    "topic": {"deleters": {("sns", "DeleteTopic")}},
    "alarm": {"deleters": {("monitoring", "DeleteAlarms")}},
    "dashboard": {"deleters": {("monitoring", "DeleteDashboards")}},
    "distribution": {"deleters": {("cloudfront", "DeleteDistribution")}},
}

# The fault answered while faults are on, before any other: ECS's first CreateCluster in an
# account makes the ECS service-linked role, which takes a moment to be assumable.
SLR_FAULT = {"code": "InvalidParameterException", "status": 400,
             "message": "Unable to assume the service linked role. Please verify that the ECS "
                        "service linked role exists."}
DELETE_CONFLICTS = {
    ("iam", "DeleteRole"): ("RoleName", {
        "code": "DeleteConflict", "status": 409,
        "message": "Cannot delete entity, must detach all policies first."}),
    ("logs", "DeleteLogGroup"): ("logGroupName", {
        "code": "OperationAbortedException", "status": 400,
        "message": "A conflicting operation is currently in progress against this resource. "
                   "Please try again."}),
}


def xml_first(body: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}>([^<]+)</{tag}>", body)
    return unescape(m.group(1)).strip() if m else None


def json_path(doc, *keys):
    for k in keys:
        doc = doc.get(k) if isinstance(doc, dict) else None
    return doc if isinstance(doc, str) else None


def last_segment(value: str | None) -> str | None:
    return value.rsplit("/", 1)[-1] if value else None


def ecs_service_rid(cluster: str | None, service: str | None) -> str | None:
    """The Application Auto Scaling resource id of an ECS service (names or ARNs given)."""
    if not cluster or not service:
        return None
    return f"service/{last_segment(cluster)}/{last_segment(service)}"


# The request's region, among the parameters a creator gets.
REGION = "__region"


def cloudmap_namespace(region: str | None, operation: str | None) -> list:
    """The namespace a CreateHttpNamespace operation made: its id and ARN (the response holds
    only the operation)."""
    from moto.core import DEFAULT_ACCOUNT_ID as acct
    from moto.servicediscovery.models import servicediscovery_backends
    backend = servicediscovery_backends[acct][region or "us-east-1"]
    op = backend.operations.get(operation or "")
    ns = backend.namespaces.get(op.targets.get("NAMESPACE")) if op else None
    return [("namespace", ns.id), ("namespace-arn", ns.arn)] if ns else []


# (service, op) -> fn(params: dict[key, first value], text response, json response)
#   -> [(kind, id), ...]: the ids the create made (one resource).
def _ec2(kind: str, tag: str):
    return lambda p, text, doc: [(kind, xml_first(text, tag))]


CREATORS = {
    ("ec2", "CreateVpc"): _ec2("vpc", "vpcId"),
    ("ec2", "CreateSubnet"): _ec2("subnet", "subnetId"),
    ("ec2", "CreateSecurityGroup"): _ec2("security-group", "groupId"),
    ("ec2", "CreateInternetGateway"): _ec2("internet-gateway", "internetGatewayId"),
    ("ec2", "CreateRouteTable"): _ec2("route-table", "routeTableId"),
    ("ec2", "CreateLaunchTemplate"): _ec2("launch-template", "launchTemplateId"),
    ("ec2", "CreateNatGateway"): _ec2("nat-gateway", "natGatewayId"),
    ("ec2", "AllocateAddress"): _ec2("elastic-ip", "allocationId"),
    ("ec2", "CreateFlowLogs"): _ec2("flow-log", "item"),
    ("ec2", "CreateVpcEndpoint"): _ec2("vpc-endpoint", "vpcEndpointId"),
    ("iam", "CreateRole"): lambda p, text, doc: [
        ("role", xml_first(text, "RoleName")), ("role-arn", xml_first(text, "Arn")),
        ("flow-log-role", xml_first(text, "Arn"))],
    ("iam", "CreateInstanceProfile"): lambda p, text, doc: [
        ("instance-profile", xml_first(text, "InstanceProfileName"))],
    ("elasticloadbalancing", "CreateLoadBalancer"): lambda p, text, doc: [
        ("load-balancer", xml_first(text, "LoadBalancerArn")),
        ("load-balancer-for-waf", xml_first(text, "LoadBalancerArn"))],
    ("wafv2", "CreateWebACL"): lambda p, text, doc: [("web-acl", json_path(doc, "Summary", "ARN"))],
    ("elasticloadbalancing", "CreateTargetGroup"): lambda p, text, doc: [
        ("target-group", xml_first(text, "TargetGroupArn"))],
    ("elasticloadbalancing", "CreateListener"): lambda p, text, doc: [
        ("listener", xml_first(text, "ListenerArn"))],
    ("ecs", "CreateCluster"): lambda p, text, doc: [
        ("cluster", json_path(doc, "cluster", "clusterName")),
        ("cluster", json_path(doc, "cluster", "clusterArn"))],
    ("ecs", "CreateService"): lambda p, text, doc: [
        ("service", json_path(doc, "service", "serviceArn")),
        ("service-resource-id", ecs_service_rid(json_path(doc, "service", "clusterArn") or p.get("cluster"),
                                                json_path(doc, "service", "serviceName")))],
    ("ecs", "RegisterTaskDefinition"): lambda p, text, doc: [
        ("task-definition", json_path(doc, "taskDefinition", "taskDefinitionArn"))],
    ("logs", "CreateLogGroup"): lambda p, text, doc: [("log-group", p.get("logGroupName"))],
    ("application-autoscaling", "RegisterScalableTarget"): lambda p, text, doc: [
        ("scalable-target", p.get("ResourceId"))],
    ("route53", "CreateHealthCheck"): lambda p, text, doc: [("health-check", xml_first(text, "Id"))],
    ("s3", "CreateBucket"): lambda p, text, doc: [("bucket", p.get("Bucket")),
                                                  ("bucket-for-elb", p.get("Bucket"))],
    ("servicediscovery", "CreateHttpNamespace"): lambda p, text, doc: cloudmap_namespace(
        p.get(REGION), json_path(doc, "OperationId")),
    ("sns", "CreateTopic"): lambda p, text, doc: [("topic", xml_first(text, "TopicArn"))],
    ("monitoring", "PutMetricAlarm"): lambda p, text, doc: [("alarm", p.get("AlarmName"))],
    ("monitoring", "PutCompositeAlarm"): lambda p, text, doc: [("alarm", p.get("AlarmName"))],
    ("monitoring", "PutDashboard"): lambda p, text, doc: [("dashboard", p.get("DashboardName"))],
    ("cloudfront", "CreateDistributionWithTags"): lambda p, text, doc: [
        ("distribution", xml_first(text, "Id")), ("distribution", xml_first(text, "ARN"))],
    ("cloudfront", "CreateDistribution"): lambda p, text, doc: [
        ("distribution", xml_first(text, "Id")), ("distribution", xml_first(text, "ARN"))],
}
# Calls after which a target group a listener or rule forwards to is new for ECS.
FORWARDERS = {("elasticloadbalancing", op) for op in
              ("CreateListener", "CreateRule", "ModifyListener", "ModifyRule")}
DELETERS = {d for k in KINDS.values() for d in k.get("deleters", ())}


def listing(service: str, op: str):
    """(format, XML item element, whether a parameter key names items) of a listing call, or
    None. Items a request names by their own id are a direct read, never omitted."""
    if service == "ec2" and op.startswith("Describe"):
        return "xml", "item", lambda k: not k.startswith(("Filter", "MaxResults", "NextToken"))
    if service == "elasticloadbalancing" and op in (
            "DescribeLoadBalancers", "DescribeTargetGroups", "DescribeListeners", "DescribeRules"):
        return "xml", "member", lambda k: k in (
            "LoadBalancerArns", "Names", "TargetGroupArns", "ListenerArns", "RuleArns")
    if service in ("ecs", "iam", "sns") and op.startswith("List") and op != "ListTagsForResource":
        return ("json" if service == "ecs" else "xml"), "member", lambda k: False
    if service == "logs" and op == "DescribeLogGroups":
        return "json", None, lambda k: k == "logGroupIdentifiers"
    if service == "application-autoscaling" and op.startswith("Describe"):
        return "json", None, lambda k: k in ("ResourceIds", "PolicyNames", "ScheduledActionNames")
    if service == "monitoring" and op in ("DescribeAlarms", "ListDashboards"):
        return "any", "member", lambda k: k == "AlarmNames"
    if service == "route53" and op == "ListHealthChecks":
        return "xml", "HealthCheck", lambda k: False
    if service == "s3" and op == "ListBuckets":
        return "xml", "Bucket", lambda k: False
    if service == "servicediscovery" and op == "ListNamespaces":
        return "json", None, lambda k: False
    if service == "cloudfront" and op == "ListDistributions":
        return "xml", "DistributionSummary", lambda k: False
    return None


# --------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------

def walk(doc, key: str, out: list) -> None:
    if isinstance(doc, dict):
        for k, v in doc.items():
            walk(v, str(k), out)
    elif isinstance(doc, (list, tuple)):
        for v in doc:
            walk(v, key, out)
    elif isinstance(doc, str):
        out.append((key, doc))


def request_values(environ, service: str, body: bytes) -> list[tuple[str, str]]:
    """Every (key, value) the request carries: query/form values (keys without their
    .member.N / .N indexes), JSON or CBOR string values (the key of the member they are in),
    REST path segments (key "path"; S3's first one "Bucket") and query values. Log group ARNs
    also give their name, ECS cluster + service their Application Auto Scaling resource id."""
    out: list[tuple[str, str]] = []
    query = environ.get("QUERY_STRING", "")
    path = environ.get("PATH_INFO", "")
    ctype = environ.get("CONTENT_TYPE", "")
    if environ.get("HTTP_X_AMZ_TARGET") and body.strip():
        walk(json.loads(body), "", out)
    elif path.startswith("/service/") or ctype == "application/cbor":
        if body:
            import cbor2
            walk(cbor2.loads(body), "", out)
    elif service in ("s3", "route53", "cloudfront"):
        segments = [unquote(s) for s in path.split("/") if s]
        out += [("Bucket" if service == "s3" and i == 0 else "path", s) for i, s in enumerate(segments)]
        out += parse_qsl(query, keep_blank_values=False)
    else:
        pairs = parse_qsl(query)
        if "form-urlencoded" in ctype or b"Action=" in body:
            pairs += parse_qsl(body.decode("utf-8", "replace"))
        out += [(INDEX_RE.sub("", k), v) for k, v in pairs]
    if service == "logs":
        out += [(k, m.group(1)) for k, v in list(out) if (m := LOG_GROUP_ARN_RE.match(v))]
    if service == "ecs":
        p = dict(out)
        rid = ecs_service_rid(p.get("cluster"), p.get("service") or p.get("serviceName"))
        if rid:
            out.append(("service-resource-id", rid))
    return out


def region_of(environ) -> str:
    m = CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else "us-east-1"


# --------------------------------------------------------------------------------------------
# What moto holds before an upsert (so an upsert of something that exists tracks nothing)
# --------------------------------------------------------------------------------------------

def moto_existed(service: str, op: str, p: dict, region: str) -> bool:
    try:
        from moto.core import DEFAULT_ACCOUNT_ID as acct
        if (service, op) == ("ecs", "CreateCluster"):
            from moto.ecs.models import ecs_backends
            c = ecs_backends[acct][region].clusters.get(p.get("clusterName") or "default")
            return c is not None and c.status == "ACTIVE"
        if (service, op) == ("sns", "CreateTopic"):
            from moto.sns.models import sns_backends
            return f"arn:aws:sns:{region}:{acct}:{p.get('Name')}" in sns_backends[acct][region].topics
        if (service, op) == ("elasticloadbalancing", "CreateLoadBalancer"):
            from moto.elbv2.models import elbv2_backends
            return any(lb.name == p.get("Name")
                       for lb in elbv2_backends[acct][region].load_balancers.values())
        if (service, op) == ("application-autoscaling", "RegisterScalableTarget"):
            from moto.applicationautoscaling.models import applicationautoscaling_backends as b
            return p.get("ResourceId") in b[acct][region].targets.get(p.get("ScalableDimension"), {})
        if service == "monitoring" and op in ("PutMetricAlarm", "PutCompositeAlarm", "PutDashboard"):
            from moto.cloudwatch.models import cloudwatch_backends
            backend = cloudwatch_backends[acct][region]
            if op == "PutDashboard":
                return p.get("DashboardName") in backend.dashboards
            return p.get("AlarmName") in backend.alarms
        if (service, op) == ("s3", "CreateBucket"):
            from moto.s3.models import s3_backends
            return p.get("Bucket") in s3_backends[acct]["aws"].buckets
    except Exception:  # noqa: BLE001 -- unknown: treat as new
        return False
    return False


def unassociated_target_groups(values: list[tuple[str, str]], region: str) -> set[str]:
    """Target group ARNs the request names that no load balancer forwards to yet."""
    arns = {v for _, v in values if TG_ARN_RE.match(v)}
    if not arns:
        return set()
    try:
        from moto.core import DEFAULT_ACCOUNT_ID as acct
        from moto.elbv2.models import elbv2_backends
        tgs = elbv2_backends[acct][region].target_groups
        return {a for a in arns if a in tgs and not tgs[a].load_balancer_arns}
    except Exception:  # noqa: BLE001
        return set()


# --------------------------------------------------------------------------------------------
# Listing filters
# --------------------------------------------------------------------------------------------

def filter_xml(text: str, item_tag: str, hide) -> tuple[str, list[str]]:
    """Drop each outermost <item_tag> element for which hide(its direct text children) names
    an id. Returns the new text and the ids of the dropped items."""
    stack: list[dict] = []
    cuts: list[tuple[int, int, str]] = []
    for m in TAG_RE.finditer(text):
        closing, name, selfclosing = m.group(1), m.group(2), m.group(4)
        if not closing:
            if stack:
                stack[-1]["children"] = True
            if not selfclosing:
                stack.append({"name": name, "start": m.start(), "inner": m.end(),
                              "children": False, "texts": []})
            continue
        if not stack:
            continue
        frame = stack.pop()
        own = unescape(text[frame["inner"]:m.start()]).strip()
        if not frame["children"] and stack:
            stack[-1]["texts"].append(own)
        if frame["name"] == item_tag and not any(f["name"] == item_tag for f in stack):
            hidden = hide(frame["texts"] or [own])
            if hidden:
                cuts.append((frame["start"], m.end(), hidden))
    if not cuts:
        return text, []
    out, pos = [], 0
    for start, end, _ in cuts:
        out.append(text[pos:start])
        pos = end
    out.append(text[pos:])
    new = "".join(out)
    if item_tag == "DistributionSummary":  # CloudFront counts its items
        kept = new.count("<DistributionSummary>")
        new = re.sub(r"(<DistributionList[^>]*>.*?<Quantity>)\d+(</Quantity>)",
                     lambda mm: f"{mm.group(1)}{kept}{mm.group(2)}", new, count=1, flags=re.S)
    return new, [c[2] for c in cuts]


def filter_doc(doc, hide) -> list[str]:
    """Drop from each top-level list of a JSON (or decoded CBOR) answer the elements for which
    hide(their direct string values) names an id. Returns the ids of the dropped elements."""
    dropped: list[str] = []
    if not isinstance(doc, dict):
        return dropped
    for key, items in doc.items():
        if not isinstance(items, list):
            continue
        kept = []
        for item in items:
            texts = [item] if isinstance(item, str) else (
                [v for v in item.values() if isinstance(v, str)] if isinstance(item, dict) else [])
            hidden = hide(texts)
            if hidden:
                dropped.append(hidden)
            else:
                kept.append(item)
        doc[key] = kept
    return dropped


def cbor_ready(value):
    """Decoded CBOR -> what cbor2 writes back as the shim wrote it (timestamps tag 1 over a
    double, as smithy-rs expects)."""
    import datetime as dt
    import cbor2
    if isinstance(value, dict):
        return {k: cbor_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cbor_ready(v) for v in value]
    if isinstance(value, dt.datetime):
        return cbor2.CBORTag(1, float(value.timestamp()))
    return value


# --------------------------------------------------------------------------------------------
# The mode
# --------------------------------------------------------------------------------------------

class Call:
    """A request the response side looks at (a create, a delete, a listing, a forwarder)."""

    def __init__(self, service, op, values, existed, new_tgs, region):
        self.service, self.op, self.values = service, op, values
        self.existed, self.new_tgs, self.region = existed, new_tgs, region


class Consistency:
    DEFAULTS = {"first_uses": 1, "rate": 1.0, "seed": 1, "listing_lag_s": 0.0, "delete_conflicts": 0}

    def __init__(self):
        self.lock = threading.Lock()
        self.config: dict | None = None
        self.reset_state()

    def reset_state(self) -> None:
        self.entries: dict[str, list[dict]] = {}  # id -> its entries (one per kind)
        self.groups = 0
        self.conflicts: dict[tuple[str, str], int] = {}
        self.faulted = self.hidden = 0
        self.log: list[dict] = []
        self.rng = random.Random((self.config or {}).get("seed"))
        self.slr_pending = bool(self.config and self.config["first_uses"] > 0)

    # -- /_shim/consistency ----------------------------------------------------------------
    def control(self, method: str, body: bytes) -> tuple[int, str]:
        if method == "POST":
            try:
                spec = json.loads(body) if body.strip() else {}
                if not isinstance(spec, dict):
                    raise ValueError("body must be a JSON object")
                unknown = set(spec) - set(self.DEFAULTS)
                if unknown:
                    raise ValueError(f"unknown fields {sorted(unknown)}")
                cfg = {**self.DEFAULTS, **spec}
                cfg = {"first_uses": int(cfg["first_uses"]), "rate": float(cfg["rate"]),
                       "seed": cfg["seed"], "listing_lag_s": float(cfg["listing_lag_s"]),
                       "delete_conflicts": int(cfg["delete_conflicts"])}
                if cfg["first_uses"] < 0 or cfg["delete_conflicts"] < 0 or cfg["listing_lag_s"] < 0:
                    raise ValueError("first_uses, delete_conflicts and listing_lag_s must be >= 0")
                if not 0.0 <= cfg["rate"] <= 1.0:
                    raise ValueError("rate must be in [0, 1]")
            except (ValueError, TypeError) as e:
                return 400, json.dumps({"error": f"bad consistency: {e}"})
            with self.lock:
                self.config = cfg
                self.reset_state()
                return 200, json.dumps(self.view())
        if method == "GET":
            with self.lock:
                return 200, json.dumps(self.view())
        if method == "DELETE":
            with self.lock:
                last = self.view()
                self.config = None
                self.reset_state()
                return 200, json.dumps({**last, "on": False})
        return 405, json.dumps({"error": f"method {method} not allowed"})

    def view(self) -> dict:
        cfg = self.config or {k: (None if k == "seed" else 0) for k in self.DEFAULTS}
        return {"on": self.config is not None, **cfg,
                "tracked": sum(len(v) for v in self.entries.values()),
                "faulted": self.faulted, "hidden": self.hidden, "log": list(self.log)}

    def note(self, service: str, op: str, id_: str, code: str) -> None:
        self.log.append({"service": service, "op": op, "id": id_, "code": code})
        del self.log[:-LOG_MAX]

    # -- request side ------------------------------------------------------------------------
    def before(self, environ, service: str, op: str, body: bytes, fault):
        """(fault, call): the fault to answer instead of moto (the one given if any), and what
        the response side must look at (None: nothing)."""
        if fault is not None or self.config is None:
            return fault, None
        try:
            return self.check(environ, service, op, body)
        except Exception:  # noqa: BLE001 -- bookkeeping never breaks a call
            import traceback
            traceback.print_exc()
            return None, None

    def check(self, environ, service: str, op: str, body: bytes):
        try:
            values = request_values(environ, service, body)
        except Exception:  # noqa: BLE001 -- a body we cannot read names nothing
            values = []
        key = (service, op)
        region = region_of(environ)
        p = dict(values)
        existed = moto_existed(service, op, p, region) if key in CREATORS else False
        new_tgs = unassociated_target_groups(values, region) if key in FORWARDERS else set()
        with self.lock:
            cfg = self.config
            if cfg is None:
                return None, None
            fault = self.special_fault(service, op, p, cfg)
            if fault is None:
                fault = self.first_use_fault(service, op, values, p, cfg)
            if fault is not None:
                self.faulted += 1
                return fault, None
        if key in CREATORS or key in DELETERS or key in FORWARDERS or listing(service, op):
            return None, Call(service, op, values, existed, new_tgs, region)
        return None, None

    def special_fault(self, service, op, p, cfg):
        if (service, op) == ("ecs", "CreateCluster") and self.slr_pending:
            self.slr_pending = False
            self.note(service, op, p.get("clusterName") or "default", SLR_FAULT["code"])
            return dict(SLR_FAULT)
        rule = DELETE_CONFLICTS.get((service, op))
        if rule and cfg["delete_conflicts"] > 0:
            name = p.get(rule[0])
            n = self.conflicts.get((op, name), 0)
            if name and n < cfg["delete_conflicts"]:
                self.conflicts[(op, name)] = n + 1
                self.note(service, op, name, rule[1]["code"])
                return dict(rule[1])
        return None

    def first_use_fault(self, service, op, values, p, cfg):
        if cfg["first_uses"] <= 0:
            return None
        is_delete = op.startswith(DELETE_PREFIXES)
        first = None
        seen: set[int] = set()
        for key, value in values:
            for e in self.entries.get(value, ()):
                kind = KINDS[e["kind"]]
                if id(e) in seen or kind.get("service") != service or not e["faulted"]:
                    continue
                if kind["ops"] is not None and op not in kind["ops"]:
                    continue
                if kind["ops"] is None and op == e["creator"]:
                    continue
                if kind["keys"] is None:
                    if key.startswith(("Filter", "LaunchTemplateData")):
                        continue
                elif key not in kind["keys"]:
                    continue
                seen.add(id(e))
                if e["uses"] >= cfg["first_uses"]:
                    continue
                e["uses"] += 1
                if first is None and not is_delete:
                    first = (e, kind)
        if first is None:
            return None
        e, kind = first
        self.note(service, op, e["id"], kind["code"])
        fault = {"code": kind["code"], "status": kind["status"],
                 "message": kind["message"].format(id=e["id"], **{
                     k: p.get(k, "") for k in ("ServiceNamespace", "ScalableDimension")})}
        if service == "s3":
            fault["bucket"] = e["id"]
        return fault

    # -- response side -----------------------------------------------------------------------
    def after(self, call: Call | None, app, environ, start_response):
        if call is None:
            return app(environ, start_response)
        captured: dict = {}
        written: list[bytes] = []

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, list(headers)
            return written.append

        result = app(environ, capture)
        try:
            body = b"".join(written) + b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = captured["status"], captured["headers"]
        if 200 <= int(status.split()[0]) < 300:
            try:
                body = self.observe(call, body, headers)
            except Exception:  # noqa: BLE001 -- never break a call over bookkeeping
                import traceback
                traceback.print_exc()
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]

    def observe(self, call: Call, body: bytes, headers) -> bytes:
        key = (call.service, call.op)
        ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
        now = time.monotonic()
        with self.lock:
            if self.config is None:
                return body
            if key in DELETERS:
                self.forget(key, call.values)
            if key in CREATORS and not call.existed:
                text = body.decode("utf-8", "replace")
                doc = None
                if text.strip().startswith("{"):
                    doc = json.loads(text)
                params = {**dict(call.values), REGION: call.region}
                made = [(k, v) for k, v in CREATORS[key](params, text, doc) if v]
                self.track(made, call.op, now)
                for name in (v for k, v in made if k in ("role", "log-group")):
                    self.conflicts = {c: n for c, n in self.conflicts.items() if c[1] != name}
            if key in FORWARDERS and call.new_tgs:
                self.track([("target-group-for-ecs", a) for a in sorted(call.new_tgs)], call.op,
                           now, each=True)
            spec = listing(call.service, call.op)
            lag = self.config["listing_lag_s"]
            if spec is None or lag <= 0 or not self.entries:
                return body
            fmt, item_tag, naming = spec
            named = {v for k, v in call.values if naming(k)}

            def hide(texts):
                if any(t in named for t in texts):
                    return None
                for t in texts:
                    if any(now - e["created"] < lag for e in self.entries.get(t, ())):
                        return t
                return None

            if "cbor" in ctype:
                import cbor2
                doc = cbor2.loads(body)
                dropped = filter_doc(doc, hide)
                if dropped:
                    body = cbor2.dumps(cbor_ready(doc))
            elif fmt in ("json", "any") and body.strip().startswith(b"{"):
                doc = json.loads(body)
                dropped = filter_doc(doc, hide)
                if dropped:
                    body = json.dumps(doc).encode()
            elif item_tag:
                text, dropped = filter_xml(body.decode("utf-8"), item_tag, hide)
                if dropped:
                    body = text.encode("utf-8")
            else:
                dropped = []
            self.hidden += len(dropped)
            return body

    def track(self, made, op: str, now: float, each: bool = False) -> None:
        """Record the ids one create made (each=True: each id its own resource)."""
        rate = self.config["rate"]
        group = None
        for kind, value in made:
            if any(e["kind"] == kind for e in self.entries.get(value, ())):
                continue  # an idempotent create of something already tracked
            if group is None or each:
                self.groups += 1
                group = self.groups
            self.entries.setdefault(value, []).append({
                "id": value, "kind": kind, "group": group, "created": now, "creator": op,
                "uses": 0, "faulted": rate >= 1.0 or self.rng.random() < rate})

    def forget(self, key, values) -> None:
        """A delete succeeded: forget the resources it named (names can be made again)."""
        groups = {e["group"] for _, v in values for e in self.entries.get(v, ())
                  if key in KINDS[e["kind"]].get("deleters", ())}
        if not groups:
            return
        for v in list(self.entries):
            kept = [e for e in self.entries[v] if e["group"] not in groups]
            if kept:
                self.entries[v] = kept
            else:
                del self.entries[v]
