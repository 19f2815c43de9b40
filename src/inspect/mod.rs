//! Reads that are not resource kinds: following an ECS rollout for `deploy`'s verdict
//! (`rollout`), what `ballast status` shows (`status`) and what Route 53 says of a stack with
//! `dns:` (`dns`, also read by `ballast drill`). They return data for `src/render`.

pub mod dns;
pub mod rollout;
pub mod status;
