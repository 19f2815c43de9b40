//! One module per command; shared set-up here.

pub mod deploy;
pub mod destroy;
pub mod drill;
pub mod maintenance;
pub mod plan;
pub mod status;
pub mod validate;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use crate::aws::{self, Clients};
use crate::cli::Global;
use crate::engine::{self, Plan, PlanError, Scopes, StackRef};
use crate::error::Error;
use crate::render::Style;
use crate::resources::{registry, DynKind};
use crate::spec::{self, Model};

/// What every command that talks to AWS needs.
pub struct Session {
    pub kinds: Vec<DynKind>,
    /// The primary region's clients.
    pub clients: Clients,
    /// Every region's clients (the primary's too).
    pub regional: BTreeMap<String, Clients>,
    pub stack: StackRef,
    pub style: Style,
    global: Global,
}

pub fn load(file: &Path, g: &Global) -> Result<Model, Error> {
    spec::load_file(&file.to_string_lossy(), g.region.as_deref())
}

/// Clients for the stack's primary region (`stack.region`) and every other region in
/// `regions`.
pub async fn session(g: &Global, stack: StackRef, regions: &[String]) -> Session {
    let mut s = Session {
        kinds: registry(),
        clients: connect(g, &stack.region).await,
        regional: BTreeMap::new(),
        stack,
        style: Style::new(g.color),
        global: g.clone(),
    };
    s.regional.insert(s.stack.region.clone(), s.clients.clone());
    s.connect(regions).await;
    s
}

async fn connect(g: &Global, region: &str) -> Clients {
    aws::connect(&aws::Settings {
        region: region.to_string(),
        profile: g.profile.clone(),
        endpoint_url: g.endpoint_url.clone(),
    })
    .await
}

pub fn stack_ref(m: &Model) -> StackRef {
    StackRef {
        name: m.name.clone(),
        region: m.region.clone(),
        tags: m.tags.clone(),
    }
}

impl Session {
    /// Add clients for `regions` not connected yet.
    async fn connect(&mut self, regions: &[String]) {
        let new: Vec<&String> = regions
            .iter()
            .filter(|r| !self.regional.contains_key(*r))
            .collect();
        let clients = futures::future::join_all(new.iter().map(|r| connect(&self.global, r))).await;
        for (r, c) in new.into_iter().zip(clients) {
            self.regional.insert(r.clone(), c);
        }
    }

    pub fn scopes(&self) -> Scopes<'_, Clients> {
        Scopes {
            primary: self.stack.region.clone(),
            regions: self.regional.iter().map(|(r, c)| (r.clone(), c)).collect(),
        }
    }

    /// Plan across every connected region. When the stack's global resources name a region
    /// not connected (one removed from the spec, or a stack destroyed by name), connect it and
    /// plan again, once.
    pub async fn plan(&mut self, model: Option<&Model>) -> Result<Plan, Error> {
        let first = engine::plan(&self.kinds, &self.scopes(), &self.stack, model).await;
        match first {
            Err(PlanError::MoreRegions(more)) => {
                self.connect(&more).await;
                Ok(engine::plan(&self.kinds, &self.scopes(), &self.stack, model).await?)
            }
            other => Ok(other?),
        }
    }
}

/// The stack a command without a spec acts on, and its regions (primary first): from FILE, or
/// `--stack` plus a region. Regions a stack's global resources name are found by planning.
pub fn target(
    file: Option<&Path>,
    stack: Option<&str>,
    g: &Global,
) -> Result<(StackRef, Vec<String>), Error> {
    match (file, stack) {
        (Some(f), _) => {
            let m = load(f, g)?;
            Ok((
                StackRef {
                    name: m.name,
                    region: m.region,
                    tags: Default::default(),
                },
                m.regions,
            ))
        }
        (None, Some(name)) => {
            let region = g
                .region
                .clone()
                .or_else(|| std::env::var("AWS_REGION").ok())
                .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                .ok_or_else(|| Error::Usage("--stack needs --region (or AWS_REGION)".into()))?;
            Ok((
                StackRef {
                    name: name.to_string(),
                    region: region.clone(),
                    tags: Default::default(),
                },
                vec![region],
            ))
        }
        (None, None) => Err(Error::Usage("give a spec FILE or --stack NAME".into())),
    }
}

/// `target`, and the spec's model when the stack is given by FILE.
pub fn target_model(
    file: Option<&Path>,
    stack: Option<&str>,
    g: &Global,
) -> Result<(StackRef, Vec<String>, Option<Model>), Error> {
    match file {
        Some(f) => {
            let m = load(f, g)?;
            Ok((
                StackRef {
                    name: m.name.clone(),
                    region: m.region.clone(),
                    tags: Default::default(),
                },
                m.regions.clone(),
                Some(m),
            ))
        }
        None => {
            let (s, r) = target(None, stack, g)?;
            Ok((s, r, None))
        }
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
