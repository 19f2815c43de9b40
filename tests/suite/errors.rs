//! Errors a person can act on: no credentials, an unreachable endpoint and broken YAML each say
//! what is wrong and what to do, in one place, quickly, without debug dumps. No emulator needed:
//! every address is loopback, and a closed port or a listener that never answers stands in for
//! what is missing.

use crate::common;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{rejects, validate};

/// A valid spec without warnings (plain HTTP meant), so stderr holds the error alone.
const SPEC: &str =
    "name: web\nregion: us-east-1\nservice:\n  image: nginx:1.27\n  user: \"101\"\nload_balancer:\n  allow_http: true\n";

/// A loopback port that nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ballast plan` on SPEC with no credentials anywhere: no environment variables, an empty HOME,
/// config files that do not exist, and instance metadata at `imds`. AWS calls go to a closed
/// loopback port (they never get that far). Exit code, stderr and how long it took.
fn plan_without_credentials(imds: &str, extra: &[&str]) -> (i32, String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let spec = dir.path().join("stack.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_ballast"));
    for v in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_EC2_METADATA_DISABLED",
        "BALLAST_LOG",
    ] {
        c.env_remove(v);
    }
    c.env("HOME", &home)
        .env("AWS_CONFIG_FILE", dir.path().join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("no-credentials"),
        )
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds)
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", closed_port()),
        )
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .arg("plan")
        .arg(&spec)
        .args(extra);
    let t = Instant::now();
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t.elapsed(),
    )
}

/// No debug dump and no SDK log line.
fn assert_plain(err: &str) {
    for dump in [
        "Unhandled",
        "DispatchFailure",
        "ErrorMetadata",
        "ConnectorError",
        "{",
        " WARN ",
    ] {
        assert!(!err.contains(dump), "{dump:?} in:\n{err}");
    }
}

fn assert_no_credentials_message(err: &str) {
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected:\n{err}");
    for needle in [
        "no AWS credentials found",
        "environment variables",
        "SSO",
        "instance metadata",
        "--profile",
        "aws sso login",
        "AWS_ACCESS_KEY_ID",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert_plain(err);
}

#[test]
fn no_credentials_with_metadata_refused_is_one_actionable_line() {
    let imds = format!("http://127.0.0.1:{}", closed_port());
    let (code, err, took) = plan_without_credentials(&imds, &[]);
    assert_eq!(code, 1, "{err}");
    assert_no_credentials_message(&err);
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn no_credentials_with_metadata_that_never_answers_is_quick() {
    // Accepts connections (the kernel's backlog) and never answers a byte.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let imds = format!("http://{}", silent.local_addr().unwrap());
    let (code, err, took) = plan_without_credentials(&imds, &[]);
    drop(silent);
    assert_eq!(code, 1, "{err}");
    assert_no_credentials_message(&err);
    // The metadata lookup adds at most about a second (one 300 ms attempt per request).
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn the_sdk_speaks_only_when_asked() {
    let imds = format!("http://127.0.0.1:{}", closed_port());
    let (_, err, _) = plan_without_credentials(&imds, &["-vv"]);
    // -vv shows what the credential chain tried (the SDK's own lines).
    assert!(err.contains("DEBUG"), "{err}");
    assert!(err.lines().count() > 1, "{err}");
}

#[test]
fn an_unreachable_endpoint_fails_fast_and_names_its_address() {
    let port = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("stack.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["plan", spec.to_str().unwrap(), "--endpoint-url", &url])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("BALLAST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {err}");
    // Whichever read fails first names its service (the reads run at once).
    assert!(
        err.contains("could not reach ") && err.contains(&format!(" at {url}: connection refused")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_plain(&err);
}

macro_rules! rejects {
    ($name:ident, $yaml:expr, $($needle:expr),+) => {
        #[test]
        fn $name() {
            let err = rejects(&$yaml, &[$($needle),+]);
            assert_plain_yaml(&err);
            insta::assert_snapshot!(stringify!($name), err);
        }
    };
}

/// No library wording, and nothing longer than a screen.
fn assert_plain_yaml(err: &str) {
    for leak in [
        "DuplicateKeyPolicy",
        "from_str_multiple",
        "budget breached",
        "ScalarBytes",
        "not a number",
    ] {
        assert!(!err.contains(leak), "{leak:?} in:\n{err}");
    }
    assert!(err.len() < 4000, "{} bytes:\n{err}", err.len());
    for line in err.lines() {
        assert!(
            line.chars().count() < 400,
            "a line of {} characters",
            line.len()
        );
    }
}

rejects!(
    duplicate_key,
    "name: web\nregion: us-east-1\nname: other\nservice:\n  image: nginx\n",
    "duplicate key `name`",
    "stack.yaml:3:1"
);

rejects!(
    two_documents,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n---\nname: other\n",
    "more than one YAML document",
    "remove the `---`"
);

rejects!(
    too_deep,
    format!(
        "name: web\nregion: us-east-1\nservice:\n  image: nginx\ntags: {{a: {}{}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    ),
    "nested too deeply",
    "more characters)"
);

rejects!(
    negative_count,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  desired_count: -1\n",
    "must be 0 or more, not -1",
    "stack.yaml:5:18"
);

rejects!(
    image_name_too_long,
    format!(
        "name: web\nregion: us-east-1\nservice:\n  image: registry.example.com/{}:1\n",
        "a".repeat(300)
    ),
    "the image name is 323 characters long: ECS allows 255"
);

rejects!(
    environment_too_large,
    format!(
        "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  environment:\n{}",
        (0..70)
            .map(|i| format!("    V{i}: {}\n", "x".repeat(1000)))
            .collect::<String>()
    ),
    "the environment and command take 71 KiB: at most 56 KiB fit in an ECS task definition"
);

#[test]
fn a_huge_file_is_refused_unread() {
    let yaml = format!(
        "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  environment:\n{}",
        (0..2000)
            .map(|i| format!("    V{i}: {}\n", "x".repeat(1000)))
            .collect::<String>()
    );
    let err = rejects(
        &yaml,
        &[
            "the spec is too large: ",
            "KiB (ballast reads at most 1024 KiB)",
        ],
    );
    assert_plain_yaml(&err);
    insta::assert_snapshot!("huge_file", err);
}

#[test]
fn invalid_utf8_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yaml");
    std::fs::write(
        &path,
        b"name: web\nregion: us-east-1\nservice:\n  image: ngi\xffnx\n",
    )
    .unwrap();
    let (code, err) = common::validate_file(&path);
    assert_eq!(code, 1, "{err}");
    for needle in [
        "not valid UTF-8: byte 0xff at line 4, column 13",
        "stack.yaml:4:13",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    insta::assert_snapshot!("invalid_utf8", err);
}

#[test]
fn a_valid_spec_still_validates() {
    let (code, err) = validate(SPEC);
    assert_eq!(code, 0, "{err}");
}
