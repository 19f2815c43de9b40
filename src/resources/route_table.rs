//! `aws_route_table`: the public route table (a default route to the internet gateway,
//! associated with every public subnet) and one per private subnet (a default route to a NAT
//! gateway).

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;

use super::common::{ignore_missing, s, strs};
use super::ec2::{discover, tag_spec};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::{NetworkModel, View};

pub struct RouteTable;

pub const KIND: &str = "aws_route_table";
pub const ID: &str = "rt.public";

#[async_trait]
impl Kind<Clients> for RouteTable {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["ec2:DescribeRouteTables"],
            write_any: &[
                "ec2:CreateRouteTable",
                "ec2:DeleteRouteTable",
                "ec2:CreateRoute",
                "ec2:ReplaceRoute",
                "ec2:DeleteRoute",
                "ec2:AssociateRouteTable",
                "ec2:DisassociateRouteTable",
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
        &[
            super::vpc::KIND,
            super::subnet::KIND,
            super::internet_gateway::KIND,
            super::nat_gateway::KIND,
        ]
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let NetworkModel::Create { subnets, .. } = &v.network else {
            return vec![];
        };
        let public = Node::new(KIND, ID, v.names().route_table())
            .attr("vpc_id", Value::reference(super::vpc::ID, "id"))
            .attr(
                "default_route_gateway_id",
                Value::reference(super::internet_gateway::ID, "id"),
            )
            .attr(
                "subnet_ids",
                Value::set(
                    subnets
                        .iter()
                        .map(|sn| Value::reference(&super::subnet::id(&sn.az), "id")),
                ),
            )
            .force_new(&["vpc_id"]);
        // One per private subnet: its default route goes to a NAT gateway of its AZ (`nat`)
        // or to the one (`nat_single`); with `endpoints` it has none (the S3 gateway endpoint
        // adds its own route).
        let private = v.private_subnets().iter().map(|sn| {
            let nat = super::network::nat_for(v, &sn.az)
                .map_or(Value::Null, |nat| Value::reference(&nat, "id"));
            Node::new(
                KIND,
                super::network::private_route_table_id(&sn.az),
                v.names().private_route_table(&sn.az),
            )
            .attr("vpc_id", Value::reference(super::vpc::ID, "id"))
            .attr("default_route_nat_gateway_id", nat)
            .attr(
                "subnet_ids",
                Value::set([Value::reference(
                    &super::network::private_subnet_id(&sn.az),
                    "id",
                )]),
            )
            .force_new(&["vpc_id"])
        });
        std::iter::once(public).chain(private).collect()
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let describe = |f| async move {
            c.ec2
                .describe_route_tables()
                .filters(f)
                .send()
                .await
                .ctx(|| "describe route tables".into())
                .map(|r| r.route_tables.unwrap_or_default())
        };
        let read = |rt: &aws_sdk_ec2::types::RouteTable| {
            let id = rt.route_table_id().unwrap_or_default().to_string();
            let default = rt
                .routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"));
            let gw = default.and_then(|r| r.gateway_id());
            let nat = default.and_then(|r| r.nat_gateway_id());
            let assoc: Vec<&str> = rt
                .associations()
                .iter()
                .filter_map(|a| a.subnet_id())
                .collect();
            let attrs = Attrs::from([
                ("vpc_id".into(), Value::opt_str(rt.vpc_id())),
                ("default_route_gateway_id".into(), Value::opt_str(gw)),
                ("default_route_nat_gateway_id".into(), Value::opt_str(nat)),
                ("subnet_ids".into(), Value::set(assoc)),
            ]);
            // What a delete takes apart first, so that it need not read the table again.
            let links: Vec<&str> = rt
                .associations()
                .iter()
                .filter(|a| !a.main().unwrap_or(false))
                .filter_map(|a| a.route_table_association_id())
                .collect();
            let outputs = Outputs::from([
                ("id".into(), id.clone()),
                (ASSOCIATIONS.into(), links.join(",")),
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
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let r = c
            .ec2
            .create_route_table()
            .vpc_id(s(attrs, "vpc_id")?)
            .tag_specifications(tag_spec(ResourceType::RouteTable, stack, node))
            .send()
            .await
            .ctx(|| format!("create route table {}", node.name))?;
        let id = r
            .route_table()
            .and_then(|t| t.route_table_id())
            .unwrap_or_default()
            .to_string();
        let empty = Attrs::new();
        converge(c, &id, attrs, &empty).await?;
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
        converge(c, &cur.physical_id, attrs, &cur.attrs).await?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        // The associations discovery read (it runs under the stack lock, moments before), or
        // a read of them when it did not.
        let links: Vec<String> = match cur.outputs.get(ASSOCIATIONS) {
            Some(l) => l
                .split(',')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
            None => {
                let rt = c
                    .ec2
                    .describe_route_tables()
                    .route_table_ids(&cur.physical_id)
                    .send()
                    .await
                    .ctx(|| format!("describe route table {}", cur.physical_id));
                let rt = match rt {
                    Err(e) if e.is_not_found() => return Ok(()),
                    r => r?,
                };
                rt.route_tables()
                    .iter()
                    .flat_map(|t| t.associations())
                    .filter(|a| !a.main().unwrap_or(false))
                    .filter_map(|a| a.route_table_association_id())
                    .map(String::from)
                    .collect()
            }
        };
        // Every association at once.
        let gone = links.iter().map(|assoc| async move {
            let r = c
                .ec2
                .disassociate_route_table()
                .association_id(assoc)
                .send()
                .await
                .ctx(|| format!("disassociate route table {}", cur.physical_id));
            ignore_missing(r)
        });
        futures::future::try_join_all(gone).await?;
        let r = c
            .ec2
            .delete_route_table()
            .route_table_id(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("delete route table {}", cur.physical_id));
        ignore_missing(r)
    }
}

/// The output listing the table's association ids (comma-separated), read by discovery.
const ASSOCIATIONS: &str = "association_ids";

/// Make the default route and the subnet associations match `want`, given `have`.
async fn converge(c: &Clients, id: &str, want: &Attrs, have: &Attrs) -> Result<(), BoxError> {
    // The default route: to the internet gateway (public) or a NAT gateway (private).
    let target = |a: &Attrs| -> Option<(bool, String)> {
        let get = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
        get("default_route_nat_gateway_id")
            .map(|n| (true, n))
            .or_else(|| get("default_route_gateway_id").map(|g| (false, g)))
    };
    let (want_route, have_route) = (target(want), target(have));
    // The default route and every new association at once: none waits for another.
    let route = async {
        if want_route.is_none() && have_route.is_some() {
            // A private table whose network no longer goes out through NAT (`endpoints`).
            return c
                .ec2
                .delete_route()
                .route_table_id(id)
                .destination_cidr_block("0.0.0.0/0")
                .send()
                .await
                .map(|_| ())
                .ctx(|| format!("delete default route of {id}"));
        }
        let Some((nat, to)) = want_route.filter(|w| Some(w) != have_route.as_ref()) else {
            return Ok(());
        };
        if have_route.is_some() {
            c.ec2
                .replace_route()
                .route_table_id(id)
                .destination_cidr_block("0.0.0.0/0")
                .set_gateway_id((!nat).then(|| to.clone()))
                .set_nat_gateway_id(nat.then(|| to.clone()))
                .send()
                .await
                .map(|_| ())
                .ctx(|| format!("replace default route of {id}"))
        } else {
            c.ec2
                .create_route()
                .route_table_id(id)
                .destination_cidr_block("0.0.0.0/0")
                .set_gateway_id((!nat).then(|| to.clone()))
                .set_nat_gateway_id(nat.then(|| to.clone()))
                .send()
                .await
                .map(|_| ())
                .ctx(|| format!("create default route in {id}"))
        }
    };
    let want_subnets = strs(want, "subnet_ids");
    let have_subnets = strs(have, "subnet_ids");
    let associations = want_subnets
        .iter()
        .filter(|s| !have_subnets.contains(s))
        .map(|sn| async move {
            c.ec2
                .associate_route_table()
                .route_table_id(id)
                .subnet_id(sn)
                .send()
                .await
                .map(|_| ())
                .ctx(|| format!("associate route table {id} with {sn}"))
        });
    futures::try_join!(route, futures::future::try_join_all(associations))?;
    let extra: Vec<&String> = have_subnets
        .iter()
        .filter(|s| !want_subnets.contains(s))
        .collect();
    if !extra.is_empty() {
        let rt = c
            .ec2
            .describe_route_tables()
            .route_table_ids(id)
            .send()
            .await
            .ctx(|| format!("describe route table {id}"))?;
        for a in rt.route_tables().iter().flat_map(|t| t.associations()) {
            if a.subnet_id()
                .is_some_and(|s| extra.iter().any(|e| e.as_str() == s))
            {
                if let Some(assoc) = a.route_table_association_id() {
                    c.ec2
                        .disassociate_route_table()
                        .association_id(assoc)
                        .send()
                        .await
                        .ctx(|| format!("disassociate {assoc}"))?;
                }
            }
        }
    }
    Ok(())
}
