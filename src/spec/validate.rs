//! Parse a spec and check its semantics, without any AWS call.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use ipnet::Ipv4Net;
use serde_saphyr::Location;

use super::error::{did_you_mean, Issues, SpecError};
use super::model::*;
use super::names::MAX_STACK_NAME;
use super::types::*;

/// Regions ballast knows by name, for "did you mean".
const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
];

/// CloudWatch Logs accepts only these retention periods.
const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Memory (MiB) Fargate allows for a CPU size.
pub fn fargate_memory(cpu: u32) -> Option<Vec<u32>> {
    let range = |lo: u32, hi: u32, step: u32| (lo..=hi).step_by(step as usize).collect();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122880, 8192),
        _ => return None,
    })
}

/// Parse and validate `text` (read from `file`). `region` overrides the spec's region.
pub fn load_str(file: &str, text: &str, region: Option<&str>) -> Result<Model, SpecError> {
    let text = Arc::new(text.to_string());
    let mut issues = Issues::new(file, text.clone());
    let spec: Spec = match serde_saphyr::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            push_parse_error(&mut issues, &e);
            return Err(SpecError {
                file: file.to_string(),
                issues: issues.list,
            });
        }
    };
    let model = check(&spec, region, &mut issues);
    issues.into_result(file)?;
    Ok(model)
}

pub fn load_file(path: &str, region: Option<&str>) -> Result<Model, crate::error::Error> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::error::Error::ReadFile {
        path: path.to_string(),
        source,
    })?;
    Ok(load_str(path, &text, region)?)
}

fn push_parse_error(issues: &mut Issues, e: &serde_saphyr::Error) {
    let loc = e.location().unwrap_or(Location::UNKNOWN);
    match e.without_snippet() {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => {
            let help = match did_you_mean(field, expected.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("expected one of: {}", expected.join(", ")),
            };
            issues.push(
                &loc,
                format!("unknown key `{field}`"),
                "unknown key",
                Some(help),
            );
        }
        serde_saphyr::Error::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let help = match did_you_mean(variant, expected.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("expected one of: {}", expected.join(", ")),
            };
            issues.push(
                &loc,
                format!("unknown key `{variant}`"),
                "unknown key",
                Some(help),
            );
        }
        serde_saphyr::Error::SerdeMissingField { field, .. } => {
            issues.push(
                &loc,
                format!("missing required key `{field}`"),
                format!("`{field}` is required here"),
                None,
            );
        }
        serde_saphyr::Error::SerdeInvalidType { .. }
        | serde_saphyr::Error::SerdeInvalidValue { .. } => {
            let msg = first_line(e);
            issues.push(&loc, msg, "wrong type", None);
        }
        _ => {
            let msg = first_line(e);
            // serde-saphyr says "invalid u32" for `port: eighty`: say what was expected.
            let (msg, label) = match msg.strip_prefix("invalid ") {
                Some(t) if t.starts_with('u') || t.starts_with('i') => (
                    "wrong type: expected a whole number".to_string(),
                    "not a number",
                ),
                Some("bool") => (
                    "wrong type: expected true or false".to_string(),
                    "not a boolean",
                ),
                _ => (msg, "here"),
            };
            issues.push(&loc, msg, label, None);
        }
    }
}

/// serde-saphyr renders its own snippet after the message; keep only the message.
fn first_line(e: &serde_saphyr::Error) -> String {
    let s = e.without_snippet().to_string();
    let s = s.lines().next().unwrap_or("invalid YAML").to_string();
    // Drop a trailing " at line X column Y": miette shows the place.
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn check(spec: &Spec, region_override: Option<&str>, issues: &mut Issues) -> Model {
    // name
    let name = &spec.name.value;
    let name_ok = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !name_ok {
        issues.push(
            &spec.name.referenced,
            format!("invalid stack name `{name}`"),
            "not a valid stack name",
            Some("use lowercase letters, digits and single dashes, starting with a letter".into()),
        );
    } else if name.len() > MAX_STACK_NAME {
        issues.push(
            &spec.name.referenced,
            format!(
                "stack name is too long: `{name}-alb` would be {} characters, ALB and target group names allow 32",
                name.len() + 4
            ),
            format!("{} characters, at most {MAX_STACK_NAME}", name.len()),
            None,
        );
    }

    // region
    let region = match (region_override, &spec.region) {
        (Some(r), _) => r.to_string(),
        (None, Some(r)) => {
            if !REGIONS.contains(&r.value.as_str()) {
                // A region newer than this list passes if it looks like one and is no typo.
                let close = did_you_mean(&r.value, REGIONS.iter().copied());
                if close.is_some() || !looks_like_region(&r.value) {
                    let help = close.map(|s| format!("did you mean `{s}`?"));
                    issues.push(
                        &r.referenced,
                        format!("unknown region `{}`", r.value),
                        "unknown region",
                        help,
                    );
                }
            }
            r.value.clone()
        }
        (None, None) => {
            match std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")) {
                Ok(r) => r,
                Err(_) => {
                    issues.push(
                        &spec.name.referenced,
                        "no region: set `region:` in the spec, pass --region, or set AWS_REGION",
                        "stack has no region",
                        None,
                    );
                    String::new()
                }
            }
        }
    };

    let tags = spec
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect::<BTreeMap<_, _>>();
    for (k, v) in &spec.tags {
        if k.starts_with("ballast:") || k.starts_with("aws:") {
            issues.push(
                &v.referenced,
                format!("tag key `{k}` is reserved"),
                "reserved tag key",
                None,
            );
        }
    }

    let network = check_network(spec.network.as_ref(), &region, issues);
    let load_balancer = check_lb(&spec.load_balancer, issues);
    let service = check_service(&spec.service, issues);

    Model {
        name: name.clone(),
        region,
        tags,
        network,
        load_balancer,
        service,
    }
}

fn looks_like_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn cidr(s: &S<String>, issues: &mut Issues) -> Option<Ipv4Net> {
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

fn check_network(net: Option<&Network>, region: &str, issues: &mut Issues) -> NetworkModel {
    let default = CreateNetwork::default();
    let create = match net {
        Some(Network::Existing(e)) => {
            if !e.vpc_id.value.starts_with("vpc-") {
                issues.push(
                    &e.vpc_id.referenced,
                    format!("`{}` is not a VPC id", e.vpc_id.value),
                    "expected vpc-…",
                    None,
                );
            }
            let mut seen = HashSet::new();
            for s in &e.subnet_ids.value {
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
            let mut subnet_ids: Vec<String> =
                e.subnet_ids.value.iter().map(|s| s.value.clone()).collect();
            subnet_ids.sort();
            return NetworkModel::Existing {
                vpc_id: e.vpc_id.value.clone(),
                subnet_ids,
            };
        }
        Some(Network::Create(c)) => c,
        None => &default,
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

    let subnets = match &create.subnets {
        None => {
            let Some(vpc) = vpc else {
                return NetworkModel::Create {
                    cidr: String::new(),
                    subnets: vec![],
                };
            };
            let prefix = (vpc.prefix_len() + 4).min(28);
            vpc.subnets(prefix)
                .map(|it| {
                    it.take(2)
                        .zip(["a", "b"])
                        .map(|(net, az)| SubnetModel {
                            az: format!("{region}{az}"),
                            cidr: net.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        }
        Some(list) => {
            let mut out = Vec::new();
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
                if let Some(net) = cidr(&s.cidr, issues) {
                    if let Some(v) = vpc {
                        if !v.contains(&net) {
                            issues.push(
                                &s.cidr.referenced,
                                format!("subnet {net} is outside the VPC {v}"),
                                "outside the VPC",
                                None,
                            );
                        }
                    }
                    if net.prefix_len() > 28 {
                        issues.push(
                            &s.cidr.referenced,
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
                            &s.cidr.referenced,
                            format!("subnet {net} overlaps {other}"),
                            "overlapping subnet",
                            None,
                        );
                    }
                    nets.push((net, &s.cidr.referenced));
                }
                out.push(SubnetModel {
                    az: s.az.value.clone(),
                    cidr: s.cidr.value.clone(),
                });
            }
            if azs.len() < 2 {
                issues.push(
                    &list.referenced,
                    "an ALB needs subnets in at least two availability zones",
                    "fewer than 2 AZs",
                    None,
                );
            }
            out
        }
    };
    NetworkModel::Create {
        cidr: vpc.map(|v| v.to_string()).unwrap_or_default(),
        subnets,
    }
}

fn range(
    v: &Option<S<u32>>,
    default: u32,
    lo: u32,
    hi: u32,
    what: &str,
    issues: &mut Issues,
) -> u32 {
    match v {
        None => default,
        Some(s) => {
            if s.value < lo || s.value > hi {
                issues.push(
                    &s.referenced,
                    format!("{what} {} is out of range", s.value),
                    format!("must be {lo} to {hi}"),
                    None,
                );
            }
            s.value
        }
    }
}

fn check_lb(lb: &LoadBalancer, issues: &mut Issues) -> LoadBalancerModel {
    if let Some(arn) = &lb.certificate_arn {
        if !(arn.value.starts_with("arn:aws") && arn.value.contains(":acm:")) {
            issues.push(
                &arn.referenced,
                "certificate_arn is not an ACM certificate ARN",
                "expected arn:aws:acm:…",
                None,
            );
        }
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

    let hc = &lb.health_check;
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
        None => "/".to_string(),
    };
    let interval = range(&hc.interval, 15, 5, 300, "health check interval", issues);
    let timeout = range(&hc.timeout, 5, 2, 120, "health check timeout", issues);
    if let Some(t) = &hc.timeout {
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
    let healthy_threshold = range(&hc.healthy_threshold, 3, 2, 10, "healthy_threshold", issues);
    let unhealthy_threshold = range(
        &hc.unhealthy_threshold,
        3,
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
        None => "200-399".to_string(),
    };
    LoadBalancerModel {
        port,
        certificate_arn: lb.certificate_arn.as_ref().map(|a| a.value.clone()),
        idle_timeout,
        deletion_protection: lb.deletion_protection.unwrap_or(false),
        ingress_cidrs,
        deregistration_delay,
        health_check: TargetHealthModel {
            path,
            interval,
            timeout,
            healthy_threshold,
            unhealthy_threshold,
            matcher,
        },
    }
}

fn check_service(s: &Service, issues: &mut Issues) -> ServiceModel {
    if s.image.value.trim().is_empty() || s.image.value.contains(char::is_whitespace) {
        issues.push(
            &s.image.referenced,
            "invalid image reference",
            "not an image",
            None,
        );
    }
    let port = range(&s.port, 80, 1, 65535, "port", issues);
    let cpu = s.cpu.as_ref().map(|c| c.value).unwrap_or(256);
    let memory = s.memory.as_ref().map(|m| m.value).unwrap_or(512);
    match fargate_memory(cpu) {
        None => {
            let at = s
                .cpu
                .as_ref()
                .map(|c| c.referenced)
                .unwrap_or(Location::UNKNOWN);
            issues.push(
                &at,
                format!("Fargate has no {cpu} CPU size"),
                "not a Fargate CPU size",
                Some("use 256, 512, 1024, 2048, 4096, 8192 or 16384".into()),
            );
        }
        Some(allowed) if !allowed.contains(&memory) => {
            let at = s
                .memory
                .as_ref()
                .or(s.cpu.as_ref())
                .map(|m| m.referenced)
                .unwrap_or(Location::UNKNOWN);
            let lo = allowed.first().unwrap();
            let hi = allowed.last().unwrap();
            let step = allowed.get(1).map(|x| x - lo).unwrap_or(0);
            issues.push(
                &at,
                format!("Fargate does not allow {memory} MiB with {cpu} CPU"),
                "invalid cpu/memory pair",
                Some(if allowed.len() <= 3 {
                    format!("with cpu {cpu}, memory must be one of {allowed:?}")
                } else {
                    format!("with cpu {cpu}, memory must be {lo} to {hi} in steps of {step}")
                }),
            );
        }
        _ => {}
    }
    let desired_count = range(&s.desired_count, 2, 0, 1000, "desired_count", issues);
    for (k, v) in &s.environment {
        let ok = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            issues.push(
                &v.referenced,
                format!("invalid environment variable name `{k}`"),
                "bad variable name",
                None,
            );
        }
    }
    let health_check = s.health_check.as_ref().map(|h| {
        let first = h.command.value.first().map(String::as_str).unwrap_or("");
        if !matches!(first, "CMD" | "CMD-SHELL" | "NONE")
            || h.command.value.len() < 2 && first != "NONE"
        {
            issues.push(
                &h.command.referenced,
                "container health check command must start with CMD or CMD-SHELL",
                "bad command",
                Some("e.g. [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]".into()),
            );
        }
        ContainerHealthModel {
            command: h.command.value.clone(),
            interval: range(&h.interval, 30, 5, 300, "interval", issues),
            timeout: range(&h.timeout, 5, 2, 60, "timeout", issues),
            retries: range(&h.retries, 3, 1, 10, "retries", issues),
            start_period: range(&h.start_period, 0, 0, 300, "start_period", issues),
        }
    });
    let log_retention_days = match &s.log_retention_days {
        None => 30,
        Some(d) => {
            if !RETENTION_DAYS.contains(&d.value) {
                let near = RETENTION_DAYS
                    .iter()
                    .min_by_key(|x| x.abs_diff(d.value))
                    .unwrap();
                issues.push(
                    &d.referenced,
                    format!(
                        "CloudWatch Logs does not allow {} days of retention",
                        d.value
                    ),
                    "not an allowed retention",
                    Some(format!("did you mean {near}?")),
                );
            }
            d.value
        }
    };
    ServiceModel {
        image: s.image.value.clone(),
        port,
        cpu,
        memory,
        desired_count,
        command: s.command.clone(),
        environment: s
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect(),
        health_check,
        health_check_grace_period: range(
            &s.health_check_grace_period,
            60,
            0,
            2_147_483_647,
            "health_check_grace_period",
            issues,
        ),
        assign_public_ip: s.assign_public_ip.unwrap_or(true),
        log_retention_days,
    }
}
