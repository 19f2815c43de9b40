//! `ballast drill FILE --region R`: a failover drill. It inverts region R's Route 53 health
//! check (so Route 53 sees R as down), waits until the name answers with something other than
//! R's load balancer, holds that for `--for`, and inverts the check back. Ctrl-C, a timeout and
//! every error after the inversion restore it too; a deploy restores a drill that could not
//! (the spec's `inverted` is always false).

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::Clients;
use crate::cli::{DrillArgs, Global, Output};
use crate::engine::Value;
use crate::error::Error;
use crate::inspect::dns::{self, Answer, CheckHealth, Targets};
use crate::render::Style;
use crate::resources::health_check;
use crate::resources::route53::{self, FoundCheck, TAG_REGION};
use crate::spec::{Model, Names};

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long the region stays failed over, counted from the inversion.
    pub hold: Duration,
    /// How long to wait for Route 53 to fail over.
    pub timeout: Duration,
    pub poll: Duration,
    pub output: Output,
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

/// What the drill acts on, found and checked before anything is written.
struct Drill<'a> {
    file: &'a Path,
    region: &'a str,
    /// The record's name.
    name: &'a str,
    zone_id: std::sync::Arc<String>,
    check: FoundCheck,
    targets: Targets,
    before: Answer,
    target_before: Option<String>,
}

pub async fn run(a: &DrillArgs, g: &Global) -> Result<i32, Error> {
    // `--region` names the region to fail over; it does not pick the spec's region.
    let model = super::load_in(&a.file, None)?;
    let region = region_to_drill(&model, g.region.as_deref())?;
    let o = Options {
        hold: a.hold,
        timeout: a.timeout,
        poll: a.poll_interval,
        output: a.output,
    };
    let mut s = super::acting(g, super::stack_ref(&model), &model.regions, &model.accounts).await?;
    let d = check(&s, &model, region, &a.file).await?;
    super::confirm(
        a.yes,
        "drill",
        &format!(
            "\nRoute 53 will send users of {} away from {region} until the drill ends \
             (--for {}s, or as soon as failover is seen with --for 0). Proceed?",
            d.name,
            o.hold.as_secs()
        ),
    )
    .await?;
    // The stack's lock (in the primary region, where its Route 53 health checks are managed),
    // held until the check is restored.
    let primary = [s.stack.region.clone()];
    s.with_lock(
        super::Locks::In(&primary),
        "drill",
        (&a.lock).into(),
        async |s| drill(&s.clients, &d, o, s.style).await,
    )
    .await
}

/// The region `--region` names, if the stack has `dns:` and that region.
fn region_to_drill<'a>(model: &Model, region: Option<&'a str>) -> Result<&'a str, Error> {
    let Some(region) = region else {
        return Err(Error::Usage(format!(
            "drill needs --region: the region to fail over, one of [{}]",
            model.regions.join(", ")
        )));
    };
    if model.dns.is_none() {
        return Err(Error::Usage(format!(
            "stack \"{}\" has no `dns:`: there is no Route 53 failover to drill",
            model.name
        )));
    }
    if !model.regions.iter().any(|r| r == region) {
        return Err(Error::Usage(format!(
            "--region {region} is not one of the regions of stack \"{}\" [{}]",
            model.name,
            model.regions.join(", ")
        )));
    }
    Ok(region)
}

/// Check: the region's health check (deployed, not inverted), the zone, each region's load
/// balancer, and that Route 53 answers with `region`'s now (else failing it over proves
/// nothing). Says what the drill will do.
async fn check<'a>(
    s: &super::Session,
    model: &'a Model,
    region: &'a str,
    file: &'a Path,
) -> Result<Drill<'a>, Error> {
    let dns = model.dns.as_ref().expect("region_to_drill checked `dns:`");
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
        s.style.bold("Drill:"),
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
    Ok(Drill {
        file,
        region,
        name,
        zone_id,
        check,
        targets,
        before,
        target_before,
    })
}

/// The drill, holding the lock: invert, watch, hold, restore; then the verdict. An interrupt
/// (Ctrl-C, SIGTERM) from the inversion on ends the watch or the hold and restores.
async fn drill(c: &Clients, d: &Drill<'_>, o: Options, st: Style) -> Result<i32, Error> {
    let region = d.region;
    // Listened for before it says an interrupt restores.
    let handler = super::signal::Handler::new();
    super::eprint(&format!(
        "\nInverting the health check of {region} (Ctrl-C restores it)...\n"
    ));
    set_inverted(c, &d.check, true).await?;
    let started = Instant::now();
    let mut summary = Summary {
        region: region.to_string(),
        failed_over_after_seconds: None,
        answered_before: d.before.text(),
        answered_after: d.before.text(),
        target_before: d.target_before.clone(),
        target_after: d.target_before.clone(),
        restored: false,
        interrupted: false,
    };
    // Watch until Route 53 answers something other than the region, or the timeout.
    let failed_over = match handler.or_interrupted(watch(c, d, o, st, started)).await {
        None => {
            summary.interrupted = true;
            super::eprint("\nInterrupted.\n");
            false
        }
        Some(Err(e)) => {
            // Restore before reporting the error.
            let restored = restore(c, d, st).await;
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
        Some(Ok(w)) => watched(d, w, o, st, started, &mut summary),
    };
    if failed_over {
        hold(&handler, d, o, started, &mut summary).await;
    }
    summary.restored = restore(c, d, st).await;
    verdict(d, &summary, o, st)
}

/// What the watch saw, said and put in the summary: whether Route 53 failed over.
fn watched(
    d: &Drill<'_>,
    w: Watched,
    o: Options,
    st: Style,
    started: Instant,
    summary: &mut Summary,
) -> bool {
    summary.answered_after = w.last.text();
    summary.target_after = w.target.clone();
    if w.failed_over {
        let secs = started.elapsed().as_secs_f64();
        summary.failed_over_after_seconds = Some(round1(secs));
        super::eprint(&format!(
            "{} Route 53 failed over after {:.1}s: it answered {}, now {}\n",
            st.green("✓"),
            secs,
            described(&d.before, &d.target_before),
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

/// Hold the region failed over until `--for` after the inversion (an interrupt ends it).
async fn hold(
    handler: &super::signal::Handler,
    d: &Drill<'_>,
    o: Options,
    started: Instant,
    summary: &mut Summary,
) {
    let left = o.hold.saturating_sub(started.elapsed());
    if left.is_zero() {
        return;
    }
    super::eprint(&format!(
        "Holding {} failed over for {}s more (--for {}s; Ctrl-C restores now)...\n",
        d.region,
        left.as_secs(),
        o.hold.as_secs()
    ));
    if handler
        .or_interrupted(tokio::time::sleep(left))
        .await
        .is_none()
    {
        summary.interrupted = true;
        super::eprint("\nInterrupted.\n");
    }
}

/// The summary (`--output json`) and the exit status.
fn verdict(d: &Drill<'_>, summary: &Summary, o: Options, st: Style) -> Result<i32, Error> {
    let region = d.region;
    if o.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(summary).expect("summary serializes")
        );
    }
    if !summary.restored {
        return Err(Error::Drill(format!(
            "the health check of {region} ({}) is still inverted: Route 53 keeps sending users \
             away from {region}; `ballast deploy {}` restores it",
            d.check.id(),
            d.file.display()
        )));
    }
    if summary.interrupted {
        return Ok(130);
    }
    if summary.failed_over_after_seconds.is_none() {
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

struct Watched {
    failed_over: bool,
    last: Answer,
    target: Option<String>,
}

/// Poll the check's status and the answer until the answer is not the drilled region's, or
/// the timeout.
async fn watch(
    c: &Clients,
    d: &Drill<'_>,
    o: Options,
    st: Style,
    started: Instant,
) -> Result<Watched, Error> {
    let region = d.region;
    let mut last_line = String::new();
    loop {
        let (health, answer) = futures::future::join(
            dns::check_health(c, d.check.id(), true),
            dns::answer(c, &d.zone_id, d.name),
        )
        .await;
        let (health, answer) = (health?, answer?);
        let target = d.targets.identify(&answer).await;
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
async fn restore(c: &Clients, d: &Drill<'_>, st: Style) -> bool {
    let (check, region, file) = (&d.check, d.region, d.file);
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
