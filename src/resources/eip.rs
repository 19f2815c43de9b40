//! `aws_eip`: the Elastic IP of each NAT gateway (`network.egress`), allocated in the VPC
//! domain and tagged on allocation.

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};

use super::common::ignore_missing;
use super::ec2::{discover, tag_spec};
use crate::aws::{Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::View;

pub struct Eip;

pub const KIND: &str = "aws_eip";

#[async_trait]
impl Kind<Clients> for Eip {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["ec2:DescribeAddresses"],
            write_any: &[
                "ec2:AllocateAddress",
                "ec2:ReleaseAddress",
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
        super::network::nat_azs(v)
            .into_iter()
            .map(|az| {
                Node::new(
                    KIND,
                    super::network::eip_id(&az),
                    v.names().nat_gateway(&az),
                )
                .attr("domain", "vpc")
                .force_new(&["domain"])
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
                .describe_addresses()
                .filters(f)
                .send()
                .await
                .ctx(|| "describe addresses".into())
                .map(|r| r.addresses.unwrap_or_default())
        };
        let read = |a: &aws_sdk_ec2::types::Address| {
            let id = a.allocation_id().unwrap_or_default().to_string();
            let domain = a.domain().map(|d| d.as_str().to_string());
            let attrs = Attrs::from([("domain".into(), Value::opt_str(domain.as_deref()))]);
            let outputs = Outputs::from([
                ("id".into(), id),
                ("public_ip".into(), a.public_ip().unwrap_or_default().into()),
            ]);
            (attrs, outputs)
        };
        Ok(discover(KIND, stack, desired, describe, read).await?)
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        _: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let r = c
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(ResourceType::ElasticIp, stack, node))
            .send()
            .await
            .ctx(|| format!("allocate Elastic IP {}", node.name))?;
        Ok(Outputs::from([
            ("id".into(), r.allocation_id().unwrap_or_default().into()),
            ("public_ip".into(), r.public_ip().unwrap_or_default().into()),
        ]))
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
        // `domain`, the only attribute, is force-new; tags are retagged.
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        // Held until its NAT gateway is deleted (InvalidIPAddress.InUse).
        let r = super::common::retry_in_use(IN_USE, || async {
            c.ec2
                .release_address()
                .allocation_id(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("release Elastic IP {}", cur.physical_id))
        })
        .await;
        ignore_missing(r)
    }
}
