//! `service:` or `services:`: the stack's services, their names and their routes.

use std::collections::{BTreeMap, HashMap};

use super::error::Issues;
use super::model::{RouteModel, ServiceModel};
use super::names::max_service_name_in;
use super::service::check_service;
use super::types::*;

/// The most condition values one listener rule may have (path patterns and host headers
/// together), and how long one may be.
pub const MAX_ROUTE_VALUES: usize = 5;
pub const MAX_ROUTE_VALUE_CHARS: usize = 128;

/// One service as written and as validated.
pub(super) struct Checked<'a> {
    pub name: String,
    pub spec: &'a Service,
    pub model: ServiceModel,
}

/// The services of `spec` by name, in name order, and whether they are named (`services:`).
/// `service:` is one service named like the stack.
pub(super) fn check_services<'a>(
    spec: &'a Spec,
    stack: &str,
    issues: &mut Issues,
) -> (Vec<Checked<'a>>, bool) {
    match (&spec.service, &spec.services) {
        (Some(one), None) => {
            for (what, at) in [
                ("route", one.value.route.as_ref().map(|r| &r.referenced)),
                (
                    "internal",
                    one.value.internal.as_ref().map(|i| &i.referenced),
                ),
            ] {
                if let Some(at) = at {
                    issues.push(
                        at,
                        format!("`{what}` belongs to a service of `services:`"),
                        "only with several services",
                        Some(
                            "`service:` is the load balancer's only service: it gets every request"
                                .into(),
                        ),
                    );
                }
            }
            let model = check_service(&one.value, issues);
            let checked = Checked {
                name: stack.to_string(),
                spec: &one.value,
                model,
            };
            (vec![checked], false)
        }
        (Some(one), Some(_)) => {
            issues.push(
                &one.referenced,
                "a stack has `service:` or `services:`, not both",
                "here",
                Some("move this service under `services:`, with a name".into()),
            );
            (Vec::new(), false)
        }
        (None, None) => {
            issues.push_top(
                "missing required key `service` (or `services`)",
                Some(
                    "`service:` is one service named like the stack; `services:` names \
                     several behind the one load balancer"
                        .into(),
                ),
            );
            (Vec::new(), false)
        }
        (None, Some(many)) => (
            check_named(&many.value, &many.referenced, stack, issues),
            true,
        ),
    }
}

fn check_named<'a>(
    many: &'a HashMap<S<String>, Service>,
    at: &serde_saphyr::Location,
    stack: &str,
    issues: &mut Issues,
) -> Vec<Checked<'a>> {
    if many.is_empty() {
        issues.push(
            at,
            "`services:` is empty",
            "no service",
            Some("name at least one service, or use `service:`".into()),
        );
    }
    let mut sorted: Vec<(&S<String>, &Service)> = many.iter().collect();
    sorted.sort_by(|a, b| a.0.value.cmp(&b.0.value));
    let max = max_service_name_in(stack);
    let mut out = Vec::new();
    for (name, s) in sorted {
        check_name(name, stack, max, issues);
        let mut model = check_service(s, issues);
        model.internal = s.internal.as_ref().is_some_and(|i| i.value);
        model.route = match (&s.route, model.internal) {
            (Some(r), true) => {
                issues.push(
                    &r.referenced,
                    format!("service `{}` is internal: it has no route", name.value),
                    "a route of an internal service",
                    Some(
                        "remove `route:`, or `internal: true` to serve it through the load balancer"
                            .into(),
                    ),
                );
                None
            }
            (Some(r), false) => Some(check_route(&r.value, &r.referenced, issues)),
            (None, true) => {
                // Requests per target are counted at the load balancer, which an internal
                // service is not behind.
                if let Some(r) = s
                    .autoscaling
                    .as_ref()
                    .and_then(|a| a.requests_per_target.as_ref())
                {
                    issues.push(
                        &r.referenced,
                        format!(
                            "service `{}` is internal: it has no target group to count requests per target",
                            name.value
                        ),
                        "requests per target of an internal service",
                        Some("scale it on `cpu` or `memory` instead".into()),
                    );
                }
                None
            }
            (None, false) => {
                issues.push(
                    &name.referenced,
                    format!(
                        "service `{}` has no route: which requests of the load balancer are its?",
                        name.value
                    ),
                    "no `route:`",
                    Some(
                        "add `route: {path: /}` (every request no other service takes), \
                         `route: {paths: [/api/*]}` or `route: {host: api.example.com}`; or \
                         `internal: true`"
                            .into(),
                    ),
                );
                None
            }
        };
        out.push(Checked {
            name: name.value.clone(),
            spec: s,
            model,
        });
    }
    check_overlaps(&out, many, issues);
    check_priorities(&out, many, issues);
    out
}

/// No two listener rules may take one priority (`routing`): a clash of two services' stable
/// hashes within one band, which renaming either service resolves.
fn check_priorities(out: &[Checked<'_>], many: &HashMap<S<String>, Service>, issues: &mut Issues) {
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    for c in out {
        let Some(route) = c.model.route.as_ref().filter(|r| !r.is_default()) else {
            continue;
        };
        let p = route.priority(&c.name);
        let Some(first) = seen.insert(p, &c.name) else {
            continue;
        };
        if let Some(loc) = many
            .iter()
            .find(|(n, _)| n.value == c.name)
            .map(|(n, _)| n.referenced)
        {
            issues.push(
                &loc,
                format!(
                    "services `{first}` and `{}` would take the same listener rule priority ({p})",
                    c.name
                ),
                "same priority",
                Some(
                    "a rule's priority comes from its route and its service's name: rename one of the two"
                        .into(),
                ),
            );
        }
    }
}

/// Lowercase letters, digits and dashes, starting with a letter; short enough that
/// `<stack>-<service>-tg` fits a target group name.
fn check_name(name: &S<String>, stack: &str, max: usize, issues: &mut Issues) {
    let n = &name.value;
    let ok = n.starts_with(|c: char| c.is_ascii_lowercase())
        && !n.ends_with('-')
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        issues.push(
            &name.referenced,
            format!("invalid service name `{n}`"),
            "not a service name",
            Some(
                "lowercase letters, digits and dashes, starting with a letter and not ending \
                 with a dash"
                    .into(),
            ),
        );
        return;
    }
    let len = n.chars().count();
    if len > max {
        issues.push(
            &name.referenced,
            format!(
                "service name `{n}` is {len} characters: in stack `{stack}` a service name may \
                 have {max}"
            ),
            format!("{} too many", len - max),
            Some(format!(
                "its target group `{stack}-{n}-tg` must fit the 32 characters AWS allows a \
                 target group name; `{stack}` leaves {max} for the service"
            )),
        );
    }
}

/// `route:` -> its conditions: paths start with `/`, at most `MAX_ROUTE_VALUES` values in all.
fn check_route(r: &Route, at: &serde_saphyr::Location, issues: &mut Issues) -> RouteModel {
    let mut paths: Vec<&S<String>> = r.path.iter().collect();
    paths.extend(r.paths.iter().flat_map(|p| p.value.iter()));
    let mut hosts: Vec<&S<String>> = r.host.iter().collect();
    hosts.extend(r.hosts.iter().flat_map(|h| h.value.iter()));
    if paths.is_empty() && hosts.is_empty() {
        issues.push(
            at,
            "a route needs a path or a host",
            "matches nothing",
            Some(
                "e.g. `route: {path: /}`, `{paths: [/api/*]}` or `{host: api.example.com}`".into(),
            ),
        );
    }
    let values = paths.len() + hosts.len();
    if values > MAX_ROUTE_VALUES {
        issues.push(
            at,
            format!(
                "a route has {values} paths and hosts: a listener rule allows {MAX_ROUTE_VALUES}"
            ),
            format!("{} too many", values - MAX_ROUTE_VALUES),
            Some("use wildcards (`/api/*`, `*.example.com`) to match more with fewer".into()),
        );
    }
    for p in &paths {
        let v = &p.value;
        if !v.starts_with('/') {
            issues.push(
                &p.referenced,
                format!("path `{v}` does not start with `/`"),
                "not a path",
                None,
            );
        } else if !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.$/~\"'@:+*?&".contains(c))
        {
            issues.push(
                &p.referenced,
                format!("path `{v}` has a character a path pattern cannot have"),
                "not a path pattern",
                Some("letters, digits, `_-.$/~\"'@:+&`, and the wildcards `*` and `?`".into()),
            );
        } else if v == "/" && paths.len() > 1 {
            issues.push(
                &p.referenced,
                "`/` already matches every path",
                "with other paths",
                Some("give `/` alone, or only the other paths".into()),
            );
        }
        too_long(p, issues);
    }
    for h in &hosts {
        let v = &h.value;
        let ok = !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.*?".contains(c));
        if !ok {
            issues.push(
                &h.referenced,
                format!("host `{v}` is not a host name"),
                "not a host",
                Some("letters, digits, `-` and `.`, and the wildcards `*` and `?`".into()),
            );
        }
        too_long(h, issues);
    }
    let mut paths: Vec<String> = paths.iter().map(|p| p.value.clone()).collect();
    let mut hosts: Vec<String> = hosts.iter().map(|h| h.value.to_ascii_lowercase()).collect();
    paths.sort();
    paths.dedup();
    hosts.sort();
    hosts.dedup();
    RouteModel { paths, hosts }
}

fn too_long(v: &S<String>, issues: &mut Issues) {
    let n = v.value.chars().count();
    if n > MAX_ROUTE_VALUE_CHARS {
        issues.push(
            &v.referenced,
            format!(
                "`{}` is {n} characters: a listener rule allows {MAX_ROUTE_VALUE_CHARS}",
                v.value
            ),
            "too long",
            None,
        );
    }
}

/// No two services may take the same requests: one service at most at `/`, and no (host, path)
/// pair in two routes.
fn check_overlaps(out: &[Checked<'_>], many: &HashMap<S<String>, Service>, issues: &mut Issues) {
    let at = |name: &str| {
        many.iter()
            .find(|(n, _)| n.value == name)
            .and_then(|(_, s)| s.route.as_ref())
            .map(|r| r.referenced)
    };
    let mut seen: BTreeMap<(String, String), &str> = BTreeMap::new();
    for c in out {
        let Some(route) = &c.model.route else {
            continue;
        };
        let any = [String::new()];
        let hosts = if route.hosts.is_empty() {
            &any[..]
        } else {
            &route.hosts[..]
        };
        let paths = if route.paths.is_empty() {
            &any[..]
        } else {
            &route.paths[..]
        };
        for h in hosts {
            for p in paths {
                if let Some(first) = seen.insert((h.clone(), p.clone()), &c.name) {
                    let what = match (h.is_empty(), p.is_empty()) {
                        (true, false) if p == "/" => "`/`".to_string(),
                        (true, false) => format!("path `{p}`"),
                        (false, true) => format!("host `{h}`"),
                        (false, false) => format!("path `{p}` on host `{h}`"),
                        (true, true) => "every request".to_string(),
                    };
                    if let Some(loc) = at(&c.name) {
                        issues.push(
                            &loc,
                            format!("services `{first}` and `{}` both route {what}", c.name),
                            "taken by another service",
                            Some(
                                "a request goes to one service: give each its own paths or hosts"
                                    .into(),
                            ),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{load_str, RouteModel};

    const PIZZA: &str = "name: pizza\nregion: us-east-1\nservices:\n  web:\n    image: web:1\n    port: 8080\n    route: {path: /}\n  api:\n    image: api:2\n    route: {paths: [/api/*], host: API.example.com}\n  factory:\n    image: factory:1\n    port: 9000\n    internal: true\n";

    #[test]
    fn named_services_in_name_order_with_their_routes() {
        let m = load_str("pizza.yaml", PIZZA, None).unwrap();
        assert!(m.named_services);
        let names: Vec<&str> = m.services().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["api", "factory", "web"]);
        assert_eq!(
            m.services["api"].route,
            Some(RouteModel {
                paths: vec!["/api/*".into()],
                hosts: vec!["api.example.com".into()],
            })
        );
        assert!(m.services["web"].route.as_ref().unwrap().is_default());
        assert!(m.services["factory"].internal);
        assert_eq!(m.services["factory"].route, None);
        assert_eq!(m.services["factory"].port, 9000);
    }

    #[test]
    fn the_one_service_form_is_named_like_the_stack() {
        let m = load_str(
            "web.yaml",
            "name: web\nregion: us-east-1\nservice:\n  image: x\n",
            None,
        )
        .unwrap();
        assert!(!m.named_services);
        assert_eq!(m.services().len(), 1);
        assert_eq!(m.services["web"].route, None);
    }
}
