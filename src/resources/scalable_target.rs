//! `aws_appautoscaling_target`: registers the ECS service's desired count with Application Auto
//! Scaling, between a min and a max. Policies and scheduled actions attach to it.
//!
//! Scaling policies and scheduled actions cannot be tagged: they count as this stack's when they
//! are attached to a scalable target that carries the stack's tag ([`find`]).

use async_trait::async_trait;

use super::appscaling::{dimension, find, namespace};
use super::common::{i, ignore_missing, s, tags_for};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::View;

pub struct ScalableTarget;

pub const KIND: &str = "aws_appautoscaling_target";
pub const ID: &str = super::appscaling::TARGET_ID;

#[async_trait]
impl Kind<Clients> for ScalableTarget {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:ListTagsForResource",
            ],
            write_any: &[
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:TagResource",
                "application-autoscaling:UntagResource",
                "iam:CreateServiceLinkedRole",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::service::KIND]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(a) = &v.service().autoscaling else {
            return vec![];
        };
        let rid = v.service_names().scalable_resource_id();
        vec![Node::new(KIND, v.id(ID), rid.clone())
            .attr("resource_id", rid)
            // The service must exist before its desired count can be registered, and a replaced
            // service (unknown name until it exists again) is registered anew.
            .attr(
                "service",
                Value::reference(&v.id(super::service::ID), "name"),
            )
            .attr("min_capacity", a.min)
            .attr("max_capacity", a.max)
            .force_new(&["resource_id", "service"])]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let found = find(c, stack).await?;
        Ok(found
            .iter()
            .filter(|t| t.owned || desired.iter().any(|n| n.name == t.resource_id))
            .map(|t| Observed {
                id: if t.owned {
                    t.id.clone()
                } else {
                    desired
                        .iter()
                        .find(|n| n.name == t.resource_id)
                        .map(|n| n.id.clone())
                        .unwrap_or_default()
                },
                kind: KIND,
                physical_id: t.resource_id.clone(),
                name: t.resource_id.clone(),
                attrs: Attrs::from([
                    ("tags".into(), t.tags.clone()),
                    ("resource_id".into(), Value::str(&t.resource_id)),
                    (
                        "service".into(),
                        Value::str(t.resource_id.rsplit('/').next().unwrap_or_default()),
                    ),
                    ("min_capacity".into(), Value::Int(t.min.into())),
                    ("max_capacity".into(), Value::Int(t.max.into())),
                ]),
                outputs: outputs(&t.resource_id, &t.arn),
                owned: t.owned,
            })
            .collect())
    }

    /// The listing alone, without tags: a scalable target's resource id is unique, and
    /// every target of the stack's cluster is the stack's.
    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        _: &[&Node],
        _: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        Ok(super::appscaling::listed(c, stack)
            .await?
            .into_iter()
            .map(|rid| Observed {
                id: super::appscaling::id_of(stack, &rid),
                kind: KIND,
                physical_id: rid.clone(),
                name: rid,
                attrs: Attrs::new(),
                outputs: Outputs::new(),
                owned: true,
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
        let rid = s(attrs, "resource_id")?;
        let r = c
            .appscaling
            .register_scalable_target()
            .service_namespace(namespace())
            .resource_id(rid)
            .scalable_dimension(dimension())
            .min_capacity(i(attrs, "min_capacity")?)
            .max_capacity(i(attrs, "max_capacity")?)
            .set_tags(Some(tags_for(stack, node, false).into_iter().collect()))
            .send()
            .await
            .ctx(|| format!("register scalable target {rid}"))?;
        Ok(outputs(rid, r.scalable_target_arn().unwrap_or_default()))
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        _: &Node,
        attrs: &Attrs,
        cur: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        // Registering again updates min and max in place; tags are left as they are.
        let rid = s(attrs, "resource_id")?;
        c.appscaling
            .register_scalable_target()
            .service_namespace(namespace())
            .resource_id(rid)
            .scalable_dimension(dimension())
            .min_capacity(i(attrs, "min_capacity")?)
            .max_capacity(i(attrs, "max_capacity")?)
            .send()
            .await
            .ctx(|| format!("update scalable target {rid}"))?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let r = c
            .appscaling
            .deregister_scalable_target()
            .service_namespace(namespace())
            .resource_id(&cur.physical_id)
            .scalable_dimension(dimension())
            .send()
            .await
            .ctx(|| format!("deregister scalable target {}", cur.name));
        ignore_missing(r)
    }
}

fn outputs(resource_id: &str, arn: &str) -> Outputs {
    Outputs::from([
        ("resource_id".into(), resource_id.to_string()),
        ("arn".into(), arn.to_string()),
    ])
}

/// `Kind::retag`: see there.
fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a std::collections::BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        let arn = cur.outputs.get("arn").cloned().unwrap_or_default();
        if !set.is_empty() {
            c.appscaling
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(set.clone().into_iter().collect()))
                .send()
                .await
                .ctx(|| format!("tag scalable target {}", cur.name))?;
        }
        if !remove.is_empty() {
            c.appscaling
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .ctx(|| format!("untag scalable target {}", cur.name))?;
        }
        Ok(())
    })
}
