//! The network's logical ids and who runs where, shared by the network kinds (subnet, Elastic
//! IP, NAT gateway, route table) and those that run in it (load balancer, service, Auto Scaling
//! group). It imports no kind file, so they may all import it.

use crate::engine::Value;
use crate::spec::{Egress, NetworkModel, View};

/// The public subnet of `az`.
pub fn subnet_id(az: &str) -> String {
    format!("subnet.{az}")
}

/// The private subnet of `az`.
pub fn private_subnet_id(az: &str) -> String {
    format!("subnet.private.{az}")
}

/// The route table of the private subnet of `az`.
pub fn private_route_table_id(az: &str) -> String {
    format!("rt.private.{az}")
}

/// The NAT gateway of `az`.
pub fn nat_id(az: &str) -> String {
    format!("nat.{az}")
}

/// The Elastic IP of the NAT gateway of `az`.
pub fn eip_id(az: &str) -> String {
    format!("eip.nat.{az}")
}

/// The traffic the created VPC's flow log records (`REJECT`, `ALL`), None without one (flow
/// logs off, or an existing network).
pub fn flow_logs(v: &View<'_>) -> Option<&'static str> {
    match &v.network {
        NetworkModel::Create { flow_logs, .. } => flow_logs.traffic_type(),
        NetworkModel::Existing { .. } => None,
    }
}

/// The load balancer's subnets: the public subnets (created), or an existing network's
/// `subnet_ids`.
pub fn public_subnets(v: &View<'_>) -> Value {
    match &v.network {
        NetworkModel::Create { subnets, .. } => Value::set(
            subnets
                .iter()
                .map(|sn| Value::reference(&subnet_id(&sn.az), "id")),
        ),
        NetworkModel::Existing { subnet_ids, .. } => {
            Value::set(subnet_ids.iter().map(String::as_str))
        }
    }
}

/// The subnets a per-service view's tasks (and container instances) run in: the public ones
/// for a service with public IPs, else the private ones (an existing network's, or its public
/// ones when it names none).
pub fn task_subnets(v: &View<'_>) -> Value {
    if v.service().assign_public_ip {
        return public_subnets(v);
    }
    match &v.network {
        NetworkModel::Create { .. } => Value::set(
            v.private_subnets()
                .iter()
                .map(|sn| Value::reference(&private_subnet_id(&sn.az), "id")),
        ),
        NetworkModel::Existing {
            private_subnet_ids, ..
        } if !private_subnet_ids.is_empty() => {
            Value::set(private_subnet_ids.iter().map(String::as_str))
        }
        NetworkModel::Existing { .. } => public_subnets(v),
    }
}

/// What must exist before a per-service view's tasks start: the private subnets' route tables
/// (their way out to pull images); none for tasks with public IPs.
pub fn task_routes(v: &View<'_>) -> Vec<String> {
    if v.service().assign_public_ip {
        return vec![];
    }
    v.private_subnets()
        .iter()
        .map(|sn| private_route_table_id(&sn.az))
        .collect()
}

/// The AZs with a NAT gateway: none without a private tier; every AZ of the private subnets
/// (`nat`), or the first (`nat_single`).
pub fn nat_azs(v: &View<'_>) -> Vec<String> {
    let NetworkModel::Create { egress, .. } = &v.network else {
        return vec![];
    };
    let azs = v.private_subnets().iter().map(|sn| sn.az.clone());
    match egress {
        Egress::Nat => azs.collect(),
        Egress::NatSingle => azs.take(1).collect(),
    }
}

/// The NAT gateway the private subnet of `az` routes to: its own AZ's, or the one.
pub fn nat_for(v: &View<'_>, az: &str) -> Option<String> {
    let azs = nat_azs(v);
    let at = azs.iter().find(|a| *a == az).or(azs.first())?;
    Some(nat_id(at))
}
