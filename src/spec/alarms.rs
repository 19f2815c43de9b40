//! `alarms:`, `slo:` and the managed entries of `service.deployment.rollback_alarms`: checked and
//! lowered into the `Model` with the defaults filled in.

use std::collections::HashSet;

use serde_saphyr::Location;

use super::error::{did_you_mean, Issues};
use super::model::*;
use super::types::*;

/// CloudWatch's `TreatMissingData` values.
pub const MISSING_DATA: &[&str] = &["missing", "notBreaching", "breaching", "ignore"];

/// CloudWatch's plain statistics (a percentile `pNN.NN` is the other kind).
pub const STATISTICS: &[&str] = &["Average", "Sum", "Minimum", "Maximum", "SampleCount"];

/// `>`... in the spec -> CloudWatch's `ComparisonOperator`.
pub const COMPARISONS: &[(&str, &str)] = &[
    (">", "GreaterThanThreshold"),
    (">=", "GreaterThanOrEqualToThreshold"),
    ("<", "LessThanThreshold"),
    ("<=", "LessThanOrEqualToThreshold"),
];

/// CloudWatch alarms look back at most one day.
const ONE_DAY: u64 = 86_400;
/// Longest alarm name CloudWatch accepts.
const MAX_ALARM_NAME: usize = 255;
const MAX_DIMENSIONS: usize = 30;

/// What a threshold may be.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bound {
    /// 0..=100.
    Percent,
    /// >= 0.
    NonNegative,
    /// Any finite number (custom alarms).
    Finite,
}

struct Defaults {
    threshold: f64,
    period: u32,
    evaluation_periods: u32,
    /// `None`: as many as `evaluation_periods`. Never more than `evaluation_periods`.
    datapoints: Option<u32>,
    missing_data: &'static str,
    bound: Bound,
}

/// The defaults of a managed alarm; `service_min` is the lowest task count the service runs.
fn managed_defaults(alarm: ManagedAlarm, service_min: u32) -> Defaults {
    use ManagedAlarm::*;
    let (threshold, evaluation_periods, missing_data, bound) = match alarm {
        Target5xxRate => (5.0, 5, "notBreaching", Bound::Percent),
        Elb5xx => (10.0, 5, "notBreaching", Bound::NonNegative),
        LatencyP99 => (1.0, 5, "notBreaching", Bound::NonNegative),
        UnhealthyHosts => (0.0, 3, "notBreaching", Bound::NonNegative),
        // No datapoints at all means no running task: that breaches.
        RunningTasksLow => (f64::from(service_min), 3, "breaching", Bound::NonNegative),
        CpuHigh => (85.0, 5, "notBreaching", Bound::Percent),
        MemoryHigh => (90.0, 5, "notBreaching", Bound::Percent),
    };
    Defaults {
        threshold,
        period: 60,
        evaluation_periods,
        datapoints: Some(3),
        missing_data,
        bound,
    }
}

/// The spec's entry for a managed alarm.
fn managed_entry(a: &Alarms, alarm: ManagedAlarm) -> Option<&S<Toggle<AlarmTuning>>> {
    use ManagedAlarm::*;
    match alarm {
        Target5xxRate => a.target_5xx_rate.as_ref(),
        Elb5xx => a.elb_5xx.as_ref(),
        LatencyP99 => a.latency_p99.as_ref(),
        UnhealthyHosts => a.unhealthy_hosts.as_ref(),
        RunningTasksLow => a.running_tasks_low.as_ref(),
        CpuHigh => a.cpu_high.as_ref(),
        MemoryHigh => a.memory_high.as_ref(),
    }
}

/// Where the spec turns alarms off (`alarms: false`), if it does.
fn alarms_off_at(spec: &Spec) -> Option<Location> {
    let t = spec.alarms.as_ref()?;
    matches!(t.value, Toggle::Off).then_some(t.referenced)
}

/// Where the spec turns a managed alarm off (`alarms.<key>: false`), if it does.
fn managed_off_at(spec: &Spec, alarm: ManagedAlarm) -> Option<Location> {
    let Toggle::Set(a) = &spec.alarms.as_ref()?.value else {
        return None;
    };
    let t = managed_entry(a, alarm)?;
    matches!(t.value, Toggle::Off).then_some(t.referenced)
}

/// `Toggle::Wrong` -> an error at the value.
fn wrong_toggle(at: &Location, key: &str, what: &str, issues: &mut Issues) {
    issues.push(
        at,
        format!("wrong type for `{key}`: expected true, false or a map, got {what}"),
        "not true, false or a map",
        None,
    );
}

/// `alarms:` -> `None` when `alarms: false`, else every managed alarm that is not turned off
/// plus the custom ones.
pub(super) fn check_alarms(
    spec: &Spec,
    service_min: u32,
    issues: &mut Issues,
) -> Option<AlarmsModel> {
    let default = Alarms::default();
    let a = match spec.alarms.as_ref().map(|t| (&t.value, &t.referenced)) {
        Some((Toggle::Off, _)) => return None,
        Some((Toggle::Set(a), _)) => a,
        Some((Toggle::Wrong(w), at)) => {
            wrong_toggle(at, "alarms", w, issues);
            &default
        }
        None | Some((Toggle::On, _)) => &default,
    };
    let notify = check_notify(&a.notify, issues);
    let no_tuning = AlarmTuning::default();
    let managed = ManagedAlarm::ALL
        .into_iter()
        .filter_map(|alarm| {
            let tuning = match managed_entry(a, alarm).map(|t| (&t.value, &t.referenced)) {
                Some((Toggle::Off, _)) => return None,
                Some((Toggle::Set(t), _)) => t,
                Some((Toggle::Wrong(w), at)) => {
                    wrong_toggle(at, alarm.key(), w, issues);
                    &no_tuning
                }
                None | Some((Toggle::On, _)) => &no_tuning,
            };
            let what = format!("alarm `{}`", alarm.key());
            let d = managed_defaults(alarm, service_min);
            Some(ManagedAlarmModel {
                alarm,
                eval: check_eval(tuning, &d, &what, issues),
            })
        })
        .collect();
    let mut names = HashSet::new();
    let custom = a
        .custom
        .iter()
        .map(|c| check_custom(c, &spec.name.value, &mut names, issues))
        .collect();
    Some(AlarmsModel {
        notify,
        managed,
        custom,
    })
}

fn check_notify(n: &Notify, issues: &mut Issues) -> NotifyModel {
    let mut seen = HashSet::new();
    for e in &n.email {
        if !looks_like_email(&e.value) {
            issues.push(
                &e.referenced,
                format!("`{}` is not an email address", e.value),
                "expected name@domain",
                None,
            );
        }
        if !seen.insert(&e.value) {
            issues.push(
                &e.referenced,
                format!("`{}` is listed twice", e.value),
                "duplicate",
                None,
            );
        }
    }
    for u in &n.https {
        let ok = u
            .value
            .strip_prefix("https://")
            .is_some_and(|rest| !rest.is_empty())
            && !u.value.contains(char::is_whitespace);
        if !ok {
            let help = u
                .value
                .starts_with("http://")
                .then(|| "notifications go to HTTPS endpoints only: use https://".to_string());
            issues.push(
                &u.referenced,
                format!("`{}` is not an HTTPS URL", u.value),
                "expected https://…",
                help,
            );
        }
        if !seen.insert(&u.value) {
            issues.push(
                &u.referenced,
                format!("`{}` is listed twice", u.value),
                "duplicate",
                None,
            );
        }
    }
    NotifyModel {
        email: n.email.iter().map(|e| e.value.clone()).collect(),
        https: n.https.iter().map(|u| u.value.clone()).collect(),
    }
}

/// One `@`, something before it, a dot inside the domain, no spaces.
fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
}

/// A period CloudWatch alarms accept: 10, 30 (high resolution) or whole minutes up to a day.
pub fn valid_period(p: u32) -> bool {
    p == 10 || p == 30 || (p >= 60 && p % 60 == 0 && u64::from(p) <= ONE_DAY)
}

fn check_eval(t: &AlarmTuning, d: &Defaults, what: &str, issues: &mut Issues) -> Evaluation {
    let threshold = match &t.threshold {
        Some(v) => {
            check_threshold(v, d.bound, what, issues);
            v.value
        }
        None => d.threshold,
    };
    let period = match &t.period {
        Some(p) => {
            if !valid_period(p.value) {
                let label = if u64::from(p.value) > ONE_DAY {
                    "at most 86400 (one day)"
                } else {
                    "must be 10, 30 or a multiple of 60"
                };
                issues.push(
                    &p.referenced,
                    format!("{what}: period {} is not allowed", p.value),
                    label,
                    Some("CloudWatch alarms take periods of 10, 30 or a multiple of 60 seconds, up to 86400".into()),
                );
            }
            p.value
        }
        None => d.period,
    };
    let evaluation_periods = match &t.evaluation_periods {
        Some(n) => {
            if n.value == 0 {
                issues.push(
                    &n.referenced,
                    format!("{what}: evaluation_periods 0 is out of range"),
                    "must be at least 1",
                    None,
                );
            }
            n.value
        }
        None => d.evaluation_periods,
    };
    let total = u64::from(period) * u64::from(evaluation_periods);
    if valid_period(period) && total > ONE_DAY {
        let at = t
            .evaluation_periods
            .as_ref()
            .or(t.period.as_ref())
            .map(|v| v.referenced)
            .unwrap_or(Location::UNKNOWN);
        issues.push(
            &at,
            format!(
                "{what}: {evaluation_periods} periods of {period}s are {total}s, more than one day"
            ),
            "period × evaluation_periods > 86400",
            Some(
                "CloudWatch alarms look back at most one day: lower period or evaluation_periods"
                    .into(),
            ),
        );
    }
    let datapoints = match &t.datapoints {
        Some(m) => {
            if evaluation_periods >= 1 && !(1..=evaluation_periods).contains(&m.value) {
                let message = if m.value == 0 {
                    format!("{what}: datapoints 0 is out of range")
                } else {
                    format!(
                        "{what}: datapoints {} is more than evaluation_periods {evaluation_periods}",
                        m.value
                    )
                };
                issues.push(
                    &m.referenced,
                    message,
                    format!("must be 1 to {evaluation_periods}"),
                    Some(
                        "datapoints is M in \"M out of N\": how many of the evaluation_periods must breach"
                            .into(),
                    ),
                );
            }
            m.value
        }
        None => d
            .datapoints
            .unwrap_or(evaluation_periods)
            .min(evaluation_periods),
    };
    let missing_data = match &t.missing_data {
        Some(m) => {
            if !MISSING_DATA.contains(&m.value.as_str()) {
                let help = match did_you_mean(&m.value, MISSING_DATA.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("expected one of: {}", MISSING_DATA.join(", ")),
                };
                issues.push(
                    &m.referenced,
                    format!("{what}: unknown missing_data `{}`", m.value),
                    "not a missing-data treatment",
                    Some(help),
                );
            }
            m.value.clone()
        }
        None => d.missing_data.to_string(),
    };
    Evaluation {
        threshold,
        period,
        evaluation_periods,
        datapoints,
        missing_data,
    }
}

fn check_threshold(v: &S<f64>, bound: Bound, what: &str, issues: &mut Issues) {
    let x = v.value;
    let problem = if !x.is_finite() {
        Some(("must be a finite number".to_string(), "not finite"))
    } else if bound == Bound::Percent && !(0.0..=100.0).contains(&x) {
        Some((format!("{x} is out of range"), "percent: must be 0 to 100"))
    } else if bound == Bound::NonNegative && x < 0.0 {
        Some((format!("{x} is out of range"), "must be at least 0"))
    } else {
        None
    };
    if let Some((message, label)) = problem {
        issues.push(
            &v.referenced,
            format!("{what}: threshold {message}"),
            label,
            None,
        );
    }
}

fn check_custom<'a>(
    c: &'a CustomAlarm,
    stack: &str,
    names: &mut HashSet<&'a str>,
    issues: &mut Issues,
) -> CustomAlarmModel {
    let name = &c.name.value;
    let what = format!("custom alarm `{name}`");
    let charset_ok = !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
    if !charset_ok {
        issues.push(
            &c.name.referenced,
            format!("invalid custom alarm name `{name}`"),
            "not a valid alarm name",
            Some("use lowercase letters, digits and dashes".into()),
        );
    } else if let Some(m) = ManagedAlarm::from_key(&name.replace('-', "_")) {
        // `cpu-high` next to the managed `<stack>-cpu_high` would only confuse.
        issues.push(
            &c.name.referenced,
            format!(
                "custom alarm name `{name}` is taken by the managed alarm `{}`",
                m.key()
            ),
            "a managed alarm's name",
            Some(format!(
                "tune the managed one under `alarms.{}`, or pick another name",
                m.key()
            )),
        );
    } else if stack.len() + 1 + name.len() > MAX_ALARM_NAME {
        issues.push(
            &c.name.referenced,
            format!(
                "custom alarm name is too long: `{stack}-<name>` would be {} characters",
                stack.len() + 1 + name.len()
            ),
            format!(
                "{} characters, at most {} (CloudWatch allows {MAX_ALARM_NAME})",
                name.len(),
                MAX_ALARM_NAME - stack.len() - 1
            ),
            None,
        );
    }
    if !names.insert(name) {
        issues.push(
            &c.name.referenced,
            format!("custom alarm `{name}` is defined twice"),
            "duplicate",
            None,
        );
    }

    let ns = &c.namespace;
    if ns.value.is_empty() || ns.value.len() > 255 || ns.value.starts_with(':') {
        issues.push(
            &ns.referenced,
            if ns.value.is_empty() {
                format!("{what}: namespace is empty")
            } else {
                format!("{what}: invalid namespace `{}`", ns.value)
            },
            "not a CloudWatch namespace",
            Some("1 to 255 characters, not starting with `:`, e.g. `AWS/SQS`".into()),
        );
    }
    let metric = &c.metric;
    if metric.value.is_empty() || metric.value.len() > 255 {
        issues.push(
            &metric.referenced,
            if metric.value.is_empty() {
                format!("{what}: metric is empty")
            } else {
                format!("{what}: invalid metric name `{}`", metric.value)
            },
            "must be 1 to 255 characters",
            None,
        );
    }
    let dimensions = match &c.dimensions {
        None => Default::default(),
        Some(dims) => {
            if dims.value.len() > MAX_DIMENSIONS {
                issues.push(
                    &dims.referenced,
                    format!(
                        "{what} has {} dimensions, CloudWatch allows {MAX_DIMENSIONS}",
                        dims.value.len()
                    ),
                    "too many dimensions",
                    None,
                );
            }
            for (k, v) in &dims.value {
                if k.is_empty() || k.len() > 255 || v.value.is_empty() || v.value.len() > 1024 {
                    let problem = if v.value.is_empty() {
                        "has an empty value"
                    } else {
                        "is too long"
                    };
                    issues.push(
                        &v.referenced,
                        format!("{what}: dimension `{k}` {problem}"),
                        "empty or too long",
                        Some("dimension names take 1 to 255 characters, values 1 to 1024".into()),
                    );
                }
            }
            dims.value
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect()
        }
    };

    let st = &c.statistic;
    if let Err((label, help)) = statistic(&st.value) {
        let kind = if label == "not a statistic" {
            "unknown statistic"
        } else {
            "invalid percentile"
        };
        issues.push(
            &st.referenced,
            format!("{what}: {kind} `{}`", st.value),
            label,
            Some(help),
        );
    }

    let cmp = &c.comparison;
    let comparison = match comparison(&cmp.value) {
        Some(op) => op.to_string(),
        None if cmp.value.trim().is_empty() => {
            // `comparison: >` unquoted is a YAML folded block scalar: an empty string, which
            // serde-saphyr places where the block ends (the next line).
            issues.push(
                &cmp.referenced,
                format!("{what}: comparison is empty"),
                "a bare `>` above starts a YAML block scalar, which ends here",
                Some("quote it: `comparison: \">\"`".into()),
            );
            cmp.value.clone()
        }
        None => {
            issues.push(
                &cmp.referenced,
                format!("{what}: unknown comparison `{}`", cmp.value),
                "not a comparison",
                Some("use \">\", \">=\", \"<\" or \"<=\" (quoted)".into()),
            );
            cmp.value.clone()
        }
    };

    let tuning = AlarmTuning {
        threshold: Some(c.threshold.clone()),
        period: c.period.clone(),
        evaluation_periods: c.evaluation_periods.clone(),
        datapoints: c.datapoints.clone(),
        missing_data: c.missing_data.clone(),
    };
    let defaults = Defaults {
        threshold: c.threshold.value,
        period: 60,
        evaluation_periods: 5,
        datapoints: None,
        missing_data: "missing",
        bound: Bound::Finite,
    };
    CustomAlarmModel {
        name: name.clone(),
        namespace: ns.value.clone(),
        metric: metric.value.clone(),
        dimensions,
        statistic: st.value.clone(),
        comparison,
        eval: check_eval(&tuning, &defaults, &what, issues),
    }
}

/// `>` -> `GreaterThanThreshold`...
pub fn comparison(op: &str) -> Option<&'static str> {
    COMPARISONS
        .iter()
        .find(|(sym, _)| *sym == op)
        .map(|(_, name)| *name)
}

/// Ok for a plain statistic or a percentile `p0`..`p100` (at most two decimals); else the label
/// and the help of the error.
pub fn statistic(s: &str) -> Result<(), (&'static str, String)> {
    if STATISTICS.contains(&s) {
        return Ok(());
    }
    let usage =
        "use Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99 or p99.9";
    if let Some(num) = s.strip_prefix('p') {
        let (int, frac) = match num.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (num, None),
        };
        let digits = |d: &str| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit());
        let well_formed = digits(int) && frac.is_none_or(|f| digits(f) && f.len() <= 2);
        if !well_formed {
            return Err((
                "not a percentile",
                "a percentile is p0 to p100 with at most two decimals, e.g. p99.9".into(),
            ));
        }
        return match num.parse::<f64>() {
            Ok(p) if p <= 100.0 => Ok(()),
            _ => Err(("must be p0 to p100", usage.to_string())),
        };
    }
    let lower = s.to_ascii_lowercase();
    let close = STATISTICS
        .iter()
        .find(|st| st.to_ascii_lowercase() == lower)
        .copied()
        .or_else(|| did_you_mean(s, STATISTICS.iter().copied()))
        .map(str::to_string)
        .or_else(|| {
            // `P99`: percentiles are lowercase.
            s.strip_prefix('P')
                .filter(|n| statistic(&format!("p{n}")).is_ok())
                .map(|n| format!("p{n}"))
        });
    Err((
        "not a statistic",
        match close {
            Some(c) => format!("did you mean `{c}`?"),
            None => usage.to_string(),
        },
    ))
}

/// A service's `deployment.rollback_alarms` -> (external alarm names, managed alarms).
pub(super) fn check_rollback(
    spec: &Spec,
    service: &Service,
    alarms: Option<&AlarmsModel>,
    issues: &mut Issues,
) -> (Vec<String>, Vec<ManagedAlarm>) {
    let is_on = |m: ManagedAlarm| alarms.is_some_and(|a| a.managed.iter().any(|x| x.alarm == m));
    let Some(list) = &service.deployment.rollback_alarms else {
        let managed = if is_on(ManagedAlarm::Target5xxRate) {
            vec![ManagedAlarm::Target5xxRate]
        } else {
            Vec::new()
        };
        return (Vec::new(), managed);
    };
    let mut external = Vec::new();
    let mut managed = Vec::new();
    let mut seen = HashSet::new();
    for entry in list {
        let v = &entry.value;
        if !seen.insert(v) {
            issues.push(
                &entry.referenced,
                format!("rollback alarm `{v}` is listed twice"),
                "duplicate",
                None,
            );
            continue;
        }
        match ManagedAlarm::from_key(v) {
            Some(_) if alarms.is_none() => issues.push(
                &entry.referenced,
                format!("rollback alarm `{v}` is a managed alarm, but alarms are off"),
                "alarms are off",
                Some(format!(
                    "remove `{v}` here, or turn alarms back on (`alarms: false`{})",
                    at_line(alarms_off_at(spec))
                )),
            ),
            Some(m) if !is_on(m) => issues.push(
                &entry.referenced,
                format!("rollback alarm `{v}` is turned off"),
                "alarm turned off",
                Some(format!(
                    "remove `{v}` here, or turn it back on (`alarms.{v}: false`{})",
                    at_line(managed_off_at(spec, m))
                )),
            ),
            Some(m) => managed.push(m),
            None => {
                if v.is_empty() || v.len() > MAX_ALARM_NAME {
                    issues.push(
                        &entry.referenced,
                        format!("invalid alarm name `{v}`"),
                        "must be 1 to 255 characters",
                        None,
                    );
                }
                external.push(v.clone());
            }
        }
    }
    managed.sort();
    (external, managed)
}

/// ` at line N`, or nothing.
fn at_line(at: Option<Location>) -> String {
    at.filter(|l| l.line() > 0)
        .map(|l| format!(" at line {}", l.line()))
        .unwrap_or_default()
}

pub(super) fn check_slo(spec: &Spec, s: &S<Slo>, issues: &mut Issues) -> SloModel {
    let slo = &s.value;
    if let Some(off) = alarms_off_at(spec) {
        issues.push(
            &s.referenced,
            "`slo` needs alarms: its burn-rate alerts are alarms, sent to the alarms' topic",
            "alarms are off",
            Some(format!(
                "remove `alarms: false`{}, or this `slo` section",
                at_line(Some(off))
            )),
        );
    }
    if slo.availability.is_none() && slo.latency.is_none() {
        issues.push(
            &s.referenced,
            "`slo` sets neither availability nor latency",
            "nothing to alert on",
            None,
        );
    }
    let availability = slo.availability.as_ref().map(|a| {
        if !(a.value.is_finite() && (90.0..100.0).contains(&a.value)) {
            issues.push(
                &a.referenced,
                format!("slo availability {} is out of range", a.value),
                "percent: at least 90, below 100",
                None,
            );
        }
        a.value
    });
    let latency = slo.latency.as_ref().map(|l| {
        let p = &l.percentile;
        if !(p.value.is_finite() && (50.0..100.0).contains(&p.value)) {
            issues.push(
                &p.referenced,
                format!("slo latency percentile {} is out of range", p.value),
                "at least 50, below 100",
                None,
            );
        }
        let t = &l.threshold_ms;
        if !(1..=60_000).contains(&t.value) {
            issues.push(
                &t.referenced,
                format!("slo latency threshold_ms {} is out of range", t.value),
                "must be 1 to 60000",
                None,
            );
        }
        LatencySloModel {
            percentile: p.value,
            threshold_ms: t.value,
        }
    });
    SloModel {
        availability,
        latency,
    }
}

#[cfg(test)]
mod tests {
    use super::super::validate::load_str;
    use super::*;

    fn model(body: &str) -> Model {
        let yaml = format!("name: web\nservice:\n  image: nginx\n{body}");
        match load_str("stack.yaml", &yaml, Some("us-east-1")) {
            Ok(m) => m,
            Err(e) => panic!(
                "{}",
                e.issues
                    .iter()
                    .map(|i| i.message.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }

    /// The messages of the issues `body` produces.
    fn problems(body: &str) -> Vec<String> {
        let yaml = format!("name: web\nservice:\n  image: nginx\n{body}");
        match load_str("stack.yaml", &yaml, Some("us-east-1")) {
            Ok(_) => Vec::new(),
            Err(e) => e.issues.into_iter().map(|i| i.message).collect(),
        }
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

    fn managed(m: &Model, alarm: ManagedAlarm) -> Option<Evaluation> {
        let a = m.alarms.as_ref().expect("alarms on");
        a.managed
            .iter()
            .find(|x| x.alarm == alarm)
            .map(|x| x.eval.clone())
    }

    #[test]
    fn no_alarms_key_means_every_managed_alarm_with_its_defaults() {
        let m = model("");
        let a = m.alarms.as_ref().unwrap();
        let got: Vec<_> = a.managed.iter().map(|x| x.alarm).collect();
        assert_eq!(got, ManagedAlarm::ALL);
        use ManagedAlarm::*;
        let nb = "notBreaching";
        let want = [
            (Target5xxRate, eval(5.0, 60, 5, 3, nb)),
            (Elb5xx, eval(10.0, 60, 5, 3, nb)),
            (LatencyP99, eval(1.0, 60, 5, 3, nb)),
            (UnhealthyHosts, eval(0.0, 60, 3, 3, nb)),
            // desired_count defaults to 2.
            (RunningTasksLow, eval(2.0, 60, 3, 3, "breaching")),
            (CpuHigh, eval(85.0, 60, 5, 3, nb)),
            (MemoryHigh, eval(90.0, 60, 5, 3, nb)),
        ];
        for (alarm, e) in want {
            assert_eq!(managed(&m, alarm).unwrap(), e, "{}", alarm.key());
        }
        assert!(a.custom.is_empty());
        assert!(a.notify.email.is_empty() && a.notify.https.is_empty());
        assert!(m.slo.is_none());
        assert!(m.dashboard);
        assert_eq!(
            m.services[&m.name].deployment.rollback_managed,
            [Target5xxRate]
        );
        assert!(m.services[&m.name].deployment.rollback_alarms.is_empty());
    }

    #[test]
    fn true_and_an_empty_map_are_the_defaults_too() {
        for body in [
            "alarms: true\n",
            "alarms: {}\n",
            "alarms:\n",
            "alarms: {cpu_high: {}}\n",
        ] {
            let m = model(body);
            assert_eq!(m.alarms.unwrap().managed.len(), 7, "{body}");
        }
    }

    #[test]
    fn alarms_false_turns_everything_off() {
        let m = model("alarms: false\ndashboard: false\n");
        assert!(m.alarms.is_none());
        assert!(!m.dashboard);
        assert!(m.services[&m.name].deployment.rollback_managed.is_empty());
    }

    #[test]
    fn one_managed_alarm_off_and_another_tuned() {
        let m = model(
            "alarms:\n  elb_5xx: false\n  cpu_high: {threshold: 70, period: 300, missing_data: ignore}\n  unhealthy_hosts: true\n",
        );
        assert!(managed(&m, ManagedAlarm::Elb5xx).is_none());
        assert_eq!(
            managed(&m, ManagedAlarm::CpuHigh).unwrap(),
            eval(70.0, 300, 5, 3, "ignore")
        );
        assert_eq!(m.alarms.unwrap().managed.len(), 6);
    }

    #[test]
    fn fewer_evaluation_periods_than_the_default_datapoints_lower_them() {
        let m = model("alarms:\n  latency_p99: {evaluation_periods: 2}\n");
        assert_eq!(
            managed(&m, ManagedAlarm::LatencyP99).unwrap(),
            eval(1.0, 60, 2, 2, "notBreaching")
        );
    }

    #[test]
    fn running_tasks_low_defaults_to_the_service_minimum() {
        let m = model("");
        assert_eq!(
            managed(&m, ManagedAlarm::RunningTasksLow)
                .unwrap()
                .threshold,
            2.0
        );
        let yaml = "name: web\nservice:\n  image: nginx\n  desired_count: 3\n";
        let m = load_str("stack.yaml", yaml, Some("us-east-1")).unwrap();
        assert_eq!(
            managed(&m, ManagedAlarm::RunningTasksLow)
                .unwrap()
                .threshold,
            3.0
        );
        let yaml = "name: web\nservice:\n  image: nginx\n  desired_count: 4\n  autoscaling: {min: 1, max: 6, cpu: 50}\n";
        let m = load_str("stack.yaml", yaml, Some("us-east-1")).unwrap();
        assert_eq!(
            managed(&m, ManagedAlarm::RunningTasksLow)
                .unwrap()
                .threshold,
            1.0
        );
        let m = model("alarms:\n  running_tasks_low: {threshold: 5}\n");
        assert_eq!(
            managed(&m, ManagedAlarm::RunningTasksLow)
                .unwrap()
                .threshold,
            5.0
        );
    }

    #[test]
    fn rollback_managed_by_default_and_explicit() {
        use ManagedAlarm::*;
        let m = model("alarms:\n  target_5xx_rate: false\n");
        assert!(m.services[&m.name].deployment.rollback_managed.is_empty());

        let yaml = "name: web\nservice:\n  image: nginx\n  deployment:\n    rollback_alarms: [latency_p99, my-own-alarm, target_5xx_rate]\n";
        let m = load_str("stack.yaml", yaml, Some("us-east-1")).unwrap();
        let d = &m.services[&m.name].deployment;
        assert_eq!(d.rollback_managed, [Target5xxRate, LatencyP99]);
        assert_eq!(d.rollback_alarms, ["my-own-alarm"]);

        let yaml = "name: web\nservice:\n  image: nginx\n  deployment:\n    rollback_alarms: []\n";
        let m = load_str("stack.yaml", yaml, Some("us-east-1")).unwrap();
        assert!(m.services[&m.name].deployment.rollback_managed.is_empty());
        assert!(m.services[&m.name].deployment.rollback_alarms.is_empty());

        // External names stay external when alarms are off.
        let yaml = "name: web\nservice:\n  image: nginx\n  deployment:\n    rollback_alarms: [theirs]\nalarms: false\n";
        let m = load_str("stack.yaml", yaml, Some("us-east-1")).unwrap();
        assert_eq!(m.services[&m.name].deployment.rollback_alarms, ["theirs"]);
        assert!(m.services[&m.name].deployment.rollback_managed.is_empty());
    }

    #[test]
    fn comparisons_map_to_cloudwatch_operators() {
        assert_eq!(comparison(">"), Some("GreaterThanThreshold"));
        assert_eq!(comparison(">="), Some("GreaterThanOrEqualToThreshold"));
        assert_eq!(comparison("<"), Some("LessThanThreshold"));
        assert_eq!(comparison("<="), Some("LessThanOrEqualToThreshold"));
        assert_eq!(comparison("=>"), None);
        assert_eq!(comparison("GreaterThanThreshold"), None);
    }

    #[test]
    fn a_custom_alarm_is_lowered_with_its_defaults() {
        let m = model(
            "alarms:\n  custom:\n    - name: queue-depth\n      namespace: AWS/SQS\n      metric: ApproximateNumberOfMessagesVisible\n      dimensions: {QueueName: jobs}\n      statistic: p99.9\n      comparison: \"<=\"\n      threshold: -1.5\n      evaluation_periods: 4\n",
        );
        let c = &m.alarms.unwrap().custom[0];
        assert_eq!(c.name, "queue-depth");
        assert_eq!(c.namespace, "AWS/SQS");
        assert_eq!(c.metric, "ApproximateNumberOfMessagesVisible");
        assert_eq!(c.dimensions["QueueName"], "jobs");
        assert_eq!(c.statistic, "p99.9");
        assert_eq!(c.comparison, "LessThanOrEqualToThreshold");
        // datapoints default to evaluation_periods; custom thresholds may be negative.
        assert_eq!(c.eval, eval(-1.5, 60, 4, 4, "missing"));
    }

    #[test]
    fn statistics_and_percentiles() {
        for ok in [
            "Average",
            "Sum",
            "Minimum",
            "Maximum",
            "SampleCount",
            "p0",
            "p50",
            "p99",
            "p99.9",
            "p99.99",
            "p100",
            "p100.0",
        ] {
            assert!(statistic(ok).is_ok(), "{ok}");
        }
        let err = |s: &str| statistic(s).unwrap_err();
        assert_eq!(err("p101").0, "must be p0 to p100");
        assert_eq!(err("p100.5").0, "must be p0 to p100");
        for bad in ["p", "p99.999", "p-1", "p99.", "p.5", "p9x", "pmax"] {
            assert_eq!(err(bad).0, "not a percentile", "{bad}");
        }
        assert_eq!(err("P99").1, "did you mean `p99`?");
        assert_eq!(err("average").1, "did you mean `Average`?");
        assert_eq!(err("Maximun").1, "did you mean `Maximum`?");
        assert!(err("mean").1.starts_with("use Average"));
    }

    #[test]
    fn periods() {
        for ok in [10, 30, 60, 120, 300, 3600, 86_400] {
            assert!(valid_period(ok), "{ok}");
        }
        for bad in [0, 1, 20, 45, 90, 61, 86_460, 172_800] {
            assert!(!valid_period(bad), "{bad}");
        }
    }

    #[test]
    fn every_rule_is_reported() {
        let p = problems(
            "alarms:\n  target_5xx_rate: {threshold: 101, period: 45, evaluation_periods: 0}\n  cpu_high: {period: 3600, evaluation_periods: 25, datapoints: 0}\n  memory_high: {evaluation_periods: 3, datapoints: 4, missing_data: notbreaching}\n  elb_5xx: {threshold: -1}\n",
        );
        assert_eq!(
            p,
            [
                "alarm `target_5xx_rate`: threshold 101 is out of range",
                "alarm `target_5xx_rate`: period 45 is not allowed",
                "alarm `target_5xx_rate`: evaluation_periods 0 is out of range",
                "alarm `elb_5xx`: threshold -1 is out of range",
                "alarm `cpu_high`: 25 periods of 3600s are 90000s, more than one day",
                "alarm `cpu_high`: datapoints 0 is out of range",
                "alarm `memory_high`: datapoints 4 is more than evaluation_periods 3",
                "alarm `memory_high`: unknown missing_data `notbreaching`",
            ]
        );
    }

    #[test]
    fn managed_alarm_names_fit_cloudwatch() {
        let stack = "a".repeat(super::super::names::MAX_STACK_NAME);
        for a in ManagedAlarm::ALL {
            assert!(stack.len() + 1 + a.key().len() <= MAX_ALARM_NAME);
            assert_eq!(ManagedAlarm::from_key(a.key()), Some(a));
        }
    }
}
