//! What the Route 53 kinds (health checks, failover records) and the fallback page share: the
//! stack's health checks, read once per discovery, and the hosted zone.
//!
//! Route 53 record sets carry no tags, and health checks have no names. ballast finds its health
//! checks by their caller reference (`ballast/<stack>/<region>/<nonce>`) and proves ownership by
//! their tags, which also name the region, the zone and the record they serve. Route 53 tags a
//! check in a second call after CreateHealthCheck: a check with no ballast tags at all whose
//! caller reference is the stack's was made by a ballast run that stopped between the two (the
//! caller reference is set once, at create, by whoever made the check), so it is the stack's
//! check for that region, with its tags still to be written (`FoundCheck::tagged` false). So a stack whose
//! spec no longer has `dns:` (or that is destroyed by name) still finds its records and its
//! fallback bucket. Records are owned when their SetIdentifier is one ballast derives from the
//! stack (`<stack>/<region>`, `<stack>/failover`, `<stack>/fallback`; stack names cannot hold
//! `/`).

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_route53::types::{ResourceTagSet, TagResourceType};

use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::StackRef;
use crate::spec::names::{TAG_RESOURCE, TAG_STACK};

/// Tags a health check carries besides the stack's and the resource's.
pub use crate::spec::names::TAG_REGION;
pub const TAG_ZONE: &str = "ballast:zone";
pub const TAG_DNS: &str = "ballast:dns";

/// One of the stack's health checks as Route 53 has it.
#[derive(Clone, Debug)]
pub struct FoundCheck {
    pub check: aws_sdk_route53::types::HealthCheck,
    /// Its tags; for a check not tagged yet, the stack, resource id and region its caller
    /// reference proves (no zone and no record).
    pub tags: BTreeMap<String, String>,
    /// Whether Route 53 has its ownership tags (false: a create stopped before tagging it).
    pub tagged: bool,
}

impl FoundCheck {
    pub fn id(&self) -> &str {
        self.check.id()
    }
    pub fn tag(&self, k: &str) -> Option<&str> {
        self.tags.get(k).map(String::as_str)
    }
}

/// The caller reference prefix of the stack's health checks.
pub fn caller_prefix(stack: &str) -> String {
    format!("ballast/{stack}/")
}

/// The region a caller reference `<prefix><region>/<nonce>` (as `HealthCheck::create` makes
/// them) was made for.
fn created_for<'a>(caller: &'a str, prefix: &str) -> Option<&'a str> {
    let (region, nonce) = caller.strip_prefix(prefix)?.split_once('/')?;
    let region_like = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (region_like && !nonce.is_empty() && nonce.chars().all(|c| c.is_ascii_digit()))
        .then_some(region)
}

/// Every health check whose caller reference names the stack and whose tags prove it is the
/// stack's (or that has no ballast tags yet, see the module's comment), read once per discovery.
pub async fn checks(c: &Clients, stack: &StackRef) -> Result<Arc<Vec<FoundCheck>>, AwsError> {
    c.shared
        .once("route53-checks", || async {
            let prefix = caller_prefix(&stack.name);
            let mut candidates = Vec::new();
            let mut marker: Option<String> = None;
            // Bounded: 100 pages of 1000 checks is far beyond the per-account quota of 200.
            for _ in 0..100 {
                let r = c
                    .route53
                    .list_health_checks()
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .ctx(|| "list health checks".to_string())?;
                candidates.extend(
                    r.health_checks()
                        .iter()
                        .filter(|h| h.caller_reference().starts_with(&prefix))
                        .cloned(),
                );
                marker = r.next_marker().map(str::to_string);
                if !r.is_truncated() || marker.is_none() {
                    break;
                }
            }
            let mut out = Vec::new();
            for chunk in candidates.chunks(10) {
                let ids: Vec<String> = chunk.iter().map(|h| h.id().to_string()).collect();
                let r = c
                    .route53
                    .list_tags_for_resources()
                    .resource_type(TagResourceType::Healthcheck)
                    .set_resource_ids(Some(ids))
                    .send()
                    .await
                    .ctx(|| "list tags of health checks".to_string())?;
                let sets: &[ResourceTagSet] = r.resource_tag_sets();
                for h in chunk {
                    let tags: BTreeMap<String, String> = sets
                        .iter()
                        .find(|s| s.resource_id() == Some(h.id()))
                        .map(|s| {
                            s.tags()
                                .iter()
                                .map(|t| {
                                    (
                                        t.key().unwrap_or_default().to_string(),
                                        t.value().unwrap_or_default().to_string(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if tags.get(TAG_STACK) == Some(&stack.name) && tags.contains_key(TAG_RESOURCE) {
                        out.push(FoundCheck {
                            check: h.clone(),
                            tags,
                            tagged: true,
                        });
                    } else if !tags.keys().any(|k| k.starts_with("ballast:")) {
                        if let Some(region) = created_for(h.caller_reference(), &prefix) {
                            out.push(FoundCheck {
                                check: h.clone(),
                                tags: BTreeMap::from([
                                    (TAG_STACK.to_string(), stack.name.clone()),
                                    (TAG_RESOURCE.to_string(), check_id(region)),
                                    (TAG_REGION.to_string(), region.to_string()),
                                ]),
                                tagged: false,
                            });
                        }
                    }
                }
            }
            Ok(out)
        })
        .await
}

/// `checks` for a discovery. A stack whose spec has no `dns:` still looks for health checks (to
/// find records and regions a changed spec left behind), but credentials without Route 53
/// permissions must not break its plans: for such a stack (`needed` false) an access-denied
/// answer counts as no health checks.
pub async fn checks_for(
    c: &Clients,
    stack: &StackRef,
    needed: bool,
) -> Result<Arc<Vec<FoundCheck>>, AwsError> {
    match checks(c, stack).await {
        Err(e) if !needed && e.kind() == crate::aws::ErrorKind::AccessDenied => {
            tracing::debug!("{e}; the spec has no dns, so no Route 53 resources are assumed");
            Ok(Arc::new(Vec::new()))
        }
        r => r,
    }
}

/// A hosted zone id without its `/hostedzone/` prefix.
pub fn bare_zone_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

/// A DNS name as ballast compares them: lowercase, without the trailing dot.
pub fn norm_name(n: &str) -> String {
    n.trim_end_matches('.').to_ascii_lowercase()
}

/// The id of the hosted zone `zone` (given by name or id), read once per discovery. ballast
/// never creates or deletes zones: a missing zone is an error.
pub async fn zone_id(c: &Clients, zone: &str) -> Result<Arc<String>, AwsError> {
    if is_zone_id(zone) {
        return Ok(Arc::new(zone.to_string()));
    }
    c.shared
        .once(&format!("route53-zone:{zone}"), || async {
            let r = c
                .route53
                .list_hosted_zones_by_name()
                .dns_name(zone)
                .max_items(5)
                .send()
                .await
                .ctx(|| format!("look up hosted zone {zone}"))?;
            let found = r
                .hosted_zones()
                .iter()
                .filter(|z| norm_name(z.name()) == norm_name(zone))
                .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
                .map(|z| bare_zone_id(z.id()).to_string())
                .next();
            found.ok_or_else(|| {
                AwsError::not_found(
                    "route53",
                    format!("look up hosted zone {zone}"),
                    format!(
                        "no public hosted zone named {zone} in this account \
                         (ballast never creates zones: create it, or give its id)"
                    ),
                )
            })
        })
        .await
}

pub fn is_zone_id(s: &str) -> bool {
    s.len() > 1
        && s.starts_with('Z')
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The logical id of a region's health check (`health_check::id`): the shared reads tag what
/// they find by it, so it lives here, below the kind.
pub fn check_id(region: &str) -> String {
    format!("health.{region}")
}

#[cfg(test)]
mod caller_reference_tests {
    use super::created_for;

    #[test]
    fn a_caller_reference_names_the_region_it_was_made_for() {
        let p = "ballast/shop/";
        assert_eq!(
            created_for("ballast/shop/us-east-1/1733030400123456789", p),
            Some("us-east-1")
        );
        // Another stack (a name that merely starts alike), another shape, no nonce.
        assert_eq!(created_for("ballast/shop-2/us-east-1/17", p), None);
        assert_eq!(created_for("ballast/shop/us-east-1/abc", p), None);
        assert_eq!(created_for("ballast/shop/us-east-1/", p), None);
        assert_eq!(created_for("ballast/shop/us-east-1", p), None);
        assert_eq!(created_for("ballast/shop//17", p), None);
        assert_eq!(created_for("ballast/shop/US-EAST-1/17", p), None);
    }
}
