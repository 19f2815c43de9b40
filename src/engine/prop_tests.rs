//! Property: random desired graphs applied to random existing states converge, and destroy
//! leaves nothing of the stack, on the in-memory cloud of `fake.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use super::fake::{self, FakeCloud, KINDS, STACK};
use super::resource::Node;
use super::value::Value;

/// Fixed, so CI runs the same cases every time.
const SEED: [u8; 32] = *b"ballast engine converges, always";
const CASES: u32 = 256;

const FORCE_NEW: [&[&str]; 4] = [&[], &["size"], &["r0"], &["label", "rs"]];

#[derive(Clone, Debug)]
struct RefSpec {
    /// Picks among the earlier nodes this node's kind may refer to.
    target: usize,
    arn: bool,
    /// 0: the `r0` attribute, 1: the `rs` set, 2: the `m` map, 3: `Node::after`.
    slot: u8,
}

#[derive(Clone, Debug)]
enum Presence {
    Absent,
    /// drift 0: none, 1: `size`, 2: `label`, 3: `r0` points at a resource that is gone.
    Present {
        drift: u8,
        duplicate: bool,
    },
}

#[derive(Clone, Debug)]
struct NodeSpec {
    kind: usize,
    size: i64,
    label: bool,
    force_new: usize,
    refs: Vec<RefSpec>,
    presence: Presence,
}

/// A resource no node claims: owned (an orphan) or foreign.
#[derive(Clone, Debug)]
struct ExtraSpec {
    kind: usize,
    /// Pick among the earlier resources it may refer to.
    refs: Vec<usize>,
    other_stack: bool,
}

#[derive(Clone, Debug)]
struct Scenario {
    nodes: Vec<NodeSpec>,
    orphans: Vec<ExtraSpec>,
    foreign: Vec<ExtraSpec>,
    /// Fail this write of the first apply (if it makes that many).
    fault: Option<usize>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let reference = (0..64usize, any::<bool>(), 0..4u8).prop_map(|(target, arn, slot)| RefSpec {
        target,
        arn,
        slot,
    });
    let presence = prop_oneof![
        1 => Just(Presence::Absent),
        3 => (0..4u8, prop::bool::weighted(0.2))
            .prop_map(|(drift, duplicate)| Presence::Present { drift, duplicate }),
    ];
    let node = (
        0..KINDS.len(),
        0..3i64,
        any::<bool>(),
        0..FORCE_NEW.len(),
        prop::collection::vec(reference, 0..4),
        presence,
    )
        .prop_map(|(kind, size, label, force_new, refs, presence)| NodeSpec {
            kind,
            size,
            label,
            force_new,
            refs,
            presence,
        });
    let extra = (
        0..KINDS.len(),
        prop::collection::vec(0..64usize, 0..3),
        any::<bool>(),
    )
        .prop_map(|(kind, refs, other_stack)| ExtraSpec {
            kind,
            refs,
            other_stack,
        });
    (
        prop::collection::vec(node, 1..9),
        prop::collection::vec(extra.clone(), 0..4),
        prop::collection::vec(extra, 0..3),
        prop::option::weighted(0.7, 0..10usize),
    )
        .prop_map(|(nodes, orphans, foreign, fault)| Scenario {
            nodes,
            orphans,
            foreign,
            fault,
        })
}

fn pick<T: Clone>(from: &[T], choice: usize) -> Option<T> {
    (!from.is_empty()).then(|| from[choice % from.len()].clone())
}

/// The desired nodes. Node `i` refers only to earlier nodes of its own kind or of a kind its
/// kind depends on, so the graph is a DAG that respects the declared kind order.
fn desired(spec: &Scenario) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for (i, s) in spec.nodes.iter().enumerate() {
        let id = format!("n{i}");
        let mut n = Node::new(KINDS[s.kind], &id, &id)
            .attr("size", s.size)
            .attr("label", if s.label { "a" } else { "b" })
            .force_new(FORCE_NEW[s.force_new]);
        let eligible: Vec<usize> = (0..i).filter(|&j| spec.nodes[j].kind <= s.kind).collect();
        let (mut r0, mut set, mut map) = (None, Vec::new(), BTreeMap::new());
        for r in &s.refs {
            let Some(t) = pick(&eligible, r.target) else {
                continue;
            };
            let v = Value::reference(&format!("n{t}"), if r.arn { "arn" } else { "id" });
            match r.slot {
                0 if r0.is_none() => r0 = Some(v),
                0 | 1 => set.push(v),
                2 => {
                    map.insert(format!("k{}", map.len()), v);
                }
                _ => n = n.after(format!("n{t}")),
            }
        }
        if let Some(v) = r0 {
            n = n.attr("r0", v);
        }
        if !set.is_empty() {
            n = n.attr("rs", Value::set(set));
        }
        if !map.is_empty() {
            n = n.attr("m", Value::Map(map));
        }
        nodes.push(n);
    }
    nodes
}

/// Lay out the existing state. Returns the physical ids of the foreign resources.
///
/// Present nodes refer to the present resources of their references (or to ones that are gone),
/// as an earlier apply left them; duplicates are copies a racing run made, referring to that
/// run's copies where it made them. Orphans may refer to any earlier owned
/// or foreign resource of a kind theirs may refer to. Foreign resources refer only to each other:
/// one that used the stack's resources would keep them from ever being deleted.
fn lay_out(cloud: &FakeCloud, spec: &Scenario, nodes: &[Node]) -> Vec<String> {
    let mut foreign: Vec<(usize, String)> = Vec::new();
    for (k, f) in spec.foreign.iter().enumerate() {
        let refs = f
            .refs
            .iter()
            .filter_map(|&c| Some(handle(&pick(&foreign, c)?.1, c)))
            .collect::<Vec<_>>();
        let owner = f.other_stack.then_some("other");
        let name = format!("foreign{k}");
        let pid = cloud.insert(
            KINDS[f.kind],
            &name,
            &name,
            owner,
            [("rs".to_string(), Value::set(refs))].into(),
        );
        foreign.push((f.kind, pid));
    }

    let mut primary: HashMap<String, String> = HashMap::new();
    // The copies a second, racing run made: they refer to that run's copies where it made any.
    let mut second: HashMap<String, String> = HashMap::new();
    let mut owned: Vec<(usize, String)> = Vec::new();
    for (s, n) in spec.nodes.iter().zip(nodes) {
        let Presence::Present { drift, duplicate } = s.presence else {
            continue;
        };
        let resolve = |copies: &[&HashMap<String, String>]| {
            let lookup = |node: &str, out: &str| {
                Some(match copies.iter().find_map(|c| c.get(node)) {
                    Some(p) => fake::outputs_of(p)[out].clone(),
                    None => format!("gone-{node}"),
                })
            };
            let mut attrs: BTreeMap<String, Value> = n
                .attrs
                .iter()
                .map(|(k, v)| (k.clone(), v.resolve(&lookup).expect("always resolves")))
                .collect();
            match drift {
                1 => {
                    attrs.insert("size".into(), Value::Int(s.size + 10));
                }
                2 => {
                    attrs.insert("label".into(), Value::str("drifted"));
                }
                3 if attrs.contains_key("r0") => {
                    attrs.insert("r0".into(), Value::str("gone-elsewhere"));
                }
                _ => {}
            }
            attrs
        };
        let attrs = resolve(&[&primary]);
        let copy = resolve(&[&second, &primary]);
        let pid = cloud.insert(n.kind, &n.id, &n.name, Some(STACK), attrs);
        primary.insert(n.id.clone(), pid.clone());
        owned.push((s.kind, pid));
        if duplicate {
            let dup = cloud.insert(n.kind, &n.id, &n.name, Some(STACK), copy);
            second.insert(n.id.clone(), dup.clone());
            owned.push((s.kind, dup));
        }
    }

    for (k, o) in spec.orphans.iter().enumerate() {
        let eligible: Vec<(usize, String)> = owned
            .iter()
            .chain(&foreign)
            .filter(|(kind, _)| *kind <= o.kind)
            .cloned()
            .collect();
        let refs = o
            .refs
            .iter()
            .filter_map(|&c| Some(handle(&pick(&eligible, c)?.1, c)))
            .collect::<Vec<_>>();
        let id = format!("old{k}");
        let pid = cloud.insert(
            KINDS[o.kind],
            &id,
            &id,
            Some(STACK),
            [("rs".to_string(), Value::set(refs))].into(),
        );
        owned.push((o.kind, pid));
    }
    foreign.into_iter().map(|(_, p)| p).collect()
}

/// How a resource is referred to: by id or, for odd `choice`s, by ARN.
fn handle(pid: &str, choice: usize) -> Value {
    Value::str(&fake::outputs_of(pid)[if choice % 2 == 1 { "arn" } else { "id" }])
}

/// What the cases exercised, so a generator that stops producing a situation fails the test.
#[derive(Default)]
struct Seen {
    creates: AtomicUsize,
    updates: AtomicUsize,
    replaces: AtomicUsize,
    /// Deletes of orphans and duplicates in the first plan.
    deletes: AtomicUsize,
    duplicates: AtomicUsize,
    faults: AtomicUsize,
    foreign: AtomicUsize,
}

fn check(spec: &Scenario, seen: &Seen) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let cloud = FakeCloud::new();
        let nodes = desired(spec);
        let foreign = lay_out(&cloud, spec, &nodes);
        let foreign_before: Vec<_> = foreign.iter().map(|p| cloud.get(p)).collect();

        let p = fake::plan_nodes(&cloud, Some(&nodes))
            .await
            .map_err(|e| TestCaseError::fail(format!("first plan: {e}: {e:?}")))?;
        let summary = p.summary();
        seen.creates.fetch_add(summary.add, Relaxed);
        seen.updates.fetch_add(summary.change, Relaxed);
        seen.replaces.fetch_add(summary.replace, Relaxed);
        seen.deletes.fetch_add(summary.destroy, Relaxed);
        // Every deleted duplicate names itself and the copy kept, which the plan keeps.
        for c in p.changes.iter().filter(|c| c.duplicate_of.is_some()) {
            let kept = c.duplicate_of.as_deref().unwrap();
            let gone = &c.current.as_ref().unwrap().physical_id;
            prop_assert_eq!(c.action, super::Action::Delete);
            prop_assert!(
                c.notes
                    .iter()
                    .any(|n| n.contains(kept) && n.contains(gone.as_str())),
                "{:?}",
                c.notes
            );
            prop_assert!(p.changes.iter().any(|k| k.key == c.key
                && k.action != super::Action::Delete
                && k.current.as_ref().is_some_and(|o| o.physical_id == kept)));
            seen.duplicates.fetch_add(1, Relaxed);
        }
        seen.foreign.fetch_add(foreign.len(), Relaxed);
        if let Some(k) = spec.fault {
            cloud.fail_write(k);
        }
        let r = fake::apply_plan(&cloud, &p).await;
        if cloud.clear_faults() {
            seen.faults.fetch_add(1, Relaxed);
            prop_assert!(!r.ok(), "an injected fault went unreported");
            let (_, r) = fake::converge(&cloud, Some(&nodes)).await;
            prop_assert!(
                r.ok(),
                "second apply: failed {:?} skipped {:?}",
                r.failed,
                r.skipped
            );
        } else {
            prop_assert!(
                r.ok(),
                "apply: failed {:?} skipped {:?}",
                r.failed,
                r.skipped
            );
        }

        // Converged: nothing to do, and doing it writes nothing.
        let p = fake::plan_nodes(&cloud, Some(&nodes)).await.unwrap();
        let pending: Vec<_> = p
            .changes
            .iter()
            .filter(|c| c.action != super::Action::NoOp)
            .map(|c| (c.address.clone(), c.action, c.changed_keys()))
            .collect();
        prop_assert!(pending.is_empty(), "not converged: {:?}", pending);
        let writes = cloud.log().len();
        let r = fake::apply_plan(&cloud, &p).await;
        prop_assert!(r.ok());
        prop_assert_eq!(cloud.log().len(), writes);
        // One resource per node, and none else of the stack's.
        let owned = cloud.owned_by(STACK);
        prop_assert_eq!(owned.len(), nodes.len());
        for n in &nodes {
            prop_assert_eq!(cloud.find(STACK, &n.id).len(), 1, "{}", n.address());
        }

        let (_, r) = fake::converge(&cloud, None).await;
        prop_assert!(
            r.ok(),
            "destroy: failed {:?} skipped {:?}",
            r.failed,
            r.skipped
        );
        prop_assert!(cloud.owned_by(STACK).is_empty());

        let foreign_after: Vec<_> = foreign.iter().map(|p| cloud.get(p)).collect();
        prop_assert_eq!(&foreign_after, &foreign_before);
        let touched: Vec<_> = cloud
            .log()
            .into_iter()
            .filter(|w| foreign.contains(&w.physical_id))
            .collect();
        prop_assert!(
            touched.is_empty(),
            "foreign resources written: {:?}",
            touched
        );
        Ok(())
    })
}

#[test]
fn random_graphs_on_random_states_converge_and_destroy_cleanly() {
    let config = Config {
        cases: CASES,
        rng_algorithm: RngAlgorithm::ChaCha,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let seen = Seen::default();
    if let Err(e) = runner.run(&scenario(), |spec| check(&spec, &seen)) {
        panic!("{e}");
    }
    let counts = [
        ("creates", &seen.creates),
        ("updates", &seen.updates),
        ("replaces", &seen.replaces),
        ("deletes", &seen.deletes),
        ("duplicates", &seen.duplicates),
        ("injected faults", &seen.faults),
        ("foreign resources", &seen.foreign),
    ]
    .map(|(what, n)| (what, n.load(Relaxed)));
    eprintln!("{CASES} cases: {counts:?}");
    for (what, n) in counts {
        assert!(n > 0, "no case had {what}: {counts:?}");
    }
}
