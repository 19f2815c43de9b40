//! What is left after a destroy: resources named like the stack's that it does not own (a load
//! balancer whose ownership tag was removed by hand), which destroy never touches but must not
//! pass over in silence.

use futures::future::try_join_all;

use super::plan::PlanError;
use super::resource::{Cloud, Kind, Node, Observed, Scopes, StackRef};

/// Everything discovery finds for `nodes` (the stack's desired nodes, for their names), kind by
/// kind and scope by scope at once: the look-alikes (`owned: false`) and anything still owned.
/// Kinds without a node are not asked: what they own was just destroyed.
pub async fn leftovers<C: Cloud>(
    kinds: &[Box<dyn Kind<C>>],
    scopes: &Scopes<'_, C>,
    stack: &StackRef,
    nodes: &[Node],
) -> Result<Vec<(String, Observed)>, PlanError> {
    let mut jobs = Vec::new();
    for k in kinds {
        let mut in_scope: Vec<&str> = nodes
            .iter()
            .filter(|n| n.kind == k.name())
            .map(|n| n.scope.as_str())
            .collect();
        in_scope.sort();
        in_scope.dedup();
        for scope in in_scope {
            let Some(ctx) = scopes.ctx(scope) else {
                continue;
            };
            let mine: Vec<&Node> = nodes
                .iter()
                .filter(|n| n.kind == k.name() && n.scope == scope)
                .collect();
            let mut st = stack.clone();
            st.region = scopes.region_of(scope).to_string();
            jobs.push(async move {
                let found =
                    k.discover(ctx, &st, &mine)
                        .await
                        .map_err(|source| PlanError::Read {
                            kind: k.name(),
                            source,
                        })?;
                Ok::<_, PlanError>(
                    found
                        .into_iter()
                        .map(|o| (scope.to_string(), o))
                        .collect::<Vec<_>>(),
                )
            });
        }
    }
    Ok(try_join_all(jobs).await?.into_iter().flatten().collect())
}
