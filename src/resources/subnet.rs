//! `aws_subnet`: one public subnet per availability zone (network `create`); for an `existing`
//! network, checks that the given subnets span at least two AZs.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};

use super::common::{b, ignore_missing, s};
use super::ec2::{discover, tag_spec};
use crate::aws::{AwsError, Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::{NetworkModel, SubnetModel, View};

pub struct Subnet;

pub const KIND: &str = "aws_subnet";

pub fn id(az: &str) -> String {
    super::network::subnet_id(az)
}

#[async_trait]
impl Kind<Clients> for Subnet {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["ec2:DescribeSubnets"],
            write_any: &[
                "ec2:CreateSubnet",
                "ec2:DeleteSubnet",
                "ec2:ModifySubnetAttribute",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::ec2::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::vpc::KIND]
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let NetworkModel::Create { subnets, .. } = &v.network else {
            return vec![];
        };
        // Nothing launched in them needs a public IP by default: a task that has one asks for
        // it (`assign_public_ip`), the NAT gateways carry Elastic IPs.
        let subnet = |id: String, name: String, sn: &SubnetModel| {
            Node::new(KIND, id, name)
                .attr("vpc_id", Value::reference(super::vpc::ID, "id"))
                .attr("cidr_block", sn.cidr.as_str())
                .attr("availability_zone", sn.az.as_str())
                .attr("map_public_ip_on_launch", false)
                .force_new(&["vpc_id", "cidr_block", "availability_zone"])
        };
        let names = v.names();
        let public = subnets
            .iter()
            .map(|sn| subnet(id(&sn.az), names.subnet(&sn.az), sn));
        let private = v.private_subnets().iter().map(|sn| {
            subnet(
                super::network::private_subnet_id(&sn.az),
                names.private_subnet(&sn.az),
                sn,
            )
        });
        public.chain(private).collect()
    }

    async fn preflight(&self, c: &Clients, v: &View<'_>) -> Result<(), BoxError> {
        let NetworkModel::Existing {
            vpc_id,
            subnet_ids,
            private_subnet_ids,
        } = &v.network
        else {
            return Ok(());
        };
        let all: Vec<String> = subnet_ids
            .iter()
            .chain(private_subnet_ids)
            .cloned()
            .collect();
        let found = c
            .ec2
            .describe_subnets()
            .set_subnet_ids(Some(all.clone()))
            .send()
            .await
            .ctx(|| format!("describe subnets {}", all.join(", ")))?;
        let mut azs = BTreeSet::new();
        for sn in found.subnets() {
            if sn.vpc_id() != Some(vpc_id.as_str()) {
                return Err(format!(
                    "subnet {} is in {}, not in network.existing.vpc_id {vpc_id}",
                    sn.subnet_id().unwrap_or("?"),
                    sn.vpc_id().unwrap_or("?")
                )
                .into());
            }
            if sn
                .subnet_id()
                .is_some_and(|id| subnet_ids.iter().any(|s| s == id))
            {
                azs.extend(sn.availability_zone().map(str::to_string));
            }
        }
        if azs.len() < 2 {
            return Err(format!(
                "network.existing.subnet_ids span {} availability zone(s) ({}); an ALB needs at least 2",
                azs.len(),
                azs.into_iter().collect::<Vec<_>>().join(", ")
            )
            .into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let describe = |f| async move {
            c.ec2
                .describe_subnets()
                .filters(f)
                .send()
                .await
                .ctx(|| "describe subnets".into())
                .map(|r| r.subnets.unwrap_or_default())
        };
        let read = |sn: &aws_sdk_ec2::types::Subnet| {
            let id = sn.subnet_id().unwrap_or_default().to_string();
            let attrs = Attrs::from([
                ("vpc_id".into(), Value::opt_str(sn.vpc_id())),
                ("cidr_block".into(), Value::opt_str(sn.cidr_block())),
                (
                    "availability_zone".into(),
                    Value::opt_str(sn.availability_zone()),
                ),
                (
                    "map_public_ip_on_launch".into(),
                    Value::Bool(sn.map_public_ip_on_launch().unwrap_or(false)),
                ),
            ]);
            let outputs = Outputs::from([("id".into(), id.clone())]);
            (attrs, outputs)
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
        let r = c
            .ec2
            .create_subnet()
            .vpc_id(s(attrs, "vpc_id")?)
            .cidr_block(s(attrs, "cidr_block")?)
            .availability_zone(s(attrs, "availability_zone")?)
            .tag_specifications(tag_spec(ResourceType::Subnet, stack, node))
            .send()
            .await
            .ctx(|| format!("create subnet {}", node.name))?;
        let id = r
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_string();
        // A new subnet maps no public IPs (AWS's default): only `true` needs a call.
        if b(attrs, "map_public_ip_on_launch") {
            set_public_ip(c, &id, true).await?;
        }
        Ok(Outputs::from([("id".into(), id)]))
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        _: &Node,
        attrs: &Attrs,
        cur: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        set_public_ip(c, &cur.physical_id, b(attrs, "map_public_ip_on_launch")).await?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let r = super::common::retry_in_use(IN_USE, || async {
            c.ec2
                .delete_subnet()
                .subnet_id(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("delete subnet {}", cur.physical_id))
        })
        .await;
        ignore_missing(r)
    }
}

async fn set_public_ip(c: &Clients, id: &str, on: bool) -> Result<(), AwsError> {
    c.ec2
        .modify_subnet_attribute()
        .subnet_id(id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .ctx(|| format!("set map-public-ip-on-launch on subnet {id}"))?;
    Ok(())
}
