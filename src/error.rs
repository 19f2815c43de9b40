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
    #[error("{0}")]
    Usage(String),
    #[error("failed to write output")]
    Io(#[from] std::io::Error),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        1
    }
}

/// An error and its causes on one line: "a: b: c".
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
