//! Read your own writes: AWS's listings lag behind what a run did by seconds. A run must not
//! finish while they do not yet show what it created and kept, or still show what it deleted:
//! the next plan would make a second copy, or a destroy would say "complete" while resources
//! run on.

use futures::future::try_join_all;
use std::collections::HashSet;

use super::apply::ApplyResult;
use super::plan::{Action, Plan, PlanError};
use super::resource::{Kind, Node, Scopes};

/// What the listings do not show as `plan`'s apply left it: the addresses of resources it
/// created (or replaced, or kept) that are not listed yet, and of those it deleted that are
/// still listed. Only the kinds it wrote are read again, all at once.
pub async fn unsettled<C: Sync>(
    kinds: &[Box<dyn Kind<C>>],
    scopes: &Scopes<'_, C>,
    plan: &Plan,
    applied: &ApplyResult,
) -> Result<Vec<String>, PlanError> {
    let failed: HashSet<&str> = applied
        .failed
        .iter()
        .map(|(a, _)| a.as_str())
        .chain(applied.skipped.iter().map(String::as_str))
        .collect();
    let written: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace | Action::Delete))
        .filter(|c| !failed.contains(c.address.as_str()))
        .collect();
    let mut jobs = Vec::new();
    let mut pairs: Vec<(&str, &str)> = written.iter().map(|c| (c.scope.as_str(), c.kind)).collect();
    pairs.sort();
    pairs.dedup();
    for (scope, kind) in pairs {
        let Some(k) = kinds.iter().find(|k| k.name() == kind) else {
            continue;
        };
        let Some(ctx) = scopes.ctx(scope) else {
            continue;
        };
        // Every desired node of the kind in the scope, for the names look-alikes are read by.
        let nodes: Vec<&Node> = plan
            .changes
            .iter()
            .filter(|c| c.scope == scope && c.kind == kind)
            .filter_map(|c| c.node.as_ref())
            .collect();
        let st = plan.stack_in(scope);
        jobs.push(async move {
            let found = k
                .discover(ctx, &st, &nodes)
                .await
                .map_err(|source| PlanError::Read { kind, source })?;
            Ok::<_, PlanError>((scope, kind, found))
        });
    }
    let found = try_join_all(jobs).await?;
    let mut out = Vec::new();
    for c in written {
        let here: Vec<_> = found
            .iter()
            .filter(|(s, k, _)| *s == c.scope && *k == c.kind)
            .flat_map(|(_, _, f)| f.iter())
            .filter(|o| o.owned)
            .collect();
        let lagging = match c.action {
            // Still listed under the physical id it had.
            Action::Delete => c
                .current
                .as_ref()
                .is_some_and(|cur| here.iter().any(|o| o.physical_id == cur.physical_id)),
            // Created, or made again: listed under its logical id.
            _ => !here.iter().any(|o| o.id == c.id),
        };
        if lagging {
            out.push(c.address.clone());
        }
    }
    Ok(out)
}
