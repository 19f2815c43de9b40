//! `aws_appautoscaling_scheduled_action`: sets the service's min and/or max capacity on a
//! schedule (`cron(...)`, `rate(...)` or `at(...)`, in a time zone).
//!
//! Scheduled actions cannot be tagged: an action is this stack's when it is attached to the
//! stack's owned scalable target and named `<stack>-<schedule name>`.

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{ScalableTargetAction, ScheduledAction as AwsAction};

use super::appscaling::{attached, dimension, namespace};
use super::common::{ignore_missing, s};
use super::scalable_target;
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, StackRef, Value};
use crate::spec::names::service_id;
use crate::spec::View;

pub struct ScheduledAction;

pub const KIND: &str = "aws_appautoscaling_scheduled_action";

/// The time zone Application Auto Scaling uses when an action names none.
const DEFAULT_TIMEZONE: &str = "UTC";

#[async_trait]
impl Kind<Clients> for ScheduledAction {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["application-autoscaling:DescribeScheduledActions"],
            write_any: &[
                "application-autoscaling:PutScheduledAction",
                "application-autoscaling:DeleteScheduledAction",
            ],
            ..Iam::default()
        }
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[scalable_target::KIND]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(a) = &v.service().autoscaling else {
            return vec![];
        };
        a.schedules
            .iter()
            .map(|sc| {
                Node::new(
                    KIND,
                    v.id(&format!("schedule.{}", sc.name)),
                    v.service_names().scheduled_action(&sc.name),
                )
                .attr("schedule", &sc.expression)
                .attr("timezone", &sc.timezone)
                .attr("min_capacity", sc.min)
                .attr("max_capacity", sc.max)
                // A re-registered target has lost its policies and actions: put them again.
                .attr(
                    "resource_id",
                    Value::reference(&v.id(scalable_target::ID), "resource_id"),
                )
            })
            .collect()
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let page = |rid: String, next: Option<String>| async move {
            let r = c
                .appscaling
                .describe_scheduled_actions()
                .service_namespace(namespace())
                .resource_id(&rid)
                .scalable_dimension(dimension())
                .set_next_token(next)
                .send()
                .await
                .ctx(|| format!("describe scheduled actions of {rid}"))?;
            Ok((
                r.scheduled_actions().to_vec(),
                r.next_token().map(str::to_string),
            ))
        };
        let (found, actions) = attached(c, stack, desired, page).await?;
        let mut out = Vec::new();
        for (target, actions) in found.iter().zip(actions) {
            let rid = &target.resource_id;
            let prefix = target.names(stack).scheduled_action("");
            for a in actions.iter().filter(|a| a.resource_id() == rid.as_str()) {
                let name = a.scheduled_action_name();
                let Some(schedule) = name.strip_prefix(&prefix).filter(|s| !s.is_empty()) else {
                    continue;
                };
                let id = service_id(&format!("schedule.{schedule}"), target.service());
                if !target.claims(&id, desired) {
                    continue;
                }
                out.push(Observed {
                    id,
                    kind: KIND,
                    physical_id: a.scheduled_action_arn().to_string(),
                    name: name.to_string(),
                    attrs: observed_attrs(a),
                    outputs: Outputs::from([
                        ("arn".into(), a.scheduled_action_arn().to_string()),
                        ("name".into(), name.to_string()),
                        ("resource_id".into(), rid.clone()),
                    ]),
                    owned: target.owned,
                });
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        put(c, node, attrs).await
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
        cur: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        put(c, node, attrs).await?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let rid = cur.outputs.get("resource_id").cloned().unwrap_or_default();
        let r = c
            .appscaling
            .delete_scheduled_action()
            .scheduled_action_name(&cur.name)
            .service_namespace(namespace())
            .resource_id(&rid)
            .scalable_dimension(dimension())
            .send()
            .await
            .ctx(|| format!("delete scheduled action {}", cur.name));
        ignore_missing(r)
    }
}

/// PutScheduledAction creates or replaces the action of that name. The ARN is not returned, so
/// it is an output only of discovered actions.
async fn put(c: &Clients, node: &Node, attrs: &Attrs) -> Result<Outputs, BoxError> {
    let rid = s(attrs, "resource_id")?.to_string();
    let cap = |k: &str| {
        attrs
            .get(k)
            .and_then(Value::as_int)
            .and_then(|v| i32::try_from(v).ok())
    };
    c.appscaling
        .put_scheduled_action()
        .scheduled_action_name(&node.name)
        .service_namespace(namespace())
        .resource_id(&rid)
        .scalable_dimension(dimension())
        .schedule(s(attrs, "schedule")?)
        .timezone(s(attrs, "timezone")?)
        .scalable_target_action(
            ScalableTargetAction::builder()
                .set_min_capacity(cap("min_capacity"))
                .set_max_capacity(cap("max_capacity"))
                .build(),
        )
        .send()
        .await
        .ctx(|| format!("put scheduled action {}", node.name))?;
    Ok(Outputs::from([
        ("name".into(), node.name.clone()),
        ("resource_id".into(), rid),
    ]))
}

/// An action as AWS reports it, in the node's terms: no time zone means UTC, and an unset min or
/// max is null.
fn observed_attrs(a: &AwsAction) -> Attrs {
    let action = a.scalable_target_action();
    let cap = |v: Option<i32>| v.map(|v| Value::Int(v.into())).unwrap_or(Value::Null);
    Attrs::from([
        ("resource_id".into(), Value::str(a.resource_id())),
        ("schedule".into(), Value::str(a.schedule().trim())),
        (
            "timezone".into(),
            Value::str(
                a.timezone()
                    .filter(|t| !t.is_empty())
                    .unwrap_or(DEFAULT_TIMEZONE),
            ),
        ),
        (
            "min_capacity".into(),
            cap(action.and_then(|x| x.min_capacity())),
        ),
        (
            "max_capacity".into(),
            cap(action.and_then(|x| x.max_capacity())),
        ),
    ])
}
