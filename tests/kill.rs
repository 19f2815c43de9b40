//! The kill matrix: a cold deploy killed right after its k-th write, for every k, converges
//! with one more deploy. The shim lets exactly k writes through and then hangs every call
//! (`/_shim/freeze`), the test kills the process, and the calls it held never reach AWS.
//!
//! The freeze is global to the emulator: tests take the harness's global lock, and this binary
//! holds this one test.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{assert_ok, web_inventory, web_spec, Env, TestStack};

#[test]
fn a_deploy_killed_after_any_write_converges_with_one_more_deploy() {
    let env = Env::new();
    let region = "eu-north-1";
    let name = "kill-k";
    let s = TestStack::new(&env, name, region, &web_spec(name, region, ""));
    let want = web_inventory(
        name,
        region,
        &[&format!("{region}a"), &format!("{region}b")],
    );

    // How many writes a cold deploy makes: the stack lock's PutParameter first, the resources'
    // writes, and the lock's DeleteParameter last (after the rollout).
    let cold = s.deploy().stats;
    assert_eq!(cold.lock_ops, ["PutParameter", "DeleteParameter"]);
    let resources = cold.writes;
    assert!(
        resources > 20,
        "a cold deploy of the web stack: {resources}"
    );
    let writes = resources + 2;
    s.destroy();

    for k in 1..=writes {
        env.freeze_after_writes(k);
        let mut child = env
            .command()
            .args(["deploy", s.spec(), "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
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
                "k={k}: the deploy neither wrote {k} times nor ended in 60 s: {f}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().ok();
        child.wait().unwrap();
        assert_eq!(env.freeze_state()["passed"], k, "k={k}: exactly k writes");
        env.thaw();
        env.wait_idle();
        // A killed deploy cannot release the stack's lock: its owner breaks it by its id.
        if let Some(id) = lock_id(&s) {
            let r = env.ballast(&["unlock", name, "--region", region, &id]);
            assert_ok(&r, &format!("unlock after a kill at write {k}"));
        }

        env.reset();
        let r = s.run("deploy", &["--yes"]);
        assert_ok(&r, &format!("the deploy after a kill at write {k}"));
        let rest = env.stats();
        eprintln!("k={k}: the next deploy wrote {:?}", rest.write_ops);
        // The kill left something undone, and the next deploy did it; killed after its last
        // resource write (in the rollout wait, or done), the next deploy has nothing to do.
        assert_eq!(
            rest.writes == 0,
            k >= writes - 1,
            "k={k}: {:?}",
            rest.write_ops
        );
        assert_eq!(s.inventory(), want, "k={k}: one of each, nothing missing");
        s.assert_converged();
        s.destroy();
    }
}

/// The id of the stack lock a killed deploy left, if it left one.
fn lock_id(s: &TestStack) -> Option<String> {
    let c = s.clients();
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
