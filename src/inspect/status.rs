//! What `ballast status` shows: the service's tasks and rollouts, healthy targets per AZ and
//! the current scaling bounds. Read-only; rendering is in `src/render/status.rs`.

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use ipnet::Ipv4Net;
use serde::Serialize;

use crate::aws::{AwsError, Clients, Ctx};
use crate::spec::{Names, ServiceNames};

#[derive(Debug, Default, Serialize)]
pub struct StackStatus {
    pub stack: String,
    pub region: String,
    pub service: Option<ServiceHealth>,
    pub load_balancer: Option<TargetHealth>,
    pub scaling: Option<Scaling>,
    /// The load balancer answers with the maintenance page (`ballast maintenance on`).
    pub maintenance: bool,
    /// The stack's CloudWatch alarms (metric and composite), by name.
    pub alarms: Vec<AlarmState>,
    /// With `dns:`: this region's Route 53 health check as Route 53's checkers see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<crate::inspect::dns::CheckHealth>,
    /// With `dns:`: what Route 53 answers for the stack's name now (read once, the same in
    /// every region's status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<crate::inspect::dns::NameAnswer>,
    /// With named services (`services:`): each service, in name order (`service`, `scaling`
    /// and the load balancer's `by_az` are then empty: each service has its own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceStatus>,
}

/// One named service's status.
#[derive(Debug, Default, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    /// `None`: not deployed.
    pub service: Option<ServiceHealth>,
    /// Healthy targets per AZ of its target group; `None` for an internal service.
    pub targets: Option<BTreeMap<String, AzTargets>>,
    pub scaling: Option<Scaling>,
}

#[derive(Debug, Serialize)]
pub struct AlarmState {
    pub name: String,
    /// `metric` or `composite`.
    pub kind: &'static str,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct ServiceHealth {
    pub name: String,
    pub status: String,
    pub running: i32,
    pub desired: i32,
    pub pending: i32,
    pub task_definition: String,
    pub capacity: Vec<CapacityShare>,
    /// Newest first; the first is the last deployment.
    pub deployments: Vec<DeploymentState>,
    /// Latest service events, newest first.
    pub events: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CapacityShare {
    pub provider: String,
    pub base: i32,
    pub weight: i32,
}

#[derive(Debug, Serialize)]
pub struct DeploymentState {
    pub id: String,
    pub status: String,
    pub rollout_state: String,
    pub reason: String,
    pub running: i32,
    pub desired: i32,
    pub failed_tasks: i32,
}

#[derive(Debug, Serialize)]
pub struct TargetHealth {
    pub dns_name: String,
    /// AZ -> counts; every AZ the service runs in is listed, even with no targets.
    pub by_az: BTreeMap<String, AzTargets>,
}

#[derive(Debug, Default, Serialize)]
pub struct AzTargets {
    pub healthy: u32,
    pub total: u32,
    /// `ip: state (reason)` for targets that are not healthy.
    pub unhealthy: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Scaling {
    pub min: i32,
    pub max: i32,
    pub policies: Vec<String>,
    pub schedules: Vec<String>,
}

/// The stack's status in one region. `services`: the names of a stack of named services
/// (`services:`), each read apart; empty for the one-service form, read as it always was.
pub async fn read(
    c: &Clients,
    names: &Names,
    services: &[String],
) -> Result<StackStatus, AwsError> {
    let mut out = StackStatus {
        stack: names.stack.clone(),
        region: names.region.clone(),
        ..Default::default()
    };
    let lb = load_balancer(c, names).await?;
    if let Some((_, lb_arn)) = &lb {
        out.maintenance = in_maintenance(c, &names.stack, lb_arn).await?;
    }
    let dns_name = |lb: &Option<(String, String)>| lb.as_ref().map(|(dns, _)| dns.clone());
    if services.is_empty() {
        let one = service_part(c, names, &names.service(), &names.target_group()).await?;
        out.service = one.service;
        out.scaling = one.scaling;
        out.load_balancer = dns_name(&lb).map(|dns_name| TargetHealth {
            dns_name,
            by_az: one.targets.unwrap_or_default(),
        });
    } else {
        let parts = futures::future::try_join_all(services.iter().map(|name| {
            let n = ServiceNames {
                stack: names.clone(),
                service: Some(name.clone()),
            };
            async move { service_part(c, names, &n.service(), &n.target_group()).await }
        }))
        .await?;
        out.services = parts;
        out.load_balancer = dns_name(&lb).map(|dns_name| TargetHealth {
            dns_name,
            by_az: BTreeMap::new(),
        });
    }
    out.alarms = alarms(c, names).await?;
    Ok(out)
}

/// The names of the named services of the stack's cluster (ListServices), for a status by
/// stack name: empty when the cluster runs only the one service named like the stack.
pub async fn services_in_cluster(c: &Clients, names: &Names) -> Result<Vec<String>, AwsError> {
    let cluster = names.cluster();
    let mut pages = c
        .ecs
        .list_services()
        .cluster(&cluster)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page.ctx(|| format!("list services of cluster {cluster}")) {
            Err(e) if e.is_not_found() => break,
            r => r?,
        };
        found.extend(
            page.service_arns()
                .iter()
                .map(|a| a.rsplit('/').next().unwrap_or_default().to_string()),
        );
    }
    found.sort();
    if found.iter().all(|n| *n == names.service()) {
        found.clear();
    }
    Ok(found)
}

/// One ECS service: its tasks and rollouts, its targets per AZ (`None` without a target
/// group: an internal service), its scaling.
async fn service_part(
    c: &Clients,
    names: &Names,
    service: &str,
    target_group: &str,
) -> Result<ServiceStatus, AwsError> {
    let cluster = names.cluster();
    let r = c
        .ecs
        .describe_services()
        .cluster(&cluster)
        .services(service)
        .send()
        .await
        .ctx(|| format!("describe service {service}"));
    let svc = match r {
        Err(e) if e.is_not_found() => None,
        r => r?
            .services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
            .cloned(),
    };
    let mut out = ServiceStatus {
        name: service.to_string(),
        ..Default::default()
    };
    let mut subnets: Vec<String> = Vec::new();
    let mut internal = false;
    if let Some(s) = &svc {
        subnets = s
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .map(|v| v.subnets().to_vec())
            .unwrap_or_default();
        internal = s.load_balancers().is_empty();
        out.service = Some(ServiceHealth {
            name: service.to_string(),
            status: s.status().unwrap_or_default().to_string(),
            running: s.running_count(),
            desired: s.desired_count(),
            pending: s.pending_count(),
            task_definition: s
                .task_definition()
                .unwrap_or_default()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            capacity: s
                .capacity_provider_strategy()
                .iter()
                .map(|i| CapacityShare {
                    provider: i.capacity_provider().to_string(),
                    base: i.base(),
                    weight: i.weight(),
                })
                .collect(),
            deployments: s
                .deployments()
                .iter()
                .map(|d| DeploymentState {
                    id: d.id().unwrap_or_default().to_string(),
                    status: d.status().unwrap_or_default().to_string(),
                    rollout_state: d
                        .rollout_state()
                        .map(|r| r.as_str().to_string())
                        .unwrap_or_default(),
                    reason: d.rollout_state_reason().unwrap_or_default().to_string(),
                    running: d.running_count(),
                    desired: d.desired_count(),
                    failed_tasks: d.failed_tasks(),
                })
                .collect(),
            events: s
                .events()
                .iter()
                .take(5)
                .filter_map(|e| e.message().map(str::to_string))
                .collect(),
        });
    }
    let resource_id = format!("service/{cluster}/{service}");
    let (targets, scaling) = futures::try_join!(
        async {
            if internal {
                Ok(None)
            } else {
                targets(c, target_group, &subnets).await.map(Some)
            }
        },
        scaling(c, &resource_id)
    )?;
    out.targets = targets;
    out.scaling = scaling;
    Ok(out)
}

/// The scalable target of an ECS service (`service/<cluster>/<service>`), with its policies
/// and schedules; `None` without autoscaling.
async fn scaling(c: &Clients, resource_id: &str) -> Result<Option<Scaling>, AwsError> {
    let targets = c
        .appscaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(resource_id)
        .send()
        .await
        .ctx(|| format!("describe scalable target {resource_id}"))?;
    let Some(t) = targets.scalable_targets().first() else {
        return Ok(None);
    };
    let policies = c
        .appscaling
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource_id)
        .send()
        .await
        .ctx(|| format!("describe scaling policies of {resource_id}"))?;
    let schedules = c
        .appscaling
        .describe_scheduled_actions()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource_id)
        .send()
        .await
        .ctx(|| format!("describe scheduled actions of {resource_id}"))?;
    Ok(Some(Scaling {
        min: t.min_capacity(),
        max: t.max_capacity(),
        policies: policies
            .scaling_policies()
            .iter()
            .map(|p| {
                let cfg = p.target_tracking_scaling_policy_configuration();
                let metric = cfg
                    .and_then(|c| c.predefined_metric_specification())
                    .map(|m| m.predefined_metric_type().as_str().to_string())
                    .unwrap_or_default();
                format!(
                    "{} ({metric} target {})",
                    p.policy_name(),
                    cfg.map(|c| c.target_value()).unwrap_or_default()
                )
            })
            .collect(),
        schedules: schedules
            .scheduled_actions()
            .iter()
            .map(|a| {
                let action = a.scalable_target_action();
                let bound = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
                format!(
                    "{} {} {} -> min {} max {}",
                    a.scheduled_action_name(),
                    a.schedule(),
                    a.timezone().unwrap_or("UTC"),
                    bound(action.and_then(|x| x.min_capacity())),
                    bound(action.and_then(|x| x.max_capacity()))
                )
            })
            .collect(),
    }))
}

/// The alarms named `<stack>-...` that carry the stack's ownership tag (another stack's name
/// can start with this one's).
async fn alarms(c: &Clients, names: &Names) -> Result<Vec<AlarmState>, AwsError> {
    use aws_sdk_cloudwatch::types::AlarmType;
    let prefix = format!("{}-", names.stack);
    let mut found: Vec<(String, String, AlarmState)> = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let r = c
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(&prefix)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .set_next_token(next.take())
            .send()
            .await
            .ctx(|| format!("describe alarms {prefix}*"))?;
        let state = |v: Option<&aws_sdk_cloudwatch::types::StateValue>| {
            v.map(|v| v.as_str().to_string()).unwrap_or_default()
        };
        for a in r.metric_alarms() {
            found.push((
                a.alarm_arn().unwrap_or_default().to_string(),
                String::new(),
                AlarmState {
                    name: a.alarm_name().unwrap_or_default().to_string(),
                    kind: "metric",
                    state: state(a.state_value()),
                    reason: a.state_reason().unwrap_or_default().to_string(),
                },
            ));
        }
        for a in r.composite_alarms() {
            found.push((
                a.alarm_arn().unwrap_or_default().to_string(),
                String::new(),
                AlarmState {
                    name: a.alarm_name().unwrap_or_default().to_string(),
                    kind: "composite",
                    state: state(a.state_value()),
                    reason: a.state_reason().unwrap_or_default().to_string(),
                },
            ));
        }
        match r.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    let owners = futures::future::try_join_all(found.iter().map(|(arn, _, a)| async move {
        let r = c
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .ctx(|| format!("list tags of alarm {}", a.name))?;
        Ok::<_, AwsError>(r.tags().iter().any(|t| {
            t.key() == Some(crate::spec::names::TAG_STACK)
                && t.value() == Some(names.stack.as_str())
        }))
    }))
    .await?;
    let mut out: Vec<AlarmState> = found
        .into_iter()
        .zip(owners)
        .filter(|(_, owned)| *owned)
        .map(|((_, _, a), _)| a)
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Whether a listener of the load balancer is in maintenance (a fixed response and the
/// `ballast:maintenance` tag, as the listener kind sees it; or, with named services, the
/// maintenance rule first on it).
async fn in_maintenance(c: &Clients, stack: &str, lb_arn: &str) -> Result<bool, AwsError> {
    let listeners = c
        .elbv2
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .ctx(|| "describe listeners".to_string())?
        .listeners
        .unwrap_or_default();
    let arns: Vec<String> = listeners
        .iter()
        .filter_map(|l| l.listener_arn().map(str::to_string))
        .collect();
    let tags = crate::resources::elb::tags_of(c, &arns).await?;
    if listeners.iter().any(|l| {
        let t = l
            .listener_arn()
            .and_then(|a| tags.get(a))
            .map(Vec::as_slice)
            .unwrap_or_default();
        crate::resources::listener::maintenance_of(l.default_actions().first(), t).is_some()
    }) {
        return Ok(true);
    }
    // With named services: the maintenance rule first on a listener that forwards.
    let forwarding = listeners.iter().filter(|l| {
        l.default_actions()
            .first()
            .and_then(|a| a.redirect_config())
            .is_none()
    });
    let rules = futures::future::try_join_all(forwarding.map(|l| {
        crate::resources::listener_rule::maintenance_rule(
            c,
            stack,
            l.listener_arn().unwrap_or_default(),
        )
    }))
    .await?;
    Ok(rules.into_iter().any(|r| matches!(r, Ok(Some(_)))))
}

/// The stack's load balancer: its DNS name and ARN (`None`: not there).
async fn load_balancer(c: &Clients, names: &Names) -> Result<Option<(String, String)>, AwsError> {
    let alb = names.alb();
    let lb = match c
        .elbv2
        .describe_load_balancers()
        .names(&alb)
        .send()
        .await
        .ctx(|| format!("describe load balancer {alb}"))
    {
        Err(e) if e.is_not_found() => return Ok(None),
        r => r?,
    };
    Ok(lb.load_balancers().first().map(|l| {
        (
            l.dns_name().unwrap_or_default().to_string(),
            l.load_balancer_arn().unwrap_or_default().to_string(),
        )
    }))
}

/// Healthy targets per AZ of target group `tg` (every AZ of the service's subnets listed, even
/// without targets). A target's AZ comes from DescribeTargetHealth, or else from the service
/// subnet whose CIDR holds its IP.
async fn targets(
    c: &Clients,
    tg: &str,
    subnets: &[String],
) -> Result<BTreeMap<String, AzTargets>, AwsError> {
    let mut by_az: BTreeMap<String, AzTargets> = BTreeMap::new();
    let mut cidrs: Vec<(Ipv4Net, String)> = Vec::new();
    if !subnets.is_empty() {
        let r = c
            .ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnets.to_vec()))
            .send()
            .await
            .ctx(|| "describe service subnets".to_string())?;
        for s in r.subnets() {
            if let (Some(cidr), Some(az)) = (
                s.cidr_block().and_then(|c| c.parse().ok()),
                s.availability_zone(),
            ) {
                cidrs.push((cidr, az.to_string()));
                by_az.entry(az.to_string()).or_default();
            }
        }
    }
    let tg_arn = match c
        .elbv2
        .describe_target_groups()
        .names(tg)
        .send()
        .await
        .ctx(|| format!("describe target group {tg}"))
    {
        Err(e) if e.is_not_found() => None,
        r => r?
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .map(str::to_string),
    };
    if let Some(arn) = tg_arn {
        let health = c
            .elbv2
            .describe_target_health()
            .target_group_arn(&arn)
            .send()
            .await
            .ctx(|| format!("describe target health of {tg}"))?;
        for d in health.target_health_descriptions() {
            let ip = d.target().and_then(|t| t.id()).unwrap_or_default();
            let az = d
                .target()
                .and_then(|t| t.availability_zone())
                .filter(|az| *az != "all")
                .map(str::to_string)
                .or_else(|| {
                    let addr: std::net::Ipv4Addr = ip.parse().ok()?;
                    cidrs
                        .iter()
                        .find(|(n, _)| n.contains(&addr))
                        .map(|(_, az)| az.clone())
                })
                .unwrap_or_else(|| "unknown".into());
            let entry = by_az.entry(az).or_default();
            entry.total += 1;
            let state = d
                .target_health()
                .and_then(|h| h.state())
                .map(|s| s.as_str())
                .unwrap_or("unknown");
            if state == "healthy" {
                entry.healthy += 1;
            } else {
                let reason = d
                    .target_health()
                    .and_then(|h| h.description())
                    .unwrap_or_default();
                entry.unhealthy.push(format!("{ip}: {state} ({reason})"));
            }
        }
    }
    Ok(by_az)
}
