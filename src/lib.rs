//! ballast: plan and apply a resilient web-service stack on AWS from one YAML file.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod error;
pub mod inspect;
pub mod render;
pub mod resources;
pub mod spec;
pub mod text;

#[cfg(test)]
mod layers;
