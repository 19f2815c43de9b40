//! Reads that are not resource kinds: following an ECS rollout for `deploy`'s verdict
//! (`rollout`) and what `ballast status` shows (`status`). Both return data for `src/render`.

pub mod rollout;
pub mod status;
