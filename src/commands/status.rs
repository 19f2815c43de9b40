use std::path::Path;

use crate::cli::{Global, Output};
use crate::error::Error;
use crate::inspect::status;
use crate::render;
use crate::spec::Names;

pub async fn run(
    file: Option<&Path>,
    stack: Option<&str>,
    output: Output,
    g: &Global,
) -> Result<i32, Error> {
    let (stack, regions) = super::target(file, stack, g)?;
    let s = super::session(g, stack, &regions).await;
    // Every region at once, shown primary first.
    let reads = futures::future::join_all(regions.iter().map(|r| {
        let names = Names::new(&s.stack.name, r);
        let clients = &s.regional[r];
        async move { status::read(clients, &names).await }
    }))
    .await;
    let mut all = Vec::new();
    for r in reads {
        all.push(r?);
    }
    match output {
        Output::Human => {
            for st in &all {
                super::eprint(&render::status::render(st, s.style));
            }
        }
        Output::Json => {
            let v = match all.as_slice() {
                [one] => serde_json::to_value(one),
                _ => serde_json::to_value(&all),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&v.expect("status serializes"))
                    .expect("status serializes")
            );
        }
    }
    Ok(0)
}
