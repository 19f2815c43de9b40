//! `aws_vpc`: the stack's VPC (network `create` only).

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};

use super::common::{ignore_missing, s};
use super::ec2::{discover, tag_spec};
use crate::aws::{Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Kind, Node, Observed, Outputs, StackRef, Value};
use crate::spec::{Model, NetworkModel};

pub struct Vpc;

pub const KIND: &str = "aws_vpc";
pub const ID: &str = "vpc";

#[async_trait]
impl Kind<Clients> for Vpc {
    fn name(&self) -> &'static str {
        KIND
    }

    fn desired(&self, m: &Model) -> Vec<Node> {
        match &m.network {
            NetworkModel::Create { cidr, .. } => vec![Node::new(KIND, ID, m.names().vpc())
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
        let describe = |f| async move {
            c.ec2
                .describe_vpcs()
                .filters(f)
                .send()
                .await
                .ctx(|| "describe VPCs".into())
                .map(|r| r.vpcs.unwrap_or_default())
        };
        let read = |v: &aws_sdk_ec2::types::Vpc| {
            let id = v.vpc_id().unwrap_or_default().to_string();
            let attrs = Attrs::from([("cidr_block".into(), Value::opt_str(v.cidr_block()))]);
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
