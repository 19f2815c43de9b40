//! `service.autoscaling:`: bounds, target tracking and schedules.

use std::collections::HashSet;

use super::error::Issues;
use super::limits::*;
use super::model::*;
use super::types::*;

pub(super) fn check_autoscaling(
    a: &Autoscaling,
    s: &Service,
    desired: u32,
    issues: &mut Issues,
) -> AutoscalingModel {
    let min = range(&Some(a.min.clone()), 0, 0, 10_000, "min", issues);
    let max = range(&Some(a.max.clone()), 0, 1, 10_000, "max", issues);
    if min > max {
        issues.push(
            &a.min.referenced,
            format!("autoscaling min {min} is above max {max}"),
            "min > max",
            None,
        );
    }
    if desired < min || desired > max {
        let at = s
            .desired_count
            .as_ref()
            .map(|d| d.referenced)
            .unwrap_or(a.min.referenced);
        issues.push(
            &at,
            format!("desired_count {desired} is outside autoscaling {min}..{max}"),
            "must be within min..max",
            None,
        );
    }
    let pct = |v: &Option<S<u32>>, what: &str, issues: &mut Issues| {
        v.as_ref().map(|_| range(v, 0, 1, 100, what, issues))
    };
    let cpu = pct(&a.cpu, "cpu target", issues);
    let memory = pct(&a.memory, "memory target", issues);
    let requests_per_target = a.requests_per_target.as_ref().map(|_| {
        range(
            &a.requests_per_target,
            0,
            1,
            1_000_000,
            "requests_per_target",
            issues,
        )
    });
    if cpu.is_none() && memory.is_none() && requests_per_target.is_none() && a.schedules.is_empty()
    {
        issues.push(
            &a.min.referenced,
            "autoscaling needs a target (cpu, memory or requests_per_target) or a schedule",
            "nothing to scale on",
            None,
        );
    }
    let mut names = HashSet::new();
    let schedules = a
        .schedules
        .iter()
        .map(|sc| {
            let n = &sc.name.value;
            if n.is_empty() || n.len() > 200 || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                issues.push(&sc.name.referenced, format!("invalid schedule name `{n}`"), "letters, digits, - and _", None);
            }
            if !names.insert(n.clone()) {
                issues.push(&sc.name.referenced, format!("schedule `{n}` is defined twice"), "duplicate", None);
            }
            let expression = match schedule_expression(&sc.cron.value) {
                Ok(e) => e,
                Err(why) => {
                    issues.push(&sc.cron.referenced, format!("invalid schedule `{}`: {why}", sc.cron.value), "not a schedule expression", Some("e.g. `cron(0 8 ? * MON-FRI *)`, `0 8 ? * MON-FRI *`, `rate(1 day)` or `at(2026-12-24T18:00:00)`".into()));
                    sc.cron.value.clone()
                }
            };
            let timezone = match &sc.timezone {
                Some(tz) => {
                    let ok = tz.value == "UTC" || (tz.value.contains('/') && tz.value.chars().all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c)));
                    if !ok {
                        issues.push(&tz.referenced, format!("`{}` is not an IANA time zone", tz.value), "e.g. Europe/Berlin", None);
                    }
                    tz.value.clone()
                }
                None => "UTC".into(),
            };
            let smin = sc.min.as_ref().map(|v| v.value);
            let smax = sc.max.as_ref().map(|v| v.value);
            if smin.is_none() && smax.is_none() {
                issues.push(&sc.name.referenced, format!("schedule `{n}` sets neither min nor max"), "nothing to change", None);
            }
            if let (Some(lo), Some(hi), Some(at)) = (smin, smax, sc.min.as_ref()) {
                if lo > hi {
                    issues.push(&at.referenced, format!("schedule min {lo} is above its max {hi}"), "min > max", None);
                }
            }
            ScheduleModel { name: n.clone(), expression, timezone, min: smin, max: smax }
        })
        .collect();
    AutoscalingModel {
        min,
        max,
        cpu,
        memory,
        requests_per_target,
        scale_in_cooldown: range(
            &a.scale_in_cooldown,
            300,
            0,
            3600,
            "scale_in_cooldown",
            issues,
        ),
        scale_out_cooldown: range(
            &a.scale_out_cooldown,
            60,
            0,
            3600,
            "scale_out_cooldown",
            issues,
        ),
        disable_scale_in: a.disable_scale_in.unwrap_or(false),
        schedules,
    }
}

/// Normalize and check an Application Auto Scaling schedule expression.
pub fn schedule_expression(s: &str) -> Result<String, String> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut p = inner.split_whitespace();
        let (Some(n), Some(unit), None) = (p.next(), p.next(), p.next()) else {
            return Err("rate needs `<n> <unit>`".into());
        };
        let n: u32 = n
            .parse()
            .map_err(|_| format!("`{n}` is not a positive number"))?;
        let units = ["minute", "minutes", "hour", "hours", "day", "days"];
        if n == 0 || !units.contains(&unit) {
            return Err(format!(
                "expected a positive count of minutes, hours or days, got `{inner}`"
            ));
        }
        return Ok(s.to_string());
    }
    if let Some(inner) = s.strip_prefix("at(").and_then(|r| r.strip_suffix(')')) {
        let ok = inner.len() == 19
            && inner.as_bytes()[10] == b'T'
            && inner.chars().enumerate().all(|(i, c)| match i {
                4 | 7 => c == '-',
                10 => c == 'T',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            });
        return if ok {
            Ok(s.to_string())
        } else {
            Err("at() needs yyyy-mm-ddThh:mm:ss".into())
        };
    }
    let inner = s
        .strip_prefix("cron(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(s);
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {}",
            fields.len()
        ));
    }
    let checks: [(&str, u32, u32, &str); 6] = [
        ("minutes", 0, 59, ",-*/"),
        ("hours", 0, 23, ",-*/"),
        ("day-of-month", 1, 31, ",-*?/LW"),
        ("month", 1, 12, ",-*/"),
        ("day-of-week", 1, 7, ",-*?/L#"),
        ("year", 1970, 2199, ",-*/"),
    ];
    for (f, (name, lo, hi, special)) in fields.iter().zip(checks) {
        let names_ok = |w: &str| match name {
            "month" => [
                "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
            ]
            .contains(&w),
            "day-of-week" => ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"].contains(&w),
            _ => false,
        };
        for part in f
            .split(|c: char| special.contains(c))
            .filter(|p| !p.is_empty())
        {
            let ok = match part.parse::<u32>() {
                Ok(v) => (lo..=hi).contains(&v) || (f.contains('/') && v > 0),
                Err(_) => names_ok(&part.to_ascii_uppercase()),
            };
            if !ok {
                return Err(format!("`{part}` is not a valid {name} value ({lo}-{hi})"));
            }
        }
    }
    if fields[2] != "?" && fields[4] != "?" {
        return Err("one of day-of-month and day-of-week must be `?`".into());
    }
    Ok(format!("cron({})", fields.join(" ")))
}
