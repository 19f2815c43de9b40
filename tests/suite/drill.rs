//! `ballast drill` and the Route 53 part of `ballast status`, on a stack in us-east-1 and
//! us-west-2 behind a hosted zone each test makes (and deletes). Route 53 health follows the
//! emulator's patches R2-R3 (tests/emulator/README.md): a check is healthy unless `Inverted` or
//! forced failing through `/_shim/route53/health/<id>`, and TestDNSAnswer follows the failover
//! records and answers the alias target's DNS name.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{assert_ok, Env, TestStack};

const PRIMARY: &str = "us-east-1";
const SECONDARY: &str = "us-west-2";
const PAGE: &str = "<html><body>Back soon.</body></html>\n";

/// A public hosted zone, deleted when the test ends however it ends (after the stack: declare
/// it first).
struct Zone<'e> {
    env: &'e Env,
    id: String,
    name: String,
}

impl<'e> Zone<'e> {
    fn new(env: &'e Env, prefix: &str) -> Zone<'e> {
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("{prefix}-{unique:x}.test");
        let c = env.clients(PRIMARY);
        let r = env
            .rt
            .block_on(
                c.route53
                    .create_hosted_zone()
                    .name(&name)
                    .caller_reference(&name)
                    .send(),
            )
            .expect("create the hosted zone");
        let id = r.hosted_zone().expect("a zone").id().to_string();
        Zone { env, id, name }
    }
}

impl Drop for Zone<'_> {
    fn drop(&mut self) {
        let c = self.env.clients(PRIMARY);
        let r = self
            .env
            .rt
            .block_on(c.route53.delete_hosted_zone().id(&self.id).send());
        if !std::thread::panicking() {
            r.expect("delete the hosted zone (the stack's records are gone)");
        }
    }
}

/// The two-region spec: `dns:` in `zone`, the name `app.<zone>`, with or without a fallback page.
fn spec(stack: &str, zone: &str, fallback: bool) -> String {
    let mut s = format!(
        "name: {stack}\nregions: [{PRIMARY}, {SECONDARY}]\nservice:\n  image: public.ecr.aws/nginx/nginx:1.27\n  desired_count: 1\n\
         load_balancer:\n  health_check:\n    path: /\n\
         dns:\n  zone: {zone}\n  name: app.{zone}\n  health_check:\n    path: /\n    interval: 10\n    failure_threshold: 3\n"
    );
    if fallback {
        s.push_str("  fallback:\n    page: page.html\n");
    }
    s
}

fn two_regions<'e>(env: &'e Env, stack: &str, zone: &Zone, fallback: bool) -> TestStack<'e> {
    env.spec("page.html", PAGE);
    TestStack::new(env, stack, PRIMARY, &spec(stack, &zone.name, fallback))
}

/// `status --output json`: one entry per region, primary first.
fn status(s: &TestStack) -> Vec<serde_json::Value> {
    let r = s.run("status", &["--output", "json"]);
    assert_ok(&r, "status --output json");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let all = v.as_array().expect("two regions: a list").clone();
    assert_eq!(
        all.iter().map(|x| x["region"].clone()).collect::<Vec<_>>(),
        vec![PRIMARY, SECONDARY]
    );
    all
}

/// The id of `region`'s health check, from `status`.
fn check_id(all: &[serde_json::Value], region: &str) -> String {
    let st = all.iter().find(|x| x["region"] == region).unwrap();
    st["health_check"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no health check for {region}: {st:#}"))
        .to_string()
}

/// `region`'s load balancer DNS name as ELBv2 has it, lowercase.
fn alb_dns(env: &Env, stack: &str, region: &str) -> String {
    let c = env.clients(region);
    let r = env
        .rt
        .block_on(
            c.elbv2
                .describe_load_balancers()
                .names(format!("{stack}-alb"))
                .send(),
        )
        .unwrap();
    r.load_balancers()[0]
        .dns_name()
        .unwrap()
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Whether the health check is `Inverted`, read back with the SDK.
fn inverted(env: &Env, id: &str) -> bool {
    let c = env.clients(PRIMARY);
    let r = env
        .rt
        .block_on(c.route53.get_health_check().health_check_id(id).send())
        .unwrap();
    r.health_check()
        .unwrap()
        .health_check_config()
        .unwrap()
        .inverted()
        .unwrap_or(false)
}

fn set_inverted(env: &Env, id: &str, inverted: bool) {
    let c = env.clients(PRIMARY);
    env.rt
        .block_on(
            c.route53
                .update_health_check()
                .health_check_id(id)
                .inverted(inverted)
                .send(),
        )
        .unwrap();
}

/// Make a check's endpoint fail (or answer again) for Route 53's checkers (patch R2).
fn force_failing(env: &Env, id: &str, failing: bool) {
    let body = format!("{{\"healthy\": {}}}", !failing);
    env.http("POST", &format!("/_shim/route53/health/{id}"), &body)
        .unwrap_or_else(|| panic!("the shim forces health check {id}"));
}

const FAST: &[&str] = &["--yes", "--poll-interval", "200ms"];

fn drill(s: &TestStack, args: &[&str]) -> common::Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(FAST);
    s.run("drill", &all)
}

fn summary(r: &common::Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON summary ({e}):\n{}", r.stdout))
}

#[test]
fn a_drill_fails_the_primary_over_to_the_secondary_and_restores_it() {
    let env = Env::new();
    let zone = Zone::new(&env, "drill-ok");
    let s = two_regions(&env, "drill-ok", &zone, false);
    s.deploy();
    let (alb1, alb2) = (
        alb_dns(&env, &s.name, PRIMARY),
        alb_dns(&env, &s.name, SECONDARY),
    );

    // status: both checks healthy, the name answers the primary's load balancer.
    let all = status(&s);
    for st in &all {
        let h = &st["health_check"];
        assert_eq!(h["healthy"], true, "{st:#}");
        assert_eq!(h["inverted"], false);
        assert!(h["observations"].as_u64().unwrap() > 0);
        assert_eq!(h["healthy_observations"], h["observations"]);
        assert!(h["last_status"].as_str().unwrap().starts_with("Success"));
        let d = &st["dns"];
        assert_eq!(d["name"], format!("app.{}", zone.name));
        assert_eq!(d["values"], serde_json::json!([alb1]));
        assert_eq!(d["target"], PRIMARY);
    }
    let primary_check = check_id(&all, PRIMARY);
    let human = s.run("status", &[]);
    assert_ok(&human, "status");
    human.assert_stderr(&[
        &format!("Route 53 health check {primary_check} healthy"),
        &format!(
            "Route 53 app.{} (zone {}) answers {alb1}: {PRIMARY}",
            zone.name, zone.name
        ),
    ]);

    // The drill: exactly two writes, the inversion and its undoing.
    env.reset();
    let t = Instant::now();
    let r = drill(&s, &["--region", PRIMARY, "--for", "0", "--output", "json"]);
    assert_ok(&r, "drill");
    assert!(t.elapsed() < Duration::from_secs(30));
    let sum = summary(&r);
    assert_eq!(sum["region"], PRIMARY);
    assert!(sum["failed_over_after_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(sum["answered_before"], alb1.as_str());
    assert_eq!(sum["answered_after"], alb2.as_str());
    assert_eq!(sum["target_before"], PRIMARY);
    assert_eq!(sum["target_after"], SECONDARY);
    assert_eq!(sum["restored"], true);
    assert_eq!(sum["interrupted"], false);
    // While it ran, Route 53's checkers saw the check inverted.
    r.assert_stderr(&[
        "Inverting the health check of us-east-1 (Ctrl-C restores it)",
        "health check us-east-1: unhealthy",
        "(inverted health check)",
        &format!("Route 53 answers {alb2} ({SECONDARY})"),
        "Route 53 failed over after",
        "Drill passed!",
    ]);
    assert_eq!(
        env.stats().write_ops,
        vec!["UpdateHealthCheck", "UpdateHealthCheck"]
    );
    assert!(!inverted(&env, &primary_check), "restored");
    let after = status(&s);
    assert_eq!(after[0]["dns"]["target"], PRIMARY, "users are back");
    assert_eq!(after[0]["health_check"]["healthy"], true);
    s.assert_converged();

    // Refused, without a write: a region of no stack, and a region users are not sent to.
    env.reset();
    let r = drill(&s, &["--region", "eu-west-1", "--for", "0"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["--region eu-west-1 is not one of the regions of stack \"drill-ok\""]);
    let r = drill(&s, &["--region", SECONDARY, "--for", "0"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["not us-west-2's load balancer", "would prove nothing"]);
    let r = drill(&s, &["--for", "0"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["drill needs --region"]);
    env.stats().assert_no_writes("refused drills");

    // A stack without dns: has nothing to drill.
    let plain = env.spec("plain.yaml", &common::web_spec("drill-plain", PRIMARY, ""));
    let r = env.ballast(&[
        "drill",
        plain.to_str().unwrap(),
        "--region",
        PRIMARY,
        "--yes",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["stack \"drill-plain\" has no `dns:`"]);

    destroy(&env, &s);
}

/// `destroy FILE`: nothing of the stack is left in either region, and no health check.
/// (`TestStack::destroy` counts what one region had.)
fn destroy(env: &Env, s: &TestStack) {
    let r = s.run("destroy", &["--yes"]);
    assert_ok(&r, "destroy");
    r.assert_stderr(&["Destroy complete!"]);
    assert_eq!(s.inventory(), common::Inventory::new(), "left in {PRIMARY}");
    let other = TestStack::new(env, &s.name, SECONDARY, &s.yaml());
    assert_eq!(
        other.inventory(),
        common::Inventory::new(),
        "left in {SECONDARY}"
    );
    assert!(status_checks_gone(env, &s.name), "health checks left");
}

/// No health check of the stack is left.
fn status_checks_gone(env: &Env, stack: &str) -> bool {
    let c = env.clients(PRIMARY);
    let r = env
        .rt
        .block_on(c.route53.list_health_checks().send())
        .unwrap();
    !r.health_checks().iter().any(|h| {
        h.caller_reference()
            .starts_with(&format!("ballast/{stack}/"))
    })
}

#[test]
fn a_drill_that_cannot_fail_over_exits_1_restored_and_one_with_a_fallback_page_passes() {
    let env = Env::new();
    let zone = Zone::new(&env, "drill-stuck");
    let s = two_regions(&env, "drill-stuck", &zone, false);
    s.deploy();
    let alb1 = alb_dns(&env, &s.name, PRIMARY);
    let all = status(&s);
    let (c1, c2) = (check_id(&all, PRIMARY), check_id(&all, SECONDARY));

    // The secondary is down too: with both unhealthy Route 53 answers the primary.
    force_failing(&env, &c2, true);
    let all = status(&s);
    assert_eq!(all[1]["health_check"]["healthy"], false);
    assert_eq!(all[1]["health_check"]["healthy_observations"], 0);
    assert!(all[1]["health_check"]["last_status"]
        .as_str()
        .unwrap()
        .starts_with("Failure"));
    assert_eq!(all[0]["dns"]["target"], PRIMARY);

    let t = Instant::now();
    let r = drill(
        &s,
        &[
            "--region",
            PRIMARY,
            "--for",
            "0",
            "--timeout",
            "2s",
            "--output",
            "json",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "gave up after the timeout: {:?}",
        t.elapsed()
    );
    r.assert_stderr(&[
        "Route 53 did not fail over within 2s",
        &format!("it still answers {alb1} ({PRIMARY})"),
        "health check of us-east-1 restored",
    ]);
    let sum = summary(&r);
    assert_eq!(sum["failed_over_after_seconds"], serde_json::Value::Null);
    assert_eq!(sum["answered_after"], alb1.as_str());
    assert_eq!(sum["restored"], true);
    assert!(!inverted(&env, &c1), "restored after the timeout");

    // With a fallback page, Route 53 sends users there when no region is healthy.
    s.set_yaml(&spec(&s.name, &zone.name, true));
    s.deploy();
    let r = drill(&s, &["--region", PRIMARY, "--for", "0", "--output", "json"]);
    assert_ok(&r, "drill to the fallback page");
    let sum = summary(&r);
    assert_eq!(sum["target_after"], "fallback");
    // The page is served from the primary region's S3 website endpoint.
    assert_eq!(sum["answered_after"], "s3-website-us-east-1.amazonaws.com");
    r.assert_stderr(&["(the fallback page)", "Drill passed!"]);
    assert!(!inverted(&env, &c1));

    force_failing(&env, &c2, false);
    destroy(&env, &s);
}

#[test]
fn an_interrupted_drill_is_restored_by_ctrl_c_and_otherwise_by_the_next_deploy() {
    let env = Env::new();
    let zone = Zone::new(&env, "drill-int");
    let s = two_regions(&env, "drill-int", &zone, false);
    s.deploy();
    let all = status(&s);
    let c1 = check_id(&all, PRIMARY);

    // Ctrl-C while holding: restored, exit 130.
    let mut child = env
        .command()
        .args(["drill", s.spec(), "--region", PRIMARY, "--for", "10m"])
        .args(FAST)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    // Generous: a slow CI machine with another lane beside it once took seconds per call.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.starts_with("Holding us-east-1 failed over") => break,
            Ok(l) => seen.push(l),
            Err(e) => {
                let _ = child.kill();
                panic!(
                    "the drill did not start holding within 120s ({e}); it printed:\n{}",
                    seen.join("\n")
                );
            }
        }
    }
    assert!(inverted(&env, &c1), "inverted while the drill holds");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status_code = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status_code.code(), Some(130), "{err}");
    assert!(err.contains("Interrupted."), "{err}");
    assert!(err.contains("health check of us-east-1 restored"), "{err}");
    assert!(!inverted(&env, &c1), "Ctrl-C restored the check");

    // A drill that could not restore (killed): the check stays inverted.
    set_inverted(&env, &c1, true);
    let all = status(&s);
    assert_eq!(all[0]["health_check"]["inverted"], true);
    assert_eq!(all[0]["health_check"]["healthy"], false);
    assert_eq!(all[0]["dns"]["target"], SECONDARY);
    let human = s.run("status", &[]);
    human.assert_stderr(&["inverted: a drill is running or was interrupted"]);
    // Another drill refuses; the plan shows the repair; deploy makes it with one write.
    let r = drill(&s, &["--region", PRIMARY, "--for", "0"]);
    assert_eq!(r.code, 1);
    r.assert_stderr(&["is already inverted", "ballast deploy"]);
    let plan = s.plan_json();
    assert_eq!(
        plan.actions(),
        common::actions(&[("global:aws_route53_health_check.health.us-east-1", "update")])
    );
    let change = plan.change("global:aws_route53_health_check.health.us-east-1");
    assert_eq!(
        change["changed"],
        serde_json::json!([{"key": "inverted", "before": true, "after": false, "forces_replacement": false}])
    );
    let human = s.run("plan", &[]);
    human.assert_stderr(&["inverted = true -> false", "Plan: 0 to add, 1 to change"]);
    let d = s.deploy();
    assert_eq!(d.stats.write_ops, vec!["UpdateHealthCheck"]);
    assert!(!inverted(&env, &c1), "the deploy restored the check");
    assert_eq!(status(&s)[0]["dns"]["target"], PRIMARY);
    s.assert_converged();

    destroy(&env, &s);
}
