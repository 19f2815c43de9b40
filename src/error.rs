//! Top-level errors and their exit codes.

use crate::engine::PlanError;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to read {path}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write {path}")]
    WriteFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the saved plan {path} no longer applies, so nothing was changed:\n  - {}\nmake a new plan (`ballast plan ... --out {path}`) and review it",
        why.join("\n  - ")
    )]
    StalePlan { path: String, why: Vec<String> },
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("refusing to {action} without confirmation: stdin is not a terminal (pass --yes to apply non-interactively)")]
    NeedsConfirmation { action: &'static str },
    #[error("{action} cancelled")]
    Cancelled { action: &'static str },
    #[error("{failed} resource(s) failed and {skipped} were skipped; the stack is partly applied (run deploy again to converge)")]
    ApplyFailed { failed: usize, skipped: usize },
    #[error("{failed} resource(s) could not be deleted and {skipped} were skipped; the stack is partly destroyed (see why above, then run destroy again)")]
    DestroyFailed { failed: usize, skipped: usize },
    #[error("deployment {deployment_id} was rolled back: {reason}")]
    RolledBack {
        deployment_id: String,
        reason: String,
        stopped_tasks: Vec<String>,
    },
    #[error("timed out after {waited}s waiting for deployment {deployment_id} ({state}: {running}/{desired} running); it goes on in ECS: follow it with `ballast status {file}`")]
    WaitTimedOut {
        deployment_id: String,
        state: String,
        running: i32,
        desired: i32,
        waited: u64,
        file: String,
    },
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
    /// A failover drill that failed: Route 53 did not fail over, or the check stayed inverted.
    #[error("{0}")]
    Drill(String),
    #[error("{0}")]
    Usage(String),
    /// `accounts:` does not list the account the credentials act in.
    #[error("refusing to act in account {account} (as {arn}): the spec's `accounts:` allows only {}; use credentials or a --profile for one of those", allowed.join(", "))]
    WrongAccount {
        account: String,
        arn: String,
        allowed: Vec<String>,
    },
    /// Ctrl-C while holding the stack's lock (released before exiting 130).
    #[error("interrupted")]
    Interrupted,
    /// Another command holds the stack's lock (its holder, age, and what to do).
    #[error("{0}")]
    Locked(String),
    /// Something ballast will not do to what it found (not the stack's, not deployed).
    #[error("{0}")]
    Refused(String),
    #[error("failed to write output")]
    Io(#[from] std::io::Error),
}

impl From<crate::spec::LoadError> for Error {
    fn from(e: crate::spec::LoadError) -> Self {
        match e {
            crate::spec::LoadError::Read { path, source } => Error::ReadFile { path, source },
            crate::spec::LoadError::Spec(e) => Error::Spec(e),
        }
    }
}

impl Error {
    /// 3: the rollout was rolled back (circuit breaker or alarm); 4: waiting for it timed out;
    /// 130: interrupted (Ctrl-C); 1: everything else. (0 and, for `plan --detailed-exitcode`,
    /// 2 are the commands' own: `src/cli.rs` lists them all.)
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::RolledBack { .. } => 3,
            Error::WaitTimedOut { .. } => 4,
            Error::Interrupted => 130,
            _ => 1,
        }
    }
}

pub use crate::text::{chain, shorten};

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn verdicts_have_distinct_exit_codes() {
        let rolled_back = Error::RolledBack {
            deployment_id: "d".into(),
            reason: "r".into(),
            stopped_tasks: vec![],
        };
        let timed_out = Error::WaitTimedOut {
            deployment_id: "d".into(),
            state: "IN_PROGRESS".into(),
            running: 1,
            desired: 2,
            waited: 60,
            file: "web.yaml".into(),
        };
        assert_eq!(rolled_back.exit_code(), 3);
        assert_eq!(timed_out.exit_code(), 4);
        assert_eq!(Error::Usage("x".into()).exit_code(), 1);
    }
}
