//! `aws_appautoscaling_policy`: target tracking of the ECS service's desired count on average
//! CPU, average memory or ALB requests per target. One policy per target the spec sets.
//!
//! Policies cannot be tagged: a policy is this stack's when it is attached to the stack's owned
//! scalable target and named `<stack>-cpu`, `<stack>-memory` or `<stack>-requests`.

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalingPolicy as AwsPolicy,
    TargetTrackingScalingPolicyConfiguration,
};

use super::appscaling::{attached, dimension, namespace};
use super::common::{b, i, ignore_missing, s};
use super::scalable_target;
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, StackRef, Value};
use crate::spec::names::service_id;
use crate::spec::View;

pub struct ScalingPolicy;

pub const KIND: &str = "aws_appautoscaling_policy";

/// Cooldown Application Auto Scaling uses for ECS services when a policy sets none.
const DEFAULT_COOLDOWN: i32 = 300;

/// (logical id suffix, predefined metric type) of every policy ballast makes.
const POLICIES: &[(&str, &str)] = &[
    ("cpu", "ECSServiceAverageCPUUtilization"),
    ("memory", "ECSServiceAverageMemoryUtilization"),
    ("requests", "ALBRequestCountPerTarget"),
];

const LABEL_SPLIT: &str = "/targetgroup/";

#[async_trait]
impl Kind<Clients> for ScalingPolicy {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["application-autoscaling:DescribeScalingPolicies"],
            write_any: &[
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:DeleteScalingPolicy",
            ],
            ..Iam::default()
        }
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            scalable_target::KIND,
            super::load_balancer::KIND,
            super::target_group::KIND,
        ]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(a) = &v.service().autoscaling else {
            return vec![];
        };
        let targets = [a.cpu, a.memory, a.requests_per_target];
        POLICIES
            .iter()
            .zip(targets)
            .filter_map(|(&(suffix, metric), target)| {
                let mut n = Node::new(
                    KIND,
                    v.id(&format!("scaling.{suffix}")),
                    v.service_names().scaling_policy(suffix),
                )
                .attr("metric", metric)
                .attr("target_value", target?)
                .attr("scale_in_cooldown", a.scale_in_cooldown)
                .attr("scale_out_cooldown", a.scale_out_cooldown)
                .attr("disable_scale_in", a.disable_scale_in)
                // A re-registered target has lost its policies and actions: put them again.
                .attr(
                    "resource_id",
                    Value::reference(&v.id(scalable_target::ID), "resource_id"),
                );
                if suffix == "requests" {
                    // The resource label is `<alb arn suffix>/<tg arn suffix>`; references are
                    // whole strings, so the two halves are kept apart and joined on apply.
                    n = n
                        .attr(
                            "alb_arn_suffix",
                            Value::reference(super::load_balancer::ID, "arn_suffix"),
                        )
                        .attr(
                            "tg_arn_suffix",
                            Value::reference(&v.id(super::target_group::ID), "arn_suffix"),
                        );
                }
                Some(n)
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
                .describe_scaling_policies()
                .service_namespace(namespace())
                .resource_id(&rid)
                .scalable_dimension(dimension())
                .set_next_token(next)
                .send()
                .await
                .ctx(|| format!("describe scaling policies of {rid}"))?;
            Ok((
                r.scaling_policies().to_vec(),
                r.next_token().map(str::to_string),
            ))
        };
        let (found, policies) = attached(c, stack, desired, page).await?;
        let mut out = Vec::new();
        for (target, policies) in found.iter().zip(policies) {
            let rid = &target.resource_id;
            let names = target.names(stack);
            for p in policies.iter().filter(|p| p.resource_id() == rid.as_str()) {
                let name = p.policy_name();
                let Some(&(suffix, _)) = POLICIES
                    .iter()
                    .find(|(suffix, _)| name == names.scaling_policy(suffix))
                else {
                    continue;
                };
                let id = service_id(&format!("scaling.{suffix}"), target.service());
                if !target.claims(&id, desired) {
                    continue;
                }
                out.push(Observed {
                    id,
                    kind: KIND,
                    physical_id: p.policy_arn().to_string(),
                    name: name.to_string(),
                    attrs: observed_attrs(p),
                    outputs: Outputs::from([
                        ("arn".into(), p.policy_arn().to_string()),
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
        _: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        put(c, node, attrs).await
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let rid = cur.outputs.get("resource_id").cloned().unwrap_or_default();
        let r = c
            .appscaling
            .delete_scaling_policy()
            .policy_name(&cur.name)
            .service_namespace(namespace())
            .resource_id(&rid)
            .scalable_dimension(dimension())
            .send()
            .await
            .ctx(|| format!("delete scaling policy {}", cur.name));
        ignore_missing(r)
    }
}

/// PutScalingPolicy creates or replaces the policy of that name.
async fn put(c: &Clients, node: &Node, attrs: &Attrs) -> Result<Outputs, BoxError> {
    let rid = s(attrs, "resource_id")?.to_string();
    let metric = s(attrs, "metric")?;
    let mut spec =
        PredefinedMetricSpecification::builder().predefined_metric_type(MetricType::from(metric));
    if let (Some(alb), Some(tg)) = (
        attrs.get("alb_arn_suffix").and_then(Value::as_str),
        attrs.get("tg_arn_suffix").and_then(Value::as_str),
    ) {
        spec = spec.resource_label(format!("{alb}/{tg}"));
    }
    let config = TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(f64::from(i(attrs, "target_value")?))
        .predefined_metric_specification(spec.build()?)
        .scale_in_cooldown(i(attrs, "scale_in_cooldown")?)
        .scale_out_cooldown(i(attrs, "scale_out_cooldown")?)
        .disable_scale_in(b(attrs, "disable_scale_in"))
        .build()?;
    let r = c
        .appscaling
        .put_scaling_policy()
        .policy_name(&node.name)
        .service_namespace(namespace())
        .resource_id(&rid)
        .scalable_dimension(dimension())
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(config)
        .send()
        .await
        .ctx(|| format!("put scaling policy {}", node.name))?;
    Ok(Outputs::from([
        ("arn".into(), r.policy_arn().to_string()),
        ("name".into(), node.name.clone()),
        ("resource_id".into(), rid),
    ]))
}

/// A policy as AWS reports it, in the node's terms: the target value as a whole number (AWS
/// stores a double), cooldowns and scale-in defaulted as AWS applies them, and the ALB resource
/// label split back into its load balancer and target group halves.
fn observed_attrs(p: &AwsPolicy) -> Attrs {
    let cfg = p.target_tracking_scaling_policy_configuration();
    let predefined = cfg.and_then(|c| c.predefined_metric_specification());
    let mut attrs = Attrs::from([
        ("resource_id".into(), Value::str(p.resource_id())),
        (
            "metric".into(),
            Value::opt_str(predefined.map(|m| m.predefined_metric_type().as_str())),
        ),
        (
            "target_value".into(),
            cfg.map(|c| number(c.target_value())).unwrap_or(Value::Null),
        ),
        (
            "scale_in_cooldown".into(),
            Value::Int(
                cfg.and_then(|c| c.scale_in_cooldown())
                    .unwrap_or(DEFAULT_COOLDOWN)
                    .into(),
            ),
        ),
        (
            "scale_out_cooldown".into(),
            Value::Int(
                cfg.and_then(|c| c.scale_out_cooldown())
                    .unwrap_or(DEFAULT_COOLDOWN)
                    .into(),
            ),
        ),
        (
            "disable_scale_in".into(),
            Value::Bool(cfg.and_then(|c| c.disable_scale_in()).unwrap_or(false)),
        ),
    ]);
    if let Some(label) = predefined.and_then(|m| m.resource_label()) {
        let (alb, tg) = split_label(label);
        attrs.insert("alb_arn_suffix".into(), Value::str(alb));
        attrs.insert("tg_arn_suffix".into(), Value::str(tg));
    }
    attrs
}

/// A whole-number double as an integer; anything else stays visible as text, so it differs.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::Int(v as i64)
    } else {
        Value::str(v.to_string())
    }
}

/// `app/a/1/targetgroup/t/2` -> (`app/a/1`, `targetgroup/t/2`).
fn split_label(label: &str) -> (String, String) {
    match label.split_once(LABEL_SPLIT) {
        Some((alb, tg)) => (alb.to_string(), format!("targetgroup/{tg}")),
        None => (label.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_label_splits_at_the_target_group() {
        assert_eq!(
            split_label("app/web-alb/50dc6c495c0c9188/targetgroup/web-tg/73e2d6bc24d8a067"),
            (
                "app/web-alb/50dc6c495c0c9188".to_string(),
                "targetgroup/web-tg/73e2d6bc24d8a067".to_string()
            )
        );
        assert_eq!(split_label("odd"), ("odd".to_string(), String::new()));
    }

    #[test]
    fn whole_doubles_compare_as_integers() {
        assert_eq!(number(60.0), Value::Int(60));
        assert_eq!(number(60.5), Value::str("60.5"));
    }
}
