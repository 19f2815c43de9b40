//! The kill matrix: a cold deploy killed right after its k-th write, for every k, converges
//! with one more deploy. The shim lets exactly k writes through and then hangs every call
//! (`/_shim/freeze`), the test kills the process, and the calls it held never reach AWS.
//!
//! The freeze is global to the emulator, so this binary holds this one test: cargo runs test
//! binaries one after another, and nothing else calls the emulator meanwhile.

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

    // How many writes a cold deploy makes.
    let writes = s.deploy().stats.writes;
    assert!(
        writes > 20,
        "a cold deploy of the web stack writes: {writes}"
    );
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
                env.thaw();
                panic!("k={k}: the deploy ended ({status}) before it was killed: {f}");
            }
            assert!(
                Instant::now() < deadline,
                "k={k}: the deploy neither wrote {k} times nor ended in 60 s: {f}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(env.freeze_state()["passed"], k, "k={k}: exactly k writes");
        env.thaw();
        env.wait_idle();

        env.reset();
        let r = s.run("deploy", &["--yes"]);
        assert_ok(&r, &format!("the deploy after a kill at write {k}"));
        let rest = env.stats();
        eprintln!("k={k}: the next deploy wrote {:?}", rest.write_ops);
        // The kill left something undone, and the next deploy did it (the last write is
        // followed only by the rollout wait).
        assert_eq!(rest.writes == 0, k == writes, "k={k}: {:?}", rest.write_ops);
        assert_eq!(s.inventory(), want, "k={k}: one of each, nothing missing");
        s.assert_converged();
        s.destroy();
    }
}
