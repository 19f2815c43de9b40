//! The executor: deletes in reverse dependency order, then creates and updates in dependency
//! order, each phase as parallel as the graph allows.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::graph::{self, KindClosure, Outcome};
use super::plan::{Action, Change, Plan, TAGS};
use super::resource::{BoxError, Cloud, Kind, Node, Observed, Scopes, StackRef, GLOBAL};
use super::value::{Attrs, Outputs, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// True once the apply is to start nothing new (Ctrl-C): what is in flight finishes, what
    /// has not started fails as "interrupted" and its dependents are skipped, unreported.
    fn stopping(&self) -> bool {
        false
    }
}

/// The error of a change that an interrupted apply did not start.
pub const NOT_STARTED: &str = "interrupted before it started";

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

/// A reporter that passes everything on to `inner` and notes which changes finished, so that
/// an apply stopped midway (a second Ctrl-C drops it) still says what it did: `partial`. Its
/// `stop` asks the apply to start nothing new (the first Ctrl-C).
pub struct Recorder<'a> {
    pub inner: &'a dyn Reporter,
    done: Mutex<HashSet<(String, Step)>>,
    stop: std::sync::atomic::AtomicBool,
}

impl<'a> Recorder<'a> {
    pub fn new(inner: &'a dyn Reporter) -> Self {
        Recorder {
            inner,
            done: Mutex::new(HashSet::new()),
            stop: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// From now on the apply starts nothing new; what is in flight finishes.
    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// What an apply of `plan` stopped midway did, as far as it was told: the changes that
    /// finished are done; every other one counts as failed (it may or may not have happened).
    /// No outputs.
    pub fn partial(&self, plan: &Plan) -> ApplyResult {
        let done = self.done.lock().unwrap();
        let mut r = ApplyResult::default();
        for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
            let last = match c.action {
                Action::Delete => Step::Delete,
                Action::Update => Step::Update,
                _ => Step::Create,
            };
            if done.contains(&(c.address.clone(), last)) {
                r.done += 1;
            } else {
                r.failed.push((c.address.clone(), "interrupted".into()));
            }
        }
        r
    }
}

impl Reporter for Recorder<'_> {
    fn started(&self, change: &Change, step: Step) {
        self.inner.started(change, step)
    }
    fn finished(&self, change: &Change, step: Step, elapsed: Duration, detail: &str) {
        self.done
            .lock()
            .unwrap()
            .insert((change.address.clone(), step));
        self.inner.finished(change, step, elapsed, detail)
    }
    fn failed(&self, change: &Change, step: Step, error: &str) {
        self.inner.failed(change, step, error)
    }
    fn skipped(&self, change: &Change, step: Step, because: &str) {
        self.inner.skipped(change, step, because)
    }
    fn stopping(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::SeqCst) || self.inner.stopping()
    }
}

/// Apply a plan; each change goes to its scope's context.
pub async fn apply<C: Cloud>(
    kinds: &[Box<dyn Kind<C>>],
    scopes: &Scopes<'_, C>,
    plan: &Plan,
    report: &dyn Reporter,
) -> ApplyResult {
    let kind_of = |name: &str| kinds.iter().find(|k| k.name() == name).map(|k| k.as_ref());
    let ctx_of = |c: &Change| {
        scopes
            .ctx(&c.scope)
            .ok_or_else(|| format!("internal error: no clients for scope {}", c.scope))
    };
    let mut result = ApplyResult::default();

    // Phase 1: deletes (destroyed resources and the old half of replacements).
    let deletes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .collect();
    let del_deps = delete_order(&deletes, &graph::delete_closure(kinds));
    let outcomes = graph::walk(&del_deps, |i| {
        let c = deletes[i];
        async move {
            let kind = kind_of(c.kind).ok_or_else(|| format!("unknown kind {}", c.kind))?;
            let current = c.current.as_ref().ok_or("nothing to delete")?;
            let ctx = ctx_of(c)?;
            if report.stopping() {
                return Err(NOT_STARTED.to_string());
            }
            report.started(c, Step::Delete);
            let t = Instant::now();
            match kind.delete(ctx, current).await {
                Ok(()) => {
                    report.finished(c, Step::Delete, t.elapsed(), &current.physical_id);
                    Ok(())
                }
                Err(e) => {
                    let msg = crate::text::chain(e.as_ref());
                    report.failed(c, Step::Delete, &msg);
                    Err(msg)
                }
            }
        }
    })
    .await;
    // The keys whose old resource is still there: their create would collide with it. A
    // duplicate that could not be deleted blocks nothing: its kept copy is another resource.
    let mut delete_failed: HashSet<&str> = HashSet::new();
    for (c, o) in deletes.iter().zip(&outcomes) {
        let blocks = c.duplicate_of.is_none();
        match o {
            Outcome::Done => result.done += usize::from(c.action == Action::Delete),
            Outcome::Failed(e) => {
                if blocks {
                    delete_failed.insert(c.key.as_str());
                }
                result.failed.push((c.address.clone(), e.clone()));
            }
            Outcome::Skipped(j) => {
                if blocks {
                    delete_failed.insert(c.key.as_str());
                }
                if !report.stopping() {
                    report.skipped(c, Step::Delete, &deletes[*j].address);
                }
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
        .map(|(i, c)| (c.key.as_str(), i))
        .collect();
    let write_deps: Vec<Vec<usize>> = writes
        .iter()
        .map(|c| {
            let node = c.node.as_ref().expect("writes have a node");
            node.dep_keys()
                .iter()
                .filter_map(|d| pos.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let outputs = Mutex::new(plan.known_outputs());
    // What `Kind::finish` does after a create runs beside the walk: each is sent here when its
    // create returns and driven until the walk and every one of them are done.
    let (finishing, mut to_finish) = futures::channel::mpsc::unbounded::<Finishing<'_>>();
    let walk = async {
        let finishing = finishing;
        graph::walk(&write_deps, |i| {
            let c = writes[i];
            let outputs = &outputs;
            let finishing = &finishing;
            let blocked = delete_failed.contains(c.key.as_str());
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
                let ctx = ctx_of(c)?;
                let stack = plan.stack_in(&c.scope);
                let node = c.node.as_ref().expect("writes have a node");
                let attrs = {
                    let known = outputs.lock().unwrap();
                    let lookup = |n: &str, k: &str| {
                        known
                            .get(&super::resource::qualify(&c.scope, n))
                            .and_then(|o| o.get(k))
                            .cloned()
                    };
                    node.attrs
                        .iter()
                        .map(|(k, v)| Some((k.clone(), v.resolve(&lookup)?)))
                        .collect::<Option<_>>()
                };
                let Some(attrs) = attrs else {
                    let msg =
                        "internal error: a reference is still unknown at apply time".to_string();
                    report.failed(c, step, &msg);
                    return Err(msg);
                };
                if report.stopping() {
                    return Err(NOT_STARTED.to_string());
                }
                report.started(c, step);
                let t = Instant::now();
                let res = match (step, &c.current) {
                    (Step::Update, Some(cur)) => {
                        update(kind, ctx, &stack, node, &attrs, cur, &c.changed_keys()).await
                    }
                    _ => kind.create(ctx, &stack, node, &attrs).await,
                };
                match res {
                    Ok(out) => {
                        let detail = out
                            .get("id")
                            .or_else(|| out.get("arn"))
                            .cloned()
                            .unwrap_or_default();
                        if step == Step::Create {
                            let out = out.clone();
                            let _ = finishing.unbounded_send(Box::pin(async move {
                                let r = kind.finish(ctx, &stack, node, &attrs, &out).await;
                                r.err().map(|e| {
                                    let msg = crate::text::chain(e.as_ref());
                                    report.failed(c, step, &msg);
                                    (c.address.clone(), msg)
                                })
                            }));
                        }
                        outputs.lock().unwrap().insert(c.key.clone(), out);
                        report.finished(c, step, t.elapsed(), &detail);
                        Ok(())
                    }
                    Err(e) => {
                        let msg = crate::text::chain(e.as_ref());
                        report.failed(c, step, &msg);
                        Err(msg)
                    }
                }
            }
        })
        .await
    };
    let finish = async {
        use futures::StreamExt;
        let mut running = futures::stream::FuturesUnordered::new();
        let mut failed = Vec::new();
        loop {
            futures::select! {
                f = to_finish.next() => match f {
                    Some(f) => running.push(f),
                    None => break,
                },
                r = running.select_next_some() => failed.extend(r),
            }
        }
        while let Some(r) = running.next().await {
            failed.extend(r);
        }
        failed
    };
    let (outcomes, finish_failed) = futures::join!(walk, finish);
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
                if !report.stopping() {
                    report.skipped(c, step, &writes[*j].address);
                }
                result.skipped.push(c.address.clone());
            }
        }
    }
    for (address, e) in finish_failed {
        result.done -= 1;
        result.failed.push((address, e));
    }
    result.outputs = outputs.into_inner().unwrap();
    result
}

/// The rest of a create (`Kind::finish`): the address and error if it failed.
type Finishing<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<(String, String)>> + Send + 'a>>;

/// The order of the delete phase: `deps[i]` lists the deletes that must be done before
/// `deletes[i]` starts.
///
/// Observed references come first. Resource A is deleted before resource B when a string
/// anywhere in A's observed attributes (through lists and maps) equals B's physical id or one of
/// B's output values: A uses B, and AWS refuses to delete B while it is in use
/// (DependencyViolation, ResourceInUse). This holds between resources of the same kind too (a
/// security group whose rule names another group goes first), which kind order cannot express.
/// An observed reference counts only where it agrees with the declared kind order (B's kind is
/// A's kind or lies in the closure of A's `Kind::depends_on`); one against it is a back-pointer
/// and is ignored. References that form a cycle (two groups naming each other) are ignored too:
/// no order satisfies them.
///
/// The kind order fills in where inference finds nothing: for each resource B and each kind K
/// whose closure holds B's kind, B waits for every K resource in the delete set unless some K
/// resource refers to B, in which case it waits for those referrers only. So a resource nothing
/// refers to keeps exactly the kind order, and dependencies that no attribute shows (instances
/// of an Auto Scaling group registered in a cluster, public IPs that keep an internet gateway
/// attached) keep the order `depends_on` declares for them.
fn delete_order(deletes: &[&Change], closure: &KindClosure) -> Vec<Vec<usize>> {
    let n = deletes.len();
    let depends = |from: &str, on: &str| closure.get(from).is_some_and(|d| d.contains(on));
    // What each resource is known by, and every string its attributes hold.
    let handles: Vec<HashSet<&str>> = deletes
        .iter()
        .map(|c| {
            c.current
                .iter()
                .flat_map(|o| {
                    std::iter::once(o.physical_id.as_str())
                        .chain(o.outputs.values().map(String::as_str))
                })
                .filter(|s| !s.is_empty())
                .collect()
        })
        .collect();
    let mentions: Vec<HashSet<&str>> = deletes
        .iter()
        .map(|c| {
            let mut out = HashSet::new();
            if let Some(o) = &c.current {
                o.attrs.values().for_each(|v| strings(v, &mut out));
            }
            out
        })
        .collect();
    // referrers[b]: the resources that refer to b, so go first.
    let mut referrers: Vec<Vec<usize>> = (0..n)
        .map(|b| {
            (0..n)
                .filter(|&a| a != b)
                .filter(|&a| {
                    deletes[a].kind == deletes[b].kind || depends(deletes[a].kind, deletes[b].kind)
                })
                .filter(|&a| handles[b].iter().any(|h| mentions[a].contains(h)))
                .collect()
        })
        .collect();
    // Drop the references that lie on a cycle: b waits for a while a (transitively) waits for b.
    let on_cycle: Vec<Vec<usize>> = (0..n)
        .map(|b| {
            referrers[b]
                .iter()
                .copied()
                .filter(|&a| reaches(&referrers, a, b))
                .collect()
        })
        .collect();
    for (b, drop) in on_cycle.into_iter().enumerate() {
        referrers[b].retain(|a| !drop.contains(a));
    }

    // Kind order holds within a scope, and between a global resource and every region (records
    // and health checks go before the load balancers they point at); two regions never wait for
    // each other.
    let related =
        |a: &Change, b: &Change| a.scope == b.scope || a.scope == GLOBAL || b.scope == GLOBAL;
    let by_kind_order = |b: usize| -> Vec<usize> {
        (0..n)
            .filter(|&j| related(deletes[j], deletes[b]))
            .filter(|&j| deletes[j].kind != deletes[b].kind)
            .filter(|&j| depends(deletes[j].kind, deletes[b].kind))
            .collect()
    };
    let deps: Vec<Vec<usize>> = (0..n)
        .map(|b| {
            let referring: HashSet<&str> = referrers[b].iter().map(|&a| deletes[a].kind).collect();
            let mut d = referrers[b].clone();
            d.extend(
                by_kind_order(b)
                    .into_iter()
                    .filter(|&j| !referring.contains(deletes[j].kind)),
            );
            d.sort_unstable();
            d.dedup();
            d
        })
        .collect();
    // With acyclic `depends_on` the edges above cannot form a cycle; if they do anyway, the kind
    // order alone is what the delete phase always used.
    if graph::order(&deps).is_some() {
        deps
    } else {
        (0..n).map(by_kind_order).collect()
    }
}

/// Whether `from` reaches `to` following `edges[i]` (the resources `i` waits for).
fn reaches(edges: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; edges.len()];
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        if i == to {
            return true;
        }
        if !std::mem::replace(&mut seen[i], true) {
            stack.extend(edges[i].iter().copied());
        }
    }
    false
}

/// Every string inside a value, through lists and maps.
fn strings<'a>(v: &'a Value, out: &mut HashSet<&'a str>) {
    match v {
        Value::Str(s) => {
            out.insert(s.as_str());
        }
        Value::List(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Map(m) => m.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

/// An in-place update: the spec's tags through `Kind::retag` (only the keys that differ), the
/// rest through `Kind::update`; outputs stay as they are when only the tags changed.
async fn update<C: Cloud>(
    kind: &dyn Kind<C>,
    ctx: &C,
    stack: &StackRef,
    node: &Node,
    attrs: &Attrs,
    cur: &Observed,
    changed: &[String],
) -> Result<Outputs, BoxError> {
    let mut rest: Vec<String> = changed.iter().filter(|k| *k != TAGS).cloned().collect();
    if rest.len() < changed.len() {
        let want = string_map(attrs.get(TAGS));
        let have = string_map(cur.attrs.get(TAGS));
        let set: BTreeMap<String, String> = want
            .iter()
            .filter(|(k, v)| have.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remove: Vec<String> = have
            .keys()
            .filter(|k| !want.contains_key(*k))
            .cloned()
            .collect();
        let retag = kind
            .retag()
            .ok_or_else(|| format!("{} cannot change its tags", cur.address()))?;
        retag(ctx, cur, &set, &remove).await?;
    }
    if rest.is_empty() {
        return Ok(cur.outputs.clone());
    }
    rest.sort();
    kind.update(ctx, stack, node, attrs, cur, &rest).await
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    match v {
        Some(Value::Map(m)) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Str(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::resource::Observed;
    use crate::engine::value::Attrs;

    /// A delete of `kind.id`, known as `pid`, whose attributes hold `mentions`.
    fn del(kind: &'static str, pid: &str, mentions: &[&str]) -> Change {
        let attrs: Attrs = mentions
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("a{i}"), Value::str(*m)))
            .collect();
        Change {
            address: format!("{kind}.{pid}"),
            scope: "r".into(),
            key: format!("r/{pid}"),
            id: pid.into(),
            kind,
            name: pid.into(),
            action: Action::Delete,
            node: None,
            current: Some(Observed {
                id: pid.into(),
                kind,
                physical_id: pid.into(),
                name: pid.into(),
                attrs,
                outputs: Outputs::from([("arn".to_string(), format!("arn:{pid}"))]),
                owned: true,
            }),
            after: Attrs::new(),
            diffs: Vec::new(),
            notes: Vec::new(),
            duplicate_of: None,
        }
    }

    /// net <- sg <- app.
    fn closure() -> KindClosure {
        KindClosure::from([
            ("net", HashSet::new()),
            ("sg", HashSet::from(["net"])),
            ("app", HashSet::from(["sg", "net"])),
        ])
    }

    fn order_of(changes: &[Change]) -> Vec<Vec<usize>> {
        let refs: Vec<&Change> = changes.iter().collect();
        delete_order(&refs, &closure())
    }

    #[test]
    fn same_kind_references_order_deletes() {
        // sg2 names sg1 by ARN, sg3 names sg2 by id: sg3, then sg2, then sg1.
        let d = order_of(&[
            del("sg", "sg1", &[]),
            del("sg", "sg2", &["arn:sg1"]),
            del("sg", "sg3", &["sg2", "unrelated"]),
        ]);
        assert_eq!(d, [vec![1], vec![2], vec![]]);
    }

    #[test]
    fn the_kind_order_fills_in_per_resource_and_kind() {
        let d = order_of(&[
            del("net", "net1", &[]),
            del("sg", "sg1", &["net1"]),
            del("sg", "sg2", &[]),
            del("app", "app1", &["sg1"]),
            del("app", "app2", &[]),
        ]);
        // net1: used by sg1 only among the groups; no app refers to it, so both apps go first.
        assert_eq!(d[0], [1, 3, 4]);
        // sg1: used by app1 only, so app2 is not waited for.
        assert_eq!(d[1], [3]);
        // sg2: nothing refers to it: every app, as the kind order says.
        assert_eq!(d[2], [3, 4]);
        assert_eq!(d[3], Vec::<usize>::new());
        assert_eq!(d[4], Vec::<usize>::new());
    }

    #[test]
    fn nothing_observed_is_exactly_the_kind_order() {
        let d = order_of(&[
            del("app", "app1", &[]),
            del("net", "net1", &[]),
            del("sg", "sg1", &[]),
            del("sg", "sg2", &[]),
        ]);
        assert_eq!(d, [vec![], vec![0, 2, 3], vec![0], vec![0]]);
    }

    #[test]
    fn back_pointers_and_cycles_are_ignored() {
        let d = order_of(&[
            // The network's attributes name a group: against the kind order, ignored.
            del("net", "net1", &["sg1"]),
            del("sg", "sg1", &["sg2"]),
            del("sg", "sg2", &["arn:sg1"]),
            // A resource naming itself.
            del("app", "app1", &["app1", "arn:app1"]),
        ]);
        // The network still waits for every group and app; the groups name each other, so
        // neither waits for the other, and both wait for the app by kind order.
        assert_eq!(d, [vec![1, 2, 3], vec![3], vec![3], vec![]]);
        assert!(graph::order(&d).is_some());
    }
}
