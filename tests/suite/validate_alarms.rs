//! `ballast validate` on `alarms:`, `slo:`, `dashboard:` and the managed entries of
//! `service.deployment.rollback_alarms`: every rule fails with file:line:col, a caret at the
//! offending token and exit 1, before any AWS call.

use crate::common;

use common::validate;

/// The minimal stack (lines 1-4) followed by `rest`, which starts on line 5.
fn spec(rest: &str) -> String {
    format!("name: web\nregion: us-east-1\nservice:\n  image: nginx:1.27\n{rest}")
}

/// `alarms:` on line 5 with `body` (indented 2) from line 6.
fn alarms(body: &str) -> String {
    spec(&format!("alarms:\n{body}"))
}

/// One custom alarm whose entries start on line 8 (`name` is on line 7).
fn custom(name: &str, rest: &str) -> String {
    alarms(&format!("  custom:\n    - name: {name}\n{rest}"))
}

/// The required keys of a custom alarm other than `name`, on lines 8-12.
const CUSTOM_REQUIRED: &str = "      namespace: AWS/SQS\n      metric: ApproximateNumberOfMessagesVisible\n      statistic: Maximum\n      comparison: \">\"\n      threshold: 1000\n";

const FULL: &str = "name: web
region: us-east-1
service:
  image: nginx:1.27
  desired_count: 2
  autoscaling: {min: 2, max: 4, cpu: 60}
  deployment:
    rollback_alarms: [target_5xx_rate, latency_p99, some-other-team-alarm]
alarms:
  notify:
    email: [oncall@example.com, team+alerts@mail.example.org]
    https: [https://hooks.example.com/alerts]
  target_5xx_rate: {threshold: 5, period: 60, evaluation_periods: 5, datapoints: 3}
  elb_5xx: {threshold: 10}
  latency_p99: {threshold: 1.0, missing_data: ignore}
  unhealthy_hosts: {threshold: 0, evaluation_periods: 3}
  running_tasks_low: {}
  cpu_high: {threshold: 85, period: 300, evaluation_periods: 3, datapoints: 2, missing_data: breaching}
  memory_high: true
  custom:
    - name: queue-depth
      namespace: AWS/SQS
      metric: ApproximateNumberOfMessagesVisible
      dimensions: {QueueName: jobs}
      statistic: Maximum
      comparison: \">\"
      threshold: 1000
      period: 60
      evaluation_periods: 5
      datapoints: 3
      missing_data: notBreaching
    - name: slow-db-p99-9
      namespace: Custom/App
      metric: DbQueryTime
      statistic: p99.9
      comparison: \">=\"
      threshold: 0.25
      period: 10
    - name: too-few-jobs
      namespace: Custom/App
      metric: JobsDone
      statistic: Sum
      comparison: \"<\"
      threshold: 1
      period: 3600
      evaluation_periods: 24
slo:
  availability: 99.9
  latency: {percentile: 99, threshold_ms: 300}
dashboard: true
";

#[test]
fn a_full_alarms_block_is_valid() {
    let (code, err) = validate(FULL);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stack.yaml is valid"), "{err}");
}

#[test]
fn alarms_can_be_turned_off_with_external_rollback_alarms() {
    let (code, err) = validate(&spec(
        "  deployment:\n    rollback_alarms: [made-elsewhere]\nalarms: false\ndashboard: false\n",
    ));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn every_managed_alarm_can_be_turned_off_one_by_one() {
    let (code, err) = validate(&alarms(
        "  target_5xx_rate: false\n  elb_5xx: false\n  latency_p99: false\n  unhealthy_hosts: false\n  running_tasks_low: false\n  cpu_high: false\n  memory_high: false\n",
    ));
    assert_eq!(code, 0, "{err}");
}

macro_rules! rejects {
    ($name:ident, $yaml:expr, $($needle:expr),+) => {
        #[test]
        fn $name() {
            let (code, err) = validate(&$yaml);
            assert_eq!(code, 1, "{err}");
            $( assert!(err.contains($needle), "missing {:?} in:\n{err}", $needle); )+
            insta::assert_snapshot!(stringify!($name), err);
        }
    };
}

// Keys and types.

rejects!(
    unknown_managed_alarm_suggests_the_right_one,
    alarms("  cpu_hihg: {threshold: 80}\n"),
    "unknown key `cpu_hihg`",
    "stack.yaml:6:3",
    "did you mean `cpu_high`?"
);

rejects!(
    unknown_tuning_key_suggests_the_right_one,
    alarms("  latency_p99: {treshold: 2}\n"),
    "unknown key `treshold`",
    "stack.yaml:6:17",
    "did you mean `threshold`?"
);

rejects!(
    unknown_top_level_alarms_key,
    spec("alarm: false\n"),
    "unknown key `alarm`",
    "stack.yaml:5:1",
    "did you mean `alarms`?"
);

rejects!(
    alarm_that_is_neither_a_boolean_nor_a_map,
    alarms("  cpu_high: 80\n"),
    "wrong type for `cpu_high`: expected true, false or a map, got `80`",
    "stack.yaml:6:13"
);

rejects!(
    alarms_that_is_neither_a_boolean_nor_a_map,
    spec("alarms: [cpu_high]\n"),
    "wrong type for `alarms`: expected true, false or a map, got a list",
    "stack.yaml:5:9"
);

rejects!(
    threshold_that_is_not_a_number,
    alarms("  cpu_high:\n    threshold: high\n"),
    "wrong type: expected a number",
    "stack.yaml:7:16"
);

// Thresholds.

rejects!(
    percent_threshold_above_100,
    alarms("  target_5xx_rate: {threshold: 150}\n"),
    "alarm `target_5xx_rate`: threshold 150 is out of range",
    "stack.yaml:6:32",
    "percent: must be 0 to 100"
);

rejects!(
    negative_threshold,
    alarms("  latency_p99:\n    threshold: -0.5\n"),
    "alarm `latency_p99`: threshold -0.5 is out of range",
    "stack.yaml:7:16",
    "must be at least 0"
);

rejects!(
    threshold_that_is_not_finite,
    alarms("  elb_5xx:\n    threshold: .inf\n"),
    "alarm `elb_5xx`: threshold must be a finite number",
    "stack.yaml:7:16"
);

// Periods and datapoints.

rejects!(
    period_that_cloudwatch_does_not_take,
    alarms("  cpu_high:\n    period: 45\n"),
    "alarm `cpu_high`: period 45 is not allowed",
    "stack.yaml:7:13",
    "must be 10, 30 or a multiple of 60"
);

rejects!(
    period_longer_than_a_day,
    alarms("  memory_high:\n    period: 172800\n    evaluation_periods: 1\n"),
    "alarm `memory_high`: period 172800 is not allowed",
    "stack.yaml:7:13",
    "at most 86400 (one day)"
);

rejects!(
    zero_evaluation_periods,
    alarms("  unhealthy_hosts:\n    evaluation_periods: 0\n"),
    "alarm `unhealthy_hosts`: evaluation_periods 0 is out of range",
    "stack.yaml:7:25",
    "must be at least 1"
);

rejects!(
    evaluation_window_longer_than_a_day,
    alarms("  cpu_high:\n    period: 3600\n    evaluation_periods: 25\n"),
    "alarm `cpu_high`: 25 periods of 3600s are 90000s, more than one day",
    "stack.yaml:8:25",
    "period × evaluation_periods > 86400"
);

rejects!(
    more_datapoints_than_evaluation_periods,
    alarms("  target_5xx_rate: {evaluation_periods: 3, datapoints: 4}\n"),
    "alarm `target_5xx_rate`: datapoints 4 is more than evaluation_periods 3",
    "stack.yaml:6:56",
    "must be 1 to 3"
);

rejects!(
    zero_datapoints,
    alarms("  elb_5xx:\n    datapoints: 0\n"),
    "alarm `elb_5xx`: datapoints 0 is out of range",
    "stack.yaml:7:17",
    "must be 1 to 5"
);

rejects!(
    missing_data_typo,
    alarms("  running_tasks_low:\n    missing_data: notbreaching\n"),
    "alarm `running_tasks_low`: unknown missing_data `notbreaching`",
    "stack.yaml:7:19",
    "did you mean `notBreaching`?"
);

// Notify.

rejects!(
    email_that_is_not_an_address,
    alarms("  notify:\n    email: [oncall@example.com, oncall.example.com, a b@example.com]\n"),
    "`oncall.example.com` is not an email address",
    "stack.yaml:7:33",
    "`a b@example.com` is not an email address",
    "stack.yaml:7:53"
);

rejects!(
    https_endpoint_that_is_plain_http,
    alarms("  notify:\n    https:\n      - http://hooks.example.com/alerts\n"),
    "`http://hooks.example.com/alerts` is not an HTTPS URL",
    "stack.yaml:8:9",
    "use https://"
);

rejects!(
    notify_endpoint_listed_twice,
    alarms("  notify:\n    email:\n      - oncall@example.com\n      - oncall@example.com\n"),
    "`oncall@example.com` is listed twice",
    "stack.yaml:9:9"
);

rejects!(
    unknown_notify_key,
    alarms("  notify:\n    emails: [oncall@example.com]\n"),
    "unknown key `emails`",
    "stack.yaml:7:5",
    "did you mean `email`?"
);

// Custom alarms.

rejects!(
    custom_alarm_name_with_uppercase_and_underscores,
    custom("Queue_Depth", CUSTOM_REQUIRED),
    "invalid custom alarm name `Queue_Depth`",
    "stack.yaml:7:13"
);

rejects!(
    custom_alarm_defined_twice,
    alarms(&format!(
        "  custom:\n    - name: queue-depth\n{CUSTOM_REQUIRED}    - name: queue-depth\n{CUSTOM_REQUIRED}"
    )),
    "custom alarm `queue-depth` is defined twice",
    "stack.yaml:13:13"
);

rejects!(
    custom_alarm_named_like_a_managed_one,
    custom("cpu-high", CUSTOM_REQUIRED),
    "custom alarm name `cpu-high` is taken by the managed alarm `cpu_high`",
    "stack.yaml:7:13",
    "tune the managed one under `alarms.cpu_high`"
);

rejects!(
    custom_alarm_name_too_long_for_cloudwatch,
    custom(&"q".repeat(252), CUSTOM_REQUIRED),
    "`web-<name>` would be 256 characters",
    "252 characters, at most 251",
    "stack.yaml:7:13"
);

rejects!(
    custom_alarm_missing_a_required_key,
    custom(
        "queue-depth",
        "      namespace: AWS/SQS\n      metric: ApproximateNumberOfMessagesVisible\n      comparison: \">\"\n      threshold: 1000\n"
    ),
    "missing required key `statistic`"
);

rejects!(
    custom_alarm_unknown_key,
    custom(
        "queue-depth",
        &format!("{CUSTOM_REQUIRED}      dimension: {{QueueName: jobs}}\n")
    ),
    "unknown key `dimension`",
    "stack.yaml:13:7",
    "did you mean `dimensions`?"
);

rejects!(
    custom_alarm_unknown_statistic,
    custom(
        "queue-depth",
        &CUSTOM_REQUIRED.replace("statistic: Maximum", "statistic: Avg")
    ),
    "custom alarm `queue-depth`: unknown statistic `Avg`",
    "stack.yaml:10:18",
    "use Average, Sum, Minimum, Maximum, SampleCount or a percentile"
);

rejects!(
    custom_alarm_statistic_in_the_wrong_case,
    custom(
        "queue-depth",
        &CUSTOM_REQUIRED.replace("statistic: Maximum", "statistic: maximum")
    ),
    "unknown statistic `maximum`",
    "did you mean `Maximum`?"
);

rejects!(
    custom_alarm_percentile_out_of_range,
    custom(
        "queue-depth",
        &CUSTOM_REQUIRED.replace("statistic: Maximum", "statistic: p101")
    ),
    "custom alarm `queue-depth`: invalid percentile `p101`",
    "stack.yaml:10:18",
    "must be p0 to p100"
);

rejects!(
    custom_alarm_percentile_with_three_decimals,
    custom(
        "queue-depth",
        &CUSTOM_REQUIRED.replace("statistic: Maximum", "statistic: p99.999")
    ),
    "invalid percentile `p99.999`",
    "at most two decimals"
);

rejects!(
    custom_alarm_unknown_comparison,
    custom(
        "queue-depth",
        &CUSTOM_REQUIRED.replace("comparison: \">\"", "comparison: \"=>\"")
    ),
    "custom alarm `queue-depth`: unknown comparison `=>`",
    "stack.yaml:11:19"
);

rejects!(
    custom_alarm_unquoted_greater_than,
    custom(
        "queue-depth",
        &CUSTOM_REQUIRED.replace("comparison: \">\"", "comparison: >")
    ),
    "custom alarm `queue-depth`: comparison is empty",
    "quote it"
);

rejects!(
    custom_alarm_with_too_many_dimensions,
    custom(
        "queue-depth",
        &format!(
            "{CUSTOM_REQUIRED}      dimensions: {{{}}}\n",
            (0..31)
                .map(|i| format!("D{i}: v"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    ),
    "custom alarm `queue-depth` has 31 dimensions, CloudWatch allows 30",
    "stack.yaml:13:19"
);

rejects!(
    custom_alarm_empty_namespace_and_dimension,
    custom(
        "queue-depth",
        &format!(
            "{}      dimensions: {{QueueName: \"\"}}\n",
            CUSTOM_REQUIRED.replace("namespace: AWS/SQS", "namespace: \"\"")
        )
    ),
    "custom alarm `queue-depth`: namespace is empty",
    "stack.yaml:8:18",
    "custom alarm `queue-depth`: dimension `QueueName` has an empty value",
    "stack.yaml:13:31"
);

rejects!(
    custom_alarm_evaluation_rules,
    custom(
        "queue-depth",
        &format!("{CUSTOM_REQUIRED}      period: 90\n      evaluation_periods: 2\n      datapoints: 3\n      missing_data: zero\n")
    ),
    "custom alarm `queue-depth`: period 90 is not allowed",
    "stack.yaml:13:15",
    "custom alarm `queue-depth`: datapoints 3 is more than evaluation_periods 2",
    "stack.yaml:15:19",
    "custom alarm `queue-depth`: unknown missing_data `zero`",
    "expected one of: missing, notBreaching, breaching, ignore"
);

rejects!(
    custom_alarm_threshold_that_is_not_finite,
    custom(
        "queue-depth",
        &CUSTOM_REQUIRED.replace("threshold: 1000", "threshold: .nan")
    ),
    "custom alarm `queue-depth`: threshold must be a finite number",
    "stack.yaml:12:18"
);

// Rollback alarms.

rejects!(
    rollback_on_a_managed_alarm_that_is_off,
    spec("  deployment:\n    rollback_alarms: [target_5xx_rate, latency_p99]\nalarms:\n  latency_p99: false\n"),
    "rollback alarm `latency_p99` is turned off",
    "stack.yaml:6:40",
    "`alarms.latency_p99: false` at line 8"
);

rejects!(
    rollback_on_a_managed_alarm_with_alarms_off,
    spec("  deployment:\n    rollback_alarms:\n      - target_5xx_rate\nalarms: false\n"),
    "rollback alarm `target_5xx_rate` is a managed alarm, but alarms are off",
    "stack.yaml:7:9",
    "`alarms: false` at line 8"
);

rejects!(
    rollback_alarm_listed_twice,
    spec("  deployment:\n    rollback_alarms: [latency_p99, latency_p99]\n"),
    "rollback alarm `latency_p99` is listed twice",
    "stack.yaml:6:36"
);

// SLO and dashboard.

rejects!(
    slo_availability_out_of_range,
    spec("slo:\n  availability: 100\n"),
    "slo availability 100 is out of range",
    "stack.yaml:6:17",
    "at least 90, below 100"
);

rejects!(
    slo_availability_too_low,
    spec("slo:\n  availability: 89.5\n"),
    "slo availability 89.5 is out of range",
    "stack.yaml:6:17"
);

rejects!(
    slo_latency_out_of_range,
    spec("slo:\n  latency: {percentile: 49, threshold_ms: 60001}\n"),
    "slo latency percentile 49 is out of range",
    "stack.yaml:6:25",
    "slo latency threshold_ms 60001 is out of range",
    "stack.yaml:6:43"
);

rejects!(
    slo_without_objectives,
    spec("slo: {}\n"),
    "`slo` sets neither availability nor latency",
    "stack.yaml:5:6"
);

rejects!(
    slo_with_alarms_off,
    spec("alarms: false\nslo:\n  availability: 99.9\n"),
    "`slo` needs alarms",
    "stack.yaml:7:3",
    "remove `alarms: false` at line 5"
);

rejects!(
    slo_unknown_key,
    spec("slo:\n  availabilty: 99.9\n"),
    "unknown key `availabilty`",
    "did you mean `availability`?"
);

rejects!(
    dashboard_that_is_not_a_boolean,
    spec("dashboard: maybe\n"),
    "wrong type: expected true or false",
    "stack.yaml:5:12"
);
