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
///
/// Several services' EC2 capacity providers join and leave the one cluster at once, so the
/// edits of this process take turns (one would otherwise overwrite another's), an edit that
/// meets an update still in progress (`UpdateInProgressException`) is made again from a fresh
/// read, and each edit waits until the cluster shows its list before the next one reads it.
pub async fn edit_providers(
    c: &Clients,
    cluster: &str,
    edit: impl Fn(Vec<String>) -> Vec<String>,
) -> Result<(), AwsError> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = TURN.lock().await;
    let edit = &edit;
    let next = super::common::retry_in_use(CLUSTER_BUSY, || async move {
        let Some(current) = providers(c, cluster).await? else {
            return Ok(None);
        };
        let next = edit(current.clone());
        if next == current {
            return Ok(None);
        }
        c.ecs
            .put_cluster_capacity_providers()
            .cluster(cluster)
            .set_capacity_providers(Some(next.clone()))
            .set_default_capacity_provider_strategy(Some(vec![]))
            .send()
            .await
            .ctx(|| format!("set capacity providers of cluster {cluster}"))?;
        Ok(Some(next))
    })
    .await?;
    let Some(next) = next else { return Ok(()) };
    // Read back: the next edit starts from this list.
    let mut pause = std::time::Duration::from_millis(200);
    for _ in 0..8 {
        match providers(c, cluster).await? {
            Some(now) if now != next => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
            _ => return Ok(()),
        }
    }
    Err(AwsError::new(
        format!("read back the capacity providers of cluster {cluster}"),
        format!("it does not show {next:?} after they were set"),
    ))
}

/// An active cluster's capacity providers (`None` when it has no active cluster by that name).
async fn providers(c: &Clients, cluster: &str) -> Result<Option<Vec<String>>, AwsError> {
    let r = c
        .ecs
        .describe_clusters()
        .clusters(cluster)
        .send()
        .await
        .ctx(|| format!("describe cluster {cluster}"))?;
    Ok(r.clusters()
        .iter()
        .find(|c| c.status() == Some("ACTIVE"))
        .map(|c| c.capacity_providers().to_vec()))
}

/// How long an edit of a cluster's capacity providers waits for an update in progress.
const CLUSTER_BUSY: crate::aws::InUseRetry = crate::aws::InUseRetry {
    first_pause: std::time::Duration::from_secs(1),
    max_pause: std::time::Duration::from_secs(10),
    budget: std::time::Duration::from_secs(120),
};

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
