//! The resource model: what a kind of AWS resource must be able to do for the engine.
//!
//! The engine is generic over the client context `C`, so it never sees an AWS SDK type, and
//! over what the kinds of that context lower from (`Cloud::Spec`), so it never sees the spec.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use super::value::{Attrs, Outputs, Value};

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Changes a resource's tags in place: sets `set` (new keys and changed values), removes the
/// keys `remove`, and leaves every other tag (ballast's ownership tags among them) as it is.
pub type Retag<C> = for<'a> fn(
    &'a C,
    &'a Observed,
    &'a BTreeMap<String, String>,
    &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>>;

/// What kinds lower from, as the engine sees it: the regions and services of a stack, its
/// tags, and a view of it for one region (and one service).
pub trait Spec: Sync {
    /// What one kind lowers from: the stack-wide spec, one region and, for a per-service
    /// lowering, one service.
    type View<'a>: Sync
    where
        Self: 'a;

    /// Every region of the stack, the primary first.
    fn regions(&self) -> &[String];

    /// The stack's services, by name, in a stable order.
    fn services(&self) -> Vec<String>;

    /// The user's tags on every resource whose kind can retag (`Kind::retag`).
    fn tags(&self) -> &BTreeMap<String, String>;

    /// The view for `region` (one of `regions`; the primary for global kinds) and, for a
    /// per-service lowering, `service` (one of `services`).
    fn view<'a>(&'a self, region: &'a str, service: Option<&'a str>) -> Self::View<'a>;
}

/// A client context, and the spec its kinds lower from.
pub trait Cloud: Sync {
    type Spec: Spec;
}

/// The view kinds of `C` lower from.
pub type ViewOf<'a, C> = <<C as Cloud>::Spec as Spec>::View<'a>;

/// Which stack a discovery is for. Destroy by `--stack NAME` only knows this much.
#[derive(Clone, Debug)]
pub struct StackRef {
    pub name: String,
    pub region: String,
    /// User tags for every created resource (empty when only destroying).
    pub tags: std::collections::BTreeMap<String, String>,
}

/// The scope of resources that are not regional (Route 53 health checks and records, the
/// fallback page's S3 bucket and its CloudFront distribution).
pub const GLOBAL: &str = "global";

/// `reference` as seen from a node in `scope`: a reference without a scope (`alb`) means the
/// node of that id in the same scope; a scoped one (`us-west-2/alb`) is kept as it is.
pub fn qualify(scope: &str, reference: &str) -> String {
    if scope.is_empty() || reference.contains('/') {
        reference.to_string()
    } else {
        format!("{scope}/{reference}")
    }
}

/// The client context of every scope a plan spans: one per region, and the primary region's
/// for the global scope (Route 53 is global; any region's clients reach it).
pub struct Scopes<'a, C> {
    pub primary: String,
    pub regions: BTreeMap<String, &'a C>,
}

impl<'a, C> Scopes<'a, C> {
    /// One region.
    pub fn one(region: &str, ctx: &'a C) -> Self {
        Scopes {
            primary: region.to_string(),
            regions: BTreeMap::from([(region.to_string(), ctx)]),
        }
    }

    /// The context of `scope` (a region, or `GLOBAL`).
    pub fn ctx(&self, scope: &str) -> Option<&'a C> {
        let region = if scope == GLOBAL {
            &self.primary
        } else {
            scope
        };
        self.regions.get(region).copied()
    }

    /// The region calls for `scope` go to.
    pub fn region_of<'s>(&'s self, scope: &'s str) -> &'s str {
        if scope == GLOBAL {
            &self.primary
        } else {
            scope
        }
    }

    /// The regions in plan order: the primary first.
    pub fn ordered(&self) -> Vec<String> {
        let mut out = vec![self.primary.clone()];
        out.extend(self.regions.keys().filter(|r| **r != self.primary).cloned());
        out
    }
}

/// One desired resource, lowered from the spec by its kind.
#[derive(Clone, Debug)]
pub struct Node {
    /// Logical id, unique in its scope, e.g. `vpc`, `subnet.us-east-1a`. Stored in the
    /// `ballast:resource` tag, so the node is found again after the spec changed.
    pub id: String,
    /// The region the node lives in, or `GLOBAL`; set by the engine (kinds leave it empty).
    /// References without a scope point into the node's own scope.
    pub scope: String,
    pub kind: &'static str,
    /// Deterministic physical name (or `Name` tag for EC2).
    pub name: String,
    pub attrs: Attrs,
    /// Attributes that cannot change in place: a change to one of them replaces the resource.
    pub force_new: &'static [&'static str],
    /// Attributes whose drift is shown as a note but never reset (e.g. an autoscaled count).
    pub ignore_drift: Vec<(&'static str, String)>,
    /// Nodes that must exist first even though no attribute refers to them.
    pub after: Vec<String>,
    /// Whether an in-place update changes this node's outputs (a task definition revision does).
    pub outputs_change_on_update: bool,
    /// Inputs the kind needs that are neither compared nor shown (a page's content, whose hash
    /// is an attribute).
    pub data: Outputs,
}

impl Node {
    pub fn new(kind: &'static str, id: impl Into<String>, name: impl Into<String>) -> Self {
        Node {
            id: id.into(),
            scope: String::new(),
            kind,
            name: name.into(),
            attrs: Attrs::new(),
            force_new: &[],
            ignore_drift: Vec::new(),
            after: Vec::new(),
            outputs_change_on_update: false,
            data: Outputs::new(),
        }
    }

    pub fn attr(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.attrs.insert(key.to_string(), v.into());
        self
    }

    pub fn force_new(mut self, keys: &'static [&'static str]) -> Self {
        self.force_new = keys;
        self
    }

    pub fn after(mut self, id: impl Into<String>) -> Self {
        self.after.push(id.into());
        self
    }

    pub fn after_all(mut self, ids: impl IntoIterator<Item = String>) -> Self {
        self.after.extend(ids);
        self
    }

    /// Every node this one depends on: references in attributes plus `after`.
    pub fn deps(&self) -> Vec<String> {
        let mut refs = Vec::new();
        self.attrs.values().for_each(|v| v.refs(&mut refs));
        let mut deps: Vec<String> = refs.into_iter().map(str::to_string).collect();
        deps.extend(self.after.iter().cloned());
        deps.sort();
        deps.dedup();
        deps
    }

    /// Every node this one depends on, as engine keys (`scope/id`).
    pub fn dep_keys(&self) -> Vec<String> {
        self.deps()
            .iter()
            .map(|d| qualify(&self.scope, d))
            .collect()
    }

    /// The node's key in a plan: `scope/id` (just `id` when no scope is set).
    pub fn key(&self) -> String {
        qualify(&self.scope, &self.id)
    }

    pub fn address(&self) -> String {
        format!("{}.{}", self.kind, self.id)
    }
}

/// A resource as AWS reports it, normalized to the same attribute keys as its `Node`.
#[derive(Clone, Debug)]
pub struct Observed {
    pub id: String,
    pub kind: &'static str,
    /// Resource id or ARN: what delete and update calls need.
    pub physical_id: String,
    pub name: String,
    pub attrs: Attrs,
    pub outputs: Outputs,
    /// Carries this stack's ownership tag. Foreign look-alikes are reported, never touched.
    pub owned: bool,
}

impl Observed {
    pub fn address(&self) -> String {
        format!("{}.{}", self.kind, self.id)
    }
}

/// What IAM must allow for a kind: `read` on every resource (discovery runs for every kind,
/// and AWS scopes few reads), `write` on `arns` (templates with `{region}` and `{name}`, the
/// node's region and name; none: every resource) and `write_any` on every resource (creates
/// and calls IAM cannot scope to a name).
#[derive(Clone, Copy, Debug, Default)]
pub struct Iam {
    pub read: &'static [&'static str],
    pub write: &'static [&'static str],
    pub write_any: &'static [&'static str],
    pub arns: &'static [&'static str],
}

/// One kind of AWS resource. Implementations live in `src/resources/<kind>.rs`, are listed once
/// in the registry, and never print: they return values and errors.
#[async_trait]
pub trait Kind<C: Cloud>: Send + Sync {
    /// Terraform-style type name, e.g. `aws_vpc`.
    fn name(&self) -> &'static str;

    /// Kinds whose resources this kind's resources may refer to (debug builds check every
    /// node's references against it). Deletion follows the references observed between
    /// resources and falls back on the reverse of this order where they show nothing, also for
    /// resources no longer in the spec (see `apply::delete_order`).
    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    /// The kinds of `depends_on` that must exist before this kind's resources are made but
    /// need not outlive them: on delete they do not wait for this kind (through it), and a
    /// reference to them observed in this kind's attributes does not order the deletes either.
    /// A service needs its listener and rollback alarms when it is created; deleted, it drains
    /// without them, so the load balancer goes while the service drains.
    fn made_after(&self) -> &'static [&'static str] {
        &[]
    }

    /// Global kinds (Route 53) are lowered once (from the primary region's view) and discovered
    /// once; regional kinds are lowered and discovered per region.
    fn global(&self) -> bool {
        false
    }

    /// For a global resource that belongs to one region of the stack (a health check of that
    /// region's load balancer): that region. A plan must discover every region its global
    /// resources name, so a region removed from the spec is found again and destroyed.
    fn region_of(&self, _observed: &Observed) -> Option<String> {
        None
    }

    /// For a kind whose resources carry the spec's `tags:`: how to change them in place. The
    /// engine then gives every node a `tags` attribute (the user's tags, ownership tags left
    /// out), the kind's discovery must read it back (`Ownership::tags`), and a change to it is
    /// applied by this function, never by `update` or a replacement.
    fn retag(&self) -> Option<Retag<C>> {
        None
    }

    /// The IAM actions this kind calls (and those AWS checks besides, such as tagging on
    /// create), for `ballast iam-policy`.
    fn iam(&self) -> Iam {
        Iam::default()
    }

    /// Lower the stack-wide view (one region, no service) into desired nodes of this kind
    /// (none is fine).
    fn desired(&self, _view: &ViewOf<'_, C>) -> Vec<Node> {
        Vec::new()
    }

    /// Lower one service's view (one region, one service) into desired nodes of this kind:
    /// called once per (region, service) for a regional kind, once per service for a global
    /// one. None is fine (the default).
    fn service_desired(&self, _view: &ViewOf<'_, C>) -> Vec<Node> {
        Vec::new()
    }

    /// Everything of this kind that carries the stack's ownership tag, plus same-named
    /// resources among `desired` that lack it (returned with `owned: false`).
    async fn discover(
        &self,
        ctx: &C,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError>;

    /// Discovery finds each resource of this kind by its own name or id, never through a
    /// listing that can lag behind creates and deletes: reading one's own writes has nothing
    /// to wait for, and `listed` is never called.
    fn found_by_name(&self) -> bool {
        false
    }

    /// Read your own writes (`engine::unsettled`, `engine::remaining`): what this kind's
    /// discovery would find now through its listing, read as cheaply as the kind can: the
    /// listing alone, without the reads that fill attributes and tags. Each result needs its
    /// `id` (logical: where a listing does not carry it, the `desired` node of that name),
    /// `physical_id` and `owned` (where a listing does not say, a name AWS keeps unique that
    /// this run created or deleted counts as owned). `known`: the attributes, references
    /// resolved, of what the run created and deleted of this kind. Default: a whole discovery.
    async fn listed(
        &self,
        ctx: &C,
        stack: &StackRef,
        desired: &[&Node],
        _known: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        self.discover(ctx, stack, desired).await
    }

    /// Checks against AWS that validation alone cannot make (e.g. existing subnets span 2 AZs).
    async fn preflight(&self, _ctx: &C, _view: &ViewOf<'_, C>) -> Result<(), BoxError> {
        Ok(())
    }

    async fn create(
        &self,
        ctx: &C,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError>;

    /// Settings of a resource just created that nothing made after it needs at once (a VPC's
    /// DNS attributes): applied once `create` returned, beside the creates that depend on it, so
    /// they add no round trip to the deploy. A failure fails the resource (what depends on it
    /// may be made already; the next deploy reads the setting back and sets it). Not called
    /// for updates: `update` sets what changed. Default: nothing.
    async fn finish(
        &self,
        _ctx: &C,
        _stack: &StackRef,
        _node: &Node,
        _attrs: &Attrs,
        _outputs: &Outputs,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    /// Apply `changed` attributes in place. Returns the (possibly new) outputs.
    async fn update(
        &self,
        ctx: &C,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
        current: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError>;

    async fn delete(&self, ctx: &C, current: &Observed) -> Result<(), BoxError>;
}

/// A problem found while planning that stops the plan.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub address: String,
    pub physical_id: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} already exists as {} but does not carry this stack's ownership tag",
            self.address, self.physical_id
        )
    }
}
