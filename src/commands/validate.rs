use std::path::Path;

use crate::cli::{Global, ValidateArgs};
use crate::error::Error;
use crate::resources::registry;

pub fn run(a: &ValidateArgs, g: &Global) -> Result<i32, Error> {
    let file: &Path = &a.file;
    let model = super::load_valid(file, g.region.as_deref())?;
    let n = crate::engine::lower(&registry(), &model).len();
    super::eprint(&format!(
        "{} is valid: stack \"{}\" in {}, {n} resources.\n",
        file.display(),
        model.name,
        model.regions.join(" and ")
    ));
    Ok(0)
}
