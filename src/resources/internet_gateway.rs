//! `aws_internet_gateway`: the VPC's way out, attached to the stack's VPC.

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;

use super::common::{ignore_missing, s};
use super::ec2::{discover, tag_spec};
use crate::aws::{AwsError, Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::{NetworkModel, View};

pub struct InternetGateway;

pub const KIND: &str = "aws_internet_gateway";
pub const ID: &str = "igw";

#[async_trait]
impl Kind<Clients> for InternetGateway {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["ec2:DescribeInternetGateways"],
            write_any: &[
                "ec2:CreateInternetGateway",
                "ec2:AttachInternetGateway",
                "ec2:DetachInternetGateway",
                "ec2:DeleteInternetGateway",
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
        match &v.network {
            NetworkModel::Create { .. } => {
                vec![Node::new(KIND, ID, v.names().igw())
                    .attr("vpc_id", Value::reference(super::vpc::ID, "id"))]
            }
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
                .describe_internet_gateways()
                .filters(f)
                .send()
                .await
                .ctx(|| "describe internet gateways".into())
                .map(|r| r.internet_gateways.unwrap_or_default())
        };
        let read = |g: &aws_sdk_ec2::types::InternetGateway| {
            let id = g.internet_gateway_id().unwrap_or_default().to_string();
            let vpc = g.attachments().iter().find_map(|a| a.vpc_id());
            let attrs = Attrs::from([("vpc_id".into(), Value::opt_str(vpc))]);
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
            .create_internet_gateway()
            .tag_specifications(tag_spec(ResourceType::InternetGateway, stack, node))
            .send()
            .await
            .ctx(|| format!("create internet gateway {}", node.name))?;
        let id = r
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap_or_default()
            .to_string();
        attach(c, &id, s(attrs, "vpc_id")?).await?;
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
        if let Some(old) = cur.attrs.get("vpc_id").and_then(Value::as_str) {
            detach(c, &cur.physical_id, old).await?;
        }
        attach(c, &cur.physical_id, s(attrs, "vpc_id")?).await?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        if let Some(vpc) = cur.attrs.get("vpc_id").and_then(Value::as_str) {
            ignore_missing(detach(c, &cur.physical_id, vpc).await)?;
        }
        let r = c
            .ec2
            .delete_internet_gateway()
            .internet_gateway_id(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("delete internet gateway {}", cur.physical_id));
        ignore_missing(r)
    }
}

async fn attach(c: &Clients, igw: &str, vpc: &str) -> Result<(), AwsError> {
    c.ec2
        .attach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(vpc)
        .send()
        .await
        .ctx(|| format!("attach internet gateway {igw} to {vpc}"))?;
    Ok(())
}

async fn detach(c: &Clients, igw: &str, vpc: &str) -> Result<(), AwsError> {
    // Detaching fails while public IPs (ALB, tasks) are still mapped; they go away shortly.
    super::common::retry_in_use(IN_USE, || async {
        c.ec2
            .detach_internet_gateway()
            .internet_gateway_id(igw)
            .vpc_id(vpc)
            .send()
            .await
            .ctx(|| format!("detach internet gateway {igw} from {vpc}"))
    })
    .await?;
    Ok(())
}
