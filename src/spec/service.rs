//! `service:`: image, task size, environment and secrets, container health check, logs, EC2
//! capacity, capacity providers and the deployment.

use std::collections::BTreeMap;

use serde_saphyr::Location;

use super::error::Issues;
use super::limits::*;
use super::model::*;
use super::scaling::check_autoscaling;
use super::types::*;

/// `service:`, one section at a time.
pub(super) fn check_service(s: &Service, issues: &mut Issues) -> ServiceModel {
    check_image(&s.image, issues);
    let port = range(&s.port, 80, 1, 65535, "port", issues);
    let (cpu, memory) = check_task_size(s, issues);
    let desired_count = range(&s.desired_count, 2, 0, 1000, "desired_count", issues);
    check_environment(s, issues);
    let health_check = s.health_check.as_ref().and_then(|h| {
        split_health_check(h, issues);
        h.value
            .container()
            .map(|c| check_container_health(&c, issues))
    });
    let log_retention_days = check_log_retention(s, issues);
    let autoscaling = s
        .autoscaling
        .as_ref()
        .map(|a| check_autoscaling(a, s, desired_count, issues));
    let ec2_capacity = s
        .ec2_capacity
        .as_ref()
        .map(|e| check_ec2_capacity(e, s, issues));
    if s.ec2_capacity.is_some() && s.assign_public_ip.as_ref().is_some_and(|p| p.value) {
        issues.push_top(
            "assign_public_ip: true does not work for tasks on EC2 capacity (awsvpc)",
            Some("remove it: the tasks use the instances' way out".into()),
        );
    }
    let capacity = s.capacity.as_ref().map(|c| check_capacity(c, issues));
    let deployment = check_deployment(&s.deployment, issues);
    let (containers, depends_on) =
        super::containers::check_containers(s, cpu, memory, health_check.is_some(), issues);
    let fargate = s.ec2_capacity.is_none();
    let hardening = super::hardening::check_hardening(
        &super::hardening::Fields::of_service(s),
        fargate,
        issues,
    );
    let without_user: Vec<&str> = std::iter::once((super::containers::APP, &hardening))
        .chain(containers.iter().map(|c| (c.name.as_str(), &c.hardening)))
        .filter(|(_, h)| h.user.is_none())
        .map(|(n, _)| n)
        .collect();
    super::hardening::warn_root(&s.image.referenced, &without_user, issues);
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
        // Set with the network known (`network::check_public_ip`).
        assign_public_ip: false,
        log_retention_days,
        route: None,
        internal: false,
        containers,
        depends_on,
        permissions: super::containers::check_permissions(s, issues),
        target_health: None,
        slo: None,
        hardening,
        runtime_platform: super::hardening::check_runtime_platform(&s.runtime_platform, issues),
        egress: super::hardening::check_egress(&s.egress, issues),
    }
}

/// An image reference: no whitespace, at most `MAX_IMAGE_CHARS` before any `@`.
pub(super) fn check_image(image: &S<String>, issues: &mut Issues) {
    if image.value.trim().is_empty() || image.value.contains(char::is_whitespace) {
        issues.push(
            &image.referenced,
            "invalid image reference",
            "not an image",
            None,
        );
    } else {
        // ECS RegisterTaskDefinition, ContainerDefinition.image: up to 255 characters (for
        // `repo@sha256:...`, the part before the `@`).
        let name = image.value.split('@').next().unwrap_or("");
        let n = name.chars().count();
        if n > MAX_IMAGE_CHARS {
            issues.push(
                &image.referenced,
                format!("the image name is {n} characters long: ECS allows {MAX_IMAGE_CHARS}"),
                "too long",
                Some(
                    "ECS counts the registry, repository and tag (everything before an `@`)".into(),
                ),
            );
        }
    }
}

/// cpu and memory: a size Fargate offers (EC2 capacity: any).
pub(super) fn check_task_size(s: &Service, issues: &mut Issues) -> (u32, u32) {
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

pub(super) fn check_environment(s: &Service, issues: &mut Issues) {
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
pub(super) fn variable_name_ok(name: &str) -> bool {
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

pub(super) fn check_secrets(s: &Service, issues: &mut Issues) -> BTreeMap<String, String> {
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

/// A service's `health_check` is its container's (`command`) or its target group's (`path`),
/// not both, and not neither.
fn split_health_check(h: &S<ServiceHealthCheck>, issues: &mut Issues) {
    let v = &h.value;
    let target_only = [
        ("path", v.path.as_ref().map(|p| &p.referenced)),
        ("matcher", v.matcher.as_ref().map(|m| &m.referenced)),
        (
            "healthy_threshold",
            v.healthy_threshold.as_ref().map(|t| &t.referenced),
        ),
        (
            "unhealthy_threshold",
            v.unhealthy_threshold.as_ref().map(|t| &t.referenced),
        ),
    ];
    let container_only = [
        ("retries", v.retries.as_ref().map(|r| &r.referenced)),
        (
            "start_period",
            v.start_period.as_ref().map(|p| &p.referenced),
        ),
    ];
    match &v.command {
        Some(_) => {
            for (key, at) in target_only {
                if let Some(at) = at {
                    issues.push(
                        at,
                        format!(
                            "`{key}` belongs to a target group's health check, and `command` makes this the container's"
                        ),
                        "mixes the two checks",
                        Some(
                            "the container's check: `command`, `interval`, `timeout`, `retries`, \
                             `start_period`; the target group's: `path`, `matcher`, `interval`, \
                             `timeout`, the thresholds"
                                .into(),
                        ),
                    );
                }
            }
        }
        None if target_only.iter().all(|(_, at)| at.is_none()) => issues.push(
            &h.referenced,
            "a health check needs `command` (the container's) or `path` (its target group's)",
            "neither",
            Some("e.g. `{command: [CMD-SHELL, \"curl -f http://localhost/ || exit 1\"]}` or `{path: /healthz}`".into()),
        ),
        None => {
            for (key, at) in container_only {
                if let Some(at) = at {
                    issues.push(
                        at,
                        format!(
                            "`{key}` belongs to a container's health check, and `path` makes this the target group's"
                        ),
                        "mixes the two checks",
                        Some("a container's check has a `command`".into()),
                    );
                }
            }
        }
    }
}

pub(super) fn check_container_health(
    h: &ContainerHealthCheck,
    issues: &mut Issues,
) -> ContainerHealthModel {
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

pub(super) fn check_log_retention(s: &Service, issues: &mut Issues) -> u32 {
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

pub(super) fn check_ec2_capacity(
    e: &Ec2Capacity,
    s: &Service,
    issues: &mut Issues,
) -> Ec2CapacityModel {
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

pub(super) fn check_capacity(c: &Capacity, issues: &mut Issues) -> CapacityModel {
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

pub(super) fn check_deployment(d: &Deployment, issues: &mut Issues) -> DeploymentModel {
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
