//! Planning: read AWS, compare with the desired nodes, decide an action per resource.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::future::try_join_all;
use serde::Serialize;

use super::graph;
use super::resource::{BoxError, Conflict, Kind, Node, Observed, StackRef};
use super::value::{Attrs, Outputs, Value};
use crate::spec::Model;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    /// Terraform's symbols.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// One attribute that differs. `after: None` means "known after apply".
#[derive(Clone, Debug, Serialize)]
pub struct AttrChange {
    pub key: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub forces_replacement: bool,
}

#[derive(Clone, Debug)]
pub struct Change {
    pub address: String,
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub action: Action,
    /// The desired node (absent for a delete).
    pub node: Option<Node>,
    /// What AWS has now (absent for a create).
    pub current: Option<Observed>,
    /// Every desired attribute, resolved as far as known before apply.
    pub after: Attrs,
    /// Attributes that differ (update and replace).
    pub diffs: Vec<AttrChange>,
    /// Drift deliberately left alone, with the reason.
    pub notes: Vec<String>,
}

impl Change {
    pub fn changed_keys(&self) -> Vec<String> {
        self.diffs.iter().map(|d| d.key.clone()).collect()
    }
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub stack: StackRef,
    /// Sorted by address.
    pub changes: Vec<Change>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.destroy += 1,
                Action::NoOp => {}
            }
        }
        s
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    /// Outputs already known before apply (of resources that keep them).
    pub fn known_outputs(&self) -> HashMap<String, Outputs> {
        self.changes
            .iter()
            .filter(|c| {
                c.action == Action::NoOp
                    || (c.action == Action::Update
                        && !c.node.as_ref().is_some_and(|n| n.outputs_change_on_update))
            })
            .filter_map(|c| Some((c.id.clone(), c.current.as_ref()?.outputs.clone())))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("resources with this stack's names exist but are not owned by stack \"{stack}\"")]
    Conflicts {
        stack: String,
        conflicts: Vec<Conflict>,
    },
    #[error("failed to read {kind} resources")]
    Read {
        kind: &'static str,
        #[source]
        source: BoxError,
    },
    #[error(transparent)]
    Preflight(BoxError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Read AWS and compute the plan. With `model: None` everything the stack owns is destroyed.
pub async fn plan<C: Sync>(
    kinds: &[Box<dyn Kind<C>>],
    ctx: &C,
    stack: &StackRef,
    model: Option<&Model>,
) -> Result<Plan, PlanError> {
    let nodes: Vec<Node> = match model {
        Some(m) => kinds.iter().flat_map(|k| k.desired(m)).collect(),
        None => Vec::new(),
    };
    let order = graph::topo_order(&nodes).map_err(PlanError::Internal)?;
    if cfg!(debug_assertions) {
        check_declared_deps(&nodes, &graph::kind_closure(kinds)).map_err(PlanError::Internal)?;
    }

    if let Some(m) = model {
        try_join_all(kinds.iter().map(|k| k.preflight(ctx, m)))
            .await
            .map_err(PlanError::Preflight)?;
    }

    // One discovery per kind, all kinds at once.
    let found = try_join_all(kinds.iter().map(|k| {
        let mine: Vec<&Node> = nodes.iter().filter(|n| n.kind == k.name()).collect();
        async move {
            k.discover(ctx, stack, &mine)
                .await
                .map_err(|source| PlanError::Read {
                    kind: k.name(),
                    source,
                })
        }
    }))
    .await?;

    let mut owned: BTreeMap<(&'static str, String), Vec<Observed>> = BTreeMap::new();
    let mut foreign: HashMap<(&'static str, String), Observed> = HashMap::new();
    for o in found.into_iter().flatten() {
        if o.owned {
            owned.entry((o.kind, o.id.clone())).or_default().push(o);
        } else {
            foreign.insert((o.kind, o.id.clone()), o);
        }
    }

    let mut conflicts = Vec::new();
    let mut known: HashMap<String, Outputs> = HashMap::new();
    let mut replaced: HashSet<String> = HashSet::new();
    let mut changes = Vec::new();
    for &i in &order {
        let node = &nodes[i];
        let key = (node.kind, node.id.clone());
        let current = owned.get_mut(&key).and_then(|v| {
            if v.is_empty() {
                None
            } else {
                Some(v.remove(0))
            }
        });
        if current.is_none() {
            if let Some(f) = foreign.get(&key) {
                conflicts.push(Conflict {
                    address: node.address(),
                    physical_id: f.physical_id.clone(),
                });
            }
        }
        let change = diff(node, current, &known, &replaced);
        if change.action == Action::Replace {
            replaced.insert(node.id.clone());
        }
        let keeps_outputs = change.action == Action::NoOp
            || (change.action == Action::Update && !node.outputs_change_on_update);
        if keeps_outputs {
            if let Some(c) = &change.current {
                known.insert(node.id.clone(), c.outputs.clone());
            }
        }
        changes.push(change);
    }
    if !conflicts.is_empty() {
        return Err(PlanError::Conflicts {
            stack: stack.name.clone(),
            conflicts,
        });
    }

    // Owned resources that no desired node claims (removed from the spec, or duplicates left by
    // an interrupted run) are destroyed.
    for o in owned.into_values().flatten() {
        changes.push(Change {
            address: o.address(),
            id: o.id.clone(),
            kind: o.kind,
            name: o.name.clone(),
            action: Action::Delete,
            node: None,
            after: Attrs::new(),
            diffs: Vec::new(),
            notes: Vec::new(),
            current: Some(o),
        });
    }
    changes.sort_by(|a, b| {
        a.address
            .cmp(&b.address)
            .then(a.action.symbol().cmp(b.action.symbol()))
    });
    Ok(Plan {
        stack: stack.clone(),
        changes,
    })
}

/// Every reference of a node (`Value::Ref` targets and `Node::after`) must point at a node of
/// its own kind or of a kind in the closure of its kind's `Kind::depends_on`. The delete phase
/// falls back on the declared kind order wherever observed attributes show nothing, so the
/// declarations must not drift apart from what nodes refer to. Checked in debug builds (every
/// test plans through it).
fn check_declared_deps(nodes: &[Node], closure: &graph::KindClosure) -> Result<(), String> {
    let kind_of: HashMap<&str, &'static str> =
        nodes.iter().map(|n| (n.id.as_str(), n.kind)).collect();
    for n in nodes {
        for dep in n.deps() {
            // An unknown node is topo_order's error.
            let Some(&kind) = kind_of.get(dep.as_str()) else {
                continue;
            };
            if kind != n.kind && !closure.get(n.kind).is_some_and(|c| c.contains(kind)) {
                return Err(format!(
                    "{} refers to {kind}.{dep}, but {kind} is not among the kinds {} depends on",
                    n.address(),
                    n.kind
                ));
            }
        }
    }
    Ok(())
}

/// `replaced`: nodes already planned for replacement. A resource that refers to one is replaced
/// too: names are deterministic, so the old resource must be deleted before its successor is
/// created, and it cannot be deleted while something still uses it (a listener its target
/// group, a security group rule its source group).
fn diff(
    node: &Node,
    current: Option<Observed>,
    known: &HashMap<String, Outputs>,
    replaced: &HashSet<String>,
) -> Change {
    let lookup = |n: &str, k: &str| known.get(n).and_then(|o| o.get(k)).cloned();
    let mut after = Attrs::new();
    let mut diffs = Vec::new();
    let mut notes = Vec::new();
    for (key, want) in &node.attrs {
        let resolved = want.resolve(&lookup);
        after.insert(
            key.clone(),
            resolved.clone().unwrap_or_else(|| want.clone()),
        );
        let Some(cur) = &current else { continue };
        let have = cur.attrs.get(key).cloned().unwrap_or(Value::Null);
        if resolved.as_ref() == Some(&have) {
            continue;
        }
        if let Some((_, why)) = node.ignore_drift.iter().find(|(k, _)| k == key) {
            notes.push(format!("{key} is {have} in AWS and is left alone: {why}"));
            continue;
        }
        let mut refs = Vec::new();
        want.refs(&mut refs);
        diffs.push(AttrChange {
            key: key.clone(),
            before: Some(have),
            after: resolved,
            forces_replacement: node.force_new.contains(&key.as_str())
                || refs.iter().any(|r| replaced.contains(*r)),
        });
    }
    let action = match &current {
        None => Action::Create,
        Some(_) if diffs.iter().any(|d| d.forces_replacement) => Action::Replace,
        Some(_) if !diffs.is_empty() => Action::Update,
        Some(_) => Action::NoOp,
    };
    Change {
        address: node.address(),
        id: node.id.clone(),
        kind: node.kind,
        name: node.name.clone(),
        action,
        node: Some(node.clone()),
        current,
        after,
        diffs,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(node: &Node, attrs: Attrs) -> Observed {
        Observed {
            id: node.id.clone(),
            kind: node.kind,
            physical_id: "p-1".into(),
            name: node.name.clone(),
            attrs,
            outputs: Outputs::new(),
            owned: true,
        }
    }

    #[test]
    fn unchanged_is_noop_and_changed_force_new_is_replace() {
        let node = Node::new("aws_x", "x", "x")
            .attr("a", 1i64)
            .attr("b", "s")
            .force_new(&["b"]);
        let same = diff(
            &node,
            Some(observed(&node, node.attrs.clone())),
            &HashMap::new(),
            &HashSet::new(),
        );
        assert_eq!(same.action, Action::NoOp);

        let mut attrs = node.attrs.clone();
        attrs.insert("a".into(), Value::Int(2));
        let upd = diff(
            &node,
            Some(observed(&node, attrs.clone())),
            &HashMap::new(),
            &HashSet::new(),
        );
        assert_eq!(upd.action, Action::Update);
        assert_eq!(upd.changed_keys(), vec!["a"]);

        attrs.insert("b".into(), Value::str("t"));
        let rep = diff(
            &node,
            Some(observed(&node, attrs)),
            &HashMap::new(),
            &HashSet::new(),
        );
        assert_eq!(rep.action, Action::Replace);
        assert!(rep
            .diffs
            .iter()
            .any(|d| d.key == "b" && d.forces_replacement));
    }

    #[test]
    fn unknown_reference_counts_as_change_and_ignored_drift_is_a_note() {
        let mut node = Node::new("aws_x", "x", "x")
            .attr("vpc", Value::reference("vpc", "id"))
            .attr("count", 2i64);
        node.ignore_drift
            .push(("count", "autoscaling owns it".into()));
        let mut attrs = Attrs::new();
        attrs.insert("vpc".into(), Value::str("vpc-1"));
        attrs.insert("count".into(), Value::Int(5));
        let c = diff(
            &node,
            Some(observed(&node, attrs.clone())),
            &HashMap::new(),
            &HashSet::new(),
        );
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.diffs[0].after, None);
        assert_eq!(c.notes.len(), 1);

        let mut known = HashMap::new();
        known.insert(
            "vpc".to_string(),
            Outputs::from([("id".to_string(), "vpc-1".to_string())]),
        );
        assert_eq!(
            diff(&node, Some(observed(&node, attrs)), &known, &HashSet::new()).action,
            Action::NoOp
        );
    }

    #[test]
    fn referring_to_a_replaced_node_replaces_too() {
        let node = Node::new("aws_x", "listener", "l").attr("tg", Value::reference("tg", "arn"));
        let attrs = Attrs::from([("tg".to_string(), Value::str("arn:old"))]);
        let replaced = HashSet::from(["tg".to_string()]);
        let c = diff(
            &node,
            Some(observed(&node, attrs.clone())),
            &HashMap::new(),
            &replaced,
        );
        assert_eq!(c.action, Action::Replace);
        assert!(c.diffs[0].forces_replacement);
        // Merely unknown (e.g. a new task definition revision): an update.
        let c = diff(
            &node,
            Some(observed(&node, attrs)),
            &HashMap::new(),
            &HashSet::new(),
        );
        assert_eq!(c.action, Action::Update);
    }
}
