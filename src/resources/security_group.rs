//! `aws_security_group`: the ALB's group (listener ports from the allowed CIDRs) and the
//! service's group (only the ALB's group, only on the container port).

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
            .force_new(&["vpc_id", "description"])];
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
        vec![
            Node::new(KIND, v.id(SERVICE_ID), v.service_names().service_sg())
                .attr("vpc_id", vpc_ref(v))
                .attr("description", description)
                .attr("ingress", Value::set(ingress))
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
            let mut rules = Vec::new();
            for p in g.ip_permissions() {
                let from = p.from_port().unwrap_or(-1);
                let to = p.to_port().unwrap_or(-1);
                let proto = p.ip_protocol().unwrap_or("-1");
                let mk = |source: &str| {
                    let mut m = std::collections::BTreeMap::new();
                    m.insert("port".to_string(), Value::Int(from.into()));
                    m.insert("source".to_string(), Value::str(source));
                    if proto != "tcp" {
                        m.insert("protocol".to_string(), Value::str(proto));
                    }
                    if to != from {
                        m.insert("to_port".to_string(), Value::Int(to.into()));
                    }
                    Value::Map(m)
                };
                rules.extend(p.ip_ranges().iter().filter_map(|r| r.cidr_ip()).map(mk));
                rules.extend(
                    p.user_id_group_pairs()
                        .iter()
                        .filter_map(|r| r.group_id())
                        .map(mk),
                );
            }
            let attrs = Attrs::from([
                ("vpc_id".into(), Value::opt_str(g.vpc_id())),
                ("description".into(), Value::opt_str(g.description())),
                ("ingress".into(), Value::set(rules)),
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
            .create_security_group()
            .group_name(&node.name)
            .description(s(attrs, "description")?)
            .vpc_id(s(attrs, "vpc_id")?)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, stack, node))
            .send()
            .await
            .ctx(|| format!("create security group {}", node.name))?;
        let id = r.group_id().unwrap_or_default().to_string();
        converge(c, &id, attrs, &Attrs::new()).await?;
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

fn permission(rule: &Value) -> IpPermission {
    let m = rule.as_map().cloned().unwrap_or_default();
    let from = m.get("port").and_then(Value::as_int).unwrap_or(-1) as i32;
    let to = m
        .get("to_port")
        .and_then(Value::as_int)
        .map(|t| t as i32)
        .unwrap_or(from);
    let proto = m.get("protocol").and_then(Value::as_str).unwrap_or("tcp");
    let source = m.get("source").and_then(Value::as_str).unwrap_or_default();
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

/// Authorize the rules `want` has and `have` lacks; revoke the reverse.
async fn converge(c: &Clients, id: &str, want: &Attrs, have: &Attrs) -> Result<(), BoxError> {
    let want = want.get("ingress").map(Value::as_list).unwrap_or(&[]);
    let have = have.get("ingress").map(Value::as_list).unwrap_or(&[]);
    let add: Vec<IpPermission> = want
        .iter()
        .filter(|r| !have.contains(r))
        .map(permission)
        .collect();
    let remove: Vec<IpPermission> = have
        .iter()
        .filter(|r| !want.contains(r))
        .map(permission)
        .collect();
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
    Ok(())
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
