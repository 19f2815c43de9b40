//! `aws_cloudwatch_dashboard`: one dashboard per stack with the golden signals: requests, 5xx
//! (targets and the load balancer), p50/p99 latency, healthy and unhealthy hosts per AZ,
//! running vs desired tasks, CPU and memory, with the alarm thresholds drawn on the graphs.
//!
//! Dashboards cannot be tagged. ballast marks its own with a text widget that carries
//! `ballast:stack=<name>`, and a same-named dashboard without that mark is a look-alike: never
//! overwritten or deleted. Dashboard names are account-wide, so the name carries the region.
//!
//! The body is compared as normalized JSON (keys sorted). The load balancer's and target
//! group's ARN suffixes are not known before they exist, so the body is kept with `${alb}` and
//! `${tg}` placeholders and the suffixes as two attributes that refer to those resources; the
//! observed body is normalized the same way.

use async_trait::async_trait;
use serde_json::{json, Value as Json};

use super::common::{ignore_missing, s};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, StackRef, Value};
use crate::spec::names::TAG_STACK;
use crate::spec::{ManagedAlarm, NetworkModel, View};

pub struct Dashboard;

pub const KIND: &str = "aws_cloudwatch_dashboard";
pub const ID: &str = "dashboard";

const ALB: &str = "${alb}";
const TG: &str = "${tg}";

/// The mark that makes a dashboard this stack's.
fn mark(stack: &str) -> String {
    format!("{TAG_STACK}={stack}")
}

#[async_trait]
impl Kind<Clients> for Dashboard {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["cloudwatch:GetDashboard"],
            write: &["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"],
            arns: &["arn:aws:cloudwatch::*:dashboard/{name}"],
            ..Iam::default()
        }
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::load_balancer::KIND, super::target_group::KIND]
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        if !v.stack.dashboard {
            return vec![];
        }
        // The one service's target group, or with named services each routed service's, by
        // service (an internal one has none).
        let tg = if v.stack.named_services {
            Value::Map(
                v.stack
                    .services()
                    .into_iter()
                    .filter(|(_, s)| !s.internal)
                    .map(|(name, _)| {
                        let id =
                            crate::spec::names::service_id(super::target_group::ID, Some(name));
                        (name.to_string(), Value::reference(&id, "arn_suffix"))
                    })
                    .collect(),
            )
        } else {
            Value::reference(super::target_group::ID, "arn_suffix")
        };
        vec![Node::new(KIND, ID, v.names().dashboard())
            .attr("body", canonical(&body(v)))
            .attr(
                "alb_arn_suffix",
                Value::reference(super::load_balancer::ID, "arn_suffix"),
            )
            .attr("tg_arn_suffix", tg)]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let name = crate::spec::Names::new(&stack.name, &stack.region).dashboard();
        let r = c
            .cloudwatch
            .get_dashboard()
            .dashboard_name(&name)
            .send()
            .await
            .ctx(|| format!("get dashboard {name}"));
        let r = match r {
            Err(e) if e.is_not_found() => return Ok(vec![]),
            r => r?,
        };
        let raw = r.dashboard_body().unwrap_or("{}");
        let owned = raw.contains(&mark(&stack.name));
        if !owned && desired.is_empty() {
            return Ok(vec![]);
        }
        let parsed: Json = serde_json::from_str(raw).unwrap_or(Json::Null);
        let (body, alb, tg) = normalize(parsed, &stack.name);
        Ok(vec![Observed {
            id: ID.into(),
            kind: KIND,
            physical_id: name.clone(),
            name: name.clone(),
            attrs: Attrs::from([
                ("body".into(), Value::Str(canonical(&body))),
                ("alb_arn_suffix".into(), Value::opt_str(alb)),
                ("tg_arn_suffix".into(), tg),
            ]),
            outputs: Outputs::from([
                ("name".into(), name),
                (
                    "arn".into(),
                    r.dashboard_arn().unwrap_or_default().to_string(),
                ),
            ]),
            owned,
        }])
    }

    /// Discovery reads each by its name (GetDashboard).
    fn found_by_name(&self) -> bool {
        true
    }

    async fn create(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        put(c, &node.name, attrs).await
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
        _: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        put(c, &node.name, attrs).await
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let r = c
            .cloudwatch
            .delete_dashboards()
            .dashboard_names(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("delete dashboard {}", cur.name));
        ignore_missing(r)
    }
}

async fn put(c: &Clients, name: &str, attrs: &Attrs) -> Result<Outputs, BoxError> {
    let mut body = s(attrs, "body")?.replace(ALB, s(attrs, "alb_arn_suffix")?);
    match attrs.get("tg_arn_suffix") {
        Some(Value::Map(by_service)) => {
            for (svc, suffix) in by_service {
                body = body.replace(&tg_of(svc), suffix.as_str().unwrap_or_default());
            }
        }
        _ => body = body.replace(TG, s(attrs, "tg_arn_suffix")?),
    }
    c.cloudwatch
        .put_dashboard()
        .dashboard_name(name)
        .dashboard_body(body)
        .send()
        .await
        .ctx(|| format!("put dashboard {name}"))?;
    Ok(Outputs::from([("name".into(), name.to_string())]))
}

/// JSON with sorted keys and no spaces: equal bodies compare equal as strings.
fn canonical(v: &Json) -> String {
    // serde_json's map is a BTreeMap (no `preserve_order`), so keys come out sorted.
    v.to_string()
}

/// The placeholder of a named service's target group suffix: `${tg:api}`.
fn tg_of(service: &str) -> String {
    format!("${{tg:{service}}}")
}

/// The body with the load balancer's and target groups' ARN suffixes replaced by their
/// placeholders, and the suffixes found: the load balancer's, and the target group's (the one
/// service's `<stack>-tg` as a string; named services' `<stack>-<service>-tg` as a map by
/// service).
fn normalize(mut v: Json, stack: &str) -> (Json, Option<String>, Value) {
    fn walk(
        v: &mut Json,
        stack: &str,
        alb: &mut Option<String>,
        one: &mut Option<String>,
        named: &mut std::collections::BTreeMap<String, Value>,
    ) {
        match v {
            Json::String(s) if s.starts_with("app/") => {
                *alb = Some(std::mem::replace(s, ALB.into()));
            }
            Json::String(s) if s.starts_with("targetgroup/") => {
                let name = s.split('/').nth(1).unwrap_or_default();
                let service = name
                    .strip_prefix(&format!("{stack}-"))
                    .and_then(|r| r.strip_suffix("-tg"))
                    .filter(|svc| !svc.is_empty())
                    .map(str::to_string);
                match service {
                    Some(svc) => {
                        let suffix = std::mem::replace(s, tg_of(&svc));
                        named.insert(svc, Value::Str(suffix));
                    }
                    None => *one = Some(std::mem::replace(s, TG.into())),
                }
            }
            Json::Array(items) => items
                .iter_mut()
                .for_each(|i| walk(i, stack, alb, one, named)),
            Json::Object(m) => m.values_mut().for_each(|i| walk(i, stack, alb, one, named)),
            _ => {}
        }
    }
    let (mut alb, mut one, mut named) = (None, None, std::collections::BTreeMap::new());
    walk(&mut v, stack, &mut alb, &mut one, &mut named);
    let tg = if named.is_empty() {
        Value::opt_str(one)
    } else {
        Value::Map(named)
    };
    (v, alb, tg)
}

/// The threshold of a managed alarm that is on, to draw on its graph.
fn threshold(v: &View<'_>, which: ManagedAlarm) -> Option<f64> {
    v.stack
        .alarms
        .as_ref()?
        .managed
        .iter()
        .find(|a| a.alarm == which)
        .map(|a| a.eval.threshold)
}

fn annotations(lines: &[(&str, Option<f64>)]) -> Json {
    let h: Vec<Json> = lines
        .iter()
        .filter_map(|(label, v)| Some(json!({"label": label, "value": (*v)?})))
        .collect();
    json!({ "horizontal": h })
}

/// The dashboard body, with `${alb}` and `${tg}` (named services: `${tg:<service>}`) where the
/// ARN suffixes go: the load balancer's row, then a row per service.
fn body(v: &View<'_>) -> Json {
    let names = v.names();
    let cluster = names.cluster();
    let region = v.region;
    let metric = |title: &str, metrics: Json, stat: &str, ann: Json, x: u32, y: u32| {
        json!({
            "type": "metric",
            "x": x, "y": y, "width": 8, "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "view": "timeSeries",
                "stat": stat,
                "period": 60,
                "metrics": metrics,
                "annotations": ann,
            }
        })
    };
    let lb = |name: &str| json!(["AWS/ApplicationELB", name, "LoadBalancer", ALB]);
    let azs: Vec<String> = match &v.network {
        NetworkModel::Create { subnets, .. } => subnets.iter().map(|s| s.az.clone()).collect(),
        NetworkModel::Existing { .. } => Vec::new(),
    };
    let slo_ms = v
        .stack
        .slo
        .as_ref()
        .and_then(|s| s.latency.as_ref())
        .map(|l| f64::from(l.threshold_ms) / 1000.0);
    let what = if v.stack.named_services {
        "Golden signals of its services"
    } else {
        "Golden signals of the service"
    };
    let mut widgets = vec![
        json!({
            "type": "text",
            "x": 0, "y": 0, "width": 24, "height": 2,
            "properties": {
                "markdown": format!(
                    "## {stack} ({region})\n{what}. Managed by ballast \
                     ({mark}): changes made here are overwritten by the next deploy.",
                    stack = v.stack.name,
                    mark = mark(&v.stack.name),
                )
            }
        }),
        metric(
            "Requests",
            json!([lb("RequestCount")]),
            "Sum",
            annotations(&[]),
            0,
            2,
        ),
        metric(
            "5xx errors",
            json!([
                lb("HTTPCode_Target_5XX_Count"),
                lb("HTTPCode_ELB_5XX_Count")
            ]),
            "Sum",
            annotations(&[("elb_5xx alarm", threshold(v, ManagedAlarm::Elb5xx))]),
            8,
            2,
        ),
        metric(
            "Latency (seconds)",
            json!([
                ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", ALB, {"stat": "p50", "label": "p50"}],
                ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", ALB, {"stat": "p99", "label": "p99"}]
            ]),
            "p99",
            annotations(&[
                ("latency_p99 alarm", threshold(v, ManagedAlarm::LatencyP99)),
                ("latency SLO", slo_ms),
            ]),
            16,
            2,
        ),
    ];
    // One row per service: (ECS service, title prefix, target group placeholder).
    let rows: Vec<(String, String, Option<String>)> = if v.stack.named_services {
        v.stack
            .services()
            .into_iter()
            .map(|(name, s)| {
                let tg = (!s.internal).then(|| tg_of(name));
                (name.to_string(), format!("{name}: "), tg)
            })
            .collect()
    } else {
        vec![(names.service(), String::new(), Some(TG.to_string()))]
    };
    for (i, (service, prefix, tg)) in rows.iter().enumerate() {
        let y = 8 + 6 * i as u32;
        if let Some(tg) = tg {
            let mut hosts: Vec<Json> = Vec::new();
            for az in &azs {
                for metric in ["HealthyHostCount", "UnHealthyHostCount"] {
                    hosts.push(json!([
                        "AWS/ApplicationELB", metric, "TargetGroup", tg, "LoadBalancer", ALB,
                        "AvailabilityZone", az, {"label": format!("{metric} {az}")}
                    ]));
                }
            }
            if azs.is_empty() {
                for metric in ["HealthyHostCount", "UnHealthyHostCount"] {
                    hosts.push(json!([
                        "AWS/ApplicationELB",
                        metric,
                        "TargetGroup",
                        tg,
                        "LoadBalancer",
                        ALB
                    ]));
                }
            }
            widgets.push(metric(
                &format!("{prefix}Healthy and unhealthy hosts per AZ"),
                Json::Array(hosts),
                "Maximum",
                annotations(&[]),
                0,
                y,
            ));
        }
        let ecs = |ns: &str, name: &str, label: &str| json!([ns, name, "ClusterName", cluster, "ServiceName", service, {"label": label}]);
        widgets.push(metric(
            &format!("{prefix}Tasks: running vs desired"),
            json!([
                ecs("ECS/ContainerInsights", "RunningTaskCount", "running"),
                ecs("ECS/ContainerInsights", "DesiredTaskCount", "desired")
            ]),
            "Average",
            annotations(&[(
                "running_tasks_low alarm",
                threshold(v, ManagedAlarm::RunningTasksLow),
            )]),
            8,
            y,
        ));
        widgets.push(metric(
            &format!("{prefix}CPU and memory (percent)"),
            json!([
                ecs("AWS/ECS", "CPUUtilization", "CPU"),
                ecs("AWS/ECS", "MemoryUtilization", "memory")
            ]),
            "Average",
            annotations(&[
                ("cpu_high alarm", threshold(v, ManagedAlarm::CpuHigh)),
                ("memory_high alarm", threshold(v, ManagedAlarm::MemoryHigh)),
            ]),
            16,
            y,
        ));
    }
    json!({ "widgets": widgets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observed_body_normalizes_to_the_desired_one() {
        let m = crate::spec::load_str(
            "web.yaml",
            "name: web\nregion: us-east-1\nservice:\n  image: nginx:1.27\n",
            None,
        )
        .unwrap();
        let want = canonical(&body(&View::new(&m, "us-east-1", None)));
        // What AWS holds: placeholders filled in, keys in another order, whitespace.
        let filled = want
            .replace(ALB, "app/web-alb/50dc6c495c0c9188")
            .replace(TG, "targetgroup/web-tg/73e2d6bc24d8a067");
        let reordered: Json = serde_json::from_str(&filled).unwrap();
        let pretty = serde_json::to_string_pretty(&reordered).unwrap();
        let (norm, alb, tg) = normalize(serde_json::from_str(&pretty).unwrap(), "web");
        assert_eq!(canonical(&norm), want);
        assert_eq!(alb.as_deref(), Some("app/web-alb/50dc6c495c0c9188"));
        assert_eq!(tg, Value::str("targetgroup/web-tg/73e2d6bc24d8a067"));
        assert!(want.contains(&mark("web")));
    }

    /// With named services: a row per service, each routed one with its own target group; the
    /// suffixes read back by service (from the target groups' names).
    #[test]
    fn named_services_have_a_row_each() {
        let m =
            crate::spec::load_str("app.yaml", include_str!("../../stacks/app.yaml"), None).unwrap();
        let v = View::new(&m, "us-east-1", None);
        let want = canonical(&body(&v));
        for title in [
            "api: Healthy and unhealthy hosts per AZ",
            "factory: CPU and memory (percent)",
            "web: Tasks: running vs desired",
        ] {
            assert!(want.contains(title), "{title}: {want}");
        }
        assert!(
            !want.contains("factory: Healthy"),
            "an internal service has no targets"
        );
        let filled = want
            .replace(ALB, "app/pizza-alb/50dc6c495c0c9188")
            .replace(&tg_of("api"), "targetgroup/pizza-api-tg/1")
            .replace(&tg_of("web"), "targetgroup/pizza-web-tg/2");
        let (norm, _, tg) = normalize(serde_json::from_str(&filled).unwrap(), "pizza");
        assert_eq!(canonical(&norm), want);
        assert_eq!(
            tg,
            Value::Map(
                [
                    ("api".to_string(), Value::str("targetgroup/pizza-api-tg/1")),
                    ("web".to_string(), Value::str("targetgroup/pizza-web-tg/2")),
                ]
                .into()
            )
        );
        let node = &Dashboard.desired(&v)[0];
        assert_eq!(
            node.attrs["tg_arn_suffix"]
                .as_map()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["api", "web"]
        );
    }
}
