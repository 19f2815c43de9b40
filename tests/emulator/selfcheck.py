#!/usr/bin/env python3
"""Fast self-check of a running emulator: the /_shim/ features and every fidelity patch.

Usage: .venv/bin/python tests/emulator/selfcheck.py [--endpoint URL]
(default endpoint: $AWS_ENDPOINT_URL, else http://127.0.0.1:$BALLAST_EMULATOR_PORT or 4599)

Works in its own region (ap-southeast-2) with unique names, so it does not touch
test resources, but it resets the /_shim/stats counters: run it before tests,
not concurrently with them. Exits 1 if any check fails. A check named "E1 ..." checks patch E1:
the last check is that GET /_shim/patches (the registry) lists every patch checked here.
"""

import argparse
import datetime as dt
import json
import os
import re
import struct
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3
import cbor2
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REGION = "ap-southeast-2"
FAILURES: list[str] = []
CHECKED: list[str] = []  # every check's name, passed or not
PATCH_CHECK_RE = re.compile(r"^([A-Z][0-9]+) ")  # "E1 deploymentConfiguration": patch E1


def check(cond, what: str) -> None:
    CHECKED.append(what)
    if not cond:
        FAILURES.append(what)
        print(f"FAIL {what}", file=sys.stderr)


def error_of(fn) -> tuple[str, int] | None:
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None


def rust_cbor(value) -> bytes:
    """CBOR the way aws-sdk-cloudwatch (smithy-rs, minicbor) writes an input: structures as
    indefinite-length maps, lists with a definite length, every double as float64, timestamps
    as tag 1 over a float64."""
    if isinstance(value, dict):
        return b"\xbf" + b"".join(rust_cbor(k) + rust_cbor(v) for k, v in value.items()) + b"\xff"
    if isinstance(value, list):
        n = len(value)
        head = bytes([0x80 + n]) if n < 24 else b"\x98" + bytes([n])
        return head + b"".join(rust_cbor(v) for v in value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, dt.datetime):
        return b"\xc1\xfb" + struct.pack(">d", value.timestamp())
    return cbor2.dumps(value)  # str, int, bool: minimal encodings, like minicbor


class CborClient:
    """A CloudWatch rpc-v2-cbor client with the Rust SDK's request shape and SigV4 headers."""

    def __init__(self, endpoint: str, key: str = "testing", secret: str = "testing"):
        self.endpoint = endpoint
        self.creds = Credentials(key, secret)

    def call(self, op: str, params) -> tuple[int, dict, bytes]:
        body = b"" if params is None else rust_cbor(params)
        headers = {"smithy-protocol": "rpc-v2-cbor", "Accept": "application/cbor",
                   "x-amzn-query-mode": "true"}
        if body:
            headers["Content-Type"] = "application/cbor"
        url = f"{self.endpoint}/service/GraniteServiceVersion20100801/operation/{op}"
        req = AWSRequest(method="POST", url=url, data=body, headers=headers)
        SigV4Auth(self.creds, "monitoring", REGION).add_auth(req)
        http = urllib.request.Request(url, data=body, headers=dict(req.headers.items()), method="POST")
        try:
            with urllib.request.urlopen(http, timeout=10) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def main() -> int:
    default = os.environ.get("AWS_ENDPOINT_URL") or (
        f"http://127.0.0.1:{os.environ.get('BALLAST_EMULATOR_PORT', '4599')}")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", default=default)
    endpoint = ap.parse_args().endpoint.rstrip("/")

    def shim(path, body=None, method=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{endpoint}/_shim/{path}", data=data,
                                     method=method or ("POST" if data else "GET"))
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
        return text if path == "health" else json.loads(text)

    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
              aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}))
    ec2, elb, ecs, iam, logs, aas = (boto3.client(s, **kw) for s in (
        "ec2", "elbv2", "ecs", "iam", "logs", "application-autoscaling"))
    u = uuid.uuid4().hex[:8]
    started = time.monotonic()

    # --- shim: health, stats, faults, delay --------------------------------
    check(shim("health") == "ok", "health")
    shim("reset", {})
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "selfcheck", "Value": u}]}])["Vpc"]["VpcId"]
    ec2.describe_vpcs(Filters=[{"Name": "tag:selfcheck", "Values": [u]}])
    ecs.list_clusters()
    elb.describe_load_balancers()
    stats = shim("stats")
    # Each call has its arrival time ("t", monotonic seconds, in order); the rest is compared.
    times = [c.pop("t") for c in stats["calls"]]
    check(times == sorted(times) and all(isinstance(t, float) for t in times), f"times: {times}")
    check(stats["calls"] == [
        {"service": "ec2", "op": "CreateVpc", "write": True},
        {"service": "ec2", "op": "DescribeVpcs", "write": False},
        {"service": "ecs", "op": "ListClusters", "write": False},
        {"service": "elasticloadbalancing", "op": "DescribeLoadBalancers", "write": False},
    ] and (stats["total"], stats["writes"], stats["reads"]) == (4, 1, 3), f"stats: {stats}")
    check(stats["in_flight"] == 0, f"nothing in flight once answered: {stats}")

    for op in ("CreateCluster", "CreateRole", "CreateSubnet"):
        shim("faults", {"op": op, "count": 2, "status": 400, "code": "ThrottlingException",
                        "message": "Rate exceeded"})
    for name, fn in [
        ("json", lambda: ecs.create_cluster(clusterName=f"f-{u}")),
        ("query", lambda: iam.create_role(RoleName=f"f-{u}", AssumeRolePolicyDocument="{}")),
        ("ec2", lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.9.0/24")),
    ]:
        check(error_of(fn) == ("ThrottlingException", 400), f"fault ({name} protocol)")
    check(len(shim("faults")) == 3, "fault count decrements")
    shim("faults", method="DELETE")
    check(shim("faults") == [] and error_of(lambda: ecs.list_clusters()) is None, "faults cleared")
    check(shim("stats")["total"] == 8, "injected failures are counted")

    old_delay = shim("delay")["ms"]
    shim("delay", {"ms": 150})
    t = time.monotonic()
    ecs.list_clusters()
    check(time.monotonic() - t >= 0.15, "delay")
    shim("delay", {"ms": old_delay})

    # --- shim: scopes (a test's own counts, faults and rollouts) -------------
    def scoped(key, path, body=None, method=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{endpoint}/_shim/{path}", data=data, headers={"X-Shim-Scope": key},
                                     method=method or ("POST" if data else "GET"))
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())

    ka, kb = f"AKIDSA{u}".upper(), f"AKIDSB{u}".upper()
    ecs_a, ecs_b = (boto3.client("ecs", **{**kw, "aws_access_key_id": k}) for k in (ka, kb))
    shim("reset", {})
    scoped(ka, "reset", {})
    scoped(kb, "reset", {})
    scoped(ka, "faults", {"op": "ListClusters", "count": 1, "code": "ThrottlingException"})
    scoped(ka, "rollout", {"state": "FAILED", "reason": "scoped"})
    check(error_of(lambda: ecs_b.list_clusters()) is None, "scopes: B does not get A's fault")
    check(error_of(lambda: ecs_a.list_clusters()) == ("ThrottlingException", 400), "scopes: A gets its fault")
    ecs_b.list_clusters()
    ops = lambda st: [c["op"] for c in st["calls"]]  # noqa: E731
    check(ops(scoped(ka, "stats")) == ["ListClusters"] and ops(scoped(kb, "stats")) == ["ListClusters"] * 2
          and shim("stats")["total"] == 0, "scopes: each key's calls counted in its own scope only")
    check(shim("faults") == [] and shim("rollout", {"state": "COMPLETED"})["state"] == "COMPLETED"
          and scoped(ka, "rollout", {"state": "FAILED", "reason": "scoped"})["state"] == "FAILED",
          "scopes: switches are per scope")
    scoped(ka, "scope", method="DELETE")
    scoped(kb, "scope", method="DELETE")
    ecs_a.list_clusters()
    check(shim("stats")["total"] == 1, "scopes: a deleted scope's key counts in the default scope")

    # --- IAM: managed policies loaded ----------------------------------------
    iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")

    # --- ECS ----------------------------------------------------------------
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"sg-{u}", Description="x", VpcId=vpc)["GroupId"]
    cluster = f"c-{u}"
    ecs.create_cluster(clusterName=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"],
                       defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    td = {"family": f"td-{u}", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
          "cpu": "256", "memory": "512", "tags": [{"key": "selfcheck", "value": u}],
          "containerDefinitions": [{"name": "web", "image": "nginx", "essential": True}]}
    td1 = ecs.register_task_definition(**td)
    check(td1.get("tags") == td["tags"], "E6 RegisterTaskDefinition returns tags")
    td2 = ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"]
    dc = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}, "maximumPercent": 200,
          "minimumHealthyPercent": 50, "alarms": {"alarmNames": ["a"], "enable": True, "rollback": True}}
    cps = [{"capacityProvider": "FARGATE", "weight": 1, "base": 1},
           {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0}]
    net = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg], "assignPublicIp": "ENABLED"}}
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=td1["taskDefinition"]["taskDefinitionArn"],
                       desiredCount=2, deploymentConfiguration=dc, capacityProviderStrategy=cps,
                       healthCheckGracePeriodSeconds=30, enableExecuteCommand=True, platformVersion="1.4.0",
                       propagateTags="SERVICE", networkConfiguration=net, tags=[{"key": "selfcheck", "value": u}])

    def describe(name="web"):
        return ecs.describe_services(cluster=cluster, services=[name], include=["TAGS"])["services"][0]

    s = describe()
    d = s["deployments"]
    check(s["deploymentConfiguration"] == dc, "E1 deploymentConfiguration")
    check(s["capacityProviderStrategy"] == cps and "launchType" not in s, "E1 capacityProviderStrategy")
    check(s.get("healthCheckGracePeriodSeconds") == 30 and s.get("enableExecuteCommand") is True, "E1 grace/exec")
    check((s["platformVersion"], s["propagateTags"], s["networkConfiguration"]) == ("1.4.0", "SERVICE", net),
          "platformVersion/propagateTags/networkConfiguration")
    check(s["tags"] == [{"key": "selfcheck", "value": u}], "DescribeServices include=TAGS")
    check(ecs.list_tags_for_resource(resourceArn=s["serviceArn"])["tags"] == s["tags"], "ListTagsForResource")
    check((s["runningCount"], s["pendingCount"]) == (2, 0) and len(d) == 1
          and (d[0]["status"], d[0]["rolloutState"], d[0]["runningCount"]) == ("PRIMARY", "COMPLETED", 2)
          and d[0]["id"].startswith("ecs-svc/"), "E2 steady after create")
    check(error_of(lambda: ecs.create_service(cluster=cluster, serviceName="web", desiredCount=1))
          == ("InvalidParameterException", 400), "E3 duplicate CreateService")

    s2 = ecs.update_service(cluster=cluster, service="web", desiredCount=3,
                            deploymentConfiguration={"minimumHealthyPercent": 100})["service"]
    check(s2["deployments"][0]["id"] == d[0]["id"] and s2["runningCount"] == 3
          and s2["deployments"][0]["runningCount"] == 3, "E2 scale keeps deployment")
    check(s2["deploymentConfiguration"] == {**dc, "minimumHealthyPercent": 100}, "E1 update merges deploymentConfiguration")
    s3 = ecs.update_service(cluster=cluster, service="web", taskDefinition=f"td-{u}")["service"]
    check(s3["taskDefinition"] == td2 and s3["deployments"][0]["taskDefinition"] == td2, "E1 update taskDefinition -> ARN")
    check(len(s3["deployments"]) == 1 and s3["deployments"][0]["id"] != d[0]["id"]
          and s3["deployments"][0]["rolloutState"] == "COMPLETED", "E2 new deployment on new taskDefinition")

    ecs.create_service(cluster=cluster, serviceName="dflt", taskDefinition=td2, desiredCount=1, networkConfiguration=net)
    s4 = describe("dflt")
    check(s4["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
          and "launchType" not in s4, "E1 cluster default capacity provider strategy")
    check(s4["deploymentConfiguration"]["maximumPercent"] == 200, "E1 default deploymentConfiguration")

    ecs.create_cluster(clusterName=cluster)
    c = ecs.describe_clusters(clusters=[cluster])["clusters"][0]
    check(c["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"], "E7 CreateCluster idempotent")
    check((c["activeServicesCount"], c["runningTasksCount"]) == (2, 4), "E5 cluster counts")
    check(error_of(lambda: ecs.delete_cluster(cluster=cluster)) == ("ClusterContainsServicesException", 400),
          "E5 DeleteCluster with services")

    # --- Application Auto Scaling (before the service goes away) -------------
    rid = f"service/{cluster}/web"
    target = dict(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension="ecs:service:DesiredCount")
    aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=4, Tags={"selfcheck": u})
    arn = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])["ScalableTargets"][0]["ScalableTargetARN"]
    check(aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"selfcheck": u}, "A1 scalable target tags")
    aas.put_scaling_policy(PolicyName="cpu", **target, PolicyType="TargetTrackingScaling",
                           TargetTrackingScalingPolicyConfiguration={"TargetValue": 50.0, "PredefinedMetricSpecification": {
                               "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})
    aas.deregister_scalable_target(**target)
    check(aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"] == [],
          "A2 deregister deletes policies")

    # --- Service Connect and Cloud Map (E9, D1-D3) ----------------------------
    sd = boto3.client("servicediscovery", **kw)
    ns_name = f"ns-{u}"
    op = sd.create_http_namespace(Name=ns_name, CreatorRequestId=f"r-{u}")["OperationId"]
    check(sd.create_http_namespace(Name=ns_name, CreatorRequestId=f"r-{u}")["OperationId"] == op,
          "D3 CreateHttpNamespace retried with the same request id")
    check(error_of(lambda: sd.create_http_namespace(Name=ns_name, CreatorRequestId=f"x-{u}"))
          == ("NamespaceAlreadyExists", 400), "D3 CreateHttpNamespace of a taken name")
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    ns_arn = sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]
    other = sd.get_operation(OperationId=sd.create_http_namespace(Name=f"other-{u}")["OperationId"])
    listed = sd.list_namespaces(Filters=[{"Name": "NAME", "Values": [ns_name], "Condition": "EQ"}])["Namespaces"]
    check([n["Id"] for n in listed] == [ns_id], "D1 ListNamespaces NAME filter")
    sc_td = {**td, "containerDefinitions": [{"name": "app", "image": "nginx", "essential": True,
                                              "portMappings": [{"containerPort": 80, "name": "app"}]}]}
    sc_td_arn = ecs.register_task_definition(**sc_td)["taskDefinition"]["taskDefinitionArn"]
    sc = {"enabled": True, "namespace": ns_arn, "services": [
        {"portName": "app", "discoveryName": "api", "clientAliases": [{"port": 80, "dnsName": "api"}]}]}
    check(error_of(lambda: ecs.create_service(
        cluster=cluster, serviceName="scx", taskDefinition=sc_td_arn, desiredCount=1, networkConfiguration=net,
        serviceConnectConfiguration={**sc, "namespace": f"missing-{u}"})) == ("NamespaceNotFoundException", 400),
        "E9 unknown namespace")
    check(error_of(lambda: ecs.create_service(
        cluster=cluster, serviceName="scx", taskDefinition=td2, desiredCount=1, networkConfiguration=net,
        serviceConnectConfiguration=sc)) == ("InvalidParameterException", 400), "E9 portName not in the task definition")
    ecs.create_service(cluster=cluster, serviceName="sc", taskDefinition=sc_td_arn, desiredCount=1,
                       networkConfiguration=net, serviceConnectConfiguration=sc)
    dep = describe("sc")["deployments"][0]
    check(dep.get("serviceConnectConfiguration") == sc, "E9 serviceConnectConfiguration on the deployment")
    check(error_of(lambda: sd.delete_namespace(Id=ns_id)) == ("ResourceInUse", 400),
          "D2 DeleteNamespace with a Service Connect service in it")
    off = ecs.update_service(cluster=cluster, service="sc", serviceConnectConfiguration={"enabled": False})["service"]
    check("serviceConnectConfiguration" not in off["deployments"][0] and off["deployments"][0]["id"] != dep["id"],
          "E9 Service Connect off: a new deployment without it")
    ecs.update_service(cluster=cluster, service="sc", serviceConnectConfiguration=sc)
    ecs.delete_service(cluster=cluster, service="sc", force=True)
    sd.delete_namespace(Id=ns_id)
    sd.delete_namespace(Id=other["Operation"]["Targets"]["NAMESPACE"])
    check(not any(n["Id"] == ns_id for n in sd.list_namespaces()["Namespaces"]),
          "E9 DeleteService deregisters its Cloud Map service; the namespace goes")

    for name in ("web", "dflt"):
        ecs.delete_service(cluster=cluster, service=name, force=True)
    check(ecs.list_services(cluster=cluster)["serviceArns"] == [], "E4 ListServices omits INACTIVE")
    check(describe()["status"] == "INACTIVE" and describe()["runningCount"] == 0, "E4 INACTIVE service described")
    check(error_of(lambda: ecs.update_service(cluster=cluster, service="web", desiredCount=1))
          == ("ServiceNotActiveException", 400), "E4 UpdateService on INACTIVE")
    ecs.delete_cluster(cluster=cluster)
    check(ecs.describe_clusters(clusters=[cluster])["clusters"][0]["status"] == "INACTIVE", "E5 INACTIVE cluster described")
    check(not any(a.endswith(f"/{cluster}") for a in ecs.list_clusters()["clusterArns"]), "E5 ListClusters omits INACTIVE")
    check(error_of(lambda: ecs.list_services(cluster=cluster)) == ("ClusterNotFoundException", 400),
          "E5 INACTIVE cluster not found")

    # --- ELBv2 --------------------------------------------------------------
    subnet2 = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone=f"{REGION}b")["Subnet"]["SubnetId"]
    lb_name = f"lb-{u}"
    lb = elb.create_load_balancer(Name=lb_name, Subnets=[subnet, subnet2], SecurityGroups=[sg])["LoadBalancers"][0]["LoadBalancerArn"]
    again = elb.create_load_balancer(Name=lb_name, Subnets=[subnet, subnet2], SecurityGroups=[sg])["LoadBalancers"][0]["LoadBalancerArn"]
    check(again == lb and len(elb.describe_load_balancers(Names=[lb_name])["LoadBalancers"]) == 1, "L1 CreateLoadBalancer idempotent")
    check(elb.describe_target_groups(LoadBalancerArn=lb)["TargetGroups"] == [], "L3 no target groups")
    tg1, tg2 = (elb.create_target_group(Name=f"t{i}-{u}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")
                ["TargetGroups"][0]["TargetGroupArn"] for i in (1, 2))
    lis = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": tg1}])["Listeners"][0]["ListenerArn"]
    elb.modify_listener(ListenerArn=lis, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg2}])

    def tg_lbs(arn):
        return elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["LoadBalancerArns"]
    check(tg_lbs(tg1) == [] and tg_lbs(tg2) == [lb], "L2 LoadBalancerArns follow ModifyListener")
    elb.delete_load_balancer(LoadBalancerArn=lb)
    check(tg_lbs(tg2) == [], "L2 LoadBalancerArns after DeleteLoadBalancer")
    for arn in (tg1, tg2):
        elb.delete_target_group(TargetGroupArn=arn)


    # --- CloudWatch over rpc-v2-cbor (the shim's translation to moto's JSON) -----------
    cbor = CborClient(endpoint)
    shim("reset", {})
    st, hd, raw = cbor.call("ListDashboards", None)  # no input: empty body, no Content-Type
    check(st == 200 and hd.get("smithy-protocol") == "rpc-v2-cbor"
          and hd.get("content-type") == "application/cbor" and isinstance(cbor2.loads(raw), dict),
          f"CBOR empty request -> CBOR map ({st} {hd})")
    alarm = {"AlarmName": f"cpu-{u}", "Namespace": "AWS/ECS", "MetricName": "CPUUtilization",
             "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 3, "DatapointsToAlarm": 2,
             "Threshold": 80.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
             "Dimensions": [{"Name": "ClusterName", "Value": "c"}, {"Name": "ServiceName", "Value": "web"}],
             "TreatMissingData": "notBreaching", "AlarmDescription": "d", "ActionsEnabled": True,
             "AlarmActions": [f"arn:aws:sns:{REGION}:123456789012:t-{u}"], "OKActions": [],
             "InsufficientDataActions": [], "Unit": "Percent"}
    p99 = {**{k: v for k, v in alarm.items() if k != "Statistic"}, "AlarmName": f"p99-{u}",
           "ExtendedStatistic": "p99", "EvaluateLowSampleCountPercentile": "ignore"}
    math = {"AlarmName": f"math-{u}", "EvaluationPeriods": 1, "Threshold": 5.0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "missing", "Metrics": [
                {"Id": "e1", "Expression": "100*(m1/m2)", "Label": "Error rate", "ReturnData": True},
                *({"Id": i, "ReturnData": False, "MetricStat": {"Period": 60, "Stat": "Sum", "Metric": {
                    "Namespace": "AWS/ApplicationELB", "MetricName": name,
                    "Dimensions": [{"Name": "LoadBalancer", "Value": "app/lb/1"}]}}}
                  for i, name in (("m1", "HTTPCode_Target_5XX_Count"), ("m2", "RequestCount")))]}
    for a in (alarm, p99, math):
        st, _, _ = cbor.call("PutMetricAlarm", {**a, "Tags": [{"Key": "selfcheck", "Value": u}]})
        check(st == 200, f"CBOR PutMetricAlarm {a['AlarmName']}")
    st, hd, raw = cbor.call("DescribeAlarms", {"AlarmNames": [a["AlarmName"] for a in (alarm, p99, math)]})
    got = {a["AlarmName"]: a for a in cbor2.loads(raw)["MetricAlarms"]}
    for a in (alarm, p99, math):
        g = got.get(a["AlarmName"], {})
        check({k: g.get(k) for k in a} == a, f"CBOR alarm reads back exactly: {a['AlarmName']} -> {g}")
    g = got.get(alarm["AlarmName"], {})
    check(g.get("StateValue") == "INSUFFICIENT_DATA", "C1 new alarm is INSUFFICIENT_DATA")
    # Smithy decoders are strict: doubles are CBOR floats, timestamps tag 1 over a float.
    check(b"iThreshold\xfb" in raw and raw.count(b"\xc1\xfb") >= 6 and b"\xc1\x1a" not in raw,
          "CBOR wire types (float64 Threshold, tag-1 float timestamps)")
    check(isinstance(g.get("StateUpdatedTimestamp"), dt.datetime), "CBOR timestamp decodes")
    arn = g.get("AlarmArn", "")

    st, hd, raw = cbor.call("GetDashboard", {"DashboardName": f"none-{u}"})
    err = cbor2.loads(raw)
    check(st == 404 and err == {"__type": "com.amazonaws.cloudwatch#DashboardNotFoundError",
                                "message": "Dashboard does not exist"}
          and hd.get("x-amzn-query-error") == "ResourceNotFound;Sender"
          and hd.get("smithy-protocol") == "rpc-v2-cbor", f"CBOR modeled error: {st} {hd} {err}")
    st, hd, raw = cbor.call("NoSuchOperation", {})
    check(st == 404 and cbor2.loads(raw)["__type"] == "UnknownOperationException", "CBOR unknown operation")
    st, hd, raw = cbor.call("ListMetricStreams", {})
    check(st == 501 and cbor2.loads(raw)["__type"] == "NotImplemented", "CBOR op moto lacks -> 501")

    shim("faults", {"op": "PutDashboard", "service": "monitoring", "count": 1, "status": 400,
                    "code": "Throttling", "message": "Rate exceeded"})
    body = json.dumps({"widgets": []})
    st, hd, raw = cbor.call("PutDashboard", {"DashboardName": f"d-{u}", "DashboardBody": body})
    check(st == 400 and cbor2.loads(raw) == {"__type": "Throttling", "message": "Rate exceeded"}
          and hd.get("x-amzn-query-error") == "Throttling;Sender"
          and hd.get("content-type") == "application/cbor", f"fault (CBOR protocol): {st} {hd}")
    st, _, raw = cbor.call("PutDashboard", {"DashboardName": f"d-{u}", "DashboardBody": body})
    check(st == 200 and cbor2.loads(raw) == {"DashboardValidationMessages": []}, "CBOR PutDashboard")
    d = cbor2.loads(cbor.call("GetDashboard", {"DashboardName": f"d-{u}"})[2])
    check(d.get("DashboardBody") == body and d.get("DashboardArn", "").endswith(f":dashboard/d-{u}"), "GetDashboard")
    entries = cbor2.loads(cbor.call("ListDashboards", {"DashboardNamePrefix": f"d-{u}"})[2])["DashboardEntries"]
    check([e["DashboardName"] for e in entries] == [f"d-{u}"] and entries[0]["Size"] == len(body), "ListDashboards")
    check(cbor.call("DeleteDashboards", {"DashboardNames": [f"d-{u}"]})[0] == 200
          and cbor.call("GetDashboard", {"DashboardName": f"d-{u}"})[0] == 404, "DeleteDashboards")
    calls = [{k: v for k, v in c.items() if k != "t"} for c in shim("stats")["calls"]]
    check({"service": "monitoring", "op": "PutDashboard", "write": True} in calls
          and {"service": "monitoring", "op": "DescribeAlarms", "write": False} in calls
          and all(c["service"] == "monitoring" for c in calls), f"CBOR calls counted: {calls[:3]}")

    # --- CloudWatch patches (C1-C6) -------------------------------------------------------
    def cw(op, params):
        st, _, raw = cbor.call(op, params)
        return st, cbor2.loads(raw) if raw else {}

    def cw_error(op, params):
        st, out = cw(op, params)
        return (out.get("__type", "").rsplit("#", 1)[-1], st) if st >= 300 else None

    comp = f"comp-{u}"
    check(cw_error("PutCompositeAlarm", {"AlarmName": comp, "AlarmRule": f'ALARM("gone-{u}")'})
          == ("ValidationException", 400), "C2 composite rule must name existing alarms")
    rule = f'ALARM("{alarm["AlarmName"]}") OR ALARM({p99["AlarmName"]})'
    st, _ = cw("PutCompositeAlarm", {"AlarmName": comp, "AlarmRule": rule, "AlarmDescription": "c",
                                     "AlarmActions": alarm["AlarmActions"], "Tags": [{"Key": "k", "Value": "v"}]})
    check(st == 200, "C2 PutCompositeAlarm")
    names = [alarm["AlarmName"], comp]

    def described(**kw):
        out = cw("DescribeAlarms", {"AlarmNames": names, **kw})[1]
        return ([a["AlarmName"] for a in out.get("MetricAlarms", [])],
                [a["AlarmName"] for a in out.get("CompositeAlarms", [])])
    check(described() == ([alarm["AlarmName"]], []), "C2 DescribeAlarms default: metric alarms only")
    check(described(AlarmTypes=["CompositeAlarm"]) == ([], [comp]), "C2 AlarmTypes CompositeAlarm")
    check(described(AlarmTypes=["MetricAlarm", "CompositeAlarm"]) == ([alarm["AlarmName"]], [comp]), "C2 both types")
    c = (cw("DescribeAlarms", {"AlarmNames": [comp], "AlarmTypes": ["CompositeAlarm"]})[1]
         .get("CompositeAlarms") or [{}])[0]
    check(tuple(c.get(k) for k in ("AlarmRule", "AlarmDescription", "AlarmActions", "StateValue", "ActionsEnabled"))
          == (rule, "c", alarm["AlarmActions"], "INSUFFICIENT_DATA", True), f"C2 composite fields: {c}")
    page = cw("DescribeAlarms", {"AlarmNamePrefix": f"cpu-{u}", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
                                 "MaxRecords": 1})[1]
    check(len(page["MetricAlarms"]) == 1 and "NextToken" not in page, "C2 MaxRecords/AlarmNamePrefix")
    three = [a["AlarmName"] for a in (alarm, p99, math)]
    first = cw("DescribeAlarms", {"AlarmNames": three, "MaxRecords": 2})[1]
    rest = cw("DescribeAlarms", {"AlarmNames": three, "MaxRecords": 2, "NextToken": first.get("NextToken")})[1]
    check([a["AlarmName"] for a in first["MetricAlarms"] + rest["MetricAlarms"]] == sorted(three)
          and "NextToken" not in rest, "C2 DescribeAlarms pages by MaxRecords/NextToken, sorted by name")
    carn = c.get("AlarmArn", f"{arn}-comp")
    check(cw("ListTagsForResource", {"ResourceARN": carn})[1] == {"Tags": [{"Key": "k", "Value": "v"}]}, "C2 composite tags")
    cw("TagResource", {"ResourceARN": carn, "Tags": [{"Key": "k2", "Value": "v2"}]})
    cw("UntagResource", {"ResourceARN": carn, "TagKeys": ["k"]})
    check(cw("ListTagsForResource", {"ResourceARN": carn})[1] == {"Tags": [{"Key": "k2", "Value": "v2"}]},
          "C2 composite Tag/UntagResource")
    cw("SetAlarmState", {"AlarmName": comp, "StateValue": "ALARM", "StateReason": "selfcheck"})
    check(cw("DescribeAlarms", {"AlarmNames": [comp], "AlarmTypes": ["CompositeAlarm"]})[1]
          ["CompositeAlarms"][0]["StateValue"] == "ALARM", "C2 SetAlarmState on a composite")
    hist = cw("DescribeAlarmHistory", {"AlarmName": comp, "AlarmTypes": ["CompositeAlarm"]})[1]["AlarmHistoryItems"]
    check([h["HistoryItemType"] for h in hist] == ["StateUpdate", "ConfigurationUpdate"]
          and hist[0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM", f"C5 history: {hist}")
    cw("DeleteAlarms", {"AlarmNames": [comp]})
    check(described(AlarmTypes=["CompositeAlarm"]) == ([], []), "C2 DeleteAlarms deletes a composite")

    cw("SetAlarmState", {"AlarmName": alarm["AlarmName"], "StateValue": "ALARM", "StateReason": "x"})
    cw("PutMetricAlarm", {**alarm, "Threshold": 70.0, "Tags": [{"Key": "other", "Value": "x"}]})
    a = cw("DescribeAlarms", {"AlarmNames": [alarm["AlarmName"]]})[1]["MetricAlarms"][0]
    check((a["StateValue"], a["Threshold"]) == ("ALARM", 70.0), "C1 update keeps the state")
    check(cw("ListTagsForResource", {"ResourceARN": arn})[1]["Tags"] == [{"Key": "selfcheck", "Value": u}],
          "C1 update ignores Tags")
    check(cw_error("UntagResource", {"ResourceARN": f"{arn}-none", "TagKeys": ["x"]})
          == ("ResourceNotFoundException", 404)
          and cw_error("ListTagsForResource", {"ResourceARN": f"{arn}-none"}) == ("ResourceNotFoundException", 404),
          "C4 unknown alarm ARN")
    cw("UntagResource", {"ResourceARN": arn, "TagKeys": ["selfcheck"]})
    check(cw("UntagResource", {"ResourceARN": arn, "TagKeys": ["selfcheck"]})[0] == 200, "C4 untag an untagged alarm")
    cw("TagResource", {"ResourceARN": arn, "Tags": [{"Key": "old", "Value": "1"}]})
    cw("DeleteAlarms", {"AlarmNames": [alarm["AlarmName"]]})
    cw("PutMetricAlarm", alarm)
    check(cw("ListTagsForResource", {"ResourceARN": arn})[1]["Tags"] == [], "C3 DeleteAlarms deletes tags")
    check(cw_error("PutMetricAlarm", {**alarm, "ExtendedStatistic": "p90"}) == ("ValidationException", 400)
          and cw_error("PutMetricAlarm", {**math, "Period": 60}) == ("ValidationException", 400)
          and cw_error("PutMetricAlarm", {**math, "Metrics": [{**m, "ReturnData": True} for m in math["Metrics"]]})
          == ("ValidationException", 400), "C6 PutMetricAlarm metric validation")
    cw("DeleteAlarms", {"AlarmNames": [a["AlarmName"] for a in (alarm, p99, math)]})

    # botocore's own rpc-v2-cbor client (an independent decoder) reads the translation too.
    cwb = boto3.client("cloudwatch", **kw)
    if cwb.meta.service_model.protocol == "smithy-rpc-v2-cbor":
        cwb.put_metric_alarm(**alarm)
        got_b = cwb.describe_alarms(AlarmNames=[alarm["AlarmName"]])["MetricAlarms"]
        check(len(got_b) == 1 and got_b[0]["Threshold"] == alarm["Threshold"], "botocore CBOR client")
        check(error_of(lambda: cwb.get_dashboard(DashboardName=f"none-{u}")) == ("ResourceNotFound", 404),
              "botocore CBOR client error code")
        cwb.delete_alarms(AlarmNames=[alarm["AlarmName"]])

    # --- SNS (S1-S4) ----------------------------------------------------------------------
    sns = boto3.client("sns", **kw)
    topic = sns.create_topic(Name=f"t-{u}", Tags=[{"Key": "app", "Value": "web"}])["TopicArn"]
    check(sns.create_topic(Name=f"t-{u}", Tags=[{"Key": "app", "Value": "web"}])["TopicArn"] == topic,
          "SNS CreateTopic idempotent")
    check(error_of(lambda: sns.create_topic(Name=f"t-{u}", Tags=[{"Key": "app", "Value": "api"}]))
          == ("InvalidParameter", 400), "S1 CreateTopic with other tags")
    check(sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "app", "Value": "web"}], "SNS tags")
    email = f"ops-{u}@example.com"
    check(sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=email)["SubscriptionArn"]
          == "pending confirmation", "S2 email subscription pending")
    hook = sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=f"https://hooks.example.com/{u}",
                         ReturnSubscriptionArn=True)["SubscriptionArn"]
    check(hook.startswith(topic + ":"), "S2 ReturnSubscriptionArn")
    check(error_of(lambda: sns.subscribe(TopicArn=topic, Protocol="pigeon", Endpoint="x")) == ("InvalidParameter", 400)
          and error_of(lambda: sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="x")) == ("InvalidParameter", 400),
          "S3 Subscribe validation")
    subs = {s["Endpoint"]: s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}
    check(subs == {email: "PendingConfirmation", f"https://hooks.example.com/{u}": "PendingConfirmation"},
          f"S2 pending subscriptions listed: {subs}")
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    check((attrs["SubscriptionsPending"], attrs["SubscriptionsConfirmed"]) == ("2", "0"), "S4 topic counts")
    check(error_of(lambda: sns.unsubscribe(SubscriptionArn="PendingConfirmation")) == ("InvalidParameter", 400),
          "S2 Unsubscribe PendingConfirmation")
    check(len(shim("sns/confirm", {"endpoint": email})["confirmed"]) == 1, "S2 /_shim/sns/confirm")
    subs = {s["Endpoint"]: s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}
    check(subs[email].startswith(topic + ":")
          and sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "1",
          "S2 confirmed subscription gets its ARN")
    sns.unsubscribe(SubscriptionArn=subs[email])
    sns.unsubscribe(SubscriptionArn=hook)
    check(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == [], "SNS Unsubscribe")
    sns.delete_topic(TopicArn=topic)
    check(error_of(lambda: sns.get_topic_attributes(TopicArn=topic)) == ("NotFound", 404), "SNS DeleteTopic")

    # --- Route 53 (R1-R4) -------------------------------------------------------------------
    r53 = boto3.client("route53", **kw)
    raw: dict = {}
    r53.meta.events.register("after-call.route53.*",
                             lambda http_response, **_: raw.update(body=http_response.content))
    zone_name = f"shop-{u}.example.com"
    zone = r53.create_hosted_zone(Name=zone_name, CallerReference=u)["HostedZone"]["Id"].split("/")[-1]

    def change(*changes):
        return r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
            {"Action": a, "ResourceRecordSet": rr} for a, rr in changes]})

    def records():
        return sorted((r["Name"], r.get("SetIdentifier") or "", r.get("ResourceRecords"), r.get("AliasTarget"))
                      for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
                      if r["Type"] == "A")

    def a_record(name, value, **extra):
        return {"Name": f"{name}.{zone_name}", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": value}], **extra}

    www = a_record("www", "192.0.2.1")
    change(("UPSERT", www))
    check(error_of(lambda: change(("CREATE", {**www, "Name": www["Name"].upper() + "."})))
          == ("InvalidChangeBatch", 400), "R1 CREATE of an existing record (other case, trailing dot)")
    msg = raw.get("body", b"").decode()
    check(msg.startswith("<?xml") and "<ErrorResponse" in msg and "<Code>InvalidChangeBatch</Code>" in msg
          and f"<Message>[Tried to create resource record set [name=&apos;www.{zone_name}.&apos;, type=&apos;A&apos;] "
              "but it already exists]</Message>" in msg.replace("'", "&apos;"),
          f"R1 InvalidChangeBatch in the ErrorResponse shape: {msg}")
    before = records()
    check(error_of(lambda: change(("CREATE", a_record("new", "192.0.2.2")), ("DELETE", {**www, "TTL": 300})))
          == ("InvalidChangeBatch", 400) and records() == before, "R1 DELETE with other values; batch not applied")
    check(error_of(lambda: change(("DELETE", a_record("gone", "192.0.2.1")))) == ("InvalidChangeBatch", 400),
          "R1 DELETE of a missing record")
    fail_x, fail_y = (a_record(n, "192.0.2.3", SetIdentifier="primary", Failover="PRIMARY") for n in ("x", "y"))
    change(("CREATE", fail_x), ("CREATE", fail_y))
    change(("DELETE", fail_x))
    check([r[0] for r in records()] == [f"www.{zone_name}.", f"y.{zone_name}."],
          f"R1 DELETE by SetIdentifier keeps other names: {records()}")
    change(("UPSERT", {**fail_y, "ResourceRecords": [{"Value": "192.0.2.4"}]}), ("DELETE", www))
    check(records() == [(f"y.{zone_name}.", "primary", [{"Value": "192.0.2.4"}], None)], "R1 UPSERT replaces by name/type/SetIdentifier")
    check(error_of(lambda: change(("CREATE", {"Name": f"a.{zone_name}", "Type": "A", "AliasTarget": {
        "HostedZoneId": zone, "DNSName": f"none.{zone_name}", "EvaluateTargetHealth": True}})))
          == ("InvalidChangeBatch", 400), "R1 alias to a missing record of the zone")

    regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]
    hc_config = {"Type": "HTTPS", "Port": 443, "ResourcePath": "/health", "RequestInterval": 10,
                 "FailureThreshold": 2, "Inverted": False, "EnableSNI": True, "MeasureLatency": False,
                 "Regions": regions}
    albs = [f"lb-{u}-1.{r}.elb.amazonaws.com" for r in ("us-east-1", "eu-west-1")]
    hc1, hc2 = (r53.create_health_check(CallerReference=f"{u}-{alb}", HealthCheckConfig={
        **hc_config, "FullyQualifiedDomainName": alb})["HealthCheck"]["Id"] for alb in albs)
    update = {"Inverted": True, "ResourcePath": "/other", "FullyQualifiedDomainName": "other.example.com",
              "Port": 8443, "FailureThreshold": 5}
    r53.update_health_check(HealthCheckId=hc1, **update)
    got = r53.get_health_check(HealthCheckId=hc1)["HealthCheck"]
    check({k: got["HealthCheckConfig"].get(k) for k in {**hc_config, **update}} == {**hc_config, **update}
          and got["HealthCheckVersion"] == 2, f"R4 UpdateHealthCheck keeps Regions, reads back: {got}")
    r53.update_health_check(HealthCheckId=hc1, Inverted=False, FullyQualifiedDomainName=albs[0])

    def status(hc):
        return [o["StatusReport"]["Status"] for o in
                r53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"]]

    def last_failures(hc):
        return r53.get_health_check_last_failure_reason(HealthCheckId=hc)["HealthCheckObservations"]
    check(status(hc1) == ["Success: HTTP Status Code 200, OK"] * 3 and last_failures(hc1) == [],
          f"R2 healthy check: one observation per region: {status(hc1)}")
    s3_site = "s3-website-eu-west-1.amazonaws.com"
    inner = f"fallback.{zone_name}"

    def failover(name, set_id, role, target_zone, dns, health_check=None):
        rr = {"Name": name, "Type": "A", "SetIdentifier": set_id, "Failover": role, "AliasTarget": {
            "HostedZoneId": target_zone, "DNSName": dns, "EvaluateTargetHealth": True}}
        return ("UPSERT", {**rr, "HealthCheckId": health_check} if health_check else rr)
    change(failover(zone_name, "r1", "PRIMARY", "Z2P70J7EXAMPLE", albs[0], hc1),
           failover(zone_name, "r2", "SECONDARY", zone, inner),
           failover(inner, "r2", "PRIMARY", "Z2P70J7EXAMPLE", albs[1], hc2),
           failover(inner, "site", "SECONDARY", "Z1BKCTXD74EZPE", s3_site))

    def answer():
        a = r53.test_dns_answer(HostedZoneId=zone, RecordName=zone_name, RecordType="A")
        return a["ResponseCode"], a["RecordData"]
    a = r53.test_dns_answer(HostedZoneId=zone, RecordName=zone_name, RecordType="A")
    check((a["Nameserver"], a["RecordName"], a["RecordType"], a["Protocol"]) == (
        "ns-2048.awsdns-64.com", zone_name, "A", "UDP"), f"R3 TestDNSAnswer shape: {a}")
    check(answer() == ("NOERROR", [albs[0]]), f"R3 healthy primary answers: {answer()}")
    r53.update_health_check(HealthCheckId=hc1, Inverted=True)
    check(status(hc1)[0] == "Failure: HTTP Status Code 200, OK (inverted health check)"
          and len(last_failures(hc1)) == 3, f"R2 inverted healthy check fails: {status(hc1)}")
    check(answer() == ("NOERROR", [albs[1]]), f"R3 failover to the nested pair's primary: {answer()}")
    forced = shim(f"route53/health/{hc2}", {"healthy": False})
    check(forced["healthy"] is False and status(hc2)[0] == "Failure: HTTP Status Code 503, Service Unavailable",
          f"R2 /_shim/route53/health forces a check unhealthy: {forced}")
    check(answer() == ("NOERROR", [s3_site]), f"R3 both regions down: the S3 website: {answer()}")
    shim(f"route53/health/{hc1}", {"healthy": False})
    check(answer() == ("NOERROR", [albs[0]]) and status(hc1)[0].startswith("Success:"),
          "R2 forced unhealthy + inverted = healthy")
    shim(f"route53/health/{hc1}", method="DELETE")
    shim(f"route53/health/{hc2}", method="DELETE")
    check(answer() == ("NOERROR", [albs[1]]), "R2 DELETE /_shim/route53/health clears")
    check(r53.test_dns_answer(HostedZoneId=zone, RecordName=f"none.{zone_name}", RecordType="A")["ResponseCode"]
          == "NXDOMAIN", "R3 NXDOMAIN")
    check(r53.test_dns_answer(HostedZoneId=zone, RecordName=f"y.{zone_name}", RecordType="A")["RecordData"]
          == ["192.0.2.4"], "R3 plain record values")
    for rr in records():
        change(("DELETE", next(r for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
                               if (r["Name"], r.get("SetIdentifier") or "") == rr[:2] and r["Type"] == "A")))
    r53.delete_hosted_zone(Id=zone)
    for hc in (hc1, hc2):
        r53.delete_health_check(HealthCheckId=hc)

    # --- CloudWatch Logs (W1) ---------------------------------------------------------------
    group = f"/selfcheck/{u}"
    logs.create_log_group(logGroupName=group, tags={"old": "tag"})
    arn = next(g["logGroupArn"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"])
    logs.delete_log_group(logGroupName=group)
    logs.create_log_group(logGroupName=group)
    check(logs.list_tags_for_resource(resourceArn=arn)["tags"] == {},
          "W1 a log group made again does not get the deleted one's tags")
    logs.delete_log_group(logGroupName=group)

    # --- S3 (B1-B2) ---------------------------------------------------------------------------
    s3 = boto3.client("s3", **kw)
    bucket = f"site-{u}.example.com"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    check(all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values()),
          "B2 a new bucket blocks public access")
    public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    check(error_of(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=public)) == ("AccessDenied", 403),
          "B1 public policy refused while BlockPublicPolicy")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    s3.put_bucket_policy(Bucket=bucket, Policy=public)
    check(json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(public), "B1 public policy once allowed")
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)

    # --- CloudFront (F1-F4) and its call names ---------------------------------------------------
    cf = boto3.client("cloudfront", **kw)
    acm = boto3.client("acm", **{**kw, "region_name": "us-east-1"})
    acm_west = boto3.client("acm", **{**kw, "region_name": "eu-west-1"})
    host = f"page-{u}.example.com"
    cert = acm.request_certificate(DomainName=host)["CertificateArn"]
    cert_west = acm_west.request_certificate(DomainName=host)["CertificateArn"]

    def cf_config(ref: str, arn: str, alias: str = host, enabled: bool = True) -> dict:
        return {
            "CallerReference": ref, "Comment": f"selfcheck {u}", "Enabled": enabled,
            "Aliases": {"Quantity": 1, "Items": [alias]},
            "Origins": {"Quantity": 1, "Items": [{
                "Id": "o", "DomainName": f"{host}.s3-website-us-east-1.amazonaws.com",
                "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443,
                                       "OriginProtocolPolicy": "http-only"}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
            "ViewerCertificate": {"ACMCertificateArn": arn, "SSLSupportMethod": "sni-only",
                                  "MinimumProtocolVersion": "TLSv1.2_2021",
                                  "CloudFrontDefaultCertificate": False},
        }

    def with_tags(config: dict) -> dict:
        return {"DistributionConfig": config, "Tags": {"Items": [{"Key": "selfcheck", "Value": u}]}}

    check(error_of(lambda: cf.create_distribution_with_tags(
        DistributionConfigWithTags=with_tags(cf_config(f"w-{u}", cert_west))))
          == ("InvalidViewerCertificate", 400), "F3 a certificate outside us-east-1 is refused")
    check(error_of(lambda: cf.create_distribution_with_tags(DistributionConfigWithTags=with_tags(
        cf_config(f"n-{u}", cert.replace(cert.rsplit("/", 1)[1], "00000000-0000-0000-0000-000000000000")))))
          == ("InvalidViewerCertificate", 400), "F3 an unknown certificate is refused")
    shim("reset", {})
    made = cf.create_distribution_with_tags(DistributionConfigWithTags=with_tags(cf_config(f"a-{u}", cert)))
    dist_id, etag = made["Distribution"]["Id"], made["ETag"]
    check(error_of(lambda: cf.create_distribution_with_tags(
        DistributionConfigWithTags=with_tags(cf_config(f"b-{u}", cert))))
          == ("CNAMEAlreadyExists", 409), "F4 an alias of another distribution is refused")
    got = cf.get_distribution_config(Id=dist_id)
    check(got["ETag"] == etag, "GetDistributionConfig answers the current ETag")
    check(error_of(lambda: cf.delete_distribution(Id=dist_id, IfMatch=etag))
          == ("DistributionNotDisabled", 409), "F2 an enabled distribution is not deleted")
    check(error_of(lambda: cf.update_distribution(
        Id=dist_id, IfMatch="E0STALE", DistributionConfig=cf_config(f"a-{u}", cert, enabled=False)))
          == ("PreconditionFailed", 412), "F1 a stale IfMatch is refused")
    updated = cf.update_distribution(Id=dist_id, IfMatch=etag,
                                     DistributionConfig=cf_config(f"a-{u}", cert, enabled=False))
    check(updated["ETag"] != etag, "F1 an update makes a new ETag")
    check(error_of(lambda: cf.delete_distribution(Id=dist_id, IfMatch=etag))
          == ("PreconditionFailed", 412), "F1 DeleteDistribution with the old ETag is refused")
    arn = cf.get_distribution(Id=dist_id)["Distribution"]["ARN"]
    check(cf.list_tags_for_resource(Resource=arn)["Tags"]["Items"] == [{"Key": "selfcheck", "Value": u}],
          "CreateDistributionWithTags tags")
    cf.list_distributions()
    cf.delete_distribution(Id=dist_id, IfMatch=cf.get_distribution(Id=dist_id)["ETag"])
    check(error_of(lambda: cf.get_distribution(Id=dist_id)) == ("NoSuchDistribution", 404),
          "a deleted distribution is gone")
    calls = [(c["op"], c["write"]) for c in shim("stats")["calls"] if c["service"] == "cloudfront"]
    check(calls == [("CreateDistributionWithTags", True), ("CreateDistributionWithTags", True),
                    ("GetDistributionConfig", False), ("DeleteDistribution", True),
                    ("UpdateDistribution", True), ("UpdateDistribution", True),
                    ("DeleteDistribution", True), ("GetDistribution", False),
                    ("ListTagsForResource", False), ("ListDistributions", False),
                    ("GetDistribution", False), ("DeleteDistribution", True),
                    ("GetDistribution", False)], f"CloudFront calls named: {calls}")
    for a, client in ((cert, acm), (cert_west, acm_west)):
        client.delete_certificate(CertificateArn=a)

    # --- IAM enforcement (moto's reset-auth; patches I1-I3) ------------------------------------
    check_enforcement(endpoint, kw, u)

    # --- consistency mode (/_shim/consistency) ------------------------------------------------
    try:
        check_consistency(shim, kw, cbor, u, vpc)
    finally:
        try:
            shim("consistency", method="DELETE")
        except urllib.error.HTTPError:
            pass  # an emulator without the mode (reported by check_consistency)

    # --- GET /_shim/patches: the registry lists every patch checked above (keep this last) ---
    checked = sorted({m.group(1) for w in CHECKED if (m := PATCH_CHECK_RE.match(w))},
                     key=lambda i: (i[0], int(i[1:])))
    try:
        listed = shim("patches")
    except urllib.error.HTTPError as e:
        check(False, f"patches: GET /_shim/patches answered {e.code}: this emulator predates it")
    else:
        ids = [p.get("id") for p in listed if isinstance(p, dict)]
        complete = all(isinstance(p, dict) and set(p) == {"id", "service", "moto", "emulator"}
                       and all(isinstance(v, str) and v for v in p.values()) for p in listed)
        missing = [i for i in checked if i not in ids]
        check(complete and not missing and len(ids) == len(set(ids)) and len(checked) >= 30,
              f"patches: GET /_shim/patches lists every patch checked here ({len(checked)}), "
              f"each once with id, service, moto, emulator; missing: {missing}")

    print(f"emulator selfcheck: {'FAILED' if FAILURES else 'ok'} "
          f"({len(FAILURES)} failures, {time.monotonic() - started:.1f}s)")
    shim("reset", {})
    return 1 if FAILURES else 0


def fault_of(fn) -> tuple | None:
    """(code, message, HTTP status) of the error fn raises, or None if it succeeds."""
    try:
        fn()
    except ClientError as e:
        return (e.response["Error"]["Code"], e.response["Error"]["Message"],
                e.response["ResponseMetadata"]["HTTPStatusCode"])
    return None


def last_response(client) -> dict:
    """The raw body and headers of the client's last answer (updated after each call)."""
    seen: dict = {}

    def keep(http_response, **_):
        seen.update(body=http_response.content.decode("utf-8", "replace"),
                    headers={k.lower(): v for k, v in http_response.headers.items()})
    client.meta.events.register("after-call", keep)
    return seen


def check_enforcement(endpoint, kw, u) -> None:
    """With moto's IAM enforcement on, a user whose policy allows CloudWatch DescribeAlarms and
    EC2 DescribeVpcs on VPC ARNs may call those (over CBOR too) and nothing else."""
    iam = boto3.client("iam", **kw)
    user = f"selfcheck-{u}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["ec2:DescribeVpcs"],
             "Resource": "arn:aws:ec2:*:*:vpc/*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    mine = dict(kw, aws_access_key_id=key["AccessKeyId"],
                aws_secret_access_key=key["SecretAccessKey"])
    ec2 = boto3.client("ec2", **mine)
    cbor = CborClient(endpoint, key["AccessKeyId"], key["SecretAccessKey"])

    def auth(count: str) -> None:
        # text/plain: Flask hands a form-encoded body to moto as empty.
        req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(),
                                     method="POST", headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(req, timeout=10).read()

    auth("0")
    try:
        status, _, _ = cbor.call("DescribeAlarms", {})
        check(status == 200, f"I1 a CloudWatch (CBOR) call the policy allows passes (HTTP {status})")
        cf = boto3.client("cloudfront", **mine)
        check(error_of(lambda: cf.list_distributions()) == ("AccessDenied", 403),  # I4 too
              f"I2 a CloudFront call is checked for its action, not refused for its signature: "
              f"{error_of(lambda: cf.list_distributions())}")
        check(error_of(lambda: ec2.describe_vpcs()) is None,
              "I3 an action allowed on ARNs passes where moto checks against *")
        denied = error_of(lambda: ec2.describe_subnets())
        check(denied == ("UnauthorizedOperation", 403),
              f"I4 an action the policy does not name is denied in EC2's shape: {denied}")
        ecs = boto3.client("ecs", **mine)
        try:
            ecs.list_clusters()
            denied = None
        except ClientError as e:
            denied = (e.response["Error"]["Code"], e.response["Error"]["Message"])
        check(denied is not None and denied[0] == "AccessDeniedException"
              and "ecs:ListClusters" in denied[1],
              f"I4 a JSON service denies in its shape, naming the action: {denied}")
        unknown = boto3.client("ec2", **dict(mine, aws_access_key_id="AKIAUNKNOWN0000000"))
        check(error_of(lambda: unknown.describe_vpcs()) is not None,
              "an unknown access key is refused")
    finally:
        auth("inf")
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=user, PolicyName="p")
    iam.delete_user(UserName=user)


def check_consistency(shim, kw, cbor, u, old_vpc) -> None:
    """First-use faults (each class: shape, code, message, the (N+1)th use passes), delete
    conflicts, listing lag (a young resource is omitted, then listed once older than the lag)."""
    ec2, iam, ecs, elb, logs, aas, s3, r53, sns = (boto3.client(s, **kw) for s in (
        "ec2", "iam", "ecs", "elbv2", "logs", "application-autoscaling", "s3", "route53", "sns"))
    try:
        shim("consistency")
    except urllib.error.HTTPError as e:
        check(False, f"consistency: GET /_shim/consistency answered {e.code}: this emulator predates "
              "the consistency mode; restart it (scripts/emulator stop; scripts/emulator start)")
        return
    lag = 1.0
    alarm = {"Namespace": "N", "MetricName": "M", "Statistic": "Sum", "Period": 60,
             "EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"}
    cbor.call("PutMetricAlarm", {**alarm, "AlarmName": f"cm-old-{u}"})  # before the mode: not new
    on = shim("consistency", {"first_uses": 1, "rate": 1.0, "seed": 7, "listing_lag_s": lag,
                              "delete_conflicts": 1})
    check(on["on"] is True and (on["first_uses"], on["listing_lag_s"], on["tracked"]) == (1, lag, 0),
          f"consistency on: {on}")

    def fails(what, fn, code, message, status, shape=None, raw=None):
        got = fault_of(fn)
        check(got == (code, message, status), f"consistency {what}: {got}")
        if shape is not None:
            check(shape in raw.get("body", ""), f"consistency {what}: answered {raw}")
        check(fault_of(fn) is None, f"consistency {what}: the second use passes")

    def listed(what, young, listing, direct=None):
        """The young id is not in listing(), but is in direct() (a read by id)."""
        check(young not in listing(), f"consistency listing lag: {what} omits a young {young}")
        if direct is not None:
            check(young in direct(), f"consistency listing lag: {what} by id shows {young}")
        later.append((what, young, listing))
    later: list = []

    # EC2: its own error shape; reads by id are uses too, filters are listings.
    raw = last_response(ec2)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "selfcheck", "Value": u}]}])["Vpc"]["VpcId"]
    vpcs = lambda: [v["VpcId"] for v in ec2.describe_vpcs(  # noqa: E731
        Filters=[{"Name": "tag:selfcheck", "Values": [u]}])["Vpcs"]]
    check(old_vpc in vpcs(), "consistency listing lag keeps an older VPC")
    listed("DescribeVpcs(Filters)", vpc, vpcs)
    before = shim("stats")["total"]
    fails("EC2 vpc (DescribeVpcAttribute)",
          lambda: ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsSupport"),
          "InvalidVpcID.NotFound", f"The vpc ID '{vpc}' does not exist", 400)
    check(shim("stats")["total"] == before + 2, "consistency faults are counted in /_shim/stats")
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    fails("EC2 subnet (DescribeSubnets SubnetId.1)", lambda: ec2.describe_subnets(SubnetIds=[subnet]),
          "InvalidSubnetID.NotFound", f"The subnet ID '{subnet}' does not exist", 400,
          "<Response><Errors><Error><Code>InvalidSubnetID.NotFound</Code><Message>The subnet ID "
          f"'{subnet}' does not exist</Message></Error></Errors><RequestID>", raw)
    sg = ec2.create_security_group(GroupName=f"cm-{u}", Description="x", VpcId=vpc)["GroupId"]
    fails("EC2 security group (CreateTags)", lambda: ec2.create_tags(
        Resources=[sg], Tags=[{"Key": "a", "Value": "b"}]),
        "InvalidGroup.NotFound", f"The security group '{sg}' does not exist", 400)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    fails("EC2 internet gateway (AttachInternetGateway)",
          lambda: ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc),
          "InvalidInternetGatewayID.NotFound", f"The internetGateway ID '{igw}' does not exist", 400)
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    fails("EC2 route table (CreateRoute)", lambda: ec2.create_route(
        RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw),
        "InvalidRouteTableID.NotFound", f"The routeTable ID '{rtb}' does not exist", 400)
    lt = ec2.create_launch_template(LaunchTemplateName=f"cm-{u}", LaunchTemplateData={
        "SecurityGroupIds": [sg]})["LaunchTemplate"]["LaunchTemplateId"]
    fails("EC2 launch template (DescribeLaunchTemplateVersions)",
          lambda: ec2.describe_launch_template_versions(LaunchTemplateId=lt, Versions=["$Default"]),
          "InvalidLaunchTemplateId.NotFound",
          f"The specified launch template, with template ID {lt}, does not exist.", 400)
    doomed = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.9.0/24")["Subnet"]["SubnetId"]
    check(fault_of(lambda: ec2.delete_subnet(SubnetId=doomed)) is None,
          "consistency: a delete of a new id is never answered NotFound")

    # IAM (query protocol): role and instance profile names; the role's ARN in ECS.
    raw = last_response(iam)
    role = f"cm-{u}"
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    fails("IAM role (PutRolePolicy)", lambda: iam.put_role_policy(
        RoleName=role, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})),
        "NoSuchEntity", f"The role with name {role} cannot be found.", 404)
    iam.create_instance_profile(InstanceProfileName=role)
    got = fault_of(lambda: iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role))
    check(got == ("NoSuchEntity", f"Instance Profile {role} cannot be found.", 404)
          and raw["body"].startswith("<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity"),
          f"consistency IAM instance profile (AddRoleToInstanceProfile): {got} {raw}")
    check(fault_of(lambda: iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role))
          is None, "consistency IAM instance profile: the second use passes")
    td = {"family": f"cm-{u}", "executionRoleArn": role_arn, "containerDefinitions": [
        {"name": "web", "image": "nginx", "memory": 128, "portMappings": [{"containerPort": 80}]}]}
    fails("ECS role ARN (RegisterTaskDefinition)", lambda: ecs.register_task_definition(**td),
          "ClientException", f"ECS was unable to assume the role '{role_arn}' that was provided for "
          "this task. Please verify that the role being passed has the proper trust relationship and "
          "permissions and that your IAM user has permissions to pass this role.", 400)
    listed("ListTaskDefinitions", f"arn:aws:ecs:{REGION}:123456789012:task-definition/cm-{u}:1",
           lambda: ecs.list_task_definitions(familyPrefix=f"cm-{u}")["taskDefinitionArns"])

    # ECS (JSON 1.1): the service-linked role, the cluster, a target group new to ECS.
    raw = last_response(ecs)
    cluster = f"cm-{u}"
    fails("ECS service-linked role (first CreateCluster)", lambda: ecs.create_cluster(clusterName=cluster),
          "InvalidParameterException", "Unable to assume the service linked role. Please verify that "
          "the ECS service linked role exists.", 400)
    cluster_arn = ecs.describe_clusters(clusters=[cluster])["clusters"][0]["clusterArn"]
    listed("ListClusters", cluster_arn, lambda: ecs.list_clusters()["clusterArns"])
    got = fault_of(lambda: ecs.create_service(cluster=cluster, serviceName="web",
                                              taskDefinition=f"cm-{u}", desiredCount=1))
    check(got == ("ClusterNotFoundException", "Cluster not found.", 400)
          and json.loads(raw["body"]) == {"__type": "ClusterNotFoundException", "message": "Cluster not found."}
          and raw["headers"].get("x-amzn-errortype") == "ClusterNotFoundException"
          and raw["headers"].get("content-type") == "application/x-amz-json-1.1",
          f"consistency ECS cluster (CreateService): {got} {raw}")
    sub_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.2.0/24",
                              AvailabilityZone=f"{REGION}b")["Subnet"]["SubnetId"]
    lb_name = f"cm-{u}"
    lb = elb.create_load_balancer(Name=lb_name, Subnets=[subnet, sub_b])["LoadBalancers"][0]["LoadBalancerArn"]
    listed("DescribeLoadBalancers", lb,
           lambda: [x["LoadBalancerArn"] for x in elb.describe_load_balancers()["LoadBalancers"]],
           lambda: [x["LoadBalancerArn"] for x in elb.describe_load_balancers(Names=[lb_name])["LoadBalancers"]])
    tg = elb.create_target_group(Name=f"cm-{u}", Protocol="HTTP", Port=80, VpcId=vpc,
                                 TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    svc = dict(cluster=cluster, serviceName="web", taskDefinition=f"cm-{u}", desiredCount=1,
               loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 80}])
    fails("ECS target group new to ECS (CreateService)", lambda: ecs.create_service(**svc),
          "InvalidParameterException", f"The target group with targetGroupArn {tg} does not have "
          "an associated load balancer.", 400)
    service_arn = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]["serviceArn"]
    listed("ListServices", service_arn, lambda: ecs.list_services(cluster=cluster)["serviceArns"])

    # Application Auto Scaling: the ECS service, then the scalable target.
    rid = f"service/{cluster}/web"
    target = dict(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension="ecs:service:DesiredCount")
    fails("Application Auto Scaling ECS service (RegisterScalableTarget)",
          lambda: aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2),
          "ValidationException", f"ECS service doesn't exist: {rid}", 400)
    listed("DescribeScalableTargets", rid, lambda: [
        t["ResourceId"] for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]],
        lambda: [t["ResourceId"] for t in aas.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[rid])["ScalableTargets"]])
    fails("Application Auto Scaling scalable target (PutScalingPolicy)", lambda: aas.put_scaling_policy(
        PolicyName="cpu", **target, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 50.0, "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}),
        "ObjectNotFoundException", f"No scalable target registered for service namespace: ecs, "
        f"resource ID: {rid}, scalable dimension: ecs:service:DesiredCount", 400)

    # Logs, S3, Route 53, SNS, CloudWatch.
    group = f"/cm/{u}"
    logs.create_log_group(logGroupName=group)
    listed("DescribeLogGroups(prefix)", group, lambda: [
        g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]])
    fails("Logs log group (PutRetentionPolicy)",
          lambda: logs.put_retention_policy(logGroupName=group, retentionInDays=7),
          "ResourceNotFoundException", "The specified log group does not exist.", 400)
    raw = last_response(s3)
    bucket = f"cm-{u}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    listed("ListBuckets", bucket, lambda: [b["Name"] for b in s3.list_buckets()["Buckets"]])
    got = fault_of(lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}))
    check(got == ("NoSuchBucket", "The specified bucket does not exist", 404)
          and "<Error><Code>NoSuchBucket</Code>" in raw["body"]
          and f"<BucketName>{bucket}</BucketName>" in raw["body"],
          f"consistency S3 bucket (PutBucketTagging): {got} {raw}")
    check(fault_of(lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": []})) is None,
          "consistency S3 bucket: the second use passes")
    raw = last_response(r53)
    hc = r53.create_health_check(CallerReference=f"cm-{u}", HealthCheckConfig={
        "Type": "HTTP", "FullyQualifiedDomainName": f"cm-{u}.example.com", "Port": 80})["HealthCheck"]["Id"]
    listed("ListHealthChecks", hc, lambda: [h["Id"] for h in r53.list_health_checks()["HealthChecks"]])
    got = fault_of(lambda: r53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=hc, AddTags=[{"Key": "a", "Value": "b"}]))
    check(got == ("NoSuchHealthCheck", f"A health check with id {hc} does not exist.", 404)
          and "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchHealthCheck" in raw["body"],
          f"consistency Route 53 health check (ChangeTagsForResource): {got} {raw}")
    check(fault_of(lambda: r53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=hc, AddTags=[{"Key": "a", "Value": "b"}])) is None,
        "consistency Route 53 health check: the second use passes")
    topic = sns.create_topic(Name=f"cm-{u}")["TopicArn"]
    listed("ListTopics", topic, lambda: [t["TopicArn"] for t in sns.list_topics()["Topics"]])
    cbor.call("PutMetricAlarm", {**alarm, "AlarmName": f"cm-new-{u}"})

    def alarms():
        st, _, body = cbor.call("DescribeAlarms", {"AlarmNamePrefix": "cm-"})
        check(st == 200 and b"\xc1\x1a" not in body and b"iThreshold\xfb" in body,
              "consistency: a filtered CBOR answer keeps its wire types")
        return [a["AlarmName"] for a in cbor2.loads(body)["MetricAlarms"]]
    check(f"cm-old-{u}" in alarms(), "consistency listing lag keeps an alarm made before the mode")
    listed("DescribeAlarms (CBOR)", f"cm-new-{u}", alarms)
    young = time.monotonic()

    # Delete conflicts, then the deletes pass.
    spare = f"cm-del-{u}"
    iam.create_role(RoleName=spare, AssumeRolePolicyDocument="{}")
    fails("IAM DeleteRole conflict", lambda: iam.delete_role(RoleName=spare),
          "DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
    logs.create_log_group(logGroupName=spare)
    fails("Logs DeleteLogGroup conflict", lambda: logs.delete_log_group(logGroupName=spare),
          "OperationAbortedException", "A conflicting operation is currently in progress against "
          "this resource. Please try again.", 400)

    state = shim("consistency")
    check([(e["service"], e["op"], e["code"]) for e in state["log"]] == [
        ("ec2", "DescribeVpcAttribute", "InvalidVpcID.NotFound"),
        ("ec2", "DescribeSubnets", "InvalidSubnetID.NotFound"),
        ("ec2", "CreateTags", "InvalidGroup.NotFound"),
        ("ec2", "AttachInternetGateway", "InvalidInternetGatewayID.NotFound"),
        ("ec2", "CreateRoute", "InvalidRouteTableID.NotFound"),
        ("ec2", "DescribeLaunchTemplateVersions", "InvalidLaunchTemplateId.NotFound"),
        ("iam", "PutRolePolicy", "NoSuchEntity"), ("iam", "AddRoleToInstanceProfile", "NoSuchEntity"),
        ("ecs", "RegisterTaskDefinition", "ClientException"),
        ("ecs", "CreateCluster", "InvalidParameterException"),
        ("ecs", "CreateService", "ClusterNotFoundException"),
        ("ecs", "CreateService", "InvalidParameterException"),
        ("application-autoscaling", "RegisterScalableTarget", "ValidationException"),
        ("application-autoscaling", "PutScalingPolicy", "ObjectNotFoundException"),
        ("logs", "PutRetentionPolicy", "ResourceNotFoundException"),
        ("s3", "PutBucketTagging", "NoSuchBucket"),
        ("route53", "ChangeTagsForResource", "NoSuchHealthCheck"),
        ("iam", "DeleteRole", "DeleteConflict"), ("logs", "DeleteLogGroup", "OperationAbortedException"),
    ] and state["faulted"] == 19 and state["hidden"] == len(later) + 2 and state["log"][10]["id"] == cluster,
        f"consistency counters and log: {state}")
    time.sleep(max(0.0, young + lag + 0.05 - time.monotonic()))
    for what, value, listing in later:
        check(value in listing(), f"consistency listing lag: {what} lists {value} once older than the lag")

    # rate 0: nothing is faulted; DELETE turns it off.
    shim("consistency", {"rate": 0.0})
    calm = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    check(fault_of(lambda: ec2.describe_vpc_attribute(VpcId=calm, Attribute="enableDnsSupport")) is None,
          "consistency rate 0 faults nothing")
    off = shim("consistency", method="DELETE")
    check(off["on"] is False and shim("consistency")["tracked"] == 0, f"consistency off: {off}")

    # Clean up (the mode is off).
    ecs.delete_service(cluster=cluster, service="web", force=True)
    ecs.delete_cluster(cluster=cluster)
    elb.delete_load_balancer(LoadBalancerArn=lb)
    elb.delete_target_group(TargetGroupArn=tg)
    iam.remove_role_from_instance_profile(InstanceProfileName=role, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=role)
    iam.delete_role_policy(RoleName=role, PolicyName="p")
    iam.delete_role(RoleName=role)
    s3.delete_bucket(Bucket=bucket)
    logs.delete_log_group(logGroupName=group)
    r53.delete_health_check(HealthCheckId=hc)
    sns.delete_topic(TopicArn=topic)
    cbor.call("DeleteAlarms", {"AlarmNames": [f"cm-old-{u}", f"cm-new-{u}"]})
    ec2.delete_vpc(VpcId=calm)


if __name__ == "__main__":
    sys.exit(main())
