//! Dependency graph helpers and a parallel walk that skips the dependents of failures
//! (after Terraform's `internal/dag`).

use std::collections::{HashMap, HashSet};
use std::future::Future;

use futures::stream::{FuturesUnordered, StreamExt};

use super::resource::{Cloud, Kind, Node};

/// Indices of `nodes` in dependency order (dependencies first). Ties keep input order.
pub fn topo_order(nodes: &[Node]) -> Result<Vec<usize>, String> {
    let index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.key(), i))
        .collect();
    if index.len() != nodes.len() {
        return Err("duplicate node ids in the desired graph".into());
    }
    let mut deps = Vec::with_capacity(nodes.len());
    for n in nodes {
        let mut d = Vec::new();
        for dep in n.dep_keys() {
            match index.get(dep.as_str()) {
                Some(&j) => d.push(j),
                None => return Err(format!("{} refers to unknown node {dep}", n.address())),
            }
        }
        deps.push(d);
    }
    order(&deps).ok_or_else(|| "dependency cycle in the desired graph".to_string())
}

/// For each kind, the kinds it depends on, transitively.
pub type KindClosure = HashMap<&'static str, HashSet<&'static str>>;

/// The transitive closure of every kind's `Kind::depends_on`.
pub fn kind_closure<C: Cloud>(kinds: &[Box<dyn Kind<C>>]) -> KindClosure {
    closure_of(kinds, |k| k.depends_on().to_vec())
}

/// The order of deletes: the closure of `Kind::depends_on` without each kind's
/// `Kind::made_after`.
pub fn delete_closure<C: Cloud>(kinds: &[Box<dyn Kind<C>>]) -> KindClosure {
    closure_of(kinds, |k| {
        let skip = k.made_after();
        k.depends_on()
            .iter()
            .copied()
            .filter(|d| !skip.contains(d))
            .collect()
    })
}

fn closure_of<C: Cloud>(
    kinds: &[Box<dyn Kind<C>>],
    direct_of: impl Fn(&dyn Kind<C>) -> Vec<&'static str>,
) -> KindClosure {
    let direct: HashMap<&str, Vec<&'static str>> = kinds
        .iter()
        .map(|k| (k.name(), direct_of(k.as_ref())))
        .collect();
    let mut out = HashMap::new();
    for k in kinds {
        let mut seen: HashSet<&'static str> = HashSet::new();
        let mut stack: Vec<&'static str> = direct[k.name()].clone();
        while let Some(d) = stack.pop() {
            if seen.insert(d) {
                stack.extend(direct.get(d).into_iter().flatten().copied());
            }
        }
        out.insert(k.name(), seen);
    }
    out
}

/// Kahn's algorithm over `deps[i]` = the indices `i` waits for.
pub fn order(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    let n = deps.len();
    let mut done = vec![false; n];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let before = out.len();
        for i in 0..n {
            if !done[i] && deps[i].iter().all(|&d| done[d]) {
                done[i] = true;
                out.push(i);
            }
        }
        if out.len() == before {
            return None;
        }
    }
    Some(out)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed(String),
    /// Not run because this dependency failed or was skipped.
    Skipped(usize),
}

/// Run `f(i)` for every node once all of `deps[i]` are done, as many at once as are ready.
/// A node whose dependency failed is skipped, and so are its dependents.
pub async fn walk<F, Fut>(deps: &[Vec<usize>], mut f: F) -> Vec<Outcome>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let n = deps.len();
    let mut outcome: Vec<Option<Outcome>> = vec![None; n];
    let mut started = vec![false; n];
    let mut running = FuturesUnordered::new();
    loop {
        // Settle skips and start everything ready.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for i in 0..n {
                if started[i] {
                    continue;
                }
                if let Some(&bad) = deps[i].iter().find(|&&d| {
                    matches!(
                        outcome[d],
                        Some(Outcome::Failed(_)) | Some(Outcome::Skipped(_))
                    )
                }) {
                    started[i] = true;
                    outcome[i] = Some(Outcome::Skipped(bad));
                    progressed = true;
                } else if deps[i].iter().all(|&d| outcome[d] == Some(Outcome::Done)) {
                    started[i] = true;
                    let fut = f(i);
                    running.push(async move { (i, fut.await) });
                }
            }
        }
        match running.next().await {
            Some((i, res)) => {
                outcome[i] = Some(match res {
                    Ok(()) => Outcome::Done,
                    Err(e) => Outcome::Failed(e),
                })
            }
            None => break,
        }
    }
    outcome
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Failed("dependency cycle".into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn order_puts_dependencies_first_and_detects_cycles() {
        assert_eq!(order(&[vec![1], vec![], vec![0, 1]]), Some(vec![1, 0, 2]));
        assert_eq!(order(&[vec![1], vec![0]]), None);
    }

    #[tokio::test]
    async fn walk_runs_independent_nodes_together_and_skips_dependents_of_failures() {
        // 0 and 1 independent; 2 needs 0; 3 needs 1 (which fails); 4 needs 3.
        let deps = vec![vec![], vec![], vec![0], vec![1], vec![3]];
        let log = Arc::new(Mutex::new(Vec::new()));
        let out = walk(&deps, |i| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(i);
                if i == 1 {
                    Err("boom".to_string())
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(out[0], Outcome::Done);
        assert_eq!(out[1], Outcome::Failed("boom".into()));
        assert_eq!(out[2], Outcome::Done);
        assert_eq!(out[3], Outcome::Skipped(1));
        assert_eq!(out[4], Outcome::Skipped(3));
        let ran = log.lock().unwrap().clone();
        assert!(!ran.contains(&3) && !ran.contains(&4));
    }
}
