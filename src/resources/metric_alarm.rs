//! `aws_cloudwatch_metric_alarm`: the alarms that watch the stack. One per managed alarm that
//! is on (`alarms.<key>`), one per custom alarm, and four per SLO: its burn rate over the
//! windows of the page and ticket alerts, which the composite alarm kind joins pairwise.
//!
//! PutMetricAlarm creates and, with the whole definition again, updates: one call per changed
//! alarm. Both sides are normalized into the same attributes (thresholds as canonical numbers,
//! dimensions as maps, metric-math queries by id, actions as sets, AWS defaults filled in), so
//! an unchanged stack plans no change.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm as AwsAlarm, MetricDataQuery, MetricStat,
    Statistic,
};

use super::cloudwatch::{canon, cw_tags, duration, number, span, Body};
use super::common::{b, i, s, strs};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::{CustomAlarmModel, Evaluation, ManagedAlarm, ManagedAlarmModel, View};
use crate::vmap;

pub struct MetricAlarm;

pub const KIND: &str = "aws_cloudwatch_metric_alarm";

const ALB: &str = "AWS/ApplicationELB";

/// Logical id of a managed alarm: `alarm.target_5xx_rate`.
pub fn managed_id(a: ManagedAlarm) -> String {
    format!("alarm.{}", a.key())
}

/// Logical id of a custom alarm: `alarm.custom.<name>`.
pub fn custom_id(name: &str) -> String {
    format!("alarm.custom.{name}")
}

/// Logical id of the burn-rate alarm of one SLO over one window: `alarm.slo.latency.5m`.
pub fn slo_window_id(slo: &str, window: &str) -> String {
    format!("alarm.slo.{slo}.{window}")
}

/// One look-back window of a burn-rate alert.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub key: &'static str,
    pub seconds: u32,
}

/// A multi-window burn-rate alert (Google SRE workbook, "Alerting on SLOs", the recommended
/// parameters for a 30-day SLO): it fires when the error budget burns `burn_rate` times faster
/// than sustainable over both the long window (significant budget spent) and the short one
/// (still burning now, so the alert resets soon after recovery).
#[derive(Clone, Copy, Debug)]
pub struct BurnAlert {
    /// `page` or `ticket`.
    pub key: &'static str,
    pub burn_rate: f64,
    pub long: Window,
    pub short: Window,
}

/// 2% of a 30-day budget in 1 hour pages; 5% in 6 hours is a ticket.
pub const BURN_ALERTS: [BurnAlert; 2] = [
    BurnAlert {
        key: "page",
        burn_rate: 14.4,
        long: Window {
            key: "1h",
            seconds: 3600,
        },
        short: Window {
            key: "5m",
            seconds: 300,
        },
    },
    BurnAlert {
        key: "ticket",
        burn_rate: 6.0,
        long: Window {
            key: "6h",
            seconds: 21600,
        },
        short: Window {
            key: "30m",
            seconds: 1800,
        },
    },
];

/// Days an SLO's budget lasts at a burn rate of 1.
pub const SLO_DAYS: f64 = 30.0;

/// One objective of `slo:`, in the terms its alarms need.
#[derive(Clone, Debug)]
pub struct Slo {
    /// `availability` or `latency`.
    pub key: &'static str,
    /// The error budget: the fraction of requests that may be bad over 30 days.
    pub budget: f64,
    /// In words, e.g. `availability SLO (99.9% of requests without a 5xx error over 30 days)`.
    pub objective: String,
    /// What a bad request is, e.g. `the share of requests slower than 300 ms`.
    pub bad: String,
    query: Query,
}

/// The SLOs of the view's service (its own `slo:`, or the stack's), availability first. Both count requests at the load balancer: an
/// internal service has none.
pub fn slos(v: &View<'_>) -> Vec<Slo> {
    let Some(slo) = v.slo() else {
        return vec![];
    };
    if !v.behind_load_balancer() {
        return vec![];
    }
    let mut out = Vec::new();
    if let Some(a) = slo.availability {
        out.push(Slo {
            key: "availability",
            budget: (100.0 - a) / 100.0,
            objective: format!(
                "availability SLO ({}% of requests without a 5xx error over 30 days)",
                canon(a)
            ),
            bad: "the share of requests that failed with a 5xx error".into(),
            query: error_ratio(v, 1.0, "Share of requests that failed with a 5xx error"),
        });
    }
    if let Some(l) = &slo.latency {
        let secs = canon(f64::from(l.threshold_ms) / 1000.0);
        out.push(Slo {
            key: "latency",
            budget: (100.0 - l.percentile) / 100.0,
            objective: format!(
                "latency SLO ({}% of requests faster than {} ms over 30 days)",
                canon(l.percentile),
                l.threshold_ms
            ),
            bad: format!("the share of requests slower than {} ms", l.threshold_ms),
            // PR(:t) is the percentage of requests that took t seconds or less.
            query: Query::Math {
                expression: "(100 - m1) / 100".into(),
                label: format!("Share of requests slower than {} ms", l.threshold_ms),
                inputs: vec![(
                    "m1",
                    Stat::alb(
                        v,
                        "TargetResponseTime",
                        &format!("PR(:{secs})"),
                        &[LB_DIM, TG_DIM],
                    ),
                )],
            },
        });
    }
    out
}

impl Slo {
    /// The alarm's threshold for a burn rate: that many times the budget.
    pub fn threshold(&self, burn_rate: f64) -> f64 {
        burn_rate * self.budget
    }
}

/// A metric with its statistic.
#[derive(Clone, Debug)]
struct Stat {
    namespace: String,
    metric: String,
    dimensions: BTreeMap<String, Value>,
    statistic: String,
}

const LB_DIM: &str = "LoadBalancer";
const TG_DIM: &str = "TargetGroup";

impl Stat {
    /// An ALB metric by the stack's load balancer (and the view's service's target group).
    fn alb(v: &View<'_>, metric: &str, statistic: &str, dims: &[&str]) -> Stat {
        let dimensions = dims
            .iter()
            .map(|&d| {
                let v = if d == LB_DIM {
                    Value::reference(super::load_balancer::ID, "arn_suffix")
                } else {
                    Value::reference(&v.id(super::target_group::ID), "arn_suffix")
                };
                (d.to_string(), v)
            })
            .collect();
        Stat {
            namespace: ALB.into(),
            metric: metric.into(),
            dimensions,
            statistic: statistic.into(),
        }
    }

    /// A metric of the stack's ECS service.
    fn service(v: &View<'_>, namespace: &str, metric: &str, statistic: &str) -> Stat {
        let n = v.service_names();
        Stat {
            namespace: namespace.into(),
            metric: metric.into(),
            dimensions: BTreeMap::from([
                ("ClusterName".to_string(), Value::str(n.stack.cluster())),
                ("ServiceName".to_string(), Value::str(n.service())),
            ]),
            statistic: statistic.into(),
        }
    }

    fn value(&self, period: u32) -> Value {
        vmap! {
            "namespace" => self.namespace.as_str(),
            "name" => self.metric.as_str(),
            "dimensions" => Value::Map(self.dimensions.clone()),
            "period" => period,
            "statistic" => self.statistic.as_str(),
        }
    }
}

/// What an alarm evaluates: one metric, or a metric-math expression (id `e1`, the one that
/// returns data) over metrics `m1`, `m2`, ...
#[derive(Clone, Debug)]
enum Query {
    Single(Stat),
    Math {
        expression: String,
        label: String,
        inputs: Vec<(&'static str, Stat)>,
    },
}

/// Target 5xx responses per request, times `scale` (100 for percent). Periods without
/// requests have no datapoint, so they count as missing data, not as errors; a period with
/// requests but without any 5xx (the metric is not published then) counts as 0.
///
/// With named services the ratio is of the view's service's target group; the one-service
/// form counts by the load balancer, as it always has (one service is all it serves).
fn error_ratio(v: &View<'_>, scale: f64, label: &str) -> Query {
    let expression = if scale == 1.0 {
        "IF(m2 > 0, FILL(m1, 0) / m2, 0)".to_string()
    } else {
        format!("IF(m2 > 0, {} * FILL(m1, 0) / m2, 0)", canon(scale))
    };
    let dims: &[&str] = if v.stack.named_services {
        &[LB_DIM, TG_DIM]
    } else {
        &[LB_DIM]
    };
    Query::Math {
        expression,
        label: label.into(),
        inputs: vec![
            ("m1", Stat::alb(v, "HTTPCode_Target_5XX_Count", "Sum", dims)),
            ("m2", Stat::alb(v, "RequestCount", "Sum", dims)),
        ],
    }
}

/// One alarm before it becomes a node.
#[derive(Clone, Debug)]
struct Def {
    id: String,
    name: String,
    description: String,
    comparison: String,
    threshold: f64,
    period: u32,
    evaluation_periods: u32,
    datapoints: u32,
    missing_data: String,
    query: Query,
    /// Whether the alarm notifies the topic itself (SLO windows notify through their
    /// composite alarm only).
    notify: bool,
}

impl Def {
    fn node(self, topic: bool) -> Node {
        let actions = if topic && self.notify {
            Value::set([Value::reference(super::sns_topic::ID, "arn")])
        } else {
            Value::List(vec![])
        };
        let node = Node::new(KIND, self.id, self.name)
            .attr("description", self.description)
            .attr("comparison", self.comparison)
            .attr("threshold", number(self.threshold))
            .attr("evaluation_periods", self.evaluation_periods)
            .attr("datapoints", self.datapoints)
            .attr("treat_missing_data", self.missing_data)
            .attr("actions_enabled", true)
            .attr("alarm_actions", actions.clone())
            .attr("ok_actions", actions);
        // A single-metric alarm has `metric`, a metric-math alarm `metrics`; the other is
        // left out (an observed alarm of the other shape differs in the one it has).
        match self.query {
            Query::Single(st) => node.attr("metric", st.value(self.period)),
            Query::Math {
                expression,
                label,
                inputs,
            } => {
                let mut q = BTreeMap::new();
                q.insert(
                    "e1".to_string(),
                    vmap! {
                        "expression" => expression,
                        "label" => label,
                        "return_data" => true,
                    },
                );
                for (id, st) in inputs {
                    q.insert(
                        id.to_string(),
                        vmap! {
                            "metric" => st.value(self.period),
                            "return_data" => false,
                        },
                    );
                }
                node.attr("metrics", Value::Map(q))
            }
        }
    }
}

/// "over the last 5 minutes", "for 3 periods of 1 minute in a row", "in 2 of the last 3
/// periods of 1 minute".
fn over(e: &Evaluation) -> String {
    let p = duration(e.period);
    if e.evaluation_periods == 1 {
        format!("over the last {}", span(e.period))
    } else if e.datapoints == e.evaluation_periods {
        format!("for {} periods of {p} in a row", e.evaluation_periods)
    } else {
        format!(
            "in {} of the last {} periods of {p}",
            e.datapoints, e.evaluation_periods
        )
    }
}

fn managed(v: &View<'_>, a: &ManagedAlarmModel) -> Def {
    let e = &a.eval;
    // What it watches: the stack, or with named services one of them (`pizza/api`).
    let stack = if a.alarm.per_service() && v.stack.named_services {
        format!("{}/{}", v.stack.name, v.service_name())
    } else {
        v.stack.name.clone()
    };
    let (t, over) = (canon(e.threshold), over(e));
    let above = "GreaterThanThreshold";
    let (comparison, query, description) = match a.alarm {
        ManagedAlarm::Target5xxRate => {
            let rollback = if v.service().deployment.rollback_managed.contains(&a.alarm) {
                " While a deployment runs, this alarm rolls it back."
            } else {
                ""
            };
            (
                above,
                error_ratio(v, 100.0, "Target 5xx rate (%)"),
                format!(
                    "More than {t}% of the requests to {stack} got a 5xx error from its tasks \
                     {over}. The application is failing: look at its logs (log group {}) and \
                     at the latest deployment.{rollback} Periods without requests do not count.",
                    v.service_names().log_group()
                ),
            )
        }
        ManagedAlarm::Elb5xx => (
            above,
            Query::Single(Stat::alb(v, "HTTPCode_ELB_5XX_Count", "Sum", &[LB_DIM])),
            format!(
                "The load balancer of {stack} answered more than {t} requests with a 5xx error \
                 of its own (502, 503, 504: no healthy task to send them to, or tasks that \
                 closed the connection or timed out) {over}. Check that the service's tasks \
                 are running and pass their health check."
            ),
        ),
        ManagedAlarm::LatencyP99 => (
            above,
            Query::Single(Stat::alb(v, "TargetResponseTime", "p99", &[LB_DIM, TG_DIM])),
            format!(
                "The slowest 1% of the requests to {stack} took longer than {t} seconds (p99 of \
                 the tasks' response time at the load balancer) {over}. The application, or \
                 something it waits for, is slow."
            ),
        ),
        ManagedAlarm::UnhealthyHosts => (
            above,
            Query::Single(Stat::alb(
                v,
                "UnHealthyHostCount",
                "Maximum",
                &[TG_DIM, LB_DIM],
            )),
            format!(
                // Not the health check path itself: a new path must not rewrite the alarm.
                "More than {t} of {stack}'s tasks failed the load balancer's health check \
                 {over}. Unhealthy tasks get no requests and ECS replaces them: look at the \
                 service's events and the tasks' logs."
            ),
        ),
        ManagedAlarm::RunningTasksLow => (
            "LessThanThreshold",
            Query::Single(Stat::service(
                v,
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "Minimum",
            )),
            format!(
                "Fewer than {t} tasks of {stack} were running {over} (Container Insights). \
                 Tasks are crashing or cannot be placed: look at the service's events and its \
                 stopped tasks."
            ),
        ),
        ManagedAlarm::CpuHigh => (
            above,
            Query::Single(Stat::service(v, "AWS/ECS", "CPUUtilization", "Average")),
            format!(
                "{stack}'s tasks used more than {t}% of their CPU on average {over}. {}",
                match &v.service().autoscaling {
                    // Not the maximum itself: a new maximum must not rewrite the alarm.
                    Some(_) => "Autoscaling may be at its maximum (`ballast status` shows it), or \
                                too slow to follow."
                        .to_string(),
                    None => "The service needs more tasks or more CPU per task.".into(),
                }
            ),
        ),
        ManagedAlarm::MemoryHigh => (
            above,
            Query::Single(Stat::service(v, "AWS/ECS", "MemoryUtilization", "Average")),
            format!(
                "{stack}'s tasks used more than {t}% of their memory on average {over}. A task \
                 that reaches its memory limit is killed: look for a leak, or give tasks more \
                 memory."
            ),
        ),
    };
    Def {
        // The load balancer's own alarm is the stack's; the others are the view's service's.
        id: if a.alarm.per_service() {
            v.id(&managed_id(a.alarm))
        } else {
            managed_id(a.alarm)
        },
        name: if a.alarm.per_service() {
            v.service_names().alarm(a.alarm.key())
        } else {
            v.names().alarm(a.alarm.key())
        },
        description,
        comparison: comparison.into(),
        threshold: e.threshold,
        period: e.period,
        evaluation_periods: e.evaluation_periods,
        datapoints: e.datapoints,
        missing_data: e.missing_data.clone(),
        query,
        notify: true,
    }
}

fn custom(v: &View<'_>, a: &CustomAlarmModel) -> Def {
    let e = &a.eval;
    let dims: Vec<String> = a
        .dimensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let of = if dims.is_empty() {
        String::new()
    } else {
        format!(" of {}", dims.join(", "))
    };
    let op = match a.comparison.as_str() {
        "GreaterThanThreshold" => "above",
        "GreaterThanOrEqualToThreshold" => "at or above",
        "LessThanThreshold" => "below",
        "LessThanOrEqualToThreshold" => "at or below",
        other => other,
    };
    Def {
        id: custom_id(&a.name),
        name: v.names().alarm(&a.name),
        description: format!(
            "{}: {} {} ({}{of}) was {op} {} {}. A custom alarm of the spec (alarms.custom {}).",
            v.stack.name,
            a.namespace,
            a.metric,
            a.statistic,
            canon(e.threshold),
            over(e),
            a.name
        ),
        comparison: a.comparison.clone(),
        threshold: e.threshold,
        period: e.period,
        evaluation_periods: e.evaluation_periods,
        datapoints: e.datapoints,
        missing_data: e.missing_data.clone(),
        query: Query::Single(Stat {
            namespace: a.namespace.clone(),
            metric: a.metric.clone(),
            dimensions: a
                .dimensions
                .iter()
                .map(|(k, v)| (k.clone(), Value::str(v)))
                .collect(),
            statistic: a.statistic.clone(),
        }),
        notify: true,
    }
}

/// The alarm of one SLO over one window of `alert`; `other` is the alert's other window.
fn slo_window(v: &View<'_>, slo: &Slo, alert: &BurnAlert, w: Window, other: Window) -> Def {
    let threshold = slo.threshold(alert.burn_rate);
    let names = v.service_names();
    let composite = names.alarm(&format!("slo-{}-{}", slo.key, alert.key));
    Def {
        id: v.id(&slo_window_id(slo.key, w.key)),
        name: names.alarm(&format!("slo-{}-{}", slo.key, w.key)),
        description: format!(
            "{} at {} over the last {} is above {}%: {} times the error budget ({}%) of the {}. \
             One of the two windows of {composite}, which notifies when the last {} agrees; \
             this alarm notifies nobody by itself.",
            capitalize(&slo.bad),
            v.stack.name,
            span(w.seconds),
            canon(threshold * 100.0),
            canon(alert.burn_rate),
            canon(slo.budget * 100.0),
            slo.objective,
            span(other.seconds),
        ),
        comparison: "GreaterThanThreshold".into(),
        threshold,
        period: w.seconds,
        evaluation_periods: 1,
        datapoints: 1,
        // No requests in a window is no evidence of burning budget.
        missing_data: "notBreaching".into(),
        query: slo.query.clone(),
        notify: false,
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The metric alarms of a view, in a stable order: of the stack-wide view the managed alarms of
/// the load balancer and the custom alarms; of a service's view its managed alarms and its SLO
/// windows.
fn defs(v: &View<'_>, service: bool) -> Vec<Def> {
    let mut defs = Vec::new();
    if let Some(a) = &v.stack.alarms {
        defs.extend(
            a.managed
                .iter()
                .filter(|x| x.alarm.per_service() == service)
                .filter(|x| !service || v.behind_load_balancer() || !x.alarm.at_load_balancer())
                .map(|x| managed(v, x)),
        );
        if !service {
            defs.extend(a.custom.iter().map(|x| custom(v, x)));
        }
    }
    if service {
        for slo in slos(v) {
            for alert in &BURN_ALERTS {
                defs.push(slo_window(v, &slo, alert, alert.long, alert.short));
                defs.push(slo_window(v, &slo, alert, alert.short, alert.long));
            }
        }
    }
    defs
}

#[async_trait]
impl Kind<Clients> for MetricAlarm {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "cloudwatch:DescribeAlarms",
                "cloudwatch:ListTagsForResource",
            ],
            write: &[
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ],
            arns: &["arn:aws:cloudwatch:{region}:*:alarm:{name}"],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::cloudwatch::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            super::sns_topic::KIND,
            super::load_balancer::KIND,
            super::target_group::KIND,
        ]
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let topic = v.stack.alarms.is_some();
        defs(v, false).into_iter().map(|d| d.node(topic)).collect()
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let topic = v.stack.alarms.is_some();
        defs(v, true).into_iter().map(|d| d.node(topic)).collect()
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        super::cloudwatch::discover(c, stack, desired, KIND, |body| match body {
            Body::Metric(alarm) => Some(observed_attrs(alarm)),
            _ => None,
        })
        .await
    }

    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
        _: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        super::cloudwatch::listed(c, stack, desired, KIND, false).await
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        put(c, node, attrs, Some(stack)).await?;
        Ok(Outputs::from([("name".into(), node.name.clone())]))
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
        cur: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        // PutMetricAlarm replaces the whole definition (AWS ignores tags on an update).
        put(c, node, attrs, None).await?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        super::cloudwatch::delete(c, cur).await
    }
}

const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// PutMetricAlarm with the node's whole definition; tags only when creating.
async fn put(
    c: &Clients,
    node: &Node,
    attrs: &Attrs,
    create: Option<&StackRef>,
) -> Result<(), BoxError> {
    let threshold: f64 = s(attrs, "threshold")?
        .parse()
        .map_err(|_| "internal error: threshold is not a number")?;
    let mut req = c
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&node.name)
        .alarm_description(s(attrs, "description")?)
        .comparison_operator(ComparisonOperator::from(s(attrs, "comparison")?))
        .threshold(threshold)
        .evaluation_periods(i(attrs, "evaluation_periods")?)
        .datapoints_to_alarm(i(attrs, "datapoints")?)
        .treat_missing_data(s(attrs, "treat_missing_data")?)
        .actions_enabled(b(attrs, "actions_enabled"))
        .set_alarm_actions(Some(strs(attrs, "alarm_actions")))
        .set_ok_actions(Some(strs(attrs, "ok_actions")));
    if let Some(m) = attrs.get("metric").and_then(Value::as_map) {
        let (metric, period, stat) = parts(m);
        req = req
            .set_namespace(metric.namespace().map(str::to_string))
            .set_metric_name(metric.metric_name().map(str::to_string))
            .set_dimensions(Some(metric.dimensions().to_vec()))
            .set_period(period);
        req = if STATISTICS.contains(&stat.as_str()) {
            req.statistic(Statistic::from(stat.as_str()))
        } else {
            req.extended_statistic(stat)
        };
    }
    if let Some(queries) = attrs.get("metrics").and_then(Value::as_map) {
        for (id, q) in queries {
            let q = q.as_map().cloned().unwrap_or_default();
            let text = |k: &str| q.get(k).and_then(Value::as_str).map(str::to_string);
            req = req.metrics(
                MetricDataQuery::builder()
                    .id(id)
                    .set_expression(text("expression"))
                    .set_label(text("label"))
                    .return_data(
                        q.get("return_data")
                            .and_then(Value::as_bool)
                            .unwrap_or(true),
                    )
                    .set_metric_stat(q.get("metric").and_then(Value::as_map).map(stat_of))
                    .build(),
            );
        }
    }
    if let Some(stack) = create {
        req = req.set_tags(Some(cw_tags(stack, node)));
    }
    req.send()
        .await
        .ctx(|| format!("put alarm {}", node.name))?;
    Ok(())
}

/// A `metric` attribute (namespace, name, dimensions, period, statistic) as the SDK's metric,
/// period and statistic.
fn parts(m: &BTreeMap<String, Value>) -> (Metric, Option<i32>, String) {
    let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default();
    let dims = m
        .get("dimensions")
        .and_then(Value::as_map)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            Dimension::builder()
                .name(k)
                .value(v.as_str().unwrap_or_default())
                .build()
        })
        .collect();
    let metric = Metric::builder()
        .namespace(text("namespace"))
        .metric_name(text("name"))
        .set_dimensions(Some(dims))
        .build();
    let period = m
        .get("period")
        .and_then(Value::as_int)
        .and_then(|p| i32::try_from(p).ok());
    (metric, period, text("statistic").to_string())
}

fn stat_of(m: &BTreeMap<String, Value>) -> MetricStat {
    let (metric, period, stat) = parts(m);
    MetricStat::builder()
        .metric(metric)
        .set_period(period)
        .stat(stat)
        .build()
}

fn dims_value(dims: &[Dimension]) -> Value {
    Value::Map(
        dims.iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_string(),
                    Value::opt_str(d.value()),
                )
            })
            .collect(),
    )
}

fn observed_stat(
    namespace: Option<&str>,
    name: Option<&str>,
    dims: &[Dimension],
    period: Option<i32>,
    statistic: Option<&str>,
) -> Value {
    vmap! {
        "namespace" => Value::opt_str(namespace),
        "name" => Value::opt_str(name),
        "dimensions" => dims_value(dims),
        "period" => Value::from(period.map(i64::from)),
        "statistic" => Value::opt_str(statistic),
    }
}

/// An alarm as CloudWatch reports it, in the node's terms: AWS defaults filled in (M of N is
/// N of N, missing data is `missing`, actions are enabled), a single metric's statistic or
/// extended statistic as one `statistic`, metric-math queries by id with only the members they
/// have (a query returns data unless it says not to); `metric` only for a single-metric alarm,
/// `metrics` only for a metric-math one.
fn observed_attrs(a: &AwsAlarm) -> Attrs {
    let metrics: BTreeMap<String, Value> = a
        .metrics()
        .iter()
        .map(|q| {
            // Only what the query has, as the node writes it.
            let mut m = BTreeMap::new();
            if let Some(e) = q.expression() {
                m.insert("expression".to_string(), Value::str(e));
            }
            if let Some(l) = q.label() {
                m.insert("label".to_string(), Value::str(l));
            }
            if let Some(st) = q.metric_stat() {
                let metric = st.metric();
                m.insert(
                    "metric".to_string(),
                    observed_stat(
                        metric.and_then(|m| m.namespace()),
                        metric.and_then(|m| m.metric_name()),
                        metric.map(|m| m.dimensions()).unwrap_or_default(),
                        st.period(),
                        st.stat(),
                    ),
                );
            }
            m.insert(
                "return_data".to_string(),
                Value::Bool(q.return_data().unwrap_or(true)),
            );
            (q.id().unwrap_or_default().to_string(), Value::Map(m))
        })
        .collect();
    let evaluation_periods = a.evaluation_periods().map(i64::from);
    let mut attrs = Attrs::from([
        ("description".into(), Value::opt_str(a.alarm_description())),
        (
            "comparison".into(),
            Value::opt_str(a.comparison_operator().map(|c| c.as_str())),
        ),
        (
            "threshold".into(),
            a.threshold().map(number).unwrap_or(Value::Null),
        ),
        ("evaluation_periods".into(), Value::from(evaluation_periods)),
        (
            "datapoints".into(),
            Value::from(
                a.datapoints_to_alarm()
                    .map(i64::from)
                    .or(evaluation_periods),
            ),
        ),
        (
            "treat_missing_data".into(),
            Value::str(a.treat_missing_data().unwrap_or("missing")),
        ),
        (
            "actions_enabled".into(),
            Value::Bool(a.actions_enabled().unwrap_or(true)),
        ),
        (
            "alarm_actions".into(),
            Value::set(a.alarm_actions().iter().map(String::as_str)),
        ),
        (
            "ok_actions".into(),
            Value::set(a.ok_actions().iter().map(String::as_str)),
        ),
    ]);
    if let Some(name) = a.metric_name() {
        attrs.insert(
            "metric".into(),
            observed_stat(
                a.namespace(),
                Some(name),
                a.dimensions(),
                a.period(),
                a.statistic().map(|s| s.as_str()).or(a.extended_statistic()),
            ),
        );
    }
    if !metrics.is_empty() {
        attrs.insert("metrics".into(), Value::Map(metrics));
    }
    attrs
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::spec::{AlarmsModel, LatencySloModel, ManagedAlarmModel, NotifyModel, SloModel};

    pub const ALB_SUFFIX: &str = "app/web-alb/50dc6c495c0c9188";
    pub const TG_SUFFIX: &str = "targetgroup/web-tg/73e2d6bc24d8a067";
    pub const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:web-alarms";

    pub fn eval(threshold: f64) -> Evaluation {
        Evaluation {
            threshold,
            period: 60,
            evaluation_periods: 3,
            datapoints: 2,
            missing_data: "notBreaching".into(),
        }
    }

    /// The web stack with every managed alarm, a custom alarm, both SLOs, and the 5xx rate
    /// rolling deployments back.
    pub fn model() -> crate::spec::Model {
        let yaml = "name: web\nregion: us-east-1\nservice:\n  image: nginx\n";
        let mut m = crate::spec::load_str("web.yaml", yaml, None).unwrap();
        m.alarms = Some(AlarmsModel {
            notify: NotifyModel {
                email: vec!["ops@example.com".into()],
                https: vec!["https://hooks.example.com/alerts".into()],
            },
            managed: ManagedAlarm::ALL
                .into_iter()
                .map(|alarm| ManagedAlarmModel {
                    alarm,
                    eval: eval(match alarm {
                        ManagedAlarm::Target5xxRate => 5.0,
                        ManagedAlarm::LatencyP99 => 1.5,
                        ManagedAlarm::RunningTasksLow => 2.0,
                        ManagedAlarm::UnhealthyHosts => 0.0,
                        _ => 80.0,
                    }),
                })
                .collect(),
            custom: vec![CustomAlarmModel {
                name: "queue-depth".into(),
                namespace: "AWS/SQS".into(),
                metric: "ApproximateNumberOfMessagesVisible".into(),
                dimensions: BTreeMap::from([("QueueName".into(), "jobs".into())]),
                statistic: "p95".into(),
                comparison: "GreaterThanOrEqualToThreshold".into(),
                eval: eval(1000.0),
            }],
        });
        m.slo = Some(SloModel {
            availability: Some(99.9),
            latency: Some(LatencySloModel {
                percentile: 99.0,
                threshold_ms: 300,
            }),
        });
        let name = m.name.clone();
        m.service_mut(&name).deployment.rollback_managed = vec![ManagedAlarm::Target5xxRate];
        m
    }

    /// Outputs as they are once the load balancer, target group and topic exist.
    pub fn known(node: &str, out: &str) -> Option<String> {
        match (node, out) {
            (super::super::load_balancer::ID, "arn_suffix") => Some(ALB_SUFFIX.into()),
            (super::super::target_group::ID, "arn_suffix") => Some(TG_SUFFIX.into()),
            (super::super::sns_topic::ID, "arn") => Some(TOPIC.into()),
            (n, "name") if n.starts_with("alarm.") => Some(format!(
                "web-{}",
                n.trim_start_matches("alarm.").replace('.', "-")
            )),
            _ => None,
        }
    }

    pub fn resolved(n: &Node) -> Attrs {
        n.attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve(&known).expect("known")))
            .collect()
    }

    fn node<'a>(nodes: &'a [Node], id: &str) -> &'a Node {
        nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    fn attr<'a>(n: &'a Node, k: &str) -> &'a Value {
        &n.attrs[k]
    }

    /// The alarm as CloudWatch would report it after a PutMetricAlarm of `attrs`.
    fn as_aws(name: &str, attrs: &Attrs) -> AwsAlarm {
        let mut a = AwsAlarm::builder()
            .alarm_name(name)
            .alarm_description(s(attrs, "description").unwrap())
            .comparison_operator(ComparisonOperator::from(s(attrs, "comparison").unwrap()))
            .threshold(s(attrs, "threshold").unwrap().parse().unwrap())
            .evaluation_periods(i(attrs, "evaluation_periods").unwrap())
            .datapoints_to_alarm(i(attrs, "datapoints").unwrap())
            .treat_missing_data(s(attrs, "treat_missing_data").unwrap())
            .actions_enabled(true)
            .set_alarm_actions(Some(strs(attrs, "alarm_actions")))
            .set_ok_actions(Some(strs(attrs, "ok_actions")));
        if let Some(m) = attrs.get("metric").and_then(Value::as_map) {
            let (metric, period, stat) = parts(m);
            a = a
                .set_namespace(metric.namespace().map(str::to_string))
                .set_metric_name(metric.metric_name().map(str::to_string))
                .set_dimensions(Some(metric.dimensions().to_vec()))
                .set_period(period);
            a = if STATISTICS.contains(&stat.as_str()) {
                a.statistic(Statistic::from(stat.as_str()))
            } else {
                a.extended_statistic(stat)
            };
        }
        for (id, q) in attrs
            .get("metrics")
            .and_then(Value::as_map)
            .into_iter()
            .flatten()
        {
            let q = q.as_map().unwrap();
            let text = |k: &str| q.get(k).and_then(Value::as_str).map(str::to_string);
            a = a.metrics(
                MetricDataQuery::builder()
                    .id(id)
                    .set_expression(text("expression"))
                    .set_label(text("label"))
                    .return_data(q["return_data"].as_bool().unwrap())
                    .set_metric_stat(q.get("metric").and_then(Value::as_map).map(stat_of))
                    .build(),
            );
        }
        a.build()
    }

    #[test]
    fn nothing_without_alarms_or_slo() {
        let mut m = model();
        m.alarms = None;
        m.slo = None;
        assert!(crate::resources::lower_one(&MetricAlarm, &m).is_empty());
    }

    #[test]
    fn one_alarm_per_managed_custom_and_slo_window() {
        let nodes = crate::resources::lower_one(&MetricAlarm, &model());
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "web-elb_5xx",
                "web-queue-depth",
                "web-target_5xx_rate",
                "web-latency_p99",
                "web-unhealthy_hosts",
                "web-running_tasks_low",
                "web-cpu_high",
                "web-memory_high",
                "web-slo-availability-1h",
                "web-slo-availability-5m",
                "web-slo-availability-6h",
                "web-slo-availability-30m",
                "web-slo-latency-1h",
                "web-slo-latency-5m",
                "web-slo-latency-6h",
                "web-slo-latency-30m",
            ]
        );
        assert_eq!(
            node(&nodes, "alarm.target_5xx_rate").name,
            "web-target_5xx_rate"
        );
        assert_eq!(
            node(&nodes, "alarm.custom.queue-depth").name,
            "web-queue-depth"
        );
        assert_eq!(
            node(&nodes, "alarm.slo.latency.30m").name,
            "web-slo-latency-30m"
        );
    }

    #[test]
    fn slo_windows_burn_at_14_4_and_6_times_the_budget() {
        let nodes = crate::resources::lower_one(&MetricAlarm, &model());
        let cases = [
            ("availability.1h", "0.0144", 3600),
            ("availability.5m", "0.0144", 300),
            ("availability.6h", "0.006", 21600),
            ("availability.30m", "0.006", 1800),
            ("latency.1h", "0.144", 3600),
            ("latency.5m", "0.144", 300),
            ("latency.6h", "0.06", 21600),
            ("latency.30m", "0.06", 1800),
        ];
        for (id, threshold, period) in cases {
            let n = node(&nodes, &format!("alarm.slo.{id}"));
            assert_eq!(attr(n, "threshold"), &Value::str(threshold), "{id}");
            assert_eq!(attr(n, "comparison"), &Value::str("GreaterThanThreshold"));
            assert_eq!(attr(n, "evaluation_periods"), &Value::Int(1));
            assert_eq!(attr(n, "datapoints"), &Value::Int(1));
            assert_eq!(attr(n, "treat_missing_data"), &Value::str("notBreaching"));
            // The composite alarm notifies, not each window.
            assert_eq!(attr(n, "alarm_actions"), &Value::List(vec![]));
            let metrics = attr(n, "metrics").as_map().unwrap();
            for (qid, q) in metrics {
                if let Some(m) = q.as_map().unwrap().get("metric").and_then(Value::as_map) {
                    assert_eq!(m["period"], Value::Int(period), "{id} {qid}");
                }
            }
        }
        let avail = resolved(node(&nodes, "alarm.slo.availability.1h"));
        let q = avail["metrics"].as_map().unwrap();
        assert_eq!(
            q["e1"].as_map().unwrap()["expression"],
            Value::str("IF(m2 > 0, FILL(m1, 0) / m2, 0)")
        );
        assert_eq!(
            q["m1"].as_map().unwrap()["metric"],
            vmap! {
                "namespace" => "AWS/ApplicationELB",
                "name" => "HTTPCode_Target_5XX_Count",
                "dimensions" => vmap! { "LoadBalancer" => ALB_SUFFIX },
                "period" => 3600i64,
                "statistic" => "Sum",
            }
        );
        let latency = resolved(node(&nodes, "alarm.slo.latency.5m"));
        let q = latency["metrics"].as_map().unwrap();
        assert_eq!(
            q["e1"].as_map().unwrap()["expression"],
            Value::str("(100 - m1) / 100")
        );
        assert_eq!(
            q["m1"].as_map().unwrap()["metric"],
            vmap! {
                "namespace" => "AWS/ApplicationELB",
                "name" => "TargetResponseTime",
                "dimensions" => vmap! { "LoadBalancer" => ALB_SUFFIX, "TargetGroup" => TG_SUFFIX },
                "period" => 300i64,
                "statistic" => "PR(:0.3)",
            }
        );
        let d = attr(node(&nodes, "alarm.slo.availability.1h"), "description")
            .as_str()
            .unwrap();
        assert_eq!(
            d,
            "The share of requests that failed with a 5xx error at web over the last hour is \
             above 1.44%: 14.4 times the error budget (0.1%) of the availability SLO (99.9% of \
             requests without a 5xx error over 30 days). One of the two windows of \
             web-slo-availability-page, which notifies when the last 5 minutes agrees; this \
             alarm notifies nobody by itself."
        );
    }

    #[test]
    fn managed_alarm_definitions() {
        let nodes = crate::resources::lower_one(&MetricAlarm, &model());
        let rate = resolved(node(&nodes, "alarm.target_5xx_rate"));
        assert!(!rate.contains_key("metric"));
        assert_eq!(rate["threshold"], Value::str("5"));
        assert_eq!(rate["alarm_actions"], Value::set([TOPIC]));
        assert_eq!(rate["ok_actions"], Value::set([TOPIC]));
        let q = rate["metrics"].as_map().unwrap();
        assert_eq!(
            q["e1"],
            vmap! {
                "expression" => "IF(m2 > 0, 100 * FILL(m1, 0) / m2, 0)",
                "label" => "Target 5xx rate (%)",
                "return_data" => true,
            }
        );
        assert_eq!(
            q["m2"].as_map().unwrap()["metric"].as_map().unwrap()["name"],
            Value::str("RequestCount")
        );
        let d = rate["description"].as_str().unwrap();
        assert!(d.contains("More than 5% of the requests to web"), "{d}");
        assert!(d.contains("in 2 of the last 3 periods of 1 minute"), "{d}");
        assert!(d.contains("rolls it back"), "{d}");

        let single = |id: &str| {
            let a = resolved(node(&nodes, id));
            assert!(!a.contains_key("metrics"), "{id}");
            a["metric"].clone()
        };
        assert_eq!(
            single("alarm.elb_5xx"),
            vmap! {
                "namespace" => "AWS/ApplicationELB",
                "name" => "HTTPCode_ELB_5XX_Count",
                "dimensions" => vmap! { "LoadBalancer" => ALB_SUFFIX },
                "period" => 60i64,
                "statistic" => "Sum",
            }
        );
        let p99 = single("alarm.latency_p99");
        assert_eq!(p99.as_map().unwrap()["statistic"], Value::str("p99"));
        assert_eq!(
            p99.as_map().unwrap()["dimensions"],
            vmap! { "LoadBalancer" => ALB_SUFFIX, "TargetGroup" => TG_SUFFIX }
        );
        let hosts = single("alarm.unhealthy_hosts");
        assert_eq!(hosts.as_map().unwrap()["statistic"], Value::str("Maximum"));
        let ecs = vmap! { "ClusterName" => "web", "ServiceName" => "web" };
        for (id, ns, metric, stat, cmp) in [
            (
                "alarm.running_tasks_low",
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "Minimum",
                "LessThanThreshold",
            ),
            (
                "alarm.cpu_high",
                "AWS/ECS",
                "CPUUtilization",
                "Average",
                "GreaterThanThreshold",
            ),
            (
                "alarm.memory_high",
                "AWS/ECS",
                "MemoryUtilization",
                "Average",
                "GreaterThanThreshold",
            ),
        ] {
            let n = node(&nodes, id);
            assert_eq!(
                single(id),
                vmap! {
                    "namespace" => ns,
                    "name" => metric,
                    "dimensions" => ecs.clone(),
                    "period" => 60i64,
                    "statistic" => stat,
                },
                "{id}"
            );
            assert_eq!(attr(n, "comparison"), &Value::str(cmp), "{id}");
        }
        let custom = resolved(node(&nodes, "alarm.custom.queue-depth"));
        assert_eq!(
            custom["metric"],
            vmap! {
                "namespace" => "AWS/SQS",
                "name" => "ApproximateNumberOfMessagesVisible",
                "dimensions" => vmap! { "QueueName" => "jobs" },
                "period" => 60i64,
                "statistic" => "p95",
            }
        );
        assert_eq!(
            custom["comparison"],
            Value::str("GreaterThanOrEqualToThreshold")
        );
        assert_eq!(custom["threshold"], Value::str("1000"));
    }

    #[test]
    fn without_a_topic_nothing_notifies() {
        let mut m = model();
        m.alarms = None;
        for n in crate::resources::lower_one(&MetricAlarm, &m) {
            assert_eq!(attr(&n, "alarm_actions"), &Value::List(vec![]), "{}", n.id);
        }
    }

    #[test]
    fn an_alarm_read_back_equals_what_was_put() {
        for n in crate::resources::lower_one(&MetricAlarm, &model()) {
            let want = resolved(&n);
            let aws = as_aws(&n.name, &want);
            assert_eq!(observed_attrs(&aws), want, "{}", n.id);
        }
    }

    #[test]
    fn aws_defaults_normalize_to_the_spec_s_values() {
        let nodes = crate::resources::lower_one(&MetricAlarm, &model());
        let want = resolved(node(&nodes, "alarm.slo.availability.1h"));
        // What AWS reports when DatapointsToAlarm, ReturnData and ActionsEnabled were left to
        // their defaults, with the threshold as the float it stores.
        let mut aws = as_aws("web-slo-availability-1h", &want);
        aws.datapoints_to_alarm = None;
        aws.actions_enabled = None;
        aws.threshold = Some(14.4 * (1.0 - 99.9 / 100.0));
        for q in aws.metrics.iter_mut().flatten() {
            if q.id.as_deref() == Some("e1") {
                q.return_data = None;
            }
        }
        assert_eq!(observed_attrs(&aws), want);

        // A different threshold is a change.
        aws.threshold = Some(0.02);
        assert_ne!(observed_attrs(&aws)["threshold"], want["threshold"]);
    }

    #[test]
    fn an_alarm_of_the_other_shape_differs() {
        let nodes = crate::resources::lower_one(&MetricAlarm, &model());
        let math = resolved(node(&nodes, "alarm.target_5xx_rate"));
        let single = resolved(node(&nodes, "alarm.elb_5xx"));
        // The 5xx rate alarm turned into a single-metric one by hand, and the other way.
        let seen = observed_attrs(&as_aws("web-target_5xx_rate", &single));
        assert_eq!(seen.get("metrics"), None);
        assert_ne!(
            seen.get("metrics").cloned().unwrap_or(Value::Null),
            math["metrics"]
        );
        let seen = observed_attrs(&as_aws("web-elb_5xx", &math));
        assert_ne!(
            seen.get("metric").cloned().unwrap_or(Value::Null),
            single["metric"]
        );
    }
}
