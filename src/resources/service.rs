//! `aws_ecs_service`: the Fargate service behind the ALB. Task definition, count, capacity
//! mix, rollout settings, network and grace-period changes update it in place; cluster and
//! load balancer wiring replace it.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, DeploymentAlarms,
    DeploymentCircuitBreaker, DeploymentConfiguration, LoadBalancer, NetworkConfiguration,
    PropagateTags, ServiceConnectClientAlias, ServiceConnectConfiguration, ServiceConnectService,
    ServiceField,
};

use super::common::{b, client_token, found_id, i, ignore_missing, s, strs};
use super::ecs::{ecs_owner, ecs_tags};
use super::task_definition::CONTAINER;
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::names::service_id;
use crate::spec::{ManagedAlarm, View};
use crate::vmap;

pub struct Service;

pub const KIND: &str = "aws_ecs_service";
pub const ID: &str = "service";

const NETWORK: &[&str] = &["subnets", "security_groups", "assign_public_ip"];

#[async_trait]
impl Kind<Clients> for Service {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["ecs:DescribeServices", "ecs:ListServices"],
            write: &[
                "ecs:CreateService",
                "ecs:UpdateService",
                "ecs:DeleteService",
                "ecs:TagResource",
                "ecs:UntagResource",
            ],
            arns: &["arn:aws:ecs:{region}:*:service/*/{name}"],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::ecs::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            super::cluster::KIND,
            super::namespace::KIND,
            super::capacity_provider::KIND,
            super::task_definition::KIND,
            super::listener::KIND,
            super::listener_rule::KIND,
            super::target_group::KIND,
            super::security_group::KIND,
            super::subnet::KIND,
            super::route_table::KIND,
            super::vpc_endpoint::KIND,
            super::metric_alarm::KIND,
        ]
    }

    fn made_after(&self) -> &'static [&'static str] {
        // DeleteService (forced) drains the tasks, deregistering them from the target group;
        // the listener, its rules, the load balancer and the alarms can go meanwhile, and the
        // private subnets' routes out (their NAT gateways take a minute to delete).
        &[
            super::listener::KIND,
            super::listener_rule::KIND,
            super::metric_alarm::KIND,
            super::route_table::KIND,
        ]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let svc = v.service();
        let d = &svc.deployment;
        let managed = rollback_managed(v);
        let rollback_alarms = d
            .rollback_alarms
            .iter()
            .cloned()
            .chain(managed.iter().map(|a| v.service_names().alarm(a.key())));
        let deployment = vmap! {
            "circuit_breaker" => d.circuit_breaker,
            "rollback" => d.circuit_breaker,
            "min_healthy_percent" => d.min_healthy_percent,
            "max_percent" => d.max_percent,
            "rollback_alarms" => Value::set(rollback_alarms),
        };
        let mut node = Node::new(KIND, v.id(ID), v.service_names().service())
            .attr("cluster", Value::reference(super::cluster::ID, "arn"))
            .attr(
                "task_definition",
                Value::reference(&v.id(super::task_definition::ID), "arn"),
            )
            .attr("desired_count", svc.desired_count)
            .attr("capacity_provider_strategy", strategy(v))
            .attr("deployment", deployment)
            .attr("subnets", super::network::task_subnets(v))
            .attr("security_groups", Value::set(security_groups(v)))
            .attr("assign_public_ip", svc.assign_public_ip)
            .attr("service_connect", service_connect(v))
            .after_all(super::network::task_routes(v))
            .force_new(&["cluster", "target_group_arn", "container_port"]);
        if v.behind_load_balancer() {
            node = node
                .attr(
                    "target_group_arn",
                    Value::reference(&v.id(super::target_group::ID), "arn"),
                )
                .attr("container_port", svc.port)
                .attr("health_check_grace_period", svc.health_check_grace_period)
                // The target group must be attached to the ALB (by the listener) before a
                // service can register targets in it.
                .after(super::listener::ID);
        } else {
            // An internal service has no load balancer (and ECS takes a grace period only
            // with one).
            node = node
                .attr("target_group_arn", Value::Null)
                .attr("container_port", Value::Null)
                .attr("health_check_grace_period", 0);
        }
        if svc.ec2_capacity.is_some() {
            node = node.after(v.id(super::capacity_provider::ID));
        }
        // A named service's target group is the load balancer's once its rule is there.
        if svc.route.as_ref().is_some_and(|r| !r.is_default()) {
            node = node.after(v.id(super::listener_rule::ID));
        }
        for a in managed {
            node = node.after(v.id(&super::metric_alarm::managed_id(a)));
        }
        if let Some(a) = &svc.autoscaling {
            node.ignore_drift.push((
                "desired_count",
                format!("autoscaling owns the desired count ({}..{})", a.min, a.max),
            ));
        }
        vec![node]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let found = find(c, stack, desired).await?;
        let mut out = Vec::new();
        for svc in found.iter().filter(|s| s.status() != Some("INACTIVE")) {
            let own = ecs_owner(stack, svc.tags());
            let name = svc.service_name().unwrap_or_default().to_string();
            let Some(id) = found_id(&own, desired, &name, || id_of(stack, &name)) else {
                continue;
            };
            let vpc = svc
                .network_configuration()
                .and_then(|n| n.awsvpc_configuration());
            let lb = svc.load_balancers().first();
            let arn = svc.service_arn().unwrap_or_default().to_string();
            let attrs = Attrs::from([
                ("tags".into(), own.tags.clone()),
                ("cluster".into(), Value::opt_str(svc.cluster_arn())),
                (
                    "task_definition".into(),
                    Value::opt_str(svc.task_definition()),
                ),
                (
                    "desired_count".into(),
                    Value::Int(svc.desired_count().into()),
                ),
                (
                    "capacity_provider_strategy".into(),
                    observed_strategy(svc.capacity_provider_strategy()),
                ),
                (
                    "deployment".into(),
                    observed_deployment(svc.deployment_configuration()),
                ),
                (
                    "subnets".into(),
                    Value::set(
                        vpc.map(|v| v.subnets())
                            .unwrap_or_default()
                            .iter()
                            .map(String::as_str),
                    ),
                ),
                (
                    "security_groups".into(),
                    Value::set(
                        vpc.map(|v| v.security_groups())
                            .unwrap_or_default()
                            .iter()
                            .map(String::as_str),
                    ),
                ),
                (
                    "assign_public_ip".into(),
                    Value::Bool(
                        vpc.and_then(|v| v.assign_public_ip()) == Some(&AssignPublicIp::Enabled),
                    ),
                ),
                (
                    "target_group_arn".into(),
                    Value::opt_str(lb.and_then(|l| l.target_group_arn())),
                ),
                (
                    "container_port".into(),
                    Value::from(lb.and_then(|l| l.container_port()).map(i64::from)),
                ),
                (
                    "health_check_grace_period".into(),
                    Value::Int(svc.health_check_grace_period_seconds().unwrap_or(0).into()),
                ),
                ("service_connect".into(), observed_service_connect(svc)),
            ]);
            out.push(Observed {
                id,
                kind: KIND,
                name: name.clone(),
                outputs: Outputs::from([
                    ("arn".into(), arn.clone()),
                    ("name".into(), name.clone()),
                ]),
                physical_id: arn,
                attrs,
                owned: own.owned,
            });
        }
        Ok(out)
    }

    /// ListServices of the stack's cluster alone: a service's name is unique in its
    /// cluster, and every service of the stack's cluster is the stack's.
    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        _: &[&Node],
        _: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        Ok(list(c, stack)
            .await?
            .into_iter()
            .map(|arn| {
                let name = name_in_arn(&arn).to_string();
                Observed {
                    id: id_of(stack, &name),
                    kind: KIND,
                    physical_id: arn,
                    name,
                    attrs: Attrs::new(),
                    outputs: Outputs::new(),
                    owned: true,
                }
            })
            .collect())
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let r = c
            .ecs
            .create_service()
            // The same token on every attempt of this call: a retry after an attempt whose
            // answer was lost gets the service that attempt made, not "not idempotent".
            .client_token(client_token(&node.name))
            .cluster(s(attrs, "cluster")?)
            .service_name(&node.name)
            .task_definition(s(attrs, "task_definition")?)
            .desired_count(i(attrs, "desired_count")?)
            .set_capacity_provider_strategy(Some(strategy_items(attrs)))
            .deployment_configuration(deployment_config(attrs))
            .network_configuration(network(attrs)?)
            .set_load_balancers(load_balancers(attrs)?)
            .set_health_check_grace_period_seconds(grace_period(attrs)?)
            .set_service_connect_configuration(service_connect_config(attrs)?)
            .propagate_tags(PropagateTags::Service)
            .enable_ecs_managed_tags(true)
            .set_tags(Some(ecs_tags(stack, node)))
            .send()
            .await
            .ctx(|| format!("create service {}", node.name))?;
        let svc = r.service().ok_or("CreateService returned no service")?;
        Ok(outputs(svc, &node.name))
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
        cur: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        let has = |k: &str| changed.iter().any(|c| c == k);
        let mut req = c
            .ecs
            .update_service()
            .cluster(s(attrs, "cluster")?)
            .service(&node.name);
        if has("task_definition") {
            req = req.task_definition(s(attrs, "task_definition")?);
        }
        if has("desired_count") {
            req = req.desired_count(i(attrs, "desired_count")?);
        }
        if NETWORK.iter().any(|k| has(k)) {
            req = req.network_configuration(network(attrs)?);
        }
        if has("capacity_provider_strategy") {
            // A new mix takes effect through a new deployment; the service stays.
            req = req
                .set_capacity_provider_strategy(Some(strategy_items(attrs)))
                .force_new_deployment(true);
        }
        if has("deployment") {
            req = req.deployment_configuration(deployment_config(attrs));
        }
        if has("health_check_grace_period") {
            req = req.set_health_check_grace_period_seconds(grace_period(attrs)?);
        }
        if has("service_connect") {
            // Off: an empty configuration, `enabled: false`.
            req = req.service_connect_configuration(
                service_connect_config(attrs)?.unwrap_or(
                    ServiceConnectConfiguration::builder()
                        .enabled(false)
                        .build(),
                ),
            );
        }
        let r = req
            .send()
            .await
            .ctx(|| format!("update service {}", node.name))?;
        match r.service() {
            Some(svc) => Ok(outputs(svc, &node.name)),
            None => Ok(cur.outputs.clone()),
        }
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let cluster = cur
            .attrs
            .get("cluster")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // Forced: no scaling to zero first. ECS stops a deleted service's tasks through its
        // scheduler (the service is DRAINING), and a task it stops leaves its target group
        // after the group's deregistration delay, as it does when scaled in; the wait below
        // lasts until they are stopped.
        let r = c
            .ecs
            .delete_service()
            .cluster(cluster)
            .service(&cur.physical_id)
            .force(true)
            .send()
            .await
            .ctx(|| format!("delete service {}", cur.name));
        ignore_missing(r)?;
        wait_inactive(c, cluster, &cur.physical_id, &cur.name).await
    }
}

/// The managed alarms that roll a deployment back (`deployment.rollback_managed`), those of
/// them that are on. ECS watches them by name; the service waits for them through `after`
/// rather than a reference to their `name` output: the names are known, and a reference would
/// replace the service whenever an alarm is replaced (as it is with its load balancer).
fn rollback_managed(v: &View<'_>) -> Vec<ManagedAlarm> {
    let on = |k: &ManagedAlarm| {
        v.stack
            .alarms
            .as_ref()
            .is_some_and(|a| a.managed.iter().any(|x| x.alarm == *k))
    };
    v.service()
        .deployment
        .rollback_managed
        .iter()
        .copied()
        .filter(on)
        .filter(|a| v.behind_load_balancer() || !a.at_load_balancer())
        .collect()
}

/// `arn`, `name`, `cluster` and the id of the rollout just started (`deployment_id`).
fn outputs(svc: &aws_sdk_ecs::types::Service, name: &str) -> Outputs {
    let mut o = Outputs::from([
        (
            "arn".into(),
            svc.service_arn().unwrap_or_default().to_string(),
        ),
        ("name".into(), name.to_string()),
        (
            "cluster".into(),
            svc.cluster_arn().unwrap_or_default().to_string(),
        ),
    ]);
    if let Some(id) = super::ecs::primary_deployment(svc) {
        o.insert("deployment_id".into(), id);
    }
    o
}

/// A deleted service drains before its cluster and target group can go: wait, bounded.
async fn wait_inactive(c: &Clients, cluster: &str, arn: &str, name: &str) -> Result<(), BoxError> {
    let limit = Duration::from_secs(600);
    super::common::wait_until(
        limit,
        format!("service {name} was still draining"),
        || async {
            let r = c
                .ecs
                .describe_services()
                .cluster(cluster)
                .services(arn)
                .send()
                .await
                .ctx(|| format!("describe service {name}"));
            Ok(match r {
                Err(e) if e.is_not_found() => true,
                r => r?.services().iter().all(|s| s.status() == Some("INACTIVE")),
            })
        },
    )
    .await
}

/// On-demand Fargate first (`base` tasks), then the on-demand:Spot weights. Without a
/// `capacity` section: all on-demand Fargate. With `ec2_capacity`: the stack's EC2 provider.
fn strategy(v: &View<'_>) -> Value {
    let item = |provider: &str, base: u32, weight: u32| vmap! { "provider" => provider, "base" => base, "weight" => weight };
    if v.service().ec2_capacity.is_some() {
        return Value::set([item(&v.service_names().capacity_provider(), 0, 1)]);
    }
    let items = match &v.service().capacity {
        None => vec![item("FARGATE", 0, 1)],
        Some(c) => {
            let mut v = vec![item("FARGATE", c.base, c.on_demand_weight)];
            if c.spot_weight > 0 {
                v.push(item("FARGATE_SPOT", 0, c.spot_weight));
            }
            v
        }
    };
    Value::set(items)
}

fn observed_strategy(items: &[CapacityProviderStrategyItem]) -> Value {
    Value::set(items.iter().map(|i| {
        vmap! { "provider" => i.capacity_provider(), "base" => i64::from(i.base()), "weight" => i64::from(i.weight()) }
    }))
}

fn strategy_items(attrs: &Attrs) -> Vec<CapacityProviderStrategyItem> {
    attrs
        .get("capacity_provider_strategy")
        .map(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(Value::as_map)
        .filter_map(|m| {
            let n = |k: &str| m.get(k).and_then(Value::as_int).unwrap_or(0) as i32;
            CapacityProviderStrategyItem::builder()
                .capacity_provider(m.get("provider")?.as_str()?)
                .base(n("base"))
                .weight(n("weight"))
                .build()
                .ok()
        })
        .collect()
}

fn observed_deployment(d: Option<&DeploymentConfiguration>) -> Value {
    let cb = d.and_then(|d| d.deployment_circuit_breaker());
    let alarms = d.and_then(|d| d.alarms()).filter(|a| a.enable());
    vmap! {
        "circuit_breaker" => cb.is_some_and(|c| c.enable()),
        "rollback" => cb.is_some_and(|c| c.rollback()),
        "min_healthy_percent" => i64::from(d.and_then(|d| d.minimum_healthy_percent()).unwrap_or(100)),
        "max_percent" => i64::from(d.and_then(|d| d.maximum_percent()).unwrap_or(200)),
        "rollback_alarms" => Value::set(alarms.map(|a| a.alarm_names()).unwrap_or_default().iter().map(String::as_str)),
    }
}

fn deployment_config(attrs: &Attrs) -> DeploymentConfiguration {
    let d = attrs
        .get("deployment")
        .and_then(Value::as_map)
        .cloned()
        .unwrap_or_default();
    let flag = |k: &str| d.get(k).and_then(Value::as_bool).unwrap_or(false);
    let num = |k: &str, dflt: i32| {
        d.get(k)
            .and_then(Value::as_int)
            .map(|v| v as i32)
            .unwrap_or(dflt)
    };
    let alarms: Vec<String> = d
        .get("rollback_alarms")
        .map(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let mut b = DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(flag("circuit_breaker"))
                .rollback(flag("rollback"))
                .build(),
        )
        .minimum_healthy_percent(num("min_healthy_percent", 100))
        .maximum_percent(num("max_percent", 200));
    if !alarms.is_empty() {
        b = b.alarms(
            DeploymentAlarms::builder()
                .set_alarm_names(Some(alarms))
                .enable(true)
                .rollback(true)
                .build()
                .expect("alarm names, enable and rollback are set"),
        );
    }
    b.build()
}

/// The service's own group; with named services also the group of every task of the stack,
/// which the other services admit (Service Connect).
fn security_groups(v: &View<'_>) -> Vec<Value> {
    let mut groups = vec![Value::reference(
        &v.id(super::security_group::SERVICE_ID),
        "id",
    )];
    if v.stack.named_services {
        groups.push(Value::reference(super::security_group::TASKS_ID, "id"));
    }
    groups
}

/// Named services: each is a Service Connect client of the stack's namespace and a server
/// under its own name at its port (`http://<service>:<port>`). `Null` in the one-service form.
fn service_connect(v: &View<'_>) -> Value {
    if !v.stack.named_services {
        return Value::Null;
    }
    let name = v.service_name();
    vmap! {
        "namespace" => Value::reference(super::namespace::ID, "arn"),
        "services" => Value::List(vec![vmap! {
            "port_name" => super::ecs::PORT_NAME,
            "discovery_name" => name,
            "dns_name" => name,
            "port" => v.service().port,
        }]),
    }
}

/// What the primary deployment runs with (ECS keeps Service Connect per deployment).
fn observed_service_connect(svc: &aws_sdk_ecs::types::Service) -> Value {
    let primary = svc
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    let Some(sc) = primary
        .and_then(|d| d.service_connect_configuration())
        .filter(|sc| sc.enabled())
    else {
        return Value::Null;
    };
    let services = sc
        .services()
        .iter()
        .flat_map(|s| {
            let aliases = s.client_aliases();
            let alias = aliases.first();
            [vmap! {
                "port_name" => s.port_name(),
                "discovery_name" => Value::opt_str(s.discovery_name()),
                "dns_name" => Value::opt_str(alias.and_then(|a| a.dns_name())),
                "port" => Value::from(alias.map(|a| i64::from(a.port()))),
            }]
        })
        .collect();
    vmap! {
        "namespace" => Value::opt_str(sc.namespace()),
        "services" => Value::List(services),
    }
}

fn service_connect_config(attrs: &Attrs) -> Result<Option<ServiceConnectConfiguration>, BoxError> {
    let Some(sc) = attrs.get("service_connect").and_then(Value::as_map) else {
        return Ok(None);
    };
    let text = |m: &std::collections::BTreeMap<String, Value>, k: &str| {
        m.get(k).and_then(Value::as_str).map(str::to_string)
    };
    let mut b = ServiceConnectConfiguration::builder()
        .enabled(true)
        .set_namespace(text(sc, "namespace"));
    for svc in sc
        .get("services")
        .map(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(Value::as_map)
    {
        let port = svc.get("port").and_then(Value::as_int).unwrap_or(0) as i32;
        b = b.services(
            ServiceConnectService::builder()
                .set_port_name(text(svc, "port_name"))
                .set_discovery_name(text(svc, "discovery_name"))
                .client_aliases(
                    ServiceConnectClientAlias::builder()
                        .port(port)
                        .set_dns_name(text(svc, "dns_name"))
                        .build()?,
                )
                .build()?,
        );
    }
    Ok(Some(b.build()))
}

/// The target group the tasks register in; none for an internal service.
fn load_balancers(attrs: &Attrs) -> Result<Option<Vec<LoadBalancer>>, BoxError> {
    let Some(tg) = attrs.get("target_group_arn").and_then(Value::as_str) else {
        return Ok(None);
    };
    Ok(Some(vec![LoadBalancer::builder()
        .target_group_arn(tg)
        .container_name(CONTAINER)
        .container_port(i(attrs, "container_port")?)
        .build()]))
}

/// The grace period, which ECS takes only for a service with a load balancer.
fn grace_period(attrs: &Attrs) -> Result<Option<i32>, BoxError> {
    if attrs
        .get("target_group_arn")
        .and_then(Value::as_str)
        .is_none()
    {
        return Ok(None);
    }
    Ok(Some(i(attrs, "health_check_grace_period")?))
}

fn network(attrs: &Attrs) -> Result<NetworkConfiguration, BoxError> {
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(strs(attrs, "subnets")))
                .set_security_groups(Some(strs(attrs, "security_groups")))
                .assign_public_ip(if b(attrs, "assign_public_ip") {
                    AssignPublicIp::Enabled
                } else {
                    AssignPublicIp::Disabled
                })
                .build()?,
        )
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::metric_alarm::tests::model;

    fn rollback_alarms(n: &Node) -> Value {
        n.attrs["deployment"].as_map().unwrap()["rollback_alarms"].clone()
    }

    #[test]
    fn managed_rollback_alarms_are_watched_by_name_once_they_exist() {
        let mut m = model();
        let name = m.name.clone();
        m.service_mut(&name).deployment.rollback_alarms = vec!["team-db-errors".into()];
        let n = &crate::resources::lower_one(&Service, &m)[0];
        assert_eq!(
            rollback_alarms(n),
            Value::set(["team-db-errors", "web-target_5xx_rate"])
        );
        assert!(n.after.contains(&"alarm.target_5xx_rate".to_string()));

        // Without alarms nothing changes: only the external names, no alarm to wait for.
        m.alarms = None;
        let n = &crate::resources::lower_one(&Service, &m)[0];
        assert_eq!(rollback_alarms(n), Value::set(["team-db-errors"]));
        assert!(!n.after.iter().any(|a| a.starts_with("alarm.")));
    }
}

#[cfg(test)]
mod client_token_tests {
    #[test]
    fn a_client_token_fits_ecs_and_is_never_reused() {
        let a = super::client_token("web");
        let b = super::client_token("web");
        assert!(a.len() <= 36 && a.is_ascii(), "{a}");
        assert_ne!(a, b);
    }
}

/// The logical id of the stack's ECS service `name` that lacks a `ballast:resource` tag: the
/// one service of `service:` is named like the stack.
fn id_of(stack: &StackRef, name: &str) -> String {
    let one = crate::spec::Names::new(&stack.name, &stack.region).service();
    service_id(ID, (name != one).then_some(name))
}

/// The service name in a service ARN (`...:service/<cluster>/<name>`, or the old
/// `...:service/<name>`).
fn name_in_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The ARNs of the services in the stack's cluster (none when there is no cluster): every
/// page of ListServices.
async fn list(c: &Clients, stack: &StackRef) -> Result<Vec<String>, AwsError> {
    let cluster = crate::spec::Names::new(&stack.name, &stack.region).cluster();
    let mut pages = c
        .ecs
        .list_services()
        .cluster(&cluster)
        .max_results(100)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        match page.ctx(|| format!("list the services of cluster {cluster}")) {
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            page => out.extend(page?.service_arns.unwrap_or_default()),
        }
    }
    Ok(out)
}

/// DescribeServices of `names` in the stack's cluster, ten at a time, all at once (a name
/// AWS does not have is left out).
async fn describe(
    c: &Clients,
    stack: &StackRef,
    names: &[String],
) -> Result<Vec<aws_sdk_ecs::types::Service>, AwsError> {
    let cluster = crate::spec::Names::new(&stack.name, &stack.region).cluster();
    let cluster = &cluster;
    let found = futures::future::try_join_all(names.chunks(10).map(|chunk| async move {
        let r = c
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .ctx(|| format!("describe services {}", chunk.join(", ")));
        match r {
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            r => Ok(r?.services.unwrap_or_default()),
        }
    }))
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// The stack's services: each desired one (and the one service's) by name, and the
/// cluster's listing, at once; then those only the listing showed. A service created a
/// moment ago is found before the listing shows it.
async fn find(
    c: &Clients,
    stack: &StackRef,
    desired: &[&Node],
) -> Result<Vec<aws_sdk_ecs::types::Service>, AwsError> {
    let mut names: Vec<String> = desired.iter().map(|n| n.name.clone()).collect();
    names.push(crate::spec::Names::new(&stack.name, &stack.region).service());
    names.sort();
    names.dedup();
    let (mut found, listed) = futures::try_join!(describe(c, stack, &names), list(c, stack))?;
    let extra: Vec<String> = listed
        .iter()
        .map(|arn| name_in_arn(arn).to_string())
        .filter(|n| !names.contains(n))
        .collect();
    if !extra.is_empty() {
        found.extend(describe(c, stack, &extra).await?);
    }
    Ok(found)
}
