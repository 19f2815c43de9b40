//! `aws_nat_gateway`: the private subnets' way out (`network.egress`): a public NAT gateway in
//! the public subnet of each AZ (`nat`) or of the first (`nat_single`), each with its Elastic
//! IP. A create waits until the gateway is available (private tasks pull their images through
//! it), a delete until it is gone (its address and subnet are held until then).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, NatGatewayState, ResourceType};

use super::common::{client_token, ignore_missing, s, wait_until};
use super::ec2::{discover, tag_spec};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::View;

pub struct NatGateway;

pub const KIND: &str = "aws_nat_gateway";

/// How long AWS may take to make a NAT gateway available or to delete it (terraform-provider-aws
/// waits 10 and 30 minutes; it usually takes one or two).
const CREATE_LIMIT: Duration = Duration::from_secs(600);
const DELETE_LIMIT: Duration = Duration::from_secs(1800);

#[async_trait]
impl Kind<Clients> for NatGateway {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["ec2:DescribeNatGateways"],
            write_any: &[
                "ec2:CreateNatGateway",
                "ec2:DeleteNatGateway",
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
        // The internet gateway too: a public NAT gateway made before the VPC has one fails.
        &[
            super::subnet::KIND,
            super::eip::KIND,
            super::internet_gateway::KIND,
        ]
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        super::network::nat_azs(v)
            .into_iter()
            .map(|az| {
                Node::new(
                    KIND,
                    super::network::nat_id(&az),
                    v.names().nat_gateway(&az),
                )
                .attr(
                    "subnet_id",
                    Value::reference(&super::network::subnet_id(&az), "id"),
                )
                .attr(
                    "allocation_id",
                    Value::reference(&super::network::eip_id(&az), "id"),
                )
                .attr("connectivity_type", "public")
                .after(super::internet_gateway::ID)
                .force_new(&["subnet_id", "allocation_id", "connectivity_type"])
            })
            .collect()
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let describe = |f| async move {
            c.ec2
                .describe_nat_gateways()
                .filter(f)
                .send()
                .await
                .ctx(|| "describe NAT gateways".into())
                .map(|r| {
                    // A deleted (or deleting, or failed) gateway is on its way out: AWS lists
                    // it for an hour, and it is no longer the stack's.
                    r.nat_gateways
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|g| {
                            matches!(
                                g.state(),
                                Some(NatGatewayState::Available | NatGatewayState::Pending)
                            )
                        })
                        .collect()
                })
        };
        let read = |g: &aws_sdk_ec2::types::NatGateway| {
            let id = g.nat_gateway_id().unwrap_or_default().to_string();
            let allocation = g
                .nat_gateway_addresses()
                .iter()
                .find_map(|a| a.allocation_id());
            let attrs = Attrs::from([
                ("subnet_id".into(), Value::opt_str(g.subnet_id())),
                ("allocation_id".into(), Value::opt_str(allocation)),
                (
                    "connectivity_type".into(),
                    Value::opt_str(g.connectivity_type().map(|t| t.as_str())),
                ),
            ]);
            (attrs, Outputs::from([("id".into(), id)]))
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
            .create_nat_gateway()
            .subnet_id(s(attrs, "subnet_id")?)
            .allocation_id(s(attrs, "allocation_id")?)
            .connectivity_type(ConnectivityType::Public)
            .client_token(client_token(&node.name))
            .tag_specifications(tag_spec(ResourceType::Natgateway, stack, node))
            .send()
            .await
            .ctx(|| format!("create NAT gateway {}", node.name))?;
        let id = r
            .nat_gateway()
            .and_then(|g| g.nat_gateway_id())
            .unwrap_or_default()
            .to_string();
        let what = format!("NAT gateway {id} ({}) is still not available", node.name);
        wait_until(CREATE_LIMIT, what, || async {
            match state(c, &id).await? {
                Some((NatGatewayState::Available, _)) => Ok(true),
                Some((NatGatewayState::Failed, why)) => Err(AwsError::new(
                    format!("create NAT gateway {} ({id})", node.name),
                    format!("it failed: {why}"),
                )),
                _ => Ok(false),
            }
        })
        .await?;
        Ok(Outputs::from([("id".into(), id)]))
    }

    async fn update(
        &self,
        _: &Clients,
        _: &StackRef,
        _: &Node,
        _: &Attrs,
        cur: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        // Every attribute is force-new; tags are retagged.
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let r = c
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("delete NAT gateway {}", cur.physical_id));
        ignore_missing(r)?;
        // Its Elastic IP and subnet are in use until it is deleted.
        let what = format!("NAT gateway {} is still being deleted", cur.physical_id);
        wait_until(DELETE_LIMIT, what, || async {
            Ok(matches!(
                state(c, &cur.physical_id).await?,
                None | Some((NatGatewayState::Deleted, _))
            ))
        })
        .await
    }
}

/// The state of NAT gateway `id` and why it failed, if it did; None when AWS no longer knows it.
async fn state(c: &Clients, id: &str) -> Result<Option<(NatGatewayState, String)>, AwsError> {
    let r = c
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
        .ctx(|| format!("describe NAT gateway {id}"));
    let r = match r {
        Err(e) if e.is_not_found() => return Ok(None),
        r => r?,
    };
    Ok(r.nat_gateways().first().and_then(|g| {
        let why = g.failure_message().unwrap_or("no reason given").to_string();
        g.state().cloned().map(|s| (s, why))
    }))
}
