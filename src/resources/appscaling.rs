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
use crate::spec::names::service_id;
use crate::spec::Names;

/// The logical id of the one service's scalable target (`scalable_target::ID`).
pub const TARGET_ID: &str = "scaling.target";

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

/// One of the stack's scalable targets as AWS has it.
pub struct Target {
    /// Its logical id: `scaling.target` (the one service of `service:`) or
    /// `scaling.target.<service>`, from its `ballast:resource` tag or its resource id.
    pub id: String,
    /// The user's tags (`common::Ownership::tags`).
    pub tags: crate::engine::Value,
    pub resource_id: String,
    pub arn: String,
    pub min: i32,
    pub max: i32,
    /// Carries this stack's ownership tag.
    pub owned: bool,
}

/// The scalable targets of the stack's ECS services (`service/<cluster>/...`), with their
/// ownership. Read once per discovery: the target, policy and scheduled action kinds all need
/// them.
pub async fn find(c: &Clients, stack: &StackRef) -> Result<Arc<Vec<Target>>, BoxError> {
    c.shared.once("scalable-targets", || read(c, stack)).await
}

type Scalable = aws_sdk_applicationautoscaling::types::ScalableTarget;

/// DescribeScalableTargets of the ECS namespace: `ids` only, or every page of the listing.
async fn describe(c: &Clients, ids: Option<&str>) -> Result<Vec<Scalable>, AwsError> {
    let mut pages = c
        .appscaling
        .describe_scalable_targets()
        .service_namespace(namespace())
        .set_resource_ids(ids.map(|i| vec![i.to_string()]))
        .scalable_dimension(dimension())
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.ctx(|| match ids {
            Some(i) => format!("describe scalable target {i}"),
            None => "list scalable targets".into(),
        })?;
        out.extend(page.scalable_targets.unwrap_or_default());
    }
    Ok(out)
}

/// The resource ids of the stack's targets the listing shows, without tags.
pub async fn listed(c: &Clients, stack: &StackRef) -> Result<Vec<String>, AwsError> {
    let prefix = format!(
        "service/{}/",
        Names::new(&stack.name, &stack.region).cluster()
    );
    Ok(describe(c, None)
        .await?
        .into_iter()
        .map(|t| t.resource_id().to_string())
        .filter(|r| r.starts_with(&prefix))
        .collect())
}

/// The stack's targets: the one service's by its resource id and the listing at once (one
/// registered a moment ago is found before the listing shows it), then their tags at once.
async fn read(c: &Clients, stack: &StackRef) -> Result<Vec<Target>, BoxError> {
    let one = resource_id_of(stack);
    let prefix = format!(
        "service/{}/",
        Names::new(&stack.name, &stack.region).cluster()
    );
    let (direct, listed) = futures::try_join!(describe(c, Some(&one)), describe(c, None))?;
    let mut targets: Vec<Scalable> = Vec::new();
    for t in direct.into_iter().chain(listed) {
        if t.scalable_dimension() == &dimension()
            && t.resource_id().starts_with(&prefix)
            && !targets.iter().any(|x| x.resource_id() == t.resource_id())
        {
            targets.push(t);
        }
    }
    let tags = futures::future::try_join_all(targets.iter().map(|t| async move {
        let rid = t.resource_id();
        let r = c
            .appscaling
            .list_tags_for_resource()
            .resource_arn(t.scalable_target_arn().unwrap_or_default())
            .send()
            .await
            .ctx(|| format!("list tags of scalable target {rid}"));
        match r {
            // Deregistered between the two calls.
            Err(e) if e.is_not_found() => Ok(None),
            r => r.map(|r| Some(r.tags.unwrap_or_default())),
        }
    }))
    .await?;
    let mut out = Vec::new();
    for (t, tags) in targets.iter().zip(tags) {
        let Some(tags) = tags else { continue };
        let own = ownership(stack, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let rid = t.resource_id().to_string();
        out.push(Target {
            id: own.id.clone().unwrap_or_else(|| id_of(stack, &rid)),
            tags: own.tags,
            arn: t.scalable_target_arn().unwrap_or_default().to_string(),
            min: t.min_capacity(),
            max: t.max_capacity(),
            owned: own.owned,
            resource_id: rid,
        });
    }
    Ok(out)
}

/// The logical id of the stack's target `resource_id` without a `ballast:resource` tag: the
/// one service of `service:` is named like the stack.
pub fn id_of(stack: &StackRef, resource_id: &str) -> String {
    let svc = resource_id.rsplit('/').next().unwrap_or_default();
    let one = Names::new(&stack.name, &stack.region).service();
    service_id(TARGET_ID, (svc != one).then_some(svc))
}

/// Everything `page` lists under each of the stack's scalable targets (policies, scheduled
/// actions), all pages of it, with the targets, all targets at once. A foreign target is
/// read only when something is desired (a look-alike matters only as a conflict).
pub async fn attached<T, F, Fut>(
    c: &Clients,
    stack: &StackRef,
    desired: &[&Node],
    page: F,
) -> Result<(Arc<Vec<Target>>, Vec<Vec<T>>), BoxError>
where
    F: Fn(String, Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let found = find(c, stack).await?;
    let page = &page;
    let items = futures::future::try_join_all(found.iter().map(|target| async move {
        let mut items = Vec::new();
        if !target.owned && desired.is_empty() {
            return Ok::<_, AwsError>(items);
        }
        let rid = target.resource_id.clone();
        let mut next: Option<String> = None;
        loop {
            let (page_items, token) = page(rid.clone(), next.take()).await?;
            items.extend(page_items);
            match token {
                Some(t) if !t.is_empty() => next = Some(t),
                _ => break,
            }
        }
        Ok(items)
    }))
    .await?;
    Ok((found, items))
}

impl Target {
    /// The service the target scales, as its names are made: `None` for the one service of
    /// `service:`.
    pub fn service(&self) -> Option<&str> {
        self.id
            .strip_prefix(TARGET_ID)
            .and_then(|r| r.strip_prefix('.'))
    }

    /// The names of the resources of the service the target scales.
    pub fn names(&self, stack: &StackRef) -> crate::spec::ServiceNames {
        crate::spec::ServiceNames {
            stack: Names::new(&stack.name, &stack.region),
            service: self.service().map(str::to_string),
        }
    }

    /// Whether an item with logical id `id` under this target is to be observed: all of them
    /// under an owned target; under a foreign one only same-named look-alikes (as conflicts).
    pub fn claims(&self, id: &str, desired: &[&Node]) -> bool {
        self.owned || desired.iter().any(|n| n.id == id)
    }
}
