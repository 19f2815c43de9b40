//! `aws_vpc`: the stack's VPC (network `create` only).

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use futures::future::try_join_all;

use super::common::{b, ignore_missing, s};
use super::ec2::{discover, tag_spec};
use crate::aws::{AwsError, Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
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
/// How many rules (ingress and egress permissions) the VPC's default security group has.
const DEFAULT_SG_RULES: &str = "default_security_group_rules";

/// What a new VPC has before ballast sets anything (AWS's defaults).
const DNS_DEFAULTS: [bool; 2] = [true, false];

#[async_trait]
impl Kind<Clients> for Vpc {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcAttribute",
                "ec2:DescribeSecurityGroups",
            ],
            write_any: &[
                "ec2:CreateVpc",
                "ec2:DeleteVpc",
                "ec2:ModifyVpcAttribute",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ],
            ..Iam::default()
        }
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
                // Security Hub EC2.2: the VPC's default group allows nothing (nothing of the
                // stack is in it; whatever is put there by mistake gets no traffic).
                .attr(DEFAULT_SG_RULES, 0)
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
        // The DNS attributes and the default groups of every VPC found, all at once (one
        // round trip more).
        let dns = try_join_all(found.iter().flat_map(|o| {
            DNS.iter()
                .map(move |(_, attr)| dns_attribute(c, &o.physical_id, attr.clone()))
        }));
        let ids: Vec<String> = found.iter().map(|o| o.physical_id.clone()).collect();
        let (dns, groups) = futures::try_join!(dns, default_groups(c, &ids))?;
        for (o, values) in found.iter_mut().zip(dns.chunks(DNS.len())) {
            for ((key, _), v) in DNS.iter().zip(values) {
                o.attrs.insert(key.to_string(), Value::from(*v));
            }
            let rules = groups
                .iter()
                .find(|g| g.vpc_id() == Some(o.physical_id.as_str()))
                .map_or(0, |g| {
                    g.ip_permissions().len() + g.ip_permissions_egress().len()
                });
            o.attrs
                .insert(DEFAULT_SG_RULES.into(), Value::from(rules as i64));
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
        strip_default_group(c, id).await
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
            if key == DEFAULT_SG_RULES {
                strip_default_group(c, &cur.physical_id).await?;
                continue;
            }
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

/// The default security groups of the VPCs `ids` (one DescribeSecurityGroups; none for none).
async fn default_groups(
    c: &Clients,
    ids: &[String],
) -> Result<Vec<aws_sdk_ec2::types::SecurityGroup>, AwsError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let filter = |name: &str, values: Vec<String>| {
        aws_sdk_ec2::types::Filter::builder()
            .name(name)
            .set_values(Some(values))
            .build()
    };
    c.ec2
        .describe_security_groups()
        .filters(filter("vpc-id", ids.to_vec()))
        .filters(filter("group-name", vec!["default".into()]))
        .send()
        .await
        .ctx(|| format!("describe the default security group of {}", ids.join(", ")))
        .map(|r| r.security_groups.unwrap_or_default())
}

/// Revoke every rule of the default security group of VPC `id` (AWS gives it one admitting
/// itself and one sending anywhere). Of a VPC made a moment ago AWS may not list the group
/// yet (it is made with the VPC): it is waited for, up to two minutes.
async fn strip_default_group(c: &Clients, id: &str) -> Result<(), BoxError> {
    let groups = super::common::wait_for(
        std::time::Duration::from_secs(120),
        format!("the default security group of VPC {id} is still not listed"),
        || async {
            let groups = default_groups(c, &[id.to_string()]).await?;
            Ok((!groups.is_empty()).then_some(groups))
        },
    )
    .await?;
    for g in groups {
        let gid = g.group_id().unwrap_or_default();
        if !g.ip_permissions().is_empty() {
            c.ec2
                .revoke_security_group_ingress()
                .group_id(gid)
                .set_ip_permissions(Some(g.ip_permissions().to_vec()))
                .send()
                .await
                .ctx(|| format!("revoke the ingress rules of the default security group {gid}"))?;
        }
        if !g.ip_permissions_egress().is_empty() {
            c.ec2
                .revoke_security_group_egress()
                .group_id(gid)
                .set_ip_permissions(Some(g.ip_permissions_egress().to_vec()))
                .send()
                .await
                .ctx(|| format!("revoke the egress rules of the default security group {gid}"))?;
        }
    }
    Ok(())
}
