//! The executor: deletes in reverse dependency order, then creates and updates in dependency
//! order, each phase as parallel as the graph allows.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::graph::{self, Outcome};
use super::plan::{Action, Change, Plan};
use super::resource::Kind;
use super::value::Outputs;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Delete,
    Create,
    Update,
}

impl Step {
    pub fn verb(self) -> (&'static str, &'static str) {
        match self {
            Step::Delete => ("Destroying", "Destroyed"),
            Step::Create => ("Creating", "Created"),
            Step::Update => ("Modifying", "Modified"),
        }
    }
}

/// Progress sink; implemented by the renderer.
pub trait Reporter: Send + Sync {
    fn started(&self, change: &Change, step: Step);
    fn finished(&self, change: &Change, step: Step, elapsed: Duration, detail: &str);
    fn failed(&self, change: &Change, step: Step, error: &str);
    fn skipped(&self, change: &Change, step: Step, because: &str);
}

#[derive(Debug, Default)]
pub struct ApplyResult {
    pub outputs: HashMap<String, Outputs>,
    /// (address, error)
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<String>,
    pub done: usize,
}

impl ApplyResult {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
}

/// Apply a plan.
pub async fn apply<C: Sync>(
    kinds: &[Box<dyn Kind<C>>],
    ctx: &C,
    plan: &Plan,
    report: &dyn Reporter,
) -> ApplyResult {
    let kind_of = |name: &str| kinds.iter().find(|k| k.name() == name).map(|k| k.as_ref());
    let mut result = ApplyResult::default();

    // Phase 1: deletes (destroyed resources and the old half of replacements).
    let deletes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .collect();
    let closure = kind_closure(kinds);
    let del_deps: Vec<Vec<usize>> = deletes
        .iter()
        .map(|c| {
            // c waits for every resource of a kind that (transitively) depends on c's kind.
            (0..deletes.len())
                .filter(|&j| {
                    closure
                        .get(deletes[j].kind)
                        .is_some_and(|d| d.contains(c.kind))
                })
                .filter(|&j| deletes[j].kind != c.kind)
                .collect()
        })
        .collect();
    let outcomes = graph::walk(&del_deps, |i| {
        let c = deletes[i];
        async move {
            let kind = kind_of(c.kind).ok_or_else(|| format!("unknown kind {}", c.kind))?;
            let current = c.current.as_ref().ok_or("nothing to delete")?;
            report.started(c, Step::Delete);
            let t = Instant::now();
            match kind.delete(ctx, current).await {
                Ok(()) => {
                    report.finished(c, Step::Delete, t.elapsed(), &current.physical_id);
                    Ok(())
                }
                Err(e) => {
                    let msg = crate::error::chain(e.as_ref());
                    report.failed(c, Step::Delete, &msg);
                    Err(msg)
                }
            }
        }
    })
    .await;
    let mut delete_failed: HashSet<&str> = HashSet::new();
    for (c, o) in deletes.iter().zip(&outcomes) {
        match o {
            Outcome::Done => result.done += usize::from(c.action == Action::Delete),
            Outcome::Failed(e) => {
                delete_failed.insert(c.id.as_str());
                result.failed.push((c.address.clone(), e.clone()));
            }
            Outcome::Skipped(j) => {
                delete_failed.insert(c.id.as_str());
                report.skipped(c, Step::Delete, &deletes[*j].address);
                result.skipped.push(c.address.clone());
            }
        }
    }

    // Phase 2: creates, the new half of replacements, and in-place updates.
    let writes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace | Action::Update))
        .collect();
    let pos: HashMap<&str, usize> = writes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let write_deps: Vec<Vec<usize>> = writes
        .iter()
        .map(|c| {
            let node = c.node.as_ref().expect("writes have a node");
            node.deps()
                .iter()
                .filter_map(|d| pos.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let outputs = Mutex::new(plan.known_outputs());
    let outcomes = graph::walk(&write_deps, |i| {
        let c = writes[i];
        let outputs = &outputs;
        let blocked = delete_failed.contains(c.id.as_str());
        async move {
            let step = if c.action == Action::Update {
                Step::Update
            } else {
                Step::Create
            };
            if blocked {
                let msg = "the old resource could not be deleted".to_string();
                report.failed(c, step, &msg);
                return Err(msg);
            }
            let kind = kind_of(c.kind).ok_or_else(|| format!("unknown kind {}", c.kind))?;
            let node = c.node.as_ref().expect("writes have a node");
            let attrs = {
                let known = outputs.lock().unwrap();
                let lookup = |n: &str, k: &str| known.get(n).and_then(|o| o.get(k)).cloned();
                node.attrs
                    .iter()
                    .map(|(k, v)| Some((k.clone(), v.resolve(&lookup)?)))
                    .collect::<Option<_>>()
            };
            let Some(attrs) = attrs else {
                let msg = "internal error: a reference is still unknown at apply time".to_string();
                report.failed(c, step, &msg);
                return Err(msg);
            };
            report.started(c, step);
            let t = Instant::now();
            let res = match (step, &c.current) {
                (Step::Update, Some(cur)) => {
                    kind.update(ctx, &plan.stack, node, &attrs, cur, &c.changed_keys())
                        .await
                }
                _ => kind.create(ctx, &plan.stack, node, &attrs).await,
            };
            match res {
                Ok(out) => {
                    let detail = out
                        .get("id")
                        .or_else(|| out.get("arn"))
                        .cloned()
                        .unwrap_or_default();
                    outputs.lock().unwrap().insert(c.id.clone(), out);
                    report.finished(c, step, t.elapsed(), &detail);
                    Ok(())
                }
                Err(e) => {
                    let msg = crate::error::chain(e.as_ref());
                    report.failed(c, step, &msg);
                    Err(msg)
                }
            }
        }
    })
    .await;
    for (c, o) in writes.iter().zip(&outcomes) {
        match o {
            Outcome::Done => result.done += 1,
            Outcome::Failed(e) => {
                if !result.failed.iter().any(|(a, _)| a == &c.address) {
                    result.failed.push((c.address.clone(), e.clone()));
                }
            }
            Outcome::Skipped(j) => {
                let step = if c.action == Action::Update {
                    Step::Update
                } else {
                    Step::Create
                };
                report.skipped(c, step, &writes[*j].address);
                result.skipped.push(c.address.clone());
            }
        }
    }
    result.outputs = outputs.into_inner().unwrap();
    result
}

/// For each kind, the set of kinds it depends on, transitively.
fn kind_closure<C: Sync>(
    kinds: &[Box<dyn Kind<C>>],
) -> HashMap<&'static str, HashSet<&'static str>> {
    let direct: HashMap<&str, &[&str]> = kinds.iter().map(|k| (k.name(), k.depends_on())).collect();
    let mut out = HashMap::new();
    for k in kinds {
        let mut seen: HashSet<&'static str> = HashSet::new();
        let mut stack: Vec<&'static str> = k.depends_on().to_vec();
        while let Some(d) = stack.pop() {
            if seen.insert(d) {
                stack.extend(direct.get(d).copied().unwrap_or(&[]).iter().copied());
            }
        }
        out.insert(k.name(), seen);
    }
    out
}
