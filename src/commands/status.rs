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
    let stack = super::target(file, stack, g)?;
    let s = super::session(g, stack).await;
    let names = Names::new(&s.stack.name, &s.stack.region);
    let st = status::read(&s.clients, &names).await?;
    match output {
        Output::Human => super::eprint(&render::status::render(&st, s.style)),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&st).expect("status serializes")
        ),
    }
    Ok(0)
}
