//! `regions:` and `dns:`: two regions with Route 53 failover between them, checked and lowered
//! into the `Model` with the defaults filled in.
//!
//! The invariants the resource kinds rely on: `regions` has one or two entries, the primary
//! first; `dns` is `Some` whenever there are two (and may be with one); a two-region stack creates its own network
//! and serves HTTP (certificates and VPCs are regional).

use std::collections::HashSet;
use std::path::Path;

use super::error::Issues;
use super::limits::{acm_arn_region, is_acm_arn, range};
use super::model::*;
use super::names::Names;
use super::types::*;
use super::validate::check_region_name;

/// Route 53 failover pairs two records: a primary and a secondary region.
const MAX_REGIONS: usize = 2;
/// Route 53 checks every 10 or every 30 seconds.
const HEALTH_CHECK_INTERVALS: &[u32] = &[10, 30];
/// Route 53's longest health check `ResourcePath`.
const MAX_HEALTH_CHECK_PATH: usize = 255;
const MAX_DNS_NAME: usize = 253;
const MAX_DNS_LABEL: usize = 63;
/// CloudFront uses ACM certificates of us-east-1 only.
const CLOUDFRONT_CERTIFICATE_REGION: &str = "us-east-1";

/// `regions:` (the one-region form is `validate::one_region`): the primary and every region.
/// `--region` must be one of them and selects, it overrides nothing.
pub(super) fn check_regions(
    spec: &Spec,
    list: &S<Vec<S<String>>>,
    region_override: Option<&str>,
    issues: &mut Issues,
) -> (String, Vec<String>) {
    if let Some(r) = &spec.region {
        issues.push(
            &r.referenced,
            "`region` and `regions` cannot both be set",
            "remove this",
            Some("`regions` lists every region of the stack, the primary first".into()),
        );
    }
    if list.value.is_empty() {
        issues.push(
            &list.referenced,
            "`regions` is empty",
            "no region",
            Some("list one or two regions, the primary first, e.g. [us-east-1, us-west-2]".into()),
        );
    }
    let mut seen = HashSet::new();
    for (i, r) in list.value.iter().enumerate() {
        check_region_name(r, issues);
        if !seen.insert(r.value.as_str()) {
            issues.push(
                &r.referenced,
                format!("region `{}` is listed twice", r.value),
                "duplicate",
                Some("failing over to the same region protects from nothing".into()),
            );
        }
        if i == MAX_REGIONS {
            issues.push(
                &r.referenced,
                format!(
                    "Route 53 failover pairs two regions: {} given",
                    list.value.len()
                ),
                "one region too many",
                Some("list a primary and a secondary region".into()),
            );
        }
    }
    let regions: Vec<String> = list.value.iter().map(|r| r.value.clone()).collect();
    if let Some(o) = region_override {
        if !regions.iter().any(|r| r == o) && !regions.is_empty() {
            issues.push(
                &list.referenced,
                format!(
                    "--region {o} is not one of the stack's regions [{}]",
                    regions.join(", ")
                ),
                "the stack's regions",
                Some(format!(
                    "pass one of them, or leave --region out for the primary ({})",
                    regions[0]
                )),
            );
        }
    }
    let primary = regions.first().cloned().unwrap_or_default();
    (primary, regions)
}

/// What two regions rule out: an existing network (its ids are regional).
pub(super) fn check_two_regions(spec: &Spec, regions: &[String], issues: &mut Issues) {
    if regions.len() < 2 {
        return;
    }
    if let Some(e) = spec.network.as_ref().and_then(|n| n.existing.as_ref()) {
        issues.push(
            &e.vpc_id.referenced,
            "`network: existing` cannot be used with two regions",
            "VPC and subnet ids are regional",
            Some(
                "remove `network: existing`: ballast then creates a network in each region".into(),
            ),
        );
    }
}

/// `dns:`, required by two regions. With one region the record fails over from the region to
/// the fallback page (or is a lone PRIMARY with its health check, without one).
pub(super) fn check_dns(
    spec: &Spec,
    file: &str,
    regions: &[String],
    lb: &LoadBalancerModel,
    issues: &mut Issues,
) -> Option<DnsModel> {
    let Some(dns) = &spec.dns else {
        if let (Some(list), true) = (&spec.regions, regions.len() >= 2) {
            issues.push(
                &list.referenced,
                "two regions need `dns:`",
                "no failover between these",
                Some("the second region only helps when DNS fails over to it, and ballast finds a removed region again through its Route 53 health checks: add `dns: {zone: example.com, name: shop.example.com}`".into()),
            );
        }
        return None;
    };
    let d = &dns.value;
    let (zone, zone_id, zone_name) = check_zone(&d.zone, issues);
    let name = check_name(spec, d, zone_name.as_deref(), issues);
    let health_check = check_health_check(spec, &d.health_check, lb, issues);
    let fallback = d.fallback.as_ref().and_then(|f| {
        check_bucket_name(&d.name, &name, issues);
        let certificate_arn = f
            .certificate_arn
            .as_ref()
            .map(|a| check_cloudfront_certificate(a, &name, issues));
        check_page(&f.page, file, issues).map(|p| FallbackModel {
            certificate_arn,
            protect: spec.protect.unwrap_or(false),
            ..p
        })
    });
    Some(DnsModel {
        zone,
        zone_id,
        zone_name,
        name,
        health_check,
        fallback,
    })
}

/// A Route 53 hosted zone id: `Z` and up to 31 uppercase letters and digits.
pub fn is_zone_id(s: &str) -> bool {
    s.len() >= 2
        && s.len() <= 32
        && s.starts_with('Z')
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// `dns.zone`: (zone, zone_id, zone_name), exactly one of the last two `Some`.
fn check_zone(z: &S<String>, issues: &mut Issues) -> (String, Option<String>, Option<String>) {
    let raw = z.value.trim();
    let id = raw.strip_prefix("/hostedzone/").unwrap_or(raw);
    if is_zone_id(id) {
        return (id.to_string(), Some(id.to_string()), None);
    }
    let name = normalize(raw);
    let looks_like_id = !name.contains('.')
        && name.starts_with('z')
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    let why = if looks_like_id {
        Some("not a hosted zone id".to_string())
    } else {
        dns_name_problem(&name).or_else(|| {
            (!name.contains('.')).then(|| "a public hosted zone has at least two labels".into())
        })
    };
    if let Some(why) = why {
        issues.push(
            &z.referenced,
            format!("`{}` is not a hosted zone: {why}", z.value),
            "not a zone name or id",
            Some(
                "give the zone's name (`example.com`) or its id (`Z0123456789ABC`: Z and uppercase letters and digits)"
                    .into(),
            ),
        );
        // No zone to check `dns.name` against.
        return (name, None, None);
    }
    (name.clone(), None, Some(name))
}

/// `dns.name`: a valid name inside the zone, not a wildcard, with room for the failover record.
fn check_name(spec: &Spec, d: &Dns, zone_name: Option<&str>, issues: &mut Issues) -> String {
    let at = &d.name.referenced;
    let name = normalize(&d.name.value);
    if name.contains('*') {
        issues.push(
            at,
            format!("`{}` is a wildcard", d.name.value),
            "wildcard",
            Some(
                "failover records serve one name: write the name users resolve, e.g. shop.example.com"
                    .into(),
            ),
        );
        return name;
    }
    if let Some(why) = dns_name_problem(&name) {
        issues.push(
            at,
            format!("`{}` is not a valid DNS name: {why}", d.name.value),
            "not a DNS name",
            Some("labels of 1 to 63 letters, digits and dashes, separated by dots".into()),
        );
        return name;
    }
    if let Some(zone) = zone_name {
        if name != zone && !name.ends_with(&format!(".{zone}")) {
            issues.push(
                at,
                format!("`{name}` is not in the zone {zone}"),
                "outside the zone",
                Some(format!("use {zone} itself or a name that ends in .{zone}")),
            );
        }
    }
    let failover = Names::new(&spec.name.value, "").secondary_record(&name);
    if failover.len() > MAX_DNS_NAME {
        issues.push(
            at,
            format!(
                "dns.name is too long for the failover record `{}-failover.<name>`",
                spec.name.value
            ),
            format!(
                "{} characters, at most {}",
                name.len(),
                MAX_DNS_NAME.saturating_sub(failover.len() - name.len())
            ),
            Some(format!("DNS names have at most {MAX_DNS_NAME} characters; Route 53 failover pairs two records, so ballast chains the secondary region and the fallback page under `<stack>-failover.<name>`")),
        );
    }
    name
}

/// With a fallback page, `dns.name` is also the S3 website bucket's name (S3 picks the bucket by
/// the Host header).
fn check_bucket_name(at: &S<String>, name: &str, issues: &mut Issues) {
    let why = if name.len() < 3 || name.len() > 63 {
        Some(format!("{} characters, at most 63", name.len()))
    } else if name.split('.').count() == 4 && name.split('.').all(|l| l.parse::<u8>().is_ok()) {
        Some("an IP address".into())
    } else if name.starts_with("xn--") || name.starts_with("sthree-") {
        Some("S3 reserves the prefix".into())
    } else if name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        Some("S3 reserves the suffix".into())
    } else {
        None
    };
    if let Some(why) = why {
        issues.push(
            &at.referenced,
            format!("dns.name cannot name the fallback bucket: {why}"),
            "not an S3 bucket name",
            Some("S3 serves a website only from a bucket named like the host it serves (3 to 63 characters): use a shorter `dns.name`, or remove `fallback`".into()),
        );
    }
}

/// `dns.fallback.certificate_arn`: an ACM certificate ARN (checked like
/// `load_balancer.certificate_arn`) in us-east-1, the only region CloudFront takes certificates
/// from. Whether it covers `dns.name` is only known to ACM (CloudFront refuses it otherwise).
fn check_cloudfront_certificate(arn: &S<String>, name: &str, issues: &mut Issues) -> String {
    if !is_acm_arn(&arn.value) {
        issues.push(
            &arn.referenced,
            "certificate_arn is not an ACM certificate ARN",
            "expected arn:aws:acm:…",
            None,
        );
        return arn.value.clone();
    }
    let region = acm_arn_region(&arn.value).unwrap_or_default();
    if region != CLOUDFRONT_CERTIFICATE_REGION {
        let shown = if region.is_empty() {
            "no region"
        } else {
            region
        };
        issues.push(
            &arn.referenced,
            format!(
                "CloudFront takes certificates from {CLOUDFRONT_CERTIFICATE_REGION} only: this one is in {shown}"
            ),
            format!("a certificate in {shown}"),
            Some(format!(
                "request or import a certificate for {name} in ACM in {CLOUDFRONT_CERTIFICATE_REGION} and give its ARN \
                 (whatever the stack's regions), or remove `certificate_arn` to serve the page over HTTP from the S3 website"
            )),
        );
    }
    arn.value.clone()
}

/// `dns.health_check`, defaulting the path to the target group's.
fn check_health_check(
    spec: &Spec,
    h: &DnsHealthCheck,
    lb: &LoadBalancerModel,
    issues: &mut Issues,
) -> DnsHealthCheckModel {
    let path = match &h.path {
        Some(p) => {
            if !p.value.starts_with('/') {
                issues.push(
                    &p.referenced,
                    format!("health check path `{}` must start with /", p.value),
                    "not a path",
                    Some("e.g. /healthz".into()),
                );
            } else if p.value.len() > MAX_HEALTH_CHECK_PATH {
                issues.push(
                    &p.referenced,
                    format!(
                        "health check path is {} characters, Route 53 allows {MAX_HEALTH_CHECK_PATH}",
                        p.value.len()
                    ),
                    "too long",
                    None,
                );
            }
            p.value.clone()
        }
        None => {
            let path = lb.health_check.path.clone();
            if path.len() > MAX_HEALTH_CHECK_PATH {
                if let Some(p) = &spec.load_balancer.health_check.path {
                    issues.push(
                        &p.referenced,
                        format!(
                            "health check path is {} characters, Route 53 allows {MAX_HEALTH_CHECK_PATH}",
                            path.len()
                        ),
                        "too long for Route 53",
                        Some("`dns.health_check.path` defaults to this path: set a shorter one there".into()),
                    );
                }
            }
            path
        }
    };
    let interval = match &h.interval {
        None => 30,
        Some(i) => {
            if !HEALTH_CHECK_INTERVALS.contains(&i.value) {
                issues.push(
                    &i.referenced,
                    format!("Route 53 does not check every {} seconds", i.value),
                    "must be 10 or 30",
                    Some("10 (fast, billed higher) or 30 seconds".into()),
                );
            }
            i.value
        }
    };
    DnsHealthCheckModel {
        path,
        interval,
        failure_threshold: range(&h.failure_threshold, 3, 1, 10, "failure_threshold", issues),
    }
}

/// `dns.fallback.page`: a readable, non-empty UTF-8 file of at most `MAX_FALLBACK_PAGE` bytes,
/// relative to the spec file's directory.
fn check_page(page: &S<String>, file: &str, issues: &mut Issues) -> Option<FallbackModel> {
    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
    let path = dir.join(&page.value);
    let shown = path.display();
    let problem = match std::fs::read(&path) {
        Err(e) => Err((
            format!("cannot read the fallback page `{shown}`: {}", io_reason(&e)),
            "not readable".to_string(),
            Some("the page's path is relative to the spec file's directory".to_string()),
        )),
        Ok(bytes) if bytes.is_empty() => Err((
            format!("the fallback page `{shown}` is empty"),
            "empty page".into(),
            None,
        )),
        Ok(bytes) if bytes.len() > MAX_FALLBACK_PAGE => Err((
            format!(
                "the fallback page `{shown}` is {} bytes, at most {MAX_FALLBACK_PAGE}",
                bytes.len()
            ),
            "page too large".into(),
            Some("`ballast maintenance on` serves the same page as the load balancer's fixed response, whose body AWS caps at 1024 bytes: inline small CSS, link images".into()),
        )),
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            (
                format!("the fallback page `{shown}` is not UTF-8 text"),
                "not UTF-8".into(),
                Some("save the page as UTF-8".into()),
            )
        }),
    };
    match problem {
        Ok(body) => Some(FallbackModel {
            file: page.value.clone(),
            body,
            certificate_arn: None,
            protect: false,
        }),
        Err((message, label, help)) => {
            issues.push(&page.referenced, message, label, help);
            None
        }
    }
}

/// An I/O error without the OS error number.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => e.to_string(),
    }
}

/// Lowercase, without the trailing dot.
fn normalize(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    n.strip_suffix('.').map(str::to_string).unwrap_or(n)
}

/// Why `name` (normalized) is not a DNS host name, if it is not: at most 253 characters, labels
/// of 1 to 63 letters, digits and dashes that neither start nor end with a dash.
pub fn dns_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_DNS_NAME {
        return Some(format!("{} characters, at most {MAX_DNS_NAME}", name.len()));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Some("an empty label".into());
        }
        if label.len() > MAX_DNS_LABEL {
            return Some(format!(
                "the label `{label}` is {} characters, at most {MAX_DNS_LABEL}",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Some(format!("`{c}` in the label `{label}`"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("the label `{label}` starts or ends with a dash"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_ids() {
        assert!(is_zone_id("Z0123456789ABC"));
        assert!(is_zone_id("Z1"));
        assert!(!is_zone_id("Z"));
        assert!(!is_zone_id("z0123456789abc"));
        assert!(!is_zone_id("Z0123-456"));
        assert!(!is_zone_id(&format!("Z{}", "A".repeat(32))));
    }

    #[test]
    fn dns_names() {
        assert_eq!(dns_name_problem("shop.example.com"), None);
        assert_eq!(dns_name_problem("a-1.b2.example.com"), None);
        assert!(dns_name_problem("").is_some());
        assert!(dns_name_problem("shop..example.com").is_some());
        assert!(dns_name_problem("-shop.example.com").is_some());
        assert!(dns_name_problem("shop_1.example.com").is_some());
        assert!(dns_name_problem(&format!("{}.com", "a".repeat(64))).is_some());
        assert_eq!(dns_name_problem(&format!("{}.com", "a".repeat(63))), None);
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(dns_name_problem(&long).is_some());
    }

    #[test]
    fn acm_arn_regions() {
        use crate::spec::limits::{acm_arn_region, is_acm_arn};
        let arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
        assert!(is_acm_arn(arn));
        assert_eq!(acm_arn_region(arn), Some("us-east-1"));
        assert_eq!(
            acm_arn_region("arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc"),
            Some("cn-north-1")
        );
        assert_eq!(
            acm_arn_region("arn:aws:acm::123456789012:certificate/abc"),
            None
        );
        assert_eq!(acm_arn_region("arn:aws:acm"), None);
        assert_eq!(acm_arn_region("arn:aws:iam::123456789012:role/x"), None);
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize("Shop.Example.COM."), "shop.example.com");
        assert_eq!(normalize("example.com"), "example.com");
    }
}
