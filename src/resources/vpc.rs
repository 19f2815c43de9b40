//! `aws_vpc`: the stack's VPC (network `create` only).

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use futures::future::try_join_all;

use super::common::{b, ignore_missing, s};
use super::ec2::{discover, tag_spec};
use crate::aws::{AwsError, Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::{NetworkModel, View};

pub struct Vpc;

pub const KIND: &str = "aws_vpc";
pub const ID: &str = "vpc";

/// The VPC's DNS attributes: tasks resolve AWS endpoints and each other by name. Each is its
/// own DescribeVpcAttribute / ModifyVpcAttribute call (EC2 takes one attribute per call).
const DNS: [(&str, VpcAttributeName); 2] = [
    ("enable_dns_support", VpcAttributeName::EnableDnsSupport),
    ("enable_dns_hostnames", VpcAttributeName::EnableDnsHostnames),
];
/// What a new VPC has before ballast sets anything (AWS's defaults).
const DNS_DEFAULTS: [bool; 2] = [true, false];

#[async_trait]
impl Kind<Clients> for Vpc {
    fn name(&self) -> &'static str {
        KIND
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::ec2::retag)
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        match &v.network {
            NetworkModel::Create { cidr, .. } => vec![Node::new(KIND, ID, v.names().vpc())
                .attr("cidr_block", cidr.as_str())
                .attr(DNS[0].0, true)
                .attr(DNS[1].0, true)
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
        let describe = |f| describe_vpcs(c, f);
        let read = |v: &aws_sdk_ec2::types::Vpc| {
            let id = v.vpc_id().unwrap_or_default().to_string();
            let attrs = Attrs::from([("cidr_block".into(), Value::opt_str(v.cidr_block()))]);
            let outputs = Outputs::from([("id".into(), id.clone())]);
            (attrs, outputs)
        };
        let mut found = discover(KIND, stack, desired, describe, read).await?;
        // The DNS attributes of every VPC found, all at once (one round trip more).
        let dns = try_join_all(found.iter().flat_map(|o| {
            DNS.iter()
                .map(move |(_, attr)| dns_attribute(c, &o.physical_id, attr.clone()))
        }))
        .await?;
        for (o, values) in found.iter_mut().zip(dns.chunks(DNS.len())) {
            for ((key, _), v) in DNS.iter().zip(values) {
                o.attrs.insert(key.to_string(), Value::from(*v));
            }
        }
        Ok(found)
    }

    /// The listing alone: the DNS attributes are read by id, not listed.
    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
        _: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        let describe = |f| describe_vpcs(c, f);
        let read = |v: &aws_sdk_ec2::types::Vpc| {
            let id = v.vpc_id().unwrap_or_default().to_string();
            (Attrs::new(), Outputs::from([("id".into(), id)]))
        };
        Ok(discover(KIND, stack, desired, describe, read).await?)
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
        Ok(Outputs::from([("id".into(), id)]))
    }

    /// A new VPC has AWS's defaults; set what differs, beside the subnets and groups made in it
    /// (nothing in it needs DNS hostnames at once). A deploy killed before this is repaired by
    /// the next one: the attributes are read back.
    async fn finish(
        &self,
        c: &Clients,
        _: &StackRef,
        _: &Node,
        attrs: &Attrs,
        out: &Outputs,
    ) -> Result<(), BoxError> {
        let id = out.get("id").map(String::as_str).unwrap_or_default();
        for ((key, attr), default) in DNS.iter().zip(DNS_DEFAULTS) {
            if b(attrs, key) != default {
                set_dns_attribute(c, id, attr, b(attrs, key)).await?;
            }
        }
        Ok(())
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
        cur: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        for key in changed {
            let Some((_, attr)) = DNS.iter().find(|(k, _)| k == key) else {
                return Err(format!("{} cannot change {key} in place", node.address()).into());
            };
            set_dns_attribute(c, &cur.physical_id, attr, b(attrs, key)).await?;
        }
        Ok(cur.outputs.clone())
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

async fn dns_attribute(c: &Clients, vpc: &str, attr: VpcAttributeName) -> Result<bool, AwsError> {
    let r = c
        .ec2
        .describe_vpc_attribute()
        .vpc_id(vpc)
        .attribute(attr.clone())
        .send()
        .await
        .ctx(|| format!("describe the {} attribute of VPC {vpc}", attr.as_str()))?;
    let v = match attr {
        VpcAttributeName::EnableDnsSupport => r.enable_dns_support(),
        _ => r.enable_dns_hostnames(),
    };
    Ok(v.and_then(|v| v.value()).unwrap_or(false))
}

async fn set_dns_attribute(
    c: &Clients,
    vpc: &str,
    attr: &VpcAttributeName,
    on: bool,
) -> Result<(), AwsError> {
    let v = AttributeBooleanValue::builder().value(on).build();
    let call = c.ec2.modify_vpc_attribute().vpc_id(vpc);
    let call = match attr {
        VpcAttributeName::EnableDnsSupport => call.enable_dns_support(v),
        _ => call.enable_dns_hostnames(v),
    };
    call.send()
        .await
        .ctx(|| format!("set {} on VPC {vpc}", attr.as_str()))?;
    Ok(())
}

/// DescribeVpcs with one filter (discovery's owned and look-alike reads).
async fn describe_vpcs(
    c: &Clients,
    f: aws_sdk_ec2::types::Filter,
) -> Result<Vec<aws_sdk_ec2::types::Vpc>, AwsError> {
    c.ec2
        .describe_vpcs()
        .filters(f)
        .send()
        .await
        .ctx(|| "describe VPCs".into())
        .map(|r| r.vpcs.unwrap_or_default())
}
