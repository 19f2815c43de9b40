//! `aws_lb_target_group`: IP targets (Fargate tasks) with the ALB health check.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroupAttribute, TargetTypeEnum,
};

use super::common::{found_id, i, ignore_missing, ownership, s};
use super::elb::{arn_suffix, elb_tags, tags_of};
use crate::aws::{AwsError, Clients, Ctx, ErrorKind, InUseRetry, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::names::{service_id, service_of};
use crate::spec::{Names, NetworkModel, View};

pub struct TargetGroup;

pub const KIND: &str = "aws_lb_target_group";
pub const ID: &str = "tg";

const HEALTH: &[&str] = &[
    "health_check_path",
    "health_check_interval",
    "health_check_timeout",
    "healthy_threshold",
    "unhealthy_threshold",
    "matcher",
];

#[async_trait]
impl Kind<Clients> for TargetGroup {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTags",
            ],
            write: &[
                "elasticloadbalancing:CreateTargetGroup",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
            ],
            arns: &["arn:aws:elasticloadbalancing:{region}:*:targetgroup/{name}/*"],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::elb::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::vpc::KIND]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        if !v.behind_load_balancer() {
            return vec![];
        }
        let hc = v
            .service()
            .target_health
            .as_ref()
            .unwrap_or(&v.stack.load_balancer.health_check);
        let vpc = match &v.network {
            NetworkModel::Create { .. } => Value::reference(super::vpc::ID, "id"),
            NetworkModel::Existing { vpc_id, .. } => Value::str(vpc_id),
        };
        vec![Node::new(KIND, v.id(ID), v.service_names().target_group())
            .attr("vpc_id", vpc)
            .attr("port", v.service().port)
            .attr("protocol", "HTTP")
            .attr("target_type", "ip")
            .attr("health_check_path", hc.path.as_str())
            .attr("health_check_interval", hc.interval)
            .attr("health_check_timeout", hc.timeout)
            .attr("healthy_threshold", hc.healthy_threshold)
            .attr("unhealthy_threshold", hc.unhealthy_threshold)
            .attr("matcher", hc.matcher.as_str())
            .attr(
                "deregistration_delay",
                v.stack.load_balancer.deregistration_delay,
            )
            .force_new(&["vpc_id", "port", "protocol", "target_type"])]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let tgs = find(c, stack, desired).await?;
        let arns: Vec<String> = tgs
            .iter()
            .filter_map(|t| t.target_group_arn().map(str::to_string))
            .collect();
        // Their tags and attributes at once. One deleted a moment ago may still be listed:
        // its attributes are not found, and it is left out.
        let attributes = futures::future::try_join_all(arns.iter().map(|arn| async move {
            let r = c
                .elbv2
                .describe_target_group_attributes()
                .target_group_arn(arn)
                .send()
                .await
                .ctx(|| format!("describe attributes of target group {}", name_in_arn(arn)));
            match r {
                Err(e) if e.is_not_found() => Ok(None),
                r => r.map(Some),
            }
        }));
        let (tags, attributes) = futures::try_join!(tags_of(c, &arns), attributes)?;
        let mut out = Vec::new();
        for (tg, ta) in tgs.into_iter().zip(attributes) {
            let Some(ta) = ta else { continue };
            let arn = tg.target_group_arn().unwrap_or_default().to_string();
            let name = tg.target_group_name().unwrap_or_default().to_string();
            let own = ownership(
                stack,
                tags.get(&arn)
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
            let Some(id) = found_id(&own, desired, &name, || {
                service_id(ID, service_of_tg(stack, &name).flatten().as_deref())
            }) else {
                continue;
            };
            let delay = ta
                .attributes()
                .iter()
                .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
                .and_then(|a| a.value())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(300);
            let int = |v: Option<i32>| Value::from(v.map(i64::from));
            let attrs = Attrs::from([
                ("tags".into(), own.tags.clone()),
                ("vpc_id".into(), Value::opt_str(tg.vpc_id())),
                ("port".into(), int(tg.port())),
                (
                    "protocol".into(),
                    Value::opt_str(tg.protocol().map(|p| p.as_str())),
                ),
                (
                    "target_type".into(),
                    Value::opt_str(tg.target_type().map(|t| t.as_str())),
                ),
                (
                    "health_check_path".into(),
                    Value::opt_str(tg.health_check_path()),
                ),
                (
                    "health_check_interval".into(),
                    int(tg.health_check_interval_seconds()),
                ),
                (
                    "health_check_timeout".into(),
                    int(tg.health_check_timeout_seconds()),
                ),
                (
                    "healthy_threshold".into(),
                    int(tg.healthy_threshold_count()),
                ),
                (
                    "unhealthy_threshold".into(),
                    int(tg.unhealthy_threshold_count()),
                ),
                (
                    "matcher".into(),
                    Value::opt_str(tg.matcher().and_then(|m| m.http_code())),
                ),
                ("deregistration_delay".into(), Value::Int(delay)),
            ]);
            out.push(Observed {
                id,
                kind: KIND,
                name,
                outputs: outputs(&arn),
                physical_id: arn,
                attrs,
                owned: own.owned,
            });
        }
        Ok(out)
    }

    /// The listing alone, without tags or attributes: a target group's name is unique in
    /// the region, so one of the stack's names that this run created or deleted is the
    /// stack's.
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
            .map(|tg| {
                let name = tg.target_group_name().unwrap_or_default().to_string();
                Observed {
                    id: service_id(ID, service_of_tg(stack, &name).flatten().as_deref()),
                    kind: KIND,
                    physical_id: tg.target_group_arn().unwrap_or_default().to_string(),
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
            .elbv2
            .create_target_group()
            .name(&node.name)
            .vpc_id(s(attrs, "vpc_id")?)
            .port(i(attrs, "port")?)
            .protocol(ProtocolEnum::from(s(attrs, "protocol")?))
            .target_type(TargetTypeEnum::from(s(attrs, "target_type")?))
            .health_check_enabled(true)
            .health_check_path(s(attrs, "health_check_path")?)
            .health_check_interval_seconds(i(attrs, "health_check_interval")?)
            .health_check_timeout_seconds(i(attrs, "health_check_timeout")?)
            .healthy_threshold_count(i(attrs, "healthy_threshold")?)
            .unhealthy_threshold_count(i(attrs, "unhealthy_threshold")?)
            .matcher(Matcher::builder().http_code(s(attrs, "matcher")?).build())
            .set_tags(Some(elb_tags(stack, node)))
            .send()
            .await
            .ctx(|| format!("create target group {}", node.name))?;
        let arn = r
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .unwrap_or_default()
            .to_string();
        set_delay(c, &arn, attrs).await?;
        Ok(outputs(&arn))
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        _: &Node,
        attrs: &Attrs,
        cur: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        let arn = &cur.physical_id;
        if changed.iter().any(|k| HEALTH.contains(&k.as_str())) {
            c.elbv2
                .modify_target_group()
                .target_group_arn(arn)
                .health_check_path(s(attrs, "health_check_path")?)
                .health_check_interval_seconds(i(attrs, "health_check_interval")?)
                .health_check_timeout_seconds(i(attrs, "health_check_timeout")?)
                .healthy_threshold_count(i(attrs, "healthy_threshold")?)
                .unhealthy_threshold_count(i(attrs, "unhealthy_threshold")?)
                .matcher(Matcher::builder().http_code(s(attrs, "matcher")?).build())
                .send()
                .await
                .ctx(|| format!("modify target group {}", cur.name))?;
        }
        if changed.iter().any(|k| k == "deregistration_delay") {
            set_delay(c, arn, attrs).await?;
        }
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        // Fails (ResourceInUse) while a listener or rule still forwards to it. The stack's own
        // listeners are deleted first, so one still there after a short while is not the
        // stack's (a load balancer that lost its tag): say which, rather than wait for it.
        let delete = || async {
            c.elbv2
                .delete_target_group()
                .target_group_arn(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("delete target group {}", cur.name))
        };
        let r = super::common::retry_in_use(SHORT_IN_USE, delete).await;
        if matches!(&r, Err(e) if e.kind() == ErrorKind::InUse) {
            let users = users(c, &cur.physical_id).await.unwrap_or_default();
            if !users.is_empty() {
                return Err(format!(
                    "target group {} is still used by {}: destroy deletes only what carries the stack's ownership tag; delete those (or give them the tag back) and run destroy again",
                    cur.name,
                    users.join(", ")
                )
                .into());
            }
            return ignore_missing(super::common::retry_in_use(IN_USE, delete).await);
        }
        ignore_missing(r)
    }
}

/// How long a target group's delete waits for listeners going away before asking who uses it.
const SHORT_IN_USE: InUseRetry = InUseRetry {
    first_pause: std::time::Duration::from_millis(500),
    max_pause: std::time::Duration::from_secs(5),
    budget: std::time::Duration::from_secs(20),
};

type Tg = aws_sdk_elasticloadbalancingv2::types::TargetGroup;

/// The target groups AWS has by the name `name` (none when it has none).
async fn by_name(c: &Clients, name: &str) -> Result<Vec<Tg>, AwsError> {
    let r = c
        .elbv2
        .describe_target_groups()
        .names(name)
        .send()
        .await
        .ctx(|| format!("describe target group {name}"));
    match r {
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        r => Ok(r?.target_groups.unwrap_or_default()),
    }
}

/// Which service of the stack a target group name is for (see `names::service_of`).
fn service_of_tg(stack: &StackRef, name: &str) -> Option<Option<String>> {
    service_of(&stack.name, name, "tg")
}

/// The region's target groups named like the stack's services' (`<stack>-tg`,
/// `<stack>-<service>-tg`), from the listing: every page of DescribeTargetGroups.
async fn list(c: &Clients, stack: &StackRef) -> Result<Vec<Tg>, AwsError> {
    let mut pages = c
        .elbv2
        .describe_target_groups()
        .page_size(400)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.ctx(|| "list target groups".into())?;
        out.extend(
            page.target_groups
                .unwrap_or_default()
                .into_iter()
                .filter(|t| {
                    t.target_group_name()
                        .is_some_and(|n| service_of_tg(stack, n).is_some())
                }),
        );
    }
    Ok(out)
}

/// The stack's target groups: the listing and the one service's by name at once, then each
/// desired one the listing did not show by its name (one created a moment ago is found before
/// the listing shows it; a converged stack needs no read by name but the one service's).
async fn find(c: &Clients, stack: &StackRef, desired: &[&Node]) -> Result<Vec<Tg>, AwsError> {
    let one = Names::new(&stack.name, &stack.region).target_group();
    let (listed, mut out) = futures::try_join!(list(c, stack), by_name(c, &one))?;
    let shown = |name: &str, tgs: &[Tg]| tgs.iter().any(|t| t.target_group_name() == Some(name));
    let mut missing: Vec<&str> = desired
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| !shown(n, &listed) && !shown(n, &out))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    let named = futures::future::try_join_all(missing.iter().map(|n| by_name(c, n))).await?;
    out.extend(named.into_iter().flatten());
    for tg in listed {
        if !out
            .iter()
            .any(|t| t.target_group_arn() == tg.target_group_arn())
        {
            out.push(tg);
        }
    }
    Ok(out)
}

/// The stack's target group by its name, if it carries the stack's ownership tag: its ARN.
pub async fn owned_by_name(c: &Clients, stack: &StackRef) -> Result<Option<String>, AwsError> {
    let name = Names::new(&stack.name, &stack.region).target_group();
    let tgs = by_name(c, &name).await?;
    let arn = tgs
        .first()
        .and_then(|t| t.target_group_arn())
        .map(str::to_string);
    let Some(arn) = arn else { return Ok(None) };
    let tags = tags_of(c, std::slice::from_ref(&arn))
        .await?
        .remove(&arn)
        .unwrap_or_default();
    Ok(tags
        .iter()
        .any(|(k, v)| k == crate::spec::names::TAG_STACK && *v == stack.name)
        .then_some(arn))
}

/// The name in a target group ARN (`...:targetgroup/<name>/<id>`).
pub fn name_in_arn(arn: &str) -> &str {
    arn.split('/').nth(1).unwrap_or(arn)
}

/// The listeners and rules that forward to the target group `arn`, named for a person.
async fn users(c: &Clients, arn: &str) -> Result<Vec<String>, AwsError> {
    let tgs = c
        .elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
        .ctx(|| format!("describe target group {arn}"))?;
    let forwards = |actions: &[aws_sdk_elasticloadbalancingv2::types::Action]| {
        actions.iter().any(|a| {
            a.target_group_arn() == Some(arn)
                || a.forward_config().is_some_and(|f| {
                    f.target_groups()
                        .iter()
                        .any(|t| t.target_group_arn() == Some(arn))
                })
        })
    };
    let mut out = Vec::new();
    for lb in tgs
        .target_groups()
        .iter()
        .flat_map(|t| t.load_balancer_arns())
    {
        let lb_name = lb.split('/').nth(2).unwrap_or(lb);
        let listeners = c
            .elbv2
            .describe_listeners()
            .load_balancer_arn(lb)
            .send()
            .await
            .ctx(|| format!("describe listeners of {lb_name}"))?;
        for l in listeners.listeners() {
            let port = l.port().map(|p| p.to_string()).unwrap_or_default();
            if forwards(l.default_actions()) {
                out.push(format!(
                    "the listener on port {port} of load balancer {lb_name}"
                ));
            }
            let larn = l.listener_arn().unwrap_or_default();
            let rules = c
                .elbv2
                .describe_rules()
                .listener_arn(larn)
                .send()
                .await
                .ctx(|| format!("describe rules of the listener on port {port} of {lb_name}"))?;
            for r in rules
                .rules()
                .iter()
                .filter(|r| r.is_default() != Some(true))
            {
                if forwards(r.actions()) {
                    out.push(format!(
                        "rule {} of the listener on port {port} of load balancer {lb_name}",
                        r.priority().unwrap_or_default()
                    ));
                }
            }
        }
    }
    Ok(out)
}

fn outputs(arn: &str) -> Outputs {
    Outputs::from([
        ("arn".into(), arn.to_string()),
        ("arn_suffix".into(), arn_suffix(arn)),
    ])
}

async fn set_delay(c: &Clients, arn: &str, attrs: &Attrs) -> Result<(), BoxError> {
    c.elbv2
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key("deregistration_delay.timeout_seconds")
                .value(i(attrs, "deregistration_delay")?.to_string())
                .build(),
        )
        .send()
        .await
        .ctx(|| format!("set deregistration delay of {arn}"))?;
    Ok(())
}
