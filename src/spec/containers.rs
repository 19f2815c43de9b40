//! A service's sidecars (`containers:`), what its containers wait for (`depends_on:`) and its
//! task role (`permissions:`).

use std::collections::{BTreeMap, BTreeSet};

use super::error::{did_you_mean, Issues};
use super::limits::range;
use super::model::{ContainerModel, PermissionModel};
use super::service::{check_container_health, check_image};
use super::types::*;

/// The service's own container in its task definition.
pub const APP: &str = "app";

const CONDITIONS: [&str; 4] = ["START", "HEALTHY", "COMPLETE", "SUCCESS"];

/// `containers:` and `depends_on:` of a service whose task has `cpu` units and `memory` MiB,
/// and whose `app` container has a health check when `app_health` is true.
pub(super) fn check_containers(
    s: &Service,
    cpu: u32,
    memory: u32,
    app_health: bool,
    issues: &mut Issues,
) -> (Vec<ContainerModel>, BTreeMap<String, String>) {
    let mut names: BTreeSet<&str> = BTreeSet::from([APP]);
    let mut out = Vec::new();
    for c in &s.containers {
        let c = &c.value;
        let n = &c.name.value;
        let ok = !n.is_empty()
            && n.len() <= 255
            && n.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
        if !ok {
            issues.push(
                &c.name.referenced,
                format!("invalid container name `{n}`"),
                "not a container name",
                Some("letters, digits, dashes and underscores (at most 255)".into()),
            );
        } else if n == APP {
            issues.push(
                &c.name.referenced,
                "a sidecar cannot be named `app`: that is the service's own container",
                "named like the app container",
                Some("give the sidecar a name of its own, e.g. `otel` or `log-router`".into()),
            );
        } else if !names.insert(n) {
            issues.push(
                &c.name.referenced,
                format!("two containers are named `{n}`"),
                "a second time",
                None,
            );
        }
        check_image(&c.image, issues);
        for (k, v) in &c.environment {
            if super::service::looks_secret(k) {
                issues.warn(
                    &v.referenced,
                    format!("environment variable `{k}` of sidecar `{n}` looks like a secret"),
                    Some(
                        "environment values are stored in the task definition, which anyone \
                         allowed to describe it can read: put it in a secret store"
                            .into(),
                    ),
                );
            }
        }
        let cpu_of = c
            .cpu
            .as_ref()
            .map(|_| range(&c.cpu, 0, 0, cpu, "cpu", issues));
        let memory_of = c
            .memory
            .as_ref()
            .map(|_| range(&c.memory, 0, 6, memory, "memory", issues));
        let reservation = c.memory_reservation.as_ref().map(|_| {
            range(
                &c.memory_reservation,
                0,
                6,
                memory,
                "memory_reservation",
                issues,
            )
        });
        if let (Some(hard), Some(soft)) = (&c.memory, &c.memory_reservation) {
            if soft.value > hard.value {
                issues.push(
                    &soft.referenced,
                    format!(
                        "memory_reservation {} is above the container's memory limit {}",
                        soft.value, hard.value
                    ),
                    "above `memory`",
                    None,
                );
            }
        }
        out.push(ContainerModel {
            name: n.clone(),
            image: c.image.value.clone(),
            essential: c.essential.unwrap_or(true),
            cpu: cpu_of,
            memory: memory_of,
            memory_reservation: reservation,
            command: c.command.clone(),
            environment: c
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            health_check: c
                .health_check
                .as_ref()
                .map(|h| check_container_health(h, issues)),
            depends_on: BTreeMap::new(),
            hardening: super::hardening::check_hardening(
                &super::hardening::Fields::of_sidecar(c),
                s.ec2_capacity.is_none(),
                issues,
            ),
        });
    }
    // What the sidecars take of the task leaves the app container something.
    let reserved: u32 = out
        .iter()
        .map(|c| c.memory_reservation.or(c.memory).unwrap_or(0))
        .sum();
    if reserved >= memory && !s.containers.is_empty() {
        issues.push(
            &s.containers[0].referenced,
            format!(
                "the sidecars reserve {reserved} MiB of the task's {memory}: nothing is left for \
                 the app container"
            ),
            "too much memory",
            Some("raise the service's `memory`, or lower the sidecars'".into()),
        );
    }
    let cpus: u32 = out.iter().filter_map(|c| c.cpu).sum();
    if cpus > cpu {
        issues.push(
            &s.containers[0].referenced,
            format!("the sidecars reserve {cpus} CPU units of the task's {cpu}"),
            "too much CPU",
            Some("raise the service's `cpu`, or lower the sidecars'".into()),
        );
    }

    // depends_on, both ways: of the app container and of each sidecar.
    let health: BTreeMap<&str, bool> = std::iter::once((APP, app_health))
        .chain(
            s.containers
                .iter()
                .map(|c| (c.value.name.value.as_str(), c.value.health_check.is_some())),
        )
        .collect();
    let essential: BTreeMap<&str, bool> = std::iter::once((APP, true))
        .chain(s.containers.iter().map(|c| {
            (
                c.value.name.value.as_str(),
                c.value.essential.unwrap_or(true),
            )
        }))
        .collect();
    let app_deps = check_depends_on(APP, &s.depends_on, &health, &essential, issues);
    for (c, m) in s.containers.iter().zip(&mut out) {
        m.depends_on = check_depends_on(
            &c.value.name.value,
            &c.value.depends_on,
            &health,
            &essential,
            issues,
        );
    }
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    graph.insert(APP, app_deps.keys().map(String::as_str).collect());
    for m in &out {
        graph.insert(&m.name, m.depends_on.keys().map(String::as_str).collect());
    }
    if let Some(cycle) = find_cycle(&graph) {
        let at = if cycle[0] == APP {
            s.depends_on.values().next().map(|v| v.referenced)
        } else {
            s.containers
                .iter()
                .find(|c| c.value.name.value == cycle[0])
                .map(|c| c.value.name.referenced)
        };
        let message = format!(
            "the containers wait for each other in a cycle: {}",
            cycle.join(" -> ")
        );
        let help = Some("no task could ever start: drop one of the dependencies".to_string());
        match at {
            Some(at) => issues.push(&at, message, "in a cycle", help),
            None => issues.push_top(message, help),
        }
    }
    (out, app_deps)
}

/// One container's `depends_on`: known containers, a condition ECS has, `HEALTHY` only on a
/// container with a health check, `COMPLETE` and `SUCCESS` only on one that is not essential.
fn check_depends_on(
    of: &str,
    deps: &BTreeMap<String, S<String>>,
    health: &BTreeMap<&str, bool>,
    essential: &BTreeMap<&str, bool>,
    issues: &mut Issues,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, cond) in deps {
        let Some(&has_health) = health.get(name.as_str()) else {
            let close = did_you_mean(name, health.keys().copied());
            issues.push(
                &cond.referenced,
                format!(
                    "container `{of}` waits for `{name}`, which is not a container of the task"
                ),
                "no such container",
                Some(match close {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!(
                        "the task's containers: {}",
                        health.keys().copied().collect::<Vec<_>>().join(", ")
                    ),
                }),
            );
            continue;
        };
        if name == of {
            issues.push(
                &cond.referenced,
                format!("container `{of}` waits for itself"),
                "itself",
                None,
            );
            continue;
        }
        let c = cond.value.to_ascii_uppercase();
        if !CONDITIONS.contains(&c.as_str()) {
            issues.push(
                &cond.referenced,
                format!("`{}` is not a condition ECS knows", cond.value),
                "not a condition",
                Some(format!("one of {}", CONDITIONS.join(", "))),
            );
            continue;
        }
        if c == "HEALTHY" && !has_health {
            issues.push(
                &cond.referenced,
                format!("container `{of}` waits for `{name}` to be HEALTHY, but `{name}` has no health check"),
                "never healthy",
                Some(format!("give `{name}` a `health_check:`, or wait for START")),
            );
        }
        if (c == "COMPLETE" || c == "SUCCESS") && essential.get(name.as_str()) == Some(&true) {
            issues.push(
                &cond.referenced,
                format!(
                    "container `{of}` waits for `{name}` to {}, but `{name}` is essential: the \
                     task stops when it exits",
                    if c == "SUCCESS" {
                        "succeed"
                    } else {
                        "complete"
                    }
                ),
                "essential",
                Some(format!(
                    "set `essential: false` on `{name}`, or wait for START"
                )),
            );
        }
        out.insert(name.clone(), c);
    }
    out
}

/// A cycle of the dependency graph (the first found, in name order), closed: `[a, b, a]`.
fn find_cycle<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n);
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n);
        for d in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n);
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

/// `permissions:` -> the task role's Allow statements: `service:Action` actions (wildcards
/// allowed) on ARNs or `*`.
pub(super) fn check_permissions(s: &Service, issues: &mut Issues) -> Vec<PermissionModel> {
    let mut out = Vec::new();
    for p in &s.permissions {
        let p = &p.value;
        for (list, what) in [(&p.actions, "actions"), (&p.resources, "resources")] {
            if list.value.is_empty() {
                issues.push(
                    &list.referenced,
                    format!("`{what}` is empty: the statement would allow nothing"),
                    "empty",
                    None,
                );
            }
        }
        for a in &p.actions.value {
            let ok = match a.value.split_once(':') {
                Some((svc, action)) => {
                    !svc.is_empty()
                        && svc
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        && !action.is_empty()
                        && action
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
                }
                None => false,
            };
            if !ok {
                issues.push(
                    &a.referenced,
                    format!("`{}` is not an IAM action", a.value),
                    "not `service:Action`",
                    Some(
                        "e.g. `dynamodb:GetItem`, or `s3:Get*` for every action that starts so"
                            .into(),
                    ),
                );
            }
        }
        for r in &p.resources.value {
            if r.value != "*" && !r.value.starts_with("arn:") {
                issues.push(
                    &r.referenced,
                    format!("`{}` is not an ARN", r.value),
                    "not an ARN",
                    Some(
                        "an ARN (`arn:aws:dynamodb:us-east-1:123456789012:table/orders`), or `*`"
                            .into(),
                    ),
                );
            }
        }
        let mut actions: Vec<String> = p.actions.value.iter().map(|a| a.value.clone()).collect();
        let mut resources: Vec<String> =
            p.resources.value.iter().map(|r| r.value.clone()).collect();
        actions.sort();
        actions.dedup();
        resources.sort();
        resources.dedup();
        out.push(PermissionModel { actions, resources });
    }
    out
}
