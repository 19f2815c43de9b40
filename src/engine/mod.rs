//! The engine: resources, dependency graph, diff, plan and executor. It knows nothing of AWS,
//! nor of the spec: kinds lower from views of a `Spec`.

pub mod apply;
mod duplicates;
pub mod graph;
pub mod leftovers;
pub mod plan;
pub mod policy;
pub mod resource;
pub mod settle;
pub mod value;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod scenarios;

pub use apply::{apply, ApplyResult, Recorder, Reporter, Step};
pub use leftovers::leftovers;
pub use plan::{lower, plan, Action, AttrChange, Change, Plan, PlanError, Summary, TAGS};
pub use resource::{
    qualify, BoxError, Cloud, Conflict, Iam, Kind, Node, Observed, Retag, Scopes, Spec, StackRef,
    ViewOf, GLOBAL,
};
pub use settle::{remaining, unsettled};
pub use value::{Attrs, Outputs, Value};
