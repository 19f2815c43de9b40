//! The account line (`Account ID as ARN, region R`) every planning or writing command starts
//! with, from one STS GetCallerIdentity call, and `accounts:`, which refuses any other account
//! before any other AWS call. moto's account is 123456789012, its caller
//! `arn:aws:sts::123456789012:user/moto`.

use crate::common;

use common::*;

/// Plain HTTP meant: no warning before the account line.
const HTTP: &str = "load_balancer:\n  allow_http: true\n";

const ACCOUNT: &str = "123456789012";
const LINE: &str =
    "Account 123456789012 as arn:aws:sts::123456789012:user/moto, region us-east-1\n";

fn first_line(stderr: &str) -> &str {
    stderr.split_inclusive('\n').next().unwrap_or_default()
}

fn identity_calls(st: &Stats) -> usize {
    st.calls
        .iter()
        .filter(|c| *c == "sts GetCallerIdentity")
        .count()
}

#[test]
fn plan_starts_with_the_account_line_and_json_stays_on_stdout() {
    let env = Env::new();
    let s = TestStack::new(
        &env,
        "acct-plan",
        "us-east-1",
        &web_spec("acct-plan", "us-east-1", HTTP),
    );

    env.reset();
    let r = s.run("plan", &[]);
    assert_ok(&r, "plan");
    assert_eq!(first_line(&r.stderr), LINE, "{}", r.stderr);
    assert_eq!(r.stderr.matches("Account ").count(), 1, "{}", r.stderr);
    assert_eq!(
        identity_calls(&env.stats()),
        1,
        "one GetCallerIdentity per command"
    );

    // JSON on stdout is the plan alone; the line is on stderr.
    let r = s.run("plan", &["--output", "json"]);
    assert_ok(&r, "plan --output json");
    assert_eq!(r.stderr, LINE);
    let _: serde_json::Value =
        serde_json::from_str(&r.stdout).expect("stdout is the JSON plan alone");
}

#[test]
fn an_allowed_account_deploys_and_destroy_by_name_says_the_account_too() {
    let env = Env::new();
    let yaml = format!(
        "{}accounts: [\"{ACCOUNT}\"]\n",
        web_spec("acct-ok", "us-east-1", HTTP)
    );
    let s = TestStack::new(&env, "acct-ok", "us-east-1", &yaml);
    let d = s.deploy();
    assert_eq!(first_line(&d.run.stderr), LINE, "{}", d.run.stderr);
    assert_eq!(identity_calls(&d.stats), 1, "{:?}", d.stats.calls);
    assert_eq!(
        d.stats.calls[0], "sts GetCallerIdentity",
        "with `accounts:` it comes first"
    );

    // `destroy --stack NAME` has no spec and no `accounts:`: it still says where it acts.
    env.reset();
    let r = s.destroy_by_name();
    assert_eq!(first_line(&r.stderr), LINE, "{}", r.stderr);
    assert_eq!(identity_calls(&env.stats()), 1);
}

#[test]
fn another_account_is_refused_with_one_call_and_zero_writes() {
    let env = Env::new();
    let yaml = format!(
        "{}accounts: [\"111111111111\", \"222222222222\"]\n",
        web_spec("acct-no", "us-east-1", HTTP)
    );
    let s = TestStack::new(&env, "acct-no", "us-east-1", &yaml);
    for verb in [
        vec!["deploy", "--yes"],
        vec!["plan"],
        vec!["destroy", "--yes"],
        vec!["maintenance", "on", "--yes"],
    ] {
        env.reset();
        let mut args = vec![verb[0]];
        if verb[0] == "maintenance" {
            args.push(verb[1]);
            args.push(s.spec());
            args.extend_from_slice(&verb[2..]);
        } else {
            args.push(s.spec());
            args.extend_from_slice(&verb[1..]);
        }
        let r = env.ballast(&args);
        assert_eq!(r.code, 1, "{args:?}\n{}", r.stderr);
        assert_eq!(first_line(&r.stderr), LINE, "{}", r.stderr);
        r.assert_stderr(&[
            "refusing to act in account 123456789012 (as arn:aws:sts::123456789012:user/moto)",
            "allows only 111111111111, 222222222222",
        ]);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        let st = env.stats();
        st.assert_no_writes("a refused account");
        assert_eq!(st.total, 1, "{args:?}: {:?}", st.calls);
        assert_eq!(st.calls, ["sts GetCallerIdentity"]);
    }
}
