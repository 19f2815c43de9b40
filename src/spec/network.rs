//! `network:` and `load_balancer:`: the VPC's CIDR and subnets, or an existing VPC; the
//! listener, its certificate and the health check.

use std::collections::HashSet;

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

pub(super) fn check_lb(lb: &LoadBalancer, issues: &mut Issues) -> LoadBalancerModel {
    if let Some(arn) = &lb.certificate_arn {
        if !is_acm_arn(&arn.value) {
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

    let health_check = check_target_health(&lb.health_check, None, issues);
    LoadBalancerModel {
        port,
        certificate_arn: lb.certificate_arn.as_ref().map(|a| a.value.clone()),
        idle_timeout,
        deletion_protection: lb.deletion_protection.unwrap_or(false),
        drop_invalid_header_fields: lb.drop_invalid_header_fields.unwrap_or(true),
        desync_mitigation_mode: check_desync(lb, issues),
        ingress_cidrs,
        deregistration_delay,
        health_check,
    }
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
