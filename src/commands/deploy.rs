use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use crate::cli::{Global, Output};
use crate::engine::{self, Outputs};
use crate::error::Error;
use crate::render::plan::{render, Purpose};
use crate::render::progress::Progress;
use crate::spec::OUTPUTS;

pub async fn run(file: &Path, yes: bool, output: Output, g: &Global) -> Result<i32, Error> {
    let model = super::load(file, g)?;
    let s = super::session(g, super::stack_ref(&model)).await;
    let plan = s.plan(Some(&model)).await?;
    super::eprint(&render(&plan, Purpose::Deploy, s.style));
    let outputs = if plan.has_changes() {
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
        res.outputs
    } else {
        plan.known_outputs()
    };
    print_outputs(&outputs, output, s.style);
    Ok(0)
}

fn print_outputs(outputs: &HashMap<String, Outputs>, output: Output, st: crate::render::Style) {
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
