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
/// and VPC endpoints (their way out to pull images); none for tasks with public IPs.
pub fn task_routes(v: &View<'_>) -> Vec<String> {
    if v.service().assign_public_ip {
        return vec![];
    }
    v.private_subnets()
        .iter()
        .map(|sn| private_route_table_id(&sn.az))
        .chain(
            endpoint_services(v)
                .into_iter()
                .map(|(s, _)| endpoint_id(&s)),
        )
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
        Egress::Endpoints => vec![],
    }
}

/// The security group of the interface endpoints (`network.egress: endpoints`).
pub const ENDPOINTS_SG_ID: &str = "sg.endpoints";

/// The VPC endpoint of `service` (`s3`, `ecr.api`, ...).
pub fn endpoint_id(service: &str) -> String {
    format!("vpce.{service}")
}

/// The AWS services the private tier reaches through VPC endpoints (`network.egress:
/// endpoints`, and `network.endpoints`), each with whether it is a gateway endpoint (S3,
/// DynamoDB; the rest are interface endpoints): none without a private tier. With `endpoints`
/// egress: ECR (its API, its registry, and S3 where it keeps image layers) and CloudWatch Logs
/// always; Secrets Manager and SSM for the secrets the services name; STS for a task role; ECS
/// for container instances. Then, with any egress, those the spec asks for.
pub fn endpoint_services(v: &View<'_>) -> Vec<(String, bool)> {
    let NetworkModel::Create {
        egress, endpoints, ..
    } = &v.network
    else {
        return vec![];
    };
    if v.private_subnets().is_empty() {
        return vec![];
    }
    let gateway = |name: &str| matches!(name, "s3" | "dynamodb");
    let extra = endpoints.iter().map(|e| (e.clone(), gateway(e)));
    if *egress != Egress::Endpoints {
        return extra.collect();
    }
    let private: Vec<_> = v
        .stack
        .services()
        .into_iter()
        .map(|(_, s)| s)
        .filter(|s| !s.assign_public_ip)
        .collect();
    let secrets = || private.iter().flat_map(|s| s.secrets.values());
    let mut out = vec![
        ("s3", true),
        ("ecr.api", false),
        ("ecr.dkr", false),
        ("logs", false),
    ];
    if secrets().any(|from| from.contains(":secretsmanager:")) {
        out.push(("secretsmanager", false));
    }
    if secrets().any(|from| !from.contains(":secretsmanager:")) {
        out.push(("ssm", false));
    }
    if private.iter().any(|s| !s.permissions.is_empty()) {
        out.push(("sts", false));
    }
    if private.iter().any(|s| s.ec2_capacity.is_some()) {
        out.extend([
            ("ecs", false),
            ("ecs-agent", false),
            ("ecs-telemetry", false),
        ]);
    }
    let mut out: Vec<(String, bool)> = out.into_iter().map(|(n, g)| (n.to_string(), g)).collect();
    for (name, g) in extra {
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, g));
        }
    }
    out
}

/// The NAT gateway the private subnet of `az` routes to: its own AZ's, or the one.
pub fn nat_for(v: &View<'_>, az: &str) -> Option<String> {
    let azs = nat_azs(v);
    let at = azs.iter().find(|a| *a == az).or(azs.first())?;
    Some(nat_id(at))
}
