//! Secrets: `service.secrets` becomes the task definition's `secrets` (valueFrom) and an inline
//! policy of the execution role that may read exactly those; environment values stay out of
//! every output unless `--show-values` (the canary test).

use crate::common;

use common::{assert_ok, web_spec, Env, Run, TestStack};

/// The value of the SSM parameter the stack names: ballast never reads it.
const SECRET_VALUE: &str = "canary-secret-value-93ab61";
/// A secret-looking environment value: in the task definition, never in ballast's output.
const ENV_VALUE: &str = "canary-env-value-7d1f0c";

const KMS_KEY: &str =
    "arn:aws:kms:ca-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const SECRET_ARN: &str = "arn:aws:secretsmanager:ca-central-1:123456789012:secret:shop/db-AbCdEf";

fn spec(name: &str, region: &str, secrets: bool) -> String {
    let mut extra =
        format!("  environment:\n    DB_HOST: db.internal\n    DB_PASSWORD: {ENV_VALUE}\n");
    if secrets {
        extra.push_str(&format!(
            "  secrets:\n    API_KEY: ssm:/shop/api-key\n    DB_TOKEN: \"{SECRET_ARN}:token::\"\n  secrets_kms_key: {KMS_KEY}\n"
        ));
    }
    web_spec(name, region, &extra)
}

/// Neither canary in anything a command printed.
fn assert_clean(r: &Run, what: &str) {
    for canary in [SECRET_VALUE, ENV_VALUE] {
        let n = r.stdout.matches(canary).count() + r.stderr.matches(canary).count();
        assert_eq!(
            n, 0,
            "{what} printed {canary:?}:\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
    }
}

#[test]
fn secrets_are_read_by_ecs_and_never_shown_by_ballast() {
    let env = Env::new();
    let (name, region) = ("it-secrets", "ca-central-1");
    let s = TestStack::new(&env, name, region, &spec(name, region, true));
    let c = s.clients();
    s.block_on(
        c.ssm
            .put_parameter()
            .name("/shop/api-key")
            .value(SECRET_VALUE)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send(),
    )
    .unwrap();

    let r = s.run("validate", &[]);
    assert_ok(&r, "validate");
    r.assert_stderr(&["environment variable `DB_PASSWORD` looks like a secret"]);
    assert_clean(&r, "validate");

    let r = s.run("plan", &[]);
    assert_ok(&r, "plan");
    r.assert_stderr(&["DB_PASSWORD", "(sensitive)", "API_KEY", "/shop/api-key"]);
    assert_clean(&r, "plan");
    let r = s.run("plan", &["--output", "json"]);
    assert_ok(&r, "plan --output json");
    assert_clean(&r, "plan --output json");
    let r = s.run("plan", &["--show-values"]);
    assert_ok(&r, "plan --show-values");
    assert!(r.stderr.contains(ENV_VALUE), "--show-values shows them");

    let r = s.run("deploy", &["--yes", "-vvv"]);
    assert_ok(&r, "deploy -vvv");
    assert_clean(&r, "deploy -vvv");

    // ECS gets the references, the execution role may read exactly those.
    let td = s.block_on(
        c.ecs
            .describe_task_definition()
            .task_definition(name)
            .send(),
    );
    let td = td.unwrap().task_definition.unwrap();
    let cd = &td.container_definitions()[0];
    let mut secrets: Vec<(&str, &str)> = cd
        .secrets()
        .iter()
        .map(|x| (x.name(), x.value_from()))
        .collect();
    secrets.sort();
    let token_ref = format!("{SECRET_ARN}:token::");
    assert_eq!(
        secrets,
        [
            ("API_KEY", "/shop/api-key"),
            ("DB_TOKEN", token_ref.as_str())
        ]
    );
    let role = format!("{name}-{region}-exec");
    let p = s.block_on(
        c.iam
            .get_role_policy()
            .role_name(&role)
            .policy_name("ballast-secrets")
            .send(),
    );
    let doc = p.unwrap().policy_document().to_string();
    let doc = if doc.starts_with('%') {
        percent_decode(&doc)
    } else {
        doc
    };
    let policy: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let allowed: Vec<(String, serde_json::Value)> = statements
        .iter()
        .map(|st| {
            assert_eq!(st["Effect"], "Allow");
            (
                st["Action"].as_str().unwrap().to_string(),
                st["Resource"].clone(),
            )
        })
        .collect();
    // The key decrypts only for Secrets Manager and SSM of the stack's region.
    assert_eq!(
        statements[2]["Condition"],
        serde_json::json!({"StringEquals": {"kms:ViaService": [
            format!("secretsmanager.{region}.amazonaws.com"),
            format!("ssm.{region}.amazonaws.com"),
        ]}})
    );
    assert_eq!(
        allowed,
        [
            (
                "secretsmanager:GetSecretValue".to_string(),
                // The ARN as given, and with the wildcard for the six characters AWS appends
                // (in case `-AbCdEf` is part of the name).
                serde_json::json!([SECRET_ARN, format!("{SECRET_ARN}-??????")])
            ),
            (
                "ssm:GetParameters".to_string(),
                serde_json::json!([format!(
                    "arn:aws:ssm:{region}:${{aws:PrincipalAccount}}:parameter/shop/api-key"
                )])
            ),
            ("kms:Decrypt".to_string(), serde_json::json!([KMS_KEY])),
        ]
    );
    // The environment still has its values: only ballast's output hides them.
    assert!(cd
        .environment()
        .iter()
        .any(|kv| kv.name() == Some("DB_PASSWORD") && kv.value() == Some(ENV_VALUE)));

    let r = s.assert_converged();
    assert_clean(&r, "a converged deploy");
    let r = s.run("status", &[]);
    assert_clean(&r, "status");
    let r = s.run("status", &["--output", "json"]);
    assert_clean(&r, "status --output json");

    // Without secrets: a new revision without them, and the policy goes.
    s.set_yaml(&spec(name, region, false));
    let d = s.deploy();
    assert_clean(&d.run, "deploy");
    let w = &d.stats.write_ops;
    for op in [
        "RegisterTaskDefinition",
        "UpdateService",
        "DeleteRolePolicy",
    ] {
        assert_eq!(d.stats.count(op), 1, "{op}: {w:?}");
    }
    let gone = s.block_on(
        c.iam
            .get_role_policy()
            .role_name(&role)
            .policy_name("ballast-secrets")
            .send(),
    );
    assert!(gone.is_err(), "the secrets policy is deleted");
    s.assert_converged();

    let r = s.destroy();
    assert_clean(&r, "destroy");
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// A sidecar's environment is as sensitive as the app container's: hidden in every plan (a
/// changed value says so without showing either), shown by `--show-values`, warned about.
#[test]
fn a_sidecars_environment_is_never_shown_either() {
    let env = Env::new();
    let (name, region) = ("it-sidecar-env", "ca-central-1");
    let spec = |value: &str| {
        web_spec(
            name,
            region,
            &format!(
                "  containers:\n    - name: otel\n      image: otel:1\n      essential: false\n      environment: {{OTEL_TOKEN: {value}, LEVEL: info}}\n"
            ),
        )
    };
    let s = TestStack::new(&env, name, region, &spec(ENV_VALUE));
    let r = s.run("validate", &[]);
    assert_ok(&r, "validate");
    r.assert_stderr(&["environment variable `OTEL_TOKEN` of sidecar `otel` looks like a secret"]);
    assert_clean(&r, "validate");
    for args in [&[][..], &["--output", "json"]] {
        let r = s.run("plan", args);
        assert_ok(&r, "plan");
        assert_clean(&r, &format!("plan {args:?}"));
    }
    let r = s.run("deploy", &["--yes", "-vvv"]);
    assert_ok(&r, "deploy -vvv");
    assert_clean(&r, "deploy -vvv");

    s.set_yaml(&spec("canary-env-value-2e8f41"));
    let r = s.run("plan", &[]);
    assert_ok(&r, "plan of a changed sidecar value");
    r.assert_stderr(&["containers", "(sensitive, changed)", "LEVEL"]);
    assert_clean(&r, "plan of a changed sidecar value");
    assert!(
        !r.stderr.contains("canary-env-value-2e8f41"),
        "{}",
        r.stderr
    );
    let r = s.run("plan", &["--show-values"]);
    assert!(
        r.stderr.contains("canary-env-value-2e8f41"),
        "--show-values shows it"
    );
    s.destroy();
}
