//! AWS's limits and names the spec is checked against: regions, Fargate sizes, log retention,
//! image and environment sizes, ACM ARNs, and the numeric range check every section uses.

use super::error::Issues;
use super::types::*;

/// Regions ballast knows by name, for "did you mean".
pub(super) const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
];

/// CloudWatch Logs accepts only these retention periods.
pub(super) const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Memory (MiB) Fargate allows for a CPU size.
pub fn fargate_memory(cpu: u32) -> Option<Vec<u32>> {
    let range = |lo: u32, hi: u32, step: u32| (lo..=hi).step_by(step as usize).collect();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122880, 8192),
        _ => return None,
    })
}

pub(super) fn range(
    v: &Option<S<u32>>,
    default: u32,
    lo: u32,
    hi: u32,
    what: &str,
    issues: &mut Issues,
) -> u32 {
    match v {
        None => default,
        Some(s) => {
            if s.value < lo || s.value > hi {
                issues.push(
                    &s.referenced,
                    format!("{what} {} is out of range", s.value),
                    format!("must be {lo} to {hi}"),
                    None,
                );
            }
            s.value
        }
    }
}

/// What ballast checks of an ACM certificate ARN before AWS sees it (`arn:aws…:acm:…`).
pub(super) fn is_acm_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws") && arn.contains(":acm:")
}

/// The region of an ACM certificate ARN (`arn:aws:acm:<region>:<account>:certificate/<id>`),
/// if it names one.
pub(super) fn acm_arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some("acm"), Some(region)) if !region.is_empty() => Some(region),
        _ => None,
    }
}

/// ECS: an image name (registry/repository:tag) has at most 255 characters.
pub const MAX_IMAGE_CHARS: usize = 255;
/// ECS: a task definition has at most 64 KiB (service quota "task definition size"). The
/// environment and the command may use this much of it; ballast's own part (names, roles, log
/// and health check settings) stays well under the remaining 8 KiB.
pub const MAX_ENVIRONMENT_BYTES: usize = 56 * 1024;
