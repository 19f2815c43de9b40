//! Read your own writes: AWS's listings lag behind what a run did by seconds. A run must not
//! finish while they do not yet show what it created and kept, or still show what it deleted:
//! the next plan would make a second copy, or a destroy would say "complete" while resources
//! run on.

use futures::future::try_join_all;
use std::collections::HashSet;

use super::apply::ApplyResult;
use super::plan::{Action, Plan, PlanError};
use super::resource::{Cloud, Kind, Node, Scopes, GLOBAL};
use super::value::Attrs;

/// What the listings do not show as `plan`'s apply left it: the addresses of resources it
/// created (or replaced) that are not listed yet, and of those it deleted that are still
/// listed. Only the kinds it wrote are read again, each with its listing alone
/// (`Kind::listed`), all at once: one round trip when AWS is consistent.
pub async fn unsettled<C: Cloud>(
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
    let mut known_outputs = plan.known_outputs();
    known_outputs.extend(applied.outputs.clone());
    let mut jobs = Vec::new();
    let mut pairs: Vec<(&str, &str)> = written.iter().map(|c| (c.scope.as_str(), c.kind)).collect();
    pairs.sort();
    pairs.dedup();
    for (scope, kind) in pairs {
        let Some(k) = kinds.iter().find(|k| k.name() == kind) else {
            continue;
        };
        // Found by name: nothing lists it late.
        if k.found_by_name() {
            continue;
        }
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
        // What the run wrote of it: created nodes' attributes (references resolved), deleted
        // resources' observed ones.
        let known: Vec<Attrs> = written
            .iter()
            .filter(|c| c.scope == scope && c.kind == kind)
            .filter_map(|c| match (c.action, &c.node, &c.current) {
                (Action::Delete, _, Some(cur)) => Some(cur.attrs.clone()),
                (_, Some(node), _) => {
                    let lookup = |n: &str, k: &str| {
                        known_outputs
                            .get(&super::resource::qualify(scope, n))
                            .and_then(|o| o.get(k))
                            .cloned()
                    };
                    node.attrs
                        .iter()
                        .map(|(k, v)| Some((k.clone(), v.resolve(&lookup)?)))
                        .collect::<Option<Attrs>>()
                }
                _ => None,
            })
            .collect();
        let st = plan.stack_in(scope);
        jobs.push(async move {
            let found = k
                .listed(ctx, &st, &nodes, &known)
                .await
                .map_err(|source| PlanError::Read { kind, source })?;
            Ok::<_, PlanError>((scope, kind, found))
        });
    }
    let found = try_join_all(jobs).await?;
    let mut out = Vec::new();
    for c in written {
        let Some(here) = found
            .iter()
            .find(|(s, k, _)| *s == c.scope && *k == c.kind)
            .map(|(_, _, f)| f)
        else {
            continue;
        };
        let here: Vec<_> = here.iter().filter(|o| o.owned).collect();
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

/// After a destroy: the owned resources the listings still show in every scope, as
/// (scope, physical id), each kind read with its listing alone (`Kind::listed`), all at once.
/// Kinds discovered by name or id only are not read: what the destroy's plan found of them is
/// all there is.
pub async fn remaining<C: Cloud>(
    kinds: &[Box<dyn Kind<C>>],
    scopes: &Scopes<'_, C>,
    plan: &Plan,
) -> Result<Vec<(String, String)>, PlanError> {
    let mut jobs = Vec::new();
    for scope in scopes.ordered().into_iter().chain([GLOBAL.to_string()]) {
        let Some(ctx) = scopes.ctx(&scope) else {
            continue;
        };
        let global = scope == GLOBAL;
        for k in kinds
            .iter()
            .filter(|k| k.global() == global && !k.found_by_name())
        {
            let st = plan.stack_in(&scope);
            let scope = scope.clone();
            jobs.push(async move {
                let found =
                    k.listed(ctx, &st, &[], &[])
                        .await
                        .map_err(|source| PlanError::Read {
                            kind: k.name(),
                            source,
                        })?;
                Ok::<_, PlanError>(
                    found
                        .into_iter()
                        .filter(|o| o.owned)
                        .map(|o| (scope.clone(), o.physical_id))
                        .collect::<Vec<_>>(),
                )
            });
        }
    }
    Ok(try_join_all(jobs).await?.into_iter().flatten().collect())
}
