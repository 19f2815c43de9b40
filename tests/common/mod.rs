//! Integration-test harness: runs the `ballast` binary against the emulator named by
//! `AWS_ENDPOINT_URL` (scripts/test starts one) and reads AWS back with the SDK.
//!
//! Tests share one emulator, so they take a global lock: call counts stay per test. The call
//! counts come from the emulator shim (`/_shim/stats`, tests/emulator/README.md); against an
//! endpoint without the shim (e.g. LocalStack) count assertions are skipped.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static LOCK: Mutex<()> = Mutex::new(());

pub struct Env {
    pub endpoint: String,
    host_port: String,
    pub shim: bool,
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    _guard: MutexGuard<'static, ()>,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub total: u64,
    pub writes: u64,
    /// Operation names of the write calls, in order.
    pub write_ops: Vec<String>,
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
}

impl Env {
    pub fn new() -> Env {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").expect(
            "AWS_ENDPOINT_URL is not set: run the suite with scripts/test (it starts the emulator), \
             or start one with scripts/emulator start",
        );
        let env = Env::at(endpoint);
        env.set_delay(0);
        env.set_rollout("COMPLETED", "");
        env.http("DELETE", "/_shim/faults", "");
        env
    }

    /// An environment on `endpoint` (loopback only) with its call counters reset; touches none
    /// of the moto shim's other controls, so it also fits the LocalStack proxy.
    pub fn at(endpoint: String) -> Env {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
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
            _guard: guard,
        };
        env.shim = env
            .http("GET", "/_shim/health", "")
            .is_some_and(|b| b.trim() == "ok");
        env.reset();
        env
    }

    /// Remove whatever an earlier, aborted run left of `stack`, so tests can be re-run against a
    /// long-lived emulator.
    pub fn clean(&self, stack: &str, region: &str) {
        let r = self.ballast(&["destroy", "--stack", stack, "--region", region, "--yes"]);
        assert_eq!(r.code, 0, "cleaning up {stack}: {}", r.stderr);
        self.reset();
    }

    /// A minimal HTTP/1.0 request to the emulator's control endpoints.
    pub fn http(&self, method: &str, path: &str, body: &str) -> Option<String> {
        let mut s = TcpStream::connect(&self.host_port).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let req = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host_port,
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

    pub fn reset(&self) {
        self.http("POST", "/_shim/reset", "");
    }

    pub fn set_delay(&self, ms: u64) {
        self.http("POST", "/_shim/delay", &format!("{{\"ms\": {ms}}}"));
    }

    /// How ECS deployments created from now on end (see tests/emulator/README.md).
    pub fn set_rollout(&self, state: &str, reason: &str) {
        let body = format!("{{\"state\": \"{state}\", \"reason\": \"{reason}\"}}");
        self.http("POST", "/_shim/rollout", &body);
    }

    /// Make the next `count` calls of `op` fail with `code`.
    pub fn fault(&self, op: &str, count: u32, status: u16, code: &str) {
        let body = format!(
            "{{\"op\": \"{op}\", \"count\": {count}, \"status\": {status}, \"code\": \"{code}\", \"message\": \"injected by test\"}}"
        );
        self.http("POST", "/_shim/faults", &body)
            .expect("shim accepts faults");
    }

    pub fn stats(&self) -> Option<Stats> {
        if !self.shim {
            return None;
        }
        let body = self.http("GET", "/_shim/stats", "")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        Some(Stats {
            total: v["total"].as_u64()?,
            writes: v["writes"].as_u64()?,
            write_ops: v["calls"]
                .as_array()?
                .iter()
                .filter(|c| c["write"].as_bool() == Some(true))
                .filter_map(|c| c["op"].as_str().map(str::to_string))
                .collect(),
        })
    }

    pub fn spec(&self, file: &str, yaml: &str) -> PathBuf {
        let p = self.dir.path().join(file);
        std::fs::write(&p, yaml).unwrap();
        p
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ballast"));
        c.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
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

    pub fn clients(&self, region: &str) -> ballast::aws::Clients {
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        let settings = ballast::aws::Settings {
            region: region.into(),
            profile: None,
            endpoint_url: Some(self.endpoint.clone()),
        };
        self.rt.block_on(ballast::aws::connect(&settings))
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
        "name: {name}\nregion: {region}\nservice:\n  image: public.ecr.aws/nginx/nginx:1.27\n  desired_count: 2\n{extra_service}"
    )
}
