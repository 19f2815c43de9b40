use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use super::lock::Stopped;
use crate::cli::{DeployArgs, Global, Output};
use crate::engine::{self, Action, Outputs, GLOBAL};
use crate::error::Error;
use crate::inspect::rollout::{self, Verdict};
use crate::render::plan::{render, Purpose};
use crate::render::progress::Progress;
use crate::render::Style;
use crate::spec::{LoadBalancerModel, OUTPUTS};

/// Waiting for the service rollout after a change to the service.
#[derive(Clone, Copy, Debug)]
pub struct Wait {
    pub timeout: Duration,
    pub poll: Duration,
}

pub async fn run(a: &DeployArgs, g: &Global) -> Result<i32, Error> {
    let (file, yes, saved, output) = (a.file.as_path(), a.yes, a.plan.as_deref(), a.output);
    let wait = (!a.no_wait).then_some(Wait {
        timeout: a.wait_timeout,
        poll: a.poll_interval,
    });
    let model = super::load(file, g)?;
    let saved = match saved {
        Some(path) => Some((path, super::saved::load(path)?)),
        None => None,
    };
    let mut s = super::acting(g, super::stack_ref(&model), &model.regions, &model.accounts).await?;
    let plan = s.plan(Some(&model)).await?;
    if let Some((path, saved)) = &saved {
        // Refused here, before the lock: a stale plan writes nothing at all.
        super::saved::check(path, saved, &model, &plan)?;
    }
    // A saved plan was reviewed when it was made: applying it asks nothing.
    let yes = yes || saved.is_some();
    if !plan.has_changes() {
        // Nothing to write: no lock either (a converged deploy makes no write call).
        super::eprint(&render(&plan, Purpose::Deploy, s.style));
        let regions: Vec<String> = plan.regions().iter().map(|r| r.to_string()).collect();
        print_outputs(
            &plan.known_outputs(),
            &regions,
            &model.load_balancer,
            output,
            s.style,
        );
        return Ok(0);
    }
    if let Err(e) = super::refuses_confirmation(yes, "deploy") {
        super::eprint(&render(&plan, Purpose::Deploy, s.style));
        return Err(e);
    }
    // Changes: take the stack's lock in every region, then plan again under it, so the plan
    // shown and applied is not one another command made stale while we planned.
    let saved = saved.as_ref().map(|(p, s)| (*p, s));
    s.with_lock(super::Locks::All, "deploy", (&a.lock).into(), async |s| {
        locked(s, &model, file, yes, saved, output, wait).await
    })
    .await
}

/// Plan, confirm, apply and follow the rollout, holding the lock.
#[allow(clippy::too_many_arguments)]
async fn locked(
    s: &mut super::Session,
    model: &crate::spec::Model,
    file: &Path,
    yes: bool,
    saved: Option<(&Path, &super::saved::Saved)>,
    output: Output,
    wait: Option<Wait>,
) -> Result<i32, Error> {
    let plan = s.plan(Some(model)).await?;
    if let Some((path, saved)) = saved {
        // Again under the lock: nothing may have changed since the check before it either.
        super::saved::check(path, saved, model, &plan)?;
    }
    super::eprint(&render(&plan, Purpose::Deploy, s.style));
    if !plan.has_changes() {
        let regions: Vec<String> = plan.regions().iter().map(|r| r.to_string()).collect();
        print_outputs(
            &plan.known_outputs(),
            &regions,
            &model.load_balancer,
            output,
            s.style,
        );
        return Ok(0);
    }
    super::confirm(yes, "deploy", "\nDo you want to perform these actions?").await?;
    super::eprint("\n");
    let t = Instant::now();
    let progress = Progress::new(s.style);
    let recorder = engine::Recorder::new(&progress);
    let res = match super::lock::apply_stoppable(s, &plan, &recorder, "calls").await {
        Stopped::No(res) => res,
        stopped => {
            // Before the lock goes: wait (briefly) until the listings show what the stopped
            // apply made, or a deploy run at once would not see it and make it again. Ctrl-C
            // again stops the wait.
            super::eprint(
                "The stack is partly applied (run deploy again to converge); waiting for AWS to list what was made (Ctrl-C again to stop waiting).\n",
            );
            let res = match stopped {
                Stopped::Gracefully(res) => res,
                _ => recorder.partial(&plan),
            };
            let _ = super::signal::interruptible(super::settle(s, &plan, &res)).await;
            return Ok(130);
        }
    };
    // Read our own writes, after a failure too: the next plan must see what this one made, or
    // it would make it again.
    super::settle(s, &plan, &res).await?;
    if !res.ok() {
        return Err(Error::ApplyFailed {
            failed: res.failed.len(),
            skipped: res.skipped.len(),
        });
    }
    let sum = plan.summary();
    super::eprint(&format!(
        "\n{} {} added, {} changed, {} replaced, {} destroyed in {:.1}s.\n",
        s.style.green(&s.style.bold("Apply complete!")),
        sum.add,
        sum.change,
        sum.replace,
        sum.destroy,
        t.elapsed().as_secs_f64()
    ));
    let regions: Vec<String> = plan.regions().iter().map(|r| r.to_string()).collect();
    let mut outputs = plan.known_outputs();
    outputs.extend(res.outputs.clone());
    if let Some(w) = wait {
        // Follow the rollout of every service that changed, in every region, all at once.
        let changed: Vec<(String, &Outputs)> = plan
            .changes
            .iter()
            .filter(|c| {
                c.kind == crate::resources::service::KIND
                    && matches!(c.action, Action::Create | Action::Update | Action::Replace)
            })
            .filter_map(|c| {
                let key = engine::qualify(&c.scope, &c.id);
                Some((c.scope.clone(), res.outputs.get(&key)?))
            })
            .collect();
        let regions_tagged = regions.len() > 1;
        let services_tagged = changed
            .iter()
            .filter_map(|(_, o)| o.get("name"))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1;
        // An interrupt stops waiting, not the rollouts: listened for before "Waiting for
        // rollout" says so.
        let handler = super::signal::Handler::new();
        let verdicts = handler
            .or_interrupted(futures::future::join_all(changed.iter().map(|(r, svc)| {
                let clients = &s.regional[r.as_str()];
                let label = Label {
                    region: regions_tagged.then_some(r.as_str()),
                    service: services_tagged
                        .then(|| svc.get("name"))
                        .flatten()
                        .map(String::as_str),
                };
                follow(clients, label, svc, w, file, s.style)
            })))
            .await;
        let Some(verdicts) = verdicts else {
            for (_, svc) in &changed {
                if let (Some(id), Some(cluster), Some(name)) = (
                    svc.get("deployment_id"),
                    svc.get("cluster"),
                    svc.get("name"),
                ) {
                    super::eprint(&format!(
                        "\nStopped waiting. Rollout {id} goes on in ECS; follow it with `ballast status {}` \
                         or `aws ecs describe-services --cluster {cluster} --services {name}`.\n",
                        file.display()
                    ));
                }
            }
            return Ok(130);
        };
        for v in verdicts {
            v?;
        }
    }
    print_outputs(&outputs, &regions, &model.load_balancer, output, s.style);
    Ok(0)
}

/// What a rollout's lines say it is, when a deploy follows more than one: its region, its
/// service.
struct Label<'a> {
    region: Option<&'a str>,
    service: Option<&'a str>,
}

/// Wait for the rollout this deploy started.
async fn follow(
    clients: &crate::aws::Clients,
    label: Label<'_>,
    svc: &Outputs,
    w: Wait,
    file: &Path,
    st: Style,
) -> Result<(), Error> {
    let (Some(id), Some(cluster), Some(name)) = (
        svc.get("deployment_id"),
        svc.get("cluster"),
        svc.get("name"),
    ) else {
        return Ok(());
    };
    let watch = rollout::Watch {
        ecs: &clients.ecs,
        cluster: cluster.clone(),
        service: name.clone(),
        deployment_id: svc.get("deployment_id").cloned(),
        timeout: w.timeout,
        poll: w.poll,
    };
    super::eprint(&format!(
        "\nWaiting for rollout {id} of service {name}{} (up to {}s; Ctrl-C stops waiting)...\n",
        match label.region {
            Some(r) => format!(" in {r}"),
            None => String::new(),
        },
        w.timeout.as_secs()
    ));
    let mut last_line = String::new();
    let at: String = [label.region, label.service]
        .into_iter()
        .flatten()
        .map(|l| format!(" {l}"))
        .collect();
    let mut on_progress = |p: &rollout::Progress| {
        for e in &p.new_events {
            super::eprint(&format!("  {} {e}\n", st.dim(&format!("event{at}:"))));
        }
        let line = format!(
            "  rollout{at} {}: {}/{} running, {} pending, {} failed tasks",
            p.rollout_state, p.running, p.desired, p.pending, p.failed_tasks
        );
        if line != last_line {
            super::eprint(&format!("{line}\n"));
            last_line = line;
        }
    };
    let verdict = watch.run(&mut on_progress).await?;
    match verdict {
        Verdict::Completed { running, desired } => {
            super::eprint(&format!(
                "{} rollout {id}{at} completed: {running}/{desired} tasks running.\n",
                st.green("✓")
            ));
            Ok(())
        }
        Verdict::RolledBack {
            reason,
            stopped_tasks,
        } => {
            let mut msg = format!(
                "{} rollout {id}{at} was rolled back: {reason}\n",
                st.red("✗")
            );
            for t in &stopped_tasks {
                msg.push_str(&format!("  stopped: {t}\n"));
            }
            super::eprint(&msg);
            Err(Error::RolledBack {
                deployment_id: id.clone(),
                reason,
                stopped_tasks,
            })
        }
        Verdict::TimedOut { last } => Err(Error::WaitTimedOut {
            deployment_id: id.clone(),
            state: last.rollout_state,
            running: last.running,
            desired: last.desired,
            waited: w.timeout.as_secs(),
            file: file.display().to_string(),
        }),
    }
}

/// The stack's outputs: one set for one region; with several, one set per region.
fn print_outputs(
    outputs: &HashMap<String, Outputs>,
    regions: &[String],
    lb: &LoadBalancerModel,
    output: Output,
    st: Style,
) {
    let urls: HashMap<&str, String> = regions
        .iter()
        .filter_map(|r| {
            let dns = outputs
                .get(&engine::qualify(r, crate::spec::LB_NODE))?
                .get("dns_name")?;
            Some((r.as_str(), lb.url(dns)))
        })
        .collect();
    let of_region = |r: &str| -> BTreeMap<&str, &str> {
        let mut v: BTreeMap<&str, &str> = OUTPUTS
            .iter()
            .filter_map(|o| {
                let v = outputs.get(&engine::qualify(r, o.node))?.get(o.key)?;
                Some((o.label, v.as_str()))
            })
            .collect();
        if let Some(u) = urls.get(r) {
            v.insert("url", u.as_str());
        }
        v
    };
    // The name users resolve, when the stack has one.
    let dns = outputs
        .get(&engine::qualify(GLOBAL, crate::resources::record::PRIMARY))
        .and_then(|o| o.get("fqdn"))
        .map(String::as_str);
    let json = match regions {
        [one] => {
            let mut v = of_region(one);
            if let Some(d) = dns {
                v.insert("dns_name", d);
            }
            serde_json::to_value(v)
        }
        _ => {
            let mut v: BTreeMap<&str, serde_json::Value> = regions
                .iter()
                .map(|r| (r.as_str(), serde_json::to_value(of_region(r)).unwrap()))
                .collect();
            if let Some(d) = dns {
                v.insert("dns_name", d.into());
            }
            serde_json::to_value(v)
        }
    }
    .expect("outputs serialize");
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("outputs serialize")
        ),
        Output::Human => {
            let mut s = format!("\n{}\n\n", st.bold("Outputs:"));
            if let Some(d) = dns {
                s.push_str(&format!("dns_name = \"{d}\"\n"));
            }
            for r in regions {
                let values = of_region(r);
                let prefix = if regions.len() > 1 {
                    format!("{r}.")
                } else {
                    String::new()
                };
                let w = values.keys().map(|k| k.len()).max().unwrap_or(0);
                for (k, v) in &values {
                    s.push_str(&format!("{prefix}{k:<w$} = \"{v}\"\n"));
                }
            }
            super::eprint(&s);
        }
    }
}
