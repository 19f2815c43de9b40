//! `ballast validate` on `regions:` and `dns:` (two regions with Route 53 failover): every rule
//! fails with file:line:col, a caret at the offending token and exit 1, before any AWS call.
//! Also what the rest of ballast builds on: the model per region and the Route 53 names.

use crate::common;

use ballast::spec::names::TAG_REGION;
use ballast::spec::{load_file, load_str, Model, Names, NetworkModel, View};
use common::{rejects, validate, validate_file};

/// A two-region stack (lines 1-4) followed by `rest`, which starts on line 5.
fn two(rest: &str) -> String {
    format!("name: shop\nregions: [us-east-1, us-west-2]\nservice:\n  image: nginx:1.27\n{rest}")
}

/// `dns:` on line 5 with zone (line 6) and name (line 7), then `rest` (indented 2) from line 8.
fn dns(rest: &str) -> String {
    two(&format!(
        "dns:\n  zone: example.com\n  name: shop.example.com\n{rest}"
    ))
}

/// A `dns:` with the given zone (line 6) and name (line 7).
fn zone_and_name(zone: &str, name: &str) -> String {
    two(&format!("dns:\n  zone: {zone}\n  name: {name}\n"))
}

/// `validate` on `yaml` written as `stack.yaml` beside a fallback page `page.html` of `page`.
fn with_page(yaml: &str, page: &[u8]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.html"), page).unwrap();
    let spec = dir.path().join("stack.yaml");
    std::fs::write(&spec, yaml).unwrap();
    validate_file(&spec)
}

const WITH_PAGE: &str = "  fallback:\n    page: page.html\n";

fn example() -> Model {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/failover.yaml");
    load_file(path, None).expect("stacks/failover.yaml loads")
}

#[test]
fn the_failover_example_is_valid_and_lowers_both_regions() {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/failover.yaml"));
    let (code, err) = validate_file(path);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("failover.yaml is valid"), "{err}");

    let m = example();
    assert_eq!(m.name, "shop");
    assert_eq!(m.region, "us-east-1");
    assert_eq!(m.regions, ["us-east-1", "us-west-2"]);
    assert_eq!(m.primary(), "us-east-1");
    assert_eq!(m.secondary(), Some("us-west-2"));
    assert!(m.is_primary("us-east-1") && !m.is_primary("us-west-2"));
    let d = m.dns.as_ref().expect("dns");
    assert_eq!(d.zone, "example.com");
    assert_eq!(d.zone_name.as_deref(), Some("example.com"));
    assert_eq!(d.zone_id, None);
    assert_eq!(d.name, "shop.example.com");
    assert_eq!(d.health_check.path, "/");
    assert_eq!(d.health_check.interval, 10);
    assert_eq!(d.health_check.failure_threshold, 3);
    let f = d.fallback.as_ref().expect("fallback");
    assert_eq!(f.file, "failover-maintenance.html");
    let page = include_str!("../../stacks/failover-maintenance.html");
    assert_eq!(f.body, page);
    assert!(page.len() <= 1024, "{} bytes", page.len());
}

#[test]
fn a_regional_view_moves_the_subnets_and_nothing_else() {
    let m = example();
    let e = View::new(&m, "us-east-1", None);
    let w = View::new(&m, "us-west-2", None);
    assert_eq!(w.region, "us-west-2");
    assert!(e.is_primary());
    assert!(!w.is_primary());
    assert_eq!(w.stack.primary(), "us-east-1");
    let azs = |n: &NetworkModel| match n {
        NetworkModel::Create { subnets, .. } => subnets
            .iter()
            .map(|s| (s.az.clone(), s.cidr.clone()))
            .collect::<Vec<_>>(),
        NetworkModel::Existing { .. } => panic!("existing network"),
    };
    assert_eq!(
        azs(&m.network),
        [
            ("us-east-1a".to_string(), "10.0.0.0/20".to_string()),
            ("us-east-1b".to_string(), "10.0.16.0/20".to_string())
        ]
    );
    assert_eq!(azs(&e.network), azs(&m.network));
    assert_eq!(
        azs(&w.network),
        [
            ("us-west-2a".to_string(), "10.0.0.0/20".to_string()),
            ("us-west-2b".to_string(), "10.0.16.0/20".to_string())
        ]
    );
    // Names follow the region; the service is the stack's one service in both.
    assert_eq!(w.names().execution_role(), "shop-us-west-2-exec");
    assert_eq!(e.names().execution_role(), "shop-us-east-1-exec");
    let ws = View::new(&m, "us-west-2", Some("shop"));
    assert_eq!(ws.service().image, m.services[&m.name].image);
    assert_eq!(m.services().len(), 1);
}

#[test]
fn explicit_subnets_keep_their_letters_in_the_other_region() {
    let m = load_str(
        "stack.yaml",
        &dns("network:\n  create:\n    subnets:\n      - {az: us-east-1c, cidr: 10.0.0.0/24}\n      - {az: us-east-1d, cidr: 10.0.1.0/24}\n"),
        None,
    )
    .unwrap();
    let NetworkModel::Create { subnets, .. } = &View::new(&m, "us-west-2", None).network else {
        panic!("existing network");
    };
    let azs: Vec<&str> = subnets.iter().map(|s| s.az.as_str()).collect();
    assert_eq!(azs, ["us-west-2c", "us-west-2d"]);
}

#[test]
fn route53_names() {
    let n = Names::new("shop", "us-west-2");
    assert_eq!(n.set_identifier("us-east-1"), "shop/us-east-1");
    assert_eq!(n.set_identifier("fallback"), "shop/fallback");
    assert_eq!(
        n.secondary_record("shop.example.com"),
        "shop-failover.shop.example.com"
    );
    assert_eq!(n.health_check("us-west-2"), "shop-us-west-2");
    assert_eq!(n.fallback_bucket("shop.example.com"), "shop.example.com");
    assert_eq!(TAG_REGION, "ballast:region");
}

#[test]
fn the_one_region_form_has_one_region_and_no_dns() {
    let yaml = "name: web\nregion: us-east-1\nservice:\n  image: nginx:1.27\n";
    let m = load_str("stack.yaml", yaml, None).unwrap();
    assert_eq!(m.regions, ["us-east-1"]);
    assert_eq!(m.primary(), "us-east-1");
    assert_eq!(m.secondary(), None);
    assert!(m.dns.is_none());
    // --region still overrides it, unchecked, as before.
    let m = load_str("stack.yaml", yaml, Some("eu-west-1")).unwrap();
    assert_eq!(
        (m.region.as_str(), m.regions.as_slice()),
        ("eu-west-1", &["eu-west-1".to_string()][..])
    );
    // One entry under `regions:` is the same stack.
    let m = load_str(
        "stack.yaml",
        "name: web\nregions: [us-east-1]\nservice:\n  image: nginx:1.27\n",
        None,
    )
    .unwrap();
    assert_eq!((m.region.as_str(), m.regions.len()), ("us-east-1", 1));
}

#[test]
fn region_flag_selects_one_of_the_regions_and_changes_nothing() {
    let yaml = dns("");
    let m = load_str("stack.yaml", &yaml, Some("us-west-2")).unwrap();
    assert_eq!(m.region, "us-east-1");
    assert_eq!(m.regions, ["us-east-1", "us-west-2"]);

    let err = load_str("stack.yaml", &yaml, Some("eu-west-1")).unwrap_err();
    assert_eq!(err.issues.len(), 1, "{:?}", err.issues);
    let i = &err.issues[0];
    assert_eq!(
        i.message,
        "--region eu-west-1 is not one of the stack's regions [us-east-1, us-west-2]"
    );
    assert_eq!(i.label, "the stack's regions");
    assert_eq!(
        i.help.as_deref(),
        Some("pass one of them, or leave --region out for the primary (us-east-1)")
    );
}

#[test]
fn zone_by_id_and_names_normalized() {
    let m = load_str(
        "stack.yaml",
        &zone_and_name("Z0123456789ABC", "Shop.Example.org."),
        None,
    )
    .unwrap();
    let d = m.dns.unwrap();
    assert_eq!(d.zone, "Z0123456789ABC");
    assert_eq!(d.zone_id.as_deref(), Some("Z0123456789ABC"));
    assert_eq!(d.zone_name, None);
    // By id, the zone's name is not known: any valid name passes.
    assert_eq!(d.name, "shop.example.org");
    assert!(d.fallback.is_none());

    let m = load_str(
        "stack.yaml",
        &zone_and_name("/hostedzone/Z0123456789ABC", "example.com"),
        None,
    )
    .unwrap();
    assert_eq!(m.dns.unwrap().zone_id.as_deref(), Some("Z0123456789ABC"));

    let m = load_str(
        "stack.yaml",
        &zone_and_name("Example.COM.", "example.com"),
        None,
    )
    .unwrap();
    let d = m.dns.unwrap();
    assert_eq!(
        (d.zone_name.as_deref(), d.name.as_str()),
        (Some("example.com"), "example.com")
    );
}

#[test]
fn health_check_defaults_to_the_target_groups_path() {
    let m = load_str(
        "stack.yaml",
        &dns("load_balancer:\n  health_check:\n    path: /ready\n"),
        None,
    )
    .unwrap();
    let h = m.dns.unwrap().health_check;
    assert_eq!(
        (h.path.as_str(), h.interval, h.failure_threshold),
        ("/ready", 30, 3)
    );
}

#[test]
fn a_page_beside_the_spec_of_exactly_1024_bytes_is_valid() {
    let (code, err) = with_page(&dns(WITH_PAGE), &[b'x'; 1024]);
    assert_eq!(code, 0, "{err}");
}

macro_rules! rejects {
    ($name:ident, $yaml:expr, $($needle:expr),+) => {
        #[test]
        fn $name() {
            let err = rejects(&$yaml, &[$($needle),+]);
            insta::assert_snapshot!(stringify!($name), err);
        }
    };
}

/// Like `rejects!`, with `page.html` of the given bytes beside the spec.
macro_rules! rejects_page {
    ($name:ident, $page:expr, $($needle:expr),+) => {
        #[test]
        fn $name() {
            let (code, err) = with_page(&dns(WITH_PAGE), $page);
            assert_eq!(code, 1, "{err}");
            $( assert!(err.contains($needle), "missing {:?} in:\n{err}", $needle); )+
            insta::assert_snapshot!(stringify!($name), err);
        }
    };
}

// `regions:`

rejects!(
    region_and_regions,
    "name: shop\nregion: us-east-1\nregions: [us-east-1, us-west-2]\nservice:\n  image: nginx\ndns: {zone: example.com, name: shop.example.com}\n",
    "`region` and `regions` cannot both be set",
    "stack.yaml:2:9"
);

rejects!(
    regions_empty,
    "name: shop\nregions: []\nservice:\n  image: nginx\n",
    "`regions` is empty",
    "stack.yaml:2:10"
);

rejects!(
    three_regions,
    "name: shop\nregions: [us-east-1, us-west-2, eu-west-1]\nservice:\n  image: nginx\ndns: {zone: example.com, name: shop.example.com}\n",
    "Route 53 failover pairs two regions: 3 given",
    "stack.yaml:2:33"
);

rejects!(
    region_listed_twice,
    "name: shop\nregions: [us-east-1, us-east-1]\nservice:\n  image: nginx\ndns: {zone: example.com, name: shop.example.com}\n",
    "region `us-east-1` is listed twice",
    "stack.yaml:2:22"
);

rejects!(
    region_typo_in_regions,
    "name: shop\nregions:\n  - us-east-1\n  - us-wst-2\nservice:\n  image: nginx\ndns: {zone: example.com, name: shop.example.com}\n",
    "unknown region `us-wst-2`",
    "did you mean `us-west-2`?",
    "stack.yaml:4:5"
);

rejects!(
    regions_key_typo,
    "name: shop\nregoins: [us-east-1, us-west-2]\nservice:\n  image: nginx\n",
    "unknown key `regoins`",
    "did you mean `regions`?"
);

rejects!(
    two_regions_without_dns,
    two(""),
    "two regions need `dns:`",
    "the second region only helps when DNS fails over to it"
);

#[test]
fn dns_with_one_region_is_valid() {
    let (code, out) = validate(
        "name: shop\nregion: us-east-1\nservice:\n  image: nginx\ndns:\n  zone: example.com\n  name: shop.example.com\n",
    );
    assert_eq!(code, 0, "{out}");
}

rejects!(
    existing_network_with_two_regions,
    dns("network:\n  existing:\n    vpc_id: vpc-123\n    subnet_ids: [subnet-1, subnet-2]\n"),
    "`network: existing` cannot be used with two regions",
    "VPC and subnet ids are regional",
    "stack.yaml:10:13"
);

rejects!(
    one_certificate_with_two_regions,
    dns("load_balancer:\n  certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/abc\n"),
    "a certificate is regional: a stack of two regions needs one per region",
    "stack.yaml:9:20",
    "give a map: certificate_arn: {us-east-1: arn:aws:acm:us-east-1:…"
);

rejects!(
    a_web_acl_per_region_with_two_regions,
    dns("load_balancer:\n  allow_http: true\n  waf_acl_arn:\n    us-east-1: arn:aws:wafv2:us-east-1:123456789012:regional/webacl/mine/a1\n"),
    "no web ACL for us-west-2",
    "every region's load balancer is protected, or none is"
);

rejects!(
    endpoints_with_two_regions_need_an_image_per_region,
    dns("network:\n  egress: endpoints\n").replace(
        "image: nginx:1.27",
        "image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1",
    ),
    "the tasks in us-west-2 cannot pull",
    "write the image with {region}"
);

rejects!(
    one_web_acl_with_two_regions,
    dns("load_balancer:\n  allow_http: true\n  waf_acl_arn: arn:aws:wafv2:us-east-1:123456789012:regional/webacl/mine/a1\n"),
    "a web ACL is regional: a stack of two regions needs one per region",
    "give a map: waf_acl_arn: {us-east-1: arn:aws:wafv2:us-east-1:…"
);

rejects!(
    a_certificate_per_region_each_of_its_region,
    dns("load_balancer:\n  certificate_arn:\n    us-east-1: arn:aws:acm:us-west-2:123456789012:certificate/abc\n    eu-west-1: arn:aws:acm:eu-west-1:123456789012:certificate/def\n"),
    "the certificate is in us-west-2; the load balancer in us-east-1 needs one of us-east-1",
    "eu-west-1 is not a region of the stack",
    "no certificate for us-west-2"
);

/// A certificate of each region: both listeners serve HTTPS, each with its own region's.
#[test]
fn a_certificate_per_region_is_valid() {
    let (code, out) = validate(&dns(
        "load_balancer:\n  certificate_arn:\n    us-east-1: arn:aws:acm:us-east-1:123456789012:certificate/abc\n    us-west-2: arn:aws:acm:us-west-2:123456789012:certificate/def\n",
    ));
    assert_eq!(code, 0, "{out}");
}

// `dns:`

rejects!(
    dns_unknown_key,
    dns("  helth_check: {path: /}\n"),
    "unknown key `helth_check`",
    "did you mean `health_check`?"
);

rejects!(
    dns_health_check_unknown_key,
    dns("  health_check:\n    intervall: 10\n"),
    "unknown key `intervall`",
    "did you mean `interval`?"
);

rejects!(
    dns_without_a_name,
    two("dns:\n  zone: example.com\n"),
    "missing required key `name`"
);

rejects!(
    name_outside_the_zone,
    zone_and_name("example.com", "shop.example.org"),
    "`shop.example.org` is not in the zone example.com",
    "stack.yaml:7:9"
);

rejects!(
    name_that_only_ends_like_the_zone,
    zone_and_name("example.com", "shopexample.com"),
    "`shopexample.com` is not in the zone example.com"
);

rejects!(
    name_with_an_underscore,
    zone_and_name("example.com", "my_shop.example.com"),
    "`my_shop.example.com` is not a valid DNS name: `_` in the label `my_shop`"
);

rejects!(
    name_with_a_label_over_63_characters,
    zone_and_name("example.com", &format!("{}.example.com", "a".repeat(64))),
    "is not a valid",
    "at most 63"
);

rejects!(
    wildcard_name,
    zone_and_name("example.com", "'*.example.com'"),
    "`*.example.com` is a wildcard"
);

rejects!(
    name_too_long_for_the_failover_record,
    zone_and_name(
        "example.com",
        &format!("{}.example.com", vec!["a".repeat(57); 4].join("."))
    ),
    "dns.name is too long for the failover record `shop-failover.<name>`",
    "243 characters, at most 239"
);

rejects!(
    zone_id_in_lowercase,
    zone_and_name("z0123456789abc", "shop.example.com"),
    "`z0123456789abc` is not a hosted zone: not a hosted zone id",
    "Z0123456789ABC"
);

rejects!(
    zone_name_with_one_label,
    zone_and_name("com", "shop.com"),
    "`com` is not a hosted zone: a public hosted zone has at least two labels"
);

rejects!(
    health_check_path_without_slash,
    dns("  health_check:\n    path: healthz\n"),
    "health check path `healthz` must start with /",
    "stack.yaml:9:11"
);

rejects!(
    health_check_path_too_long_for_route53,
    dns(&format!(
        "  health_check:\n    path: /{}\n",
        "a".repeat(255)
    )),
    "health check path is 256 characters, Route 53 allows 255"
);

rejects!(
    target_group_path_too_long_for_route53,
    dns(&format!(
        "load_balancer:\n  health_check:\n    path: /{}\n",
        "a".repeat(300)
    )),
    "health check path is 301 characters, Route 53 allows 255",
    "`dns.health_check.path` defaults to this path"
);

rejects!(
    health_check_interval_route53_does_not_offer,
    dns("  health_check:\n    interval: 15\n"),
    "Route 53 does not check every 15 seconds",
    "must be 10 or 30"
);

rejects!(
    failure_threshold_zero,
    dns("  health_check:\n    failure_threshold: 0\n"),
    "failure_threshold 0 is out of range",
    "must be 1 to 10"
);

rejects!(
    failure_threshold_above_10,
    dns("  health_check:\n    failure_threshold: 11\n"),
    "failure_threshold 11 is out of range"
);

// `dns.fallback`

rejects!(
    fallback_page_that_does_not_exist,
    dns("  fallback:\n    page: maintenance.html\n"),
    "cannot read the fallback page `maintenance.html`: no such file",
    "relative to the spec file's directory",
    "stack.yaml:9:11"
);

rejects_page!(
    fallback_page_over_1024_bytes,
    &[b'x'; 1025],
    "the fallback page `page.html` is 1025 bytes, at most 1024",
    "the load balancer's fixed response"
);

rejects_page!(
    fallback_page_that_is_empty,
    b"",
    "the fallback page `page.html` is empty"
);

rejects_page!(
    fallback_page_that_is_not_utf8,
    b"<p>caf\xe9</p>",
    "the fallback page `page.html` is not UTF-8 text"
);

rejects!(
    fallback_with_a_name_too_long_for_a_bucket,
    zone_and_name(
        "example.com",
        &format!(
            "{}.example.com\n  fallback:\n    page: page.html",
            "a".repeat(60)
        )
    ),
    "dns.name cannot name the fallback bucket: 72 characters, at most 63"
);

rejects!(
    fallback_unknown_key,
    dns("  fallback:\n    file: page.html\n"),
    "unknown key `file`",
    "expected one of: page"
);

#[test]
fn without_a_fallback_a_long_name_needs_no_bucket() {
    let (code, err) = validate(&zone_and_name(
        "example.com",
        &format!("{}.example.com", "a".repeat(60)),
    ));
    assert_eq!(code, 0, "{err}");
}

// `dns.fallback.certificate_arn`: CloudFront serves the page over HTTPS with a us-east-1
// certificate.

/// `dns:` with a fallback page and `certificate_arn: <arn>` on line 10.
fn with_certificate(arn: &str) -> String {
    dns(&format!(
        "  fallback:\n    page: page.html\n    certificate_arn: {arn}\n"
    ))
}

/// Like `rejects_page!`, with `page.html` present and the fallback's `certificate_arn`.
macro_rules! rejects_certificate {
    ($name:ident, $arn:expr, $($needle:expr),+) => {
        #[test]
        fn $name() {
            let (code, err) = with_page(&with_certificate($arn), b"<p>back soon</p>");
            assert_eq!(code, 1, "{err}");
            $( assert!(err.contains($needle), "missing {:?} in:\n{err}", $needle); )+
            insta::assert_snapshot!(stringify!($name), err);
        }
    };
}

#[test]
fn a_fallback_certificate_in_us_east_1_is_valid_for_two_regions() {
    let arn = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e";
    let (code, err) = with_page(&with_certificate(arn), b"<p>back soon</p>");
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.html"), "<p>back soon</p>").unwrap();
    let spec = dir.path().join("stack.yaml");
    std::fs::write(&spec, with_certificate(arn)).unwrap();
    let m = load_file(spec.to_str().unwrap(), None).unwrap();
    let f = m.dns.unwrap().fallback.unwrap();
    assert_eq!(f.certificate_arn.as_deref(), Some(arn));
    // The load balancers stay on HTTP: the fallback's certificate is CloudFront's only.
    assert!(m.load_balancer.certificates.is_empty());
}

#[test]
fn without_a_fallback_certificate_the_page_has_none() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.html"), "<p>back soon</p>").unwrap();
    let spec = dir.path().join("stack.yaml");
    std::fs::write(&spec, dns(WITH_PAGE)).unwrap();
    let m = load_file(spec.to_str().unwrap(), None).unwrap();
    assert_eq!(m.dns.unwrap().fallback.unwrap().certificate_arn, None);
}

rejects_certificate!(
    fallback_certificate_outside_us_east_1,
    "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e",
    "CloudFront takes certificates from us-east-1 only: this one is in eu-west-1",
    "a certificate in eu-west-1",
    "request or import a certificate for shop.example.com in ACM in us-east-1",
    "stack.yaml:10:22"
);

rejects_certificate!(
    fallback_certificate_of_the_second_region,
    "arn:aws:acm:us-west-2:123456789012:certificate/0b1c2d3e",
    "this one is in us-west-2",
    "stack.yaml:10:22"
);

rejects_certificate!(
    fallback_certificate_that_is_not_an_acm_arn,
    "arn:aws:iam::123456789012:server-certificate/shop",
    "certificate_arn is not an ACM certificate ARN",
    "expected arn:aws:acm:…",
    "stack.yaml:10:22"
);

rejects_certificate!(
    fallback_certificate_without_a_region,
    "arn:aws:acm::123456789012:certificate/0b1c2d3e",
    "CloudFront takes certificates from us-east-1 only: this one is in no region",
    "stack.yaml:10:22"
);

rejects!(
    fallback_certificate_key_typo,
    dns("  fallback:\n    page: page.html\n    certificate: arn:aws:acm:us-east-1:123456789012:certificate/abc\n"),
    "unknown key `certificate`",
    "did you mean `certificate_arn`?"
);
