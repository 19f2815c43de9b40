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
    g: &Global,
) -> Result<i32, Error> {
    // The spec only names the stack: what gets destroyed is found by ownership tags.
    // `--stack NAME` has no spec, so no `accounts:` to check.
    let (stack, regions, model) = super::target_model(file, stack, g)?;
    let accounts = model.map(|m| m.accounts).unwrap_or_default();
    let mut s = super::acting(g, stack, &regions, &accounts).await?;
    let plan = s.plan(None).await?;
    if !plan.has_changes() {
        super::eprint(&format!(
            "Nothing to destroy: no resource carries the ownership tag of stack \"{}\" in {}.\n",
            s.stack.name, s.stack.region
        ));
        return Ok(0);
    }
    super::eprint(&render(&plan, Purpose::Destroy, s.style));
    super::confirm(
        yes,
        "destroy",
        "\nDo you really want to destroy all resources of this stack?",
    )?;
    super::eprint("\n");
    let t = Instant::now();
    let res = engine::apply(&s.kinds, &s.scopes(), &plan, &Progress::new(s.style)).await;
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
