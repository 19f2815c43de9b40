//! One module per command; shared set-up here.

pub mod deploy;
pub mod destroy;
pub mod plan;
pub mod status;
pub mod validate;

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use crate::aws::{self, Clients};
use crate::cli::Global;
use crate::engine::{self, Plan, StackRef};
use crate::error::Error;
use crate::render::Style;
use crate::resources::{registry, DynKind};
use crate::spec::{self, Model};

/// What every command that talks to AWS needs.
pub struct Session {
    pub kinds: Vec<DynKind>,
    pub clients: Clients,
    pub stack: StackRef,
    pub style: Style,
}

pub fn load(file: &Path, g: &Global) -> Result<Model, Error> {
    spec::load_file(&file.to_string_lossy(), g.region.as_deref())
}

pub async fn session(g: &Global, stack: StackRef) -> Session {
    let settings = aws::Settings {
        region: stack.region.clone(),
        profile: g.profile.clone(),
        endpoint_url: g.endpoint_url.clone(),
    };
    let clients = aws::connect(&settings).await;
    Session {
        kinds: registry(),
        clients,
        stack,
        style: Style::new(g.color),
    }
}

pub fn stack_ref(m: &Model) -> StackRef {
    StackRef {
        name: m.name.clone(),
        region: m.region.clone(),
        tags: m.tags.clone(),
    }
}

impl Session {
    pub async fn plan(&self, model: Option<&Model>) -> Result<Plan, Error> {
        Ok(engine::plan(&self.kinds, &self.clients, &self.stack, model).await?)
    }
}

/// The stack a command without a spec acts on: from FILE, or `--stack` plus a region.
pub fn target(file: Option<&Path>, stack: Option<&str>, g: &Global) -> Result<StackRef, Error> {
    match (file, stack) {
        (Some(f), _) => {
            let m = load(f, g)?;
            Ok(StackRef {
                name: m.name,
                region: m.region,
                tags: Default::default(),
            })
        }
        (None, Some(name)) => {
            let region = g
                .region
                .clone()
                .or_else(|| std::env::var("AWS_REGION").ok())
                .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                .ok_or_else(|| Error::Usage("--stack needs --region (or AWS_REGION)".into()))?;
            Ok(StackRef {
                name: name.to_string(),
                region,
                tags: Default::default(),
            })
        }
        (None, None) => Err(Error::Usage("give a spec FILE or --stack NAME".into())),
    }
}

/// Ask on a TTY; refuse without one unless `--yes`.
pub fn confirm(yes: bool, action: &'static str, question: &str) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::NeedsConfirmation { action });
    }
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Cancelled { action })
    }
}

pub fn eprint(s: &str) {
    let _ = std::io::stderr().write_all(s.as_bytes());
}
