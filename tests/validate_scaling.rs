//! `ballast validate` on `service.autoscaling`: bad bounds, targets and schedules fail with exit 1
//! before any AWS call.

use std::process::Command;

fn validate(yaml: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .current_dir(dir.path())
        .args(["validate", "stack.yaml"])
        .env("NO_COLOR", "1")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        // Validation must never reach AWS: an unroutable endpoint proves it.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

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
    // 15 base resources + target + 3 policies + 3 scheduled actions.
    assert!(err.contains("22 resources"), "{err}");
}

macro_rules! rejects {
    ($name:ident, $yaml:expr, $($needle:expr),+) => {
        #[test]
        fn $name() {
            let (code, err) = validate(&$yaml);
            assert_eq!(code, 1, "{err}");
            $( assert!(err.contains($needle), "missing {:?} in:\n{err}", $needle); )+
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
