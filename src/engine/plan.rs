//! Planning: read AWS, compare with the desired nodes, decide an action per resource.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::future::try_join_all;
use serde::Serialize;

use super::duplicates::{Copies, Duplicate};
use super::graph;
use super::resource::{
    qualify, BoxError, Cloud, Conflict, Kind, Node, Observed, Scopes, Spec, StackRef, GLOBAL,
};
use super::value::{Attrs, Outputs, Value};

/// The attribute of a taggable kind's nodes that holds the spec's `tags:` (see `Kind::retag`).
pub const TAGS: &str = "tags";

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
    /// `kind.id`, prefixed with the scope (`us-west-2:aws_vpc.vpc`) when the plan spans more
    /// than one scope.
    pub address: String,
    /// The region, or `GLOBAL`.
    pub scope: String,
    /// `scope/id`: unique in the plan; what references resolve against.
    pub key: String,
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
    /// Drift deliberately left alone, with the reason; why a duplicate is deleted.
    pub notes: Vec<String>,
    /// For the delete of a duplicate owned copy: the physical id of the copy that is kept.
    pub duplicate_of: Option<String>,
}

impl Change {
    pub fn changed_keys(&self) -> Vec<String> {
        self.diffs.iter().map(|d| d.key.clone()).collect()
    }

    /// Whether the resource keeps its outputs: unchanged, or updated in place by a kind whose
    /// updates keep them, or only retagged (a task definition's new tags are no new revision).
    pub fn keeps_outputs(&self) -> bool {
        match self.action {
            Action::NoOp => true,
            Action::Update => {
                !self
                    .node
                    .as_ref()
                    .is_some_and(|n| n.outputs_change_on_update)
                    || self.diffs.iter().all(|d| d.key == TAGS)
            }
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Plan {
    /// The stack; `region` is the primary region.
    pub stack: StackRef,
    /// Every scope discovered, in order: the regions (primary first), then `GLOBAL`.
    pub scopes: Vec<String>,
    /// Grouped by scope in that order, sorted by address within a scope.
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

    /// The regions of the plan, primary first.
    pub fn regions(&self) -> Vec<&str> {
        self.scopes
            .iter()
            .map(String::as_str)
            .filter(|s| *s != GLOBAL)
            .collect()
    }

    /// The stack as the kinds of `scope` see it: its region is the scope's (the primary
    /// region's for `GLOBAL`).
    pub fn stack_in(&self, scope: &str) -> StackRef {
        let mut s = self.stack.clone();
        if scope != GLOBAL && !scope.is_empty() {
            s.region = scope.to_string();
        }
        s
    }

    /// Outputs already known before apply (of resources that keep them), by key.
    pub fn known_outputs(&self) -> HashMap<String, Outputs> {
        self.changes
            .iter()
            .filter(|c| c.keeps_outputs())
            .filter_map(|c| Some((c.key.clone(), c.current.as_ref()?.outputs.clone())))
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
    /// Global resources of the stack name regions the plan did not discover (a region removed
    /// from the spec, or a stack destroyed by name): plan again with these regions too.
    #[error("the stack also has resources in {}", .0.join(", "))]
    MoreRegions(Vec<String>),
}

/// A resource's place in the plan: its scope, kind and logical id. A desired node and the
/// owned resources found for it share one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Key {
    pub scope: String,
    pub kind: &'static str,
    pub id: String,
}

impl Key {
    fn of(node: &Node) -> Key {
        Key {
            scope: node.scope.clone(),
            kind: node.kind,
            id: node.id.clone(),
        }
    }

    fn found(scope: &str, o: &Observed) -> Key {
        Key {
            scope: scope.to_string(),
            kind: o.kind,
            id: o.id.clone(),
        }
    }
}

/// What discovery found, by key: the stack's own resources (several copies where a race or a
/// crash left duplicates) and resources with the stack's names that it does not own.
pub(super) type Owned = BTreeMap<Key, Vec<Observed>>;
type Foreign = HashMap<Key, Observed>;

/// Read AWS and compute the plan. With `model: None` everything the stack owns is destroyed.
///
/// Regional kinds are lowered once per region of the spec (and per service of it: `lower`) and
/// discovered once per region of `scopes`; global kinds are lowered from the primary region's
/// view and discovered once, with the primary region's context. References resolve across scopes in
/// one graph. The phases: lower, preflight, discover, compare (node by node in dependency
/// order, choosing among duplicates: `duplicates.rs`), delete what no node claims, order.
pub async fn plan<C: Cloud>(
    kinds: &[Box<dyn Kind<C>>],
    scopes: &Scopes<'_, C>,
    stack: &StackRef,
    model: Option<&C::Spec>,
) -> Result<Plan, PlanError> {
    let (nodes, order) = desired(kinds, scopes, model)?;
    if let Some(m) = model {
        preflight(kinds, scopes, m).await?;
    }
    let (mut owned, foreign) = discover(kinds, scopes, stack, &nodes).await?;
    let (mut changes, duplicates) = compare(&nodes, &order, &mut owned, &foreign, stack)?;
    changes.extend(deletes(owned, duplicates));
    Ok(ordered(stack, scopes.ordered(), changes))
}

/// Lower: the desired nodes and their dependency order (a graph without cycles whose
/// references stay within what each kind declares it depends on).
fn desired<C: Cloud>(
    kinds: &[Box<dyn Kind<C>>],
    scopes: &Scopes<'_, C>,
    model: Option<&C::Spec>,
) -> Result<(Vec<Node>, Vec<usize>), PlanError> {
    let Some(m) = model else {
        return Ok((Vec::new(), Vec::new()));
    };
    if let Some(r) = m.regions().iter().find(|r| scopes.ctx(r).is_none()) {
        return Err(PlanError::Internal(format!("no clients for region {r}")));
    }
    let nodes = lower(kinds, m);
    let order = graph::topo_order(&nodes).map_err(PlanError::Internal)?;
    if cfg!(debug_assertions) {
        check_declared_deps(&nodes, &graph::kind_closure(kinds)).map_err(PlanError::Internal)?;
    }
    Ok((nodes, order))
}

/// Preflight: each kind's checks of the account before anything is read or written (regional
/// kinds once per region of the spec, global kinds once), from the stack-wide views.
async fn preflight<C: Cloud>(
    kinds: &[Box<dyn Kind<C>>],
    scopes: &Scopes<'_, C>,
    m: &C::Spec,
) -> Result<(), PlanError> {
    let ctx = |scope: &str| scopes.ctx(scope).expect("every scope has a context");
    let regions = m.regions();
    let views: Vec<_> = regions.iter().map(|r| (r, m.view(r, None))).collect();
    let regional = views.iter().flat_map(|(r, v)| {
        kinds
            .iter()
            .filter(|k| !k.global())
            .map(move |k| k.preflight(ctx(r), v))
    });
    let primary = m.view(&regions[0], None);
    let global = kinds
        .iter()
        .filter(|k| k.global())
        .map(|k| k.preflight(ctx(GLOBAL), &primary));
    try_join_all(regional.chain(global))
        .await
        .map_err(PlanError::Preflight)?;
    Ok(())
}

/// Discover: one discovery per kind and scope, all at once, sorted into what the stack owns
/// and what it does not. An owned global resource that names a region the plan has no scope
/// for is `PlanError::MoreRegions`.
async fn discover<C: Cloud>(
    kinds: &[Box<dyn Kind<C>>],
    scopes: &Scopes<'_, C>,
    stack: &StackRef,
    nodes: &[Node],
) -> Result<(Owned, Foreign), PlanError> {
    let regions = scopes.ordered();
    let ctx = |scope: &str| scopes.ctx(scope).expect("every scope has a context");
    let mut jobs: Vec<(String, &dyn Kind<C>)> = Vec::new();
    for r in &regions {
        jobs.extend(
            kinds
                .iter()
                .filter(|k| !k.global())
                .map(|k| (r.clone(), k.as_ref())),
        );
    }
    jobs.extend(
        kinds
            .iter()
            .filter(|k| k.global())
            .map(|k| (GLOBAL.to_string(), k.as_ref())),
    );
    let found = try_join_all(jobs.iter().map(|(scope, k)| {
        let mine: Vec<&Node> = nodes
            .iter()
            .filter(|n| n.kind == k.name() && &n.scope == scope)
            .collect();
        let mut st = stack.clone();
        st.region = scopes.region_of(scope).to_string();
        async move {
            let found =
                k.discover(ctx(scope), &st, &mine)
                    .await
                    .map_err(|source| PlanError::Read {
                        kind: k.name(),
                        source,
                    })?;
            Ok::<_, PlanError>(found.into_iter().map(|o| (scope.clone(), *k, o)))
        }
    }))
    .await?;

    let mut owned = Owned::new();
    let mut foreign = Foreign::new();
    let mut more: Vec<String> = Vec::new();
    for (scope, k, o) in found.into_iter().flatten() {
        let key = Key::found(&scope, &o);
        if o.owned {
            if let Some(r) = k.region_of(&o).filter(|r| !regions.contains(r)) {
                more.push(r);
            }
            owned.entry(key).or_default().push(o);
        } else {
            foreign.insert(key, o);
        }
    }
    if !more.is_empty() {
        more.sort();
        more.dedup();
        return Err(PlanError::MoreRegions(more));
    }
    Ok((owned, foreign))
}

/// Compare: each desired node in dependency order with what was found for it (the copy kept
/// among duplicates, `Copies::keep`), so a node's diff resolves the references to the nodes
/// before it. Takes the found copies out of `owned`; gives the changes and the duplicates to
/// delete. A node whose name a resource the stack does not own already has is a conflict.
fn compare(
    nodes: &[Node],
    order: &[usize],
    owned: &mut Owned,
    foreign: &Foreign,
    stack: &StackRef,
) -> Result<(Vec<Change>, Vec<Duplicate>), PlanError> {
    let claimed: HashSet<Key> = nodes.iter().map(Key::of).collect();
    let mut copies = Copies::new(owned, &claimed);
    let mut conflicts = Vec::new();
    let mut known: HashMap<String, Outputs> = HashMap::new();
    let mut replaced: HashSet<String> = HashSet::new();
    let mut changes = Vec::new();
    for &i in order {
        let node = &nodes[i];
        let key = Key::of(node);
        let current = match owned.get_mut(&key) {
            None => None,
            Some(v) if v.len() <= 1 => v.pop(),
            Some(v) => Some(copies.keep(node, std::mem::take(v), &known, &replaced)),
        };
        if let Some(c) = &current {
            copies.kept(node, c);
        }
        if current.is_none() {
            if let Some(f) = foreign.get(&key) {
                conflicts.push(Conflict {
                    address: node.address(),
                    physical_id: f.physical_id.clone(),
                });
            }
        }
        if cfg!(debug_assertions) {
            if let Some(cur) = &current {
                check_read_back(node, cur).map_err(PlanError::Internal)?;
            }
        }
        let mut change = diff(node, current, &known, &replaced);
        copies.let_go(&mut change);
        if change.action == Action::Replace {
            replaced.insert(node.key());
        }
        if change.keeps_outputs() {
            if let Some(c) = &change.current {
                known.insert(node.key(), c.outputs.clone());
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
    Ok((changes, copies.into_duplicates()))
}

/// Delete: owned resources that no desired node claims (removed from the spec, or, when the
/// spec no longer has their node, duplicates) are destroyed; so are the duplicates of a node's
/// kept copy, each with a note naming both copies.
fn deletes(owned: Owned, duplicates: Vec<Duplicate>) -> impl Iterator<Item = Change> {
    let unclaimed = owned
        .into_iter()
        .flat_map(|(key, list)| list.into_iter().map(move |o| (key.scope.clone(), o)))
        .map(|(scope, o)| (scope, o, None, Vec::new()));
    let dups = duplicates.into_iter().map(|d| {
        let note = format!(
            "duplicate of {} (kept: {}); this copy {} is deleted",
            d.kept, d.why, d.copy.physical_id
        );
        (d.scope, d.copy, Some(d.kept), vec![note])
    });
    unclaimed
        .chain(dups)
        .map(|(scope, o, duplicate_of, notes)| Change {
            address: o.address(),
            key: qualify(&scope, &o.id),
            scope,
            id: o.id.clone(),
            kind: o.kind,
            name: o.name.clone(),
            action: Action::Delete,
            node: None,
            after: Attrs::new(),
            diffs: Vec::new(),
            notes,
            duplicate_of,
            current: Some(o),
        })
}

/// Order: by scope (the primary region first, `global` last), then address, action and
/// physical id, so the same state always prints the same plan. Addresses carry their scope
/// once the plan spans more than one.
fn ordered(stack: &StackRef, regions: Vec<String>, mut changes: Vec<Change>) -> Plan {
    let mut all_scopes = regions;
    all_scopes.push(GLOBAL.to_string());
    let rank = |scope: &str| all_scopes.iter().position(|s| s == scope).unwrap_or(0);
    let spans = changes
        .iter()
        .map(|c| c.scope.as_str())
        .collect::<HashSet<_>>()
        .len();
    if spans > 1 {
        for c in &mut changes {
            c.address = format!("{}:{}", c.scope, c.address);
        }
    }
    changes.sort_by(|a, b| {
        rank(&a.scope)
            .cmp(&rank(&b.scope))
            .then(a.address.cmp(&b.address))
            .then(a.action.symbol().cmp(b.action.symbol()))
            .then_with(|| physical(a).cmp(physical(b)))
    });
    Plan {
        stack: stack.clone(),
        scopes: all_scopes,
        changes,
    }
}

fn physical(c: &Change) -> &str {
    c.current.as_ref().map_or("", |o| o.physical_id.as_str())
}

/// The desired nodes of `m`, each with its scope: regional kinds lowered once per region
/// (`Kind::desired`) and once per (region, service) (`Kind::service_desired`), global kinds
/// once from the primary region's view and once per service of it.
pub fn lower<C: Cloud>(kinds: &[Box<dyn Kind<C>>], m: &C::Spec) -> Vec<Node> {
    let tags = Value::Map(
        m.tags()
            .iter()
            .map(|(k, v)| (k.clone(), Value::str(v)))
            .collect(),
    );
    let tagged = |k: &dyn Kind<C>, mut n: Node| {
        // A kind may set its own (a subset, where AWS allows fewer tags).
        if k.retag().is_some() && !n.attrs.contains_key(TAGS) {
            n.attrs.insert(TAGS.to_string(), tags.clone());
        }
        n
    };
    let services = m.services();
    let regions = m.regions();
    let mut nodes = Vec::new();
    let mut add = |k: &dyn Kind<C>, scope: &str, lowered: Vec<Node>| {
        nodes.extend(lowered.into_iter().map(|mut n| {
            n.scope = scope.to_string();
            tagged(k, n)
        }));
    };
    for (scope, region, global) in
        regions
            .iter()
            .map(|r| (r.as_str(), r, false))
            .chain([(GLOBAL, &regions[0], true)])
    {
        let kinds = || kinds.iter().filter(move |k| k.global() == global);
        let view = m.view(region, None);
        for k in kinds() {
            add(k.as_ref(), scope, k.desired(&view));
        }
        for s in &services {
            let view = m.view(region, Some(s));
            for k in kinds() {
                add(k.as_ref(), scope, k.service_desired(&view));
            }
        }
    }
    nodes
}

/// Every reference of a node (`Value::Ref` targets and `Node::after`) must point at a node of
/// its own kind or of a kind in the closure of its kind's `Kind::depends_on`. The delete phase
/// falls back on the declared kind order wherever observed attributes show nothing, so the
/// declarations must not drift apart from what nodes refer to. Checked in debug builds (every
/// test plans through it).
fn check_declared_deps(nodes: &[Node], closure: &graph::KindClosure) -> Result<(), String> {
    let kind_of: HashMap<String, &'static str> = nodes.iter().map(|n| (n.key(), n.kind)).collect();
    for n in nodes {
        for dep in n.dep_keys() {
            // An unknown node is topo_order's error.
            let Some(&kind) = kind_of.get(dep.as_str()) else {
                continue;
            };
            if kind != n.kind && !closure.get(n.kind).is_some_and(|c| c.contains(kind)) {
                let own_scope = format!("{}/", n.scope);
                let dep = dep.strip_prefix(&own_scope).unwrap_or(&dep);
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

/// Every attribute a kind sets must be read back: a node's attributes are what its kind writes,
/// so its observation must carry each of them (`Value::Null` when AWS has none). An attribute
/// written but never read could drift, or be left unset by a killed deploy, unseen by every later
/// plan. Checked in debug builds, so every test that plans an existing resource checks its kind.
fn check_read_back(node: &Node, observed: &Observed) -> Result<(), String> {
    let missing: Vec<&str> = node
        .attrs
        .keys()
        .filter(|k| !observed.attrs.contains_key(*k))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} sets {} but its discovery does not read {} back",
            node.address(),
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ))
    }
}

/// `replaced`: nodes already planned for replacement. A resource that refers to one is replaced
/// too: names are deterministic, so the old resource must be deleted before its successor is
/// created, and it cannot be deleted while something still uses it (a listener its target
/// group, a security group rule its source group).
pub(super) fn diff(
    node: &Node,
    current: Option<Observed>,
    known: &HashMap<String, Outputs>,
    replaced: &HashSet<String>,
) -> Change {
    let lookup = |n: &str, k: &str| {
        known
            .get(&qualify(&node.scope, n))
            .and_then(|o| o.get(k))
            .cloned()
    };
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
                || refs
                    .iter()
                    .any(|r| replaced.contains(&qualify(&node.scope, r))),
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
        scope: node.scope.clone(),
        key: node.key(),
        id: node.id.clone(),
        kind: node.kind,
        name: node.name.clone(),
        action,
        node: Some(node.clone()),
        current,
        after,
        diffs,
        notes,
        duplicate_of: None,
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
    fn an_attribute_not_read_back_is_an_internal_error() {
        let node = Node::new("aws_x", "x", "x").attr("a", 1i64).attr("b", true);
        let partial = observed(&node, Attrs::from([("a".to_string(), Value::Int(1))]));
        let err = check_read_back(&node, &partial).unwrap_err();
        assert_eq!(
            err,
            "aws_x.x sets b but its discovery does not read it back"
        );
        let null_is_read = observed(
            &node,
            Attrs::from([
                ("a".to_string(), Value::Int(1)),
                ("b".to_string(), Value::Null),
            ]),
        );
        assert!(check_read_back(&node, &null_is_read).is_ok());
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
