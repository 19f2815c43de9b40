//! Parse a spec and check its semantics, without any AWS call.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use ipnet::Ipv4Net;
use serde_saphyr::Location;

use super::alarms::{check_alarms, check_rollback, check_slo};
use super::error::{did_you_mean, Issues, SpecError};
use super::model::*;
use super::names::MAX_STACK_NAME;
use super::regions::{check_dns, check_regions, check_two_regions};
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

/// Parse and validate `text` (read from `file`). `region` overrides the spec's `region`; with
/// `regions:` it must be one of them and changes nothing (commands use it to pick one region).
/// Files the spec names (`dns.fallback.page`) are read relative to `file`'s directory.
pub fn load_str(file: &str, text: &str, region: Option<&str>) -> Result<Model, SpecError> {
    let text = Arc::new(text.to_string());
    let mut issues = Issues::new(file, text.clone());
    // The structure first (depth, size, documents, duplicate keys), before any of it meets the
    // spec's types: a type error would otherwise hide a file that is too deep to read.
    // (A typeless read refuses `.nan`: the typed one says where a number must be finite.)
    let parsed = match serde_saphyr::from_str::<serde::de::IgnoredAny>(&text) {
        Err(e)
            if !matches!(
                e.without_snippet(),
                serde_saphyr::Error::NonFiniteFloat { .. }
            ) =>
        {
            Err(e)
        }
        _ => serde_saphyr::from_str::<Spec>(&text),
    };
    let spec: Spec = match parsed {
        Ok(s) => s,
        Err(e) => {
            push_parse_error(&mut issues, &e);
            return Err(SpecError {
                file: file.to_string(),
                issues: issues.list,
            });
        }
    };
    let mut model = check(&spec, file, region, &mut issues);
    model.warnings = std::mem::take(&mut issues.warnings);
    issues.into_result(file)?;
    Ok(model)
}

/// The largest spec ballast reads: real specs are a few KiB.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// Why a spec file did not load: it could not be read, or it is not a valid spec.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Spec(#[from] SpecError),
}

pub fn load_file(path: &str, region: Option<&str>) -> Result<Model, LoadError> {
    let read_err = |source| LoadError::Read {
        path: path.to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    if size > MAX_SPEC_BYTES {
        let mut issues = Issues::new(path, Arc::new(String::new()));
        issues.push_top(
            format!(
                "the spec is too large: {} KiB (ballast reads at most {} KiB)",
                size.div_ceil(1024),
                MAX_SPEC_BYTES / 1024
            ),
            Some("a spec is a few KiB: is this the right file?".into()),
        );
        return Err(issues.into_result(path).unwrap_err().into());
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return Err(not_utf8(path, e).into()),
    };
    Ok(load_str(path, &text, region)?)
}

/// A spec that is not UTF-8: where the first bad byte is.
fn not_utf8(path: &str, e: std::string::FromUtf8Error) -> SpecError {
    let at = e.utf8_error().valid_up_to();
    let bytes = e.as_bytes();
    let good = String::from_utf8_lossy(&bytes[..at]);
    let line = good.matches('\n').count() + 1;
    let column = good.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let byte = bytes[at];
    let text = Arc::new(String::from_utf8_lossy(bytes).into_owned());
    let mut issues = Issues::new(path, text);
    issues.push_at(
        line,
        column,
        format!("the spec is not valid UTF-8: byte 0x{byte:02x} at line {line}, column {column}"),
        "not UTF-8",
        Some("save the file as UTF-8".into()),
    );
    issues.into_result(path).unwrap_err()
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
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => {
            let k = key.as_deref().unwrap_or("?");
            issues.push(
                &loc,
                format!("duplicate key `{k}`"),
                "given again here",
                Some("a key may appear once in a mapping: keep one of them".into()),
            );
        }
        serde_saphyr::Error::MultipleDocuments { .. } => {
            issues.push(
                &loc,
                "the file holds more than one YAML document",
                "a second document starts here",
                Some("a spec is one document: remove the `---` and what follows it".into()),
            );
        }
        serde_saphyr::Error::Budget { breach, .. } => {
            use serde_saphyr::budget::BudgetBreach;
            let (msg, help) = match breach {
                BudgetBreach::Depth { .. } => (
                    "the spec is nested too deeply".to_string(),
                    "a spec nests a few levels: look for unbalanced `[` or `{`",
                ),
                _ => (
                    "the spec is too large to read".to_string(),
                    "a spec is a few KiB: is this the right file?",
                ),
            };
            issues.push(&loc, msg, "here", Some(help.into()));
        }
        serde_saphyr::Error::InvalidUtf8Input => {
            issues.push(&loc, "the spec is not valid UTF-8", "here", None);
        }
        serde_saphyr::Error::SerdeInvalidType { .. }
        | serde_saphyr::Error::SerdeInvalidValue { .. } => {
            let msg = first_line(e);
            issues.push(&loc, msg, "wrong type", None);
        }
        _ => {
            let msg = first_line(e);
            // serde-saphyr says "invalid u32" for `port: eighty`: say what was expected.
            let negative = issues.token(&loc).trim_start().starts_with('-');
            let lower = msg.to_ascii_lowercase();
            let (msg, label) = match msg.strip_prefix("invalid ") {
                Some(t) if t.starts_with('u') && negative => (
                    format!("must be 0 or more, not {}", issues.token(&loc).trim()),
                    "negative",
                ),
                _ if lower.contains("recursion") || lower.contains("too deep") => {
                    ("the spec is nested too deeply".to_string(), "here")
                }
                Some(t) if t.starts_with('u') || t.starts_with('i') => (
                    "wrong type: expected a whole number".to_string(),
                    "not a number",
                ),
                Some(t) if t.starts_with('f') => {
                    ("wrong type: expected a number".to_string(), "not a number")
                }
                Some("bool" | "boolean") => (
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

fn check(spec: &Spec, file: &str, region_override: Option<&str>, issues: &mut Issues) -> Model {
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
    let (region, regions) = match &spec.regions {
        Some(list) => check_regions(spec, list, region_override, issues),
        None => {
            let region = one_region(spec, region_override, issues);
            (region.clone(), vec![region])
        }
    };

    let accounts = check_accounts(spec, issues);

    let tags = spec
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect::<BTreeMap<_, _>>();
    for (k, v) in &spec.tags {
        if !super::names::is_user_tag(k) {
            issues.push(
                &v.referenced,
                format!(
                    "tag key `{k}` is reserved: ballast's ownership tags (`ballast:*`, `Name`) \
                     and AWS's (`aws:*`, `AmazonECSManaged`) cannot be set or removed by the spec"
                ),
                "reserved tag key",
                None,
            );
        }
    }

    let network = check_network(spec.network.as_ref(), &region, issues);
    let load_balancer = check_lb(&spec.load_balancer, issues);
    let mut service = check_service(&spec.service, issues);
    let alarms = check_alarms(spec, &service, issues);
    (
        service.deployment.rollback_alarms,
        service.deployment.rollback_managed,
    ) = check_rollback(spec, alarms.as_ref(), issues);
    let slo = spec.slo.as_ref().map(|s| check_slo(spec, s, issues));
    check_two_regions(spec, &regions, issues);
    let dns = check_dns(spec, file, &regions, &load_balancer, issues);

    Model {
        name: name.clone(),
        region,
        regions,
        accounts,
        warnings: Vec::new(),
        dns,
        tags,
        network,
        load_balancer,
        service,
        alarms,
        slo,
        dashboard: spec.dashboard.unwrap_or(true),
    }
}

/// `accounts:`: a non-empty list of 12-digit account ids.
fn check_accounts(spec: &Spec, issues: &mut Issues) -> Vec<String> {
    let Some(list) = &spec.accounts else {
        return Vec::new();
    };
    if list.value.is_empty() {
        issues.push(
            &list.referenced,
            "`accounts:` is empty: no account would be allowed",
            "empty list",
            Some("name the account ids the stack lives in, or remove `accounts:`".into()),
        );
    }
    for a in &list.value {
        let id = &a.value;
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            issues.push(
                &a.referenced,
                format!("invalid AWS account id `{id}`"),
                "not a 12-digit account id",
                Some(
                    "an account id is 12 digits, quoted so leading zeros stay: `accounts: [\"123456789012\"]`"
                        .into(),
                ),
            );
        }
    }
    list.value.iter().map(|a| a.value.clone()).collect()
}

/// The one-region form: `--region`, else `region:`, else AWS_REGION / AWS_DEFAULT_REGION.
fn one_region(spec: &Spec, region_override: Option<&str>, issues: &mut Issues) -> String {
    match (region_override, &spec.region) {
        (Some(r), _) => r.to_string(),
        (None, Some(r)) => {
            check_region_name(r, issues);
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
    }
}

/// A region ballast knows, or one newer than its list that looks like a region and is no typo.
pub(super) fn check_region_name(r: &S<String>, issues: &mut Issues) {
    if !REGIONS.contains(&r.value.as_str()) {
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

pub(super) fn range(
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

/// What ballast checks of an ACM certificate ARN before AWS sees it (`arn:aws…:acm:…`).
pub(super) fn is_acm_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws") && arn.contains(":acm:")
}

/// The region of an ACM certificate ARN (`arn:aws:acm:<region>:<account>:certificate/<id>`),
/// if it names one.
pub(super) fn acm_arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some("acm"), Some(region)) if !region.is_empty() => Some(region),
        _ => None,
    }
}

fn check_lb(lb: &LoadBalancer, issues: &mut Issues) -> LoadBalancerModel {
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

fn check_autoscaling(
    a: &Autoscaling,
    s: &Service,
    desired: u32,
    issues: &mut Issues,
) -> AutoscalingModel {
    let min = range(&Some(a.min.clone()), 0, 0, 10_000, "min", issues);
    let max = range(&Some(a.max.clone()), 0, 1, 10_000, "max", issues);
    if min > max {
        issues.push(
            &a.min.referenced,
            format!("autoscaling min {min} is above max {max}"),
            "min > max",
            None,
        );
    }
    if desired < min || desired > max {
        let at = s
            .desired_count
            .as_ref()
            .map(|d| d.referenced)
            .unwrap_or(a.min.referenced);
        issues.push(
            &at,
            format!("desired_count {desired} is outside autoscaling {min}..{max}"),
            "must be within min..max",
            None,
        );
    }
    let pct = |v: &Option<S<u32>>, what: &str, issues: &mut Issues| {
        v.as_ref().map(|_| range(v, 0, 1, 100, what, issues))
    };
    let cpu = pct(&a.cpu, "cpu target", issues);
    let memory = pct(&a.memory, "memory target", issues);
    let requests_per_target = a.requests_per_target.as_ref().map(|_| {
        range(
            &a.requests_per_target,
            0,
            1,
            1_000_000,
            "requests_per_target",
            issues,
        )
    });
    if cpu.is_none() && memory.is_none() && requests_per_target.is_none() && a.schedules.is_empty()
    {
        issues.push(
            &a.min.referenced,
            "autoscaling needs a target (cpu, memory or requests_per_target) or a schedule",
            "nothing to scale on",
            None,
        );
    }
    let mut names = HashSet::new();
    let schedules = a
        .schedules
        .iter()
        .map(|sc| {
            let n = &sc.name.value;
            if n.is_empty() || n.len() > 200 || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                issues.push(&sc.name.referenced, format!("invalid schedule name `{n}`"), "letters, digits, - and _", None);
            }
            if !names.insert(n.clone()) {
                issues.push(&sc.name.referenced, format!("schedule `{n}` is defined twice"), "duplicate", None);
            }
            let expression = match schedule_expression(&sc.cron.value) {
                Ok(e) => e,
                Err(why) => {
                    issues.push(&sc.cron.referenced, format!("invalid schedule `{}`: {why}", sc.cron.value), "not a schedule expression", Some("e.g. `cron(0 8 ? * MON-FRI *)`, `0 8 ? * MON-FRI *`, `rate(1 day)` or `at(2026-12-24T18:00:00)`".into()));
                    sc.cron.value.clone()
                }
            };
            let timezone = match &sc.timezone {
                Some(tz) => {
                    let ok = tz.value == "UTC" || (tz.value.contains('/') && tz.value.chars().all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c)));
                    if !ok {
                        issues.push(&tz.referenced, format!("`{}` is not an IANA time zone", tz.value), "e.g. Europe/Berlin", None);
                    }
                    tz.value.clone()
                }
                None => "UTC".into(),
            };
            let smin = sc.min.as_ref().map(|v| v.value);
            let smax = sc.max.as_ref().map(|v| v.value);
            if smin.is_none() && smax.is_none() {
                issues.push(&sc.name.referenced, format!("schedule `{n}` sets neither min nor max"), "nothing to change", None);
            }
            if let (Some(lo), Some(hi), Some(at)) = (smin, smax, sc.min.as_ref()) {
                if lo > hi {
                    issues.push(&at.referenced, format!("schedule min {lo} is above its max {hi}"), "min > max", None);
                }
            }
            ScheduleModel { name: n.clone(), expression, timezone, min: smin, max: smax }
        })
        .collect();
    AutoscalingModel {
        min,
        max,
        cpu,
        memory,
        requests_per_target,
        scale_in_cooldown: range(
            &a.scale_in_cooldown,
            300,
            0,
            3600,
            "scale_in_cooldown",
            issues,
        ),
        scale_out_cooldown: range(
            &a.scale_out_cooldown,
            60,
            0,
            3600,
            "scale_out_cooldown",
            issues,
        ),
        disable_scale_in: a.disable_scale_in.unwrap_or(false),
        schedules,
    }
}

/// Normalize and check an Application Auto Scaling schedule expression.
pub fn schedule_expression(s: &str) -> Result<String, String> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut p = inner.split_whitespace();
        let (Some(n), Some(unit), None) = (p.next(), p.next(), p.next()) else {
            return Err("rate needs `<n> <unit>`".into());
        };
        let n: u32 = n
            .parse()
            .map_err(|_| format!("`{n}` is not a positive number"))?;
        let units = ["minute", "minutes", "hour", "hours", "day", "days"];
        if n == 0 || !units.contains(&unit) {
            return Err(format!(
                "expected a positive count of minutes, hours or days, got `{inner}`"
            ));
        }
        return Ok(s.to_string());
    }
    if let Some(inner) = s.strip_prefix("at(").and_then(|r| r.strip_suffix(')')) {
        let ok = inner.len() == 19
            && inner.as_bytes()[10] == b'T'
            && inner.chars().enumerate().all(|(i, c)| match i {
                4 | 7 => c == '-',
                10 => c == 'T',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            });
        return if ok {
            Ok(s.to_string())
        } else {
            Err("at() needs yyyy-mm-ddThh:mm:ss".into())
        };
    }
    let inner = s
        .strip_prefix("cron(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(s);
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {}",
            fields.len()
        ));
    }
    let checks: [(&str, u32, u32, &str); 6] = [
        ("minutes", 0, 59, ",-*/"),
        ("hours", 0, 23, ",-*/"),
        ("day-of-month", 1, 31, ",-*?/LW"),
        ("month", 1, 12, ",-*/"),
        ("day-of-week", 1, 7, ",-*?/L#"),
        ("year", 1970, 2199, ",-*/"),
    ];
    for (f, (name, lo, hi, special)) in fields.iter().zip(checks) {
        let names_ok = |w: &str| match name {
            "month" => [
                "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
            ]
            .contains(&w),
            "day-of-week" => ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"].contains(&w),
            _ => false,
        };
        for part in f
            .split(|c: char| special.contains(c))
            .filter(|p| !p.is_empty())
        {
            let ok = match part.parse::<u32>() {
                Ok(v) => (lo..=hi).contains(&v) || (f.contains('/') && v > 0),
                Err(_) => names_ok(&part.to_ascii_uppercase()),
            };
            if !ok {
                return Err(format!("`{part}` is not a valid {name} value ({lo}-{hi})"));
            }
        }
    }
    if fields[2] != "?" && fields[4] != "?" {
        return Err("one of day-of-month and day-of-week must be `?`".into());
    }
    Ok(format!("cron({})", fields.join(" ")))
}

/// `service:`, one section at a time.
fn check_service(s: &Service, issues: &mut Issues) -> ServiceModel {
    if s.image.value.trim().is_empty() || s.image.value.contains(char::is_whitespace) {
        issues.push(
            &s.image.referenced,
            "invalid image reference",
            "not an image",
            None,
        );
    } else {
        // ECS RegisterTaskDefinition, ContainerDefinition.image: up to 255 characters (for
        // `repo@sha256:...`, the part before the `@`).
        let name = s.image.value.split('@').next().unwrap_or("");
        let n = name.chars().count();
        if n > MAX_IMAGE_CHARS {
            issues.push(
                &s.image.referenced,
                format!("the image name is {n} characters long: ECS allows {MAX_IMAGE_CHARS}"),
                "too long",
                Some(
                    "ECS counts the registry, repository and tag (everything before an `@`)".into(),
                ),
            );
        }
    }
    let port = range(&s.port, 80, 1, 65535, "port", issues);
    let (cpu, memory) = check_task_size(s, issues);
    let desired_count = range(&s.desired_count, 2, 0, 1000, "desired_count", issues);
    check_environment(s, issues);
    let health_check = s
        .health_check
        .as_ref()
        .map(|h| check_container_health(h, issues));
    let log_retention_days = check_log_retention(s, issues);
    let autoscaling = s
        .autoscaling
        .as_ref()
        .map(|a| check_autoscaling(a, s, desired_count, issues));
    let ec2_capacity = s
        .ec2_capacity
        .as_ref()
        .map(|e| check_ec2_capacity(e, s, issues));
    if s.ec2_capacity.is_some() && s.assign_public_ip == Some(true) {
        issues.push_top(
            "assign_public_ip: true does not work for tasks on EC2 capacity (awsvpc)",
            Some("remove it: the instances have public IPs and pull the images".into()),
        );
    }
    let capacity = s.capacity.as_ref().map(|c| check_capacity(c, issues));
    let deployment = check_deployment(&s.deployment, issues);
    ServiceModel {
        autoscaling,
        capacity,
        ec2_capacity,
        deployment,
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
        secrets: check_secrets(s, issues),
        secrets_kms_key: s.secrets_kms_key.as_ref().map(|k| k.value.clone()),
        health_check,
        health_check_grace_period: range(
            &s.health_check_grace_period,
            60,
            0,
            2_147_483_647,
            "health_check_grace_period",
            issues,
        ),
        // Tasks on EC2 (awsvpc) cannot get public IPs: the instance pulls images instead.
        assign_public_ip: s.assign_public_ip.unwrap_or(s.ec2_capacity.is_none()),
        log_retention_days,
    }
}

/// cpu and memory: a size Fargate offers (EC2 capacity: any).
fn check_task_size(s: &Service, issues: &mut Issues) -> (u32, u32) {
    let cpu = s.cpu.as_ref().map(|c| c.value).unwrap_or(256);
    let memory = s.memory.as_ref().map(|m| m.value).unwrap_or(512);
    // EC2 capacity has no Fargate size table: the instance type bounds cpu and memory.
    let fargate_sizes = if s.ec2_capacity.is_none() {
        fargate_memory(cpu)
    } else {
        Some(vec![memory])
    };
    match fargate_sizes {
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
    (cpu, memory)
}

/// ECS: an image name (registry/repository:tag) has at most 255 characters.
pub const MAX_IMAGE_CHARS: usize = 255;
/// ECS: a task definition has at most 64 KiB (service quota "task definition size"). The
/// environment and the command may use this much of it; ballast's own part (names, roles, log
/// and health check settings) stays well under the remaining 8 KiB.
pub const MAX_ENVIRONMENT_BYTES: usize = 56 * 1024;

fn check_environment(s: &Service, issues: &mut Issues) {
    // As ECS stores them: {"name": "K", "value": "V"} per variable, the command's strings.
    let size: usize = s
        .environment
        .iter()
        .map(|(k, v)| k.len() + v.value.len() + 24)
        .chain(s.command.iter().flatten().map(|c| c.len() + 3))
        .sum();
    if size > MAX_ENVIRONMENT_BYTES {
        let first = s.environment.values().next();
        let help = Some(format!(
            "ECS allows 64 KiB for the whole task definition, and ballast keeps {} KiB of it for its own settings: move large values to a file in the image, S3 or SSM Parameter Store",
            64 - MAX_ENVIRONMENT_BYTES / 1024
        ));
        let msg = format!(
            "the environment and command take {} KiB: at most {} KiB fit in an ECS task definition",
            size.div_ceil(1024),
            MAX_ENVIRONMENT_BYTES / 1024
        );
        match first {
            Some(v) => issues.push(&v.referenced, msg, "the environment starts here", help),
            None => issues.push(&s.image.referenced, msg, "this service", help),
        }
    }
    for (k, v) in &s.environment {
        if !variable_name_ok(k) {
            issues.push(
                &v.referenced,
                format!("invalid environment variable name `{k}`"),
                "bad variable name",
                None,
            );
        }
    }
}

/// Whether `name` can be an environment variable of a container.
fn variable_name_ok(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What a secret reference of `secrets:` is, and its ECS `valueFrom`.
pub fn secret_value_from(reference: &str) -> Option<String> {
    // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, RESOURCE split in at most `n` - 5 fields.
    let arn = |service: &str, n: usize| -> Option<Vec<&str>> {
        let f: Vec<&str> = reference.splitn(n, ':').collect();
        let ok = f.len() == n
            && f[0] == "arn"
            && f[1].starts_with("aws")
            && f[2] == service
            && !f[3].is_empty()
            && f[4].len() == 12
            && f[4].chars().all(|c| c.is_ascii_digit());
        ok.then_some(f)
    };
    if let Some(name) = reference.strip_prefix("ssm:") {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
            && !name.ends_with('/');
        return ok.then(|| name.to_string());
    }
    // A secret, optionally with `:json-key:version-stage:version-id`.
    let secret = arn("secretsmanager", 7)
        .is_some_and(|f| f[5] == "secret" && f[6].split(':').next().is_some_and(|n| !n.is_empty()));
    let parameter = arn("ssm", 6).is_some_and(|f| {
        f[5].strip_prefix("parameter/")
            .is_some_and(|n| !n.is_empty())
    });
    (secret || parameter).then(|| reference.to_string())
}

/// Names an environment variable a person would take for a secret.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL"]
        .iter()
        .any(|w| upper.contains(w))
}

fn check_secrets(s: &Service, issues: &mut Issues) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in &s.secrets {
        if !variable_name_ok(k) {
            issues.push(
                &v.referenced,
                format!("invalid environment variable name `{k}`"),
                "bad variable name",
                None,
            );
        }
        if s.environment.contains_key(k) {
            issues.push(
                &v.referenced,
                format!("`{k}` is both in environment and in secrets"),
                "also in environment",
                Some("keep it in secrets only".into()),
            );
        }
        match secret_value_from(&v.value) {
            Some(from) => {
                out.insert(k.clone(), from);
            }
            None => issues.push(
                &v.referenced,
                format!("`{}` is not a secret reference", v.value),
                "not a secret reference",
                Some(
                    "use a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME), an SSM parameter ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME) or ssm:/NAME for a parameter of the stack's region"
                        .into(),
                ),
            ),
        }
    }
    if let Some(key) = &s.secrets_kms_key {
        let f: Vec<&str> = key.value.splitn(6, ':').collect();
        let ok = f.len() == 6
            && f[0] == "arn"
            && f[2] == "kms"
            && f[4].len() == 12
            && f[5].strip_prefix("key/").is_some_and(|id| !id.is_empty());
        if !ok {
            issues.push(
                &key.referenced,
                format!("`{}` is not a KMS key ARN", key.value),
                "not a key ARN",
                Some("arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (an alias cannot be granted kms:Decrypt)".into()),
            );
        } else if s.secrets.is_empty() {
            issues.push(
                &key.referenced,
                "secrets_kms_key without secrets",
                "nothing to decrypt",
                Some("remove it, or add secrets".into()),
            );
        }
    }
    for (k, v) in &s.environment {
        if looks_secret(k) {
            issues.warn(
                &v.referenced,
                format!("environment variable `{k}` looks like a secret"),
                Some(format!(
                    "environment values are stored in the task definition, which anyone allowed to describe it can read: put it in a secret store and name it under secrets: (`{k}: ssm:/NAME` or a Secrets Manager ARN)"
                )),
            );
        }
    }
    out
}

fn check_container_health(h: &ContainerHealthCheck, issues: &mut Issues) -> ContainerHealthModel {
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
}

fn check_log_retention(s: &Service, issues: &mut Issues) -> u32 {
    match &s.log_retention_days {
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
    }
}

fn check_ec2_capacity(e: &Ec2Capacity, s: &Service, issues: &mut Issues) -> Ec2CapacityModel {
    let it = &e.instance_type;
    let ok = it.value.split_once('.').is_some_and(|(fam, size)| {
        !fam.is_empty()
            && !size.is_empty()
            && fam
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && size
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if !ok {
        issues.push(
            &it.referenced,
            format!("`{}` is not an EC2 instance type", it.value),
            "e.g. t3.small",
            None,
        );
    }
    let image_id = match &e.ami {
        Some(a) => {
            if !(a.value.starts_with("ami-") || a.value.starts_with("resolve:ssm:")) {
                issues.push(
                    &a.referenced,
                    format!("`{}` is not an AMI id", a.value),
                    "expected ami-… or resolve:ssm:…",
                    None,
                );
            }
            a.value.clone()
        }
        None => ECS_OPTIMIZED_AMI.to_string(),
    };
    let min = range(&e.min, 1, 0, 10_000, "min", issues);
    let max = range(&e.max, 4, 1, 10_000, "max", issues);
    if min > max {
        let at = e
            .min
            .as_ref()
            .or(e.max.as_ref())
            .map(|v| v.referenced)
            .unwrap_or(it.referenced);
        issues.push(
            &at,
            format!("ec2_capacity min {min} is above max {max}"),
            "min > max",
            None,
        );
    }
    if let Some(c) = &s.capacity {
        let at = c
            .base
            .as_ref()
            .or(c.spot_weight.as_ref())
            .map(|v| v.referenced)
            .unwrap_or(it.referenced);
        issues.push(
            &at,
            "`capacity` (Fargate/Spot) and `ec2_capacity` cannot both be set",
            "choose one",
            None,
        );
    }
    Ec2CapacityModel {
        instance_type: it.value.clone(),
        image_id,
        min,
        max,
        target_capacity: range(&e.target_capacity, 100, 1, 100, "target_capacity", issues),
        managed_termination_protection: e.managed_termination_protection.unwrap_or(true),
    }
}

fn check_capacity(c: &Capacity, issues: &mut Issues) -> CapacityModel {
    let cap = CapacityModel {
        base: range(&c.base, 1, 0, 100_000, "base", issues),
        on_demand_weight: range(&c.on_demand_weight, 1, 0, 1000, "on_demand_weight", issues),
        spot_weight: range(&c.spot_weight, 0, 0, 1000, "spot_weight", issues),
    };
    if cap.on_demand_weight == 0 && cap.spot_weight == 0 {
        let at = c
            .spot_weight
            .as_ref()
            .or(c.on_demand_weight.as_ref())
            .map(|w| w.referenced)
            .unwrap_or(Location::UNKNOWN);
        issues.push(
            &at,
            "at least one capacity weight must be above 0",
            "all weights are 0",
            None,
        );
    }
    cap
}

fn check_deployment(d: &Deployment, issues: &mut Issues) -> DeploymentModel {
    let min_healthy_percent = range(
        &d.min_healthy_percent,
        100,
        0,
        100,
        "min_healthy_percent",
        issues,
    );
    let max_percent = range(&d.max_percent, 200, 100, 200, "max_percent", issues);
    if min_healthy_percent == 100 && max_percent == 100 {
        if let Some(p) = &d.max_percent {
            issues.push(
                &p.referenced,
                "with min_healthy_percent 100, max_percent 100 leaves no room to start new tasks",
                "deployments could never progress",
                Some("raise max_percent or lower min_healthy_percent".into()),
            );
        }
    }
    DeploymentModel {
        circuit_breaker: d.circuit_breaker.unwrap_or(true),
        min_healthy_percent,
        max_percent,
        // Both lists are sorted out by `check_rollback`, once the alarms are known.
        rollback_alarms: Vec::new(),
        rollback_managed: Vec::new(),
    }
}
