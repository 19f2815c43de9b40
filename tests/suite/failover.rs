//! Two regions with Route 53 failover: the binary against the emulator, read back in both
//! regions and in Route 53 with the SDK.

use crate::common;

use std::collections::BTreeMap;

use aws_sdk_route53::types::{ResourceRecordSet, RrType};
use common::{
    all_health_checks, all_records, distributions, dns_norm, health_checks, total, zone, Env,
    TestStack,
};

const R1: &str = "us-east-1";
const R2: &str = "us-west-2";
const PAGE: &str = "<!doctype html><title>Back soon</title><p>We are down for maintenance.</p>\n";

/// A two-region stack named `stack` with dns `app.<zone>` (and a fallback page).
fn spec(stack: &str, zone: &str, regions: &str, extra_dns: &str) -> String {
    format!(
        "name: {stack}\nregions: [{regions}]\nservice:\n  image: nginx\n  port: 80\n  desired_count: 1\n\
         dns:\n  zone: {zone}\n  name: app.{zone}\n  health_check:\n    path: /healthz\n    interval: 10\n    failure_threshold: 2\n{extra_dns}"
    )
}

fn with_page(s: &TestStack) {
    let dir = std::path::Path::new(s.spec()).parent().unwrap();
    std::fs::write(dir.join("page.html"), PAGE).unwrap();
}

/// The stack's records, by (name, SetIdentifier).
fn records(s: &TestStack) -> BTreeMap<(String, String), ResourceRecordSet> {
    let c = s.clients();
    let prefix = format!("{}/", s.name);
    s.env
        .rt
        .block_on(all_records(c))
        .into_iter()
        .filter(|r| r.set_identifier().is_some_and(|i| i.starts_with(&prefix)))
        .map(|r| {
            (
                (dns_norm(r.name()), r.set_identifier().unwrap().to_string()),
                r,
            )
        })
        .collect()
}

/// A region's load balancer (DNS name, canonical hosted zone id), read from ELBv2.
fn alb(s: &TestStack, region: &str) -> (String, String) {
    let c = s.env.clients(region);
    let r = s.env.rt.block_on(
        c.elbv2
            .describe_load_balancers()
            .names(format!("{}-alb", s.name))
            .send(),
    );
    let lb = r.unwrap().load_balancers()[0].clone();
    (
        lb.dns_name().unwrap().to_string(),
        lb.canonical_hosted_zone_id().unwrap().to_string(),
    )
}

/// Health check ids by region tag.
fn check_ids(s: &TestStack) -> BTreeMap<String, String> {
    s.env
        .rt
        .block_on(health_checks(s.clients(), &s.name))
        .into_iter()
        .map(|(h, tags)| (tags["ballast:region"].clone(), h.id().to_string()))
        .collect()
}

fn assert_alias(
    r: &ResourceRecordSet,
    failover: &str,
    dns: &str,
    zone_id: &str,
    evaluate: bool,
    check: Option<&str>,
) {
    let what = format!("{} {:?}", r.name(), r.set_identifier());
    assert_eq!(r.r#type(), &RrType::A, "{what}");
    assert_eq!(r.failover().map(|f| f.as_str()), Some(failover), "{what}");
    let a = r
        .alias_target()
        .unwrap_or_else(|| panic!("{what}: no alias"));
    assert_eq!(dns_norm(a.dns_name()), dns_norm(dns), "{what}");
    assert_eq!(
        a.hosted_zone_id().trim_start_matches("/hostedzone/"),
        zone_id,
        "{what}"
    );
    assert_eq!(a.evaluate_target_health(), evaluate, "{what}");
    assert_eq!(r.health_check_id(), check, "{what}");
    assert!(
        r.ttl().is_none() && r.resource_records().is_empty(),
        "{what}"
    );
}

#[test]
fn two_regions_fail_over_to_each_other_then_to_the_page() {
    let env = Env::new();
    let (stack, zname) = ("it-fo", "fo-test.example");
    let zone_id = zone(&env, zname);
    let s = TestStack::new(
        &env,
        stack,
        R1,
        &spec(
            stack,
            zname,
            "us-east-1, us-west-2",
            "  fallback:\n    page: page.html\n",
        ),
    );
    with_page(&s);
    assert_eq!(s.regions, [R1, R2]);

    // Cold deploy: both regions, the health checks, the records, the bucket.
    let d = s.deploy();
    let inv = s.inventory();
    assert_eq!(inv, d.plan.inventory_after());
    for r in [R1, R2] {
        assert_eq!(inv[&format!("{r}:aws_lb")], [format!("{stack}-alb")], "{r}");
        assert_eq!(inv[&format!("{r}:aws_ecs_service")], [stack], "{r}");
        assert_eq!(
            inv[&format!("{r}:aws_iam_role")],
            [
                format!("{stack}-{r}-exec"),
                format!("{stack}-{r}-flow-logs")
            ],
            "{r}"
        );
    }
    assert_eq!(
        inv["global:aws_route53_health_check"],
        [format!("{stack}-{R1}"), format!("{stack}-{R2}")]
    );
    assert_eq!(inv["global:aws_route53_record"].len(), 4);
    assert_eq!(inv["global:aws_s3_bucket"], [format!("app.{zname}")]);
    // Everything the plan made, each once: 35 per region (8 of them the private tier, 3 the
    // flow logs), the two checks, four records and the fallback bucket.
    assert_eq!(total(&inv), d.plan.changes().len());
    assert_eq!(total(&inv), 2 * 35 + 2 + 4 + 1);

    // Every health check field.
    let checks = env.rt.block_on(health_checks(s.clients(), stack));
    assert_eq!(checks.len(), 2);
    for (h, tags) in &checks {
        let region = tags["ballast:region"].as_str();
        let c = h.health_check_config().unwrap();
        assert_eq!(c.r#type().as_str(), "HTTP", "{region}");
        assert_eq!(
            c.fully_qualified_domain_name(),
            Some(alb(&s, region).0.as_str())
        );
        assert_eq!(c.port(), Some(80));
        assert_eq!(c.resource_path(), Some("/healthz"));
        assert_eq!(c.request_interval(), Some(10));
        assert_eq!(c.failure_threshold(), Some(2));
        assert_eq!(c.inverted(), Some(false));
        assert!(h
            .caller_reference()
            .starts_with(&format!("ballast/{stack}/{region}/")));
        assert_eq!(tags["ballast:resource"], format!("health.{region}"));
        assert_eq!(tags["ballast:zone"], zname);
        assert_eq!(tags["ballast:dns"], format!("app.{zname}"));
    }

    // Every record: primary -> us-east-1; secondary -> the second pair; that pair's primary ->
    // us-west-2, its secondary -> the fallback page's S3 website.
    let ids = check_ids(&s);
    let recs = records(&s);
    let name = format!("app.{zname}");
    let pair = format!("{stack}-failover.app.{zname}");
    let key = |n: &str, id: &str| (n.to_string(), format!("{stack}/{id}"));
    assert_eq!(recs.len(), 4, "{:?}", recs.keys());
    let (dns1, z1) = alb(&s, R1);
    let (dns2, z2) = alb(&s, R2);
    assert_alias(
        &recs[&key(&name, R1)],
        "PRIMARY",
        &dns1,
        &z1,
        true,
        Some(&ids[R1]),
    );
    assert_alias(
        &recs[&key(&name, "failover")],
        "SECONDARY",
        &pair,
        &zone_id,
        true,
        None,
    );
    assert_alias(
        &recs[&key(&pair, R2)],
        "PRIMARY",
        &dns2,
        &z2,
        true,
        Some(&ids[R2]),
    );
    assert_alias(
        &recs[&key(&pair, "fallback")],
        "SECONDARY",
        "s3-website-us-east-1.amazonaws.com",
        "Z3AQBSTGFYJSTF",
        false,
        None,
    );

    // The page, public, as an S3 website.
    let c = s.clients();
    env.rt.block_on(async {
        let w =
            c.s3.get_bucket_website()
                .bucket(&name)
                .send()
                .await
                .unwrap();
        assert_eq!(w.index_document().unwrap().suffix(), "index.html");
        let o =
            c.s3.get_object()
                .bucket(&name)
                .key("index.html")
                .send()
                .await
                .unwrap();
        assert_eq!(o.content_type(), Some("text/html; charset=utf-8"));
        let body = o.body.collect().await.unwrap().into_bytes();
        assert_eq!(body.as_ref(), PAGE.as_bytes());
        let p = c.s3.get_bucket_policy().bucket(&name).send().await.unwrap();
        assert!(p.policy().unwrap().contains("s3:GetObject"));
    });

    // Redeploy: zero writes.
    s.assert_converged();

    // One changed health-check path is one UpdateHealthCheck per region's check.
    s.set_yaml(&s.yaml().replace("path: /healthz", "path: /ready"));
    let w = s.deploy_writes();
    assert_eq!(w, ["UpdateHealthCheck", "UpdateHealthCheck"]);
    let checks = env.rt.block_on(health_checks(s.clients(), stack));
    for (h, _) in &checks {
        let c = h.health_check_config().unwrap();
        assert_eq!(c.resource_path(), Some("/ready"));
        // Every other field survives the update.
        assert_eq!(
            (c.request_interval(), c.failure_threshold()),
            (Some(10), Some(2))
        );
        assert_eq!(c.port(), Some(80));
    }
    s.assert_converged();

    // Dropping the second region destroys that region's stack and rewires the records before
    // its load balancer goes.
    s.set_yaml(
        &s.yaml()
            .replace("regions: [us-east-1, us-west-2]", "regions: [us-east-1]"),
    );
    let p = s.plan_json();
    let deletes: Vec<String> = p
        .changes()
        .iter()
        .filter(|c| c["action"] == "delete")
        .map(|c| c["address"].as_str().unwrap().to_string())
        .collect();
    assert!(deletes.contains(&format!("{R2}:aws_lb.alb")), "{deletes:?}");
    assert_eq!(
        deletes
            .iter()
            .filter(|a| a.starts_with(&format!("{R2}:")))
            .count(),
        35,
        "{deletes:?}"
    );
    env.reset();
    let run = s.run("deploy", &["--yes"]);
    common::assert_ok(&run, "deploy without the second region");
    let ops = env.stats().write_ops;
    let pos = |op: &str| ops.iter().position(|o| o == op);
    let last = |op: &str| ops.iter().rposition(|o| o == op);
    let lb_delete = pos("DeleteLoadBalancer").expect("the second region's ALB is deleted");
    assert!(
        last("DeleteHealthCheck").unwrap() < lb_delete,
        "records and checks go before the load balancer: {ops:?}"
    );
    let first_record_change = pos("ChangeResourceRecordSets").unwrap();
    assert!(first_record_change < lb_delete, "{ops:?}");
    let recs = records(&s);
    assert_eq!(recs.len(), 2, "{:?}", recs.keys());
    let ids = check_ids(&s);
    assert_eq!(ids.len(), 1);
    assert_alias(
        &recs[&key(&name, R1)],
        "PRIMARY",
        &dns1,
        &z1,
        true,
        Some(&ids[R1]),
    );
    assert_alias(
        &recs[&key(&name, "fallback")],
        "SECONDARY",
        "s3-website-us-east-1.amazonaws.com",
        "Z3AQBSTGFYJSTF",
        false,
        None,
    );
    let inv = s.inventory();
    assert!(
        !inv.keys().any(|k| k.starts_with(&format!("{R2}:"))),
        "{R2} is empty: {inv:?}"
    );
    s.assert_converged();

    // Destroy by name from the primary region finds everything.
    s.destroy_by_name();
    assert_eq!(records(&s).len(), 0);
    // (Only this stack's: the module's other tests run beside it in the same regions.)
    let c2 = env.clients(R2);
    let left = env.rt.block_on(c2.elbv2.describe_load_balancers().send());
    let alb = format!("{stack}-alb");
    let left = left.unwrap();
    let mine: Vec<_> = left
        .load_balancers()
        .iter()
        .filter(|lb| lb.load_balancer_name() == Some(alb.as_str()))
        .collect();
    assert!(mine.is_empty(), "{mine:?}");
}

#[test]
fn a_removed_region_is_found_again_by_destroy_by_name() {
    let env = Env::new();
    let (stack, zname) = ("it-fo-dn", "fo-dn.example");
    zone(&env, zname);
    let s = TestStack::new(
        &env,
        stack,
        R1,
        &spec(stack, zname, "us-east-1, us-west-2", ""),
    );
    let d = s.deploy();
    assert_eq!(s.inventory(), d.plan.inventory_after());
    // Without a fallback page: primary -> us-east-1, secondary -> us-west-2.
    let recs = records(&s);
    let ids = check_ids(&s);
    let name = format!("app.{zname}");
    let (dns2, z2) = alb(&s, R2);
    assert_alias(
        &recs[&(name.clone(), format!("{stack}/{R2}"))],
        "SECONDARY",
        &dns2,
        &z2,
        true,
        Some(&ids[R2]),
    );
    assert_eq!(recs.len(), 2);
    // `destroy --stack NAME --region us-east-1` learns of us-west-2 from the health checks.
    let r = s.destroy_by_name();
    r.assert_stderr(&[&format!("{R2}:aws_lb.alb")]);
}

/// HTTPS in both regions: each region's listener serves its own region's certificate with the
/// TLS policy, port 80 redirects, the health checks probe over HTTPS, and `url` says https;
/// each region's load balancer is behind its own region's web ACL (`waf: baseline`).
#[test]
fn two_regions_serve_https_each_with_its_own_certificate() {
    let env = Env::new();
    let (stack, zname) = ("it-fo-tls", "fo-tls.example");
    zone(&env, zname);
    let cert = |region: &str| {
        let acm = env.acm(region);
        env.rt.block_on(async {
            let r = acm
                .request_certificate()
                .domain_name(format!("app.{zname}"))
                .send()
                .await
                .unwrap();
            r.certificate_arn().unwrap().to_string()
        })
    };
    let (c1, c2) = (cert(R1), cert(R2));
    let s = TestStack::new(
        &env,
        stack,
        R1,
        &format!(
            "{}load_balancer:\n  waf: baseline\n  certificate_arn:\n    {R1}: {c1}\n    {R2}: {c2}\n",
            spec(stack, zname, "us-east-1, us-west-2", "")
        ),
    );
    let r = s.run("deploy", &["--yes", "--output", "json"]);
    common::assert_ok(&r, "deploy with a certificate per region");
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for (region, want) in [(R1, &c1), (R2, &c2)] {
        let url = out[region]["url"].as_str().unwrap();
        assert!(
            url.starts_with("https://") && url.ends_with(".amazonaws.com/"),
            "{url}"
        );
        let c = env.clients(region);
        let lb = alb(&s, region).0;
        let ls = env.rt.block_on(async {
            let lbs = c
                .elbv2
                .describe_load_balancers()
                .names(format!("{stack}-alb"))
                .send()
                .await
                .unwrap();
            let arn = lbs.load_balancers()[0]
                .load_balancer_arn()
                .unwrap()
                .to_string();
            c.elbv2
                .describe_listeners()
                .load_balancer_arn(arn)
                .send()
                .await
                .unwrap()
                .listeners()
                .to_vec()
        });
        let https = ls.iter().find(|l| l.port() == Some(443)).expect("443");
        assert_eq!(https.protocol().unwrap().as_str(), "HTTPS", "{region}");
        assert_eq!(
            https.certificates()[0].certificate_arn(),
            Some(want.as_str())
        );
        assert_eq!(
            https.ssl_policy(),
            Some("ELBSecurityPolicy-TLS13-1-2-Res-2021-06")
        );
        let http = ls.iter().find(|l| l.port() == Some(80)).expect("80");
        assert_eq!(
            http.default_actions()[0].r#type().unwrap().as_str(),
            "redirect",
            "{region}: port 80 redirects"
        );
        assert!(url.contains(&lb), "{url} is {region}'s load balancer {lb}");
        // Each region's load balancer behind its own region's web ACL.
        let protected = env.rt.block_on(async {
            let lbs = c
                .elbv2
                .describe_load_balancers()
                .names(format!("{stack}-alb"))
                .send()
                .await
                .unwrap();
            let arn = lbs.load_balancers()[0].load_balancer_arn().unwrap();
            let r = c.wafv2.get_web_acl_for_resource().resource_arn(arn).send();
            r.await.unwrap().web_acl().map(|a| a.arn().to_string())
        });
        let acl = protected.unwrap_or_else(|| panic!("{region}: no web ACL"));
        assert!(
            acl.starts_with(&format!("arn:aws:wafv2:{region}:"))
                && acl.contains(&format!("/webacl/{stack}-baseline/")),
            "{region}: {acl}"
        );
    }
    let checks = env.rt.block_on(health_checks(s.clients(), stack));
    assert_eq!(checks.len(), 2);
    for (h, tags) in &checks {
        let c = h.health_check_config().unwrap();
        assert_eq!(c.r#type().as_str(), "HTTPS", "{tags:?}");
        assert_eq!(c.port(), Some(443));
        assert_eq!(c.enable_sni(), Some(true));
    }
    s.assert_converged();
    s.destroy();
}

#[test]
fn a_foreign_record_of_the_same_name_is_refused_with_zero_writes() {
    let env = Env::new();
    let (stack, zname) = ("it-fo-foreign", "fo-foreign.example");
    let zone_id = zone(&env, zname);
    let c = env.clients(R1);
    let name = format!("app.{zname}");
    env.rt.block_on(async {
        use aws_sdk_route53::types::{
            Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet,
        };
        let rrs = ResourceRecordSet::builder()
            .name(&name)
            .r#type(RrType::A)
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value("192.0.2.10")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let change = Change::builder()
            .action(ChangeAction::Upsert)
            .resource_record_set(rrs)
            .build()
            .unwrap();
        c.route53
            .change_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
            .send()
            .await
            .unwrap();
    });
    let s = TestStack::new(&env, stack, R1, &spec(stack, zname, "us-east-1", ""));
    env.reset();
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[
        "aws_route53_record.record.primary",
        "app.fo-foreign.example A",
    ]);
    env.stats().assert_no_writes("a refused plan");
    // The foreign record is untouched.
    let left: Vec<_> = env
        .rt
        .block_on(all_records(&c))
        .into_iter()
        .filter(|r| dns_norm(r.name()) == name)
        .collect();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].resource_records()[0].value(), "192.0.2.10");
    s.destroy();
}

/// An ACM certificate for `domain` in us-east-1 (CloudFront takes no other region's).
fn certificate(env: &Env, domain: &str) -> String {
    let acm = env.acm(R1);
    env.rt.block_on(async {
        let r = acm
            .request_certificate()
            .domain_name(domain)
            .send()
            .await
            .unwrap();
        r.certificate_arn().unwrap().to_string()
    })
}

#[test]
fn a_certificate_serves_the_page_over_https_through_cloudfront() {
    let env = Env::new();
    let (stack, zname) = ("it-fo-cdn", "fo-cdn.example");
    zone(&env, zname);
    let name = format!("app.{zname}");
    let arn = certificate(&env, &name);
    let s = TestStack::new(
        &env,
        stack,
        R1,
        &spec(
            stack,
            zname,
            "us-east-1",
            &format!("  fallback:\n    page: page.html\n    certificate_arn: {arn}\n"),
        ),
    );
    with_page(&s);

    // Cold deploy: one region, its health check, two records, the bucket, the distribution.
    let d = s.deploy();
    let inv = s.inventory();
    assert_eq!(inv, d.plan.inventory_after());
    assert_eq!(
        inv["global:aws_cloudfront_distribution"],
        [format!("{stack}-fallback")]
    );
    assert_eq!(inv["global:aws_s3_bucket"], [name.as_str()]);
    assert_eq!(inv["global:aws_route53_record"].len(), 2);
    assert_eq!(total(&inv), 35 + 1 + 2 + 1 + 1);
    assert_eq!(d.stats.count("CreateDistributionWithTags"), 1);

    // The distribution: the bucket's S3 website as an HTTP-only custom origin, HTTPS for
    // viewers at the name with the certificate, the page as root object, tagged.
    let c = s.clients();
    let found = env.rt.block_on(distributions(c, stack));
    assert_eq!(found.len(), 1);
    let (summary, tags) = &found[0];
    assert_eq!(tags["ballast:stack"], stack);
    assert_eq!(tags["ballast:resource"], "cdn");
    assert_eq!(tags["Name"], format!("{stack}-fallback"));
    let id = summary.id().to_string();
    let cfg = env
        .rt
        .block_on(c.cloudfront.get_distribution_config().id(&id).send())
        .unwrap()
        .distribution_config()
        .cloned()
        .unwrap();
    assert!(cfg.enabled);
    assert_eq!(cfg.aliases.as_ref().unwrap().items(), [name.as_str()]);
    let origins = cfg.origins.as_ref().unwrap().items();
    assert_eq!(origins.len(), 1);
    assert_eq!(
        origins[0].domain_name(),
        format!("{name}.s3-website-us-east-1.amazonaws.com")
    );
    let custom = origins[0].custom_origin_config().unwrap();
    assert_eq!(custom.origin_protocol_policy().as_str(), "http-only");
    assert_eq!(custom.http_port(), 80);
    let b = cfg.default_cache_behavior.as_ref().unwrap();
    assert_eq!(b.target_origin_id(), origins[0].id());
    assert_eq!(b.viewer_protocol_policy().as_str(), "redirect-to-https");
    let vc = cfg.viewer_certificate.as_ref().unwrap();
    assert_eq!(vc.acm_certificate_arn(), Some(arn.as_str()));
    assert_eq!(vc.cloud_front_default_certificate(), Some(false));
    assert_eq!(
        vc.ssl_support_method().map(|m| m.as_str()),
        Some("sni-only")
    );
    assert_eq!(
        vc.minimum_protocol_version().map(|m| m.as_str()),
        Some("TLSv1.2_2021")
    );
    assert_eq!(cfg.default_root_object.as_deref(), Some("index.html"));
    assert_eq!(
        cfg.price_class.as_ref().map(|p| p.as_str()),
        Some("PriceClass_100")
    );
    assert!(cfg.comment.contains(stack), "{}", cfg.comment);

    // The record fails over from the region to the distribution (CloudFront's alias zone).
    let recs = records(&s);
    assert_eq!(recs.len(), 2, "{:?}", recs.keys());
    let (dns1, z1) = alb(&s, R1);
    let ids = check_ids(&s);
    assert_alias(
        &recs[&(name.clone(), format!("{stack}/{R1}"))],
        "PRIMARY",
        &dns1,
        &z1,
        true,
        Some(&ids[R1]),
    );
    assert_alias(
        &recs[&(name.clone(), format!("{stack}/fallback"))],
        "SECONDARY",
        summary.domain_name(),
        "Z2FDTNDATAQYW2",
        false,
        None,
    );

    // Redeploy: zero writes (CloudFront's reads are counted as reads).
    s.assert_converged();

    // Destroy leaves nothing: the distribution is disabled, then deleted.
    env.reset();
    s.destroy();
    let ops = env.stats().write_ops;
    let pos = |op: &str| ops.iter().position(|o| o == op);
    let (disable, delete) = (pos("UpdateDistribution"), pos("DeleteDistribution"));
    assert!(disable.is_some() && disable < delete, "{ops:?}");
    assert!(
        pos("ChangeResourceRecordSets") < delete,
        "the record goes before the distribution: {ops:?}"
    );
    assert!(env.rt.block_on(distributions(c, stack)).is_empty());
    let all = env
        .rt
        .block_on(c.cloudfront.list_distributions().send())
        .unwrap();
    assert!(
        !all.distribution_list()
            .map(|l| l.items())
            .unwrap_or_default()
            .iter()
            .any(|d| d.id() == id),
        "the distribution is gone"
    );
}

/// Route 53 tags a health check in a second call. A deploy stopped between the two (here the
/// tagging call fails) leaves a check with only its caller reference (`ballast/<stack>/<region>/
/// <nonce>`) to say whose it is: the next plan shows that check as an update (`tagged`), the
/// next deploy tags it instead of making another, and the stack converges with one check per
/// region and none left over.
#[test]
fn a_health_check_made_but_not_tagged_is_tagged_by_the_next_deploy() {
    let env = Env::new();
    let (stack, zname) = ("it-fo-tag", "fo-tag.example");
    zone(&env, zname);
    let s = TestStack::new(
        &env,
        stack,
        R1,
        &spec(stack, zname, "us-east-1, us-west-2", ""),
    );
    // The stack's checks by caller reference, tagged or not.
    let mine = |s: &TestStack| -> Vec<(String, BTreeMap<String, String>)> {
        s.env
            .rt
            .block_on(all_health_checks(s.clients()))
            .into_iter()
            .filter(|(h, _)| {
                h.caller_reference()
                    .starts_with(&format!("ballast/{stack}/"))
            })
            .map(|(h, tags)| (h.id().to_string(), tags))
            .collect()
    };

    env.fault("ChangeTagsForResource", 1, 400, "InvalidInput");
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["failed to tag health check"]);
    let before = mine(&s);
    assert_eq!(before.len(), 2, "both checks were made: {before:?}");
    let untagged: Vec<&String> = before
        .iter()
        .filter(|(_, t)| t.is_empty())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(untagged.len(), 1, "one check was not tagged: {before:?}");

    // The plan names the untagged check as the stack's, to be tagged.
    let plan = s.plan_json();
    let tagged: Vec<&serde_json::Value> = plan
        .changes()
        .iter()
        .filter(|c| {
            c["action"] != "no-op"
                && c["address"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("aws_route53_health_check")
        })
        .collect();
    assert_eq!(tagged.len(), 1, "{tagged:?}");
    assert_eq!(tagged[0]["action"], "update", "{}", tagged[0]);

    let stats = s.deploy().stats;
    assert_eq!(stats.count("CreateHealthCheck"), 0, "{:?}", stats.write_ops);
    assert_eq!(stats.count("DeleteHealthCheck"), 0, "{:?}", stats.write_ops);
    let after = mine(&s);
    assert_eq!(
        after.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        before.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        "the same two checks"
    );
    for (id, tags) in &after {
        assert_eq!(
            tags.get("ballast:stack").map(String::as_str),
            Some(stack),
            "{id}: {tags:?}"
        );
        assert_eq!(
            tags.get("ballast:zone").map(String::as_str),
            Some(zname),
            "{id}: {tags:?}"
        );
    }
    s.assert_converged();
    s.destroy();
    assert!(mine(&s).is_empty(), "destroy leaves no check");
}

/// Named services in two regions: every service (routed and internal) runs in both, each
/// region with its own Cloud Map namespace and listener rules, one failover pair of records
/// in front; a redeploy writes nothing and a destroy by name leaves nothing in either region.
#[test]
fn named_services_run_in_both_regions() {
    let env = Env::new();
    let (stack, zname) = ("it-tworeg", "tworeg.example");
    zone(&env, zname);
    let yaml = format!(
        "name: {stack}\nregions: [{R1}, {R2}]\nalarms: false\nservices:\n\
         \x20 web:\n    image: nginx\n    desired_count: 1\n    route: {{path: /}}\n\
         \x20 api:\n    image: nginx\n    desired_count: 1\n    route: {{paths: [/api/*]}}\n\
         \x20 worker:\n    image: nginx\n    desired_count: 1\n    port: 9000\n    internal: true\n\
         dns:\n  zone: {zname}\n  name: app.{zname}\n  health_check: {{path: /}}\n"
    );
    let s = TestStack::new(&env, stack, R1, &yaml);
    let d = s.deploy();
    let inv = d.plan.inventory_after();
    for region in [R1, R2] {
        assert_eq!(
            inv[&format!("{region}:aws_ecs_service")],
            ["api", "web", "worker"],
            "{region}"
        );
        assert_eq!(
            inv[&format!("{region}:aws_lb_listener_rule")].len(),
            1,
            "{region}: api's rule"
        );
        assert_eq!(
            inv[&format!("{region}:aws_service_discovery_http_namespace")],
            [stack],
            "{region}"
        );
    }
    assert_eq!(s.inventory(), inv, "in AWS after the deploy");
    assert_eq!(records(&s).len(), 2, "one failover pair");
    s.assert_converged();
    let r = s.destroy_by_name();
    r.assert_stderr(&[&format!("{R2}:aws_ecs_service.service.worker")]);
}

/// `protect: true` keeps the fallback page's bucket too: its policy denies s3:DeleteBucket, and
/// destroy refuses it (and the load balancers) until a deploy with `protect: false`; a statement
/// added by hand is drift.
#[test]
fn a_protected_fallback_bucket_is_not_destroyed_until_it_is_unprotected() {
    let env = Env::new();
    let (stack, zname) = ("it-fo-prot", "fo-prot.example");
    zone(&env, zname);
    let base = spec(
        stack,
        zname,
        "us-east-1, us-west-2",
        "  fallback:\n    page: page.html\n",
    );
    let s = TestStack::new(&env, stack, R1, &format!("protect: true\n{base}"));
    with_page(&s);
    s.deploy();
    let c = s.clients();
    let bucket = format!("app.{zname}");
    let policy = || {
        let p = s.block_on(c.s3.get_bucket_policy().bucket(&bucket).send());
        serde_json::from_str::<serde_json::Value>(p.unwrap().policy().unwrap()).unwrap()
    };
    let p = policy();
    assert_eq!(p["Statement"][1]["Effect"], "Deny", "{p}");
    assert_eq!(p["Statement"][1]["Action"], "s3:DeleteBucket", "{p}");
    s.assert_converged();

    // A statement added by hand is drift: the deploy writes the policy whole again.
    let mut more = p.clone();
    more["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{bucket}/*")
        }));
    s.block_on(
        c.s3.put_bucket_policy()
            .bucket(&bucket)
            .policy(more.to_string())
            .send(),
    )
    .unwrap();
    let r = s.run("plan", &["--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    s.deploy();
    assert_eq!(policy(), p);

    let r = s.run("destroy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[&format!(
        "bucket {bucket} is protected (its policy denies s3:DeleteBucket); deploy with `protect: false` first"
    )]);
    s.set_yaml(&base);
    s.deploy();
    assert_eq!(policy()["Statement"].as_array().unwrap().len(), 1);
    s.destroy();
}

/// Two regions without NAT: `{region}` in the image names each region's own ECR registry (ECR
/// replication keeps them in step), so `egress: endpoints` holds in both; each region's task
/// definition pulls from its own region, and its execution role may pull from there only.
#[test]
fn each_region_pulls_its_image_from_its_own_registry() {
    let env = Env::new();
    let (stack, zname) = ("it-fo-ecr", "fo-ecr.example");
    zone(&env, zname);
    let yaml = spec(stack, zname, "us-east-1, us-west-2", "").replace(
        "  image: nginx\n",
        "  image: 123456789012.dkr.ecr.{region}.amazonaws.com/web:1\n",
    ) + "network:\n  egress: endpoints\n";
    let s = TestStack::new(&env, stack, R1, &yaml);
    s.deploy();
    for region in [R1, R2] {
        let c = env.clients(region);
        let td = env
            .rt
            .block_on(
                c.ecs
                    .describe_task_definition()
                    .task_definition(stack)
                    .send(),
            )
            .unwrap();
        let image = td.task_definition().unwrap().container_definitions()[0]
            .image()
            .unwrap()
            .to_string();
        assert_eq!(
            image,
            format!("123456789012.dkr.ecr.{region}.amazonaws.com/web:1")
        );
        let inv = s.inventory();
        assert!(
            inv[&format!("{region}:aws_vpc_endpoint")].contains(&format!("{stack}-ecr.dkr")),
            "{region}: {inv:?}"
        );
        assert!(!inv.contains_key(&format!("{region}:aws_nat_gateway")));
    }
    s.assert_converged();
    s.destroy();
}
