//! Application Auto Scaling helpers: the ECS service's scalable dimension, the stack's
//! scalable target read once per discovery, and discovery of what hangs under it.
//!
//! Scaling policies and scheduled actions cannot be tagged: they count as this stack's when they
//! are attached to a scalable target that carries the stack's tag ([`find`]).

use std::sync::Arc;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};

use super::common::ownership;
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{BoxError, Node, StackRef};
use crate::spec::Names;

pub fn namespace() -> ServiceNamespace {
    ServiceNamespace::Ecs
}

pub fn dimension() -> ScalableDimension {
    ScalableDimension::EcsServiceDesiredCount
}

/// `service/<cluster>/<service>`: how Application Auto Scaling names an ECS service.
pub fn resource_id(names: &Names) -> String {
    format!("service/{}/{}", names.cluster(), names.service())
}

pub fn resource_id_of(stack: &StackRef) -> String {
    resource_id(&Names::new(&stack.name, &stack.region))
}

/// The stack's scalable target as AWS has it.
pub struct Target {
    /// The user's tags (`common::Ownership::tags`).
    pub tags: crate::engine::Value,
    pub resource_id: String,
    pub arn: String,
    pub min: i32,
    pub max: i32,
    /// Carries this stack's ownership tag.
    pub owned: bool,
}

/// The scalable target of the stack's ECS service, if one is registered, with its ownership.
/// Read once per discovery: the target, policy and scheduled action kinds all need it.
pub async fn find(c: &Clients, stack: &StackRef) -> Result<Arc<Option<Target>>, BoxError> {
    c.shared.once("scalable-target", || read(c, stack)).await
}

async fn read(c: &Clients, stack: &StackRef) -> Result<Option<Target>, BoxError> {
    let rid = resource_id_of(stack);
    let r = c
        .appscaling
        .describe_scalable_targets()
        .service_namespace(namespace())
        .resource_ids(&rid)
        .scalable_dimension(dimension())
        .send()
        .await
        .ctx(|| format!("describe scalable target {rid}"))?;
    let Some(t) = r
        .scalable_targets()
        .iter()
        .find(|t| t.resource_id() == rid && t.scalable_dimension() == &dimension())
    else {
        return Ok(None);
    };
    let arn = t.scalable_target_arn().unwrap_or_default().to_string();
    let tags = c
        .appscaling
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .ctx(|| format!("list tags of scalable target {rid}"));
    let tags = match tags {
        // Deregistered between the two calls.
        Err(e) if e.is_not_found() => return Ok(None),
        r => r?,
    };
    let own = ownership(
        stack,
        tags.tags()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    Ok(Some(Target {
        tags: own.tags,
        resource_id: rid,
        arn,
        min: t.min_capacity(),
        max: t.max_capacity(),
        owned: own.owned,
    }))
}

/// Everything `page` lists under the stack's scalable target (policies, scheduled actions), all
/// pages of it, with the target. `None` when there is no target, or a foreign one and nothing
/// desired (a look-alike matters only as a conflict).
pub async fn attached<T, F, Fut>(
    c: &Clients,
    stack: &StackRef,
    desired: &[&Node],
    page: F,
) -> Result<Option<(Arc<Option<Target>>, Vec<T>)>, BoxError>
where
    F: Fn(String, Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let found = find(c, stack).await?;
    let Some(target) = found.as_ref() else {
        return Ok(None);
    };
    if !target.owned && desired.is_empty() {
        return Ok(None);
    }
    let rid = target.resource_id.clone();
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let (page_items, token) = page(rid.clone(), next.take()).await?;
        items.extend(page_items);
        match token {
            Some(t) if !t.is_empty() => next = Some(t),
            _ => break,
        }
    }
    Ok(Some((found, items)))
}

impl Target {
    /// Whether an item with logical id `id` under this target is to be observed: all of them
    /// under an owned target; under a foreign one only same-named look-alikes (as conflicts).
    pub fn claims(&self, id: &str, desired: &[&Node]) -> bool {
        self.owned || desired.iter().any(|n| n.id == id)
    }
}
