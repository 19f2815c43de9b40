//! Duplicates: several owned copies of one node (left by a race, a crash or a hand copy). The
//! plan keeps the copy the rest of the kept stack refers to and deletes the others, each with
//! the reason it lost; a kept resource that still uses a deleted copy is replaced.

use std::collections::{HashMap, HashSet};

use super::plan::{diff, Action, Change, Key, Owned};
use super::resource::{Node, Observed};
use super::value::{Outputs, Value};

/// A copy to delete: its scope, the copy, the physical id of the copy kept, and why.
pub(super) struct Duplicate {
    pub scope: String,
    pub copy: Observed,
    pub kept: String,
    pub why: String,
}

/// The bookkeeping of one plan's choices, node by node in dependency order.
pub(super) struct Copies {
    /// How many claimed resources hang off each copy, by (scope, physical id).
    reach: HashMap<(String, String), usize>,
    /// The handles of the copy kept for each node, by node key.
    kept: HashMap<String, HashSet<String>>,
    /// What the deleted duplicates are known by (and their kept copies are not): handle -> copy.
    discarded: HashMap<String, String>,
    duplicates: Vec<Duplicate>,
}

impl Copies {
    pub fn new(owned: &Owned, claimed: &HashSet<Key>) -> Copies {
        Copies {
            reach: referrers(owned, claimed),
            kept: HashMap::new(),
            discarded: HashMap::new(),
            duplicates: Vec::new(),
        }
    }

    /// Choose the copy of `node` to keep among `copies` (two or more); the others are deleted.
    /// `known` and `replaced` are the plan's so far (what a copy is diffed against).
    pub fn keep(
        &mut self,
        node: &Node,
        copies: Vec<Observed>,
        known: &HashMap<String, Outputs>,
        replaced: &HashSet<String>,
    ) -> Observed {
        let chosen = choose(node, copies, &self.kept, &self.reach, known, replaced);
        let pid = chosen.kept.physical_id.clone();
        let keeps = handles(&chosen.kept);
        for (o, _) in &chosen.deleted {
            for h in handles(o).into_iter().filter(|h| !keeps.contains(h)) {
                self.discarded.insert(h.to_string(), o.physical_id.clone());
            }
        }
        self.duplicates
            .extend(chosen.deleted.into_iter().map(|(copy, why)| Duplicate {
                scope: node.scope.clone(),
                copy,
                kept: pid.clone(),
                why,
            }));
        chosen.kept
    }

    /// `current` is what the plan keeps for `node` (its only copy or the chosen one).
    pub fn kept(&mut self, node: &Node, current: &Observed) {
        self.kept.insert(
            node.key(),
            handles(current).into_iter().map(str::to_string).collect(),
        );
    }

    /// A change whose resource uses a deleted copy is replaced (`let_go_of_duplicates`).
    pub fn let_go(&self, change: &mut Change) {
        let_go_of_duplicates(change, &self.discarded);
    }

    pub fn into_duplicates(self) -> Vec<Duplicate> {
        self.duplicates
    }
}

/// What a reference to an observed resource looks like: its physical id and its output values.
fn handles(o: &Observed) -> HashSet<&str> {
    std::iter::once(o.physical_id.as_str())
        .chain(o.outputs.values().map(String::as_str))
        .filter(|s| !s.is_empty())
        .collect()
}

/// Every string in a value, through lists and maps, as often as it occurs.
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Str(s) => out.push(s),
        Value::List(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Map(m) => m.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

/// Every string in a resource's observed attributes, as often as it occurs.
fn mentions(o: &Observed) -> Vec<&str> {
    let mut out = Vec::new();
    o.attrs.values().for_each(|v| strings(v, &mut out));
    out
}

/// A kept resource that still uses a duplicate copy being deleted (`discarded`: what those
/// copies are known by) must let go of it before that delete, and deletes come first: like a
/// resource that refers to a replaced one, it is replaced, and the plan says why.
fn let_go_of_duplicates(change: &mut Change, discarded: &HashMap<String, String>) {
    if discarded.is_empty() {
        return;
    }
    let mut used: Vec<&str> = Vec::new();
    for d in &mut change.diffs {
        let mut found = Vec::new();
        if let Some(before) = &d.before {
            strings(before, &mut found);
        }
        let hit: Vec<&str> = found
            .iter()
            .filter_map(|s| discarded.get(*s).map(String::as_str))
            .collect();
        if !hit.is_empty() {
            d.forces_replacement = true;
            used.extend(hit);
        }
    }
    if used.is_empty() {
        return;
    }
    used.sort_unstable();
    used.dedup();
    let note = format!(
        "replaced: it uses {}, a duplicate that is deleted",
        used.join(" and ")
    );
    change.action = Action::Replace;
    change.notes.push(note);
}

/// For every copy of a node that has more than one owned copy (by scope and physical id): how
/// many of the owned resources that desired nodes claim refer to it, directly or through
/// others (a subnet's `vpc_id`, then the load balancer on that subnet). What hangs off a copy is
/// what keeping it spares.
fn referrers(owned: &Owned, claimed: &HashSet<Key>) -> HashMap<(String, String), usize> {
    let all: Vec<(&String, &Observed)> = owned
        .iter()
        .filter(|(k, _)| claimed.contains(*k))
        .flat_map(|(k, list)| list.iter().map(move |o| (&k.scope, o)))
        .collect();
    let mut known_as: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (_, o)) in all.iter().enumerate() {
        for h in handles(o) {
            known_as.entry(h).or_default().push(i);
        }
    }
    // users[b]: the resources whose attributes name b.
    let mut users: Vec<HashSet<usize>> = vec![HashSet::new(); all.len()];
    for (a, (_, o)) in all.iter().enumerate() {
        for m in mentions(o) {
            for &b in known_as.get(m).into_iter().flatten() {
                if b != a {
                    users[b].insert(a);
                }
            }
        }
    }
    let mut out = HashMap::new();
    for list in owned
        .iter()
        .filter(|(k, l)| l.len() > 1 && claimed.contains(*k))
        .map(|(_, l)| l)
    {
        for copy in list {
            let Some(start) = all.iter().position(|(_, o)| std::ptr::eq(*o, copy)) else {
                continue;
            };
            let mut seen = HashSet::from([start]);
            let mut todo = vec![start];
            while let Some(b) = todo.pop() {
                for &a in &users[b] {
                    if seen.insert(a) {
                        todo.push(a);
                    }
                }
            }
            let (scope, _) = all[start];
            out.insert((scope.clone(), copy.physical_id.clone()), seen.len() - 1);
        }
    }
    out
}

/// The copy of a node to keep, and the others with the reason they lost.
struct Chosen {
    kept: Observed,
    deleted: Vec<(Observed, String)>,
}

/// Choose among the owned copies of `node` (found by the same stack and logical id: left by a
/// race, a crash or a hand copy) the one the rest of the kept stack refers to. `kept` holds the
/// handles of the copies already kept for the nodes before it in dependency order. Ranked by:
/// 1. how many of its attribute values name the kept copies of the nodes it depends on (the
///    subnet in the kept VPC);
/// 2. how many owned resources refer to it, directly or through others (`referrers`: for a root
///    such as the VPC, the copy more of the stack hangs off);
/// 3. no replacement, then fewer changed attributes, against the spec;
/// 4. the smaller physical id, so that the same state always plans the same choice.
fn choose(
    node: &Node,
    copies: Vec<Observed>,
    kept: &HashMap<String, HashSet<String>>,
    reach: &HashMap<(String, String), usize>,
    known: &HashMap<String, Outputs>,
    replaced: &HashSet<String>,
) -> Chosen {
    let deps: Vec<&HashSet<String>> = node.dep_keys().iter().filter_map(|d| kept.get(d)).collect();
    let mut ranked: Vec<((usize, usize, bool, usize), Observed)> = copies
        .into_iter()
        .map(|o| {
            let to_kept = mentions(&o)
                .into_iter()
                .filter(|m| deps.iter().any(|h| h.contains(*m)))
                .count();
            let users = reach
                .get(&(node.scope.clone(), o.physical_id.clone()))
                .copied()
                .unwrap_or(0);
            let d = diff(node, Some(o.clone()), known, replaced);
            let score = (to_kept, users, d.action == Action::Replace, d.diffs.len());
            (score, o)
        })
        .collect();
    ranked.sort_by(|(a, x), (b, y)| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
            .then(x.physical_id.cmp(&y.physical_id))
    });
    let mut ranked = ranked.into_iter();
    let (best, kept) = ranked.next().expect("at least two copies");
    let deleted = ranked
        .map(|(s, o)| {
            let why = if s.0 != best.0 {
                "it refers to the kept copies of the resources it depends on".to_string()
            } else if s.1 != best.1 {
                format!(
                    "the stack's other resources refer to it ({} of them, directly or through others; {} to this copy)",
                    best.1, s.1
                )
            } else if (s.2, s.3) != (best.2, best.3) {
                "it matches the spec more closely".to_string()
            } else {
                "the copies are alike; the smaller id is kept".to_string()
            };
            (o, why)
        })
        .collect();
    Chosen { kept, deleted }
}
