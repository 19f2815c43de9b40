//! Integration-test harness: runs the `ballast` binary against the emulator named by
//! `AWS_ENDPOINT_URL` (scripts/test starts one) and reads AWS back with the SDK.
//!
//! Tests share one emulator; each signs with an access key of its own, so call counts, faults
//! and freezes stay per test (`Env`). The call counts come from the emulator shim
//! (`/_shim/stats`, tests/emulator/README.md). The shim is expected: without it `Env::new` fails, unless `BALLAST_TEST_SHIM=0` says another endpoint
//! (e.g. LocalStack) is meant. Even then a check that needs the shim (call counts, fault
//! injection, latency, rollout outcomes) fails loudly: no test passes by skipping.

#![allow(dead_code)]

use std::cell::{Cell, OnceCell};
use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_applicationautoscaling::types::{
    ScalableTarget, ScalingPolicy, ScheduledAction, ServiceNamespace,
};
use aws_sdk_ec2::types::Filter;
use ballast::aws::Clients;

/// The example stacks, `stacks/*.yaml`, sorted.
pub fn examples() -> Vec<PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

/// The example stacks keep their names, so the tests that deploy all of them on one emulator
/// take turns: each holds this while it does.
pub fn examples_turn() -> std::sync::MutexGuard<'static, ()> {
    static EXAMPLES: std::sync::Mutex<()> = std::sync::Mutex::new(());
    EXAMPLES.lock().unwrap_or_else(|e| e.into_inner())
}

/// How many environments this test binary has made (each gets an access key of its own).
static ENVS: AtomicUsize = AtomicUsize::new(0);

/// A test's view of the emulator. Every AWS call it makes (ballast's and its own SDK clients')
/// is signed with `key`, an access key id of its own, and every /_shim/ call names that key in
/// `X-Shim-Scope`: the shim counts, delays, faults, throttles and freezes each test's calls
/// apart (tests/emulator/README.md, "Scopes"), so the tests of a binary run at once on one
/// emulator. AWS state is shared: each test keeps to stack names of its own.
pub struct Env {
    pub endpoint: String,
    host_port: String,
    pub shim: bool,
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    /// The access key id this test signs with: its scope in the shim.
    pub key: String,
}

/// The secret of every test's access key (the emulator does not check signatures).
const SECRET: &str = "test";

/// The shim's call counts since the last `Env::reset`.
///
/// `writes` and `write_ops` are the writes to the stack's resources: the stack lock's SSM
/// writes (PutParameter, DeleteParameter of `/ballast/locks/<stack>`, two per command that
/// writes) are in `lock_ops` instead, which tests/suite/lock.rs checks. `total` and `calls` count
/// everything.
#[derive(Debug, Default)]
pub struct Stats {
    pub total: u64,
    pub writes: u64,
    /// Operation names of the write calls, in order (without the lock's).
    pub write_ops: Vec<String>,
    /// The stack lock's write calls (`PutParameter`, `DeleteParameter`), in order.
    pub lock_ops: Vec<String>,
    /// Every call, reads too, as `service Op` (`sts GetCallerIdentity`), in order.
    pub calls: Vec<String>,
}

impl Stats {
    /// Fails with the write calls made unless there were none.
    pub fn assert_no_writes(&self, what: &str) {
        assert_eq!(self.writes, 0, "{what} wrote: {:?}", self.write_ops);
    }

    /// How many write calls of `op` were made.
    pub fn count(&self, op: &str) -> usize {
        self.write_ops.iter().filter(|o| *o == op).count()
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Fails with the whole of stderr unless it contains every one of `needles`.
    pub fn assert_stderr(&self, needles: &[&str]) {
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "missing {n:?} in stderr:\n{}",
                self.stderr
            );
        }
    }
}

/// Whether the shim must be there: yes unless `BALLAST_TEST_SHIM=0`.
fn shim_expected() -> bool {
    !matches!(
        std::env::var("BALLAST_TEST_SHIM").as_deref(),
        Ok("0" | "off" | "no" | "false")
    )
}

impl Env {
    pub fn new() -> Env {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").expect(
            "AWS_ENDPOINT_URL is not set: run the suite with scripts/test (it starts the emulator), \
             or start one with scripts/emulator start",
        );
        let env = Env::at(endpoint);
        assert!(
            env.shim || !shim_expected(),
            "the emulator shim does not answer {}/_shim/health. The suite runs against moto behind \
             the shim (scripts/test starts both; tests/emulator/README.md). To run against another \
             endpoint set BALLAST_TEST_SHIM=0: the checks that need the shim then fail, they are \
             never skipped.",
            env.endpoint
        );
        env
    }

    /// Answer as AWS does while new resources propagate (tests/emulator/README.md, "Consistency
    /// mode"): `spec` is the JSON of `POST /_shim/consistency`.
    pub fn propagate(&self, spec: &str) {
        self.shim_call("POST", "/_shim/consistency", spec, "the consistency mode");
    }

    /// End the consistency mode; what it did (`faulted`, `hidden`, `log`).
    pub fn consistent(&self) -> serde_json::Value {
        let state = self.shim_call("GET", "/_shim/consistency", "", "the consistency mode");
        self.shim_call("DELETE", "/_shim/consistency", "", "the consistency mode");
        serde_json::from_str(&state).unwrap()
    }

    /// An environment on `endpoint` (loopback only) with an access key of its own; its first
    /// /_shim/ call (the counters' reset) makes its scope in the moto shim. Touches none of the
    /// shim's other controls, so it also fits the LocalStack proxy (which has no scopes: its
    /// tests run one at a time).
    pub fn at(endpoint: String) -> Env {
        let host_port = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        assert!(
            host_port.starts_with("127.")
                || host_port.starts_with("localhost")
                || host_port.starts_with("[::1]"),
            "tests only talk to loopback endpoints, not {endpoint}"
        );
        let mut env = Env {
            endpoint,
            host_port,
            shim: false,
            dir: tempfile::tempdir().unwrap(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            key: format!(
                "AKIDT{}N{}",
                std::process::id(),
                ENVS.fetch_add(1, Ordering::SeqCst)
            ),
        };
        env.shim = env
            .http("GET", "/_shim/health", "")
            .is_some_and(|b| b.trim() == "ok");
        if env.shim {
            env.reset();
        }
        env
    }

    /// Remove whatever an earlier, aborted run left of `stack`, so tests can be re-run against a
    /// long-lived emulator.
    pub fn clean(&self, stack: &str, region: &str) {
        // A run killed while holding the stack's lock left it (a stale lock refuses destroy).
        let c = self.clients(region);
        let _ = self.rt.block_on(
            c.ssm
                .delete_parameter()
                .name(format!("/ballast/locks/{stack}"))
                .send(),
        );
        let r = self.ballast(&["destroy", "--stack", stack, "--region", region, "--yes"]);
        assert_eq!(r.code, 0, "cleaning up {stack}: {}", r.stderr);
        self.reset();
    }

    /// A minimal HTTP/1.0 request to the emulator's control endpoints.
    pub fn http(&self, method: &str, path: &str, body: &str) -> Option<String> {
        let mut s = TcpStream::connect(&self.host_port).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let req = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nX-Shim-Scope: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host_port,
            self.key,
            body.len()
        );
        s.write_all(req.as_bytes()).ok()?;
        let mut resp = String::new();
        s.read_to_string(&mut resp).ok()?;
        let (head, body) = resp.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200")
            .then(|| body.to_string())
            .or_else(|| head.contains(" 200 ").then(|| body.to_string()))
    }

    /// A call to the shim that the test cannot do without: fails the test if there is no shim.
    fn shim_call(&self, method: &str, path: &str, body: &str, what: &str) -> String {
        assert!(
            self.shim,
            "{what} needs the emulator shim (tests/emulator/README.md), and {} has none: \
             this check cannot run here, so the test fails instead of passing untested",
            self.endpoint
        );
        self.http(method, path, body)
            .unwrap_or_else(|| panic!("{what}: the shim did not answer {method} {path}"))
    }

    /// Zero the shim's call counters. Without a shim there are none to zero, and any later
    /// `stats()` fails the test.
    pub fn reset(&self) {
        if self.shim {
            self.shim_call("POST", "/_shim/reset", "", "resetting call counts");
        }
    }

    pub fn set_delay(&self, ms: u64) {
        let body = format!("{{\"ms\": {ms}}}");
        self.shim_call("POST", "/_shim/delay", &body, "adding latency");
    }

    /// How ECS deployments created from now on end (see tests/emulator/README.md).
    pub fn set_rollout(&self, state: &str, reason: &str) {
        let body = format!("{{\"state\": \"{state}\", \"reason\": \"{reason}\"}}");
        self.shim_call("POST", "/_shim/rollout", &body, "choosing rollout outcomes");
    }

    /// Make the next `count` calls of `op` fail with `code`.
    pub fn fault(&self, op: &str, count: u32, status: u16, code: &str) {
        let body = format!(
            "{{\"op\": \"{op}\", \"count\": {count}, \"status\": {status}, \"code\": \"{code}\", \"message\": \"injected by test\"}}"
        );
        self.shim_call("POST", "/_shim/faults", &body, "fault injection");
    }

    /// Throttle each AWS call with probability `rate` (the shim answers in the service's own
    /// throttling error shape), reproducibly for one `seed` and order of calls.
    pub fn throttle(&self, rate: f64, seed: u64) {
        let body = format!("{{\"rate\": {rate}, \"seed\": {seed}}}");
        self.shim_call("POST", "/_shim/throttle", &body, "throttling");
    }

    /// Stop throttling; how many calls were throttled.
    pub fn stop_throttling(&self) -> u64 {
        let body = self.shim_call("DELETE", "/_shim/throttle", "", "throttling");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["throttled"].as_u64().unwrap()
    }

    /// Let the next `k` writes through, then hang every call (a client to kill after write k).
    /// Global to the emulator: only for a test binary with no other test running alongside.
    pub fn freeze_after_writes(&self, k: u64) {
        let body = format!("{{\"after_writes\": {k}}}");
        self.shim_call("POST", "/_shim/freeze", &body, "freezing after k writes");
    }

    /// `{"after_writes", "passed", "frozen", "waiting"}` of the freeze armed.
    pub fn freeze_state(&self) -> serde_json::Value {
        let body = self.shim_call("GET", "/_shim/freeze", "", "reading the freeze");
        serde_json::from_str(&body).unwrap()
    }

    /// End the freeze: the calls it held are answered 503 and never reach the emulator.
    pub fn thaw(&self) {
        self.shim_call("DELETE", "/_shim/freeze", "", "ending the freeze");
    }

    /// Wait until the emulator has answered every AWS call it received: a killed client's calls
    /// still land after it is gone (the shim's delay holds them).
    pub fn wait_idle(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let body = self.shim_call("GET", "/_shim/stats", "", "waiting for calls in flight");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let n = v["in_flight"].as_u64().expect("/_shim/stats has in_flight");
            if n == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{n} AWS calls still in flight after 60s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The calls counted since the last `reset`. Fails the test if there is no shim to count.
    pub fn stats(&self) -> Stats {
        let body = self.shim_call("GET", "/_shim/stats", "", "counting AWS calls");
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("/_shim/stats is not JSON ({e}): {body}"));
        let count = |k: &str| {
            v[k].as_u64()
                .unwrap_or_else(|| panic!("/_shim/stats has no {k}: {body}"))
        };
        let calls = v["calls"]
            .as_array()
            .unwrap_or_else(|| panic!("/_shim/stats has no calls: {body}"));
        let is_lock = |c: &serde_json::Value| c["service"].as_str() == Some("ssm");
        let writes = |lock: bool| -> Vec<String> {
            calls
                .iter()
                .filter(|c| c["write"].as_bool() == Some(true) && is_lock(c) == lock)
                .map(|c| c["op"].as_str().expect("a call has an op").to_string())
                .collect()
        };
        let write_ops = writes(false);
        assert_eq!(
            count("writes") as usize,
            write_ops.len() + writes(true).len(),
            "{body}"
        );
        Stats {
            total: count("total"),
            writes: write_ops.len() as u64,
            write_ops,
            lock_ops: writes(true),
            calls: v["calls"]
                .as_array()
                .unwrap_or_else(|| panic!("/_shim/stats has no calls: {body}"))
                .iter()
                .map(|c| {
                    format!(
                        "{} {}",
                        c["service"].as_str().unwrap_or_default(),
                        c["op"].as_str().expect("a call has an op")
                    )
                })
                .collect(),
        }
    }

    pub fn spec(&self, file: &str, yaml: &str) -> PathBuf {
        let p = self.dir.path().join(file);
        std::fs::write(&p, yaml).unwrap();
        p
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ballast"));
        c.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null());
        c
    }

    pub fn ballast(&self, args: &[&str]) -> Run {
        Run::from(self.command().args(args).output().expect("run ballast"))
    }

    /// An ACM client for `region` (ballast has none: tests request certificates), signing with
    /// this test's key.
    pub fn acm(&self, region: &str) -> aws_sdk_acm::Client {
        let keys = aws_sdk_sts::config::Credentials::new(&self.key, SECRET, None, None, "test");
        let conf = self.rt.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region.to_string()))
                .endpoint_url(&self.endpoint)
                .credentials_provider(keys)
                .load(),
        );
        aws_sdk_acm::Client::new(&conf)
    }

    /// ballast's clients for `region`, signing with this test's key.
    pub fn clients(&self, region: &str) -> Clients {
        let settings = ballast::aws::Settings {
            region: region.into(),
            profile: None,
            endpoint_url: Some(self.endpoint.clone()),
        };
        self.rt.block_on(ballast::aws::connect_with_keys(
            &settings, &self.key, SECRET,
        ))
    }
}

impl Drop for Env {
    /// Forget this test's scope in the shim (its counts and switches), even after a failed
    /// test. Errors are ignored: this may run during a panic.
    fn drop(&mut self) {
        if self.shim {
            self.http("DELETE", "/_shim/scope", "");
        }
    }
}

/// Fails the test with the command's output unless it exited 0.
pub fn assert_ok(r: &Run, what: &str) {
    assert_eq!(
        r.code, 0,
        "{what} failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
}

/// A minimal web stack spec.
pub fn web_spec(name: &str, region: &str, extra_service: &str) -> String {
    format!(
        "name: {name}\nregion: {region}\nservice:\n  image: public.ecr.aws/nginx/nginx:1.27\n  user: \"101\"\n  desired_count: 2\n{extra_service}"
    )
}

/// The EC2 filter for the resources of `stack` (its ownership tag).
pub fn tagged(stack: &str) -> Filter {
    Filter::builder()
        .name("tag:ballast:stack")
        .values(stack)
        .build()
}

/// `ballast validate` on `yaml`, written to `stack.yaml` in a fresh directory: exit code and
/// stderr. Validation must never reach AWS: an unroutable endpoint proves it.
pub fn validate(yaml: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yaml");
    std::fs::write(&path, yaml).unwrap();
    validate_file(&path)
}

/// `ballast validate` on the spec file at `path`, run from its directory (so messages name it
/// by its file name, and files it names are found beside it): exit code and stderr.
pub fn validate_file(path: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .current_dir(path.parent().unwrap())
        .arg("validate")
        .arg(path.file_name().unwrap())
        .env("NO_COLOR", "1")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `validate` must reject `yaml` (exit 1) with every one of `needles` in its message; returns
/// the message.
pub fn rejects(yaml: &str, needles: &[&str]) -> String {
    let (code, err) = validate(yaml);
    assert_eq!(code, 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in:\n{err}");
    }
    err
}

/// What a stack has in AWS: resource type (`aws_vpc`, as in the JSON plan) -> sorted names.
pub type Inventory = BTreeMap<String, Vec<String>>;

/// An expected inventory from a table of (type, names).
pub fn inventory(rows: &[(&str, &[&str])]) -> Inventory {
    rows.iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(kind, names)| {
            let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            names.sort();
            (kind.to_string(), names)
        })
        .collect()
}

/// How many resources an inventory holds.
pub fn total(inv: &Inventory) -> usize {
    inv.values().map(Vec::len).sum()
}

/// The 24 resources of `web_spec` (the default network: one subnet per AZ in `azs`): the
/// service stack and what watches it by default.
pub fn web_inventory(stack: &str, region: &str, azs: &[&str]) -> Inventory {
    let n = |suffix: &str| vec![format!("{stack}{suffix}")];
    let rows = [
        ("aws_vpc", n("")),
        (
            "aws_subnet",
            azs.iter()
                .flat_map(|az| [format!("{stack}-{az}"), format!("{stack}-private-{az}")])
                .collect(),
        ),
        ("aws_internet_gateway", n("")),
        // The private tier's way out: a NAT gateway and its Elastic IP per AZ.
        (
            "aws_eip",
            azs.iter().map(|az| format!("{stack}-nat-{az}")).collect(),
        ),
        (
            "aws_nat_gateway",
            azs.iter().map(|az| format!("{stack}-nat-{az}")).collect(),
        ),
        (
            "aws_route_table",
            std::iter::once(format!("{stack}-public"))
                .chain(azs.iter().map(|az| format!("{stack}-private-{az}")))
                .collect(),
        ),
        (
            "aws_security_group",
            vec![format!("{stack}-alb"), format!("{stack}-service")],
        ),
        ("aws_lb", n("-alb")),
        ("aws_lb_target_group", n("-tg")),
        ("aws_lb_listener", n("-alb:80")),
        ("aws_ecs_cluster", n("")),
        // The VPC's flow log (rejected traffic), its log group and delivery role.
        ("aws_flow_log", n("-flow-logs")),
        (
            "aws_cloudwatch_log_group",
            vec![
                format!("/ballast/{stack}"),
                format!("/ballast/{stack}/vpc/flow-logs"),
            ],
        ),
        (
            "aws_iam_role",
            vec![
                format!("{stack}-{region}-exec"),
                format!("{stack}-{region}-flow-logs"),
            ],
        ),
        ("aws_ecs_task_definition", n("")),
        ("aws_ecs_service", n("")),
        // Watched by default: the alarm topic, the seven managed alarms, the dashboard.
        ("aws_sns_topic", n("-alarms")),
        (
            "aws_cloudwatch_metric_alarm",
            [
                "cpu_high",
                "elb_5xx",
                "latency_p99",
                "memory_high",
                "running_tasks_low",
                "target_5xx_rate",
                "unhealthy_hosts",
            ]
            .iter()
            .map(|k| format!("{stack}-{k}"))
            .collect(),
        ),
        ("aws_cloudwatch_dashboard", n(&format!("-{region}"))),
    ];
    rows.into_iter()
        .map(|(kind, mut names)| {
            names.sort();
            (kind.to_string(), names)
        })
        .collect()
}

/// Change counts of a plan, as `summary` in the JSON plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
}

impl Summary {
    /// The line the human plan ends with.
    pub fn plan_line(&self) -> String {
        format!(
            "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
            self.add, self.change, self.replace, self.destroy
        )
    }

    /// The line a deploy ends with (before its duration).
    pub fn apply_line(&self) -> String {
        format!(
            "Apply complete! {} added, {} changed, {} replaced, {} destroyed in",
            self.add, self.change, self.replace, self.destroy
        )
    }
}

/// A parsed `plan --output json` (src/render/json.rs).
pub struct Plan {
    pub json: serde_json::Value,
    pub summary: Summary,
}

impl Plan {
    pub fn parse(stdout: &str) -> Plan {
        let json: serde_json::Value = serde_json::from_str(stdout)
            .unwrap_or_else(|e| panic!("stdout is not only JSON ({e}):\n{stdout}"));
        let summary: Summary = serde_json::from_value(json["summary"].clone())
            .unwrap_or_else(|e| panic!("no summary in the JSON plan ({e}):\n{stdout}"));
        let plan = Plan { json, summary };
        let count = |a: &str| plan.changes().iter().filter(|c| c["action"] == a).count();
        assert_eq!(
            summary,
            Summary {
                add: count("create"),
                change: count("update"),
                replace: count("replace"),
                destroy: count("delete"),
            },
            "the summary counts the resource changes"
        );
        assert_eq!(
            plan.json["has_changes"],
            plan.changes().len() > count("no-op")
        );
        plan
    }

    pub fn changes(&self) -> &[serde_json::Value] {
        self.json["resource_changes"]
            .as_array()
            .expect("resource_changes is a list")
    }

    pub fn has_changes(&self) -> bool {
        self.json["has_changes"]
            .as_bool()
            .expect("has_changes is a bool")
    }

    /// (address, action) of every change that is not a no-op, sorted by address.
    pub fn actions(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .changes()
            .iter()
            .filter(|c| c["action"] != "no-op")
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                (s("address"), s("action"))
            })
            .collect();
        v.sort();
        v
    }

    /// The change of `address`.
    pub fn change(&self, address: &str) -> &serde_json::Value {
        self.changes()
            .iter()
            .find(|c| c["address"] == address)
            .unwrap_or_else(|| panic!("no {address} in the plan:\n{:#}", self.json))
    }

    /// What the stack has once this plan is applied. Kinds are keyed by scope when the plan
    /// spans several (its addresses carry the scope).
    pub fn inventory_after(&self) -> Inventory {
        let mut inv = Inventory::new();
        for c in self.changes().iter().filter(|c| c["action"] != "delete") {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            let key = if s("address").starts_with(&format!("{}:", s("scope"))) {
                format!("{}:{}", s("scope"), s("type"))
            } else {
                s("type")
            };
            inv.entry(key).or_default().push(s("name"));
        }
        inv.values_mut().for_each(|v| v.sort());
        inv
    }
}

/// (address, action) pairs, sorted, to compare with `Plan::actions`.
pub fn actions(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// A deploy through `TestStack::deploy`: the plan taken just before, the run and its calls.
pub struct Applied {
    pub plan: Plan,
    pub run: Run,
    pub stats: Stats,
}

/// One stack under test: its spec file, and a destroy when the test ends however it ends.
pub struct TestStack<'e> {
    pub env: &'e Env,
    pub name: String,
    /// The primary region.
    pub region: String,
    /// Every region, primary first (`regions:` in the spec, else `[region]`).
    pub regions: Vec<String>,
    /// The spec has `dns:`: the stack has Route 53 (global) resources.
    pub global: bool,
    path: String,
    clients: OnceCell<Clients>,
    /// Nothing of the stack is left (a checked destroy ran, and no deploy after it).
    gone: Cell<bool>,
}

impl<'e> TestStack<'e> {
    /// Removes what an earlier, aborted run left of the stack and writes `yaml` as its spec.
    pub fn new(env: &'e Env, name: &str, region: &str, yaml: &str) -> TestStack<'e> {
        env.clean(name, region);
        let path = env.spec(&format!("{name}.yaml"), yaml);
        let regions = regions_of(yaml).unwrap_or_else(|| vec![region.to_string()]);
        TestStack {
            env,
            name: name.into(),
            region: region.into(),
            regions,
            global: yaml.lines().any(|l| l.starts_with("dns:")),
            path: path.to_str().unwrap().into(),
            clients: OnceCell::new(),
            gone: Cell::new(false),
        }
    }

    /// A stack from a spec file, as ballast reads it: its name, its (first) region, and the
    /// files it refers to (a fallback page), copied beside the spec.
    pub fn from_file(env: &'e Env, file: &std::path::Path) -> TestStack<'e> {
        let yaml = std::fs::read_to_string(file).unwrap();
        let model = ballast::spec::load_file(&file.to_string_lossy(), None)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let s = TestStack::new(env, &model.name, &model.regions[0], &yaml);
        if let Some(page) = model.dns.as_ref().and_then(|d| d.fallback.as_ref()) {
            let dir = std::path::Path::new(&s.path).parent().unwrap();
            std::fs::copy(
                file.parent().unwrap().join(&page.file),
                dir.join(&page.file),
            )
            .unwrap();
        }
        s
    }

    /// The spec file's path.
    pub fn spec(&self) -> &str {
        &self.path
    }

    pub fn yaml(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap()
    }

    pub fn set_yaml(&self, yaml: &str) {
        std::fs::write(&self.path, yaml).unwrap();
    }

    pub fn clients(&self) -> &Clients {
        self.clients.get_or_init(|| self.env.clients(&self.region))
    }

    /// `ballast VERB SPEC ARGS...`, unchecked.
    pub fn run(&self, verb: &str, args: &[&str]) -> Run {
        if verb != "destroy" {
            self.gone.set(false);
        }
        let mut all = vec![verb, self.path.as_str()];
        all.extend_from_slice(args);
        self.env.ballast(&all)
    }

    /// `plan --output json`, parsed.
    pub fn plan_json(&self) -> Plan {
        let r = self.run("plan", &["--output", "json"]);
        assert_ok(&r, "plan --output json");
        Plan::parse(&r.stdout)
    }

    /// Plan (JSON), then `deploy --yes`, which must succeed and print the counts of that plan.
    pub fn deploy(&self) -> Applied {
        let plan = self.plan_json();
        self.env.reset();
        // The emulator's rollouts finish at once: no need to poll them every 5 s (the default).
        let run = self.run("deploy", &["--yes", "--poll-interval", "200ms"]);
        assert_ok(&run, &format!("deploy {}", self.name));
        let stats = self.env.stats();
        if plan.has_changes() {
            run.assert_stderr(&[&plan.summary.plan_line(), &plan.summary.apply_line()]);
        } else {
            run.assert_stderr(&["No changes."]);
            stats.assert_no_writes("a deploy of a plan without changes");
        }
        Applied { plan, run, stats }
    }

    /// Deploy and return the write calls it made.
    pub fn deploy_writes(&self) -> Vec<String> {
        self.deploy().stats.write_ops
    }

    /// `plan --detailed-exitcode` exits 0 with "No changes.".
    pub fn assert_no_changes(&self) {
        let r = self.run("plan", &["--detailed-exitcode"]);
        assert_eq!(
            r.code, 0,
            "plan exits 0 without changes, 2 with:\n{}",
            r.stderr
        );
        r.assert_stderr(&["No changes."]);
    }

    /// Converged: `plan --detailed-exitcode` exits 0 with "No changes.", and a deploy changes
    /// nothing and makes not a single write call. Returns that deploy.
    pub fn assert_converged(&self) -> Run {
        self.assert_no_changes();
        self.env.reset();
        let r = self.run("deploy", &["--yes"]);
        assert_ok(&r, "converged deploy");
        r.assert_stderr(&["No changes."]);
        let s = self.env.stats();
        s.assert_no_writes("a deploy of a converged stack");
        assert!(s.total > 0, "the deploy read AWS through the shim");
        r
    }

    /// `destroy SPEC --yes`: see `destroy_with`.
    pub fn destroy(&self) -> Run {
        let spec = self.path.clone();
        self.destroy_with(&[&spec])
    }

    /// `destroy --stack NAME --region REGION --yes`: see `destroy_with`.
    pub fn destroy_by_name(&self) -> Run {
        let (name, region) = (self.name.clone(), self.region.clone());
        self.destroy_with(&["--stack", &name, "--region", &region])
    }

    /// Destroy: it must succeed, count what the stack had (or say there was nothing, and then
    /// write nothing), and leave nothing tagged for the stack.
    fn destroy_with(&self, target: &[&str]) -> Run {
        let before = self.inventory();
        self.env.reset();
        let mut args = vec!["destroy"];
        args.extend_from_slice(target);
        args.push("--yes");
        let r = self.env.ballast(&args);
        assert_ok(&r, &format!("destroy {}", self.name));
        if before.is_empty() {
            r.assert_stderr(&["Nothing to destroy"]);
            self.env.stats().assert_no_writes("destroying nothing");
        } else {
            r.assert_stderr(&[&format!("Destroy complete! {} destroyed", total(&before))]);
        }
        assert_eq!(self.inventory(), Inventory::new(), "left after destroy");
        self.gone.set(true);
        r
    }

    /// What AWS has tagged for this stack, read back with the SDK. With several regions or
    /// Route 53 resources, kinds are keyed by scope (`us-west-2:aws_vpc`, `global:...`), as in
    /// `Plan::inventory_after`.
    pub fn inventory(&self) -> Inventory {
        if self.regions.len() == 1 && !self.global {
            let c = self.clients();
            return self
                .env
                .rt
                .block_on(read_inventory(c, &self.name, &self.region));
        }
        let mut inv = Inventory::new();
        for r in &self.regions {
            let c = self.env.clients(r);
            for (kind, names) in self.env.rt.block_on(read_inventory(&c, &self.name, r)) {
                inv.insert(format!("{r}:{kind}"), names);
            }
        }
        let c = self.clients();
        for (kind, names) in self.env.rt.block_on(read_global(c, &self.name)) {
            inv.insert(format!("global:{kind}"), names);
        }
        inv
    }
}

/// Reads of the stack's resources by their deterministic names (see src/spec/names.rs), or by
/// its ownership tag. Each blocks: call them outside `env.rt.block_on`.
impl TestStack<'_> {
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.env.rt.block_on(f)
    }

    /// Services of the stack's cluster named like the stack (ACTIVE or not).
    pub fn services(&self) -> Vec<aws_sdk_ecs::types::Service> {
        let (c, name) = (self.clients(), self.name.as_str());
        let r = c.ecs.describe_services().cluster(name).services(name);
        self.block_on(r.send()).unwrap().services().to_vec()
    }

    /// The stack's service.
    pub fn service(&self) -> aws_sdk_ecs::types::Service {
        self.services().swap_remove(0)
    }

    pub fn load_balancer(&self) -> aws_sdk_elasticloadbalancingv2::types::LoadBalancer {
        let r = self.clients().elbv2.describe_load_balancers();
        let r = r.names(format!("{}-alb", self.name));
        self.block_on(r.send()).unwrap().load_balancers()[0].clone()
    }

    pub fn target_group(&self) -> aws_sdk_elasticloadbalancingv2::types::TargetGroup {
        let r = self.clients().elbv2.describe_target_groups();
        let r = r.names(format!("{}-tg", self.name));
        self.block_on(r.send()).unwrap().target_groups()[0].clone()
    }

    /// The listeners of the stack's load balancer.
    pub fn listeners(&self) -> Vec<aws_sdk_elasticloadbalancingv2::types::Listener> {
        let lb = self.load_balancer();
        let r = self.clients().elbv2.describe_listeners();
        let r = r.load_balancer_arn(lb.load_balancer_arn().unwrap());
        self.block_on(r.send()).unwrap().listeners().to_vec()
    }

    /// The stack's cluster (ACTIVE or INACTIVE), if ECS knows it.
    pub fn clusters(&self) -> Vec<aws_sdk_ecs::types::Cluster> {
        let r = self.clients().ecs.describe_clusters().clusters(&self.name);
        self.block_on(r.send()).unwrap().clusters().to_vec()
    }

    /// The VPCs tagged for the stack.
    pub fn vpcs(&self) -> Vec<aws_sdk_ec2::types::Vpc> {
        let r = self
            .clients()
            .ec2
            .describe_vpcs()
            .filters(tagged(&self.name));
        self.block_on(r.send()).unwrap().vpcs().to_vec()
    }

    /// The subnets tagged for the stack.
    pub fn subnets(&self) -> Vec<aws_sdk_ec2::types::Subnet> {
        let r = self
            .clients()
            .ec2
            .describe_subnets()
            .filters(tagged(&self.name));
        self.block_on(r.send()).unwrap().subnets().to_vec()
    }

    /// The security groups tagged for the stack.
    pub fn security_groups(&self) -> Vec<aws_sdk_ec2::types::SecurityGroup> {
        let r = self.clients().ec2.describe_security_groups();
        let r = r.filters(tagged(&self.name));
        self.block_on(r.send()).unwrap().security_groups().to_vec()
    }

    /// The scalable target id of the stack's service.
    pub fn rid(&self) -> String {
        format!("service/{0}/{0}", self.name)
    }

    pub fn scalable_targets(&self) -> Vec<ScalableTarget> {
        self.block_on(scalable_targets(self.clients(), Some(&self.rid())))
    }

    /// The scaling policies on the service as the API answers (moto matches by substring).
    pub fn scaling_policies(&self) -> Vec<ScalingPolicy> {
        self.block_on(scaling_policies(self.clients(), &self.rid()))
    }

    /// The scheduled actions on the service as the API answers (moto matches by substring).
    pub fn scheduled_actions(&self) -> Vec<ScheduledAction> {
        self.block_on(scheduled_actions(self.clients(), &self.rid()))
    }
}

/// ECS scalable targets: all, or those of one resource id.
pub async fn scalable_targets(c: &Clients, rid: Option<&str>) -> Vec<ScalableTarget> {
    let r = c.appscaling.describe_scalable_targets();
    let r = r.service_namespace(ServiceNamespace::Ecs);
    let r = r.set_resource_ids(rid.map(|r| vec![r.to_string()]));
    r.send().await.unwrap().scalable_targets().to_vec()
}

pub async fn scaling_policies(c: &Clients, rid: &str) -> Vec<ScalingPolicy> {
    let r = c.appscaling.describe_scaling_policies();
    let r = r.service_namespace(ServiceNamespace::Ecs).resource_id(rid);
    r.send().await.unwrap().scaling_policies().to_vec()
}

pub async fn scheduled_actions(c: &Clients, rid: &str) -> Vec<ScheduledAction> {
    let r = c.appscaling.describe_scheduled_actions();
    let r = r.service_namespace(ServiceNamespace::Ecs).resource_id(rid);
    r.send().await.unwrap().scheduled_actions().to_vec()
}

impl Drop for TestStack<'_> {
    /// Best effort: destroy whatever the test left, ignoring every error (a failed test must
    /// show its own failure, not one from the clean-up).
    fn drop(&mut self) {
        if self.gone.get() {
            return;
        }
        let _ = self
            .env
            .command()
            .args(["destroy", "--stack", &self.name, "--region", &self.region])
            .arg("--yes")
            .output();
    }
}

/// `regions: [a, b]` of a spec, if it has one.
pub fn regions_of(yaml: &str) -> Option<Vec<String>> {
    let line = yaml.lines().find_map(|l| l.strip_prefix("regions:"))?;
    let list = line.split('#').next()?.trim();
    let list = list.strip_prefix('[')?.strip_suffix(']')?;
    Some(list.split(',').map(|r| r.trim().to_string()).collect())
}

/// A DNS name as Route 53 compares them.
pub fn dns_norm(n: &str) -> String {
    n.trim_end_matches('.').to_ascii_lowercase()
}

/// Every A record of every hosted zone.
pub async fn all_records(c: &Clients) -> Vec<aws_sdk_route53::types::ResourceRecordSet> {
    let mut out = Vec::new();
    let zones = c.route53.list_hosted_zones().send().await.unwrap();
    for z in zones.hosted_zones() {
        let r = c.route53.list_resource_record_sets().hosted_zone_id(z.id());
        // Another test may delete its zone meanwhile.
        let r = match r.max_items(300).send().await {
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_no_such_hosted_zone()) =>
            {
                continue
            }
            r => r.unwrap(),
        };
        out.extend(
            r.resource_record_sets()
                .iter()
                .filter(|r| r.r#type() == &aws_sdk_route53::types::RrType::A)
                .cloned(),
        );
    }
    out
}

/// The stack's health checks (with their tags), read back.
pub async fn health_checks(
    c: &Clients,
    stack: &str,
) -> Vec<(
    aws_sdk_route53::types::HealthCheck,
    BTreeMap<String, String>,
)> {
    all_health_checks(c)
        .await
        .into_iter()
        .filter(|(_, tags)| tags.get("ballast:stack").map(String::as_str) == Some(stack))
        .collect()
}

/// Every health check of the account, with its tags.
pub async fn all_health_checks(
    c: &Clients,
) -> Vec<(
    aws_sdk_route53::types::HealthCheck,
    BTreeMap<String, String>,
)> {
    let mut out = Vec::new();
    let r = c.route53.list_health_checks().send().await.unwrap();
    for h in r.health_checks() {
        let t = c
            .route53
            .list_tags_for_resource()
            .resource_type(aws_sdk_route53::types::TagResourceType::Healthcheck)
            .resource_id(h.id())
            .send()
            .await
            .unwrap();
        let tags: BTreeMap<String, String> = t
            .resource_tag_set()
            .map(|s| {
                s.tags()
                    .iter()
                    .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        out.push((h.clone(), tags));
    }
    out
}

/// The stack's Route 53 health checks (by Name tag), failover records (`name FAILOVER`, owned
/// by their SetIdentifier `<stack>/...`), fallback bucket and CloudFront distribution (by Name
/// tag).
async fn read_global(c: &Clients, stack: &str) -> Inventory {
    let mut found: Vec<(&str, String)> = Vec::new();
    for (_, tags) in health_checks(c, stack).await {
        found.push(("aws_route53_health_check", tags["Name"].clone()));
    }
    let prefix = format!("{stack}/");
    for r in all_records(c).await {
        if r.set_identifier().is_some_and(|s| s.starts_with(&prefix)) {
            let failover = r.failover().map(|f| f.as_str()).unwrap_or_default();
            found.push((
                "aws_route53_record",
                format!("{} {failover}", dns_norm(r.name())),
            ));
        }
    }
    let buckets = c.s3.list_buckets().send().await.unwrap();
    for b in buckets.buckets() {
        let name = b.name().unwrap();
        let Ok(t) = c.s3.get_bucket_tagging().bucket(name).send().await else {
            continue;
        };
        if owned(stack, t.tag_set().iter().map(|t| (t.key(), t.value()))) {
            found.push(("aws_s3_bucket", name.to_string()));
        }
    }
    for (_, tags) in distributions(c, stack).await {
        found.push(("aws_cloudfront_distribution", tags["Name"].clone()));
    }
    let mut inv = Inventory::new();
    for (kind, name) in found {
        inv.entry(kind.to_string()).or_default().push(name);
    }
    inv.values_mut().for_each(|v| v.sort());
    inv
}

/// The stack's CloudFront distributions (tagged `ballast:stack`), with their tags.
pub async fn distributions(
    c: &Clients,
    stack: &str,
) -> Vec<(
    aws_sdk_cloudfront::types::DistributionSummary,
    BTreeMap<String, String>,
)> {
    let mut out = Vec::new();
    let r = c.cloudfront.list_distributions().send().await.unwrap();
    for d in r.distribution_list().map(|l| l.items()).unwrap_or_default() {
        let t = c.cloudfront.list_tags_for_resource().resource(d.arn());
        let t = t.send().await.unwrap();
        let tags: BTreeMap<String, String> = t
            .tags()
            .map(|t| {
                t.items()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if tags.get("ballast:stack").map(String::as_str) == Some(stack) {
            out.push((d.clone(), tags));
        }
    }
    out
}

/// A public hosted zone of this name (made if missing); its bare id.
pub fn zone(env: &Env, name: &str) -> String {
    let c = env.clients("us-east-1");
    env.rt.block_on(async {
        let zones = c
            .route53
            .list_hosted_zones_by_name()
            .dns_name(name)
            .send()
            .await
            .unwrap();
        if let Some(z) = zones
            .hosted_zones()
            .iter()
            .find(|z| dns_norm(z.name()) == dns_norm(name))
        {
            return z.id().trim_start_matches("/hostedzone/").to_string();
        }
        let z = c
            .route53
            .create_hosted_zone()
            .name(name)
            .caller_reference(format!("test-{name}"))
            .send()
            .await
            .unwrap();
        z.hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_string()
    })
}

fn owned<'a>(stack: &str, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    tags.into_iter()
        .any(|(k, v)| k == "ballast:stack" && v == stack)
}

fn ec2_name(tags: &[aws_sdk_ec2::types::Tag]) -> String {
    tags.iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .unwrap_or("<no Name tag>")
        .to_string()
}

/// Everything in `region` tagged `ballast:stack=STACK` (IAM, being global, by the region in the
/// role name), plus the scaling policies and scheduled actions of its scalable targets (they
/// carry no tags).
/// What the stack owns in `region`, by kind. Only resources whose names are the stack's (every
/// name ballast gives starts with the stack's name) are described: other tests run at once
/// against the same emulator, and a resource of theirs may be gone between a listing and the
/// read of its tags.
async fn read_inventory(c: &Clients, stack: &str, region: &str) -> Inventory {
    let mut found: Vec<(&str, String)> = Vec::new();
    let stack_dash = format!("{stack}-");
    let ours = |name: &str| name == stack || name.starts_with(&stack_dash);

    // EC2: the tag filter.
    let r = c.ec2.describe_vpcs().filters(tagged(stack)).send().await;
    for v in r.unwrap().vpcs() {
        found.push(("aws_vpc", ec2_name(v.tags())));
    }
    let r = c.ec2.describe_subnets().filters(tagged(stack)).send().await;
    for s in r.unwrap().subnets() {
        found.push(("aws_subnet", ec2_name(s.tags())));
    }
    let r = c.ec2.describe_internet_gateways().filters(tagged(stack));
    for g in r.send().await.unwrap().internet_gateways() {
        found.push(("aws_internet_gateway", ec2_name(g.tags())));
    }
    let r = c.ec2.describe_route_tables().filters(tagged(stack));
    for t in r.send().await.unwrap().route_tables() {
        found.push(("aws_route_table", ec2_name(t.tags())));
    }
    let r = c.ec2.describe_security_groups().filters(tagged(stack));
    for g in r.send().await.unwrap().security_groups() {
        found.push(("aws_security_group", g.group_name().unwrap().to_string()));
    }
    let r = c.ec2.describe_addresses().filters(tagged(stack));
    for a in r.send().await.unwrap().addresses() {
        found.push(("aws_eip", ec2_name(a.tags())));
    }
    // A deleted NAT gateway stays listed (state `deleted`) for a while, as on AWS.
    let r = c.ec2.describe_nat_gateways().filter(tagged(stack));
    for g in r.send().await.unwrap().nat_gateways() {
        if g.state().map(|s| s.as_str()) != Some("deleted") {
            found.push(("aws_nat_gateway", ec2_name(g.tags())));
        }
    }
    // WAF web ACLs: by name, then their ownership tag.
    let acls = c
        .wafv2
        .list_web_acls()
        .scope(aws_sdk_wafv2::types::Scope::Regional)
        .limit(100)
        .send()
        .await
        .unwrap();
    for a in acls.web_acls() {
        let name = a.name().unwrap_or_default();
        if !ours(name) {
            continue;
        }
        let tags = c
            .wafv2
            .list_tags_for_resource()
            .resource_arn(a.arn().unwrap_or_default())
            .send()
            .await;
        let Ok(tags) = tags else { continue };
        let owned = tags
            .tag_info_for_resource()
            .map(|t| t.tag_list())
            .unwrap_or_default()
            .iter()
            .any(|t| t.key() == "ballast:stack" && t.value() == stack);
        if owned {
            found.push(("aws_wafv2_web_acl", name.to_string()));
        }
    }
    // So does a deleted VPC endpoint.
    let r = c.ec2.describe_vpc_endpoints().filters(tagged(stack));
    for e in r.send().await.unwrap().vpc_endpoints() {
        if e.state().map(|s| s.as_str()) != Some("deleted") {
            found.push(("aws_vpc_endpoint", ec2_name(e.tags())));
        }
    }
    let r = c.ec2.describe_flow_logs().filter(tagged(stack));
    for f in r.send().await.unwrap().flow_logs() {
        found.push(("aws_flow_log", ec2_name(f.tags())));
    }
    let r = c.ec2.describe_launch_templates().filters(tagged(stack));
    for t in r.send().await.unwrap().launch_templates() {
        let name = t.launch_template_name().unwrap().to_string();
        found.push(("aws_launch_template", name));
    }
    // The load balancer's access-log bucket in this region (`<stack>-alb-<account>-<region>-an`),
    // by its tags.
    let buckets = c.s3.list_buckets().send().await.unwrap();
    let (head, tail) = (format!("{stack}-alb-"), format!("-{region}-an"));
    for b in buckets.buckets() {
        let name = b.name().unwrap();
        if !name.starts_with(&head) || !name.ends_with(&tail) {
            continue;
        }
        let Ok(t) = c.s3.get_bucket_tagging().bucket(name).send().await else {
            continue;
        };
        if owned(stack, t.tag_set().iter().map(|t| (t.key(), t.value()))) {
            found.push(("aws_s3_log_bucket", name.to_string()));
        }
    }

    // ELBv2: every load balancer and target group, and the listeners of every load balancer.
    let lbs = c.elbv2.describe_load_balancers().send().await.unwrap();
    let tgs = c.elbv2.describe_target_groups().send().await.unwrap();
    let mut arns: Vec<(&str, String, String)> = Vec::new();
    for lb in lbs
        .load_balancers()
        .iter()
        .filter(|lb| ours(lb.load_balancer_name().unwrap_or_default()))
    {
        let (arn, name) = (lb.load_balancer_arn().unwrap(), lb.load_balancer_name());
        arns.push(("aws_lb", arn.into(), name.unwrap().into()));
        let ls = c.elbv2.describe_listeners().load_balancer_arn(arn);
        for l in ls.send().await.unwrap().listeners() {
            let listener = format!("{}:{}", name.unwrap(), l.port().unwrap());
            arns.push((
                "aws_lb_listener",
                l.listener_arn().unwrap().into(),
                listener.clone(),
            ));
            // Its rules but the default one, by the service in their logical id.
            let rules = c
                .elbv2
                .describe_rules()
                .listener_arn(l.listener_arn().unwrap());
            for r in rules.send().await.unwrap().rules() {
                if r.is_default() == Some(true) {
                    continue;
                }
                let arn = r.rule_arn().unwrap().to_string();
                arns.push(("aws_lb_listener_rule", arn, listener.clone()));
            }
        }
    }
    for tg in tgs
        .target_groups()
        .iter()
        .filter(|tg| ours(tg.target_group_name().unwrap_or_default()))
    {
        let (arn, name) = (tg.target_group_arn().unwrap(), tg.target_group_name());
        arns.push(("aws_lb_target_group", arn.into(), name.unwrap().into()));
    }
    for chunk in arns.chunks(20) {
        let r = c
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.iter().map(|(_, a, _)| a.clone()).collect()))
            .send()
            .await
            .unwrap();
        for d in r.tag_descriptions() {
            let tags = d.tags().iter();
            if owned(
                stack,
                tags.map(|t| (t.key().unwrap(), t.value().unwrap_or(""))),
            ) {
                let (kind, _, name) = chunk
                    .iter()
                    .find(|(_, a, _)| Some(a.as_str()) == d.resource_arn())
                    .unwrap();
                // A rule is named by its listener and its service (`rule.<service>`).
                let name = match *kind {
                    "aws_lb_listener_rule" => {
                        let id = d
                            .tags()
                            .iter()
                            .find(|t| t.key() == Some("ballast:resource"))
                            .and_then(|t| t.value())
                            .unwrap_or_default();
                        format!("{name} {}", id.strip_prefix("rule.").unwrap_or(id))
                    }
                    _ => name.clone(),
                };
                found.push((*kind, name));
            }
        }
    }

    // ECS: active clusters, their active services, active task definitions (by family),
    // capacity providers.
    let ecs_owned = |tags: &[aws_sdk_ecs::types::Tag]| {
        owned(
            stack,
            tags.iter()
                .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))),
        )
    };
    let mut provider_names = std::collections::BTreeSet::from([format!("{stack}-ec2")]);
    let cluster_arns = c.ecs.list_clusters().send().await.unwrap();
    for arn in cluster_arns
        .cluster_arns()
        .iter()
        .filter(|a| ours(a.rsplit('/').next().unwrap_or_default()))
    {
        let r = c.ecs.describe_clusters().clusters(arn);
        let r = r.include(aws_sdk_ecs::types::ClusterField::Tags);
        let r = r.send().await.unwrap();
        let Some(cl) = r.clusters().first() else {
            continue;
        };
        if cl.status() != Some("ACTIVE") {
            continue;
        }
        if ecs_owned(cl.tags()) {
            found.push(("aws_ecs_cluster", cl.cluster_name().unwrap().into()));
        }
        provider_names.extend(cl.capacity_providers().iter().cloned());
        let svcs = c.ecs.list_services().cluster(arn).send().await.unwrap();
        for chunk in svcs.service_arns().chunks(10) {
            let r = c.ecs.describe_services().cluster(arn);
            let r = r.set_services(Some(chunk.to_vec()));
            let r = r.include(aws_sdk_ecs::types::ServiceField::Tags);
            let r = r.send().await.unwrap();
            for s in r.services() {
                if s.status() == Some("ACTIVE") && ecs_owned(s.tags()) {
                    found.push(("aws_ecs_service", s.service_name().unwrap().into()));
                }
            }
        }
    }
    let mut families = std::collections::BTreeSet::new();
    let tds = c.ecs.list_task_definitions();
    let tds = tds.status(aws_sdk_ecs::types::TaskDefinitionStatus::Active);
    // `familyPrefix` is a whole family name: every active definition, by the family in the ARN
    // (`<stack>`, a named service's `<stack>-<service>`).
    let tds = tds.into_paginator().items().send();
    let tds: Vec<String> = tds.collect::<Result<_, _>>().await.unwrap();
    let family_of = |arn: &str| {
        let f = arn
            .rsplit_once(":task-definition/")
            .map(|(_, f)| f)
            .unwrap_or_default();
        f.rsplit_once(':')
            .map(|(f, _)| f.to_string())
            .unwrap_or_default()
    };
    for arn in tds.iter().filter(|a| ours(&family_of(a))) {
        let td = c.ecs.describe_task_definition().task_definition(arn);
        let td = td.include(aws_sdk_ecs::types::TaskDefinitionField::Tags);
        let td = td.send().await.unwrap();
        if ecs_owned(td.tags()) {
            families.insert(td.task_definition().unwrap().family().unwrap().to_string());
        }
    }
    for f in families {
        found.push(("aws_ecs_task_definition", f));
    }
    // Every capacity provider of the region (the emulator's patch E10 lists them as ECS does),
    // and those any active cluster uses.
    let listed = c.ecs.describe_capacity_providers().send().await.unwrap();
    provider_names.extend(
        listed
            .capacity_providers()
            .iter()
            .filter_map(|p| p.name())
            .map(str::to_string),
    );
    let cps = c.ecs.describe_capacity_providers();
    let cps = cps.set_capacity_providers(Some(provider_names.into_iter().collect()));
    let cps = cps.include(aws_sdk_ecs::types::CapacityProviderField::Tags);
    let cps = cps.send().await.unwrap();
    for cp in cps.capacity_providers() {
        if cp.status().map(|s| s.as_str()) == Some("ACTIVE") && ecs_owned(cp.tags()) {
            found.push(("aws_ecs_capacity_provider", cp.name().unwrap().into()));
        }
    }

    // IAM is global: a stack's role names carry its region.
    let roles = c.iam.list_roles().into_paginator().items().send();
    let roles: Vec<_> = roles.collect::<Result<_, _>>().await.unwrap();
    // `<stack>-<region>-exec`, and a named service's `<stack>-<service>-<region>-exec`.
    let (prefix, in_region) = (format!("{stack}-"), format!("-{region}-"));
    for role in roles
        .iter()
        .filter(|r| r.role_name().starts_with(&prefix) && r.role_name().contains(&in_region))
    {
        let tags = c.iam.list_role_tags().role_name(role.role_name());
        let Some(tags) = gone_meanwhile(tags.send().await) else {
            continue;
        };
        if owned(stack, tags.tags().iter().map(|t| (t.key(), t.value()))) {
            found.push(("aws_iam_role", role.role_name().into()));
        }
    }

    // CloudWatch Logs: tags by the ARN without `:*`.
    let groups = c.logs.describe_log_groups();
    let groups = groups.log_group_name_prefix(format!("/ballast/{stack}"));
    let groups = groups.into_paginator().items().send();
    let groups: Vec<_> = groups.collect::<Result<_, _>>().await.unwrap();
    for g in groups {
        let arn = g.log_group_arn().map(str::to_string).unwrap_or_else(|| {
            g.arn()
                .unwrap_or_default()
                .trim_end_matches(":*")
                .to_string()
        });
        let tags = c.logs.list_tags_for_resource().resource_arn(arn);
        let Some(tags) = gone_meanwhile(tags.send().await) else {
            continue;
        };
        let tags = tags.tags().into_iter().flatten();
        if owned(stack, tags.map(|(k, v)| (k.as_str(), v.as_str()))) {
            let name = g.log_group_name().unwrap().to_string();
            found.push(("aws_cloudwatch_log_group", name));
        }
    }

    // Cloud Map: the HTTP namespace of a stack of named services, by its tags.
    let pages = c.servicediscovery.list_namespaces().into_paginator().send();
    let pages: Vec<_> = pages.collect::<Result<_, _>>().await.unwrap();
    let nss: Vec<_> = pages.iter().flat_map(|p| p.namespaces()).collect();
    for ns in nss.iter().filter(|n| ours(n.name().unwrap_or_default())) {
        let tags = c.servicediscovery.list_tags_for_resource();
        let tags = tags.resource_arn(ns.arn().unwrap_or_default()).send().await;
        let Ok(tags) = tags else { continue }; // deleted meanwhile
        if owned(stack, tags.tags().iter().map(|t| (t.key(), t.value()))) {
            let name = ns.name().unwrap_or_default().to_string();
            found.push(("aws_service_discovery_http_namespace", name));
        }
    }

    // Application Auto Scaling: tagged targets, and the policies and actions on them (moto
    // matches ResourceId by substring: keep the exact ones).
    // ResourceId: service/<cluster>/<service>.
    for t in scalable_targets(c, None)
        .await
        .into_iter()
        .filter(|t| ours(t.resource_id().split('/').nth(1).unwrap_or_default()))
    {
        let tags = c.appscaling.list_tags_for_resource();
        let tags = tags.resource_arn(t.scalable_target_arn().unwrap());
        let Some(tags) = gone_meanwhile(tags.send().await) else {
            continue;
        };
        let tags = tags.tags().into_iter().flatten();
        if !owned(stack, tags.map(|(k, v)| (k.as_str(), v.as_str()))) {
            continue;
        }
        let rid = t.resource_id();
        found.push(("aws_appautoscaling_target", rid.into()));
        for p in scaling_policies(c, rid).await {
            if p.resource_id() == rid {
                found.push(("aws_appautoscaling_policy", p.policy_name().into()));
            }
        }
        for a in scheduled_actions(c, rid).await {
            if a.resource_id() == rid {
                let name = a.scheduled_action_name().to_string();
                found.push(("aws_appautoscaling_scheduled_action", name));
            }
        }
    }

    // CloudWatch alarms (metric and composite), named `<stack>-...` and tagged.
    let alarms = c
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{stack}-"));
    let alarms = alarms
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::CompositeAlarm);
    let alarms = alarms.send().await.unwrap();
    let named: Vec<(&'static str, String, String)> = alarms
        .metric_alarms()
        .iter()
        .map(|a| ("aws_cloudwatch_metric_alarm", a.alarm_name(), a.alarm_arn()))
        .chain(alarms.composite_alarms().iter().map(|a| {
            (
                "aws_cloudwatch_composite_alarm",
                a.alarm_name(),
                a.alarm_arn(),
            )
        }))
        .map(|(k, n, arn)| (k, n.unwrap().to_string(), arn.unwrap().to_string()))
        .collect();
    for (kind, name, arn) in named {
        let tags = c.cloudwatch.list_tags_for_resource().resource_arn(arn);
        let Some(tags) = gone_meanwhile(tags.send().await) else {
            continue;
        };
        let tags = tags.tags().iter();
        if owned(
            stack,
            tags.map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))),
        ) {
            found.push((kind, name));
        }
    }

    // SNS: the tagged topic and the subscriptions on it.
    let topics = c.sns.list_topics().send().await.unwrap();
    for t in topics.topics().iter().filter(|t| {
        ours(
            t.topic_arn()
                .unwrap_or_default()
                .rsplit(':')
                .next()
                .unwrap(),
        )
    }) {
        let arn = t.topic_arn().unwrap();
        let tags = c.sns.list_tags_for_resource().resource_arn(arn);
        let Some(tags) = gone_meanwhile(tags.send().await) else {
            continue;
        };
        let tags = tags.tags().iter();
        if !owned(stack, tags.map(|t| (t.key(), t.value()))) {
            continue;
        }
        found.push(("aws_sns_topic", arn.rsplit(':').next().unwrap().to_string()));
        let subs = c.sns.list_subscriptions_by_topic().topic_arn(arn);
        for sub in subs.send().await.unwrap().subscriptions() {
            let endpoint = sub.endpoint().unwrap_or_default().to_string();
            found.push(("aws_sns_topic_subscription", endpoint));
        }
    }

    // The dashboard: no tags; ballast's carries its mark.
    let name = format!("{stack}-{region}");
    if let Ok(d) = c
        .cloudwatch
        .get_dashboard()
        .dashboard_name(&name)
        .send()
        .await
    {
        let mark = format!("ballast:stack={stack}");
        if d.dashboard_body().unwrap_or_default().contains(&mark) {
            found.push(("aws_cloudwatch_dashboard", name));
        }
    }

    // EC2 Auto Scaling groups.
    let asgs = c.autoscaling.describe_auto_scaling_groups().send().await;
    for g in asgs.unwrap().auto_scaling_groups() {
        let tags = g.tags().iter();
        if owned(
            stack,
            tags.map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))),
        ) {
            let name = g.auto_scaling_group_name().unwrap().to_string();
            found.push(("aws_autoscaling_group", name));
        }
    }

    let mut inv = Inventory::new();
    for (kind, name) in found {
        inv.entry(kind.to_string()).or_default().push(name);
    }
    inv.values_mut().for_each(|v| v.sort());
    inv
}

// Processes a test talks to while they run (Ctrl-C, lines as they come).

/// Spawn `ballast ARGS` with stderr read line by line on a thread.
pub fn spawn(env: &Env, args: &[&str]) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = env
        .command()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Read lines until one satisfies `done` (60 s at most); returns everything read.
pub fn read_until(
    rx: &std::sync::mpsc::Receiver<String>,
    seen: &mut String,
    done: impl Fn(&str) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no matching line; stderr so far:\n{seen}"));
        seen.push_str(&line);
        seen.push('\n');
        if done(&line) {
            return;
        }
    }
}

pub fn drain(rx: &std::sync::mpsc::Receiver<String>, seen: &mut String) {
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        seen.push_str(&line);
        seen.push('\n');
    }
}

pub fn sigint(child: &std::process::Child) {
    send(child, "-INT");
}

/// What CI runners and `timeout` send: ballast treats it as Ctrl-C.
pub fn sigterm(child: &std::process::Child) {
    send(child, "-TERM");
}

fn send(child: &std::process::Child, signal: &str) {
    std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
}

/// The id of the stack lock a killed deploy left in `region`, if it left one.
pub fn lock_id(s: &TestStack, region: &str) -> Option<String> {
    let c = s.env.clients(region);
    s.env.rt.block_on(async {
        let p = c
            .ssm
            .get_parameter()
            .name(format!("/ballast/locks/{}", s.name))
            .send()
            .await
            .ok()?;
        let v: serde_json::Value = serde_json::from_str(p.parameter()?.value()?).ok()?;
        Some(v["id"].as_str()?.to_string())
    })
}

/// A tag read of something a listing showed: `None` when it was deleted in between (another
/// test's stack of a name this one's is a prefix of, or the destroy being checked); any other
/// error fails the test.
fn gone_meanwhile<T, E, R>(
    r: Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
) -> Option<T>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    match r {
        Ok(t) => Some(t),
        Err(e) => {
            let code = e.code().unwrap_or_default();
            if code.contains("NotFound") || code == "NoSuchEntity" {
                None
            } else {
                panic!("{e:?}")
            }
        }
    }
}
