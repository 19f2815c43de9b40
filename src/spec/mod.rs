//! YAML -> typed spec with source spans -> validated `Model`.

pub mod alarms;
mod containers;
pub mod error;
mod hardening;
mod limits;
pub mod model;
pub mod names;
mod network;
pub mod regions;
mod routing;
mod scaling;
mod service;
mod services;
pub mod types;
pub mod validate;
mod view;

pub use containers::APP;
pub use error::{Issue, SpecError};
pub use model::*;
pub use names::{Names, ServiceNames};
pub use validate::{load_file, load_str, LoadError};
pub use view::View;
