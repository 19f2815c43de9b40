//! ELBv2 helpers shared by the load balancer, target group and listener kinds (and status):
//! tags, the stack's ALB read once per discovery, ARN suffixes for CloudWatch.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2::types::Tag;

use super::common::tags_for;
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{BoxError, Node, Observed, StackRef};

/// ELBv2 tags for a new resource.
pub fn elb_tags(stack: &StackRef, node: &Node) -> Vec<Tag> {
    tags_for(stack, node, false)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags of ELBv2 resources, by ARN (DescribeTags takes 20 ARNs per call).
pub async fn tags_of(
    c: &Clients,
    arns: &[String],
) -> Result<HashMap<String, Vec<(String, String)>>, AwsError> {
    let mut out = HashMap::new();
    for chunk in arns.chunks(20) {
        let r = c
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .ctx(|| "describe load balancer tags".into())?;
        for d in r.tag_descriptions() {
            let tags = d
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            out.insert(d.resource_arn().unwrap_or_default().to_string(), tags);
        }
    }
    Ok(out)
}

/// The stack's ALB as AWS has it, with its tags.
pub struct FoundLb {
    pub lb: aws_sdk_elasticloadbalancingv2::types::LoadBalancer,
    pub tags: Vec<(String, String)>,
    /// Its attributes (`DescribeLoadBalancerAttributes`), key and value.
    pub attributes: Vec<(String, String)>,
    /// Its listeners.
    pub listeners: Vec<aws_sdk_elasticloadbalancingv2::types::Listener>,
}

/// The stack's ALB, read once per discovery (the load balancer and listener kinds need it).
pub async fn lookup(c: &Clients, stack: &StackRef) -> Result<Arc<Option<FoundLb>>, AwsError> {
    c.shared
        .once("alb", || async {
            let name = crate::spec::Names::new(&stack.name, &stack.region).alb();
            let r = c
                .elbv2
                .describe_load_balancers()
                .names(&name)
                .send()
                .await
                .ctx(|| format!("describe load balancer {name}"));
            let lb = match r {
                Err(e) if e.is_not_found() => return Ok(None),
                r => r?.load_balancers().first().cloned(),
            };
            let Some(lb) = lb else { return Ok(None) };
            let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
            // Its tags, attributes and listeners at once: one round trip after the first.
            let (tags, attributes, listeners) = futures::try_join!(
                tags_of(c, std::slice::from_ref(&arn)),
                async {
                    c.elbv2
                        .describe_load_balancer_attributes()
                        .load_balancer_arn(&arn)
                        .send()
                        .await
                        .ctx(|| format!("describe attributes of load balancer {name}"))
                },
                async {
                    c.elbv2
                        .describe_listeners()
                        .load_balancer_arn(&arn)
                        .send()
                        .await
                        .ctx(|| format!("describe listeners of {name}"))
                },
            )?;
            let tags = tags.get(&arn).cloned().unwrap_or_default();
            let attributes = attributes
                .attributes()
                .iter()
                .map(|a| {
                    (
                        a.key().unwrap_or_default().to_string(),
                        a.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let listeners = listeners.listeners.unwrap_or_default();
            Ok(Some(FoundLb {
                lb,
                tags,
                attributes,
                listeners,
            }))
        })
        .await
}

/// The part of an ELBv2 ARN CloudWatch dimensions use (`app/name/id`, `targetgroup/name/id`).
pub fn arn_suffix(arn: &str) -> String {
    if let Some((_, rest)) = arn.split_once(":loadbalancer/") {
        rest.to_string()
    } else if let Some((_, rest)) = arn.split_once(":targetgroup/") {
        format!("targetgroup/{rest}")
    } else {
        String::new()
    }
}

/// `Kind::retag` of the ELBv2 kinds: AddTags for what is set, RemoveTags for what is removed.
pub fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        if !set.is_empty() {
            c.elbv2
                .add_tags()
                .resource_arns(&cur.physical_id)
                .set_tags(Some(
                    set.iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .ctx(|| format!("tag {}", cur.physical_id))?;
        }
        if !remove.is_empty() {
            c.elbv2
                .remove_tags()
                .resource_arns(&cur.physical_id)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .ctx(|| format!("untag {}", cur.physical_id))?;
        }
        Ok(())
    })
}
