//! The stack lock (issue 8, point 1): an SSM parameter `/ballast/locks/<stack>` per region,
//! taken by the commands that write, with real concurrent processes.

use crate::common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn param(stack: &str) -> String {
    format!("/ballast/locks/{stack}")
}

/// Remove a lock an earlier, aborted run left, then make the stack (which destroys leftovers).
fn web<'e>(env: &'e Env, stack: &str, region: &str) -> TestStack<'e> {
    let c = env.clients(region);
    let _ = env
        .rt
        .block_on(c.ssm.delete_parameter().name(param(stack)).send());
    TestStack::new(env, stack, region, &web_spec(stack, region, ""))
}

/// What `web_spec` makes in `region`.
fn web_in(stack: &str, region: &str) -> Inventory {
    web_inventory(
        stack,
        region,
        &[&format!("{region}a"), &format!("{region}b")],
    )
}

/// The lock parameter's value, if there is one.
fn lock_value(s: &TestStack) -> Option<serde_json::Value> {
    let r = s.block_on(s.clients().ssm.get_parameter().name(param(&s.name)).send());
    match r {
        Ok(out) => Some(serde_json::from_str(out.parameter()?.value()?).unwrap()),
        Err(e) => {
            let code = e.as_service_error().map(|e| e.is_parameter_not_found());
            assert_eq!(code, Some(true), "GetParameter: {e:?}");
            None
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Write a lock as another ballast would: held by alice, taken 30 s ago, its lease ending
/// `expires_in` seconds from now (negative: stale).
fn hold(s: &TestStack, id: &str, expires_in: i64) {
    let v = serde_json::json!({
        "id": id,
        "who": "arn:aws:iam::123456789012:user/alice",
        "host": "alice@laptop",
        "command": "deploy",
        "acquired": now() - 30,
        "expires": now() + expires_in,
    });
    write_lock(s, &v, false);
}

fn release_by_hand(s: &TestStack) {
    s.block_on(
        s.clients()
            .ssm
            .delete_parameter()
            .name(param(&s.name))
            .send(),
    )
    .unwrap();
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn concurrent_deploys_one_writes_the_others_are_refused_naming_the_holder() {
    let env = Env::new();
    let s = web(&env, "it-lock-race", "us-east-2");
    let region = s.region.clone();
    // A single cold deploy: the writes one winner must make, and the lock's two.
    let solo = s.deploy();
    let cold = sorted(solo.stats.write_ops.clone());
    assert_eq!(solo.stats.lock_ops, ["PutParameter", "DeleteParameter"]);
    assert_eq!(lock_value(&s), None, "released after a successful deploy");
    s.destroy();

    for trial in 1..=5 {
        env.reset();
        let children: Vec<Child> = (0..4)
            .map(|_| {
                env.command()
                    .args(["deploy", s.spec(), "--yes", "--no-wait"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let runs: Vec<(i32, String)> = children
            .into_iter()
            .map(|c| {
                let o = c.wait_with_output().unwrap();
                (
                    o.status.code().unwrap_or(-1),
                    String::from_utf8_lossy(&o.stderr).into_owned(),
                )
            })
            .collect();
        let all = runs
            .iter()
            .map(|(c, e)| format!("exit {c}:\n{e}"))
            .collect::<Vec<_>>()
            .join("\n----\n");
        let winners = runs.iter().filter(|(c, _)| *c == 0).count();
        assert_eq!(
            winners, 1,
            "trial {trial}: exactly one deploy succeeds\n{all}"
        );
        for (code, err) in runs.iter().filter(|(c, _)| *c != 0) {
            assert_eq!(*code, 1, "trial {trial}\n{all}");
            for needle in [
                &format!("stack \"it-lock-race\" is locked in {region} by arn:aws:"),
                "running `deploy` since",
                "lease until",
                "lock id ",
                "add --lock-timeout 5m",
                &format!("ballast unlock it-lock-race --region {region} "),
            ] {
                assert!(err.contains(needle), "trial {trial}: {needle:?} in\n{err}");
            }
        }
        let st = env.stats();
        // The losers wrote nothing: every resource write is the winner's, one cold deploy's.
        assert_eq!(sorted(st.write_ops.clone()), cold, "trial {trial}\n{all}");
        // Four conditional creates (one won, three refused) and one release.
        assert_eq!(
            sorted(st.lock_ops.clone()),
            [
                "DeleteParameter",
                "PutParameter",
                "PutParameter",
                "PutParameter",
                "PutParameter"
            ],
            "trial {trial}"
        );
        assert_eq!(
            s.inventory(),
            web_in(&s.name, &region),
            "trial {trial}: no duplicates"
        );
        assert_eq!(lock_value(&s), None, "trial {trial}: released");
        s.destroy();
        assert_eq!(
            lock_value(&s),
            None,
            "trial {trial}: destroy released its lock"
        );
    }
}

#[test]
fn the_lock_is_released_after_a_failure_after_ctrl_c_and_after_sigterm() {
    let env = Env::new();
    let s = web(&env, "it-lock-exit", "eu-west-3");

    // A failed deploy releases it.
    env.fault("CreateService", 1, 400, "InvalidParameterException");
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["failed to create service it-lock-exit"]);
    assert_eq!(lock_value(&s), None, "released after a failed deploy");

    // Ctrl-C while waiting for the rollout releases it (exit 130, the rollout goes on). With a
    // 3 s lease (renewed every second) the holder is seen renewing it meanwhile.
    env.set_rollout("IN_PROGRESS", "");
    let (mut child, rx) = spawn(
        &env,
        &[
            "deploy",
            s.spec(),
            "--yes",
            "--poll-interval",
            "100ms",
            "--lock-lease",
            "3s",
        ],
    );
    let mut seen = String::new();
    // The first progress line comes after the first poll, when Ctrl-C is listened for.
    read_until(&rx, &mut seen, |l| l.starts_with("  rollout "));
    let first = lock_value(&s).unwrap_or_else(|| panic!("held while waiting:\n{seen}"));
    assert_eq!(first["command"], "deploy");
    assert!(
        first["who"].as_str().unwrap().starts_with("arn:aws:"),
        "{first}"
    );
    assert!(first["host"].as_str().unwrap().contains('@'), "{first}");
    std::thread::sleep(Duration::from_millis(2500));
    let later = lock_value(&s).expect("still held");
    assert_eq!(later["id"], first["id"]);
    assert!(
        later["expires"].as_i64() > first["expires"].as_i64(),
        "renewed: {first} then {later}"
    );
    assert!(
        later["expires"].as_i64().unwrap() > now(),
        "the lease is live: {later}"
    );
    sigint(&child);
    let status = child.wait().unwrap();
    drain(&rx, &mut seen);
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(seen.contains("Stopped waiting."), "{seen}");
    assert_eq!(lock_value(&s), None, "released after Ctrl-C:\n{seen}");
    env.set_rollout("COMPLETED", "");
    s.destroy();

    // SIGTERM (a cancelled CI job) in the middle of the apply (slow calls) is Ctrl-C: it
    // releases the lock too. (tests/suite/consistency.rs sends Ctrl-C there.)
    env.set_delay(200);
    let (mut child, rx) = spawn(&env, &["deploy", s.spec(), "--yes", "--no-wait"]);
    let mut seen = String::new();
    // The VPC is made: the rest of the apply takes several round trips more.
    read_until(&rx, &mut seen, |l| l.starts_with("aws_vpc.vpc: Created"));
    sigterm(&child);
    let status = child.wait().unwrap();
    drain(&rx, &mut seen);
    env.wait_idle();
    env.set_delay(0);
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(
        seen.contains("Interrupted: starting nothing new, letting the calls in flight finish"),
        "{seen}"
    );
    assert!(
        seen.contains("The stack is partly applied (run deploy again to converge)"),
        "{seen}"
    );
    assert_eq!(
        lock_value(&s),
        None,
        "released after SIGTERM in the apply:\n{seen}"
    );
    // It converges, without duplicates.
    s.deploy();
    assert_eq!(s.inventory(), web_in(&s.name, &s.region));
    s.assert_converged();
    s.destroy();
}

#[test]
fn a_held_lock_fails_fast_and_lock_timeout_waits_for_it() {
    let env = Env::new();
    let s = web(&env, "it-lock-wait", "ap-south-1");
    hold(&s, "alice-lock-1", 120);

    // Fails at once, naming the holder, with no write but the refused conditional create.
    env.reset();
    let t = Instant::now();
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(t.elapsed() < Duration::from_secs(20), "fails fast");
    r.assert_stderr(&[
        "stack \"it-lock-wait\" is locked in ap-south-1 by arn:aws:iam::123456789012:user/alice \
         (alice@laptop) running `deploy` since 3", // 30 s ago when written, give or take
        " s ago, lease until ",
        "lock id alice-lock-1",
        "add --lock-timeout 5m",
        "ballast unlock it-lock-wait --region ap-south-1 alice-lock-1",
    ]);
    let st = env.stats();
    st.assert_no_writes("a deploy refused by the lock");
    assert_eq!(st.lock_ops, ["PutParameter"], "only the refused create");
    // With --lock-timeout it waits; once the holder releases, it goes on and succeeds.
    let (mut child, rx) = spawn(
        &env,
        &[
            "deploy",
            s.spec(),
            "--yes",
            "--no-wait",
            "--lock-timeout",
            "30s",
        ],
    );
    let mut seen = String::new();
    read_until(&rx, &mut seen, |l| {
        l.starts_with("Waiting up to 30 s for the lock")
    });
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still waiting:\n{seen}"
    );
    release_by_hand(&s);
    let status = child.wait().unwrap();
    drain(&rx, &mut seen);
    assert_eq!(status.code(), Some(0), "{seen}");
    assert!(seen.contains("Apply complete!"), "{seen}");
    assert_eq!(lock_value(&s), None);
    assert_eq!(s.inventory(), web_in(&s.name, &s.region));

    // maintenance is refused the same way, before its first write.
    hold(&s, "alice-lock-2", 120);
    env.reset();
    let r = env.ballast(&["maintenance", "on", s.spec(), "--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["is locked in ap-south-1", "lock id alice-lock-2"]);
    env.stats()
        .assert_no_writes("maintenance refused by the lock");
    // A timeout that passes gives up with the holder named.
    let r = s.run("destroy", &["--yes", "--lock-timeout", "3s"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[
        "gave up after waiting 3 s for the lock",
        "lock id alice-lock-2",
    ]);
    release_by_hand(&s);
    s.destroy();
}

/// Write `v` as the lock of `s`, over whatever is there.
fn put_lock(s: &TestStack, v: &serde_json::Value) {
    write_lock(s, v, true);
}

/// Write `v` as the lock of `s` (PutParameter with `overwrite`).
fn write_lock(s: &TestStack, v: &serde_json::Value, overwrite: bool) {
    s.block_on(
        s.clients()
            .ssm
            .put_parameter()
            .name(param(&s.name))
            .value(v.to_string())
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(overwrite)
            .send(),
    )
    .unwrap();
}

/// `unlock` waits until AWS lists what the holder may have made (a third of its lease plus
/// 30 s after its last renewal), and a renewal seen after that wait proves the holder alive:
/// the lock is left. `--no-wait` breaks it at once.
#[test]
fn unlock_waits_for_the_listings_and_leaves_a_lock_renewed_meanwhile() {
    let env = Env::new();
    let s = web(&env, "it-lock-unwait", "eu-west-3");
    // A 3 s lease last renewed 25 s ago: AWS lists what its holder made within 6 s from now.
    let mut v = serde_json::json!({
        "id": "bob-1", "who": "arn:aws:iam::123456789012:user/bob", "host": "bob@ci",
        "command": "deploy", "acquired": now() - 40, "expires": now() - 22, "lease": 3,
    });
    put_lock(&s, &v);
    let (mut child, rx) = common::spawn(
        &env,
        &["unlock", "it-lock-unwait", "--region", "eu-west-3", "bob-1"],
    );
    let mut seen = String::new();
    common::read_until(&rx, &mut seen, |l| l.starts_with("Waiting "));
    assert!(
        seen.contains(" before removing lock bob-1: its holder (arn:aws:iam::123456789012:user/bob, `deploy`) renewed it 2"),
        "{seen}"
    );
    // The wait named (a busy machine starts the process a second or two late): 3 to 6 s.
    let secs: u64 = seen
        .split("Waiting ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wait in: {seen}"));
    assert!((3..=6).contains(&secs), "{seen}");
    // The holder renews meanwhile: it is alive.
    v["expires"] = (now() + 60).into();
    put_lock(&s, &v);
    let status = child.wait().unwrap();
    common::drain(&rx, &mut seen);
    assert_eq!(status.code(), Some(1), "{seen}");
    assert!(
        seen.contains("not unlocked: lock bob-1 was renewed while waiting, so its holder is alive"),
        "{seen}"
    );
    assert_eq!(
        lock_value(&s).unwrap()["expires"],
        v["expires"],
        "left as is"
    );

    // At once with --no-wait.
    env.reset();
    let r = env.ballast(&[
        "unlock",
        "it-lock-unwait",
        "--region",
        "eu-west-3",
        "bob-1",
        "--no-wait",
    ]);
    assert_ok(&r, "unlock --no-wait");
    assert!(!r.stderr.contains("Waiting"), "{}", r.stderr);
    assert_eq!(env.stats().lock_ops, ["DeleteParameter"]);
    assert_eq!(lock_value(&s), None);
}

#[test]
fn a_stale_lock_is_named_and_broken_only_by_its_id() {
    let env = Env::new();
    let s = web(&env, "it-lock-stale", "sa-east-1");
    hold(&s, "stale-1", -300);

    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[
        "STALE: its lease ended 5 min ago",
        "lock id stale-1",
        "to break it: ballast unlock it-lock-stale --region sa-east-1 stale-1",
    ]);
    assert!(lock_value(&s).is_some(), "not taken over");

    // unlock with another id leaves it.
    let r = env.ballast(&[
        "unlock",
        "it-lock-stale",
        "--region",
        "sa-east-1",
        "other-id",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[
        "not unlocked: the lock there is not other-id",
        "lock id stale-1",
    ]);
    assert_eq!(lock_value(&s).unwrap()["id"], "stale-1");
    // Without a region it says which is needed.
    let r = env.ballast(&["unlock", "it-lock-stale", "stale-1"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["unlock needs --region"]);

    // With its id it goes; a second unlock finds nothing (exit 0).
    env.reset();
    let r = env.ballast(&[
        "unlock",
        "it-lock-stale",
        "--region",
        "sa-east-1",
        "stale-1",
    ]);
    assert_ok(&r, "unlock");
    r.assert_stderr(&[
        "unlocked stack \"it-lock-stale\" in sa-east-1: removed lock stale-1",
        "arn:aws:iam::123456789012:user/alice",
    ]);
    let st = env.stats();
    assert_eq!(st.lock_ops, ["DeleteParameter"]);
    st.assert_no_writes("unlock");
    assert_eq!(lock_value(&s), None);
    let r = env.ballast(&[
        "unlock",
        "it-lock-stale",
        "--region",
        "sa-east-1",
        "stale-1",
    ]);
    assert_ok(&r, "unlock of nothing");
    r.assert_stderr(&["Nothing to unlock"]);

    s.deploy();
    s.destroy();
}

#[test]
fn plan_says_when_the_stack_is_locked_and_writes_nothing() {
    let env = Env::new();
    let s = web(&env, "it-lock-plan", "ca-central-1");
    hold(&s, "alice-plan", 90);
    env.reset();
    let r = s.run("plan", &["--output", "json"]);
    assert_ok(&r, "plan");
    r.assert_stderr(&[
        "note: stack \"it-lock-plan\" is locked in ca-central-1 by \
         arn:aws:iam::123456789012:user/alice (alice@laptop) running `deploy`",
        "lock id alice-plan",
    ]);
    // stdout is the JSON plan, as without a lock.
    let plan = Plan::parse(&r.stdout);
    assert!(plan.has_changes());
    let st = env.stats();
    st.assert_no_writes("plan");
    assert!(st.lock_ops.is_empty(), "{:?}", st.lock_ops);
    assert_eq!(
        st.calls.iter().filter(|c| *c == "ssm GetParameter").count(),
        1,
        "one read of the lock per region"
    );
    // Unlocked: no note.
    release_by_hand(&s);
    let r = s.run("plan", &[]);
    assert_ok(&r, "plan");
    assert!(!r.stderr.contains("note: stack"), "{}", r.stderr);
}

/// The lock parameter's id in `region`, if there is one.
fn lock_id_in(env: &Env, stack: &str, region: &str) -> Option<String> {
    let c = env.clients(region);
    let r = env
        .rt
        .block_on(c.ssm.get_parameter().name(param(stack)).send());
    let out = r.ok()?;
    let v: serde_json::Value = serde_json::from_str(out.parameter()?.value()?).unwrap();
    Some(v["id"].as_str().unwrap().to_string())
}

#[test]
fn two_regions_are_locked_both_and_a_lock_in_the_second_releases_the_first() {
    let env = Env::new();
    let (stack, zname) = ("it-lock-two", "lock-two.example.com");
    let (r1, r2) = ("us-east-1", "us-west-2");
    zone(&env, zname);
    for r in [r1, r2] {
        let c = env.clients(r);
        let _ = env
            .rt
            .block_on(c.ssm.delete_parameter().name(param(stack)).send());
    }
    let yaml = format!(
        "name: {stack}\nregions: [{r1}, {r2}]\nservice:\n  image: nginx\n  port: 80\n  desired_count: 1\n\
         dns:\n  zone: {zname}\n  name: app.{zname}\n  health_check:\n    path: /healthz\n    interval: 10\n    failure_threshold: 2\n"
    );
    let s = TestStack::new(&env, stack, r1, &yaml);

    // Another command holds the second region: the primary's lock, taken first, is released
    // again, and nothing is written.
    let c2 = env.clients(r2);
    let v = serde_json::json!({
        "id": "west-lock", "who": "arn:aws:iam::123456789012:user/alice", "host": "alice@laptop",
        "command": "maintenance on", "acquired": now() - 5, "expires": now() + 120,
    });
    env.rt
        .block_on(
            c2.ssm
                .put_parameter()
                .name(param(stack))
                .value(v.to_string())
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .send(),
        )
        .unwrap();
    env.reset();
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[
        &format!("stack \"{stack}\" is locked in {r2} by arn:aws:iam::123456789012:user/alice"),
        "running `maintenance on`",
        &format!("ballast unlock {stack} --region {r2} west-lock"),
    ]);
    let st = env.stats();
    st.assert_no_writes("a deploy refused by the second region's lock");
    assert_eq!(
        st.lock_ops,
        ["PutParameter", "PutParameter", "DeleteParameter"],
        "taken in {r1}, refused in {r2}, released in {r1}"
    );
    assert_eq!(
        lock_id_in(&env, stack, r1),
        None,
        "the primary's lock is released"
    );
    assert_eq!(lock_id_in(&env, stack, r2).as_deref(), Some("west-lock"));

    // Once it is gone, the deploy locks both regions and releases both.
    // (At once: that holder made nothing.)
    let r = env.ballast(&["unlock", stack, "--region", r2, "west-lock", "--no-wait"]);
    assert_ok(&r, "unlock");
    let d = s.deploy();
    assert_eq!(
        d.stats.lock_ops,
        [
            "PutParameter",
            "PutParameter",
            "DeleteParameter",
            "DeleteParameter"
        ]
    );
    assert_eq!(lock_id_in(&env, stack, r1), None);
    assert_eq!(lock_id_in(&env, stack, r2), None);
    s.destroy();
}

/// Ctrl-C at the interactive prompt releases the lock and writes nothing. The deploy runs on a
/// real terminal (under util-linux `script`, which gives it a pseudo-terminal), so it asks
/// "Do you want to perform these actions?" holding the lock; the test then types Ctrl-C, which
/// the terminal turns into SIGINT, as a person's keyboard would.
#[test]
fn ctrl_c_at_the_prompt_releases_the_lock_and_writes_nothing() {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    let env = Env::new();
    let s = web(&env, "it-lock-prompt", "eu-north-1");
    let bin = env.command();
    let line = format!("exec {} deploy {}", env!("CARGO_BIN_EXE_ballast"), s.spec());
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qfec", &line, "/dev/null"]);
    for (k, v) in bin.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    env.reset();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the deploy on a pseudo-terminal");
    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut out = child.stdout.take().unwrap();
    let sink = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let text = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text().contains("Enter a value:") {
        assert!(
            Instant::now() < deadline,
            "no prompt within 60 s; the terminal showed:\n{}",
            text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        text().contains("Do you want to perform these actions?"),
        "{}",
        text()
    );
    let held =
        lock_value(&s).unwrap_or_else(|| panic!("the lock is held at the prompt:\n{}", text()));
    assert_eq!(held["command"], "deploy");

    // Ctrl-C, typed.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("deploy did not stop within 30 s of Ctrl-C:\n{}", text());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    assert_eq!(
        status.code(),
        Some(130),
        "exit 130 after Ctrl-C:\n{}",
        text()
    );
    assert_eq!(
        lock_value(&s),
        None,
        "released after Ctrl-C at the prompt:\n{}",
        text()
    );
    let stats = env.stats();
    stats.assert_no_writes("a deploy stopped at its prompt");
    assert_eq!(
        stats.lock_ops,
        ["PutParameter", "DeleteParameter"],
        "the lock taken once and released"
    );
    assert!(
        s.inventory().is_empty(),
        "nothing was made: {:?}",
        s.inventory()
    );
}
