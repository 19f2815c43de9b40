//! An in-memory cloud for engine tests: `FakeCloud` is a client context, `FakeKind` a kind over
//! it. Resources live in a map by physical id; every write is logged; writes can be made to fail.
//! Like AWS, the fake refuses to delete a resource while another one's attributes still hold its
//! id or one of its outputs (DependencyViolation), and to create a second resource of a kind
//! under a name already taken, so a wrong order shows as a failed write.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard, OnceLock};

use async_trait::async_trait;

use super::apply::{apply, ApplyResult, Reporter, Step};
use super::plan::{plan, Change, Plan, PlanError};
use super::resource::{BoxError, Cloud, Kind, Node, Observed, Scopes, Spec, StackRef};
use super::value::{Attrs, Outputs, Value};

/// A resource as the fake cloud stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub kind: &'static str,
    /// Logical id (what the `ballast:resource` tag holds).
    pub id: String,
    pub name: String,
    /// The stack whose ownership tag it carries; `None` for a foreign resource.
    pub owner: Option<String>,
    pub attrs: Attrs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// One write attempt, in the order the engine made them.
#[derive(Clone, Debug)]
pub struct Write {
    pub op: Op,
    pub kind: &'static str,
    /// Logical id of the node or resource written.
    pub id: String,
    /// For a create, the id it got or would have got.
    pub physical_id: String,
    /// The error, for a write that failed.
    pub error: Option<String>,
}

#[derive(Default)]
struct State {
    resources: BTreeMap<String, Resource>,
    log: Vec<Write>,
    next: u64,
    /// Fail the write with this index in the log.
    fail_at: Option<usize>,
    /// Fail every write to these logical ids.
    fail_ids: HashSet<String>,
}

#[derive(Default)]
pub struct FakeCloud {
    state: Mutex<State>,
}

/// The outputs of a fake resource: its id and an ARN.
pub fn outputs_of(physical_id: &str) -> Outputs {
    Outputs::from([
        ("id".to_string(), physical_id.to_string()),
        ("arn".to_string(), format!("arn:fake:{physical_id}")),
    ])
}

/// Every string inside a value, through lists and maps.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Str(s) => out.push(s.clone()),
        Value::List(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Map(m) => m.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

impl FakeCloud {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Put a resource in place without a write (the state before a test). Returns its physical id.
    pub fn insert(
        &self,
        kind: &'static str,
        id: &str,
        name: &str,
        owner: Option<&str>,
        attrs: Attrs,
    ) -> String {
        let mut st = self.lock();
        let pid = st.new_id(kind);
        st.resources.insert(
            pid.clone(),
            Resource {
                kind,
                id: id.to_string(),
                name: name.to_string(),
                owner: owner.map(str::to_string),
                attrs,
            },
        );
        pid
    }

    pub fn resources(&self) -> BTreeMap<String, Resource> {
        self.lock().resources.clone()
    }

    pub fn get(&self, physical_id: &str) -> Option<Resource> {
        self.lock().resources.get(physical_id).cloned()
    }

    /// Resources carrying `stack`'s ownership tag.
    pub fn owned_by(&self, stack: &str) -> BTreeMap<String, Resource> {
        self.lock()
            .resources
            .iter()
            .filter(|(_, r)| r.owner.as_deref() == Some(stack))
            .map(|(p, r)| (p.clone(), r.clone()))
            .collect()
    }

    /// Physical ids of the live resources of `stack` with logical id `id`.
    pub fn find(&self, stack: &str, id: &str) -> Vec<String> {
        self.owned_by(stack)
            .into_iter()
            .filter(|(_, r)| r.id == id)
            .map(|(p, _)| p)
            .collect()
    }

    pub fn log(&self) -> Vec<Write> {
        self.lock().log.clone()
    }

    /// Fail the `k`-th write from now on (0 is the next one).
    pub fn fail_write(&self, k: usize) {
        let mut st = self.lock();
        st.fail_at = Some(st.log.len() + k);
    }

    /// Fail every write to the node or resource with logical id `id`.
    pub fn fail_writes_to(&self, id: &str) {
        self.lock().fail_ids.insert(id.to_string());
    }

    /// Clear the faults. Returns whether a `fail_write` fault was hit.
    pub fn clear_faults(&self) -> bool {
        let mut st = self.lock();
        let hit = st.fail_at.is_some_and(|k| k < st.log.len());
        st.fail_at = None;
        st.fail_ids.clear();
        hit
    }

    /// What `Kind::discover` reports: everything of `kind` owned by the stack, plus resources of
    /// `kind` that lack its tag but carry a desired node's name (`owned: false`).
    pub fn discover(
        &self,
        kind: &'static str,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Vec<Observed> {
        let st = self.lock();
        let mut out = Vec::new();
        for (pid, r) in st.resources.iter().filter(|(_, r)| r.kind == kind) {
            let (id, owned) = if r.owner.as_deref() == Some(stack.name.as_str()) {
                (r.id.clone(), true)
            } else if let Some(n) = desired.iter().find(|n| n.name == r.name) {
                (n.id.clone(), false)
            } else {
                continue;
            };
            out.push(Observed {
                id,
                kind,
                physical_id: pid.clone(),
                name: r.name.clone(),
                attrs: r.attrs.clone(),
                outputs: outputs_of(pid),
                owned,
            });
        }
        out
    }

    pub fn create(
        &self,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let mut st = self.lock();
        let taken = st
            .resources
            .iter()
            .find(|(_, r)| r.kind == node.kind && r.name == node.name)
            .map(|(p, _)| p.clone());
        let res = match taken {
            Some(p) => Err(format!("{} {} already exists as {p}", node.kind, node.name)),
            None => Ok(()),
        };
        let pid = st.new_id(node.kind);
        st.write(Op::Create, node.kind, &node.id, &pid, res)?;
        st.resources.insert(
            pid.clone(),
            Resource {
                kind: node.kind,
                id: node.id.clone(),
                name: node.name.clone(),
                owner: Some(stack.name.clone()),
                attrs: attrs.clone(),
            },
        );
        Ok(outputs_of(&pid))
    }

    /// Sets the `changed` attributes to their values in `attrs`.
    pub fn update(
        &self,
        current: &Observed,
        attrs: &Attrs,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        let mut st = self.lock();
        let pid = &current.physical_id;
        let res = if st.resources.contains_key(pid) {
            Ok(())
        } else {
            Err(format!("{} {pid} not found", current.kind))
        };
        st.write(Op::Update, current.kind, &current.id, pid, res)?;
        let r = st.resources.get_mut(pid).expect("checked above");
        for k in changed {
            match attrs.get(k) {
                Some(v) => r.attrs.insert(k.clone(), v.clone()),
                None => r.attrs.remove(k),
            };
        }
        Ok(outputs_of(pid))
    }

    /// Deletes; a resource already gone counts as deleted. Refuses while another live resource's
    /// attributes hold this one's id or outputs.
    pub fn delete(&self, current: &Observed) -> Result<(), BoxError> {
        let mut st = self.lock();
        let pid = &current.physical_id;
        let handles: HashSet<String> = outputs_of(pid).into_values().collect();
        let user = st.resources.iter().find(|(p, r)| {
            let mut s = Vec::new();
            r.attrs.values().for_each(|v| strings(v, &mut s));
            *p != pid && s.iter().any(|s| handles.contains(s))
        });
        let res = match user {
            Some((p, r)) => Err(format!(
                "DependencyViolation: {} {pid} is in use by {} {p} ({})",
                current.kind, r.kind, r.id
            )),
            None => Ok(()),
        };
        st.write(Op::Delete, current.kind, &current.id, pid, res)?;
        st.resources.remove(pid);
        Ok(())
    }
}

impl State {
    fn new_id(&mut self, kind: &str) -> String {
        self.next += 1;
        format!("{}-{:06}", kind.trim_start_matches("fake_"), self.next)
    }

    /// Log a write attempt; an injected fault fails it before `res` (the outcome of the fake's
    /// own checks) is looked at.
    fn write(
        &mut self,
        op: Op,
        kind: &'static str,
        id: &str,
        pid: &str,
        res: Result<(), String>,
    ) -> Result<(), BoxError> {
        let n = self.log.len();
        let res = if self.fail_at == Some(n) || self.fail_ids.contains(id) {
            Err(format!("injected fault: {op:?} {kind}.{id}"))
        } else {
            res
        };
        self.log.push(Write {
            op,
            kind,
            id: id.to_string(),
            physical_id: pid.to_string(),
            error: res.clone().err(),
        });
        res.map_err(Into::into)
    }
}

/// A fake kind. It ignores the model: its desired nodes are the ones of its kind in `nodes`.
pub struct FakeKind {
    pub name: &'static str,
    pub depends_on: &'static [&'static str],
    pub nodes: Vec<Node>,
    /// A global kind (like Route 53): its resources name their region in attribute `region`.
    pub global: bool,
}

/// What the fake kinds lower from: regions, service names and tags, no spec.
#[derive(Clone, Debug)]
pub struct FakeSpec {
    pub regions: Vec<String>,
    pub services: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// A view of a `FakeSpec`: which region (and service) a kind lowers for.
#[derive(Clone, Copy, Debug)]
pub struct FakeView<'a> {
    pub region: &'a str,
    pub service: Option<&'a str>,
}

impl Spec for FakeSpec {
    type View<'a> = FakeView<'a>;

    fn regions(&self) -> &[String] {
        &self.regions
    }

    fn services(&self) -> Vec<String> {
        self.services.clone()
    }

    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    fn view<'a>(&'a self, region: &'a str, service: Option<&'a str>) -> FakeView<'a> {
        FakeView { region, service }
    }
}

impl Cloud for FakeCloud {
    type Spec = FakeSpec;
}

#[async_trait]
impl Kind<FakeCloud> for FakeKind {
    fn name(&self) -> &'static str {
        self.name
    }

    fn depends_on(&self) -> &'static [&'static str] {
        self.depends_on
    }

    fn global(&self) -> bool {
        self.global
    }

    fn region_of(&self, o: &Observed) -> Option<String> {
        let r = o.attrs.get("region")?.as_str()?;
        self.global.then(|| r.to_string())
    }

    fn desired(&self, _view: &FakeView<'_>) -> Vec<Node> {
        self.nodes
            .iter()
            .filter(|n| n.kind == self.name)
            .cloned()
            .collect()
    }

    async fn discover(
        &self,
        ctx: &FakeCloud,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        Ok(ctx.discover(self.name, stack, desired))
    }

    async fn create(
        &self,
        ctx: &FakeCloud,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        ctx.create(stack, node, attrs)
    }

    async fn update(
        &self,
        ctx: &FakeCloud,
        _stack: &StackRef,
        _node: &Node,
        attrs: &Attrs,
        current: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        ctx.update(current, attrs, changed)
    }

    async fn delete(&self, ctx: &FakeCloud, current: &Observed) -> Result<(), BoxError> {
        ctx.delete(current)
    }
}

/// Three fake kinds: `fake_app` depends on `fake_sg`, which depends on `fake_net`.
pub const NET: &str = "fake_net";
pub const SG: &str = "fake_sg";
pub const APP: &str = "fake_app";
/// In dependency order: a kind may refer to itself and to the kinds before it.
pub const KINDS: [&str; 3] = [NET, SG, APP];

/// The fake kinds, desiring `nodes`.
pub fn kinds(nodes: &[Node]) -> Vec<Box<dyn Kind<FakeCloud>>> {
    let deps: [&'static [&'static str]; 3] = [&[], &[NET], &[SG]];
    KINDS
        .iter()
        .zip(deps)
        .map(|(&name, depends_on)| {
            Box::new(FakeKind {
                name,
                depends_on,
                nodes: nodes.to_vec(),
                global: false,
            }) as Box<dyn Kind<FakeCloud>>
        })
        .collect()
}

pub const STACK: &str = "st";

pub fn stack() -> StackRef {
    StackRef {
        name: STACK.into(),
        region: "us-east-1".into(),
        tags: BTreeMap::new(),
    }
}

/// The spec of the stack: one region, one service, no tags.
pub fn model() -> &'static FakeSpec {
    static SPEC: OnceLock<FakeSpec> = OnceLock::new();
    SPEC.get_or_init(|| FakeSpec {
        regions: vec![stack().region],
        services: vec![STACK.into()],
        tags: BTreeMap::new(),
    })
}

/// Plan `nodes` (`None`: destroy) against the fake cloud.
pub async fn plan_nodes(cloud: &FakeCloud, nodes: Option<&[Node]>) -> Result<Plan, PlanError> {
    let kinds = kinds(nodes.unwrap_or_default());
    let scopes = Scopes::one(&stack().region, cloud);
    plan(&kinds, &scopes, &stack(), nodes.map(|_| model())).await
}

/// Apply a plan of `plan_nodes`.
pub async fn apply_plan(cloud: &FakeCloud, p: &Plan) -> ApplyResult {
    apply(&kinds(&[]), &Scopes::one(&stack().region, cloud), p, &Quiet).await
}

/// Plan and apply `nodes` (`None`: destroy); the plan must succeed.
pub async fn converge(cloud: &FakeCloud, nodes: Option<&[Node]>) -> (Plan, ApplyResult) {
    let p = plan_nodes(cloud, nodes).await.expect("plan");
    let r = apply_plan(cloud, &p).await;
    (p, r)
}

/// A reporter that reports nothing.
pub struct Quiet;

impl Reporter for Quiet {
    fn started(&self, _: &Change, _: Step) {}
    fn finished(&self, _: &Change, _: Step, _: std::time::Duration, _: &str) {}
    fn failed(&self, _: &Change, _: Step, _: &str) {}
    fn skipped(&self, _: &Change, _: Step, _: &str) {}
}
