//! The integration tests: one binary (one link of every SDK crate instead of one per file), a
//! module per topic. scripts/test runs each module as a unit of its own (its tests by name),
//! so the tests of one module run at once and the modules of a lane one after another.
//! `tests/iam_policy.rs` is a binary of its own: it turns IAM enforcement on for the whole
//! emulator, so nothing may run beside it.

#[path = "../common/mod.rs"]
mod common;

mod account;
mod alarms;
mod autoscaling;
mod consistency;
mod docs;
mod drill;
mod duplicates;
mod ec2_capacity;
mod errors;
mod failover;
mod kill;
mod localstack;
mod lock;
mod maintenance;
mod secrets;
mod services;
mod stack;
mod throttle;
mod upgrade;
mod validate;
mod validate_alarms;
mod validate_regions;
mod validate_scaling;
mod validate_services;
