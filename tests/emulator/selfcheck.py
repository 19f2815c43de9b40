#!/usr/bin/env python3
"""Fast self-check of a running emulator: the /_shim/ features and every fidelity patch.

Usage: .venv/bin/python tests/emulator/selfcheck.py [--endpoint URL]
(default endpoint: $AWS_ENDPOINT_URL, else http://127.0.0.1:$BALLAST_EMULATOR_PORT or 4599)

Works in its own region (ap-southeast-2) with unique names, so it does not touch
test resources, but it resets the /_shim/stats counters: run it before tests,
not concurrently with them. Exits 1 if any check fails.
"""

import argparse
import json
import os
import sys
import time
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "ap-southeast-2"
FAILURES: list[str] = []


def check(cond, what: str) -> None:
    if not cond:
        FAILURES.append(what)
        print(f"FAIL {what}", file=sys.stderr)


def error_of(fn) -> tuple[str, int] | None:
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None


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

    print(f"emulator selfcheck: {'FAILED' if FAILURES else 'ok'} "
          f"({len(FAILURES)} failures, {time.monotonic() - started:.1f}s)")
    shim("reset", {})
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
