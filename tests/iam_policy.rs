//! `ballast iam-policy FILE` prints a policy that is enough: with moto's IAM enforcement on
//! (`POST /moto-api/reset-auth`, tests/emulator/README.md patches I1-I4), a user holding exactly
//! that policy plans, deploys, redeploys and destroys every example stack; without one of its
//! actions, the command that needs it fails and names it.
//!
//! The enforcement is global to the emulator (every key's calls are checked while it is on), so
//! the tests of this binary take turns, and the harness's own calls (making the user, reading
//! what is left) happen while it is off.

mod common;

use std::sync::Mutex;

use common::{assert_ok, total, zone, Env, Run, TestStack};
use serde_json::Value;

/// One test at a time: the enforcement is the emulator's, not one key's.
static ENFORCED: Mutex<()> = Mutex::new(());

/// Turns moto's IAM enforcement on, and off again when dropped (also when a test fails).
struct Enforcement<'e>(&'e Env);

impl<'e> Enforcement<'e> {
    fn on(env: &'e Env) -> Enforcement<'e> {
        env.http("POST", "/moto-api/reset-auth", "0")
            .expect("moto turns IAM enforcement on (POST /moto-api/reset-auth)");
        Enforcement(env)
    }
}

impl Drop for Enforcement<'_> {
    fn drop(&mut self) {
        self.0.http("POST", "/moto-api/reset-auth", "inf");
    }
}

/// An IAM user with `policy` as its only (inline) policy, and its access key.
struct User {
    name: String,
    key: String,
    secret: String,
}

impl User {
    fn new(env: &Env, name: &str, policy: &Value) -> User {
        remove_user(env, name); // an aborted run's
        let iam = env.clients("us-east-1").iam;
        let u = env.rt.block_on(async {
            let _ = iam.create_user().user_name(name).send().await;
            let k = iam
                .create_access_key()
                .user_name(name)
                .send()
                .await
                .expect("create access key");
            let k = k.access_key().expect("an access key");
            User {
                name: name.to_string(),
                key: k.access_key_id().to_string(),
                secret: k.secret_access_key().to_string(),
            }
        });
        u.allow(env, policy);
        u
    }

    /// Replaces the user's policy (with the enforcement off).
    fn allow(&self, env: &Env, policy: &Value) {
        let iam = env.clients("us-east-1").iam;
        env.rt.block_on(async {
            iam.put_user_policy()
                .user_name(&self.name)
                .policy_name("ballast")
                .policy_document(policy.to_string())
                .send()
                .await
                .expect("put the user's policy");
        });
    }

    /// `ballast ARGS` with this user's keys.
    fn ballast(&self, env: &Env, args: &[&str]) -> Run {
        let o = env
            .command()
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .args(args)
            .output()
            .expect("run ballast");
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    fn delete(&self, env: &Env) {
        remove_user(env, &self.name);
    }
}

/// Deletes user `name`, its keys and its policy, if it is there.
fn remove_user(env: &Env, name: &str) {
    let iam = env.clients("us-east-1").iam;
    env.rt.block_on(async {
        let _ = iam
            .delete_user_policy()
            .user_name(name)
            .policy_name("ballast")
            .send()
            .await;
        if let Ok(keys) = iam.list_access_keys().user_name(name).send().await {
            for k in keys.access_key_metadata() {
                let _ = iam
                    .delete_access_key()
                    .user_name(name)
                    .access_key_id(k.access_key_id().unwrap_or_default())
                    .send()
                    .await;
            }
        }
        let _ = iam.delete_user().user_name(name).send().await;
    });
}

fn policy_of(env: &Env, spec: &str) -> Value {
    let r = env.ballast(&["iam-policy", spec]);
    assert_ok(&r, "iam-policy");
    serde_json::from_str(&r.stdout).expect("iam-policy prints JSON on stdout")
}

/// `policy` without `action` (in every statement).
fn without(policy: &Value, action: &str) -> Value {
    let mut p = policy.clone();
    let mut found = false;
    for s in p["Statement"].as_array_mut().unwrap() {
        let actions = s["Action"].as_array_mut().unwrap();
        let before = actions.len();
        actions.retain(|a| a != action);
        found |= actions.len() < before;
    }
    assert!(found, "the policy allows {action}");
    p
}

#[test]
fn every_example_runs_with_exactly_its_printed_policy() {
    let _turn = ENFORCED.lock().unwrap_or_else(|e| e.into_inner());
    let env = Env::new();
    for f in common::examples() {
        let s = TestStack::from_file(&env, &f);
        if s.global {
            zone(&env, "example.com");
        }
        let policy = policy_of(&env, s.spec());
        let user = User::new(&env, &format!("ci-{}", s.name), &policy);
        {
            let _on = Enforcement::on(&env);
            let r = user.ballast(&env, &["plan", s.spec()]);
            assert_ok(&r, &format!("plan {} with its policy", f.display()));
            let r = user.ballast(
                &env,
                &["deploy", s.spec(), "--yes", "--poll-interval", "200ms"],
            );
            assert_ok(&r, &format!("deploy {} with its policy", f.display()));
            let r = user.ballast(&env, &["deploy", s.spec(), "--yes"]);
            assert_ok(&r, &format!("redeploy {} with its policy", f.display()));
            r.assert_stderr(&["No changes."]);
            let r = user.ballast(&env, &["destroy", s.spec(), "--yes"]);
            assert_ok(&r, &format!("destroy {} with its policy", f.display()));
            r.assert_stderr(&["Destroy complete!"]);
        }
        let left = s.inventory();
        assert_eq!(total(&left), 0, "{} left {left:?}", f.display());
        user.delete(&env);
    }
}

#[test]
fn without_one_of_its_actions_the_command_fails_naming_it() {
    let _turn = ENFORCED.lock().unwrap_or_else(|e| e.into_inner());
    let env = Env::new();
    let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/web.yaml"))
        .unwrap()
        .replace("name: web", "name: iam-less");
    let s = TestStack::new(&env, "iam-less", "us-east-1", &yaml);
    let policy = policy_of(&env, s.spec());
    let user = User::new(&env, "ci-iam-less", &without(&policy, "ec2:DescribeVpcs"));
    {
        let _on = Enforcement::on(&env);
        let r = user.ballast(&env, &["plan", s.spec()]);
        assert_eq!(
            r.code, 1,
            "plan without a read it needs fails:\n{}",
            r.stderr
        );
        r.assert_stderr(&["ec2:DescribeVpcs", "user/ci-iam-less"]);
    }
    user.allow(&env, &without(&policy, "ecs:CreateService"));
    {
        let _on = Enforcement::on(&env);
        let r = user.ballast(&env, &["deploy", s.spec(), "--yes"]);
        assert_eq!(
            r.code, 1,
            "deploy without a write it needs fails:\n{}",
            r.stderr
        );
        r.assert_stderr(&["ecs:CreateService"]);
    }
    user.allow(&env, &policy);
    {
        let _on = Enforcement::on(&env);
        let r = user.ballast(&env, &["destroy", s.spec(), "--yes"]);
        assert_ok(&r, "destroy with the whole policy");
    }
    let left = s.inventory();
    assert_eq!(total(&left), 0, "left {left:?}");
    user.delete(&env);
}
