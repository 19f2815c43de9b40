//! The engine's scenario tests, on the in-memory cloud of `fake.rs`: plans and applies of the
//! fake kinds (duplicates, replacements, failures, scopes, `Kind::finish`, a stopped apply).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::apply::{apply, Reporter, Step};
use super::fake::*;
use super::plan::{plan, Change, Plan, PlanError};
use super::resource::{BoxError, Kind, Node, Observed, Scopes, StackRef};
use super::value::{Attrs, Outputs, Value};

mod tests {
    use super::*;
    use crate::engine::plan::Action;

    fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> Attrs {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn arn(pid: &str) -> String {
        outputs_of(pid)["arn"].clone()
    }

    /// Logical ids of the successful writes of `op`, in order.
    fn written(cloud: &FakeCloud, op: Op) -> Vec<String> {
        cloud
            .log()
            .into_iter()
            .filter(|w| w.op == op && w.error.is_none())
            .map(|w| w.id)
            .collect()
    }

    fn action(p: &Plan, id: &str) -> Vec<Action> {
        p.changes
            .iter()
            .filter(|c| c.id == id)
            .map(|c| c.action)
            .collect()
    }

    #[tokio::test]
    async fn destroy_deletes_referrers_before_what_they_use() {
        let cloud = FakeCloud::new();
        let net = cloud.insert(NET, "net", "net", Some(STACK), Attrs::new());
        let a = cloud.insert(
            SG,
            "sg.a",
            "a",
            Some(STACK),
            attrs([("vpc", net.clone().into())]),
        );
        // A rule of sg.b names sg.a by ARN, deep in a list of maps.
        let rule = Value::Map(BTreeMap::from([("source".to_string(), arn(&a).into())]));
        let b = cloud.insert(
            SG,
            "sg.b",
            "b",
            Some(STACK),
            attrs([("rules", Value::List(vec![rule]))]),
        );
        let m = Value::Map(BTreeMap::from([("group".to_string(), b.clone().into())]));
        cloud.insert(APP, "app", "app", Some(STACK), attrs([("net", m)]));
        // The fake refuses a delete in the wrong order.
        let cur = &cloud.discover(SG, &stack(), &[])[0];
        assert_eq!(cur.id, "sg.a");
        assert!(cloud
            .delete(cur)
            .unwrap_err()
            .to_string()
            .contains("in use"));

        let (p, r) = converge(&cloud, None).await;
        assert_eq!(p.summary().destroy, 4);
        assert!(r.ok(), "{:?}", r.failed);
        assert_eq!(written(&cloud, Op::Delete), ["app", "sg.b", "sg.a", "net"]);
        assert_eq!(cloud.log().last().map(|w| w.kind), Some(NET));
        assert!(cloud.owned_by(STACK).is_empty());
    }

    #[tokio::test]
    async fn same_kind_referrer_is_deleted_first() {
        // Two groups of one kind: the kind order says nothing about them.
        let cloud = FakeCloud::new();
        let a = cloud.insert(SG, "sg.a", "a", Some(STACK), Attrs::new());
        cloud.insert(SG, "sg.b", "b", Some(STACK), attrs([("source", a.into())]));
        let (_, r) = converge(&cloud, None).await;
        assert!(r.ok(), "{:?}", r.failed);
        assert_eq!(written(&cloud, Op::Delete), ["sg.b", "sg.a"]);
        assert!(cloud.log().iter().all(|w| w.error.is_none()));
    }

    #[tokio::test]
    async fn failed_create_skips_its_dependents_only() {
        let nodes = [
            Node::new(NET, "n", "n"),
            Node::new(SG, "s", "s").attr("vpc", Value::reference("n", "id")),
            Node::new(APP, "a", "a").attr("sg", Value::reference("s", "arn")),
            Node::new(APP, "b", "b").after("other"),
            Node::new(SG, "other", "other"),
        ];
        let cloud = FakeCloud::new();
        cloud.fail_writes_to("n");
        let (_, r) = converge(&cloud, Some(&nodes)).await;
        assert_eq!(r.failed.len(), 1);
        assert_eq!(r.failed[0].0, "fake_net.n");
        assert_eq!(r.skipped, ["fake_app.a", "fake_sg.s"]);
        assert_eq!(written(&cloud, Op::Create), ["other", "b"]);
        let attempted: Vec<String> = cloud.log().into_iter().map(|w| w.id).collect();
        assert!(!attempted.contains(&"s".to_string()) && !attempted.contains(&"a".to_string()));

        cloud.clear_faults();
        let (p, r) = converge(&cloud, Some(&nodes)).await;
        assert_eq!(p.summary().add, 3);
        assert!(r.ok(), "{:?}", r.failed);
        assert!(!plan_nodes(&cloud, Some(&nodes))
            .await
            .unwrap()
            .has_changes());
    }

    #[tokio::test]
    async fn failed_delete_skips_what_the_resource_uses() {
        let cloud = FakeCloud::new();
        let net = cloud.insert(NET, "net", "net", Some(STACK), Attrs::new());
        let s1 = cloud.insert(
            SG,
            "sg1",
            "sg1",
            Some(STACK),
            attrs([("vpc", net.clone().into())]),
        );
        let s2 = cloud.insert(SG, "sg2", "sg2", Some(STACK), attrs([("vpc", net.into())]));
        cloud.insert(APP, "app1", "app1", Some(STACK), attrs([("sg", s1.into())]));
        cloud.insert(APP, "app2", "app2", Some(STACK), attrs([("sg", s2.into())]));
        cloud.fail_writes_to("app1");
        let (_, r) = converge(&cloud, None).await;
        assert_eq!(r.failed.len(), 1);
        assert_eq!(r.failed[0].0, "fake_app.app1");
        // sg1 waits for app1 only, so sg2 goes; the network waits for what uses it.
        assert_eq!(r.skipped, ["fake_net.net", "fake_sg.sg1"]);
        assert_eq!(written(&cloud, Op::Delete), ["app2", "sg2"]);
        assert!(cloud
            .log()
            .iter()
            .all(|w| w.error.is_none() || w.id == "app1"));

        cloud.clear_faults();
        let (_, r) = converge(&cloud, None).await;
        assert!(r.ok(), "{:?}", r.failed);
        assert!(cloud.owned_by(STACK).is_empty());
    }

    #[tokio::test]
    async fn replacing_a_node_replaces_the_nodes_that_refer_to_it() {
        let nodes = [
            Node::new(NET, "n", "n")
                .attr("size", 1i64)
                .force_new(&["size"]),
            Node::new(SG, "s", "s").attr("vpc", Value::reference("n", "id")),
            Node::new(SG, "t", "t").attr("src", Value::set([Value::reference("s", "arn")])),
            Node::new(APP, "a", "a")
                .attr("size", 1i64)
                .attr("sg", Value::reference("t", "id")),
        ];
        let cloud = FakeCloud::new();
        let n = cloud.insert(NET, "n", "n", Some(STACK), attrs([("size", 0i64.into())]));
        let s = cloud.insert(SG, "s", "s", Some(STACK), attrs([("vpc", n.into())]));
        let t = cloud.insert(
            SG,
            "t",
            "t",
            Some(STACK),
            attrs([("src", Value::set([arn(&s)]))]),
        );
        let a = cloud.insert(
            APP,
            "a",
            "a",
            Some(STACK),
            attrs([("size", 1i64.into()), ("sg", t.into())]),
        );

        let (p, r) = converge(&cloud, Some(&nodes)).await;
        for id in ["n", "s", "t", "a"] {
            assert_eq!(action(&p, id), [Action::Replace], "{id}");
        }
        assert!(r.ok(), "{:?}", r.failed);
        assert_eq!(written(&cloud, Op::Delete), ["a", "t", "s", "n"]);
        assert_eq!(written(&cloud, Op::Create), ["n", "s", "t", "a"]);
        assert!(cloud.get(&a).is_none());
        let new_t = cloud.find(STACK, "t");
        let new_a = cloud.get(&cloud.find(STACK, "a")[0]).unwrap();
        assert_eq!(new_a.attrs["sg"], Value::str(&new_t[0]));
        assert!(!plan_nodes(&cloud, Some(&nodes))
            .await
            .unwrap()
            .has_changes());
    }

    #[tokio::test]
    async fn owned_resources_no_node_claims_are_deleted_and_foreign_ones_left_alone() {
        let nodes = [Node::new(NET, "n", "n").attr("size", 1i64)];
        let cloud = FakeCloud::new();
        let n = cloud.insert(NET, "n", "n", Some(STACK), attrs([("size", 1i64.into())]));
        // A duplicate left by an interrupted run, a resource removed from the spec that uses the
        // kept one, and resources of others, one using the orphan.
        let dup = cloud.insert(NET, "n", "n", Some(STACK), attrs([("size", 1i64.into())]));
        let old = cloud.insert(
            SG,
            "old",
            "old",
            Some(STACK),
            attrs([("vpc", n.clone().into())]),
        );
        let theirs = cloud.insert(SG, "x", "x", None, attrs([("vpc", n.clone().into())]));
        let other = cloud.insert(APP, "y", "y", Some("other"), Attrs::new());
        let before = cloud.resources();

        let (p, r) = converge(&cloud, Some(&nodes)).await;
        assert_eq!(action(&p, "n"), [Action::NoOp, Action::Delete]);
        assert_eq!(action(&p, "old"), [Action::Delete]);
        assert!(r.ok(), "{:?}", r.failed);
        let left = cloud.resources();
        assert_eq!(left.keys().collect::<Vec<_>>(), [&other, &n, &theirs]);
        assert!(!left.contains_key(&dup) && !left.contains_key(&old));
        for pid in [&n, &theirs, &other] {
            assert_eq!(left[pid], before[pid]);
        }
        assert!(!plan_nodes(&cloud, Some(&nodes))
            .await
            .unwrap()
            .has_changes());
    }

    #[tokio::test]
    async fn a_foreign_look_alike_is_a_conflict_and_nothing_is_written() {
        let nodes = [
            Node::new(NET, "n", "n"),
            Node::new(SG, "s", "s").attr("vpc", Value::reference("n", "id")),
        ];
        let cloud = FakeCloud::new();
        let foreign = cloud.insert(SG, "whatever", "s", None, Attrs::new());
        cloud.insert(NET, "n", "n", Some("other"), Attrs::new());
        let before = cloud.resources();
        match plan_nodes(&cloud, Some(&nodes)).await {
            Err(PlanError::Conflicts { stack, conflicts }) => {
                assert_eq!(stack, STACK);
                let mut found: Vec<(String, String)> = conflicts
                    .into_iter()
                    .map(|c| (c.address, c.physical_id))
                    .collect();
                found.sort();
                assert_eq!(found[1], ("fake_sg.s".to_string(), foreign));
                assert_eq!(found[0].0, "fake_net.n");
            }
            other => panic!("expected conflicts, got {other:?}"),
        }
        assert!(cloud.log().is_empty());
        assert_eq!(cloud.resources(), before);
    }

    /// A root, a dependent of it and a dependent of that: what a race of two deploys leaves
    /// in duplicate.
    fn chain() -> [Node; 3] {
        [
            Node::new(NET, "n", "n").attr("size", 1i64),
            Node::new(SG, "s", "s").attr("vpc", Value::reference("n", "id")),
            Node::new(APP, "a", "a").attr("sg", Value::reference("s", "arn")),
        ]
    }

    /// The delete changes of duplicates in `p`: (logical id, deleted copy, kept copy, note).
    fn duplicate_deletes(p: &Plan) -> Vec<(String, String, String, String)> {
        p.changes
            .iter()
            .filter_map(|c| {
                let kept = c.duplicate_of.clone()?;
                assert_eq!(c.action, Action::Delete);
                assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
                let pid = c.current.as_ref().unwrap().physical_id.clone();
                Some((c.id.clone(), pid, kept, c.notes[0].clone()))
            })
            .collect()
    }

    #[tokio::test]
    async fn duplicates_keep_the_copies_the_rest_of_the_stack_refers_to() {
        let nodes = chain();
        let cloud = FakeCloud::new();
        // Two runs each made a net and a group in it; only the second run got as far as the
        // app, which uses its own group. The second run's ids are the larger ones, so the
        // tie-break alone would keep the first run's.
        let size = || attrs([("size", 1i64.into())]);
        let n1 = cloud.insert(NET, "n", "n", Some(STACK), size());
        let n2 = cloud.insert(NET, "n", "n", Some(STACK), size());
        let s1 = cloud.insert(
            SG,
            "s",
            "s",
            Some(STACK),
            attrs([("vpc", n1.clone().into())]),
        );
        let s2 = cloud.insert(
            SG,
            "s",
            "s",
            Some(STACK),
            attrs([("vpc", n2.clone().into())]),
        );
        let a = cloud.insert(APP, "a", "a", Some(STACK), attrs([("sg", arn(&s2).into())]));
        let before = cloud.resources();

        let p = plan_nodes(&cloud, Some(&nodes)).await.unwrap();
        assert!(p.has_changes());
        assert_eq!(action(&p, "n"), [Action::NoOp, Action::Delete]);
        assert_eq!(action(&p, "s"), [Action::NoOp, Action::Delete]);
        assert_eq!(action(&p, "a"), [Action::NoOp]);
        let dups = duplicate_deletes(&p);
        assert_eq!(dups.len(), 2);
        let (id, gone, kept, note) = &dups[0];
        assert_eq!((id.as_str(), gone, kept), ("n", &n1, &n2));
        assert_eq!(
            note,
            &format!(
                "duplicate of {n2} (kept: the stack's other resources refer to it (2 of them, \
                 directly or through others; 1 to this copy)); this copy {n1} is deleted"
            )
        );
        let (id, gone, kept, note) = &dups[1];
        assert_eq!((id.as_str(), gone, kept), ("s", &s1, &s2));
        assert!(note.contains(&s1) && note.contains(&s2), "{note}");

        let r = apply_plan(&cloud, &p).await;
        assert!(r.ok(), "{:?}", r.failed);
        // The group in the deleted net goes first; nothing kept is written.
        assert_eq!(written(&cloud, Op::Delete), ["s", "n"]);
        assert_eq!(cloud.log().len(), 2);
        let left = cloud.resources();
        assert_eq!(left.keys().collect::<Vec<_>>(), [&a, &n2, &s2]);
        for pid in [&a, &n2, &s2] {
            assert_eq!(left[pid], before[pid]);
        }
        assert!(!plan_nodes(&cloud, Some(&nodes))
            .await
            .unwrap()
            .has_changes());
    }

    #[tokio::test]
    async fn the_kept_dependent_refers_to_the_kept_root_whichever_is_chosen() {
        let nodes = chain();
        // Two copies of every node, each copy referring to the other run's copies (so the
        // order of physical ids and the order of references disagree), in both orders.
        for flip in [false, true] {
            let cloud = FakeCloud::new();
            let size = || attrs([("size", 1i64.into())]);
            let n = [
                cloud.insert(NET, "n", "n", Some(STACK), size()),
                cloud.insert(NET, "n", "n", Some(STACK), size()),
            ];
            let refer = |i: usize| usize::from(flip) ^ i;
            let s: Vec<String> = (0..2)
                .map(|i| {
                    let vpc = n[refer(i)].clone();
                    cloud.insert(SG, "s", "s", Some(STACK), attrs([("vpc", vpc.into())]))
                })
                .collect();
            for i in 0..2 {
                let sg = arn(&s[1 - i]);
                cloud.insert(APP, "a", "a", Some(STACK), attrs([("sg", sg.into())]));
            }
            // Planning twice chooses the same copies.
            let p = plan_nodes(&cloud, Some(&nodes)).await.unwrap();
            let again = plan_nodes(&cloud, Some(&nodes)).await.unwrap();
            assert_eq!(duplicate_deletes(&p), duplicate_deletes(&again));
            let dups = duplicate_deletes(&p);
            assert_eq!(dups.len(), 3, "{dups:?}");
            let of = |id: &str| dups.iter().find(|d| d.0 == id).unwrap();
            // A tie at the root: the smaller id is kept; the others follow it.
            assert_eq!((of("n").1.as_str(), of("n").2.as_str()), (&*n[1], &*n[0]));
            assert!(of("n").3.contains("the copies are alike"), "{}", of("n").3);
            for id in ["s", "a"] {
                assert!(
                    of(id).3.contains("refers to the kept copies"),
                    "{:?}",
                    of(id)
                );
            }

            let r = apply_plan(&cloud, &p).await;
            assert!(r.ok(), "{:?}", r.failed);
            assert!(cloud.log().iter().all(|w| w.op == Op::Delete));
            let one = |id: &str| {
                let found = cloud.find(STACK, id);
                assert_eq!(found.len(), 1, "{id}: {found:?}");
                (found[0].clone(), cloud.get(&found[0]).unwrap())
            };
            let (net, _) = one("n");
            let (sg, group) = one("s");
            let (_, app) = one("a");
            assert_eq!(net, n[0]);
            assert_eq!(group.attrs["vpc"], Value::str(&net));
            assert_eq!(app.attrs["sg"], Value::str(arn(&sg)));
            assert!(!plan_nodes(&cloud, Some(&nodes))
                .await
                .unwrap()
                .has_changes());
        }
    }

    #[tokio::test]
    async fn a_single_resource_using_a_deleted_duplicate_is_replaced_first() {
        // The net with more hanging off it is kept (a second group uses it); the app, of which
        // there is one copy, uses the other net's group. It must let go before that group goes,
        // and deletes come first: it is replaced, and the plan says why.
        let [n, s, a] = chain();
        let nodes = [
            n,
            s,
            a,
            Node::new(SG, "t", "t").attr("vpc", Value::reference("n", "id")),
        ];
        let cloud = FakeCloud::new();
        let size = || attrs([("size", 1i64.into())]);
        let n1 = cloud.insert(NET, "n", "n", Some(STACK), size());
        let n2 = cloud.insert(NET, "n", "n", Some(STACK), size());
        let s1 = cloud.insert(
            SG,
            "s",
            "s",
            Some(STACK),
            attrs([("vpc", n1.clone().into())]),
        );
        let s2 = cloud.insert(
            SG,
            "s",
            "s",
            Some(STACK),
            attrs([("vpc", n2.clone().into())]),
        );
        let t = cloud.insert(
            SG,
            "t",
            "t",
            Some(STACK),
            attrs([("vpc", n1.clone().into())]),
        );
        let a = cloud.insert(APP, "a", "a", Some(STACK), attrs([("sg", arn(&s2).into())]));
        let before = cloud.resources();

        let p = plan_nodes(&cloud, Some(&nodes)).await.unwrap();
        let dups = duplicate_deletes(&p);
        let of = |id: &str| dups.iter().find(|d| d.0 == id).unwrap();
        assert_eq!((&of("n").1, &of("n").2), (&n2, &n1));
        assert_eq!((&of("s").1, &of("s").2), (&s2, &s1));
        assert_eq!(action(&p, "a"), [Action::Replace]);
        let app = p.changes.iter().find(|c| c.id == "a").unwrap();
        assert_eq!(
            app.notes,
            [format!(
                "replaced: it uses {s2}, a duplicate that is deleted"
            )]
        );
        assert!(app.diffs[0].forces_replacement);
        assert_eq!(action(&p, "t"), [Action::NoOp]);

        let r = apply_plan(&cloud, &p).await;
        assert!(r.ok(), "{:?}", r.failed);
        assert!(cloud.log().iter().all(|w| w.error.is_none()));
        assert_eq!(written(&cloud, Op::Delete), ["a", "s", "n"]);
        assert_eq!(written(&cloud, Op::Create), ["a"]);
        assert!(cloud.get(&a).is_none());
        let new_a = cloud.get(&cloud.find(STACK, "a")[0]).unwrap();
        assert_eq!(new_a.attrs["sg"], Value::str(arn(&s1)));
        for pid in [&n1, &s1, &t] {
            assert_eq!(cloud.get(pid).as_ref(), Some(&before[pid]));
        }
        assert!(!plan_nodes(&cloud, Some(&nodes))
            .await
            .unwrap()
            .has_changes());
    }

    #[tokio::test]
    async fn a_duplicate_that_cannot_be_deleted_does_not_block_its_kept_copy() {
        let nodes = [Node::new(NET, "n", "n").attr("size", 1i64)];
        let cloud = FakeCloud::new();
        // Both copies drifted alike: the smaller id is kept and updated.
        let n1 = cloud.insert(NET, "n", "n", Some(STACK), attrs([("size", 2i64.into())]));
        let n2 = cloud.insert(NET, "n", "n", Some(STACK), attrs([("size", 2i64.into())]));
        let p = plan_nodes(&cloud, Some(&nodes)).await.unwrap();
        assert_eq!(action(&p, "n"), [Action::Delete, Action::Update]);
        cloud.fail_write(0);
        let r = apply_plan(&cloud, &p).await;
        assert!(cloud.clear_faults());
        assert_eq!(r.failed.len(), 1, "{:?}", r.failed);
        assert!(r.failed[0].1.contains("injected fault"), "{:?}", r.failed);
        assert!(r.skipped.is_empty(), "{:?}", r.skipped);
        assert_eq!(cloud.get(&n1).unwrap().attrs["size"], Value::Int(1));
        assert!(cloud.get(&n2).is_some());

        let (p, r) = converge(&cloud, Some(&nodes)).await;
        assert_eq!(duplicate_deletes(&p).len(), 1);
        assert!(r.ok(), "{:?}", r.failed);
        assert_eq!(cloud.find(STACK, "n"), [n1]);
        assert!(!plan_nodes(&cloud, Some(&nodes))
            .await
            .unwrap()
            .has_changes());
    }

    #[tokio::test]
    async fn among_alike_copies_the_one_matching_the_spec_is_kept() {
        let nodes = chain();
        let cloud = FakeCloud::new();
        let n = cloud.insert(NET, "n", "n", Some(STACK), attrs([("size", 1i64.into())]));
        // The first copy of the net drifted: keeping it would mean an update.
        let drifted = cloud.insert(NET, "n", "n", Some(STACK), attrs([("size", 2i64.into())]));
        let _ = drifted;
        let p = plan_nodes(&cloud, Some(&nodes)).await.unwrap();
        let dups = duplicate_deletes(&p);
        assert_eq!(dups.len(), 1);
        assert_eq!((&dups[0].1, &dups[0].2), (&drifted, &n));
        assert!(
            dups[0].3.contains("matches the spec more closely"),
            "{}",
            dups[0].3
        );
        assert_eq!(action(&p, "n"), [Action::NoOp, Action::Delete]);
    }

    #[tokio::test]
    async fn destroy_deletes_every_copy() {
        let cloud = FakeCloud::new();
        let n1 = cloud.insert(NET, "n", "n", Some(STACK), Attrs::new());
        let n2 = cloud.insert(NET, "n", "n", Some(STACK), Attrs::new());
        cloud.insert(SG, "s", "s", Some(STACK), attrs([("vpc", n1.into())]));
        cloud.insert(SG, "s", "s", Some(STACK), attrs([("vpc", n2.into())]));
        let (p, r) = converge(&cloud, None).await;
        assert_eq!(p.summary().destroy, 4);
        assert!(duplicate_deletes(&p).is_empty());
        assert!(r.ok(), "{:?}", r.failed);
        assert!(cloud.owned_by(STACK).is_empty());
    }

    #[cfg(debug_assertions)]
    #[tokio::test]
    async fn a_reference_outside_the_declared_kinds_is_an_internal_error() {
        // fake_net declares no dependencies, so it may not refer to a fake_sg.
        let nodes = [
            Node::new(SG, "s", "s"),
            Node::new(NET, "n", "n").attr("sg", Value::reference("s", "id")),
        ];
        let err = plan_nodes(&FakeCloud::new(), Some(&nodes))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PlanError::Internal(m) if m.contains("fake_net.n refers to fake_sg.s")),
            "{err}"
        );
        let after = [Node::new(SG, "s", "s"), Node::new(NET, "n", "n").after("s")];
        assert!(matches!(
            plan_nodes(&FakeCloud::new(), Some(&after)).await,
            Err(PlanError::Internal(_))
        ));
        // Its own kind and the kinds it depends on, transitively, are fine.
        let ok = [
            Node::new(NET, "n", "n"),
            Node::new(NET, "m", "m").after("n"),
            Node::new(APP, "a", "a").attr("net", Value::reference("n", "id")),
        ];
        assert!(plan_nodes(&FakeCloud::new(), Some(&ok)).await.is_ok());
    }
}

mod scope_tests {
    //! Two regions and a global scope: each region has its own cloud, the global scope uses the
    //! primary's (as Route 53 is reached through the primary region's clients).
    use super::*;
    use crate::engine::plan::Action;
    use crate::engine::resource::GLOBAL;

    const R1: &str = "us-east-1";
    const R2: &str = "us-west-2";
    const DNS: &str = "fake_dns";

    fn two_region_model() -> FakeSpec {
        let mut m = model().clone();
        m.regions = vec![R1.into(), R2.into()];
        m
    }

    /// `net` in every region; one global `dns.<region>` per region referring to that region's
    /// net across scopes.
    fn kinds_two() -> Vec<Box<dyn Kind<FakeCloud>>> {
        let net = Node::new(NET, "net", "net");
        let dns = [R1, R2].map(|r| {
            Node::new(DNS, format!("dns.{r}"), format!("dns-{r}"))
                .attr("target", Value::reference_in(r, "net", "id"))
                .attr("region", r)
        });
        vec![
            Box::new(FakeKind {
                name: NET,
                depends_on: &[],
                nodes: vec![net],
                global: false,
            }),
            Box::new(FakeKind {
                name: DNS,
                depends_on: &[NET],
                nodes: dns.to_vec(),
                global: true,
            }),
        ]
    }

    fn scopes<'a>(c1: &'a FakeCloud, c2: Option<&'a FakeCloud>) -> Scopes<'a, FakeCloud> {
        let mut s = Scopes::one(R1, c1);
        if let Some(c2) = c2 {
            s.regions.insert(R2.into(), c2);
        }
        s
    }

    #[tokio::test]
    async fn regions_and_the_global_scope_plan_and_apply_as_one_graph() {
        let (c1, c2) = (FakeCloud::new(), FakeCloud::new());
        let kinds = kinds_two();
        let m = two_region_model();
        let p = plan(&kinds, &scopes(&c1, Some(&c2)), &stack(), Some(&m))
            .await
            .unwrap();
        let addrs: Vec<(&str, &str)> = p
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c.scope.as_str()))
            .collect();
        // Grouped by scope, primary first, global last; addresses carry the scope.
        assert_eq!(
            addrs,
            [
                ("us-east-1:fake_net.net", R1),
                ("us-west-2:fake_net.net", R2),
                ("global:fake_dns.dns.us-east-1", GLOBAL),
                ("global:fake_dns.dns.us-west-2", GLOBAL),
            ]
        );
        assert_eq!(p.regions(), [R1, R2]);
        let r = apply(&kinds, &scopes(&c1, Some(&c2)), &p, &Quiet).await;
        assert!(r.ok(), "{:?}", r.failed);
        // Each region's net in its own cloud; the global resources in the primary's, each
        // holding its region's net id.
        let net = |c: &FakeCloud| c.find(STACK, "net")[0].clone();
        let dns = |r: &str| c1.get(&c1.find(STACK, &format!("dns.{r}"))[0]).unwrap();
        assert_eq!(c2.find(STACK, "dns.us-east-1").len(), 0);
        assert_eq!(dns(R1).attrs["target"], Value::str(net(&c1)));
        assert_eq!(dns(R2).attrs["target"], Value::str(net(&c2)));

        let again = plan(&kinds, &scopes(&c1, Some(&c2)), &stack(), Some(&m))
            .await
            .unwrap();
        assert!(!again.has_changes());

        // Destroy: every scope's resources go.
        let d = plan(&kinds, &scopes(&c1, Some(&c2)), &stack(), None)
            .await
            .unwrap();
        assert!(d.changes.iter().all(|c| c.action == Action::Delete));
        let r = apply(&kinds, &scopes(&c1, Some(&c2)), &d, &Quiet).await;
        assert!(r.ok(), "{:?}", r.failed);
        assert!(c1.owned_by(STACK).is_empty() && c2.owned_by(STACK).is_empty());
    }

    #[tokio::test]
    async fn a_region_named_only_by_a_global_resource_is_asked_for() {
        let (c1, c2) = (FakeCloud::new(), FakeCloud::new());
        let kinds = kinds_two();
        let m = two_region_model();
        let p = plan(&kinds, &scopes(&c1, Some(&c2)), &stack(), Some(&m))
            .await
            .unwrap();
        assert!(apply(&kinds, &scopes(&c1, Some(&c2)), &p, &Quiet)
            .await
            .ok());
        // Destroying with the primary region only: the global resources name us-west-2.
        let r = plan(&kinds, &scopes(&c1, None), &stack(), None).await;
        match r {
            Err(PlanError::MoreRegions(more)) => assert_eq!(more, [R2]),
            other => panic!(
                "expected MoreRegions, got {:?}",
                other.map(|p| p.changes.len())
            ),
        }
        // With it, the plan destroys both regions.
        let d = plan(&kinds, &scopes(&c1, Some(&c2)), &stack(), None)
            .await
            .unwrap();
        assert_eq!(d.summary().destroy, 4);
    }
}

mod finish_tests {
    //! `Kind::finish`: the rest of a create runs beside what depends on the resource, and its
    //! failure fails the resource, not its dependents.
    use super::*;
    use crate::engine::plan::Action;

    /// `fake_net` whose `finish` waits until a `fake_sg` exists (so it can only end if the
    /// dependents were made without waiting for it), then fails if asked to.
    struct SlowNet {
        inner: FakeKind,
        fail: bool,
    }

    #[async_trait]
    impl Kind<FakeCloud> for SlowNet {
        fn name(&self) -> &'static str {
            self.inner.name
        }
        fn desired(&self, m: &FakeView<'_>) -> Vec<Node> {
            self.inner.desired(m)
        }
        async fn discover(
            &self,
            ctx: &FakeCloud,
            stack: &StackRef,
            desired: &[&Node],
        ) -> Result<Vec<Observed>, BoxError> {
            self.inner.discover(ctx, stack, desired).await
        }
        async fn create(
            &self,
            ctx: &FakeCloud,
            stack: &StackRef,
            node: &Node,
            attrs: &Attrs,
        ) -> Result<Outputs, BoxError> {
            self.inner.create(ctx, stack, node, attrs).await
        }
        async fn finish(
            &self,
            ctx: &FakeCloud,
            stack: &StackRef,
            _: &Node,
            _: &Attrs,
            _: &Outputs,
        ) -> Result<(), BoxError> {
            for _ in 0..200 {
                if !ctx.discover(SG, stack, &[]).is_empty() {
                    return if self.fail {
                        Err("the setting was refused".into())
                    } else {
                        Ok(())
                    };
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err("the dependents waited for finish".into())
        }
        async fn update(
            &self,
            ctx: &FakeCloud,
            stack: &StackRef,
            node: &Node,
            attrs: &Attrs,
            cur: &Observed,
            changed: &[String],
        ) -> Result<Outputs, BoxError> {
            self.inner
                .update(ctx, stack, node, attrs, cur, changed)
                .await
        }
        async fn delete(&self, ctx: &FakeCloud, cur: &Observed) -> Result<(), BoxError> {
            self.inner.delete(ctx, cur).await
        }
    }

    fn kinds_with(nodes: &[Node], fail: bool) -> Vec<Box<dyn Kind<FakeCloud>>> {
        let mut k = kinds(nodes);
        k[0] = Box::new(SlowNet {
            inner: FakeKind {
                name: NET,
                depends_on: &[],
                nodes: nodes.to_vec(),
                global: false,
            },
            fail,
        });
        k
    }

    fn nodes() -> Vec<Node> {
        vec![
            Node::new(NET, "n", "n"),
            Node::new(SG, "s", "s").attr("vpc", Value::reference("n", "id")),
        ]
    }

    #[tokio::test]
    async fn finish_runs_beside_the_dependents() {
        let cloud = FakeCloud::new();
        let nodes = nodes();
        let kinds = kinds_with(&nodes, false);
        let scopes = Scopes::one(&stack().region, &cloud);
        let p = plan(&kinds, &scopes, &stack(), Some(model()))
            .await
            .unwrap();
        let r = apply(&kinds, &scopes, &p, &Quiet).await;
        assert!(r.ok(), "{:?}", r.failed);
        assert_eq!(r.done, 2);
        assert_eq!(cloud.owned_by(STACK).len(), 2);
    }

    #[tokio::test]
    async fn a_failed_finish_fails_its_resource_only() {
        let cloud = FakeCloud::new();
        let nodes = nodes();
        let kinds = kinds_with(&nodes, true);
        let scopes = Scopes::one(&stack().region, &cloud);
        let p = plan(&kinds, &scopes, &stack(), Some(model()))
            .await
            .unwrap();
        let r = apply(&kinds, &scopes, &p, &Quiet).await;
        assert_eq!(
            r.failed,
            [(
                "fake_net.n".to_string(),
                "the setting was refused".to_string()
            )]
        );
        assert!(r.skipped.is_empty());
        assert_eq!(r.done, 1);
        // Both exist: the next deploy finds the network and goes on from there.
        assert_eq!(cloud.owned_by(STACK).len(), 2);
        let again = plan(&kinds, &scopes, &stack(), Some(model()))
            .await
            .unwrap();
        assert!(again.changes.iter().all(|c| c.action == Action::NoOp));
    }
}

mod stop_tests {
    //! Ctrl-C during an apply (`Reporter::stopping`): what is in flight finishes, nothing new
    //! starts, and the result says which is which.
    use super::*;
    use crate::engine::apply::NOT_STARTED;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Asks the apply to stop as soon as the first change starts.
    struct StopAtFirst(AtomicBool);

    impl Reporter for StopAtFirst {
        fn started(&self, _: &Change, _: Step) {
            self.0.store(true, Ordering::SeqCst);
        }
        fn finished(&self, _: &Change, _: Step, _: std::time::Duration, _: &str) {}
        fn failed(&self, _: &Change, _: Step, _: &str) {}
        fn skipped(&self, _: &Change, _: Step, _: &str) {}
        fn stopping(&self) -> bool {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn a_stopped_apply_finishes_what_is_in_flight_and_starts_nothing_new() {
        let cloud = FakeCloud::new();
        let nodes = vec![
            Node::new(NET, "n", "n"),
            Node::new(SG, "s", "s").attr("vpc", Value::reference("n", "id")),
        ];
        let kinds = kinds(&nodes);
        let scopes = Scopes::one(&stack().region, &cloud);
        let p = plan(&kinds, &scopes, &stack(), Some(model()))
            .await
            .unwrap();
        let r = apply(&kinds, &scopes, &p, &StopAtFirst(AtomicBool::new(false))).await;
        assert_eq!(r.done, 1, "the network, in flight when stopped, is made");
        assert_eq!(
            r.failed,
            [("fake_sg.s".to_string(), NOT_STARTED.to_string())]
        );
        assert_eq!(cloud.owned_by(STACK).len(), 1);
        assert!(
            r.outputs.contains_key("us-east-1/n"),
            "its outputs are known: {:?}",
            r.outputs
        );
    }
}

mod view_tests {
    //! Lowering from views: a regional kind once per region (`desired`) and once per (region,
    //! service) (`service_desired`); a global kind the same from the primary region's view.
    use super::*;
    use crate::engine::lower;

    const R1: &str = "us-east-1";
    const R2: &str = "us-west-2";

    /// Desires one node per view it is lowered from, named after the view.
    struct PerView {
        global: bool,
    }

    #[async_trait]
    impl Kind<FakeCloud> for PerView {
        fn name(&self) -> &'static str {
            if self.global {
                "fake_global"
            } else {
                "fake_regional"
            }
        }
        fn global(&self) -> bool {
            self.global
        }
        fn desired(&self, v: &FakeView<'_>) -> Vec<Node> {
            assert!(v.service.is_none());
            vec![Node::new(self.name(), format!("stack.{}", v.region), "x")]
        }
        fn service_desired(&self, v: &FakeView<'_>) -> Vec<Node> {
            let s = v.service.expect("a service's view");
            vec![Node::new(self.name(), format!("{s}.{}", v.region), "x")]
        }
        async fn discover(
            &self,
            _: &FakeCloud,
            _: &StackRef,
            _: &[&Node],
        ) -> Result<Vec<Observed>, BoxError> {
            Ok(vec![])
        }
        async fn create(
            &self,
            _: &FakeCloud,
            _: &StackRef,
            _: &Node,
            _: &Attrs,
        ) -> Result<Outputs, BoxError> {
            Ok(Outputs::new())
        }
        async fn update(
            &self,
            _: &FakeCloud,
            _: &StackRef,
            _: &Node,
            _: &Attrs,
            _: &Observed,
            _: &[String],
        ) -> Result<Outputs, BoxError> {
            Ok(Outputs::new())
        }
        async fn delete(&self, _: &FakeCloud, _: &Observed) -> Result<(), BoxError> {
            Ok(())
        }
    }

    #[test]
    fn kinds_lower_once_per_region_and_once_per_region_and_service() {
        let spec = FakeSpec {
            regions: vec![R1.into(), R2.into()],
            services: vec!["api".into(), "web".into()],
            tags: BTreeMap::new(),
        };
        let kinds: Vec<Box<dyn Kind<FakeCloud>>> = vec![
            Box::new(PerView { global: false }),
            Box::new(PerView { global: true }),
        ];
        let mut got: Vec<String> = lower(&kinds, &spec)
            .iter()
            .map(|n| format!("{}/{}.{}", n.scope, n.kind, n.id))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                "global/fake_global.api.us-east-1",
                "global/fake_global.stack.us-east-1",
                "global/fake_global.web.us-east-1",
                "us-east-1/fake_regional.api.us-east-1",
                "us-east-1/fake_regional.stack.us-east-1",
                "us-east-1/fake_regional.web.us-east-1",
                "us-west-2/fake_regional.api.us-west-2",
                "us-west-2/fake_regional.stack.us-west-2",
                "us-west-2/fake_regional.web.us-west-2",
            ]
        );
    }

    #[test]
    fn a_stack_without_services_lowers_only_its_stack_wide_views() {
        let spec = FakeSpec {
            regions: vec![R1.into()],
            services: vec![],
            tags: BTreeMap::new(),
        };
        let kinds: Vec<Box<dyn Kind<FakeCloud>>> = vec![Box::new(PerView { global: false })];
        let got: Vec<String> = lower(&kinds, &spec).into_iter().map(|n| n.id).collect();
        assert_eq!(got, ["stack.us-east-1"]);
    }
}
