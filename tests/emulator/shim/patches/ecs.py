"""ECS patches (E1-E11). The table in tests/emulator/README.md is written from these."""

from __future__ import annotations

import contextlib
import threading
import uuid

from ..registry import patch

DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


# How new ECS deployments end (POST /_shim/rollout): moto has no tasks, so a test picks the
# outcome a real rollout would have reached. COMPLETED (default), FAILED (as after a circuit
# breaker rollback) or IN_PROGRESS (never settles). Each shim scope has its own (the
# middleware's Scope.rollout), set for the thread that serves one of its calls.
ROLLOUT = {"state": "COMPLETED", "reason": None}
_serving = threading.local()


@contextlib.contextmanager
def current_rollout(rollout: dict):
    """While serving one call: the rollout outcome of the scope it belongs to."""
    _serving.rollout = rollout
    try:
        yield
    finally:
        _serving.rollout = None


def rollout() -> dict:
    return getattr(_serving, "rollout", None) or ROLLOUT


@patch(
    "E1", "ecs",
    moto=(
        "CreateService drops `deploymentConfiguration`, `capacityProviderStrategy`, "
        "`healthCheckGracePeriodSeconds`, `enableExecuteCommand`. It reports `launchType: \"EC2\"` "
        "even with a capacity provider strategy. It has no `createdAt`. UpdateService stores "
        "`taskDefinition` as given (e.g. `web`), not as an ARN. It applies fields before "
        "validating."
    ),
    emulator=(
        "These fields are stored and returned. `deploymentConfiguration` defaults to "
        "`{deploymentCircuitBreaker:{enable:false,rollback:false}, maximumPercent:200, "
        "minimumHealthyPercent:100}`. UpdateService merges a partial one. With no strategy and no "
        "launchType, the cluster's default strategy is used. If there is a strategy, `launchType` "
        "is omitted. Strategy items always have `weight` and `base`. `taskDefinition` is always "
        "the full ARN. Invalid task definitions or subnets are rejected before any change."
    ),
)
@patch(
    "E2", "ecs",
    moto=(
        "Services stay at `runningCount 0`, `pendingCount = desired`, with the deployment "
        "`IN_PROGRESS`. UpdateService never makes a new deployment (except `forceNewDeployment`)."
    ),
    emulator=(
        "Services are always steady: `runningCount == desiredCount`, `pendingCount 0`. There is "
        "one deployment: `status PRIMARY`, `rolloutState COMPLETED`, counts = desired, `id "
        "ecs-svc/<19 digits>`. Changing taskDefinition, networkConfiguration, platformVersion or "
        "capacityProviderStrategy (or `forceNewDeployment`) replaces it with a new id. Scaling "
        "keeps the id. A \"has reached a steady state.\" event is added."
    ),
)
@patch(
    "E3", "ecs",
    moto="CreateService on an existing ACTIVE name silently replaces the service.",
    emulator="`InvalidParameterException: Creation of service was not idempotent.`",
)
@patch(
    "E4", "ecs",
    moto="Deleted (INACTIVE) services stay in ListServices and can be updated or deleted again.",
    emulator=(
        "ListServices omits them. UpdateService/DeleteService → `ServiceNotActiveException`. "
        "Counts drop to 0. DescribeServices still shows `status: INACTIVE`, as real ECS does. The "
        "same name can be created again."
    ),
)
@patch(
    "E9", "ecs",
    moto=(
        "CreateService and UpdateService drop `serviceConnectConfiguration`: deployments have "
        "none, no namespace is checked and nothing is registered in Cloud Map."
    ),
    emulator=(
        "It is kept on each deployment (DescribeServices shows the primary's), as ECS does; a "
        "change makes a new deployment. The namespace (name or ARN) must exist in Cloud Map "
        "(`NamespaceNotFoundException`) and each `portName` must name a port mapping of the task "
        "definition (`InvalidParameterException`). Each server is registered as a Cloud Map "
        "service in the namespace (so DeleteNamespace is refused while it is there); "
        "DeleteService, or turning Service Connect off, deregisters it."
    ),
)
def services() -> None:
    """E1-E4, E9: CreateService, UpdateService, DeleteService and ListServices (one wrapper
    each)."""
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
        state = rollout()["state"] if (new_deployment or old is None) else (old or {}).get("rolloutState", "COMPLETED")
        settled = state == "COMPLETED"
        reason = rollout()["reason"] if not settled else None
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
        if svc.service_connect_configuration:  # E9
            svc.deployments[0]["serviceConnectConfiguration"] = svc.service_connect_configuration
        svc.events.insert(0, {
            "id": str(uuid.uuid4()),
            "createdAt": now,
            "message": f"(service {svc.name}) has reached a steady state." if settled
            else f"(service {svc.name}) deployment {dep_id} {'failed: ' + (reason or 'tasks failed to start') if state == 'FAILED' else 'is in progress'}.",
        })

    def cloudmap(backend, namespace: str):
        """E9: the Cloud Map backend and namespace a Service Connect namespace (name or ARN)
        names, in the ECS backend's account and region."""
        from moto.servicediscovery.models import servicediscovery_backends
        sd = servicediscovery_backends[backend.account_id][backend.region_name]
        for ns in sd.namespaces.values():
            if namespace in (ns.arn, ns.name):
                return sd, ns
        raise ECSException("NamespaceNotFoundException", "The specified namespace was not found.")

    def check_service_connect(backend, sc, task_definition: str) -> None:
        """E9: the namespace exists and every portName is a port mapping's name."""
        if not sc or not sc.get("enabled"):
            return
        if sc.get("namespace"):
            cloudmap(backend, sc["namespace"])
        td = backend.describe_task_definition(task_definition)
        names = {pm.get("name") for cd in td.container_definitions
                 for pm in cd.get("portMappings") or []}
        for server in sc.get("services") or []:
            if server.get("portName") not in names:
                raise InvalidParameterException(
                    f"The portName {server.get('portName')} does not match any port mapping "
                    f"name in the task definition {td.arn}.")

    def register_servers(backend, svc) -> None:
        """E9: ECS keeps a Cloud Map service per Service Connect server of the service, in the
        namespace; the ones the configuration no longer has go."""
        wanted = {}
        sc = svc.service_connect_configuration
        if sc and sc.get("enabled") and sc.get("namespace"):
            sd, ns = cloudmap(backend, sc["namespace"])
            for server in sc.get("services") or []:
                wanted[(ns.id, server.get("discoveryName") or server.get("portName"))] = sd
        kept = {}
        for key, (sd, sd_id) in (svc.service_connect_servers or {}).items():
            if key in wanted:
                kept[key] = (sd, sd_id)
            elif sd_id in sd.services:
                sd.delete_service(sd_id)
        for (ns_id, name), sd in wanted.items():
            if (ns_id, name) not in kept:
                made = sd.create_service(
                    name=name, namespace_id=ns_id, creator_request_id=str(uuid.uuid4()),
                    description=f"ECS Service Connect: {svc.name}", dns_config=None,
                    health_check_config=None, health_check_custom_config=None,
                    tags=[{"Key": "AmazonECSManaged", "Value": "true"}], service_type="HTTP")
                kept[(ns_id, name)] = (sd, made.id)
        svc.service_connect_servers = kept

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
        sc = self._get_param("serviceConnectConfiguration")
        if self._get_param("taskDefinition"):
            check_service_connect(backend, sc, self._get_param("taskDefinition"))
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
        svc.service_connect_configuration = sc if sc and sc.get("enabled") else None
        register_servers(backend, svc)
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
        sc = params.pop("serviceConnectConfiguration", None)
        if sc is not None:
            check_service_connect(backend, sc, td_arn or svc.task_definition)
        before = (svc.task_definition, svc.platform_version, svc.network_configuration,
                  svc.capacity_provider_strategy, svc.service_connect_configuration)
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
        if sc is not None:  # E9: `enabled: false` turns it off
            svc.service_connect_configuration = sc if sc.get("enabled") else None
            register_servers(backend, svc)
        after = (svc.task_definition, svc.platform_version, svc.network_configuration,
                 svc.capacity_provider_strategy, svc.service_connect_configuration)
        make_steady(svc, new_deployment=before != after or bool(params.get("forceNewDeployment")))
        return result

    orig_delete = Backend.delete_service

    def delete_service(self, cluster_name, service_name, force):
        """E4."""
        if self._get_service(cluster_name, service_name).status != "ACTIVE":
            raise not_active()
        svc = orig_delete(self, cluster_name, service_name, force)
        svc.service_connect_configuration = None  # E9: its Cloud Map services go with it
        register_servers(self, svc)
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

    # Service objects created before a patch field existed would miss the attribute.
    models.Service.capacity_provider_strategy = None
    models.Service.deployment_configuration = None
    models.Service.health_check_grace_period_seconds = None
    models.Service.enable_execute_command = False
    models.Service.created_at = None
    models.Service.service_connect_configuration = None
    models.Service.service_connect_servers = None

    R.create_service, R.update_service = create_service, update_service
    Backend.delete_service, Backend.list_services = delete_service, list_services


@patch(
    "E5", "ecs",
    moto=(
        "DeleteCluster succeeds with active services. An INACTIVE cluster stays in ListClusters "
        "and accepts CreateService. `activeServicesCount` is always 0."
    ),
    emulator=(
        "`ClusterContainsServicesException`. An INACTIVE cluster is `ClusterNotFoundException` "
        "everywhere except DescribeClusters, which shows `status: INACTIVE`. It is not in "
        "ListClusters. DescribeClusters computes `activeServicesCount` and `runningTasksCount` (= "
        "sum of desired counts). Tasks from RunTask are not counted."
    ),
)
def clusters() -> None:
    """E5: DescribeClusters, DeleteCluster, ListClusters and every lookup of a cluster."""
    from moto.ecs import models
    from moto.ecs.exceptions import ECSException

    Backend = models.EC2ContainerServiceBackend

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

    orig_delete_cluster = Backend.delete_cluster

    def delete_cluster(self, cluster_str):
        """E5."""
        if active_services(self, self._get_cluster(cluster_str)):
            raise ECSException("ClusterContainsServicesException",
                               "The Cluster cannot be deleted while Services are active.")
        return orig_delete_cluster(self, cluster_str)

    Backend.describe_clusters, Backend.delete_cluster = describe_clusters, delete_cluster
    Backend._get_cluster, Backend.list_clusters = get_cluster, list_clusters


@patch(
    "E6", "ecs",
    moto="RegisterTaskDefinition response has no `tags`.",
    emulator="`tags` is returned.",
)
def task_definition_tags() -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse as R

    orig_register = R.register_task_definition

    def register_task_definition(self):
        """E6: the response carries the tags, like real ECS."""
        result = orig_register(self)
        if self._get_param("tags"):
            result.result["tags"] = self._get_param("tags")
        return result

    R.register_task_definition = register_task_definition


@patch(
    "E7", "ecs",
    moto=(
        "CreateCluster on an existing name replaces the cluster, which drops its tags and capacity "
        "providers."
    ),
    emulator="Returns the existing ACTIVE cluster unchanged.",
)
def idempotent_create_cluster() -> None:
    from moto.ecs import models

    Backend = models.EC2ContainerServiceBackend

    orig_create_cluster = Backend.create_cluster

    def create_cluster(self, cluster_name, *args, **kwargs):
        """E7: CreateCluster on an ACTIVE cluster returns it unchanged (moto replaces it)."""
        existing = self.clusters.get(cluster_name)
        if existing is not None and existing.status == "ACTIVE":
            return existing
        return orig_create_cluster(self, cluster_name, *args, **kwargs)

    Backend.create_cluster = create_cluster


@patch(
    "E8", "ecs",
    moto="ListTaskDefinitionFamilies ignores `status`: a family whose revisions are all INACTIVE is still listed as ACTIVE.",
    emulator=(
        "`status` is honored: ACTIVE lists the families with an ACTIVE revision, INACTIVE those "
        "without one, ALL (the default) every family."
    ),
)
def task_definition_family_status() -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse as R
    from moto.core.responses import ActionResult

    def list_task_definition_families(self):
        """E8: the families by the status of their revisions, like real ECS."""
        prefix = self._get_param("familyPrefix")
        status = self._get_param("status") or "ALL"
        out = []
        for family, revisions in self.ecs_backend.task_definitions.items():
            if prefix is not None and not family.startswith(prefix):
                continue
            active = any(td.status == "ACTIVE" for td in revisions.values())
            if status == "ALL" or (status == "ACTIVE") == active:
                out.append(family)
        return ActionResult({"families": out})

    R.list_task_definition_families = list_task_definition_families


@patch(
    "E10", "ecs",
    moto="DescribeCapacityProviders without `capacityProviders` fails (HTTP 500).",
    emulator=(
        "Without names it answers every capacity provider of the region, as real ECS does "
        "(in one page)."
    ),
)
def capacity_providers_listing() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend as B

    original = B.describe_capacity_providers

    def describe_capacity_providers(self, names):
        """E10: no names lists them all."""
        if not names:
            names = list(self.capacity_providers)
        return original(self, names)

    B.describe_capacity_providers = describe_capacity_providers


@patch(
    "E11", "ecs",
    moto=(
        "DescribeServices, DescribeClusters, DescribeTasks and DescribeTaskSets keep whether "
        "`include: [TAGS]` was asked in a dictionary of the response class, shared by every "
        "request: a call without it, answered at the same time, drops the tags from another's "
        "answer (a stack's own services then look untagged)."
    ),
    emulator=(
        "Each request keeps its own copy of that dictionary: a call's answer has the tags "
        "exactly when it asked for them, whatever runs beside it."
    ),
)
def include_tags_per_request() -> None:
    from moto.core.responses import BaseResponse

    def own(self) -> dict:
        if "RESPONSE_KEY_PATH_TO_TRANSFORMER" not in self.__dict__:
            self.RESPONSE_KEY_PATH_TO_TRANSFORMER = dict(type(self).RESPONSE_KEY_PATH_TO_TRANSFORMER)
        return self.RESPONSE_KEY_PATH_TO_TRANSFORMER

    orig_include = BaseResponse._include_in_response
    orig_exclude = BaseResponse._exclude_from_response

    def _include_in_response(self, response_key_path):
        """E11: on this request's own copy (moto mutates a dictionary of the class)."""
        own(self)
        return orig_include(self, response_key_path)

    def _exclude_from_response(self, response_key_path):
        """E11: on this request's own copy (moto mutates a dictionary of the class)."""
        own(self)
        return orig_exclude(self, response_key_path)

    BaseResponse._include_in_response = _include_in_response
    BaseResponse._exclude_from_response = _exclude_from_response
