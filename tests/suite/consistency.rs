//! AWS is eventually consistent (issue 13): with the shim answering as AWS does while new
//! resources propagate (every new id's first use fails as its service says, listings leave out
//! what is younger than 3 s, IAM and Logs deletes conflict once), every example deploys at the
//! first try, an immediate plan finds nothing to do, an immediate redeploy writes nothing, an
//! immediate destroy leaves nothing, and a real error still fails at once.

use crate::common;

use std::time::{Duration, Instant};

use common::{assert_ok, web_inventory, web_spec, zone, Env, Inventory, TestStack};

/// Every new id faulted on its first use by each service, listings 3 s behind, one
/// DeleteConflict / OperationAborted per role and log group.
const AWS: &str =
    r#"{"first_uses": 1, "rate": 1.0, "seed": 7, "listing_lag_s": 3, "delete_conflicts": 1}"#;

/// Deploy at the first try, then at once: plan (exit 0), deploy (zero writes), destroy
/// ("complete"), all while AWS propagates; then, with AWS consistent again, nothing is left.
fn first_try_and_at_once(env: &Env, s: &TestStack, what: &str) -> serde_json::Value {
    env.propagate(AWS);
    let r = s.run("deploy", &["--yes"]);
    assert_ok(
        &r,
        &format!("{what}: the first deploy while AWS propagates"),
    );
    r.assert_stderr(&["Apply complete!"]);

    let plan = s.run("plan", &["--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "{what}: a plan right after the deploy finds nothing to do:\n{}",
        plan.stderr
    );
    plan.assert_stderr(&["No changes."]);

    env.reset();
    let again = s.run("deploy", &["--yes"]);
    assert_ok(&again, &format!("{what}: a deploy right after"));
    again.assert_stderr(&["No changes."]);
    env.stats()
        .assert_no_writes(&format!("{what}: a deploy right after the first"));

    let d = s.run("destroy", &["--yes"]);
    assert_ok(&d, &format!("{what}: a destroy right after"));
    d.assert_stderr(&["Destroy complete!"]);
    let seen = env.consistent();
    assert_eq!(
        s.inventory(),
        Inventory::new(),
        "{what}: left after the destroy, read with AWS consistent again"
    );
    // The same destroy has nothing to do (and says so, writing nothing).
    s.destroy();
    seen
}

/// Access logs: ELB refuses a new bucket ("Access Denied for bucket") until its policy is seen;
/// the deploy waits that out at the first try, and destroy leaves nothing.
#[test]
fn access_logs_deploy_at_the_first_try_while_aws_propagates() {
    let env = Env::new();
    let (stack, region) = ("cons-logs", "us-east-2");
    let yaml = format!(
        "{}load_balancer:\n  access_logs: true\n",
        web_spec(stack, region, "")
    );
    let s = TestStack::new(&env, stack, region, &yaml);
    let seen = first_try_and_at_once(&env, &s, "access logs");
    let met = seen["log"].as_array().unwrap().iter().any(|l| {
        l["code"] == "InvalidConfigurationRequest" && l["op"] == "ModifyLoadBalancerAttributes"
    });
    assert!(met, "ELB's access-denied answer was met: {seen}");
}

/// WAF: AWS WAF cannot yet see a new web ACL or load balancer when the deploy associates them
/// (WAFUnavailableEntityException); the deploy waits that out at the first try, and destroy
/// leaves nothing (the ACL lets go of the load balancer first).
#[test]
fn a_web_acl_is_associated_at_the_first_try_while_aws_propagates() {
    let env = Env::new();
    let (stack, region) = ("cons-waf", "us-east-2");
    let yaml = format!(
        "{}load_balancer:\n  allow_http: true\n  waf: baseline\n",
        web_spec(stack, region, "")
    );
    let s = TestStack::new(&env, stack, region, &yaml);
    let seen = first_try_and_at_once(&env, &s, "WAF");
    let met = seen["log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["code"] == "WAFUnavailableEntityException" && l["op"] == "AssociateWebACL");
    assert!(met, "WAF's unavailable-entity answer was met: {seen}");
}

/// VPC endpoints instead of NAT: each new endpoint is "not found" at its first read, and the
/// deploy waits it out; destroy leaves nothing.
#[test]
fn vpc_endpoints_deploy_at_the_first_try_while_aws_propagates() {
    let env = Env::new();
    let (stack, region) = ("cons-vpce", "us-east-2");
    let yaml = format!(
        "name: {stack}\nregion: {region}\nservice:\n  image: 123456789012.dkr.ecr.{region}.amazonaws.com/web:1\n  user: \"101\"\nnetwork:\n  egress: endpoints\n"
    );
    let s = TestStack::new(&env, stack, region, &yaml);
    let seen = first_try_and_at_once(&env, &s, "VPC endpoints");
    let met = seen["log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["code"] == "InvalidVpcEndpointId.NotFound");
    assert!(met, "a new endpoint was not found at first: {seen}");
}

#[test]
fn the_web_stack_deploys_at_the_first_try_while_aws_propagates() {
    let env = Env::new();
    let s = TestStack::new(
        &env,
        "cons-web",
        "us-east-1",
        &web_spec("cons-web", "us-east-1", ""),
    );
    env.propagate(AWS);
    let r = s.run("deploy", &["--yes"]);
    assert_ok(&r, "the first deploy while AWS propagates");
    // Each wait is said, naming what AWS did not show yet.
    r.assert_stderr(&[
        "waiting for AWS to see vpc-",
        "(new resources take a few seconds to propagate)",
    ]);
    let seen = env.consistent();
    let faulted = seen["faulted"].as_u64().unwrap();
    assert!(faulted >= 5, "the shim answered as AWS does: {seen}");
    // Every class of the web stack met its propagation answer.
    let codes: Vec<&str> = seen["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["code"].as_str())
        .collect();
    for code in [
        "InvalidVpcID.NotFound",
        "InvalidGroup.NotFound",
        "NoSuchEntity",
        "ClusterNotFoundException",
        // CreateFlowLogs naming the flow logs role made a moment ago.
        "InvalidParameter",
    ] {
        assert!(codes.contains(&code), "{code} not met: {codes:?}");
    }
    assert_eq!(
        s.inventory(),
        web_inventory("cons-web", "us-east-1", &["us-east-1a", "us-east-1b"]),
        "exactly the web stack: no duplicate"
    );
    s.assert_converged();
    s.destroy();

    // And the whole sequence at once.
    first_try_and_at_once(&env, &s, "web");
}

#[test]
fn every_example_converges_at_the_first_try_while_aws_propagates() {
    let _turn = common::examples_turn();
    let env = Env::new();
    let files = common::examples();
    let mut met = std::collections::BTreeSet::new();
    for f in files {
        let s = TestStack::from_file(&env, &f);
        if s.global {
            zone(&env, "example.com");
        }
        let seen = first_try_and_at_once(&env, &s, &f.display().to_string());
        assert!(
            seen["faulted"].as_u64().unwrap() > 0 && seen["hidden"].as_u64().unwrap() > 0,
            "{}: the shim faulted and hid: {seen}",
            f.display()
        );
        for l in seen["log"].as_array().unwrap() {
            met.insert(format!(
                "{} {}",
                l["service"].as_str().unwrap_or_default(),
                l["code"].as_str().unwrap_or_default()
            ));
        }
    }
    // Every class of AWS's propagation answers was met by some example, and converged.
    for class in [
        "ec2 InvalidVpcID.NotFound",
        "ec2 InvalidSubnetID.NotFound",
        "ec2 InvalidGroup.NotFound",
        "ec2 InvalidInternetGatewayID.NotFound",
        "ec2 InvalidRouteTableID.NotFound",
        "iam NoSuchEntity",
        "iam DeleteConflict",
        "ecs ClientException",
        "ecs ClusterNotFoundException",
        "ecs InvalidParameterException",
        "application-autoscaling ValidationException",
        "application-autoscaling ObjectNotFoundException",
        "logs ResourceNotFoundException",
        "logs OperationAbortedException",
        "s3 NoSuchBucket",
        "route53 NoSuchHealthCheck",
    ] {
        assert!(met.contains(class), "{class} was not met: {met:?}");
    }
}

#[test]
fn a_failed_deploy_followed_at_once_by_another_makes_nothing_twice() {
    let env = Env::new();
    let s = TestStack::new(
        &env,
        "cons-again",
        "us-east-1",
        &web_spec("cons-again", "us-east-1", ""),
    );
    env.propagate(AWS);
    // A real error late in the deploy: the network, load balancer and roles exist by then.
    env.fault("CreateService", 1, 400, "InvalidParameterException");
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(
        r.code, 1,
        "the injected error fails the deploy:\n{}",
        r.stderr
    );
    let r = s.run("deploy", &["--yes"]);
    assert_ok(&r, "the deploy right after the failed one");
    env.consistent();
    assert_eq!(
        s.inventory(),
        web_inventory("cons-again", "us-east-1", &["us-east-1a", "us-east-1b"]),
        "one of everything"
    );
    s.assert_converged();
    s.destroy();
}

/// Ctrl-C in the middle of the apply: before it lets the lock go, the stopped deploy waits
/// until the listings show what it made, so a deploy started the moment it exits (its listings
/// 3 s behind) finds the VPC and the rest instead of making them again.
#[test]
fn a_deploy_stopped_with_ctrl_c_and_run_again_at_once_makes_nothing_twice() {
    let env = Env::new();
    let (name, region) = ("cons-ctrlc", "us-east-1");
    let s = TestStack::new(&env, name, region, &web_spec(name, region, ""));
    env.propagate(AWS);
    // Slow calls: the VPC and its subnets exist well before the apply ends.
    env.set_delay(150);
    let (mut child, rx) = common::spawn(&env, &["deploy", s.spec(), "--yes", "--no-wait"]);
    let mut seen = String::new();
    common::read_until(&rx, &mut seen, |l| {
        l.starts_with("aws_subnet.") && l.contains("Created")
    });
    common::sigint(&child);
    let status = child.wait().unwrap();
    common::drain(&rx, &mut seen);
    env.set_delay(0);
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(
        seen.contains("waiting for AWS to list what was made"),
        "the stopped deploy waits for the listings:\n{seen}"
    );
    let r = s.run("deploy", &["--yes"]);
    assert_ok(&r, "the deploy right after the stopped one");
    let state = env.consistent();
    assert!(
        state["hidden"].as_u64().unwrap_or(0) > 0,
        "the listings lagged: {state}"
    );
    one_of_everything(&s, name, region);
}

/// A deploy killed outright (SIGKILL: no handler runs, nothing waits for the listings) leaves
/// its lock, and `unlock` is the only way past it. Run the moment the holder dies, unlock waits
/// until AWS lists what the holder may have made in its last moments (a third of the lease
/// plus 30 s after its last renewal), so the deploy started right after it finds the VPC and
/// subnets the killed one made seconds before, instead of making them again.
#[test]
fn a_deploy_killed_outright_and_run_again_after_unlock_makes_nothing_twice() {
    let env = Env::new();
    let (name, region) = ("cons-kill", "us-east-1");
    let s = TestStack::new(&env, name, region, &web_spec(name, region, ""));
    env.propagate(AWS);
    env.set_delay(150);
    let (mut child, rx) = common::spawn(
        &env,
        &[
            "deploy",
            s.spec(),
            "--yes",
            "--no-wait",
            "--lock-lease",
            "3s",
        ],
    );
    let mut seen = String::new();
    common::read_until(&rx, &mut seen, |l| {
        l.starts_with("aws_subnet.") && l.contains("Created")
    });
    child.kill().unwrap();
    child.wait().unwrap();
    env.set_delay(0);
    let id = common::lock_id(&s, region).expect("the killed deploy left its lock");

    let started = Instant::now();
    let r = env.ballast(&["unlock", name, "--region", region, &id]);
    assert_ok(&r, "unlock right after the kill");
    r.assert_stderr(&[
        "before removing lock",
        "may have made resources in its last moments that AWS does not list yet",
        &format!("removed lock {id}"),
    ]);
    // Lease 3 s, renewed every second: the last renewal was at most a second before the kill.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(29),
        "unlock waited {waited:?}:\n{}",
        r.stderr
    );
    let r = s.run("deploy", &["--yes"]);
    assert_ok(&r, "the deploy right after the unlock");
    env.consistent();
    one_of_everything(&s, name, region);
}

#[test]
fn real_errors_still_fail_at_once_while_aws_propagates() {
    let env = Env::new();
    let s = TestStack::new(
        &env,
        "cons-denied",
        "us-east-1",
        &web_spec("cons-denied", "us-east-1", ""),
    );
    env.propagate(AWS);
    // The caller may not create VPCs: no wait, no retry.
    env.fault("CreateVpc", 1, 403, "UnauthorizedOperation");
    let t = Instant::now();
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["failed to create VPC", "UnauthorizedOperation"]);
    let vpc = r
        .stderr
        .lines()
        .find(|l| l.contains("UnauthorizedOperation"))
        .unwrap();
    assert!(
        !vpc.contains("after waiting") && !r.stderr.contains("see what CreateVpc names"),
        "an access denial is not waited for:\n{}",
        r.stderr
    );
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "fails at once: {:?}",
        t.elapsed()
    );
    // A bad value is no propagation either (the subnets come after the VPC, so this deploy
    // makes them).
    env.fault("CreateSubnet", 1, 400, "InvalidParameterValue");
    let t = Instant::now();
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["failed to create subnet", "InvalidParameterValue"]);
    assert!(
        !r.stderr.contains("see what CreateSubnet names"),
        "{}",
        r.stderr
    );
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    env.consistent();
    s.destroy();
}

/// The web stack `name` in `region` holds one of each of its resources and plans no change;
/// then it is destroyed.
fn one_of_everything(s: &TestStack, name: &str, region: &str) {
    assert_eq!(
        s.inventory(),
        web_inventory(
            name,
            region,
            &[&format!("{region}a"), &format!("{region}b")]
        ),
        "one of everything"
    );
    s.assert_converged();
    s.destroy();
}
