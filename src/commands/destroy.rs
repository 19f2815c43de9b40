use std::path::Path;
use std::time::Instant;

use super::lock::Stopped;
use crate::cli::{DestroyArgs, Global};
use crate::engine;
use crate::error::Error;
use crate::render::plan::{render, Purpose};
use crate::render::progress::Progress;

pub async fn run(a: &DestroyArgs, g: &Global) -> Result<i32, Error> {
    let (file, stack, yes): (Option<&Path>, Option<&str>, bool) =
        (a.file.as_deref(), a.stack.as_deref(), a.yes);
    if let Some(d) = a.in_use_wait {
        crate::aws::cap_in_use(d);
    }
    // The spec only names the stack: what gets destroyed is found by ownership tags.
    // `--stack NAME` has no spec, so no `accounts:` to check.
    let (stack, regions, model) = super::target_model(file, stack, g)?;
    let accounts = model
        .as_ref()
        .map(|m| m.accounts.clone())
        .unwrap_or_default();
    let mut s = super::acting(g, stack, &regions, &accounts).await?;
    let plan = s.plan(None).await?;
    if !plan.has_changes() {
        let code = nothing(&s);
        report_left(&s, model.as_ref()).await?;
        return Ok(code);
    }
    if let Err(e) = super::refuses_confirmation(yes, "destroy") {
        super::eprint(&render(&plan, Purpose::Destroy, s.style));
        return Err(e);
    }
    // Take the stack's lock in every region it has (planning found them all), then plan again
    // under it: what is destroyed is what is there once no other command writes.
    let model = model.as_ref();
    s.with_lock(super::Locks::All, "destroy", (&a.lock).into(), async |s| {
        let res = locked(s, yes).await;
        // The look for look-alikes only reads: it runs beside the lock's release.
        match res {
            Ok(0) => {
                let ((), left) = tokio::join!(s.release_locks(), report_left(s, model));
                left?;
                Ok(0)
            }
            Err(e @ Error::DestroyFailed { .. }) => {
                // What stopped it is often a look-alike still using the stack's resources.
                let _ = tokio::join!(s.release_locks(), report_left(s, model));
                Err(e)
            }
            other => other,
        }
    })
    .await
}

/// After a destroy: what still has the stack's names without its ownership tag (destroy never
/// touches it), said in one line each. The names come from the spec, or without one from the
/// stack's name (the default names of every kind).
async fn report_left(s: &super::Session, model: Option<&crate::spec::Model>) -> Result<(), Error> {
    let nodes = match model {
        Some(m) => engine::lower(&s.kinds, m),
        None => {
            let mut nodes = Vec::new();
            for r in &s.acting_in {
                if let Ok(m) = crate::spec::Model::defaults(&s.stack.name, r) {
                    nodes.extend(engine::lower(&s.kinds, &m));
                }
            }
            nodes
        }
    };
    s.fresh();
    let left = engine::leftovers(&s.kinds, &s.scopes(), &s.stack, &nodes).await?;
    let lines: Vec<String> = left
        .iter()
        .filter(|(_, o)| !o.owned)
        .map(|(scope, o)| {
            format!(
                "left: {} ({}, {}) in {scope}: it has the stack's name but not its ownership tag (ballast:stack={}), so destroy did not touch it\n",
                o.name, o.address(), o.physical_id, s.stack.name
            )
        })
        .collect();
    if !lines.is_empty() {
        super::eprint(&format!(
            "\n{}  delete by hand whatever of it is not someone else's\n",
            lines.concat()
        ));
    }
    Ok(())
}

fn nothing(s: &super::Session) -> i32 {
    super::eprint(&format!(
        "Nothing to destroy: no resource carries the ownership tag of stack \"{}\" in {}.\n",
        s.stack.name, s.stack.region
    ));
    0
}

async fn locked(s: &mut super::Session, yes: bool) -> Result<i32, Error> {
    let plan = s.plan(None).await?;
    if !plan.has_changes() {
        return Ok(nothing(s));
    }
    super::eprint(&render(&plan, Purpose::Destroy, s.style));
    super::confirm(
        yes,
        "destroy",
        "\nDo you really want to destroy all resources of this stack?",
    )
    .await?;
    super::eprint("\n");
    let t = Instant::now();
    let progress = Progress::new(s.style);
    let recorder = engine::Recorder::new(&progress);
    let Stopped::No(res) = super::lock::apply_stoppable(s, &plan, &recorder, "deletes").await
    else {
        super::eprint("The stack is partly destroyed (run destroy again).\n");
        return Ok(130);
    };
    if !res.ok() {
        return Err(Error::DestroyFailed {
            failed: res.failed.len(),
            skipped: res.skipped.len(),
        });
    }
    let Some(destroyed) = super::signal::interruptible(until_gone(s, plan)).await else {
        super::eprint("\nInterrupted: the stack is partly destroyed (run destroy again).\n");
        return Ok(130);
    };
    super::eprint(&format!(
        "\n{} {} destroyed in {:.1}s.\n",
        s.style.green(&s.style.bold("Destroy complete!")),
        destroyed?,
        t.elapsed().as_secs_f64()
    ));
    Ok(0)
}

/// AWS's listings lag: after the first pass, discover again until a discovery finds nothing
/// owned. What it finds that was not deleted yet (hidden from the first listing) is deleted;
/// what it still lists although deleted is waited for (at most `SETTLE`). Returns how many
/// resources were destroyed in all.
async fn until_gone(s: &mut super::Session, first: engine::Plan) -> Result<usize, Error> {
    use std::collections::HashSet;
    let mut deleted: HashSet<String> = first
        .changes
        .iter()
        .filter_map(|c| c.current.as_ref().map(|o| o.physical_id.clone()))
        .collect();
    let mut count = first.summary().destroy;
    let deadline = Instant::now() + super::SETTLE;
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        // First the listings alone (one round trip): when they show nothing owned that was not
        // deleted, no full discovery is needed.
        s.fresh();
        // The lock is read beside it: its release after the last look needs no read.
        let scopes = s.scopes();
        let (left, ()) = tokio::join!(
            engine::remaining(&s.kinds, &scopes, &first),
            s.check_locks()
        );
        let left = left?;
        if left.iter().all(|(_, id)| deleted.contains(id)) {
            if left.is_empty() {
                return Ok(count);
            }
            if Instant::now() + pause > deadline {
                let ids: Vec<&str> = left.iter().map(|(_, id)| id.as_str()).collect();
                super::eprint(&format!(
                    "\nNote: after {} s AWS still lists {} although deleted: run destroy again to check.\n",
                    super::SETTLE.as_secs(),
                    ids.join(", ")
                ));
                return Ok(count);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(4));
            continue;
        }
        tracing::debug!(
            "listed after the deletes, not deleted by this run: {:?}",
            left.iter()
                .filter(|(_, id)| !deleted.contains(id))
                .collect::<Vec<_>>()
        );
        let again = s.plan(None).await?;
        let (lagging, new): (Vec<_>, Vec<_>) = again
            .changes
            .into_iter()
            .filter(|c| c.action == engine::Action::Delete)
            .partition(|c| {
                c.current
                    .as_ref()
                    .is_some_and(|o| deleted.contains(&o.physical_id))
            });
        if new.is_empty() && lagging.is_empty() {
            return Ok(count);
        }
        if !new.is_empty() {
            let more = engine::Plan {
                stack: again.stack,
                scopes: again.scopes,
                changes: new,
            };
            let res = engine::apply(&s.kinds, &s.scopes(), &more, &Progress::new(s.style)).await;
            if !res.ok() {
                return Err(Error::DestroyFailed {
                    failed: res.failed.len(),
                    skipped: res.skipped.len(),
                });
            }
            count += more.summary().destroy;
            deleted.extend(
                more.changes
                    .iter()
                    .filter_map(|c| c.current.as_ref().map(|o| o.physical_id.clone())),
            );
            continue;
        }
        if Instant::now() + pause > deadline {
            super::eprint(&format!(
                "\nNote: after {} s AWS still lists {} although deleted: run destroy again to check.\n",
                super::SETTLE.as_secs(),
                lagging
                    .iter()
                    .map(|c| c.address.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return Ok(count);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(4));
    }
}
