//! `aws_vpc_endpoint`: the private tier's way to AWS without the internet (`network.egress:
//! endpoints`): the S3 gateway endpoint on the private route tables, and an interface endpoint
//! with private DNS in every private subnet for each other service the tasks need (ECR, Logs,
//! Secrets Manager, SSM, STS, ECS). A create waits until the endpoint is available (tasks pull
//! their images through it), a delete until it is gone (its network interfaces hold the
//! subnets and the security group until then).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, State, VpcEndpointType};

use super::common::{client_token, s, strs, wait_until};
use super::ec2::{discover, tag_spec};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::View;

pub struct VpcEndpoint;

pub const KIND: &str = "aws_vpc_endpoint";

/// How long AWS may take to make an endpoint available or to delete it (terraform-provider-aws
/// waits 10 minutes for both).
const LIMIT: Duration = Duration::from_secs(600);

#[async_trait]
impl Kind<Clients> for VpcEndpoint {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["ec2:DescribeVpcEndpoints"],
            write_any: &[
                "ec2:CreateVpcEndpoint",
                "ec2:ModifyVpcEndpoint",
                "ec2:DeleteVpcEndpoints",
                "ec2:CreateTags",
                "ec2:DeleteTags",
                // An interface endpoint with private DNS: EC2 makes a private hosted zone for it.
                "route53:AssociateVPCWithHostedZone",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::ec2::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            super::vpc::KIND,
            super::subnet::KIND,
            super::route_table::KIND,
            super::security_group::KIND,
        ]
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let private = v.private_subnets();
        super::network::endpoint_services(v)
            .into_iter()
            .map(|(service, gateway)| {
                let node = Node::new(
                    KIND,
                    super::network::endpoint_id(&service),
                    v.names().vpc_endpoint(&service),
                )
                .attr("vpc_id", Value::reference(super::vpc::ID, "id"))
                .attr(
                    "service_name",
                    format!("com.amazonaws.{}.{service}", v.region),
                )
                .attr("type", if gateway { "Gateway" } else { "Interface" })
                .force_new(&["vpc_id", "service_name", "type"]);
                if gateway {
                    node.attr(
                        "route_table_ids",
                        Value::set(private.iter().map(|sn| {
                            Value::reference(&super::network::private_route_table_id(&sn.az), "id")
                        })),
                    )
                } else {
                    node.attr(
                        "subnet_ids",
                        Value::set(private.iter().map(|sn| {
                            Value::reference(&super::network::private_subnet_id(&sn.az), "id")
                        })),
                    )
                    .attr(
                        "security_group_ids",
                        Value::set([Value::reference(super::network::ENDPOINTS_SG_ID, "id")]),
                    )
                    .attr("private_dns_enabled", true)
                }
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
                .describe_vpc_endpoints()
                .filters(f)
                .send()
                .await
                .ctx(|| "describe VPC endpoints".into())
                .map(|r| {
                    // A deleted (or deleting, or failed) endpoint is on its way out: AWS
                    // lists it for a while, and it is no longer the stack's.
                    r.vpc_endpoints
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|e| live(e.state().map(State::as_str)))
                        .collect()
                })
        };
        let read = |e: &aws_sdk_ec2::types::VpcEndpoint| {
            let id = e.vpc_endpoint_id().unwrap_or_default().to_string();
            let kind = e
                .vpc_endpoint_type()
                .map(|t| t.as_str())
                .unwrap_or_default();
            let mut attrs = Attrs::from([
                ("vpc_id".into(), Value::opt_str(e.vpc_id())),
                ("service_name".into(), Value::opt_str(e.service_name())),
                ("type".into(), Value::str(kind)),
            ]);
            if kind.eq_ignore_ascii_case("gateway") {
                attrs.insert(
                    "route_table_ids".into(),
                    Value::set(e.route_table_ids().iter().map(String::as_str)),
                );
            } else {
                attrs.insert(
                    "subnet_ids".into(),
                    Value::set(e.subnet_ids().iter().map(String::as_str)),
                );
                attrs.insert(
                    "security_group_ids".into(),
                    Value::set(e.groups().iter().filter_map(|g| g.group_id())),
                );
                attrs.insert(
                    "private_dns_enabled".into(),
                    Value::Bool(e.private_dns_enabled().unwrap_or(false)),
                );
            }
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
        let gateway = s(attrs, "type")? == "Gateway";
        let r = c
            .ec2
            .create_vpc_endpoint()
            .vpc_id(s(attrs, "vpc_id")?)
            .service_name(s(attrs, "service_name")?)
            .vpc_endpoint_type(if gateway {
                VpcEndpointType::Gateway
            } else {
                VpcEndpointType::Interface
            })
            .set_route_table_ids(gateway.then(|| strs(attrs, "route_table_ids")))
            .set_subnet_ids((!gateway).then(|| strs(attrs, "subnet_ids")))
            .set_security_group_ids((!gateway).then(|| strs(attrs, "security_group_ids")))
            .set_private_dns_enabled((!gateway).then_some(true))
            .client_token(client_token(&node.name))
            .tag_specifications(tag_spec(ResourceType::VpcEndpoint, stack, node))
            .send()
            .await
            .ctx(|| format!("create VPC endpoint {}", node.name))?;
        let id = r
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .unwrap_or_default()
            .to_string();
        let what = format!("VPC endpoint {id} ({}) is still not available", node.name);
        wait_until(LIMIT, what, || async {
            match state(c, &id).await?.as_deref() {
                Some("available") => Ok(true),
                Some(s @ ("failed" | "rejected" | "expired")) => Err(AwsError::new(
                    format!("create VPC endpoint {} ({id})", node.name),
                    format!("it is {s}"),
                )),
                _ => Ok(false),
            }
        })
        .await?;
        Ok(Outputs::from([("id".into(), id)]))
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
        // What is added and what is removed, of each set; tags are retagged.
        let delta = |key: &str| {
            let (want, have) = (strs(attrs, key), strs(&cur.attrs, key));
            let add: Vec<String> = want.iter().filter(|w| !have.contains(w)).cloned().collect();
            let remove: Vec<String> = have.into_iter().filter(|h| !want.contains(h)).collect();
            (
                (!add.is_empty()).then_some(add),
                (!remove.is_empty()).then_some(remove),
            )
        };
        let (add_rt, remove_rt) = delta("route_table_ids");
        let (add_sn, remove_sn) = delta("subnet_ids");
        let (add_sg, remove_sg) = delta("security_group_ids");
        let dns = attrs.get("private_dns_enabled").and_then(Value::as_bool);
        let dns = dns.filter(|d| {
            cur.attrs
                .get("private_dns_enabled")
                .and_then(Value::as_bool)
                != Some(*d)
        });
        if [
            &add_rt, &remove_rt, &add_sn, &remove_sn, &add_sg, &remove_sg,
        ]
        .iter()
        .all(|d| d.is_none())
            && dns.is_none()
        {
            return Ok(cur.outputs.clone());
        }
        c.ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&cur.physical_id)
            .set_add_route_table_ids(add_rt)
            .set_remove_route_table_ids(remove_rt)
            .set_add_subnet_ids(add_sn)
            .set_remove_subnet_ids(remove_sn)
            .set_add_security_group_ids(add_sg)
            .set_remove_security_group_ids(remove_sg)
            .set_private_dns_enabled(dns)
            .send()
            .await
            .ctx(|| format!("modify VPC endpoint {} ({})", node.name, cur.physical_id))?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let r = c
            .ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("delete VPC endpoint {}", cur.physical_id))?;
        // A failure is an item of the answer, not an error; one that is not found is gone.
        if let Some(e) = r.unsuccessful().iter().filter_map(|u| u.error()).next() {
            let code = e.code().unwrap_or_default();
            if !code.contains("NotFound") {
                return Err(AwsError::new(
                    format!("delete VPC endpoint {}", cur.physical_id),
                    format!("{code}: {}", e.message().unwrap_or_default()),
                )
                .into());
            }
        }
        // Its network interfaces hold the subnets and the security group until it is gone.
        let what = format!("VPC endpoint {} is still being deleted", cur.physical_id);
        wait_until(LIMIT, what, || async {
            let s = state(c, &cur.physical_id).await?;
            Ok(!live(s.as_deref()))
        })
        .await
    }
}

/// Whether an endpoint in `state` is (or is becoming) one the stack may use. AWS answers in
/// lower camel case (`available`, `pendingAcceptance`), which the SDK's enum does not name.
fn live(state: Option<&str>) -> bool {
    state.is_some_and(|s| {
        matches!(
            s.to_ascii_lowercase().as_str(),
            "available" | "pending" | "pendingacceptance"
        )
    })
}

/// The state of endpoint `id` in lower case; None when AWS no longer knows it.
async fn state(c: &Clients, id: &str) -> Result<Option<String>, AwsError> {
    let r = c
        .ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
        .ctx(|| format!("describe VPC endpoint {id}"));
    let r = match r {
        Err(e) if e.is_not_found() => return Ok(None),
        r => r?,
    };
    Ok(r.vpc_endpoints()
        .first()
        .and_then(|e| e.state())
        .map(|s| s.as_str().to_ascii_lowercase()))
}
