//! ECS helpers shared by the cluster, capacity provider, task definition and service kinds:
//! tags, ownership, and one read-modify-write of a cluster's capacity providers.

use aws_sdk_ecs::types::Tag;

use super::common::{ownership, tags_for};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{BoxError, Node, Observed, StackRef};

/// ECS tags for a new resource.
pub fn ecs_tags(stack: &StackRef, node: &Node) -> Vec<Tag> {
    tags_for(stack, node, false)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn ecs_owner(stack: &StackRef, tags: &[Tag]) -> super::common::Ownership {
    ownership(
        stack,
        tags.iter()
            .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))),
    )
}

/// Read-modify-write of an active cluster's capacity providers (PutClusterCapacityProviders
/// replaces the whole list). Does nothing when the cluster is gone or the list is unchanged.
pub async fn edit_providers(
    c: &Clients,
    cluster: &str,
    edit: impl FnOnce(Vec<String>) -> Vec<String>,
) -> Result<(), AwsError> {
    let r = c
        .ecs
        .describe_clusters()
        .clusters(cluster)
        .send()
        .await
        .ctx(|| format!("describe cluster {cluster}"))?;
    let Some(cl) = r.clusters().iter().find(|c| c.status() == Some("ACTIVE")) else {
        return Ok(());
    };
    let current = cl.capacity_providers().to_vec();
    let next = edit(current.clone());
    if next == current {
        return Ok(());
    }
    c.ecs
        .put_cluster_capacity_providers()
        .cluster(cluster)
        .set_capacity_providers(Some(next))
        .set_default_capacity_provider_strategy(Some(vec![]))
        .send()
        .await
        .ctx(|| format!("set capacity providers of cluster {cluster}"))?;
    Ok(())
}

/// `Kind::retag` of the ECS kinds (by ARN: the `arn` output): TagResource for what is set,
/// UntagResource for what is removed.
pub fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a std::collections::BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        let arn = cur.outputs.get("arn").unwrap_or(&cur.physical_id);
        if !set.is_empty() {
            c.ecs
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(
                    set.iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .ctx(|| format!("tag {arn}"))?;
        }
        if !remove.is_empty() {
            c.ecs
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .ctx(|| format!("untag {arn}"))?;
        }
        Ok(())
    })
}

/// The id of the service's PRIMARY deployment: the rollout a create or update started.
pub fn primary_deployment(svc: &aws_sdk_ecs::types::Service) -> Option<String> {
    svc.deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.id())
        .map(str::to_string)
}

/// The name of the app container's port mapping, which Service Connect refers to (named
/// services).
pub const PORT_NAME: &str = "app";
