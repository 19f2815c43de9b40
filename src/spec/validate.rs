//! Parse a spec and check its semantics, without any AWS call.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_saphyr::Location;

use super::alarms::{check_alarms, check_rollback, check_slo};
use super::error::{did_you_mean, Issues, SpecError};
use super::model::*;
use super::names::MAX_STACK_NAME;
use super::regions::{check_dns, check_regions, check_two_regions};
use super::services::check_services;
use super::types::*;
use super::{limits::*, network::*};

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
    let load_balancer = check_lb(
        &spec.load_balancer,
        &regions,
        spec.protect.unwrap_or(false),
        issues,
    );
    let (mut checked, named_services) = check_services(spec, name, issues);
    // The fewest tasks any service runs: the running-tasks alarm's default threshold.
    let service_min = checked
        .iter()
        .map(|c| {
            c.model
                .autoscaling
                .as_ref()
                .map_or(c.model.desired_count, |a| a.min)
        })
        .min()
        .unwrap_or(0);
    for c in &mut checked {
        c.model.assign_public_ip = check_public_ip(c.spec, &network, issues);
        check_endpoint_images(c.spec, &c.model, &network, &regions, issues);
        c.model.target_health =
            check_own_target_health(c, named_services, &load_balancer.health_check, issues);
    }
    let alarms = check_alarms(spec, service_min, issues);
    for c in &mut checked {
        let d = &mut c.model.deployment;
        (d.rollback_alarms, d.rollback_managed) =
            check_rollback(spec, c.spec, alarms.as_ref(), issues);
    }
    let slo = spec.slo.as_ref().map(|s| check_slo(spec, s, issues));
    for c in &mut checked {
        c.model.slo = check_own_slo(spec, c, named_services, issues);
    }
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
        services: checked.into_iter().map(|c| (c.name, c.model)).collect(),
        named_services,
        alarms,
        slo,
        dashboard: spec.dashboard.unwrap_or(true),
        permissions_boundary: check_iam(spec, issues),
    }
}

/// `iam.permissions_boundary`: a managed policy's ARN (`arn:<partition>:iam::<account or
/// aws>:policy/<path and name>`).
fn check_iam(spec: &Spec, issues: &mut Issues) -> Option<String> {
    let b = spec.iam.as_ref()?.value.permissions_boundary.as_ref()?;
    let parts: Vec<&str> = b.value.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && (parts[4] == "aws"
            || (parts[4].len() == 12 && parts[4].bytes().all(|c| c.is_ascii_digit())))
        && parts[5]
            .strip_prefix("policy/")
            .is_some_and(|n| !n.is_empty());
    if !ok {
        issues.push(
            &b.referenced,
            format!("`{}` is not the ARN of an IAM managed policy", b.value),
            "not a policy ARN",
            Some("e.g. arn:aws:iam::123456789012:policy/ci-boundary".into()),
        );
    }
    Some(b.value.clone())
}

/// A routed service's own target group health check (`health_check: {path: ...}`), each field
/// it leaves out the load balancer's. The one service of `service:` has the load balancer's
/// (`load_balancer.health_check`), an internal one no target group.
fn check_own_target_health(
    c: &super::services::Checked,
    named: bool,
    lb: &TargetHealthModel,
    issues: &mut Issues,
) -> Option<TargetHealthModel> {
    let h = c.spec.health_check.as_ref()?;
    let target = h.value.target()?;
    if !named {
        issues.push(
            &h.referenced,
            "the one service's target group checks `load_balancer.health_check`",
            "a target group health check under `service:`",
            Some("move `path` (and the rest) to `load_balancer.health_check`".into()),
        );
        return None;
    }
    if c.model.internal {
        issues.push(
            &h.referenced,
            format!(
                "service `{}` is internal: it has no target group to check",
                c.name
            ),
            "a target group health check of an internal service",
            Some("give it a container health check (`command`) instead".into()),
        );
        return None;
    }
    Some(super::network::check_target_health(
        &target,
        Some(lb),
        issues,
    ))
}

/// A routed service's own `slo:`. Both SLOs count requests at the load balancer, which an
/// internal service is not behind; the one service of `service:` has the stack's `slo:`.
fn check_own_slo(
    spec: &Spec,
    c: &super::services::Checked,
    named: bool,
    issues: &mut Issues,
) -> Option<SloModel> {
    let s = c.spec.slo.as_ref()?;
    if !named {
        issues.push(
            &s.referenced,
            "`slo` of the one service is the stack's `slo:`",
            "an SLO under `service:`",
            Some("move this section to the top level".into()),
        );
        return None;
    }
    if c.model.internal {
        issues.push(
            &s.referenced,
            format!(
                "service `{}` is internal: its requests are not counted at the load balancer, which SLOs measure",
                c.name
            ),
            "an SLO of an internal service",
            Some("remove this `slo:`; its CPU, memory and running tasks alarms watch it".into()),
        );
        return None;
    }
    Some(check_slo(spec, s, issues))
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
