//! `aws_vpc`: the stack's VPC (network `create` only).

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType, Tag, TagSpecification};

use super::common::{ignore_missing, ownership, s, tags_for};
use crate::aws::{AwsError, Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Kind, Node, Observed, Outputs, StackRef, Value};
use crate::spec::names::TAG_STACK;
use crate::spec::{Model, NetworkModel};

pub struct Vpc;

pub const KIND: &str = "aws_vpc";

/// EC2 tag specification for a new resource.
pub fn tag_spec(rt: ResourceType, stack: &StackRef, node: &Node) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(
            tags_for(stack, node, true)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

pub fn stack_filter(stack: &StackRef) -> Filter {
    Filter::builder()
        .name(format!("tag:{TAG_STACK}"))
        .values(&stack.name)
        .build()
}

pub fn name_filter(desired: &[&Node]) -> Filter {
    Filter::builder()
        .name("tag:Name")
        .set_values(Some(desired.iter().map(|n| n.name.clone()).collect()))
        .build()
}

/// EC2 resources of one type that carry the stack's tag, then those named like a desired node
/// (the look-alikes to refuse), each once.
pub async fn find<T, F, Fut>(
    stack: &StackRef,
    desired: &[&Node],
    id_of: fn(&T) -> Option<&str>,
    describe: F,
) -> Result<Vec<T>, AwsError>
where
    F: Fn(Filter) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, AwsError>>,
{
    let mut found = describe(stack_filter(stack)).await?;
    if !desired.is_empty() {
        for t in describe(name_filter(desired)).await? {
            if !found.iter().any(|f| id_of(f) == id_of(&t)) {
                found.push(t);
            }
        }
    }
    Ok(found)
}

/// Turns EC2 resources found by tag (owned) or by Name (look-alikes) into observations.
pub fn observe_ec2(
    kind: &'static str,
    stack: &StackRef,
    desired: &[&Node],
    physical_id: String,
    tags: &[Tag],
    attrs: Attrs,
    outputs: Outputs,
) -> Option<Observed> {
    let own = ownership(
        stack,
        tags.iter()
            .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))),
    );
    let (id, owned) = if own.owned {
        (own.id.unwrap_or_else(|| physical_id.clone()), true)
    } else {
        let node = desired
            .iter()
            .find(|n| Some(&n.name) == own.name.as_ref())?;
        (node.id.clone(), false)
    };
    Some(Observed {
        id,
        kind,
        name: own.name.unwrap_or_default(),
        physical_id,
        attrs,
        outputs,
        owned,
    })
}

#[async_trait]
impl Kind<Clients> for Vpc {
    fn name(&self) -> &'static str {
        KIND
    }

    fn desired(&self, m: &Model) -> Vec<Node> {
        match &m.network {
            NetworkModel::Create { cidr, .. } => vec![Node::new(KIND, "vpc", m.names().vpc())
                .attr("cidr_block", cidr.as_str())
                .force_new(&["cidr_block"])],
            NetworkModel::Existing { .. } => vec![],
        }
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let found = find(
            stack,
            desired,
            |x: &aws_sdk_ec2::types::Vpc| x.vpc_id(),
            |f| async move {
                c.ec2
                    .describe_vpcs()
                    .filters(f)
                    .send()
                    .await
                    .ctx(|| "describe VPCs".into())
                    .map(|r| r.vpcs.unwrap_or_default())
            },
        )
        .await?;
        let mut out: Vec<Observed> = Vec::new();
        for v in found {
            let id = v.vpc_id().unwrap_or_default().to_string();
            let attrs = Attrs::from([("cidr_block".into(), Value::opt_str(v.cidr_block()))]);
            let outputs = Outputs::from([("id".into(), id.clone())]);
            out.extend(observe_ec2(
                KIND,
                stack,
                desired,
                id,
                v.tags(),
                attrs,
                outputs,
            ));
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
        let vpc = c
            .ec2
            .create_vpc()
            .cidr_block(s(attrs, "cidr_block")?)
            .tag_specifications(tag_spec(ResourceType::Vpc, stack, node))
            .send()
            .await
            .ctx(|| format!("create VPC {}", node.name))?;
        let id = vpc
            .vpc()
            .and_then(|v| v.vpc_id())
            .unwrap_or_default()
            .to_string();
        c.ec2
            .modify_vpc_attribute()
            .vpc_id(&id)
            .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
            .send()
            .await
            .ctx(|| format!("enable DNS hostnames on VPC {id}"))?;
        Ok(Outputs::from([("id".into(), id)]))
    }

    async fn update(
        &self,
        _: &Clients,
        _: &StackRef,
        node: &Node,
        _: &Attrs,
        _: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        Err(format!("{} cannot change {changed:?} in place", node.address()).into())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let r = super::common::retry_in_use(IN_USE, || async {
            c.ec2
                .delete_vpc()
                .vpc_id(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("delete VPC {}", cur.physical_id))
        })
        .await;
        ignore_missing(r)
    }
}
