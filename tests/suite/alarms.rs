//! The kinds that watch the stack: SNS topic and subscriptions, metric alarms (managed, custom,
//! SLO burn-rate windows), SLO composite alarms, and the service's rollback alarms.
//!
//! The spec does not read `alarms:` and `slo:` yet, so this test loads stacks/web.yaml through
//! the library, sets the alarm model by hand and plans and applies with the engine, as
//! `ballast deploy` does. It reads AWS back with the SDK and counts calls with the shim.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{AlarmType, CompositeAlarm, MetricAlarm};
use ballast::aws::Clients;
use ballast::engine::{self, Action, Change, Plan, Reporter, Scopes, StackRef, Step};
use ballast::resources::registry;
use ballast::spec::{
    AlarmsModel, CustomAlarmModel, Evaluation, LatencySloModel, ManagedAlarm, ManagedAlarmModel,
    Model, NotifyModel, SloModel,
};
use common::Env;

const STACK: &str = "it-alarms";
const REGION: &str = "af-south-1";
const EMAIL: &str = "ops@example.com";
/// Loopback and never confirmed: the emulator sends nothing to a pending endpoint.
const HOOK: &str = "https://127.0.0.1:9/alerts";

struct Quiet;

impl Reporter for Quiet {
    fn started(&self, _: &Change, _: Step) {}
    fn finished(&self, _: &Change, _: Step, _: Duration, _: &str) {}
    fn failed(&self, c: &Change, step: Step, error: &str) {
        eprintln!("{step:?} {} failed: {error}", c.address);
    }
    fn skipped(&self, _: &Change, _: Step, _: &str) {}
}

fn eval(threshold: f64, period: u32, n: u32, m: u32, missing: &str) -> Evaluation {
    Evaluation {
        threshold,
        period,
        evaluation_periods: n,
        datapoints: m,
        missing_data: missing.into(),
    }
}

/// The defaults the spec work is expected to fill in (any values do here).
fn managed_eval(a: ManagedAlarm) -> Evaluation {
    match a {
        ManagedAlarm::Target5xxRate => eval(5.0, 60, 3, 2, "notBreaching"),
        ManagedAlarm::Elb5xx => eval(10.0, 60, 3, 2, "notBreaching"),
        ManagedAlarm::LatencyP99 => eval(1.5, 60, 5, 3, "notBreaching"),
        ManagedAlarm::UnhealthyHosts => eval(0.0, 60, 3, 3, "notBreaching"),
        ManagedAlarm::RunningTasksLow => eval(2.0, 60, 3, 3, "breaching"),
        ManagedAlarm::CpuHigh => eval(80.0, 300, 3, 3, "missing"),
        ManagedAlarm::MemoryHigh => eval(85.5, 300, 3, 3, "missing"),
    }
}

fn model() -> Model {
    model_of(STACK, REGION)
}

fn model_of(stack: &str, region: &str) -> Model {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/web.yaml");
    let mut m = ballast::spec::load_file(path, Some(region)).expect("stacks/web.yaml loads");
    m.name = stack.into();
    m.alarms = Some(AlarmsModel {
        notify: NotifyModel {
            email: vec![EMAIL.into()],
            https: vec![HOOK.into()],
        },
        managed: ManagedAlarm::ALL
            .into_iter()
            .map(|alarm| ManagedAlarmModel {
                alarm,
                eval: managed_eval(alarm),
            })
            .collect(),
        custom: vec![CustomAlarmModel {
            name: "queue-depth".into(),
            namespace: "AWS/SQS".into(),
            metric: "ApproximateNumberOfMessagesVisible".into(),
            dimensions: BTreeMap::from([("QueueName".into(), "jobs".into())]),
            statistic: "p95".into(),
            comparison: "GreaterThanOrEqualToThreshold".into(),
            eval: eval(1000.0, 300, 2, 2, "ignore"),
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

fn stack_ref(m: Option<&Model>) -> StackRef {
    match m {
        Some(m) => ballast::commands::stack_ref(m),
        None => StackRef {
            name: STACK.into(),
            region: REGION.into(),
            tags: Default::default(),
        },
    }
}

/// A plan with fresh clients (shared reads are made once per client set, i.e. per discovery).
fn plan(env: &Env, m: Option<&Model>) -> (Clients, Plan) {
    let c = env.clients(REGION);
    let p = env
        .rt
        .block_on(engine::plan(
            &registry(),
            &Scopes::one(REGION, &c),
            &stack_ref(m),
            m,
        ))
        .expect("plan");
    (c, p)
}

fn changes(p: &Plan) -> Vec<(String, Action)> {
    p.changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.clone(), c.action))
        .collect()
}

/// Plan and apply; the write calls the apply made.
fn deploy(env: &Env, m: Option<&Model>) -> (Plan, Vec<String>) {
    let (c, p) = plan(env, m);
    env.reset();
    let res = env.rt.block_on(engine::apply(
        &registry(),
        &Scopes::one(REGION, &c),
        &p,
        &Quiet,
    ));
    assert!(res.ok(), "apply failed: {:?}", res.failed);
    let writes = env.stats().write_ops;
    (p, writes)
}

/// Calls by service and operation since the last reset.
fn calls(env: &Env) -> BTreeMap<String, u32> {
    let body = env.http("GET", "/_shim/stats", "").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut out = BTreeMap::new();
    for c in v["calls"].as_array().unwrap() {
        let k = format!(
            "{} {}",
            c["service"].as_str().unwrap(),
            c["op"].as_str().unwrap()
        );
        *out.entry(k).or_default() += 1;
    }
    out
}

fn name(key: &str) -> String {
    format!("{STACK}-{key}")
}

struct Alarms {
    metric: BTreeMap<String, MetricAlarm>,
    composite: BTreeMap<String, CompositeAlarm>,
    tags: BTreeMap<String, BTreeMap<String, String>>,
}

fn read_alarms(env: &Env, c: &Clients) -> Alarms {
    env.rt.block_on(async {
        let r = c
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(format!("{STACK}-"))
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .max_records(100)
            .send()
            .await
            .unwrap();
        assert!(r.next_token().is_none());
        let mut tags = BTreeMap::new();
        let arns = r
            .metric_alarms()
            .iter()
            .map(|a| (a.alarm_name().unwrap(), a.alarm_arn().unwrap()))
            .chain(
                r.composite_alarms()
                    .iter()
                    .map(|a| (a.alarm_name().unwrap(), a.alarm_arn().unwrap())),
            );
        for (name, arn) in arns {
            let t = c
                .cloudwatch
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .unwrap();
            tags.insert(
                name.to_string(),
                t.tags()
                    .iter()
                    .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
                    .collect(),
            );
        }
        Alarms {
            metric: r
                .metric_alarms()
                .iter()
                .map(|a| (a.alarm_name().unwrap().to_string(), a.clone()))
                .collect(),
            composite: r
                .composite_alarms()
                .iter()
                .map(|a| (a.alarm_name().unwrap().to_string(), a.clone()))
                .collect(),
            tags,
        }
    })
}

fn topic_arn(env: &Env, c: &Clients) -> Option<String> {
    env.rt.block_on(async {
        let r = c.sns.list_topics().send().await.unwrap();
        r.topics()
            .iter()
            .filter_map(|t| t.topic_arn())
            .find(|a| a.ends_with(&format!(":{STACK}-alarms")))
            .map(str::to_string)
    })
}

/// (protocol, endpoint, subscription ARN) of the topic's subscriptions, sorted.
fn subscriptions(env: &Env, c: &Clients, topic: &str) -> Vec<(String, String, String)> {
    env.rt.block_on(async {
        let r = c
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(topic)
            .send()
            .await
            .unwrap();
        let mut v: Vec<_> = r
            .subscriptions()
            .iter()
            .map(|s| {
                (
                    s.protocol().unwrap().to_string(),
                    s.endpoint().unwrap().to_string(),
                    s.subscription_arn().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    })
}

/// `Name=Value` of every dimension, sorted.
fn dims(d: &[aws_sdk_cloudwatch::types::Dimension]) -> Vec<String> {
    let mut v: Vec<String> = d
        .iter()
        .map(|d| format!("{}={}", d.name().unwrap(), d.value().unwrap()))
        .collect();
    v.sort();
    v
}

/// One query of a metric-math alarm: (expression, label, return data, metric as
/// `namespace name [dims] period stat`).
fn query(a: &MetricAlarm, id: &str) -> (Option<String>, Option<String>, bool, Option<String>) {
    let q = a
        .metrics()
        .iter()
        .find(|q| q.id() == Some(id))
        .unwrap_or_else(|| panic!("{} has no query {id}", a.alarm_name().unwrap()));
    let metric = q.metric_stat().map(|s| {
        let m = s.metric().unwrap();
        format!(
            "{} {} {:?} {} {}",
            m.namespace().unwrap(),
            m.metric_name().unwrap(),
            dims(m.dimensions()),
            s.period().unwrap(),
            s.stat().unwrap()
        )
    });
    (
        q.expression().map(str::to_string),
        q.label().map(str::to_string),
        q.return_data().unwrap_or(true),
        metric,
    )
}

/// `namespace name [dims] period statistic` of a single-metric alarm.
fn single(a: &MetricAlarm) -> String {
    assert!(a.metrics().is_empty());
    format!(
        "{} {} {:?} {} {}",
        a.namespace().unwrap(),
        a.metric_name().unwrap(),
        dims(a.dimensions()),
        a.period().unwrap(),
        a.statistic()
            .map(|s| s.as_str().to_string())
            .or(a.extended_statistic().map(str::to_string))
            .unwrap()
    )
}

/// Comparison, threshold, N, M, missing data.
fn evaluation(a: &MetricAlarm) -> (String, f64, i32, i32, String) {
    (
        a.comparison_operator().unwrap().as_str().to_string(),
        a.threshold().unwrap(),
        a.evaluation_periods().unwrap(),
        a.datapoints_to_alarm().unwrap(),
        a.treat_missing_data().unwrap().to_string(),
    )
}

fn ev(cmp: &str, t: f64, n: i32, m: i32, missing: &str) -> (String, f64, i32, i32, String) {
    (cmp.into(), t, n, m, missing.into())
}

#[test]
fn alarms_deploy_read_back_stay_put_change_one_at_a_time_and_destroy() {
    let env = Env::new();
    assert!(env.shim, "this suite counts calls with the emulator shim");
    env.clean(STACK, REGION);
    let mut m = model();

    // Cold deploy of the whole stack.
    let (p, writes) = deploy(&env, Some(&m));
    eprintln!(
        "{}",
        ballast::render::plan::render(
            &p,
            ballast::render::plan::Purpose::Deploy,
            ballast::render::Style::new(ballast::cli::ColorChoice::Never)
        )
    );
    assert!(changes(&p).iter().all(|(_, a)| *a == Action::Create));
    let count = |op: &str| writes.iter().filter(|w| *w == op).count();
    assert_eq!(count("PutMetricAlarm"), 16, "{writes:?}");
    assert_eq!(count("PutCompositeAlarm"), 4, "{writes:?}");
    assert_eq!(count("CreateTopic"), 1, "{writes:?}");
    assert_eq!(count("Subscribe"), 2, "{writes:?}");

    let c = env.clients(REGION);
    let (alb, tg) = env.rt.block_on(async {
        let lb = c
            .elbv2
            .describe_load_balancers()
            .names(format!("{STACK}-alb"))
            .send()
            .await
            .unwrap();
        let tg = c
            .elbv2
            .describe_target_groups()
            .names(format!("{STACK}-tg"))
            .send()
            .await
            .unwrap();
        (
            lb.load_balancers()[0]
                .load_balancer_arn()
                .unwrap()
                .to_string(),
            tg.target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_string(),
        )
    });
    let alb = alb.split_once(":loadbalancer/").unwrap().1.to_string();
    let tg = format!("targetgroup/{}", tg.split_once(":targetgroup/").unwrap().1);
    let lb_dim = format!("LoadBalancer={alb}");
    let tg_dim = format!("TargetGroup={tg}");

    // The dashboard, read back: the mark, the golden-signal graphs on this stack's load
    // balancer, target group and service, and the alarm thresholds drawn on them.
    let body = dashboard(&env, &c);
    let widgets = body["widgets"].as_array().unwrap();
    assert_eq!(widgets.len(), 7, "{body}");
    assert!(widgets[0]["properties"]["markdown"]
        .as_str()
        .unwrap()
        .contains(&format!("ballast:stack={STACK}")));
    let titles: Vec<&str> = widgets[1..]
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Requests",
            "5xx errors",
            "Latency (seconds)",
            "Healthy and unhealthy hosts per AZ",
            "Tasks: running vs desired",
            "CPU and memory (percent)"
        ]
    );
    for w in &widgets[1..] {
        assert_eq!(w["properties"]["region"], REGION, "{w}");
    }
    let text = body.to_string();
    assert!(
        text.contains(&format!("\"LoadBalancer\",\"{alb}\"")),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"TargetGroup\",\"{tg}\"")),
        "{text}"
    );
    assert!(!text.contains("${"), "placeholders filled in: {text}");
    let hosts = widgets[4]["properties"]["metrics"].as_array().unwrap();
    assert_eq!(hosts.len(), 4, "healthy and unhealthy per AZ: {hosts:?}");
    let lines = |i: usize| -> Vec<(String, f64)> {
        widgets[i]["properties"]["annotations"]["horizontal"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["label"].as_str().unwrap().to_string(),
                    a["value"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        lines(3),
        [
            ("latency_p99 alarm".to_string(), 1.5),
            ("latency SLO".to_string(), 0.3)
        ]
    );
    assert_eq!(
        lines(6),
        [
            ("cpu_high alarm".to_string(), 80.0),
            ("memory_high alarm".to_string(), 85.5)
        ]
    );

    // The topic, tagged, with both addresses pending confirmation.
    let topic = topic_arn(&env, &c).expect("topic");
    let topic_tags: BTreeMap<String, String> = env.rt.block_on(async {
        let r = c
            .sns
            .list_tags_for_resource()
            .resource_arn(&topic)
            .send()
            .await
            .unwrap();
        r.tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    });
    assert_eq!(topic_tags["ballast:stack"], STACK);
    assert_eq!(topic_tags["ballast:resource"], "alarms.topic");
    assert_eq!(
        subscriptions(&env, &c, &topic),
        [
            ("email".into(), EMAIL.into(), "PendingConfirmation".into()),
            ("https".into(), HOOK.into(), "PendingConfirmation".into()),
        ]
    );

    let a = read_alarms(&env, &c);
    assert_eq!(a.metric.len(), 16, "{:?}", a.metric.keys());
    assert_eq!(a.composite.len(), 4, "{:?}", a.composite.keys());
    let alarm = |key: &str| {
        a.metric
            .get(&name(key))
            .unwrap_or_else(|| panic!("no alarm {key}"))
    };
    let notify = [topic.clone()];

    // Every field of every managed alarm, and the custom one.
    let rate = alarm("target_5xx_rate");
    assert_eq!(
        evaluation(rate),
        ev("GreaterThanThreshold", 5.0, 3, 2, "notBreaching")
    );
    assert_eq!(rate.metric_name(), None);
    assert_eq!(rate.metrics().len(), 3);
    assert_eq!(
        query(rate, "e1"),
        (
            Some("IF(m2 > 0, 100 * FILL(m1, 0) / m2, 0)".into()),
            Some("Target 5xx rate (%)".into()),
            true,
            None
        )
    );
    assert_eq!(
        query(rate, "m1"),
        (
            None,
            None,
            false,
            Some(format!(
                "AWS/ApplicationELB HTTPCode_Target_5XX_Count {:?} 60 Sum",
                [&lb_dim]
            ))
        )
    );
    assert_eq!(
        query(rate, "m2").3,
        Some(format!(
            "AWS/ApplicationELB RequestCount {:?} 60 Sum",
            [&lb_dim]
        ))
    );
    let d = rate.alarm_description().unwrap();
    assert!(
        d.starts_with("More than 5% of the requests to it-alarms got a 5xx error from its tasks in 2 of the last 3 periods of 1 minute."),
        "{d}"
    );
    assert!(d.contains("rolls it back"), "{d}");

    let singles = [
        (
            "elb_5xx",
            format!(
                "AWS/ApplicationELB HTTPCode_ELB_5XX_Count {:?} 60 Sum",
                [&lb_dim]
            ),
            ev("GreaterThanThreshold", 10.0, 3, 2, "notBreaching"),
            "The load balancer of it-alarms answered more than 10 requests with a 5xx error",
        ),
        (
            "latency_p99",
            format!(
                "AWS/ApplicationELB TargetResponseTime {:?} 60 p99",
                [&lb_dim, &tg_dim]
            ),
            ev("GreaterThanThreshold", 1.5, 5, 3, "notBreaching"),
            "The slowest 1% of the requests to it-alarms took longer than 1.5 seconds",
        ),
        (
            "unhealthy_hosts",
            format!(
                "AWS/ApplicationELB UnHealthyHostCount {:?} 60 Maximum",
                [&lb_dim, &tg_dim]
            ),
            ev("GreaterThanThreshold", 0.0, 3, 3, "notBreaching"),
            "More than 0 of it-alarms's tasks failed the load balancer's health check for 3 periods of 1 minute in a row.",
        ),
        (
            "running_tasks_low",
            format!(
                "ECS/ContainerInsights RunningTaskCount {:?} 60 Minimum",
                ["ClusterName=it-alarms", "ServiceName=it-alarms"]
            ),
            ev("LessThanThreshold", 2.0, 3, 3, "breaching"),
            "Fewer than 2 tasks of it-alarms were running for 3 periods of 1 minute in a row",
        ),
        (
            "cpu_high",
            format!(
                "AWS/ECS CPUUtilization {:?} 300 Average",
                ["ClusterName=it-alarms", "ServiceName=it-alarms"]
            ),
            ev("GreaterThanThreshold", 80.0, 3, 3, "missing"),
            "it-alarms's tasks used more than 80% of their CPU on average for 3 periods of 5 minutes in a row.",
        ),
        (
            "memory_high",
            format!(
                "AWS/ECS MemoryUtilization {:?} 300 Average",
                ["ClusterName=it-alarms", "ServiceName=it-alarms"]
            ),
            ev("GreaterThanThreshold", 85.5, 3, 3, "missing"),
            "it-alarms's tasks used more than 85.5% of their memory on average",
        ),
        (
            "queue-depth",
            format!(
                "AWS/SQS ApproximateNumberOfMessagesVisible {:?} 300 p95",
                ["QueueName=jobs"]
            ),
            ev("GreaterThanOrEqualToThreshold", 1000.0, 2, 2, "ignore"),
            "it-alarms: AWS/SQS ApproximateNumberOfMessagesVisible (p95 of QueueName=jobs) was at or above 1000 for 2 periods of 5 minutes in a row.",
        ),
    ];
    for (key, metric, evaluation_, description) in &singles {
        let x = alarm(key);
        assert_eq!(&single(x), metric, "{key}");
        assert_eq!(&evaluation(x), evaluation_, "{key}");
        let d = x.alarm_description().unwrap();
        assert!(d.starts_with(description), "{key}: {d}");
    }
    // Extended statistics go as ExtendedStatistic, the others as Statistic.
    assert_eq!(alarm("latency_p99").statistic(), None);
    assert_eq!(alarm("latency_p99").extended_statistic(), Some("p99"));
    assert_eq!(alarm("queue-depth").extended_statistic(), Some("p95"));
    assert_eq!(
        alarm("elb_5xx").statistic().map(|s| s.as_str()),
        Some("Sum")
    );

    // SLO windows: burn rate x budget over each window, 1 of 1, silent by themselves.
    let slo = [
        ("availability-1h", 0.0144, 3600),
        ("availability-5m", 0.0144, 300),
        ("availability-6h", 0.006, 21600),
        ("availability-30m", 0.006, 1800),
        ("latency-1h", 0.144, 3600),
        ("latency-5m", 0.144, 300),
        ("latency-6h", 0.06, 21600),
        ("latency-30m", 0.06, 1800),
    ];
    for (key, threshold, period) in slo {
        let x = alarm(&format!("slo-{key}"));
        assert_eq!(
            evaluation(x),
            ev("GreaterThanThreshold", threshold, 1, 1, "notBreaching"),
            "{key}"
        );
        assert!(x.alarm_actions().is_empty() && x.ok_actions().is_empty());
        assert_eq!(x.actions_enabled(), Some(true));
        if key.starts_with("availability") {
            assert_eq!(
                query(x, "e1"),
                (
                    Some("IF(m2 > 0, FILL(m1, 0) / m2, 0)".into()),
                    Some("Share of requests that failed with a 5xx error".into()),
                    true,
                    None
                )
            );
            assert_eq!(
                query(x, "m1").3,
                Some(format!(
                    "AWS/ApplicationELB HTTPCode_Target_5XX_Count {:?} {period} Sum",
                    [&lb_dim]
                ))
            );
            assert_eq!(
                query(x, "m2").3,
                Some(format!(
                    "AWS/ApplicationELB RequestCount {:?} {period} Sum",
                    [&lb_dim]
                ))
            );
        } else {
            assert_eq!(x.metrics().len(), 2);
            assert_eq!(
                query(x, "e1"),
                (
                    Some("(100 - m1) / 100".into()),
                    Some("Share of requests slower than 300 ms".into()),
                    true,
                    None
                )
            );
            assert_eq!(
                query(x, "m1"),
                (
                    None,
                    None,
                    false,
                    Some(format!(
                        "AWS/ApplicationELB TargetResponseTime {:?} {period} PR(:0.3)",
                        [&lb_dim, &tg_dim]
                    ))
                )
            );
        }
    }
    let d = alarm("slo-availability-1h").alarm_description().unwrap();
    assert!(d.starts_with("The share of requests that failed with a 5xx error at it-alarms over the last hour is above 1.44%: 14.4 times the error budget (0.1%) of the availability SLO (99.9% of requests without a 5xx error over 30 days)."), "{d}");

    // Every non-SLO alarm notifies the topic, on ALARM and on OK.
    for (n, x) in &a.metric {
        assert_eq!(x.actions_enabled(), Some(true), "{n}");
        if !n.contains("-slo-") {
            assert_eq!(x.alarm_actions(), notify, "{n}");
            assert_eq!(x.ok_actions(), notify, "{n}");
            assert!(x.insufficient_data_actions().is_empty(), "{n}");
        }
    }

    // The composites join the windows pairwise and notify.
    let rules = [
        ("availability-page", "availability-1h", "availability-5m"),
        ("availability-ticket", "availability-30m", "availability-6h"),
        ("latency-page", "latency-1h", "latency-5m"),
        ("latency-ticket", "latency-30m", "latency-6h"),
    ];
    for (key, w1, w2) in rules {
        let x = &a.composite[&name(&format!("slo-{key}"))];
        assert_eq!(
            x.alarm_rule().unwrap(),
            format!(
                "ALARM(\"{}\") AND ALARM(\"{}\")",
                name(&format!("slo-{w1}")),
                name(&format!("slo-{w2}"))
            )
        );
        assert_eq!(x.alarm_actions(), notify, "{key}");
        assert_eq!(x.ok_actions(), notify, "{key}");
        assert_eq!(x.actions_enabled(), Some(true), "{key}");
        let d = x.alarm_description().unwrap();
        let head = if key.ends_with("page") {
            "PAGE: it-alarms"
        } else {
            "TICKET: it-alarms"
        };
        assert!(d.starts_with(head), "{d}");
    }
    let d = a.composite[&name("slo-latency-ticket")]
        .alarm_description()
        .unwrap();
    assert!(
        d.contains("6 times faster than it can last: the share of requests slower than 300 ms was above 6% (budget 1%) over both the last 6 hours and the last 30 minutes"),
        "{d}"
    );

    // Every alarm carries the ownership tags with its logical id.
    for (n, t) in &a.tags {
        assert_eq!(
            t.get("ballast:stack").map(String::as_str),
            Some(STACK),
            "{n}"
        );
        let key = n.strip_prefix(&format!("{STACK}-")).unwrap();
        let id = match key.strip_prefix("slo-") {
            Some(slo) => format!("alarm.slo.{}", slo.replacen('-', ".", 1)),
            None if key == "queue-depth" => "alarm.custom.queue-depth".into(),
            None => format!("alarm.{key}"),
        };
        assert_eq!(t.get("ballast:resource"), Some(&id), "{n}");
    }
    assert_eq!(a.tags.len(), 20);

    // ECS rolls a deployment back when the managed 5xx alarm fires.
    env.rt.block_on(async {
        let r = c
            .ecs
            .describe_services()
            .cluster(STACK)
            .services(STACK)
            .send()
            .await
            .unwrap();
        let dc = r.services()[0].deployment_configuration().unwrap();
        let alarms = dc.alarms().expect("deployment alarms");
        assert_eq!(alarms.alarm_names(), [name("target_5xx_rate")]);
        assert!(alarms.enable() && alarms.rollback());
    });

    // Nothing changed: the plan says so, and a deploy writes nothing.
    env.reset();
    let (_, p) = plan(&env, Some(&m));
    let reads = calls(&env);
    assert_eq!(
        changes(&p),
        [],
        "{:#?}",
        p.changes
            .iter()
            .filter(|c| c.action != Action::NoOp)
            .map(|c| &c.diffs)
            .collect::<Vec<_>>()
    );
    let total: u32 = reads.values().sum();
    eprintln!("no-op plan of a stack with alarms: {total} calls: {reads:#?}");
    let alarm_reads = |op: &str| reads.get(op).copied().unwrap_or(0);
    assert_eq!(alarm_reads("monitoring DescribeAlarms"), 1, "{reads:?}");
    assert_eq!(
        alarm_reads("monitoring ListTagsForResource"),
        20,
        "{reads:?}"
    );
    assert_eq!(alarm_reads("sns ListTopics"), 1, "{reads:?}");
    assert_eq!(alarm_reads("sns ListTagsForResource"), 1, "{reads:?}");
    assert_eq!(alarm_reads("sns ListSubscriptionsByTopic"), 1, "{reads:?}");
    let (_, writes) = deploy(&env, Some(&m));
    assert_eq!(writes, Vec::<String>::new());

    // A confirmed address is still the same subscription.
    let confirmed = env
        .http(
            "POST",
            "/_shim/sns/confirm",
            &format!("{{\"endpoint\": \"{EMAIL}\"}}"),
        )
        .unwrap();
    assert!(confirmed.contains("arn:aws:sns"), "{confirmed}");
    let (_, p) = plan(&env, Some(&m));
    assert_eq!(changes(&p), []);

    // One changed threshold: one PutMetricAlarm, and one PutDashboard (the dashboard draws
    // the threshold as an annotation).
    let alarms = m.alarms.as_mut().unwrap();
    alarms
        .managed
        .iter_mut()
        .find(|x| x.alarm == ManagedAlarm::CpuHigh)
        .unwrap()
        .eval
        .threshold = 90.0;
    let (p, writes) = deploy(&env, Some(&m));
    assert_eq!(
        changes(&p),
        [
            (
                "aws_cloudwatch_dashboard.dashboard".to_string(),
                Action::Update
            ),
            (
                "aws_cloudwatch_metric_alarm.alarm.cpu_high".to_string(),
                Action::Update
            )
        ]
    );
    assert_eq!(sorted(writes), ["PutDashboard", "PutMetricAlarm"]);
    let a = read_alarms(&env, &env.clients(REGION));
    let cpu = &a.metric[&name("cpu_high")];
    assert_eq!(cpu.threshold(), Some(90.0));
    let body = dashboard(&env, &env.clients(REGION));
    assert_eq!(
        body["widgets"][6]["properties"]["annotations"]["horizontal"][0]["value"], 90.0,
        "the dashboard's line moved with the threshold"
    );
    assert_eq!(
        a.tags[&name("cpu_high")]
            .get("ballast:resource")
            .map(String::as_str),
        Some("alarm.cpu_high")
    );

    // One managed alarm turned off: one DeleteAlarms.
    let alarms = m.alarms.as_mut().unwrap();
    alarms
        .managed
        .retain(|x| x.alarm != ManagedAlarm::MemoryHigh);
    let (p, writes) = deploy(&env, Some(&m));
    assert_eq!(
        changes(&p),
        [
            (
                "aws_cloudwatch_dashboard.dashboard".to_string(),
                Action::Update
            ),
            (
                "aws_cloudwatch_metric_alarm.alarm.memory_high".to_string(),
                Action::Delete
            )
        ]
    );
    assert_eq!(sorted(writes), ["DeleteAlarms", "PutDashboard"]);
    assert!(!read_alarms(&env, &c)
        .metric
        .contains_key(&name("memory_high")));

    // One more address: one Subscribe.
    let alarms = m.alarms.as_mut().unwrap();
    alarms.notify.email.push("oncall@example.com".into());
    let (p, writes) = deploy(&env, Some(&m));
    assert_eq!(
        changes(&p),
        [(
            "aws_sns_topic_subscription.alarms.notify.email.oncall@example.com".to_string(),
            Action::Create
        )]
    );
    assert_eq!(writes, ["Subscribe"]);

    // A confirmed address removed: one Unsubscribe.
    let alarms = m.alarms.as_mut().unwrap();
    alarms.notify.email.retain(|e| e != EMAIL);
    let (p, writes) = deploy(&env, Some(&m));
    assert_eq!(
        changes(&p),
        [(
            "aws_sns_topic_subscription.alarms.notify.email.ops@example.com".to_string(),
            Action::Delete
        )]
    );
    assert_eq!(writes, ["Unsubscribe"]);
    assert_eq!(
        subscriptions(&env, &c, &topic)
            .iter()
            .map(|s| s.1.as_str())
            .collect::<Vec<_>>(),
        ["oncall@example.com", HOOK]
    );

    // A pending address removed: SNS cannot unsubscribe it (it expires after 3 days), so the
    // delete is done without a call, and it stays listed until then.
    let alarms = m.alarms.as_mut().unwrap();
    alarms.notify.https.clear();
    let (p, writes) = deploy(&env, Some(&m));
    assert_eq!(changes(&p).len(), 1);
    assert_eq!(writes, Vec::<String>::new());

    // Destroy leaves none of it.
    let (p, _) = deploy(&env, None);
    assert!(changes(&p).iter().all(|(_, a)| *a == Action::Delete));
    let c = env.clients(REGION);
    let a = read_alarms(&env, &c);
    assert!(a.metric.is_empty() && a.composite.is_empty());
    assert_eq!(topic_arn(&env, &c), None);
    let (_, p) = plan(&env, None);
    assert_eq!(changes(&p), []);
}

#[test]
fn look_alikes_of_the_topic_and_an_alarm_stop_the_plan_and_are_never_touched() {
    let env = Env::new();
    let (stack, region) = ("it-alarms-foreign", "eu-central-1");
    env.clean(stack, region);
    let c = env.clients(region);
    let (topic, alarm) = (format!("{stack}-alarms"), format!("{stack}-cpu_high"));
    let topic_arn = env.rt.block_on(async {
        let t = c.sns.create_topic().name(&topic).send().await.unwrap();
        c.cloudwatch
            .put_metric_alarm()
            .alarm_name(&alarm)
            .namespace("AWS/ECS")
            .metric_name("CPUUtilization")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
            .period(60)
            .evaluation_periods(1)
            .threshold(50.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .tags(
                aws_sdk_cloudwatch::types::Tag::builder()
                    .key("team")
                    .value("db")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        t.topic_arn().unwrap().to_string()
    });
    env.reset();

    let m = model_of(stack, region);
    let c = env.clients(region);
    let r = env.rt.block_on(engine::plan(
        &registry(),
        &Scopes::one(region, &c),
        &ballast::commands::stack_ref(&m),
        Some(&m),
    ));
    let Err(engine::PlanError::Conflicts { conflicts, .. }) = r else {
        panic!("expected conflicts, got {:?}", r.map(|p| changes(&p)));
    };
    let mut addresses: Vec<&str> = conflicts.iter().map(|c| c.address.as_str()).collect();
    addresses.sort();
    assert_eq!(
        addresses,
        [
            "aws_cloudwatch_metric_alarm.alarm.cpu_high",
            "aws_sns_topic.alarms.topic"
        ]
    );

    // Destroying the stack does not see them.
    let sref = StackRef {
        name: stack.into(),
        region: region.into(),
        tags: Default::default(),
    };
    let p = env
        .rt
        .block_on(engine::plan(
            &registry(),
            &Scopes::one(region, &c),
            &sref,
            None,
        ))
        .unwrap();
    assert_eq!(changes(&p), []);
    assert_eq!(env.stats().writes, 0);

    // Still there, then cleaned up by hand.
    env.rt.block_on(async {
        let r = c
            .cloudwatch
            .describe_alarms()
            .alarm_names(&alarm)
            .send()
            .await
            .unwrap();
        assert_eq!(r.metric_alarms().len(), 1);
        c.cloudwatch
            .delete_alarms()
            .alarm_names(&alarm)
            .send()
            .await
            .unwrap();
        c.sns
            .delete_topic()
            .topic_arn(&topic_arn)
            .send()
            .await
            .unwrap();
    });
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The stack's dashboard body, parsed.
fn dashboard(env: &Env, c: &ballast::aws::Clients) -> serde_json::Value {
    let name = format!("{STACK}-{REGION}");
    let d = env
        .rt
        .block_on(c.cloudwatch.get_dashboard().dashboard_name(&name).send())
        .unwrap();
    serde_json::from_str(d.dashboard_body().unwrap()).unwrap()
}
