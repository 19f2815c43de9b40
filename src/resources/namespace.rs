//! `aws_service_discovery_http_namespace`: the Cloud Map HTTP namespace of a stack of named
//! services (`services:`), one per region. ECS Service Connect registers each service in it
//! under its name, so the stack's services call each other at `http://<service>:<port>`.
//!
//! Cloud Map creates and deletes namespaces asynchronously: each call returns an operation,
//! which is followed until it succeeds (terraform-provider-aws, `servicediscovery/wait.go`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_servicediscovery::types::{
    FilterCondition, HttpNamespaceChange, NamespaceFilter, NamespaceFilterName, NamespaceSummary,
    NamespaceType, OperationStatus, OperationTargetType, Tag,
};

use super::common::{client_token, found_id, ignore_missing, ownership, s, tags_for};
use crate::aws::{AwsError, Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::{Names, View};

pub struct Namespace;

pub const KIND: &str = "aws_service_discovery_http_namespace";
pub const ID: &str = "namespace";

/// How long a namespace operation may take (Terraform waits 5 minutes).
const OPERATION: Duration = Duration::from_secs(300);

#[async_trait]
impl Kind<Clients> for Namespace {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "servicediscovery:ListNamespaces",
                "servicediscovery:GetNamespace",
                "servicediscovery:GetOperation",
                "servicediscovery:ListTagsForResource",
            ],
            write_any: &[
                "servicediscovery:CreateHttpNamespace",
                "servicediscovery:UpdateHttpNamespace",
                "servicediscovery:DeleteNamespace",
                "servicediscovery:TagResource",
                "servicediscovery:UntagResource",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(retag)
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        if !v.stack.named_services {
            return vec![];
        }
        vec![Node::new(KIND, ID, v.names().namespace()).attr(
            "description",
            format!(
                "ballast {}: its services call each other by name (ECS Service Connect)",
                v.stack.name
            ),
        )]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let found = list(c, stack).await?;
        let tags = futures::future::try_join_all(found.iter().map(|ns| async move {
            let r = c
                .servicediscovery
                .list_tags_for_resource()
                .resource_arn(ns.arn().unwrap_or_default())
                .send()
                .await
                .ctx(|| format!("list tags of namespace {}", ns.name().unwrap_or_default()));
            match r {
                // Deleted a moment ago: left out.
                Err(e) if e.is_not_found() => Ok(None),
                r => r.map(|r| Some(r.tags.unwrap_or_default())),
            }
        }))
        .await?;
        let mut out = Vec::new();
        for (ns, tags) in found.iter().zip(tags) {
            let Some(tags) = tags else { continue };
            let name = ns.name().unwrap_or_default().to_string();
            let own = ownership(stack, tags.iter().map(|t| (t.key(), t.value())));
            let Some(id) = found_id(&own, desired, &name, || ID.to_string()) else {
                continue;
            };
            let ns_id = ns.id().unwrap_or_default().to_string();
            out.push(Observed {
                id,
                kind: KIND,
                name,
                outputs: Outputs::from([
                    ("arn".into(), ns.arn().unwrap_or_default().to_string()),
                    ("id".into(), ns_id.clone()),
                ]),
                physical_id: ns_id,
                attrs: Attrs::from([
                    ("description".into(), Value::opt_str(ns.description())),
                    ("tags".into(), own.tags.clone()),
                ]),
                owned: own.owned,
            });
        }
        Ok(out)
    }

    /// The listing by name alone, without the tags: a namespace's name is unique in its
    /// account and region, so the one of the stack's name that this run created or deleted is
    /// the stack's.
    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        _: &[&Node],
        _: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        Ok(list(c, stack)
            .await?
            .iter()
            .map(|ns| Observed {
                id: ID.to_string(),
                kind: KIND,
                name: ns.name().unwrap_or_default().to_string(),
                outputs: Outputs::new(),
                physical_id: ns.id().unwrap_or_default().to_string(),
                attrs: Attrs::new(),
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
        let tags = tags_for(stack, node, false)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()?;
        let op = c
            .servicediscovery
            .create_http_namespace()
            .name(&node.name)
            // The same token on every attempt: a retry after a lost answer gets the same
            // operation, not a second namespace.
            .creator_request_id(client_token(&node.name))
            .description(s(attrs, "description")?)
            .set_tags(Some(tags))
            .send()
            .await
            .ctx(|| format!("create namespace {}", node.name))?
            .operation_id
            .ok_or("CreateHttpNamespace returned no operation")?;
        let id = wait_operation(c, &op, &format!("namespace {}", node.name)).await?;
        let ns = c
            .servicediscovery
            .get_namespace()
            .id(&id)
            .send()
            .await
            .ctx(|| format!("get namespace {} ({id})", node.name))?;
        let arn = ns
            .namespace()
            .and_then(|n| n.arn())
            .ok_or("GetNamespace returned no ARN")?;
        Ok(Outputs::from([
            ("arn".into(), arn.to_string()),
            ("id".into(), id),
        ]))
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
        let change = HttpNamespaceChange::builder()
            .description(s(attrs, "description")?)
            .build()?;
        let op = c
            .servicediscovery
            .update_http_namespace()
            .id(&cur.physical_id)
            .updater_request_id(client_token(&node.name))
            .namespace(change)
            .send()
            .await
            .ctx(|| format!("update namespace {}", node.name))?
            .operation_id
            .ok_or("UpdateHttpNamespace returned no operation")?;
        wait_operation(c, &op, &format!("namespace {}", node.name)).await?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        // ResourceInUse while ECS still has the stack's services registered in it: they go
        // with the ECS services, which drain first.
        let r = super::common::retry_in_use(IN_USE, || async {
            c.servicediscovery
                .delete_namespace()
                .id(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("delete namespace {} ({})", cur.name, cur.physical_id))
        })
        .await;
        let op = match r {
            Ok(r) => r.operation_id,
            Err(e) => return ignore_missing::<()>(Err(e)),
        };
        if let Some(op) = op {
            wait_operation(c, &op, &format!("deleting namespace {}", cur.name)).await?;
        }
        Ok(())
    }
}

/// The stack's namespace (by its name) in every page of the listing of HTTP namespaces.
async fn list(c: &Clients, stack: &StackRef) -> Result<Vec<NamespaceSummary>, AwsError> {
    let name = Names::new(&stack.name, &stack.region).namespace();
    let filter = |key, value: &str| {
        NamespaceFilter::builder()
            .name(key)
            .values(value)
            .condition(FilterCondition::Eq)
            .build()
            .expect("name and values are set")
    };
    let mut pages = c
        .servicediscovery
        .list_namespaces()
        .filters(filter(
            NamespaceFilterName::Type,
            NamespaceType::Http.as_str(),
        ))
        .filters(filter(NamespaceFilterName::Name, &name))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.ctx(|| format!("list namespaces {name}"))?;
        out.extend(
            page.namespaces
                .unwrap_or_default()
                .into_iter()
                .filter(|n| n.name() == Some(name.as_str())),
        );
    }
    Ok(out)
}

/// Follow a Cloud Map operation until it succeeds; the namespace it names.
async fn wait_operation(c: &Clients, op: &str, what: &str) -> Result<String, BoxError> {
    let deadline = std::time::Instant::now() + OPERATION;
    let mut pause = Duration::from_millis(250);
    loop {
        let r = c
            .servicediscovery
            .get_operation()
            .operation_id(op)
            .send()
            .await
            .ctx(|| format!("get operation {op} ({what})"))?;
        let o = r.operation().ok_or("GetOperation returned no operation")?;
        match o.status() {
            Some(OperationStatus::Success) => {
                return Ok(o
                    .targets()
                    .and_then(|t| t.get(&OperationTargetType::Namespace))
                    .cloned()
                    .unwrap_or_default());
            }
            Some(OperationStatus::Fail) => {
                return Err(format!(
                    "{what}: Cloud Map operation {op} failed: {}",
                    o.error_message().unwrap_or("no reason given")
                )
                .into());
            }
            _ => {}
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{what}: Cloud Map operation {op} had not finished after {} minutes",
                OPERATION.as_secs() / 60
            )
            .into());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
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
            let tags = set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()?;
            c.servicediscovery
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(tags))
                .send()
                .await
                .ctx(|| format!("tag namespace {}", cur.name))?;
        }
        if !remove.is_empty() {
            c.servicediscovery
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .ctx(|| format!("untag namespace {}", cur.name))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use crate::engine::Kind;
    use crate::spec::{load_str, View};

    #[test]
    fn only_named_services_have_a_namespace() {
        let one = load_str("web.yaml", include_str!("../../stacks/web.yaml"), None).unwrap();
        assert!(super::Namespace
            .desired(&View::new(&one, &one.region, None))
            .is_empty());
        let many = load_str("app.yaml", include_str!("../../stacks/app.yaml"), None).unwrap();
        let nodes = super::Namespace.desired(&View::new(&many, &many.region, None));
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].name, "pizza");
        assert_eq!(nodes[0].id, super::ID);
    }
}
