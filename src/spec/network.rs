//! `network:` and `load_balancer:`: the VPC's CIDR and subnets, or an existing VPC; the
//! listener, its certificate and the health check.

use std::collections::{BTreeMap, HashSet};

use ipnet::Ipv4Net;
use serde_saphyr::Location;

use super::error::Issues;
use super::limits::*;
use super::model::*;
use super::types::*;

pub(super) fn cidr(s: &S<String>, issues: &mut Issues) -> Option<Ipv4Net> {
    match s.value.parse::<Ipv4Net>() {
        Ok(net) if net.network() == net.addr() => Some(net),
        Ok(net) => {
            issues.push(
                &s.referenced,
                format!("`{}` has host bits set", s.value),
                "not a network address",
                Some(format!("did you mean `{}`?", net.trunc())),
            );
            None
        }
        Err(_) => {
            issues.push(
                &s.referenced,
                format!("invalid CIDR `{}`", s.value),
                "not an IPv4 CIDR",
                Some("write it as address/prefix, e.g. 10.0.0.0/16".into()),
            );
            None
        }
    }
}

pub(super) fn check_network(
    net: Option<&Network>,
    region: &str,
    issues: &mut Issues,
) -> NetworkModel {
    let default = CreateNetwork::default();
    let egress = check_egress(net, issues);
    let endpoints = check_endpoints(net, issues);
    let flow_logs = check_flow_logs(net, issues);
    let create = match net {
        Some(Network {
            existing: Some(e),
            create,
            ..
        }) => {
            if create.is_some() {
                issues.push(
                    &e.vpc_id.referenced,
                    "`network` has both `create` and `existing`",
                    "one of them",
                    Some("keep `existing` to use your VPC, or `create` for ballast's".into()),
                );
            }
            return check_existing(e, issues);
        }
        Some(Network {
            create: Some(c), ..
        }) => c,
        _ => &default,
    };

    let vpc = match &create.cidr {
        Some(c) => {
            let net = cidr(c, issues);
            if let Some(n) = net {
                if !(16..=24).contains(&n.prefix_len()) {
                    issues.push(
                        &c.referenced,
                        format!("VPC prefix /{} is out of range", n.prefix_len()),
                        "VPC CIDRs must be /16 to /24",
                        None,
                    );
                }
            }
            net
        }
        None => Some("10.0.0.0/16".parse().unwrap()),
    };

    // Public subnets, and the private CIDR each names (None: carve one).
    let mut public: Vec<(SubnetModel, Option<Ipv4Net>)> = Vec::new();
    match &create.subnets {
        None => {
            let Some(vpc) = vpc else {
                return NetworkModel::Create {
                    cidr: String::new(),
                    subnets: vec![],
                    private_subnets: vec![],
                    egress,
                    endpoints,
                    flow_logs,
                };
            };
            let prefix = (vpc.prefix_len() + 4).min(28);
            if let Ok(it) = vpc.subnets(prefix) {
                for (net, az) in it.take(2).zip(["a", "b"]) {
                    let sn = SubnetModel {
                        az: format!("{region}{az}"),
                        cidr: net.to_string(),
                    };
                    public.push((sn, None));
                }
            }
        }
        Some(list) => {
            let mut nets: Vec<(Ipv4Net, &Location)> = Vec::new();
            let mut azs = HashSet::new();
            for s in &list.value {
                if !s.az.value.starts_with(region) || s.az.value.len() <= region.len() {
                    let suggestion =
                        s.az.value
                            .chars()
                            .last()
                            .filter(|c| c.is_ascii_lowercase())
                            .map(|c| format!("{region}{c}"));
                    issues.push(
                        &s.az.referenced,
                        format!(
                            "availability zone `{}` is not in region {region}",
                            s.az.value
                        ),
                        "wrong availability zone",
                        suggestion.map(|s| format!("did you mean `{s}`?")),
                    );
                }
                if !azs.insert(s.az.value.clone()) {
                    issues.push(
                        &s.az.referenced,
                        format!("two subnets in `{}`", s.az.value),
                        "one subnet per AZ",
                        None,
                    );
                }
                let mut private = None;
                for c in std::iter::once(&s.cidr).chain(s.private_cidr.as_ref()) {
                    let Some(net) = subnet_cidr(c, vpc, &nets, issues) else {
                        continue;
                    };
                    nets.push((net, &c.referenced));
                    if !std::ptr::eq(c, &s.cidr) {
                        private = Some(net);
                    }
                }
                public.push((
                    SubnetModel {
                        az: s.az.value.clone(),
                        cidr: s.cidr.value.clone(),
                    },
                    private,
                ));
            }
            if azs.len() < 2 {
                issues.push(
                    &list.referenced,
                    "an ALB needs subnets in at least two availability zones",
                    "fewer than 2 AZs",
                    None,
                );
            }
        }
    }
    let private_subnets = carve_private(vpc, &public, create.subnets.as_ref(), issues);
    NetworkModel::Create {
        cidr: vpc.map(|v| v.to_string()).unwrap_or_default(),
        subnets: public.into_iter().map(|(sn, _)| sn).collect(),
        private_subnets,
        egress,
        endpoints,
        flow_logs,
    }
}

/// A subnet's CIDR, checked: inside the VPC, /28 or larger, overlapping none of `nets`.
fn subnet_cidr(
    c: &S<String>,
    vpc: Option<Ipv4Net>,
    nets: &[(Ipv4Net, &Location)],
    issues: &mut Issues,
) -> Option<Ipv4Net> {
    let net = cidr(c, issues)?;
    if let Some(v) = vpc {
        if !v.contains(&net) {
            issues.push(
                &c.referenced,
                format!("subnet {net} is outside the VPC {v}"),
                "outside the VPC",
                None,
            );
        }
    }
    if net.prefix_len() > 28 {
        issues.push(
            &c.referenced,
            format!("subnet prefix /{} is too small", net.prefix_len()),
            "subnets must be /16 to /28",
            None,
        );
    }
    if let Some((other, _)) = nets
        .iter()
        .find(|(o, _)| o.contains(&net) || net.contains(o))
    {
        issues.push(
            &c.referenced,
            format!("subnet {net} overlaps {other}"),
            "overlapping subnet",
            None,
        );
    }
    Some(net)
}

/// The private subnet of each public one: its `private_cidr`, or its mirror in the other half
/// of the VPC (the public subnet with the VPC's first host bit flipped: `10.0.16.0/20` in
/// `10.0.0.0/16` has `10.0.144.0/20`). Each private subnet depends on its own public one only,
/// so adding or removing an AZ never moves another's.
fn carve_private(
    vpc: Option<Ipv4Net>,
    public: &[(SubnetModel, Option<Ipv4Net>)],
    list: Option<&S<Vec<SubnetSpec>>>,
    issues: &mut Issues,
) -> Vec<SubnetModel> {
    let Some(vpc) = vpc else {
        return vec![];
    };
    let mut taken: Vec<Ipv4Net> = public
        .iter()
        .flat_map(|(sn, private)| sn.cidr.parse().ok().into_iter().chain(*private))
        .collect();
    let half = 1u32 << (31 - u32::from(vpc.prefix_len()).min(31));
    let mut out = Vec::new();
    for (sn, private) in public {
        let net = match private {
            Some(p) => Some(*p),
            None => {
                let mirror = sn
                    .cidr
                    .parse::<Ipv4Net>()
                    .ok()
                    .filter(|n| n.prefix_len() > vpc.prefix_len() && vpc.contains(n))
                    .and_then(|n| {
                        Ipv4Net::new((u32::from(n.network()) ^ half).into(), n.prefix_len()).ok()
                    })
                    .filter(|m| !taken.iter().any(|t| t.contains(m) || m.contains(t)));
                // A public subnet outside the VPC (or as large as it) is an error already.
                let inside = sn
                    .cidr
                    .parse::<Ipv4Net>()
                    .is_ok_and(|n| n.prefix_len() > vpc.prefix_len() && vpc.contains(&n));
                if mirror.is_none() && inside {
                    if let Some(list) = list {
                        issues.push(
                            &list.referenced,
                            format!(
                                "no room for the private subnet of {}: its mirror in the other \
                                 half of the VPC {vpc} overlaps another subnet",
                                sn.az
                            ),
                            "no private subnet",
                            Some("give it a `private_cidr`".into()),
                        );
                    }
                }
                mirror
            }
        };
        if let Some(n) = net {
            taken.push(n);
            out.push(SubnetModel {
                az: sn.az.clone(),
                cidr: n.to_string(),
            });
        }
    }
    out
}

/// `network.flow_logs`: `reject` (default), `all` or `false`, only for a network ballast
/// creates.
fn check_flow_logs(net: Option<&Network>, issues: &mut Issues) -> FlowLogs {
    const MODES: [&str; 2] = ["reject", "all"];
    let Some(f) = net.and_then(|n| n.flow_logs.as_ref()) else {
        return FlowLogs::Reject;
    };
    if net.is_some_and(|n| n.existing.is_some()) {
        issues.push(
            &f.referenced,
            "`network.flow_logs` is for a network ballast creates",
            "with `existing`",
            Some("an existing VPC's flow logs are its owner's to set".into()),
        );
    }
    let wrong = |what: &str, issues: &mut Issues| {
        issues.push(
            &f.referenced,
            format!("{what} is not a flow log setting"),
            "unknown flow_logs",
            Some(
                match super::error::did_you_mean(what.trim_matches('`'), MODES) {
                    Some(near) => format!("did you mean `{near}`? (reject, all or false)"),
                    None => "reject (rejected traffic, the default), all, or false".into(),
                },
            ),
        );
        FlowLogs::Reject
    };
    match &f.value {
        Word::Off => FlowLogs::Off,
        Word::Is(w) if w == "reject" => FlowLogs::Reject,
        Word::Is(w) if w == "all" => FlowLogs::All,
        Word::Is(w) => wrong(&format!("`{w}`"), issues),
        Word::Wrong(w) => wrong(w, issues),
    }
}

/// `network.endpoints`: AWS service names as VPC endpoints take them (`sqs`, `ecr.api`,
/// `dynamodb`), each once, only for a network ballast creates.
fn check_endpoints(net: Option<&Network>, issues: &mut Issues) -> Vec<String> {
    let Some(list) = net.and_then(|n| n.endpoints.as_ref()) else {
        return vec![];
    };
    let mut out: Vec<String> = Vec::new();
    for e in list {
        let name = e.value.as_str();
        if net.is_some_and(|n| n.existing.is_some()) {
            issues.push(
                &e.referenced,
                "`network.endpoints` is for a network ballast creates",
                "with `existing`",
                Some("an existing network's endpoints are its own".into()),
            );
            return vec![];
        }
        let ok = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            && !name.starts_with("com.amazonaws.");
        if !ok {
            issues.push(
                &e.referenced,
                format!("`{name}` is not an AWS service's endpoint name"),
                "not a service name",
                Some(
                    "the service's short name, as in com.amazonaws.<region>.<name>: sqs, \
                     dynamodb, kms, ecr.api"
                        .into(),
                ),
            );
        } else if out.iter().any(|o| o == name) {
            issues.push(
                &e.referenced,
                format!("`{name}` is listed twice"),
                "duplicate",
                None,
            );
        } else {
            out.push(name.to_string());
        }
    }
    out
}

/// `network.egress`: `nat` (default), `nat_single` or `endpoints`, only for a network ballast
/// creates.
fn check_egress(net: Option<&Network>, issues: &mut Issues) -> Egress {
    const MODES: [&str; 3] = ["nat", "nat_single", "endpoints"];
    let Some(e) = net.and_then(|n| n.egress.as_ref()) else {
        return Egress::Nat;
    };
    if net.is_some_and(|n| n.existing.is_some()) {
        issues.push(
            &e.referenced,
            "`network.egress` is for a network ballast creates",
            "with `existing`",
            Some("an existing network's private subnets bring their own way out".into()),
        );
    }
    match e.value.as_str() {
        "nat" => Egress::Nat,
        "nat_single" => {
            issues.warn(
                &e.referenced,
                "egress: nat_single makes one NAT gateway, in the first AZ: while that AZ is \
                 down, tasks in the others cannot reach out (image pulls, logs, secrets)",
                Some("`nat` (the default) makes one per AZ".into()),
            );
            Egress::NatSingle
        }
        "endpoints" => Egress::Endpoints,
        other => {
            issues.push(
                &e.referenced,
                format!("`{other}` is not a network egress"),
                "unknown egress",
                Some(match super::error::did_you_mean(other, MODES) {
                    Some(near) => {
                        format!("did you mean `{near}`? (nat, nat_single or endpoints)")
                    }
                    None => "nat (a NAT gateway per AZ), nat_single (one) or endpoints (VPC \
                             endpoints, no internet)"
                        .into(),
                }),
            );
            Egress::Nat
        }
    }
}

/// Whether a service's tasks get a public IP (and run in the public subnets): when its spec
/// says so (validate warns), or in an existing network without private subnets, whose tasks
/// pull images over their public IPs as before. Never on EC2 capacity (awsvpc tasks there have
/// none; `check_service` refuses it).
pub(super) fn check_public_ip(s: &Service, network: &NetworkModel, issues: &mut Issues) -> bool {
    if s.ec2_capacity.is_some() {
        return false;
    }
    match &s.assign_public_ip {
        Some(p) => {
            if p.value {
                issues.warn(
                    &p.referenced,
                    "assign_public_ip: true runs the tasks in the public subnets, each with a \
                     public IP: for development; production tasks belong in the private subnets",
                    Some("remove it: the tasks then reach out through the network's egress".into()),
                );
            }
            p.value
        }
        None => {
            matches!(network, NetworkModel::Existing { private_subnet_ids, .. } if private_subnet_ids.is_empty())
        }
    }
}

/// The region of an image in a private ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com/…`),
/// None for any other registry.
pub fn ecr_region(image: &str) -> Option<&str> {
    let host = image.split_once('/')?.0;
    let (account, rest) = host.split_once(".dkr.ecr")?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.strip_prefix("-fips").unwrap_or(rest);
    let region = rest.strip_prefix('.')?;
    let region = region
        .strip_suffix(".amazonaws.com")
        .or_else(|| region.strip_suffix(".amazonaws.com.cn"))?;
    (!region.is_empty() && !region.contains('.')).then_some(region)
}

/// `network.egress: endpoints` leaves private tasks no way to the internet: each image of a
/// service in the private subnets must be in a private ECR registry of every region the stack
/// runs in (an ECR endpoint serves its own region's registry only).
pub(super) fn check_endpoint_images(
    s: &Service,
    model: &ServiceModel,
    network: &NetworkModel,
    regions: &[String],
    issues: &mut Issues,
) {
    if model.assign_public_ip
        || !matches!(
            network,
            NetworkModel::Create {
                egress: Egress::Endpoints,
                ..
            }
        )
    {
        return;
    }
    let images = std::iter::once(&s.image).chain(s.containers.iter().map(|c| &c.value.image));
    for image in images {
        // `{region}` names each region's own registry: checked as the first region's.
        let first = regions.first().map(String::as_str).unwrap_or_default();
        let per_region = image.value.contains(REGION_PLACEHOLDER);
        let pulled = image_in(&image.value, first);
        match ecr_region(&pulled) {
            Some(_) if per_region => {}
            None => issues.push(
                &image.referenced,
                format!(
                    "with `network.egress: endpoints` the tasks have no way to the internet: \
                     `{}` is not in a private ECR registry",
                    image.value
                ),
                "not in ECR",
                Some(format!(
                    "push it to ECR in {} (a pull through cache rule serves Docker Hub and ECR \
                     Public images from there), or use `egress: nat`",
                    regions.join(" and ")
                )),
            ),
            Some(at) => {
                if let Some(other) = regions.iter().find(|r| r.as_str() != at) {
                    issues.push(
                        &image.referenced,
                        format!(
                            "with `network.egress: endpoints` the tasks in {other} cannot pull \
                             `{}`: an ECR endpoint serves its own region's registry, this \
                             image is in {at}'s",
                            image.value
                        ),
                        format!("in {at}"),
                        Some(format!(
                            "replicate it to ECR in {other} (ECR replication) and write the \
                             image with {{region}} for the region (`….dkr.ecr.{{region}}.\
                             amazonaws.com/…`), or use `egress: nat`"
                        )),
                    );
                }
            }
        }
    }
}

/// `network.existing`: ids that look like ids, each once, public ones in two AZs or more.
fn check_existing(e: &ExistingNetwork, issues: &mut Issues) -> NetworkModel {
    if !e.vpc_id.value.starts_with("vpc-") {
        issues.push(
            &e.vpc_id.referenced,
            format!("`{}` is not a VPC id", e.vpc_id.value),
            "expected vpc-…",
            None,
        );
    }
    let mut seen = HashSet::new();
    let private = e.private_subnet_ids.iter().flat_map(|p| &p.value);
    for s in e.subnet_ids.value.iter().chain(private) {
        if !s.value.starts_with("subnet-") {
            issues.push(
                &s.referenced,
                format!("`{}` is not a subnet id", s.value),
                "expected subnet-…",
                None,
            );
        }
        if !seen.insert(&s.value) {
            issues.push(
                &s.referenced,
                format!("subnet `{}` is listed twice", s.value),
                "duplicate",
                None,
            );
        }
    }
    if e.subnet_ids.value.len() < 2 {
        issues.push(
            &e.subnet_ids.referenced,
            "an ALB needs subnets in at least two availability zones",
            "fewer than 2 subnets",
            None,
        );
    }
    if let Some(p) = &e.private_subnet_ids {
        if p.value.len() < 2 {
            issues.push(
                &p.referenced,
                "tasks need private subnets in at least two availability zones",
                "fewer than 2 subnets",
                None,
            );
        }
    }
    let ids = |l: &[S<String>]| -> Vec<String> {
        let mut v: Vec<String> = l.iter().map(|s| s.value.clone()).collect();
        v.sort();
        v
    };
    NetworkModel::Existing {
        vpc_id: e.vpc_id.value.clone(),
        subnet_ids: ids(&e.subnet_ids.value),
        private_subnet_ids: e
            .private_subnet_ids
            .as_ref()
            .map(|p| ids(&p.value))
            .unwrap_or_default(),
    }
}

/// `protect`: the spec's top-level `protect:` (the default of `deletion_protection`).
pub(super) fn check_lb(
    lb: &LoadBalancer,
    regions: &[String],
    protect: bool,
    issues: &mut Issues,
) -> LoadBalancerModel {
    let certificates = check_certificates(lb, regions, issues);
    if lb.certificate_arn.is_none() && lb.allow_http != Some(true) {
        issues.warn_top(
            "the load balancer serves plain HTTP (no load_balancer.certificate_arn): for \
             development only",
            Some(
                "give it an ACM certificate for HTTPS (port 80 then redirects), or set \
                 load_balancer.allow_http: true to say plain HTTP is meant"
                    .into(),
            ),
        );
    }
    let port_default = if lb.certificate_arn.is_some() {
        443
    } else {
        80
    };
    let port = range(&lb.port, port_default, 1, 65535, "port", issues);
    if lb.certificate_arn.is_some() && port == 80 {
        if let Some(p) = &lb.port {
            issues.push(
                &p.referenced,
                "port 80 is kept for the HTTP->HTTPS redirect",
                "HTTPS listener on port 80",
                None,
            );
        }
    }
    let idle_timeout = range(&lb.idle_timeout, 60, 1, 4000, "idle_timeout", issues);
    let deregistration_delay = range(
        &lb.deregistration_delay,
        30,
        0,
        3600,
        "deregistration_delay",
        issues,
    );
    let mut ingress_cidrs = Vec::new();
    for c in lb.ingress_cidrs.iter().flatten() {
        if let Some(n) = cidr(c, issues) {
            ingress_cidrs.push(n.to_string());
        }
    }
    if lb.ingress_cidrs.is_none() {
        ingress_cidrs.push("0.0.0.0/0".to_string());
    }
    ingress_cidrs.sort();
    ingress_cidrs.dedup();

    let health_check = check_target_health(&lb.health_check, None, issues);
    LoadBalancerModel {
        port,
        certificates,
        ssl_policy: check_ssl_policy(lb, issues),
        idle_timeout,
        deletion_protection: lb.deletion_protection.unwrap_or(protect),
        drop_invalid_header_fields: lb.drop_invalid_header_fields.unwrap_or(true),
        desync_mitigation_mode: check_desync(lb, issues),
        ingress_cidrs,
        deregistration_delay,
        health_check,
        access_logs: check_access_logs(lb, protect, issues),
        waf: check_waf(lb, regions, issues),
    }
}

/// `load_balancer.access_logs`: off, the stack's own bucket (`true`, or a map without
/// `bucket`), or a bucket of the user's.
fn check_access_logs(
    lb: &LoadBalancer,
    protect: bool,
    issues: &mut Issues,
) -> Option<AccessLogsModel> {
    let at = lb.access_logs.as_ref()?;
    let (bucket, days) = match &at.value {
        AccessLogs::Off => return None,
        AccessLogs::Wrong(what) => {
            issues.push(
                &at.referenced,
                format!("access_logs is {what}"),
                "expected true, false, a bucket name or a map",
                Some("`true` makes a bucket for the logs; a bucket name sends them to a bucket of yours; or `{bucket: NAME}` / `{retention_days: 90}`".into()),
            );
            return None;
        }
        AccessLogs::Bucket(name) => (Some((name.clone(), at.referenced)), None),
        AccessLogs::Set(set) => (
            set.bucket.as_ref().map(|b| (b.value.clone(), b.referenced)),
            set.retention_days.as_ref(),
        ),
    };
    if let Some((name, loc)) = &bucket {
        if let Some(why) = bucket_name_problem(name) {
            issues.push(
                loc,
                format!("`{name}` is not an S3 bucket name: {why}"),
                "not a bucket name",
                Some("3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit".into()),
            );
        }
        if let Some(d) = days {
            issues.push(
                &d.referenced,
                "retention_days is for the stack's own bucket",
                "the bucket is yours",
                Some("your bucket's lifecycle rules decide how long its logs stay: remove retention_days, or remove bucket to let the stack make its own".into()),
            );
        }
    }
    let retention_days = range(&days.cloned(), 90, 1, 3650, "retention_days", issues);
    Some(AccessLogsModel {
        bucket: bucket.map(|(b, _)| b),
        retention_days,
        protect,
    })
}

/// Why `name` is not a general purpose S3 bucket name, if it is not.
pub(super) fn bucket_name_problem(name: &str) -> Option<String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.len() < 3 || name.len() > 63 {
        Some(format!("{} characters, 3 to 63", name.len()))
    } else if let Some(c) = name.chars().find(|c| !ok_char(*c)) {
        Some(format!("`{c}` is not allowed"))
    } else if !edge(name.chars().next()) || !edge(name.chars().last()) {
        Some("it must begin and end with a letter or digit".into())
    } else if name.contains("..") {
        Some("two dots in a row".into())
    } else {
        None
    }
}

/// `load_balancer.certificate_arn`: an ACM certificate of the load balancer's region for each
/// region of the stack: one ARN for one region, or a map of region -> ARN naming each region.
fn check_certificates(
    lb: &LoadBalancer,
    regions: &[String],
    issues: &mut Issues,
) -> BTreeMap<String, String> {
    let Some(c) = &lb.certificate_arn else {
        return BTreeMap::new();
    };
    let what = PerRegion {
        field: "certificate_arn",
        noun: "certificate",
        example: "arn:aws:acm",
        missing_help: "every region's listener serves HTTPS, or none does",
    };
    check_per_region(c, regions, &what, check_certificate, issues)
}

/// A regional ARN field: its name, what it names, an ARN's start, and why every region needs one.
struct PerRegion {
    field: &'static str,
    noun: &'static str,
    example: &'static str,
    missing_help: &'static str,
}

/// One ARN for one region, or a map of region -> ARN naming each region of the stack; each
/// checked by `check_one(arn, region, at, issues)`.
fn check_per_region(
    c: &S<Certificate>,
    regions: &[String],
    what: &PerRegion,
    check_one: fn(&str, &str, &Location, &mut Issues),
    issues: &mut Issues,
) -> BTreeMap<String, String> {
    let PerRegion {
        field,
        noun,
        example,
        missing_help,
    } = what;
    match &c.value {
        Certificate::One(arn) => {
            if regions.len() > 1 {
                issues.push(
                    &c.referenced,
                    format!("a {noun} is regional: a stack of two regions needs one per region"),
                    format!("one {noun}"),
                    Some(format!(
                        "give a map: {field}: {{{}}}",
                        regions
                            .iter()
                            .map(|r| format!("{r}: {example}:{r}:…"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
                return BTreeMap::new();
            }
            let region = regions.first().map(String::as_str).unwrap_or_default();
            check_one(arn, region, &c.referenced, issues);
            BTreeMap::from([(region.to_string(), arn.clone())])
        }
        Certificate::PerRegion(map) => {
            for (region, arn) in map {
                if regions.contains(region) {
                    check_one(&arn.value, region, &arn.referenced, issues);
                } else {
                    issues.push(
                        &arn.referenced,
                        format!("{region} is not a region of the stack"),
                        "not one of the stack's regions",
                        Some(format!("the stack's regions: {}", regions.join(", "))),
                    );
                }
            }
            let missing: Vec<&str> = regions
                .iter()
                .filter(|r| !map.contains_key(*r))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                issues.push(
                    &c.referenced,
                    format!("no {noun} for {}", missing.join(", ")),
                    format!("a {noun} per region"),
                    Some(missing_help.to_string()),
                );
            }
            map.iter()
                .map(|(r, a)| (r.clone(), a.value.clone()))
                .collect()
        }
        Certificate::Wrong(what) => {
            issues.push(
                &c.referenced,
                format!("{field} is {what}"),
                "expected an ARN or a map of region to ARN",
                None,
            );
            BTreeMap::new()
        }
    }
}

/// `load_balancer.waf_acl_arn` (an existing web ACL per region) or `load_balancer.waf`
/// (`baseline`, or a map of its settings); not both.
fn check_waf(lb: &LoadBalancer, regions: &[String], issues: &mut Issues) -> Option<WafModel> {
    if let (Some(arn), Some(_)) = (&lb.waf_acl_arn, &lb.waf) {
        issues.push(
            &arn.referenced,
            "waf_acl_arn and waf are two ways to protect the load balancer: give one",
            "and `waf` too",
            Some("waf_acl_arn associates a web ACL of yours; waf: baseline makes one".into()),
        );
        return None;
    }
    if let Some(arn) = &lb.waf_acl_arn {
        let what = PerRegion {
            field: "waf_acl_arn",
            noun: "web ACL",
            example: "arn:aws:wafv2",
            missing_help: "every region's load balancer is protected, or none is",
        };
        let acls = check_per_region(arn, regions, &what, check_web_acl_arn, issues);
        return Some(WafModel::Existing(acls));
    }
    let w = lb.waf.as_ref()?;
    let limit = match &w.value {
        Waf::Off => return None,
        Waf::Is(word) if word == "baseline" => None,
        Waf::Set(settings) => settings.rate_limit.as_ref(),
        Waf::Is(word) => {
            issues.push(
                &w.referenced,
                format!("`{word}` is not a WAF setting"),
                "unknown waf",
                Some(
                    "baseline (AWS managed rules and a rate limit per IP), {rate_limit: N}, or \
                     false; waf_acl_arn associates a web ACL of yours"
                        .into(),
                ),
            );
            return None;
        }
        Waf::Wrong(what) => {
            issues.push(
                &w.referenced,
                format!("waf is {what}"),
                "expected baseline, false or a map",
                Some("baseline, or {rate_limit: 1000}".into()),
            );
            return None;
        }
    };
    // AWS WAF's range for a rate-based rule over 5 minutes.
    let rate_limit = range(
        &limit.cloned(),
        2000,
        10,
        2_000_000_000,
        "rate_limit",
        issues,
    );
    Some(WafModel::Baseline { rate_limit })
}

/// One web ACL ARN: a regional AWS WAF web ACL in the region it is for.
fn check_web_acl_arn(arn: &str, region: &str, at: &Location, issues: &mut Issues) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "wafv2"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].starts_with("regional/webacl/")
        && parts[5].split('/').count() == 4;
    if !ok {
        let global = parts.get(5).is_some_and(|r| r.starts_with("global/"));
        issues.push(
            at,
            "waf_acl_arn is not a regional AWS WAF web ACL ARN",
            "expected arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>",
            global.then(|| {
                "a CLOUDFRONT-scoped (global) web ACL cannot protect a load balancer".to_string()
            }),
        );
    } else if parts[3] != region {
        issues.push(
            at,
            format!(
                "the web ACL is in {}; the load balancer in {region} needs one of {region}",
                parts[3]
            ),
            "a web ACL of another region",
            Some("web ACLs are regional: make one in each region, or use waf: baseline".into()),
        );
    }
}

/// One certificate ARN: an ACM certificate in the region it is for.
fn check_certificate(arn: &str, region: &str, at: &Location, issues: &mut Issues) {
    if !is_acm_arn(arn) {
        issues.push(
            at,
            "certificate_arn is not an ACM certificate ARN",
            "expected arn:aws:acm:…",
            None,
        );
    } else if let Some(r) = acm_arn_region(arn).filter(|r| *r != region) {
        issues.push(
            at,
            format!(
                "the certificate is in {r}; the load balancer in {region} needs one of {region}"
            ),
            "a certificate of another region",
            Some("ACM certificates are regional: request or import one in each region".into()),
        );
    }
}

/// The TLS policy ballast picks: TLS 1.3 and 1.2, forward-secret ciphers only.
pub const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06";

/// `load_balancer.ssl_policy`: an ELB security policy's name; only with a certificate.
fn check_ssl_policy(lb: &LoadBalancer, issues: &mut Issues) -> String {
    let Some(p) = &lb.ssl_policy else {
        return SSL_POLICY.into();
    };
    if !p.value.starts_with("ELBSecurityPolicy-") {
        issues.push(
            &p.referenced,
            format!("`{}` is not an ELB security policy", p.value),
            "expected ELBSecurityPolicy-…",
            Some(format!("the default is {SSL_POLICY}")),
        );
    }
    if lb.certificate_arn.is_none() {
        issues.warn(
            &p.referenced,
            "ssl_policy has no effect without certificate_arn: the listener serves plain HTTP",
            None,
        );
    }
    p.value.clone()
}

/// `load_balancer.desync_mitigation_mode`: one of the ALB's modes; default `defensive`.
fn check_desync(lb: &LoadBalancer, issues: &mut Issues) -> String {
    const MODES: [&str; 3] = ["defensive", "strictest", "monitor"];
    let Some(m) = &lb.desync_mitigation_mode else {
        return "defensive".into();
    };
    if !MODES.contains(&m.value.as_str()) {
        issues.push(
            &m.referenced,
            format!("`{}` is not a desync mitigation mode", m.value),
            "unknown mode",
            Some(match super::error::did_you_mean(&m.value, MODES) {
                Some(near) => format!("did you mean `{near}`? (defensive, strictest or monitor)"),
                None => "defensive, strictest or monitor".into(),
            }),
        );
    }
    m.value.clone()
}

/// A target group's health check: `load_balancer.health_check`, or a service's own (`base`:
/// the load balancer's, which each field it leaves out keeps).
pub(super) fn check_target_health(
    hc: &TargetHealthCheck,
    base: Option<&TargetHealthModel>,
    issues: &mut Issues,
) -> TargetHealthModel {
    let path = match &hc.path {
        Some(p) => {
            if !p.value.starts_with('/') || p.value.len() > 1024 {
                issues.push(
                    &p.referenced,
                    format!("health check path `{}` must start with /", p.value),
                    "not a path",
                    None,
                );
            }
            p.value.clone()
        }
        None => base.map_or("/".to_string(), |b| b.path.clone()),
    };
    let interval = range(
        &hc.interval,
        base.map_or(15, |b| b.interval),
        5,
        300,
        "health check interval",
        issues,
    );
    let timeout = range(
        &hc.timeout,
        base.map_or(5, |b| b.timeout),
        2,
        120,
        "health check timeout",
        issues,
    );
    // A service's own check may meet the load balancer's timeout with a shorter interval.
    let at = match base {
        Some(_) => hc.timeout.as_ref().or(hc.interval.as_ref()),
        None => hc.timeout.as_ref(),
    };
    if let Some(t) = at {
        if timeout >= interval {
            issues.push(
                &t.referenced,
                format!(
                    "health check timeout {timeout}s must be less than the interval {interval}s"
                ),
                "timeout >= interval",
                None,
            );
        }
    }
    let healthy_threshold = range(
        &hc.healthy_threshold,
        base.map_or(3, |b| b.healthy_threshold),
        2,
        10,
        "healthy_threshold",
        issues,
    );
    let unhealthy_threshold = range(
        &hc.unhealthy_threshold,
        base.map_or(3, |b| b.unhealthy_threshold),
        2,
        10,
        "unhealthy_threshold",
        issues,
    );
    let matcher = match &hc.matcher {
        Some(m) => {
            let ok = m.value.split(',').all(|part| {
                let codes: Vec<&str> = part.split('-').collect();
                codes.len() <= 2
                    && codes.iter().all(|c| {
                        c.len() == 3 && c.parse::<u32>().is_ok_and(|n| (200..=499).contains(&n))
                    })
            });
            if !ok {
                issues.push(
                    &m.referenced,
                    format!("invalid matcher `{}`", m.value),
                    "expected HTTP codes 200-499",
                    Some("e.g. `200`, `200,302` or `200-399`".into()),
                );
            }
            m.value.clone()
        }
        None => base.map_or("200-399".to_string(), |b| b.matcher.clone()),
    };
    TargetHealthModel {
        path,
        interval,
        timeout,
        healthy_threshold,
        unhealthy_threshold,
        matcher,
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::load_str;

    fn model(extra: &str) -> crate::spec::Model {
        let yaml = format!(
            "name: web\nregion: us-east-1\nservice:\n  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1\n{extra}"
        );
        load_str("web.yaml", &yaml, None).unwrap()
    }

    /// The url output says what the listener serves: https with a certificate, and the port
    /// when it is not the scheme's.
    #[test]
    fn the_url_has_the_listeners_scheme_and_port() {
        let dns = "web-alb-1.us-east-1.elb.amazonaws.com";
        let url = |extra: &str| model(extra).load_balancer.url(dns);
        assert_eq!(url(""), format!("http://{dns}/"));
        assert_eq!(
            url("load_balancer: {port: 8080}\n"),
            format!("http://{dns}:8080/")
        );
        let cert = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
        assert_eq!(
            url(&format!("load_balancer: {{certificate_arn: {cert}}}\n")),
            format!("https://{dns}/")
        );
        assert_eq!(
            url(&format!(
                "load_balancer: {{certificate_arn: {cert}, port: 8443}}\n"
            )),
            format!("https://{dns}:8443/")
        );
    }

    /// Private subnets mirror the public ones in the other half of the VPC, or are taken from
    /// `private_cidr`; the default egress is a NAT gateway per AZ.
    #[test]
    fn private_subnets_take_the_first_free_blocks() {
        let cidrs = |extra: &str| match model(extra).network {
            crate::spec::NetworkModel::Create {
                subnets,
                private_subnets,
                egress,
                ..
            } => (
                subnets.into_iter().map(|s| s.cidr).collect::<Vec<_>>(),
                private_subnets
                    .into_iter()
                    .map(|s| format!("{} {}", s.az, s.cidr))
                    .collect::<Vec<_>>(),
                egress,
            ),
            other => panic!("{other:?}"),
        };
        let (public, private, egress) = cidrs("");
        assert_eq!(public, ["10.0.0.0/20", "10.0.16.0/20"]);
        assert_eq!(
            private,
            ["us-east-1a 10.0.128.0/20", "us-east-1b 10.0.144.0/20"]
        );
        assert_eq!(egress, crate::spec::Egress::Nat);
        let (_, private, egress) = cidrs(
            "network:\n  egress: nat_single\n  create:\n    cidr: 10.1.0.0/22\n    subnets:\n      - {az: us-east-1a, cidr: 10.1.0.0/26, private_cidr: 10.1.1.0/26}\n      - {az: us-east-1b, cidr: 10.1.0.64/26}\n",
        );
        assert_eq!(
            private,
            ["us-east-1a 10.1.1.0/26", "us-east-1b 10.1.2.64/26"]
        );
        assert_eq!(egress, crate::spec::Egress::NatSingle);
        let (_, _, egress) = cidrs("network:\n  egress: endpoints\n");
        assert_eq!(egress, crate::spec::Egress::Endpoints);
    }

    #[test]
    fn ecr_images_have_a_region() {
        let at = |i| super::ecr_region(i);
        assert_eq!(
            at("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1"),
            Some("us-east-1")
        );
        assert_eq!(
            at("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/web@sha256:ab"),
            Some("us-gov-west-1")
        );
        assert_eq!(
            at("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web"),
            Some("cn-north-1")
        );
        assert_eq!(at("public.ecr.aws/nginx/nginx:1.27"), None);
        assert_eq!(at("nginxinc/nginx-unprivileged:1.27"), None);
        assert_eq!(at("nginx"), None);
        assert_eq!(at("12345.dkr.ecr.us-east-1.amazonaws.com/web"), None);
        assert_eq!(at("123456789012.dkr.ecr.us-east-1.example.com/web"), None);
    }
}
