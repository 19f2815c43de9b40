//! EC2 helpers shared by the EC2 kinds (VPC, subnet, internet gateway, route table, security
//! group, launch template): tag on create, and one discovery by tag, then by Name.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use std::collections::BTreeMap;

use super::common::{ownership, tags_for};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Node, Observed, Outputs, StackRef, TAGS};
use crate::spec::names::TAG_STACK;

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

/// EC2 resources of one type that carry the stack's tag, and those named like a desired node
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
    // Both reads at once: one round trip.
    let named = async {
        if desired.is_empty() {
            Ok(Vec::new())
        } else {
            describe(name_filter(desired)).await
        }
    };
    let (mut found, named) = futures::try_join!(describe(stack_filter(stack)), named)?;
    for t in named {
        if !found.iter().any(|f| id_of(f) == id_of(&t)) {
            found.push(t);
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
    let mut attrs = attrs;
    attrs.insert(TAGS.into(), own.tags);
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

/// `Kind::retag` of the EC2 kinds: CreateTags for what is set, DeleteTags for what is removed.
pub fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        if !set.is_empty() {
            c.ec2
                .create_tags()
                .resources(&cur.physical_id)
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
            c.ec2
                .delete_tags()
                .resources(&cur.physical_id)
                .set_tags(Some(
                    remove
                        .iter()
                        .map(|k| Tag::builder().key(k).build())
                        .collect(),
                ))
                .send()
                .await
                .ctx(|| format!("untag {}", cur.physical_id))?;
        }
        Ok(())
    })
}

/// Discovery of one EC2 resource type: `describe` with a filter, then each resource found by
/// tag (owned) or by Name (a look-alike) becomes an observation with `read`'s attributes and
/// outputs.
pub async fn discover<T, F, Fut>(
    kind: &'static str,
    stack: &StackRef,
    desired: &[&Node],
    describe: F,
    read: impl Fn(&T) -> (Attrs, Outputs),
) -> Result<Vec<Observed>, AwsError>
where
    T: Tagged,
    F: Fn(Filter) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, AwsError>>,
{
    let found = find(stack, desired, T::physical_id, describe).await?;
    Ok(found
        .iter()
        .filter_map(|t| {
            let (attrs, outputs) = read(t);
            let id = t.physical_id().unwrap_or_default().to_string();
            observe_ec2(kind, stack, desired, id, t.tags(), attrs, outputs)
        })
        .collect())
}

/// An EC2 resource type with an id and tags.
pub trait Tagged {
    fn physical_id(&self) -> Option<&str>;
    fn tags(&self) -> &[Tag];
}

macro_rules! tagged {
    ($($t:ident: $id:ident),* $(,)?) => {$(
        impl Tagged for aws_sdk_ec2::types::$t {
            fn physical_id(&self) -> Option<&str> {
                self.$id()
            }
            fn tags(&self) -> &[Tag] {
                aws_sdk_ec2::types::$t::tags(self)
            }
        }
    )*};
}

tagged!(
    Vpc: vpc_id,
    Subnet: subnet_id,
    InternetGateway: internet_gateway_id,
    RouteTable: route_table_id,
    SecurityGroup: group_id,
    NatGateway: nat_gateway_id,
    Address: allocation_id,
    FlowLog: flow_log_id,
    VpcEndpoint: vpc_endpoint_id,
);
