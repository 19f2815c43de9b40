use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cli::{Global, Output};
use crate::engine::{self, Action, Outputs};
use crate::error::Error;
use crate::inspect::rollout::{self, Verdict};
use crate::render::plan::{render, Purpose};
use crate::render::progress::Progress;
use crate::render::Style;
use crate::spec::OUTPUTS;

/// Waiting for the service rollout after a change to the service.
#[derive(Clone, Copy, Debug)]
pub struct Wait {
    pub timeout: Duration,
    pub poll: Duration,
}

pub async fn run(
    file: &Path,
    yes: bool,
    output: Output,
    wait: Option<Wait>,
    g: &Global,
) -> Result<i32, Error> {
    let model = super::load(file, g)?;
    let s = super::session(g, super::stack_ref(&model)).await;
    let plan = s.plan(Some(&model)).await?;
    super::eprint(&render(&plan, Purpose::Deploy, s.style));
    if !plan.has_changes() {
        print_outputs(&plan.known_outputs(), output, s.style);
        return Ok(0);
    }
    super::confirm(yes, "deploy", "\nDo you want to perform these actions?")?;
    super::eprint("\n");
    let t = Instant::now();
    let res = engine::apply(&s.kinds, &s.clients, &plan, &Progress::new(s.style)).await;
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
    let service_changed = plan.changes.iter().any(|c| {
        c.id == crate::resources::service::ID
            && matches!(c.action, Action::Create | Action::Update | Action::Replace)
    });
    if let (Some(w), true, Some(svc)) = (
        wait,
        service_changed,
        res.outputs.get(crate::resources::service::ID),
    ) {
        follow(&s, svc, w, file, s.style).await?;
    }
    print_outputs(&res.outputs, output, s.style);
    Ok(0)
}

/// Wait for the rollout this deploy started; Ctrl-C stops waiting, not the rollout.
async fn follow(
    s: &super::Session,
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
        ecs: &s.clients.ecs,
        cluster: cluster.clone(),
        service: name.clone(),
        deployment_id: svc.get("deployment_id").cloned(),
        timeout: w.timeout,
        poll: w.poll,
    };
    // Listen for Ctrl-C before saying it stops waiting: `ctrl_c()` installs its handler when
    // first polled, and until then SIGINT kills the process without the message below. Fused:
    // polling it again after it completed (a failed registration) must not panic.
    let mut ctrl_c = Box::pin(futures::FutureExt::fuse(tokio::signal::ctrl_c()));
    let _ = futures::poll!(&mut ctrl_c);
    super::eprint(&format!(
        "\nWaiting for rollout {id} of service {name} (up to {}s; Ctrl-C stops waiting)...\n",
        w.timeout.as_secs()
    ));
    let mut last_line = String::new();
    let mut on_progress = |p: &rollout::Progress| {
        for e in &p.new_events {
            super::eprint(&format!("  {} {e}\n", st.dim("event:")));
        }
        let line = format!(
            "  rollout {}: {}/{} running, {} pending, {} failed tasks",
            p.rollout_state, p.running, p.desired, p.pending, p.failed_tasks
        );
        if line != last_line {
            super::eprint(&format!("{line}\n"));
            last_line = line;
        }
    };
    let verdict = tokio::select! {
        v = watch.run(&mut on_progress) => v?,
        _ = &mut ctrl_c => {
            super::eprint(&format!(
                "\nStopped waiting. Rollout {id} goes on in ECS; follow it with `ballast status {}` \
                 or `aws ecs describe-services --cluster {cluster} --services {name}`.\n",
                file.display()
            ));
            std::process::exit(130);
        }
    };
    match verdict {
        Verdict::Completed { running, desired } => {
            super::eprint(&format!(
                "{} rollout {id} completed: {running}/{desired} tasks running.\n",
                st.green("✓")
            ));
            Ok(())
        }
        Verdict::RolledBack {
            reason,
            stopped_tasks,
        } => {
            let mut msg = format!("{} rollout {id} was rolled back: {reason}\n", st.red("✗"));
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

fn print_outputs(outputs: &HashMap<String, Outputs>, output: Output, st: Style) {
    let values: BTreeMap<&str, &str> = OUTPUTS
        .iter()
        .filter_map(|o| Some((o.label, outputs.get(o.node)?.get(o.key)?.as_str())))
        .collect();
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&values).expect("outputs serialize")
        ),
        Output::Human => {
            let w = values.keys().map(|k| k.len()).max().unwrap_or(0);
            let mut s = format!("\n{}\n\n", st.bold("Outputs:"));
            for (k, v) in &values {
                s.push_str(&format!("{k:<w$} = \"{v}\"\n"));
            }
            super::eprint(&s);
        }
    }
}
