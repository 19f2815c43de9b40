use std::path::Path;

use crate::cli::{Global, Output, PlanArgs};
use crate::error::Error;
use crate::render::{
    json,
    plan::{render, Purpose},
};

pub async fn run(a: &PlanArgs, g: &Global) -> Result<i32, Error> {
    let (file, output, detailed, out): (&Path, Output, bool, Option<&Path>) =
        (&a.file, a.output, a.detailed_exitcode, a.out.as_deref());
    let model = super::load(file, g)?;
    let mut s = super::acting(g, super::stack_ref(&model), &model.regions, &model.accounts).await?;
    // `plan` takes no lock; it reads it (one GetParameter per region, beside discovery) and
    // says on stderr when one is held.
    let regions = s.lock_regions();
    let name = s.stack.name.clone();
    let (plan, notes) = futures::join!(s.plan(Some(&model)), super::lock::notes(&name, &regions));
    let plan = plan?;
    super::eprint(&notes);
    match output {
        Output::Human => super::eprint(&render(&plan, Purpose::Deploy, s.style)),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json::plan(&crate::render::shown(
                &plan,
                s.style.show_values
            )))
            .expect("plan serializes")
        ),
    }
    if let Some(path) = out {
        super::saved::save(path, &model, &plan)?;
        super::eprint(&format!(
            "\nSaved this plan to {}: `ballast deploy {} --plan {}` applies exactly it, or nothing if the spec or AWS changed in the meantime.\n",
            path.display(),
            file.display(),
            path.display()
        ));
    }
    Ok(if detailed && plan.has_changes() { 2 } else { 0 })
}
