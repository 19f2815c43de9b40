//! Every kind of the registry, as AWS's eventual consistency needs it: one wrapper, so no kind
//! handles propagation itself.
//!
//! - Writes run in `Phase::Write` (calls that meet a resource AWS does not show yet wait for it:
//!   `aws::propagation`), deletes in `Phase::Delete`, discovery in `Phase::Discover`.
//! - What a create returns is remembered as this run's (an access denial naming it is
//!   propagation, not a real denial).
//! - A create that meets its own name (AlreadyExists: a listing lagged, so the plan did not see
//!   what an earlier run made seconds ago) reads the kind again by name and, when the resource
//!   found carries this stack's ownership, takes it as created; one without it is a conflict.
//! - A discovery that meets NotFound (a per-id read of an id the listing just returned: still
//!   propagating, or just deleted) is made again, a few times, before it fails.

use std::time::Duration;

use async_trait::async_trait;

use crate::aws::propagation::{self, Phase};
use crate::aws::{AwsError, Clients, ErrorKind};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef};
use crate::spec::View;

use super::DynKind;

/// `kind`, with the behaviour above.
pub fn consistent(kind: DynKind) -> DynKind {
    Box::new(Consistent(kind))
}

struct Consistent(DynKind);

fn kind_of(e: &BoxError) -> Option<ErrorKind> {
    e.downcast_ref::<AwsError>().map(AwsError::kind)
}

/// Pauses between discoveries that met NotFound.
const REDISCOVER: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(5),
];

/// A read of discovery (`read`), made again after the pauses of `REDISCOVER` while it meets
/// NotFound.
async fn again_after_not_found<T, F, Fut>(kind: &str, mut read: F) -> Result<T, BoxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, BoxError>>,
{
    let mut pauses = REDISCOVER.iter();
    loop {
        let r = propagation::during(Phase::Discover, read()).await;
        match (&r, pauses.next()) {
            (Err(e), Some(p)) if kind_of(e) == Some(ErrorKind::NotFound) => {
                tracing::debug!("discovery of {kind} met NotFound ({e}); again in {p:?}");
                tokio::time::sleep(*p).await;
            }
            _ => return r,
        }
    }
}

#[async_trait]
impl Kind<Clients> for Consistent {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn depends_on(&self) -> &'static [&'static str] {
        self.0.depends_on()
    }

    fn made_after(&self) -> &'static [&'static str] {
        self.0.made_after()
    }

    fn global(&self) -> bool {
        self.0.global()
    }

    fn region_of(&self, observed: &Observed) -> Option<String> {
        self.0.region_of(observed)
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        self.0.retag()
    }

    fn iam(&self) -> Iam {
        self.0.iam()
    }

    fn desired(&self, view: &View<'_>) -> Vec<Node> {
        self.0.desired(view)
    }

    fn service_desired(&self, view: &View<'_>) -> Vec<Node> {
        self.0.service_desired(view)
    }

    async fn discover(
        &self,
        ctx: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        again_after_not_found(self.name(), || self.0.discover(ctx, stack, desired)).await
    }

    fn found_by_name(&self) -> bool {
        self.0.found_by_name()
    }

    async fn preflight(&self, ctx: &Clients, view: &View<'_>) -> Result<(), BoxError> {
        self.0.preflight(ctx, view).await
    }

    async fn listed(
        &self,
        ctx: &Clients,
        stack: &StackRef,
        desired: &[&Node],
        known: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        again_after_not_found(self.name(), || self.0.listed(ctx, stack, desired, known)).await
    }

    async fn finish(
        &self,
        ctx: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
        outputs: &Outputs,
    ) -> Result<(), BoxError> {
        propagation::during(
            Phase::Write,
            self.0.finish(ctx, stack, node, attrs, outputs),
        )
        .await
    }

    async fn create(
        &self,
        ctx: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let r = propagation::during(Phase::Write, self.0.create(ctx, stack, node, attrs)).await;
        match r {
            Ok(out) => {
                propagation::remember(out.values().map(String::as_str));
                Ok(out)
            }
            Err(e) if kind_of(&e) == Some(ErrorKind::AlreadyExists) => {
                self.made_before(ctx, stack, node, e).await
            }
            Err(e) => Err(e),
        }
    }

    async fn update(
        &self,
        ctx: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
        current: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        propagation::during(
            Phase::Write,
            self.0.update(ctx, stack, node, attrs, current, changed),
        )
        .await
    }

    async fn delete(&self, ctx: &Clients, current: &Observed) -> Result<(), BoxError> {
        propagation::during(Phase::Delete, self.0.delete(ctx, current)).await
    }
}

impl Consistent {
    /// The create met a resource of the node's name: read the kind again, and take an owned
    /// copy of this node as the created one (a listing that lagged hid it from the plan).
    async fn made_before(
        &self,
        ctx: &Clients,
        stack: &StackRef,
        node: &Node,
        clash: BoxError,
    ) -> Result<Outputs, BoxError> {
        let mut pauses = REDISCOVER.iter();
        loop {
            let found = self.discover(ctx, stack, &[node]).await?;
            let mine = found.iter().find(|o| o.owned && o.id == node.id);
            if let Some(o) = mine {
                tracing::debug!(
                    "{} exists already as {} (made by an earlier run that AWS's listing did not show yet): taken as created",
                    node.address(),
                    o.physical_id
                );
                return Ok(o.outputs.clone());
            }
            if found.iter().any(|o| !o.owned && o.name == node.name) {
                return Err(clash);
            }
            match pauses.next() {
                Some(p) => tokio::time::sleep(*p).await,
                None => return Err(clash),
            }
        }
    }
}
