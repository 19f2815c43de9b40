//! How a public service's listener rule is prioritized: deterministically, from its own route
//! and name alone, so that adding or removing one service never moves another service's rule.
//!
//! An ALB evaluates a listener's rules by priority, lowest first (1..=50000), and the default
//! action last. A rule's priority is `band * 1000 + slot`:
//!
//! - `band` (1..=48) orders rules by how specific they are: rules with a host condition come
//!   first (bands 1..=24), rules with paths only after them (25..=48); within each half, the
//!   longer the literal start of the route's longest path (the characters before its first
//!   `*` or `?`), the earlier: `/api/admin/*` before `/api/*` before `/*`.
//! - `slot` (0..=999) is a stable hash (FNV-1a) of the service's name: two rules of one band
//!   differ by their slots. Validation refuses two services whose routes take the same
//!   priority (rename one).
//!
//! The service whose route is `path: /` alone takes the listener's default action instead of a
//! rule; without one the default action answers a fixed 404.

use super::model::RouteModel;

/// Slots per band.
const SLOTS: u32 = 1000;
/// Bands per half (with a host condition, paths only).
const HALF: u32 = 24;

/// How many characters of `path` come before its first wildcard.
fn literal_len(path: &str) -> usize {
    path.find(['*', '?']).unwrap_or(path.len())
}

/// FNV-1a, 32 bits: stable across releases and platforms (unlike `std`'s hasher).
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

impl RouteModel {
    /// The priority of the listener rule of service `service` with this route.
    pub fn priority(&self, service: &str) -> u32 {
        let literal = self.paths.iter().map(|p| literal_len(p)).max().unwrap_or(0);
        let within = HALF - 1 - (literal as u32).min(HALF - 1);
        let band = 1 + within + if self.hosts.is_empty() { HALF } else { 0 };
        band * SLOTS + fnv1a(service) % SLOTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(paths: &[&str], hosts: &[&str]) -> RouteModel {
        RouteModel {
            paths: paths.iter().map(|s| s.to_string()).collect(),
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn more_specific_routes_come_first() {
        let admin = route(&["/api/admin/*"], &[]).priority("admin");
        let api = route(&["/api/*"], &[]).priority("api");
        let all = route(&["/*"], &[]).priority("all");
        let host = route(&[], &["api.example.com"]).priority("host");
        let host_path = route(&["/v1/*"], &["api.example.com"]).priority("hp");
        assert!(host_path < host, "{host_path} {host}");
        assert!(
            host < admin && admin < api && api < all,
            "{host} {admin} {api} {all}"
        );
        for p in [admin, api, all, host, host_path] {
            assert!((1..=50_000).contains(&p), "{p}");
        }
    }

    #[test]
    fn a_priority_depends_on_its_own_route_and_name_only() {
        // Known values: a release that changed them would move every deployed rule.
        assert_eq!(
            route(&["/api/*"], &[]).priority("api"),
            43_000 + fnv1a("api") % 1000
        );
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
        assert_ne!(
            route(&["/x/*"], &[]).priority("web"),
            route(&["/x/*"], &[]).priority("api")
        );
    }
}
