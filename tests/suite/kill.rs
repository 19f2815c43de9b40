//! The kill matrix: a cold deploy killed right after its k-th write, for every k, converges
//! with one more deploy. The shim lets exactly k writes through and then hangs every call
//! (`/_shim/freeze`), the test kills the process, and the calls it held never reach AWS.
//!
//! The freeze is per scope (each test's access key, tests/emulator/README.md "Scopes"): the two
//! matrices run at once beside each other's calls.
//!
//! The suite tries a budget of k per run (every `stride`-th, from an offset that changes daily, so
//! that consecutive days cover every k), not every k: the budget keeps the matrix's time flat as a
//! stack's writes grow. `BALLAST_KILL_STRIDE=1` tries every k.

use crate::common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{assert_ok, web_inventory, web_spec, Env, TestStack};

#[test]
fn a_deploy_killed_after_any_write_converges_with_one_more_deploy() {
    let env = Env::new();
    let region = "eu-north-1";
    let name = "kill-k";
    // With access logs, a web ACL and VPC endpoints instead of NAT (the two-region stack
    // keeps NAT in the matrix): the log bucket's writes (made, configured, named by the load
    // balancer), the web ACL's and its association, the endpoints' and their group's are
    // killed after too.
    let yaml = format!(
        "{}load_balancer:\n  access_logs: true\n  waf: baseline\nnetwork:\n  egress: endpoints\n",
        web_spec(name, region, "").replace(
            "public.ecr.aws/nginx/nginx:1.27",
            &format!("123456789012.dkr.ecr.{region}.amazonaws.com/nginx:1.27"),
        )
    );
    let s = TestStack::new(&env, name, region, &yaml);
    let account = s
        .block_on(s.clients().sts.get_caller_identity().send())
        .unwrap()
        .account()
        .unwrap()
        .to_string();
    let mut want = web_inventory(
        name,
        region,
        &[&format!("{region}a"), &format!("{region}b")],
    );
    want.insert(
        "aws_s3_log_bucket".into(),
        vec![format!("{name}-alb-{account}-{region}-an")],
    );
    want.insert("aws_wafv2_web_acl".into(), vec![format!("{name}-baseline")]);
    want.remove("aws_eip");
    want.remove("aws_nat_gateway");
    let mut endpoints: Vec<String> = ["ecr.api", "ecr.dkr", "logs", "s3"]
        .iter()
        .map(|e| format!("{name}-{e}"))
        .collect();
    endpoints.sort();
    want.insert("aws_vpc_endpoint".into(), endpoints);
    let groups = want.get_mut("aws_security_group").unwrap();
    groups.push(format!("{name}-endpoints"));
    groups.sort();
    let writes = matrix(&env, &s, &want, 20);
    assert!(writes > 20, "a cold deploy of the web stack: {writes}");
}

/// The two-region stack with failover records, health checks and a fallback page: the writes
/// of both regions and of Route 53 and S3 interleave, and a health check is tagged in a second
/// call. Fourteen values of k by default (`BALLAST_KILL_STRIDE=1` for every k: a run of about
/// 15 minutes).
#[test]
fn a_two_region_deploy_killed_after_any_write_converges_with_one_more_deploy() {
    let env = Env::new();
    let name = "kill-fo";
    let zone = "kill-fo.example";
    common::zone(&env, zone);
    let yaml = format!(
        "name: {name}\nregions: [us-east-1, us-west-2]\nservice:\n  image: nginx\n  port: 80\n  desired_count: 1\n\
         dns:\n  zone: {zone}\n  name: app.{zone}\n  health_check:\n    path: /healthz\n  fallback:\n    page: page.html\n"
    );
    let s = TestStack::new(&env, name, "us-east-1", &yaml);
    let dir = std::path::Path::new(s.spec()).parent().unwrap();
    std::fs::write(dir.join("page.html"), "<!doctype html><p>Back soon.</p>\n").unwrap();
    let want = s.plan_json().inventory_after();
    let writes = matrix(&env, &s, &want, 14);
    assert!(
        writes > 40,
        "a cold deploy of the two-region stack: {writes}"
    );
}

/// Every `BALLAST_KILL_STRIDE`-th k, or a stride that tries about `budget` of `writes` (the
/// first and the last k are tried as well).
fn stride(writes: u64, budget: u64) -> u64 {
    std::env::var("BALLAST_KILL_STRIDE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| writes.div_ceil(budget.max(1)))
        .max(1)
}

/// Which k of every `stride` are tried: `BALLAST_KILL_OFFSET`, or one that changes every day
/// (days since 1970, modulo the stride), so that runs on consecutive days cover every k.
fn offset(stride: u64) -> u64 {
    let day = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 86_400)
    };
    std::env::var("BALLAST_KILL_OFFSET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(day)
        % stride.max(1)
}

/// Cold-deploy `s` once to count its writes, destroy it, then for about `budget` values of k
/// (every `stride`-th from `offset`, the first and the last) kill a cold deploy right after its
/// k-th write, break the locks it left, deploy once more and require the stack converged with
/// exactly `want`. Returns the number of writes of a cold deploy, the locks' included.
fn matrix(env: &Env, s: &TestStack, want: &common::Inventory, budget: u64) -> u64 {
    // How many writes a cold deploy makes: the stack lock's PutParameter in each region first,
    // the resources' writes, and the locks' DeleteParameter last (after the rollout).
    let cold = s.deploy().stats;
    let regions = cold.lock_ops.len() / 2;
    assert!(regions >= 1, "{:?}", cold.lock_ops);
    let resources = cold.writes;
    let writes = resources + cold.lock_ops.len() as u64;
    s.destroy();

    let mut tried = 0;
    let stride = stride(writes, budget);
    let offset = offset(stride);
    eprintln!(
        "trying every k with k % {stride} == {offset} (BALLAST_KILL_STRIDE, BALLAST_KILL_OFFSET), the first and the last"
    );
    for k in (1..=writes).filter(|k| k % stride == offset || *k == writes || *k == 1) {
        tried += 1;
        env.freeze_after_writes(k);
        let mut child = env
            .command()
            .args(["deploy", s.spec(), "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Generous: a slow CI machine with another lane beside it once took seconds per call.
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let f = env.freeze_state();
            if f["frozen"] == true && f["waiting"].as_u64().unwrap_or(0) > 0 {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                // After its last write (the lock's release) a deploy calls nothing more.
                assert!(
                    k == writes && status.success(),
                    "k={k}: the deploy ended ({status}) before it was killed: {f}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "k={k}: the deploy neither wrote {k} times nor ended in 180 s: {f}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().ok();
        child.wait().unwrap();
        assert_eq!(env.freeze_state()["passed"], k, "k={k}: exactly k writes");
        env.thaw();
        env.wait_idle();
        // A killed deploy cannot release the stack's locks: its owner breaks them by their id,
        // at once: this emulator lists what was made without lag (tests/suite/consistency.rs has the
        // wait that a lagging AWS needs).
        for region in &s.regions {
            if let Some(id) = common::lock_id(s, region) {
                let r = env.ballast(&["unlock", &s.name, "--region", region, &id, "--no-wait"]);
                assert_ok(&r, &format!("unlock in {region} after a kill at write {k}"));
            }
        }

        env.reset();
        // The emulator's rollouts finish at once: polling them every 5 s (the default) would be
        // most of the matrix's time.
        let r = s.run("deploy", &["--yes", "--poll-interval", "200ms"]);
        assert_ok(&r, &format!("the deploy after a kill at write {k}"));
        let rest = env.stats();
        eprintln!("k={k}: the next deploy wrote {} times", rest.writes);
        // The kill left something undone, and the next deploy did it; killed after its last
        // resource write (in the rollout wait, or done), the next deploy has nothing to do.
        if k < writes - regions as u64 {
            assert!(rest.writes > 0, "k={k}: nothing left to do?");
        } else {
            assert_eq!(rest.writes, 0, "k={k}: {:?}", rest.write_ops);
        }
        assert_eq!(&s.inventory(), want, "k={k}: one of each, nothing missing");
        // Converged: the plan has nothing to do (a deploy of such a plan writes nothing:
        // `TestStack::assert_converged`, which every other test runs, checks that).
        s.assert_no_changes();
        s.destroy();
    }
    eprintln!(
        "kill matrix of {}: {tried} of {writes} values of k, each converged",
        s.name
    );
    writes
}
