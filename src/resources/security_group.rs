//! `aws_security_group`: the ALB's group (listener ports from the allowed CIDRs) and the
//! service's group (only the ALB's group, only on the container port).
//!
//! Egress is closed by default: the ALB's group sends only to the services' groups on their
//! ports, and a service's group only to HTTPS and DNS anywhere (image pulls, logs, secrets, AWS
//! APIs), to the stack's other services on their ports, and to what its `egress:` adds. The
//! ALB's rule to a service's group is that service group's attribute `alb_egress` (the service's
//! group already refers to the ALB's for its ingress: the ALB's group cannot refer back), so it
//! is made, changed and revoked with the service's group.

use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};

use super::common::{ignore_missing, s};
use super::ec2::{discover, tag_spec};
use crate::aws::{Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::{NetworkModel, View};
use crate::vmap;

pub struct SecurityGroup;

pub const KIND: &str = "aws_security_group";
pub const ALB_ID: &str = "sg.alb";
pub const SERVICE_ID: &str = "sg.service";
/// Named services only: the group every task of the stack carries (no rules of its own); each
/// service admits it on its port, so the stack's services reach each other (Service Connect).
pub const TASKS_ID: &str = "sg.tasks";

fn vpc_ref(v: &View<'_>) -> Value {
    match &v.network {
        NetworkModel::Create { .. } => Value::reference(super::vpc::ID, "id"),
        NetworkModel::Existing { vpc_id, .. } => Value::str(vpc_id),
    }
}

fn rule(port: u32, source: impl Into<Value>) -> Value {
    vmap! { "port" => port, "source" => source.into() }
}

/// An egress rule as discovery reads it back: `protocol` only when not tcp, `port` -1 for all.
fn egress_rule(protocol: &str, port: Option<u32>, to: impl Into<Value>) -> Value {
    let mut m = std::collections::BTreeMap::new();
    m.insert("port".to_string(), Value::Int(port.map_or(-1, i64::from)));
    m.insert("to".to_string(), to.into());
    if protocol != "tcp" {
        m.insert("protocol".to_string(), Value::str(protocol));
    }
    Value::Map(m)
}

/// What AWS gives every new group of a VPC: all traffic out, anywhere.
fn default_egress() -> Value {
    Value::set([egress_rule("-1", None, "0.0.0.0/0")])
}

/// Every task needs HTTPS (ECR, CloudWatch Logs, Secrets Manager, SSM, STS and the app's own
/// AWS calls) and DNS.
const DEFAULT_EGRESS: [(&str, u32); 3] = [("tcp", 443), ("udp", 53), ("tcp", 53)];

#[async_trait]
impl Kind<Clients> for SecurityGroup {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeNetworkInterfaces",
            ],
            write_any: &[
                "ec2:CreateSecurityGroup",
                "ec2:DeleteSecurityGroup",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupEgress",
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
        let lb = &v.stack.load_balancer;
        let mut ports = vec![lb.port];
        if lb.https() {
            ports.push(80);
        }
        let alb_rules = ports
            .iter()
            .flat_map(|&p| lb.ingress_cidrs.iter().map(move |c| rule(p, c.as_str())));
        let mut nodes = vec![Node::new(KIND, ALB_ID, v.names().alb_sg())
            .attr("vpc_id", vpc_ref(v))
            .attr(
                "description",
                format!("ballast {}: load balancer", v.stack.name),
            )
            .attr("ingress", Value::set(alb_rules))
            // Its rules to the services' groups are theirs (`alb_egress`): nothing else.
            .attr("egress", Value::set(Vec::<Value>::new()))
            .force_new(&["vpc_id", "description"])];
        // The interface endpoints (`network.egress: endpoints`): HTTPS from the VPC (tasks,
        // container instances), nothing out.
        let interface = super::network::endpoint_services(v)
            .iter()
            .any(|(_, gateway)| !gateway);
        if let (true, NetworkModel::Create { cidr, .. }) = (interface, &v.network) {
            nodes.push(
                Node::new(
                    KIND,
                    super::network::ENDPOINTS_SG_ID,
                    v.names().endpoints_sg(),
                )
                .attr("vpc_id", vpc_ref(v))
                .attr(
                    "description",
                    format!(
                        "ballast {}: VPC endpoints, HTTPS from the VPC",
                        v.stack.name
                    ),
                )
                .attr("ingress", Value::set([rule(443, cidr.as_str())]))
                .attr("egress", Value::set(Vec::<Value>::new()))
                .force_new(&["vpc_id", "description"]),
            );
        }
        if v.stack.named_services {
            nodes.push(
                Node::new(KIND, TASKS_ID, v.names().tasks_sg())
                    .attr("vpc_id", vpc_ref(v))
                    .attr(
                        "description",
                        format!(
                            "ballast {}: every task of its services (each service admits it)",
                            v.stack.name
                        ),
                    )
                    .attr("ingress", Value::set(Vec::<Value>::new()))
                    // A task's egress is the union of its groups': this one adds none.
                    .attr("egress", Value::set(Vec::<Value>::new()))
                    .force_new(&["vpc_id", "description"]),
            );
        }
        nodes
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let port = v.service().port;
        let mut ingress = Vec::new();
        if v.behind_load_balancer() {
            ingress.push(rule(port, Value::reference(ALB_ID, "id")));
        }
        // With named services the stack's tasks call each other through Service Connect.
        if v.stack.named_services {
            ingress.push(rule(port, Value::reference(TASKS_ID, "id")));
        }
        let description = match (v.stack.named_services, v.behind_load_balancer()) {
            (false, _) => format!(
                "ballast {}: service tasks, from the load balancer only",
                v.stack.name
            ),
            (true, true) => format!(
                "ballast {}: service {}, from the load balancer and the stack's tasks",
                v.stack.name,
                v.service_name()
            ),
            (true, false) => format!(
                "ballast {}: internal service {}, from the stack's tasks only",
                v.stack.name,
                v.service_name()
            ),
        };
        let mut egress: Vec<Value> = DEFAULT_EGRESS
            .iter()
            .map(|(proto, port)| egress_rule(proto, Some(*port), "0.0.0.0/0"))
            .collect();
        egress.extend(
            v.service()
                .egress
                .iter()
                .map(|r| egress_rule(&r.protocol, r.port, r.to.as_str())),
        );
        if v.stack.named_services {
            // Every TCP port of the stack's tasks: each service's group admits them on its own
            // port only, and a service added later changes no other service's rules.
            let mut all_tcp = egress_rule("tcp", Some(0), Value::reference(TASKS_ID, "id"));
            if let Value::Map(m) = &mut all_tcp {
                m.insert("to_port".into(), Value::Int(65535));
            }
            egress.push(all_tcp);
        }
        let mut alb_egress = Vec::new();
        if v.behind_load_balancer() {
            alb_egress.push(vmap! { "port" => port, "from" => Value::reference(ALB_ID, "id") });
        }
        vec![
            Node::new(KIND, v.id(SERVICE_ID), v.service_names().service_sg())
                .attr("vpc_id", vpc_ref(v))
                .attr("description", description)
                .attr("ingress", Value::set(ingress))
                .attr("egress", Value::set(egress))
                .attr("alb_egress", Value::set(alb_egress))
                .force_new(&["vpc_id", "description"]),
        ]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let describe = |f| async move {
            c.ec2
                .describe_security_groups()
                .filters(f)
                .send()
                .await
                .ctx(|| "describe security groups".into())
                .map(|r| r.security_groups.unwrap_or_default())
        };
        let read = |g: &aws_sdk_ec2::types::SecurityGroup| {
            let id = g.group_id().unwrap_or_default().to_string();
            let attrs = Attrs::from([
                ("vpc_id".into(), Value::opt_str(g.vpc_id())),
                ("description".into(), Value::opt_str(g.description())),
                (
                    "ingress".into(),
                    Value::set(rules(g.ip_permissions(), "source")),
                ),
                (
                    "egress".into(),
                    Value::set(rules(g.ip_permissions_egress(), "to")),
                ),
            ]);
            let outputs = Outputs::from([("id".into(), id.clone())]);
            (attrs, outputs)
        };
        let mut found = discover(KIND, stack, desired, describe, read).await?;
        alb_rules_to_their_services(&mut found);
        Ok(found)
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
            .create_security_group()
            .group_name(&node.name)
            .description(s(attrs, "description")?)
            .vpc_id(s(attrs, "vpc_id")?)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, stack, node))
            .send()
            .await
            .ctx(|| format!("create security group {}", node.name))?;
        let id = r.group_id().unwrap_or_default().to_string();
        let new = Attrs::from([("egress".into(), default_egress())]);
        converge(c, &id, attrs, &new).await?;
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
        // The load balancer's rule to this group goes first: it would hold the group.
        converge_alb(c, &cur.physical_id, &Attrs::new(), &cur.attrs).await?;
        // Fails while the ALB's or tasks' network interfaces, or another group's rule, still use it.
        let r = super::common::retry_in_use(IN_USE, || async {
            c.ec2
                .delete_security_group()
                .group_id(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("delete security group {}", cur.physical_id))
        })
        .await;
        if matches!(&r, Err(e) if e.kind() == crate::aws::ErrorKind::InUse) {
            let users = users(c, &cur.physical_id).await.unwrap_or_default();
            if !users.is_empty() {
                return Err(format!(
                    "security group {} ({}) is still used after {} s by {}: destroy deletes only what carries the stack's ownership tag; delete those (or give them the tag back) and run destroy again",
                    cur.name,
                    cur.physical_id,
                    IN_USE.limit().as_secs(),
                    users.join(", ")
                )
                .into());
            }
        }
        ignore_missing(r)
    }
}

fn permission(rule: &Value, key: &str) -> IpPermission {
    let m = rule.as_map().cloned().unwrap_or_default();
    let from = m.get("port").and_then(Value::as_int).unwrap_or(-1) as i32;
    let to = m
        .get("to_port")
        .and_then(Value::as_int)
        .map(|t| t as i32)
        .unwrap_or(from);
    let proto = m.get("protocol").and_then(Value::as_str).unwrap_or("tcp");
    let source = m.get(key).and_then(Value::as_str).unwrap_or_default();
    let p = IpPermission::builder()
        .ip_protocol(proto)
        .from_port(from)
        .to_port(to);
    if source.starts_with("sg-") {
        p.user_id_group_pairs(UserIdGroupPair::builder().group_id(source).build())
            .build()
    } else {
        p.ip_ranges(IpRange::builder().cidr_ip(source).build())
            .build()
    }
}

/// The rules of `key` (`ingress`, `egress`) that `want` has and `have` lacks, and the reverse.
fn delta(
    want: &Attrs,
    have: &Attrs,
    key: &str,
    side: &str,
) -> (Vec<IpPermission>, Vec<IpPermission>) {
    let want = want.get(key).map(Value::as_list).unwrap_or(&[]);
    let have = have.get(key).map(Value::as_list).unwrap_or(&[]);
    let add = want
        .iter()
        .filter(|r| !have.contains(r))
        .map(|r| permission(r, side))
        .collect();
    let remove = have
        .iter()
        .filter(|r| !want.contains(r))
        .map(|r| permission(r, side))
        .collect();
    (add, remove)
}

/// Authorize the rules `want` has and `have` lacks; revoke the reverse (ingress, egress, and
/// the load balancer's egress to this group).
async fn converge(c: &Clients, id: &str, want: &Attrs, have: &Attrs) -> Result<(), BoxError> {
    let (add, remove) = delta(want, have, "ingress", "source");
    if !add.is_empty() {
        c.ec2
            .authorize_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(add))
            .send()
            .await
            .ctx(|| format!("authorize ingress on security group {id}"))?;
    }
    if !remove.is_empty() {
        c.ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(remove))
            .send()
            .await
            .ctx(|| format!("revoke ingress on security group {id}"))?;
    }
    if want.contains_key("egress") {
        let (add, remove) = delta(want, have, "egress", "to");
        if !add.is_empty() {
            c.ec2
                .authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(add))
                .send()
                .await
                .ctx(|| format!("authorize egress on security group {id}"))?;
        }
        if !remove.is_empty() {
            c.ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(remove))
                .send()
                .await
                .ctx(|| format!("revoke egress on security group {id}"))?;
        }
    }
    converge_alb(c, id, want, have).await?;
    Ok(())
}

/// `alb_egress` of the service group `id`: the load balancer's group (`from`) may send to `id`
/// on `port`. Authorized and revoked on the load balancer's group.
async fn converge_alb(
    c: &Clients,
    id: &str,
    want: &Attrs,
    have: &Attrs,
) -> Result<(), crate::aws::AwsError> {
    let rules = |a: &Attrs| -> Vec<(String, i32)> {
        a.get("alb_egress")
            .map(Value::as_list)
            .unwrap_or(&[])
            .iter()
            .filter_map(|r| {
                let m = r.as_map()?;
                let from = m.get("from")?.as_str()?.to_string();
                Some((from, m.get("port")?.as_int()? as i32))
            })
            .collect()
    };
    let (want, have) = (rules(want), rules(have));
    let to_us = |port: i32| {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
            .build()
    };
    for (alb, port) in want.iter().filter(|r| !have.contains(r)) {
        c.ec2
            .authorize_security_group_egress()
            .group_id(alb)
            .ip_permissions(to_us(*port))
            .send()
            .await
            .ctx(|| format!("authorize egress from security group {alb} to {id}"))?;
    }
    for (alb, port) in have.iter().filter(|r| !want.contains(r)) {
        let r = c
            .ec2
            .revoke_security_group_egress()
            .group_id(alb)
            .ip_permissions(to_us(*port))
            .send()
            .await
            .ctx(|| format!("revoke egress from security group {alb} to {id}"));
        // A load balancer group replaced or deleted took its rules with it.
        match r {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Rules of `perms` as attribute values: `port`, `key` (`source` or `to`: a CIDR or a group
/// id), `protocol` when not tcp and `to_port` when a range.
fn rules(perms: &[IpPermission], key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for p in perms {
        let from = p.from_port().unwrap_or(-1);
        let to = p.to_port().unwrap_or(-1);
        let proto = p.ip_protocol().unwrap_or("-1");
        let mk = |peer: &str| {
            let mut m = std::collections::BTreeMap::new();
            m.insert("port".to_string(), Value::Int(from.into()));
            m.insert(key.to_string(), Value::str(peer));
            if proto != "tcp" {
                m.insert("protocol".to_string(), Value::str(proto));
            }
            if to != from {
                m.insert("to_port".to_string(), Value::Int(to.into()));
            }
            Value::Map(m)
        };
        out.extend(p.ip_ranges().iter().filter_map(|r| r.cidr_ip()).map(mk));
        out.extend(
            p.user_id_group_pairs()
                .iter()
                .filter_map(|r| r.group_id())
                .map(mk),
        );
    }
    out
}

/// The load balancer group's egress rules to other groups are those groups' `alb_egress`: moved
/// there from its own `egress`, so each service's group shows (and owns) the rule to it.
fn alb_rules_to_their_services(found: &mut [Observed]) {
    let mut to: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for o in found.iter_mut().filter(|o| o.id == ALB_ID) {
        let alb = o.physical_id.clone();
        let Some(Value::List(rules)) = o.attrs.get_mut("egress") else {
            continue;
        };
        rules.retain(|r| {
            let m = r.as_map();
            let peer = m.and_then(|m| m.get("to")).and_then(Value::as_str);
            match (peer, m.and_then(|m| m.get("port")).and_then(Value::as_int)) {
                (Some(g), Some(port)) if g.starts_with("sg-") => {
                    to.entry(g.to_string())
                        .or_default()
                        .push(vmap! { "port" => port, "from" => alb.as_str() });
                    false
                }
                _ => true,
            }
        });
    }
    for o in found.iter_mut().filter(|o| o.id != ALB_ID) {
        let rules = to.remove(&o.physical_id).unwrap_or_default();
        o.attrs.insert("alb_egress".into(), Value::set(rules));
    }
}

/// What keeps the security group `id` in use: network interfaces in it, and other groups whose
/// rules name it, for a person.
async fn users(c: &Clients, id: &str) -> Result<Vec<String>, crate::aws::AwsError> {
    let filter = |name: &str| {
        aws_sdk_ec2::types::Filter::builder()
            .name(name)
            .values(id)
            .build()
    };
    let (enis, groups) = futures::join!(
        c.ec2
            .describe_network_interfaces()
            .filters(filter("group-id"))
            .send(),
        c.ec2
            .describe_security_groups()
            .filters(filter("ip-permission.group-id"))
            .send()
    );
    let enis = enis.ctx(|| format!("describe the network interfaces in {id}"))?;
    let groups = groups.ctx(|| format!("describe the security groups that refer to {id}"))?;
    let mut out: Vec<String> = enis
        .network_interfaces()
        .iter()
        .map(|n| {
            format!(
                "network interface {} ({})",
                n.network_interface_id().unwrap_or_default(),
                n.description().unwrap_or("no description")
            )
        })
        .collect();
    out.extend(
        groups
            .security_groups()
            .iter()
            .filter(|g| g.group_id() != Some(id))
            .map(|g| {
                format!(
                    "the rules of security group {} ({})",
                    g.group_name().unwrap_or_default(),
                    g.group_id().unwrap_or_default()
                )
            }),
    );
    Ok(out)
}
