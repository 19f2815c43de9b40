//! `ballast drill FILE --region R`: a failover drill. It inverts region R's Route 53 health
//! check (so Route 53 sees R as down), waits until the name answers with something other than
//! R's load balancer, holds that for `--for`, and inverts the check back. Ctrl-C, a timeout and
//! every error after the inversion restore it too; a deploy restores a drill that could not
//! (the spec's `inverted` is always false).

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::Clients;
use crate::cli::{Global, Output};
use crate::engine::Value;
use crate::error::Error;
use crate::inspect::dns::{self, Answer, CheckHealth, Targets};
use crate::render::Style;
use crate::resources::health_check;
use crate::resources::route53::{self, FoundCheck, TAG_REGION};
use crate::spec::Names;

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long the region stays failed over, counted from the inversion.
    pub hold: Duration,
    /// How long to wait for Route 53 to fail over.
    pub timeout: Duration,
    pub poll: Duration,
    pub yes: bool,
    pub output: Output,
    pub lock: super::lock::Options,
}

/// `--output json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub region: String,
    /// `None` when Route 53 did not fail over.
    pub failed_over_after_seconds: Option<f64>,
    pub answered_before: String,
    /// What Route 53 answered when failover was seen (or at the end, when it was not).
    pub answered_after: String,
    /// The region (or `fallback`) of each answer, when known.
    pub target_before: Option<String>,
    pub target_after: Option<String>,
    /// The health check is not inverted any more.
    pub restored: bool,
    /// Ctrl-C ended the drill.
    pub interrupted: bool,
}

pub async fn run(file: &Path, region: Option<&str>, o: Options, g: &Global) -> Result<i32, Error> {
    // `--region` names the region to fail over; it does not pick the spec's region.
    let model = super::load_in(file, None)?;
    let Some(region) = region else {
        return Err(Error::Usage(format!(
            "drill needs --region: the region to fail over, one of [{}]",
            model.regions.join(", ")
        )));
    };
    let Some(dns) = &model.dns else {
        return Err(Error::Usage(format!(
            "stack \"{}\" has no `dns:`: there is no Route 53 failover to drill",
            model.name
        )));
    };
    if !model.regions.iter().any(|r| r == region) {
        return Err(Error::Usage(format!(
            "--region {region} is not one of the regions of stack \"{}\" [{}]",
            model.name,
            model.regions.join(", ")
        )));
    }
    let s = super::acting(g, super::stack_ref(&model), &model.regions, &model.accounts).await?;
    let st = s.style;
    let c = &s.clients;
    let (checks, zone_id, albs) = futures::future::join3(
        route53::checks(c, &s.stack),
        route53::zone_id(c, &dns.zone),
        futures::future::join_all(model.regions.iter().map(|r| {
            let alb = Names::new(&model.name, r).alb();
            let rc = &s.regional[r];
            async move { dns::alb_dns_name(rc, &alb).await.map(|d| (r.clone(), d)) }
        })),
    )
    .await;
    let check = checks?
        .iter()
        .find(|f| f.tag(TAG_REGION) == Some(region))
        .cloned()
        .ok_or_else(|| {
            Error::Usage(format!(
                "stack \"{}\" has no Route 53 health check for {region}: deploy it first \
                 (`ballast deploy {}`)",
                model.name,
                file.display()
            ))
        })?;
    let zone_id = zone_id?;
    let albs = albs.into_iter().collect::<Result<Vec<_>, _>>()?;
    let fallback_region = dns
        .fallback
        .as_ref()
        .and_then(|_| crate::resources::fallback::region_of(&model.regions));
    let targets = Targets::new(albs, fallback_region);
    let name = dns.name.as_str();

    let inverted = health_check::observe(&check).attrs.get("inverted") == Some(&Value::Bool(true));
    if inverted {
        return Err(Error::Usage(format!(
            "the health check of {region} ({}) is already inverted: a drill is running or was \
             interrupted; `ballast deploy {}` restores it",
            check.id(),
            file.display()
        )));
    }
    // Who the drill acts as: known (and said) before anything else is printed or written.
    s.identity().await?;
    let before = dns::answer(c, &zone_id, name).await?;
    let target_before = targets.identify(&before).await;
    super::eprint(&format!(
        "{} failover of stack \"{}\" away from {region}\n  health check {} ({name} A in zone {})\n  Route 53 answers {}\n",
        st.bold("Drill:"),
        model.name,
        check.id(),
        dns.zone,
        described(&before, &target_before),
    ));
    if target_before.as_deref() != Some(region) {
        return Err(Error::Usage(format!(
            "Route 53 answers {} for {name}, not {region}'s load balancer: failing {region} \
             over would prove nothing (drill the region users are sent to)",
            described(&before, &target_before)
        )));
    }
    super::confirm(
        o.yes,
        "drill",
        &format!(
            "\nRoute 53 will send users of {name} away from {region} until the drill ends \
             (--for {}s, or as soon as failover is seen with --for 0). Proceed?",
            o.hold.as_secs()
        ),
    )?;

    // The stack's lock (in the primary region, where its Route 53 health checks are managed),
    // held until the check is restored.
    let held = s
        .lock(Some(std::slice::from_ref(&s.stack.region)), "drill", o.lock)
        .await?;
    let res = async {
        // Listen for Ctrl-C before saying it restores: `ctrl_c()` installs its handler when first
        // polled (see deploy's `follow`). Fused: polling it again after it completed must not panic.
        let mut ctrl_c = Box::pin(futures::FutureExt::fuse(tokio::signal::ctrl_c()));
        let _ = futures::poll!(&mut ctrl_c);
        super::eprint(&format!(
            "\nInverting the health check of {region} (Ctrl-C restores it)...\n"
        ));
        set_inverted(c, &check, true).await?;
        let started = Instant::now();

        let mut summary = Summary {
            region: region.to_string(),
            failed_over_after_seconds: None,
            answered_before: before.text(),
            answered_after: before.text(),
            target_before: target_before.clone(),
            target_after: target_before.clone(),
            restored: false,
            interrupted: false,
        };
        // Poll until Route 53 answers something other than the region, or the timeout.
        let watched = tokio::select! {
            r = watch(c, &check, &zone_id, name, region, &targets, o, st, started) => Some(r),
            _ = &mut ctrl_c => None,
        };
        let failed_over = match watched {
            None => {
                summary.interrupted = true;
                super::eprint("\nInterrupted.\n");
                false
            }
            Some(Err(e)) => {
                // Restore before reporting the error.
                let restored = restore(c, &check, region, file, st).await;
                super::eprint(&format!(
                    "{} the drill stopped on an error{}\n",
                    st.red("✗"),
                    if restored {
                        "; the health check is restored"
                    } else {
                        ""
                    }
                ));
                return Err(e);
            }
            Some(Ok(w)) => {
                summary.answered_after = w.last.text();
                summary.target_after = w.target.clone();
                if w.failed_over {
                    let secs = started.elapsed().as_secs_f64();
                    summary.failed_over_after_seconds = Some(round1(secs));
                    super::eprint(&format!(
                        "{} Route 53 failed over after {:.1}s: it answered {}, now {}\n",
                        st.green("✓"),
                        secs,
                        described(&before, &target_before),
                        described(&w.last, &w.target)
                    ));
                } else {
                    super::eprint(&format!(
                        "{} Route 53 did not fail over within {}s: it still answers {}\n",
                        st.red("✗"),
                        o.timeout.as_secs(),
                        described(&w.last, &w.target)
                    ));
                }
                w.failed_over
            }
        };

        // Hold, counted from the inversion.
        if failed_over {
            let left = o.hold.saturating_sub(started.elapsed());
            if !left.is_zero() {
                super::eprint(&format!(
                    "Holding {region} failed over for {}s more (--for {}s; Ctrl-C restores now)...\n",
                    left.as_secs(),
                    o.hold.as_secs()
                ));
                tokio::select! {
                    _ = tokio::time::sleep(left) => {}
                    _ = &mut ctrl_c => {
                        summary.interrupted = true;
                        super::eprint("\nInterrupted.\n");
                    }
                }
            }
        }

        summary.restored = restore(c, &check, region, file, st).await;
        if o.output == Output::Json {
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).expect("summary serializes")
            );
        }
        if !summary.restored {
            return Err(Error::Drill(format!(
                "the health check of {region} ({}) is still inverted: Route 53 keeps sending users \
                 away from {region}; `ballast deploy {}` restores it",
                check.id(),
                file.display()
            )));
        }
        if summary.interrupted {
            return Ok(130);
        }
        if !failed_over {
            return Err(Error::Drill(format!(
                "Route 53 did not fail over away from {region} within {}s: it still answers {} \
                 (the health check is restored)",
                o.timeout.as_secs(),
                described_text(&summary.answered_after, &summary.target_after)
            )));
        }
        super::eprint(&format!(
            "{} {region} failed over in {:.1}s and is restored.\n",
            st.green(&st.bold("Drill passed!")),
            summary.failed_over_after_seconds.unwrap_or_default()
        ));
        Ok(0)
    }
    .await;
    held.release().await;
    res
}

struct Watched {
    failed_over: bool,
    last: Answer,
    target: Option<String>,
}

/// Poll the check's status and the answer until the answer is not `region`'s, or the timeout.
#[allow(clippy::too_many_arguments)]
async fn watch(
    c: &Clients,
    check: &FoundCheck,
    zone_id: &str,
    name: &str,
    region: &str,
    targets: &Targets,
    o: Options,
    st: Style,
    started: Instant,
) -> Result<Watched, Error> {
    let mut last_line = String::new();
    loop {
        let (health, answer) = futures::future::join(
            dns::check_health(c, check.id(), true),
            dns::answer(c, zone_id, name),
        )
        .await;
        let (health, answer) = (health?, answer?);
        let target = targets.identify(&answer).await;
        let line = format!(
            "  health check {region}: {}; Route 53 answers {}",
            health_text(&health),
            described(&answer, &target)
        );
        if line != last_line {
            super::eprint(&format!(
                "{} {line}\n",
                st.dim(&format!("[{:>5.1}s]", started.elapsed().as_secs_f64()))
            ));
            last_line = line;
        }
        let away = !answer.values.is_empty() && target.as_deref() != Some(region);
        if away || started.elapsed() >= o.timeout {
            return Ok(Watched {
                failed_over: away,
                last: answer,
                target,
            });
        }
        let left = o.timeout.saturating_sub(started.elapsed());
        tokio::time::sleep(o.poll.min(left)).await;
    }
}

/// Set `Inverted` on the check, sending every other field as Route 53 has it.
async fn set_inverted(c: &Clients, check: &FoundCheck, inverted: bool) -> Result<(), Error> {
    let mut attrs = health_check::observe(check).attrs;
    attrs.insert("inverted".into(), Value::Bool(inverted));
    let name = check.tag("Name").unwrap_or(check.id());
    health_check::update(c, check.id(), name, &attrs)
        .await
        .map_err(|e| match e.downcast::<crate::aws::AwsError>() {
            Ok(aws) => Error::Aws(*aws),
            Err(e) => Error::Drill(crate::error::chain(e.as_ref())),
        })
}

/// Invert the check back, retrying a few times: a drill must not leave a region failed over.
async fn restore(c: &Clients, check: &FoundCheck, region: &str, file: &Path, st: Style) -> bool {
    super::eprint(&format!(
        "Restoring the health check of {region} (Inverted=false)...\n"
    ));
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=5 {
        match set_inverted(c, check, false).await {
            Ok(()) => {
                super::eprint(&format!(
                    "{} health check of {region} restored\n",
                    st.green("✓")
                ));
                return true;
            }
            Err(e) => {
                super::eprint(&format!(
                    "{} restoring the health check of {region} failed (attempt {attempt} of 5): {}\n",
                    st.red("✗"),
                    crate::error::chain(&e)
                ));
                if attempt < 5 {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
    }
    super::eprint(&format!(
        "The health check {} is still inverted: run `ballast deploy {}` to restore it.\n",
        check.id(),
        file.display()
    ));
    false
}

fn health_text(h: &CheckHealth) -> String {
    format!(
        "{} ({}/{} observations healthy{})",
        if h.healthy { "healthy" } else { "unhealthy" },
        h.healthy_observations,
        h.observations,
        if h.last_status.is_empty() {
            String::new()
        } else {
            format!(": {}", h.last_status)
        }
    )
}

fn described(a: &Answer, target: &Option<String>) -> String {
    described_text(&a.text(), target)
}

fn described_text(text: &str, target: &Option<String>) -> String {
    match target {
        Some(t) if t == dns::FALLBACK => format!("{text} (the fallback page)"),
        Some(t) => format!("{text} ({t})"),
        None => text.to_string(),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
