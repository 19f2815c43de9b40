//! `ballast maintenance on|off`: the listener's fixed 503 response with the page, the tag that
//! remembers the target group, plan/deploy leaving it alone, status, and back to forwarding.

use crate::common;

use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, Listener, Tag};
use common::*;

const PAGE: &str = "<!doctype html><h1>Planned work</h1><p>Back at 14:00 UTC.</p>\n";

fn web<'e>(env: &'e Env, stack: &str, region: &str) -> TestStack<'e> {
    TestStack::new(env, stack, region, &web_spec(stack, region, ""))
}

/// `ballast maintenance MODE SPEC ARGS...`
fn maintenance(s: &TestStack, mode: &str, args: &[&str]) -> Run {
    let mut all = vec!["maintenance", mode, s.spec()];
    all.extend_from_slice(args);
    s.env.ballast(&all)
}

/// The listener on `port` (there is one per port in these stacks).
fn listener(s: &TestStack, port: i32) -> Listener {
    s.listeners()
        .into_iter()
        .find(|l| l.port() == Some(port))
        .unwrap_or_else(|| panic!("no listener on port {port}"))
}

/// The `ballast:maintenance` tag of a resource, if any.
fn maintenance_tag(s: &TestStack, arn: &str) -> Option<String> {
    let r = s.clients().elbv2.describe_tags().resource_arns(arn);
    let r = s.block_on(r.send()).unwrap();
    r.tag_descriptions()
        .iter()
        .flat_map(|d| d.tags())
        .find(|t| t.key() == Some("ballast:maintenance"))
        .and_then(|t| t.value().map(str::to_string))
}

/// The listener answers 503 with `page` as HTML.
fn assert_serves(l: &Listener, page: &str) {
    let a = &l.default_actions()[0];
    assert_eq!(a.r#type(), Some(&ActionTypeEnum::FixedResponse), "{l:?}");
    let f = a.fixed_response_config().expect("a fixed response");
    assert_eq!(f.status_code(), Some("503"));
    assert_eq!(f.content_type(), Some("text/html"));
    assert_eq!(f.message_body(), Some(page));
}

fn assert_forwards(l: &Listener, tg_arn: &str) {
    let a = &l.default_actions()[0];
    assert_eq!(a.r#type(), Some(&ActionTypeEnum::Forward), "{l:?}");
    assert_eq!(a.target_group_arn(), Some(tg_arn), "{l:?}");
}

fn status_json(s: &TestStack) -> serde_json::Value {
    let r = s.run("status", &["--output", "json"]);
    assert_ok(&r, "status --output json");
    serde_json::from_str(&r.stdout).unwrap()
}

#[test]
fn maintenance_on_serves_the_page_deploy_leaves_it_and_off_forwards_again() {
    let env = Env::new();
    let s = web(&env, "it-maint", "us-east-2");
    s.deploy();
    let tg = s.target_group();
    let tg_arn = tg.target_group_arn().unwrap().to_string();
    let arn = listener(&s, 80).listener_arn().unwrap().to_string();
    assert_eq!(status_json(&s)["maintenance"], false);

    // Pages the load balancer cannot serve are refused before any AWS call.
    let big = env.spec("big.html", &"x".repeat(1025));
    let binary = env.dir.path().join("binary.html");
    std::fs::write(&binary, [b'<', 0xff, b'>']).unwrap();
    env.reset();
    let r = maintenance(&s, "on", &["--page", big.to_str().unwrap(), "--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["is 1025 bytes", "at most 1024 bytes"]);
    let r = maintenance(&s, "on", &["--page", binary.to_str().unwrap(), "--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["is not UTF-8"]);
    // Without a terminal and without --yes nothing happens.
    let r = maintenance(&s, "on", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["pass --yes"]);
    let st = env.stats();
    st.assert_no_writes("refused maintenance switches");
    assert_eq!(st.total, 0, "a refused page makes no AWS call at all");
    assert_forwards(&listener(&s, 80), &tg_arn);

    // On: tag first, then the fixed response.
    let page = env.spec("page.html", PAGE);
    env.reset();
    let r = maintenance(&s, "on", &["--page", page.to_str().unwrap(), "--yes"]);
    assert_ok(&r, "maintenance on");
    r.assert_stderr(&[
        "us-east-2: in maintenance",
        "it-maint-alb:80",
        "it-maint-tg",
    ]);
    assert_eq!(env.stats().write_ops, ["AddTags", "ModifyListener"]);
    let l = listener(&s, 80);
    assert_eq!(l.listener_arn(), Some(arn.as_str()), "the same listener");
    assert_serves(&l, PAGE);
    assert_eq!(maintenance_tag(&s, &arn).as_deref(), Some(tg_arn.as_str()));

    // plan and deploy report it and leave it alone: no changes, zero writes.
    let r = s.run("plan", &["--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.assert_stderr(&[
        "aws_lb_listener.listener: maintenance is true in AWS and is left alone",
        "`ballast maintenance off FILE` ends it",
        "No changes.",
    ]);
    let plan = s.plan_json();
    let change = plan.change("aws_lb_listener.listener");
    assert_eq!(change["action"], "no-op");
    assert!(
        change["notes"][0]
            .as_str()
            .unwrap()
            .contains("maintenance is true"),
        "{change}"
    );
    let d = s.deploy();
    d.run
        .assert_stderr(&["maintenance is true in AWS and is left alone"]);
    d.stats
        .assert_no_writes("a deploy of a stack in maintenance");
    assert_serves(&listener(&s, 80), PAGE);

    // status says so.
    let r = s.run("status", &[]);
    assert_ok(&r, "status");
    r.assert_stderr(&["In maintenance:", "503"]);
    assert_eq!(status_json(&s)["maintenance"], true);

    // On again with the same page writes nothing; with another page only the response changes.
    env.reset();
    let r = maintenance(&s, "on", &["--page", page.to_str().unwrap(), "--yes"]);
    assert_ok(&r, "maintenance on, again");
    r.assert_stderr(&["already in maintenance with this page"]);
    env.stats().assert_no_writes("maintenance on twice");
    env.reset();
    let r = maintenance(&s, "on", &["--yes"]);
    assert_ok(&r, "maintenance on with the built-in page");
    r.assert_stderr(&["maintenance page updated"]);
    assert_eq!(env.stats().write_ops, ["ModifyListener"]);
    let body = listener(&s, 80).default_actions()[0]
        .fixed_response_config()
        .unwrap()
        .message_body()
        .unwrap()
        .to_string();
    assert!(body.contains("Down for maintenance"), "{body}");
    assert!(body.len() <= 1024);

    // A change that updates the listener keeps the fixed response (and the tag).
    s.set_yaml(
        &s.yaml()
            .replace("service:\n", "load_balancer:\n  port: 8080\nservice:\n"),
    );
    let d = s.deploy();
    assert!(
        d.plan
            .actions()
            .contains(&("aws_lb_listener.listener".into(), "update".into())),
        "{:?}",
        d.plan.actions()
    );
    assert_eq!(
        d.stats.count("ModifyListener"),
        1,
        "{:?}",
        d.stats.write_ops
    );
    let l = listener(&s, 8080);
    assert_serves(&l, &body);
    assert_eq!(maintenance_tag(&s, &arn).as_deref(), Some(tg_arn.as_str()));
    s.run("plan", &[])
        .assert_stderr(&["maintenance is true", "No changes."]);

    // Off: forward again, then untag.
    env.reset();
    let r = maintenance(&s, "off", &["--yes"]);
    assert_ok(&r, "maintenance off");
    r.assert_stderr(&[
        "us-east-2: maintenance over",
        "forwards to it-maint-tg again",
    ]);
    assert_eq!(env.stats().write_ops, ["ModifyListener", "RemoveTags"]);
    assert_forwards(&listener(&s, 8080), &tg_arn);
    assert_eq!(maintenance_tag(&s, &arn), None);
    assert_eq!(status_json(&s)["maintenance"], false);
    let r = s.run("status", &[]);
    assert!(!r.stderr.contains("In maintenance"), "{}", r.stderr);

    // Off again: nothing to do.
    env.reset();
    let r = maintenance(&s, "off", &["--yes"]);
    assert_ok(&r, "maintenance off, again");
    r.assert_stderr(&["not in maintenance", "nothing to do"]);
    env.stats().assert_no_writes("maintenance off twice");

    let r = s.assert_converged();
    assert!(!r.stderr.contains("note:"), "{}", r.stderr);
    s.destroy();
}

/// A load balancer with the stack's name but without its ownership tag is never touched.
#[test]
fn maintenance_refuses_a_load_balancer_the_stack_does_not_own() {
    let env = Env::new();
    let s = web(&env, "it-ownmaint", "us-east-2");
    s.deploy();
    let lb_arn = s.load_balancer().load_balancer_arn().unwrap().to_string();
    let c = s.clients();
    let untag = c
        .elbv2
        .remove_tags()
        .resource_arns(&lb_arn)
        .tag_keys("ballast:stack");
    s.block_on(untag.send()).unwrap();

    env.reset();
    let r = maintenance(&s, "on", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[
        "it-ownmaint-alb in us-east-2 does not carry the tag ballast:stack=it-ownmaint",
        "left alone",
    ]);
    let r = maintenance(&s, "off", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    env.stats().assert_no_writes("maintenance on a look-alike");
    assert_eq!(
        listener(&s, 80).default_actions()[0].r#type(),
        Some(&ActionTypeEnum::Forward)
    );

    let retag = c.elbv2.add_tags().resource_arns(&lb_arn).tags(
        Tag::builder()
            .key("ballast:stack")
            .value("it-ownmaint")
            .build(),
    );
    s.block_on(retag.send()).unwrap();
    s.destroy();
}

/// With named services the services' rules would go on forwarding: `on` puts the maintenance
/// rule first on the listener (every path, 503 with the page), the services' rules and the
/// default action stay as they are; plan and deploy leave the rule alone; `off` deletes it.
#[test]
fn maintenance_of_named_services_puts_one_rule_before_every_service() {
    let env = Env::new();
    let (stack, region) = ("it-mnt-named", "us-east-2");
    let yaml = format!(
        "name: {stack}\nregion: {region}\nalarms: false\nservices:\n  web:\n    image: web:1\n    route: {{path: /}}\n  api:\n    image: api:1\n    route: {{paths: [/api/*]}}\n"
    );
    let s = TestStack::new(&env, stack, region, &yaml);
    s.deploy();
    let l = listener(&s, 80);
    let arn = l.listener_arn().unwrap().to_string();
    let before = l.default_actions()[0].clone();
    let rules = |s: &TestStack| {
        let r = s.clients().elbv2.describe_rules().listener_arn(&arn);
        s.block_on(r.send()).unwrap().rules().to_vec()
    };
    let api_rule = rules(&s)
        .into_iter()
        .find(|r| r.is_default() != Some(true))
        .expect("api's rule");
    assert_eq!(status_json(&s)["maintenance"], false);

    let page = env.spec("page.html", PAGE);
    env.reset();
    let r = maintenance(&s, "on", &["--page", page.to_str().unwrap(), "--yes"]);
    assert_ok(&r, "maintenance on");
    r.assert_stderr(&["us-east-2: in maintenance", "before every service's rule"]);
    assert_eq!(env.stats().write_ops, ["CreateRule"]);
    let all = rules(&s);
    let first = all
        .iter()
        .find(|r| r.priority() == Some("1"))
        .expect("the maintenance rule");
    let f = first.actions()[0].fixed_response_config().unwrap();
    assert_eq!(
        (f.status_code(), f.content_type(), f.message_body()),
        (Some("503"), Some("text/html"), Some(PAGE))
    );
    let cond = &first.conditions()[0];
    assert_eq!(cond.path_pattern_config().unwrap().values(), ["*"]);
    assert_eq!(
        maintenance_tag(&s, first.rule_arn().unwrap()).as_deref(),
        Some("on")
    );
    // The services' routing is untouched, so `off` has nothing to restore but the rule.
    assert!(all.contains(&api_rule), "api's rule as it was");
    assert_eq!(listener(&s, 80).default_actions()[0], before);
    assert_eq!(status_json(&s)["maintenance"], true);

    // plan and deploy leave it alone: no changes, zero writes; the rule stays.
    let r = s.run("plan", &["--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    s.deploy()
        .stats
        .assert_no_writes("a deploy of named services in maintenance");
    assert_eq!(rules(&s).len(), all.len());

    // Again with the same page: nothing; another page: one ModifyRule.
    env.reset();
    let r = maintenance(&s, "on", &["--page", page.to_str().unwrap(), "--yes"]);
    r.assert_stderr(&["already in maintenance with this page"]);
    env.stats().assert_no_writes("maintenance on twice");
    env.reset();
    assert_ok(&maintenance(&s, "on", &["--yes"]), "the built-in page");
    assert_eq!(env.stats().write_ops, ["ModifyRule"]);

    // Off: the rule goes; off again: nothing.
    env.reset();
    let r = maintenance(&s, "off", &["--yes"]);
    assert_ok(&r, "maintenance off");
    r.assert_stderr(&["maintenance over", "routes to the services again"]);
    assert_eq!(env.stats().write_ops, ["DeleteRule"]);
    assert!(rules(&s).iter().all(|r| r.priority() != Some("1")));
    assert_eq!(status_json(&s)["maintenance"], false);
    env.reset();
    let r = maintenance(&s, "off", &["--yes"]);
    r.assert_stderr(&["not in maintenance", "nothing to do"]);
    env.stats().assert_no_writes("maintenance off twice");

    // Destroyed in maintenance too: the rule goes with the listener, nothing is left.
    assert_ok(&maintenance(&s, "on", &["--yes"]), "on before destroy");
    assert_ok(&s.run("destroy", &["--yes"]), "destroy in maintenance");
    assert_eq!(s.inventory(), Inventory::new(), "left after destroy");
}
