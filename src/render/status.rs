//! `ballast status` for people.

use std::fmt::Write;

use super::Style;
use crate::inspect::dns::{NameAnswer, FALLBACK};
use crate::inspect::status::{AzTargets, Scaling, ServiceHealth, StackStatus};

pub fn render(s: &StackStatus, st: Style) -> String {
    let mut out = format!("{} \"{}\" in {}\n\n", st.bold("Stack"), s.stack, s.region);
    if s.maintenance {
        let _ = writeln!(
            out,
            "{} the load balancer answers 503 with the maintenance page (`ballast maintenance off FILE` ends it)\n",
            st.yellow(&st.bold("In maintenance:"))
        );
    }
    if s.services.is_empty() {
        service(&mut out, s.service.as_ref(), s.scaling.as_ref(), st);
        out.push('\n');
        match &s.load_balancer {
            None => out.push_str("Load balancer: not deployed\n"),
            Some(lb) => {
                let _ = writeln!(out, "{} http://{}/", st.bold("Load balancer"), lb.dns_name);
                targets(&mut out, &lb.by_az, st);
            }
        }
    } else {
        match &s.load_balancer {
            None => out.push_str("Load balancer: not deployed\n"),
            Some(lb) => {
                let _ = writeln!(out, "{} http://{}/", st.bold("Load balancer"), lb.dns_name);
            }
        }
        for part in &s.services {
            out.push('\n');
            if part.service.is_none() {
                let _ = writeln!(out, "Service {}: not deployed", part.name);
                continue;
            }
            service(&mut out, part.service.as_ref(), part.scaling.as_ref(), st);
            match &part.targets {
                Some(by_az) => targets(&mut out, by_az, st),
                None => out.push_str(
                    "  internal:         no load balancer; the stack's services call it by name\n",
                ),
            }
        }
    }
    if let Some(h) = &s.health_check {
        let state = if h.healthy {
            st.green("healthy")
        } else {
            st.red("unhealthy")
        };
        let _ = writeln!(
            out,
            "\n{} {} {state}, {}/{} observations healthy{}",
            st.bold("Route 53 health check"),
            h.id,
            h.healthy_observations,
            h.observations,
            if h.inverted {
                format!(
                    " ({})",
                    st.yellow("inverted: a drill is running or was interrupted")
                )
            } else {
                String::new()
            }
        );
        if !h.last_status.is_empty() {
            let _ = writeln!(out, "  last status: {}", st.dim(&h.last_status));
        }
    }
    if !s.alarms.is_empty() {
        let firing = s.alarms.iter().filter(|a| a.state == "ALARM").count();
        let _ = writeln!(
            out,
            "\n{} {} ({} in ALARM)",
            st.bold("Alarms"),
            s.alarms.len(),
            firing
        );
        for a in &s.alarms {
            let state = match a.state.as_str() {
                "OK" => st.green(&a.state),
                "ALARM" => st.red(&a.state),
                other => st.yellow(other),
            };
            let _ = writeln!(out, "  {:<40} {state}", a.name);
            if a.state != "OK" && !a.reason.is_empty() {
                let _ = writeln!(out, "    {}", st.dim(&a.reason));
            }
        }
    }
    let services = s
        .service
        .iter()
        .chain(s.services.iter().filter_map(|p| p.service.as_ref()));
    for svc in services {
        if !svc.events.is_empty() {
            if s.services.is_empty() {
                out.push_str("\nRecent events:\n");
            } else {
                let _ = writeln!(out, "\nRecent events of {}:", svc.name);
            }
            for e in &svc.events {
                let _ = writeln!(out, "  {e}");
            }
        }
    }
    out
}

/// One service: its tasks, task definition, capacity, last deployment and scaling.
fn service(out: &mut String, svc: Option<&ServiceHealth>, scaling: Option<&Scaling>, st: Style) {
    match svc {
        None => out.push_str("Service: not deployed\n"),
        Some(svc) => {
            let ok = svc.running >= svc.desired;
            let tasks = format!("{}/{} running", svc.running, svc.desired);
            let _ = writeln!(out, "{} {} ({})", st.bold("Service"), svc.name, svc.status);
            let _ = writeln!(
                out,
                "  tasks:            {}, {} pending",
                if ok {
                    st.green(&tasks)
                } else {
                    st.yellow(&tasks)
                },
                svc.pending
            );
            let _ = writeln!(out, "  task definition:  {}", svc.task_definition);
            let cap: Vec<String> = svc
                .capacity
                .iter()
                .map(|c| format!("{} base {} weight {}", c.provider, c.base, c.weight))
                .collect();
            if !cap.is_empty() {
                let _ = writeln!(out, "  capacity:         {}", cap.join(", "));
            }
            match svc.deployments.first() {
                Some(d) => {
                    let state = match d.rollout_state.as_str() {
                        "COMPLETED" => st.green(&d.rollout_state),
                        "FAILED" => st.red(&d.rollout_state),
                        other => st.yellow(other),
                    };
                    let _ = writeln!(
                        out,
                        "  last deployment:  {} {state}: {}/{} running, {} failed tasks{}",
                        d.id,
                        d.running,
                        d.desired,
                        d.failed_tasks,
                        if d.reason.is_empty() {
                            String::new()
                        } else {
                            format!(" — {}", d.reason)
                        }
                    );
                    if svc.deployments.len() > 1 {
                        let _ = writeln!(
                            out,
                            "                    ({} deployments active)",
                            svc.deployments.len()
                        );
                    }
                }
                None => out.push_str("  last deployment:  none\n"),
            }
        }
    }
    match scaling {
        Some(sc) => {
            let _ = writeln!(out, "  scaling:          {}..{} tasks", sc.min, sc.max);
            for p in &sc.policies {
                let _ = writeln!(out, "    policy   {p}");
            }
            for a in &sc.schedules {
                let _ = writeln!(out, "    schedule {a}");
            }
        }
        None if svc.is_some() => {
            out.push_str("  scaling:          fixed desired count (no autoscaling)\n")
        }
        None => {}
    }
}

/// Healthy targets per AZ.
fn targets(out: &mut String, by_az: &std::collections::BTreeMap<String, AzTargets>, st: Style) {
    out.push_str("  healthy targets per AZ:\n");
    for (az, t) in by_az {
        let counts = format!("{}/{}", t.healthy, t.total);
        let counts = if t.total > 0 && t.healthy == t.total {
            st.green(&counts)
        } else {
            st.yellow(&counts)
        };
        let _ = writeln!(out, "    {az:<16} {counts} healthy");
        for u in &t.unhealthy {
            let _ = writeln!(out, "      {}", st.dim(u));
        }
    }
}

/// What Route 53 answers for the stack's name, shown once after every region.
pub fn render_dns(a: &NameAnswer, st: Style) -> String {
    let values = if a.values.is_empty() {
        format!("no data ({})", a.response_code)
    } else {
        a.values.join(", ")
    };
    let target = match a.target.as_deref() {
        Some(FALLBACK) => st.yellow("the fallback page"),
        Some(r) => st.green(r),
        None => st.yellow("not one of the stack's targets"),
    };
    format!(
        "\n{} {} (zone {}) answers {values}: {target}\n",
        st.bold("Route 53"),
        a.name,
        a.zone
    )
}
