//! `ballast validate` on `service.autoscaling`: bad bounds, targets and schedules fail with exit 1
//! before any AWS call.

use crate::common;

use common::{inventory, rejects, total, validate, web_inventory};

/// A spec with `desired_count: 2` and the given `autoscaling:` body (indented 4).
fn spec(autoscaling: &str) -> String {
    format!(
        "name: web\nregion: us-east-1\nservice:\n  image: nginx:1.27\n  desired_count: 2\n  autoscaling:\n{autoscaling}"
    )
}

/// One schedule under min 1, max 4, cpu 50.
fn schedule(body: &str) -> String {
    spec(&format!(
        "    min: 1\n    max: 4\n    cpu: 50\n    schedules:\n      - name: s\n{body}"
    ))
}

#[test]
fn a_full_autoscaling_block_is_valid() {
    let (code, err) = validate(&spec(
        "    min: 2\n    max: 6\n    cpu: 60\n    memory: 80\n    requests_per_target: 500\n    scale_in_cooldown: 120\n    scale_out_cooldown: 30\n    disable_scale_in: false\n    schedules:\n      - name: morning\n        cron: cron(0 8 ? * MON-FRI *)\n        timezone: Europe/Berlin\n        min: 4\n      - name: night\n        cron: 0 22 * * ? *\n        max: 2\n      - name: daily\n        cron: rate(1 day)\n        min: 2\n        max: 6\n",
    ));
    assert_eq!(code, 0, "{err}");
    // The web stack + a target, 3 policies and 3 scheduled actions.
    let base = web_inventory("web", "us-east-1", &["us-east-1a", "us-east-1b"]);
    let scaling = inventory(&[
        ("aws_appautoscaling_target", &["service/web/web"]),
        (
            "aws_appautoscaling_policy",
            &["web-cpu", "web-memory", "web-requests"],
        ),
        (
            "aws_appautoscaling_scheduled_action",
            &["web-morning", "web-night", "web-daily"],
        ),
    ]);
    let n = total(&base) + total(&scaling);
    assert!(err.contains(&format!("{n} resources")), "{err}");
}

macro_rules! rejects {
    ($name:ident, $yaml:expr, $($needle:expr),+) => {
        #[test]
        fn $name() {
            rejects(&$yaml, &[$($needle),+]);
        }
    };
}

rejects!(
    min_above_max,
    spec("    min: 5\n    max: 3\n    cpu: 50\n"),
    "autoscaling min 5 is above max 3",
    "stack.yaml:7:10"
);

rejects!(
    desired_count_outside_min_max,
    spec("    min: 3\n    max: 6\n    cpu: 50\n"),
    "desired_count 2 is outside autoscaling 3..6",
    "must be within min..max"
);

rejects!(
    cpu_target_zero,
    spec("    min: 1\n    max: 4\n    cpu: 0\n"),
    "cpu target 0 is out of range",
    "must be 1 to 100"
);

rejects!(
    cpu_target_above_100,
    spec("    min: 1\n    max: 4\n    cpu: 150\n"),
    "cpu target 150 is out of range",
    "must be 1 to 100"
);

rejects!(
    cron_hour_out_of_range,
    schedule("        cron: cron(0 25 * * ? *)\n        min: 2\n"),
    "invalid schedule `cron(0 25 * * ? *)`",
    "`25` is not a valid hours value (0-23)"
);

rejects!(
    cron_with_both_day_fields,
    schedule("        cron: cron(0 8 1 * MON *)\n        min: 2\n"),
    "one of day-of-month and day-of-week must be `?`"
);

rejects!(
    timezone_that_is_not_iana,
    schedule("        cron: cron(0 8 ? * MON-FRI *)\n        timezone: Berlin\n        min: 2\n"),
    "`Berlin` is not an IANA time zone",
    "Europe/Berlin"
);

rejects!(
    schedule_without_min_or_max,
    schedule("        cron: rate(1 hour)\n"),
    "schedule `s` sets neither min nor max"
);
