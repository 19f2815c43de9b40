use std::path::Path;
use std::time::Instant;

use crate::cli::Global;
use crate::engine;
use crate::error::Error;
use crate::render::plan::{render, Purpose};
use crate::render::progress::Progress;

pub async fn run(
    file: Option<&Path>,
    stack: Option<&str>,
    yes: bool,
    lock: super::lock::Options,
    g: &Global,
) -> Result<i32, Error> {
    // The spec only names the stack: what gets destroyed is found by ownership tags.
    // `--stack NAME` has no spec, so no `accounts:` to check.
    let (stack, regions, model) = super::target_model(file, stack, g)?;
    let accounts = model.map(|m| m.accounts).unwrap_or_default();
    let mut s = super::acting(g, stack, &regions, &accounts).await?;
    let plan = s.plan(None).await?;
    if !plan.has_changes() {
        return Ok(nothing(&s));
    }
    if let Err(e) = super::refuses_confirmation(yes, "destroy") {
        super::eprint(&render(&plan, Purpose::Destroy, s.style));
        return Err(e);
    }
    // Take the stack's lock in every region it has (planning found them all), then plan again
    // under it: what is destroyed is what is there once no other command writes.
    let held = s.lock(None, "destroy", lock).await?;
    let res = locked(&mut s, yes).await;
    held.release().await;
    match res {
        Err(Error::Interrupted) => std::process::exit(130),
        other => other,
    }
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
    super::confirm_locked(
        yes,
        "destroy",
        "\nDo you really want to destroy all resources of this stack?",
    )
    .await?;
    super::eprint("\n");
    let t = Instant::now();
    let applied = super::lock::interruptible(engine::apply(
        &s.kinds,
        &s.scopes(),
        &plan,
        &Progress::new(s.style),
    ))
    .await;
    let Some(res) = applied else {
        super::eprint("\nInterrupted: the stack is partly destroyed (run destroy again).\n");
        return Ok(130);
    };
    if !res.ok() {
        return Err(Error::ApplyFailed {
            failed: res.failed.len(),
            skipped: res.skipped.len(),
        });
    }
    super::eprint(&format!(
        "\n{} {} destroyed in {:.1}s.\n",
        s.style.green(&s.style.bold("Destroy complete!")),
        plan.summary().destroy,
        t.elapsed().as_secs_f64()
    ));
    Ok(0)
}
