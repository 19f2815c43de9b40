//! `aws_lb_listener_rule`: one rule per public named service on the main listener: its
//! route's path patterns and host headers, forwarding to the service's target group, at the
//! priority `spec::routing` derives from the route and the service's name alone. The service
//! at `path: /` takes the listener's default action instead (`listener`).
//!
//! Rules carry the stack's ownership tag; a rule on the stack's listener without it (added by
//! hand) is left alone.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    HostHeaderConditionConfig, PathPatternConditionConfig, Rule, RuleCondition, RulePriorityPair,
};

use super::common::{found_id, i, ignore_missing, ownership, strs};
use super::elb::{elb_tags, tags_of};
use super::listener::{forward_action, forward_target, maintenance_action, MAINTENANCE_STATUS};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::names::{TAG_MAINTENANCE, TAG_STACK};
use crate::spec::View;

pub struct ListenerRule;

pub const KIND: &str = "aws_lb_listener_rule";
pub const ID: &str = "rule";

const PATH: &str = "path-pattern";
const HOST: &str = "host-header";

#[async_trait]
impl Kind<Clients> for ListenerRule {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTags",
            ],
            write_any: &[
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:SetRulePriorities",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::elb::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::listener::KIND, super::target_group::KIND]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(route) = v.service().route.as_ref().filter(|r| !r.is_default()) else {
            return Vec::new();
        };
        let lb = &v.stack.load_balancer;
        vec![Node::new(
            KIND,
            v.id(ID),
            format!("{}:{} {}", v.names().alb(), lb.port, v.service_name()),
        )
        .attr("listener_arn", Value::reference(super::listener::ID, "arn"))
        .attr("priority", route.priority(v.service_name()))
        .attr("paths", Value::set(route.paths.iter().map(String::as_str)))
        .attr("hosts", Value::set(route.hosts.iter().map(String::as_str)))
        .attr(
            "forward_to",
            Value::reference(&v.id(super::target_group::ID), "arn"),
        )
        .force_new(&["listener_arn"])]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let found = super::elb::lookup(c, stack).await?;
        let Some(lb) = found.as_ref() else {
            return Ok(vec![]);
        };
        let lb_name = crate::spec::Names::new(&stack.name, &stack.region).alb();
        // The rules of every listener that is not the HTTP->HTTPS redirect, at once.
        let listeners: Vec<(String, i32)> = lb
            .listeners
            .iter()
            .filter(|l| {
                l.default_actions()
                    .first()
                    .and_then(|a| a.redirect_config())
                    .is_none()
            })
            .filter_map(|l| Some((l.listener_arn()?.to_string(), l.port().unwrap_or_default())))
            .collect();
        let rules =
            futures::future::try_join_all(listeners.iter().map(|(arn, port)| async move {
                Ok::<_, AwsError>((rules_of(c, arn).await?, *port))
            }))
            .await?;
        let rules: Vec<(Rule, &str, i32)> = rules
            .into_iter()
            .zip(&listeners)
            .flat_map(|((rules, port), (arn, _))| {
                rules
                    .into_iter()
                    .filter(|r| r.is_default() != Some(true))
                    .map(move |r| (r, arn.as_str(), port))
            })
            .collect();
        let arns: Vec<String> = rules
            .iter()
            .filter_map(|(r, _, _)| r.rule_arn().map(str::to_string))
            .collect();
        let tags = if arns.is_empty() {
            Default::default()
        } else {
            tags_of(c, &arns).await?
        };
        let mut out = Vec::new();
        for (rule, listener_arn, port) in rules {
            let arn = rule.rule_arn().unwrap_or_default().to_string();
            // `ballast maintenance on`'s rule is the command's, not the plan's: left alone.
            if tags.get(&arn).is_some_and(|t| is_maintenance(t)) {
                continue;
            }
            let own = ownership(
                stack,
                tags.get(&arn)
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
            // Rules have no names: the service's is in the logical id (`rule.<service>`).
            let svc = own
                .id
                .as_deref()
                .and_then(|id| id.strip_prefix("rule."))
                .unwrap_or_default()
                .to_string();
            let name = format!("{lb_name}:{port} {svc}");
            // A rule without the stack's tag is not the stack's, whatever its listener.
            let Some(id) = found_id(&own, desired, &name, || format!("{ID}.{svc}")) else {
                continue;
            };
            let values = |field: &str| {
                let mut v: Vec<&str> = Vec::new();
                for cond in rule.conditions() {
                    if cond.field() != Some(field) {
                        continue;
                    }
                    let from = match field {
                        PATH => cond.path_pattern_config().map(|p| p.values()),
                        _ => cond.host_header_config().map(|h| h.values()),
                    };
                    match from.filter(|f| !f.is_empty()) {
                        Some(f) => v.extend(f.iter().map(String::as_str)),
                        None => v.extend(cond.values().iter().map(String::as_str)),
                    }
                }
                Value::set(v)
            };
            let attrs = Attrs::from([
                ("tags".into(), own.tags.clone()),
                ("listener_arn".into(), Value::str(listener_arn)),
                (
                    "priority".into(),
                    Value::from(rule.priority().and_then(|p| p.parse::<i64>().ok())),
                ),
                ("paths".into(), values(PATH)),
                ("hosts".into(), values(HOST)),
                (
                    "forward_to".into(),
                    Value::opt_str(rule.actions().first().and_then(forward_target)),
                ),
            ]);
            out.push(Observed {
                id,
                kind: KIND,
                name,
                outputs: Outputs::from([("arn".into(), arn.clone())]),
                physical_id: arn,
                attrs,
                owned: own.owned,
            });
        }
        Ok(out)
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
            .create_rule()
            .listener_arn(super::common::s(attrs, "listener_arn")?)
            .priority(i(attrs, "priority")?)
            .set_conditions(Some(conditions(attrs)))
            .actions(forward_action(super::common::s(attrs, "forward_to")?))
            .set_tags(Some(elb_tags(stack, node)))
            .send()
            .await
            .ctx(|| format!("create listener rule {}", node.name))?;
        let arn = r
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .unwrap_or_default()
            .to_string();
        Ok(Outputs::from([("arn".into(), arn)]))
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
        if changed.iter().any(|k| k == "priority") {
            c.elbv2
                .set_rule_priorities()
                .rule_priorities(
                    RulePriorityPair::builder()
                        .rule_arn(&cur.physical_id)
                        .priority(i(attrs, "priority")?)
                        .build(),
                )
                .send()
                .await
                .ctx(|| format!("set the priority of listener rule {}", node.name))?;
        }
        if changed
            .iter()
            .any(|k| ["paths", "hosts", "forward_to"].contains(&k.as_str()))
        {
            c.elbv2
                .modify_rule()
                .rule_arn(&cur.physical_id)
                .set_conditions(Some(conditions(attrs)))
                .actions(forward_action(super::common::s(attrs, "forward_to")?))
                .send()
                .await
                .ctx(|| format!("modify listener rule {}", node.name))?;
        }
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let r = c
            .elbv2
            .delete_rule()
            .rule_arn(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("delete listener rule {}", cur.name));
        ignore_missing(r)
    }
}

/// Every rule of listener `arn`, every page (none when the listener is gone).
async fn rules_of(c: &Clients, arn: &str) -> Result<Vec<Rule>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    // Bounded: 100 rules a listener at most (an ALB quota), 400 a page.
    for _ in 0..10 {
        let r = c
            .elbv2
            .describe_rules()
            .listener_arn(arn)
            .page_size(400)
            .set_marker(marker.take())
            .send()
            .await
            .ctx(|| format!("describe the rules of listener {arn}"));
        let r = match r {
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            r => r?,
        };
        out.extend(r.rules().iter().cloned());
        match r.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// A rule's conditions: its path patterns and its host headers (each only when it has some).
fn conditions(attrs: &Attrs) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    let paths = strs(attrs, "paths");
    if !paths.is_empty() {
        out.push(
            RuleCondition::builder()
                .field(PATH)
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(paths))
                        .build(),
                )
                .build(),
        );
    }
    let hosts = strs(attrs, "hosts");
    if !hosts.is_empty() {
        out.push(
            RuleCondition::builder()
                .field(HOST)
                .host_header_config(
                    HostHeaderConditionConfig::builder()
                        .set_values(Some(hosts))
                        .build(),
                )
                .build(),
        );
    }
    out
}

/// `ballast maintenance on` with named services: a rule first on the main listener that
/// answers every request with the maintenance page, so no service's rule forwards. `off`
/// deletes it. It carries the stack's tag and `ballast:maintenance`; the plan leaves it alone.
pub const MAINTENANCE_PRIORITY: i32 = 1;
/// Its `ballast:resource` tag.
pub const MAINTENANCE_RULE: &str = "rule.maintenance";

fn is_maintenance(tags: &[(String, String)]) -> bool {
    tags.iter().any(|(k, _)| k == TAG_MAINTENANCE)
}

/// The maintenance rule of a listener, as `ballast maintenance` finds it.
pub struct MaintenanceRule {
    pub arn: String,
    /// The page it serves (its fixed response's body), if it is a maintenance response.
    pub page: Option<String>,
}

/// The stack's maintenance rule on listener `listener_arn`; refused (the reason) when
/// `MAINTENANCE_PRIORITY` is taken by a rule that is not the stack's maintenance rule.
pub async fn maintenance_rule(
    c: &Clients,
    stack: &str,
    listener_arn: &str,
) -> Result<Result<Option<MaintenanceRule>, String>, AwsError> {
    let first = rules_of(c, listener_arn)
        .await?
        .into_iter()
        .find(|r| r.priority() == Some(&MAINTENANCE_PRIORITY.to_string()));
    let Some(rule) = first else {
        return Ok(Ok(None));
    };
    let arn = rule.rule_arn().unwrap_or_default().to_string();
    let tags = tags_of(c, std::slice::from_ref(&arn))
        .await?
        .remove(&arn)
        .unwrap_or_default();
    let ours = tags.iter().any(|(k, v)| k == TAG_STACK && v == stack);
    if !ours || !is_maintenance(&tags) {
        return Ok(Err(format!(
            "priority {MAINTENANCE_PRIORITY} of listener {listener_arn} is taken by rule {arn}, which is not this stack's maintenance rule: it is left alone; move it to another priority"
        )));
    }
    let page = rule
        .actions()
        .first()
        .and_then(|a| a.fixed_response_config())
        .filter(|f| f.status_code() == Some(MAINTENANCE_STATUS))
        .and_then(|f| f.message_body())
        .map(str::to_string);
    Ok(Ok(Some(MaintenanceRule { arn, page })))
}

/// Every path: the one condition of the maintenance rule.
fn every_path() -> RuleCondition {
    RuleCondition::builder()
        .field(PATH)
        .path_pattern_config(PathPatternConditionConfig::builder().values("*").build())
        .build()
}

/// Make the maintenance rule serve `page`: create it, or change the page of `existing`.
pub async fn put_maintenance_rule(
    c: &Clients,
    stack: &StackRef,
    listener_arn: &str,
    existing: Option<&MaintenanceRule>,
    page: &str,
) -> Result<(), AwsError> {
    match existing {
        Some(rule) => c
            .elbv2
            .modify_rule()
            .rule_arn(&rule.arn)
            .conditions(every_path())
            .actions(maintenance_action(page))
            .send()
            .await
            .ctx(|| format!("modify maintenance rule {}", rule.arn))
            .map(|_| ()),
        None => {
            // The tags of every ELB resource of the stack (ownership, its logical id, the
            // user's), plus the mark that makes it maintenance's.
            let mut tags = elb_tags(stack, &Node::new(KIND, MAINTENANCE_RULE, ""));
            tags.push(
                aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                    .key(TAG_MAINTENANCE)
                    .value("on")
                    .build(),
            );
            c.elbv2
                .create_rule()
                .listener_arn(listener_arn)
                .priority(MAINTENANCE_PRIORITY)
                .conditions(every_path())
                .actions(maintenance_action(page))
                .set_tags(Some(tags))
                .send()
                .await
                .ctx(|| format!("create maintenance rule on listener {listener_arn}"))
                .map(|_| ())
        }
    }
}

/// `ballast maintenance off`: the rule goes (already gone is done).
pub async fn delete_maintenance_rule(c: &Clients, rule: &MaintenanceRule) -> Result<(), AwsError> {
    let r = c
        .elbv2
        .delete_rule()
        .rule_arn(&rule.arn)
        .send()
        .await
        .ctx(|| format!("delete maintenance rule {}", rule.arn));
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        r => r.map(|_| ()),
    }
}
