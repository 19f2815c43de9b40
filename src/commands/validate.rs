use std::path::Path;

use crate::cli::Global;
use crate::error::Error;
use crate::resources::registry;

pub fn run(file: &Path, g: &Global) -> Result<i32, Error> {
    let model = super::load(file, g)?;
    let n: usize = registry().iter().map(|k| k.desired(&model).len()).sum();
    super::eprint(&format!(
        "{} is valid: stack \"{}\" in {}, {n} resources.\n",
        file.display(),
        model.name,
        model.region
    ));
    Ok(0)
}
