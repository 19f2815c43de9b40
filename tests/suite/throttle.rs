//! Throttling: with 30 % of all AWS calls throttled (each in its service's own error shape:
//! EC2 503 RequestLimitExceeded, S3 503 SlowDown, JSON/CBOR ThrottlingException, query and
//! REST-XML Throttling), deploy and destroy still converge, cycle after cycle: 8 cycles by
//! default (about a thousand calls, some three hundred of them throttled), more with
//! `BALLAST_THROTTLE_CYCLES` (20 is a run of about seven minutes on 2 cores).
//!
//! The throttle is per scope (this test's access key, tests/emulator/README.md "Scopes"): the
//! calls of tests beside it are not throttled.

use crate::common;

use common::{assert_ok, web_inventory, web_spec, Env, TestStack};

const CYCLES: u32 = 8;
const RATE: f64 = 0.3;

#[test]
fn deploys_and_destroys_converge_with_thirty_percent_of_calls_throttled() {
    let env = Env::new();
    let (name, region) = ("it-throttle", "eu-central-1");
    let s = TestStack::new(&env, name, region, &web_spec(name, region, ""));
    let want = web_inventory(
        name,
        region,
        &[&format!("{region}a"), &format!("{region}b")],
    );
    env.reset();
    let cycles = std::env::var("BALLAST_THROTTLE_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CYCLES);
    env.throttle(RATE, 20261201);
    for i in 1..=cycles {
        let r = s.run("deploy", &["--yes", "--poll-interval", "200ms"]);
        assert_ok(&r, &format!("deploy {i} of {cycles} at {RATE} throttling"));
        let r = env.ballast(&["destroy", s.spec(), "--yes"]);
        assert_ok(&r, &format!("destroy {i} of {cycles} at {RATE} throttling"));
    }
    let throttled = env.stop_throttling();
    let total = env.stats().total;
    eprintln!("{throttled} of {total} calls throttled over {cycles} cycles");
    assert!(
        throttled as f64 > 0.2 * total as f64,
        "the shim throttled {throttled} of {total} calls"
    );
    // Nothing left over, and one more cycle unthrottled is a plain one.
    assert!(s.inventory().is_empty(), "{:?}", s.inventory());
    s.deploy();
    assert_eq!(s.inventory(), want);
    s.assert_converged();
    s.destroy();
}
