//! `ballast validate`: every rule fails with file:line:col, a caret and exit 1; no AWS needed.

use crate::common;

use common::{rejects, total, validate, validate_file, web_inventory};

const OK: &str = "name: web\nregion: us-east-1\nservice:\n  image: nginx:1.27\n  user: \"101\"\n";

#[test]
fn the_minimal_spec_and_the_examples_are_valid() {
    let (code, err) = validate(OK);
    assert_eq!(code, 0, "{err}");
    let web = web_inventory("web", "us-east-1", &["us-east-1a", "us-east-1b"]);
    let summary = format!("stack \"web\" in us-east-1, {} resources", total(&web));
    assert!(err.contains(&summary), "{err}");
    // In place: an example may name a file beside it (failover.yaml's fallback page).
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/stacks")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let (code, err) = validate_file(&path);
            assert_eq!(code, 0, "{}: {err}", path.display());
        }
    }
}

macro_rules! rejects {
    ($name:ident, $yaml:expr, $($needle:expr),+) => {
        #[test]
        fn $name() {
            let err = rejects($yaml, &[$($needle),+]);
            insta::assert_snapshot!(stringify!($name), err);
        }
    };
}

rejects!(
    unknown_key_suggests_the_right_one,
    "name: web\nregion: us-east-1\nservice:\n  imgae: nginx\n",
    "unknown key `imgae`",
    "stack.yaml:4:3",
    "^^┬^^",
    "did you mean `image`?"
);

rejects!(
    unknown_top_level_key,
    "name: web\nregion: us-east-1\nloadbalancer: {}\nservice:\n  image: nginx\n",
    "unknown key `loadbalancer`",
    "did you mean `load_balancer`?"
);

rejects!(
    wrong_type,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  port: eighty\n",
    "stack.yaml:5:9"
);

rejects!(
    missing_required_key,
    "name: web\nregion: us-east-1\nservice:\n  port: 80\n",
    "missing required key `image`"
);

rejects!(invalid_cidrs_and_subnets_outside_the_vpc,
    "name: web\nregion: us-east-1\nnetwork:\n  create:\n    cidr: 10.0.0.0/33\n    subnets:\n      - {az: us-east-1a, cidr: 10.1.0.0/24}\n      - {az: us-east-1b, cidr: 10.0.1.5/24}\nservice:\n  image: nginx\n",
    "invalid CIDR `10.0.0.0/33`", "stack.yaml:5:11");

rejects!(subnet_outside_the_vpc,
    "name: web\nregion: us-east-1\nnetwork:\n  create:\n    cidr: 10.0.0.0/16\n    subnets:\n      - {az: us-east-1a, cidr: 10.1.0.0/24}\n      - {az: us-east-1b, cidr: 10.0.1.0/24}\nservice:\n  image: nginx\n",
    "subnet 10.1.0.0/24 is outside the VPC 10.0.0.0/16", "stack.yaml:7:32");

rejects!(one_az_is_not_enough,
    "name: web\nregion: us-east-1\nnetwork:\n  create:\n    subnets:\n      - {az: us-east-1a, cidr: 10.0.0.0/24}\n      - {az: us-east-1a, cidr: 10.0.1.0/24}\nservice:\n  image: nginx\n",
    "at least two availability zones", "two subnets in `us-east-1a`");

rejects!(existing_network_needs_two_subnets,
    "name: web\nregion: us-east-1\nnetwork:\n  existing:\n    vpc_id: vpc-123\n    subnet_ids: [subnet-1]\nservice:\n  image: nginx\n",
    "at least two availability zones");

rejects!(ports_out_of_range, "name: web\nregion: us-east-1\nload_balancer:\n  port: 0\nservice:\n  image: nginx\n  port: 70000\n",
    "port 0 is out of range", "port 70000 is out of range", "must be 1 to 65535");

rejects!(
    fargate_cpu_memory_pairs,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  cpu: 256\n  memory: 4096\n",
    "Fargate does not allow 4096 MiB with 256 CPU",
    "memory must be one of [512, 1024, 2048]"
);

rejects!(
    fargate_cpu_sizes,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  cpu: 300\n",
    "Fargate has no 300 CPU size"
);

rejects!(
    names_too_long_for_alb_and_tg,
    "name: a-very-long-stack-name-for-an-alb\nregion: us-east-1\nservice:\n  image: nginx\n",
    "`a-very-long-stack-name-for-an-alb-alb` would be 37 characters",
    "allow 32"
);

rejects!(
    region_typo,
    "name: web\nregion: us-est-1\nservice:\n  image: nginx\n",
    "unknown region `us-est-1`",
    "did you mean `us-east-1`?"
);

rejects!(health_check_rules,
    "name: web\nregion: us-east-1\nload_balancer:\n  health_check:\n    path: healthz\n    interval: 5\n    timeout: 10\n    matcher: '600'\nservice:\n  image: nginx\n",
    "must start with /", "must be less than the interval", "invalid matcher `600`");

rejects!(
    log_retention,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  log_retention_days: 10\n",
    "does not allow 10 days",
    "did you mean 7?"
);

rejects!(
    bad_stack_name,
    "name: Web_App\nregion: us-east-1\nservice:\n  image: nginx\n",
    "invalid stack name `Web_App`"
);

rejects!(
    bad_account_id,
    "name: web\nregion: us-east-1\naccounts: [\"12345\"]\nservice:\n  image: nginx\n",
    "invalid AWS account id `12345`",
    "stack.yaml:3:12",
    "not a 12-digit account id"
);

rejects!(
    ownership_tags_cannot_be_set_by_the_spec,
    "name: web\nregion: us-east-1\ntags:\n  team: web\n  ballast:stack: other\n  Name: mine\nservice:\n  image: nginx\n",
    "tag key `ballast:stack` is reserved",
    "tag key `Name` is reserved",
    "stack.yaml:5:"
);

rejects!(
    a_secret_must_name_a_secret_store,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  secrets:\n    API_KEY: my-plain-key\n",
    "`my-plain-key` is not a secret reference",
    "stack.yaml:6:14",
    "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME"
);

rejects!(
    a_variable_is_either_environment_or_secret,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  environment:\n    API_KEY: x\n  secrets:\n    API_KEY: ssm:/shop/api-key\n",
    "`API_KEY` is both in environment and in secrets"
);

rejects!(
    secrets_kms_key_is_a_key_arn,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  secrets:\n    API_KEY: ssm:/shop/api-key\n  secrets_kms_key: alias/shop\n",
    "`alias/shop` is not a KMS key ARN"
);

#[test]
fn secret_looking_environment_variables_are_a_warning_not_an_error() {
    let (code, err) = common::validate(
        "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  environment:\n    DB_PASSWORD: hunter2\n    LOG_LEVEL: debug\n  secrets:\n    API_KEY: arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/api-AbCdEf\n    DB_TOKEN: arn:aws:ssm:us-east-1:123456789012:parameter/shop/token\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("environment variable `DB_PASSWORD` looks like a secret"),
        "{err}"
    );
    assert!(err.contains("stack.yaml:6:18"), "{err}");
    assert!(err.contains("secrets:"), "{err}");
    assert!(!err.contains("LOG_LEVEL` looks"), "{err}");
    assert!(
        !err.contains("hunter2"),
        "the warning does not echo the value: {err}"
    );
}

rejects!(
    a_desync_mitigation_mode_is_one_of_three,
    "name: web\nregion: us-east-1\nload_balancer:\n  desync_mitigation_mode: strict\nservice:\n  image: nginx\n",
    "`strict` is not a desync mitigation mode",
    "stack.yaml:4:27",
    "did you mean `strictest`?"
);

rejects!(
    access_logs_are_a_switch_a_bucket_name_or_settings,
    "name: web\nregion: us-east-1\nload_balancer:\n  access_logs: 7\nservice:\n  image: nginx\n",
    "access_logs is `7`",
    "stack.yaml:4:16",
    "`true` makes a bucket for the logs"
);

rejects!(
    an_access_log_bucket_is_an_s3_bucket_name,
    "name: web\nregion: us-east-1\nload_balancer:\n  access_logs: My_Logs\nservice:\n  image: nginx\n",
    "`My_Logs` is not an S3 bucket name: `M` is not allowed",
    "stack.yaml:4:16"
);

rejects!(
    retention_days_are_for_the_stacks_own_log_bucket,
    "name: web\nregion: us-east-1\nload_balancer:\n  access_logs: {bucket: my-logs, retention_days: 30}\nservice:\n  image: nginx\n",
    "retention_days is for the stack's own bucket",
    "your bucket's lifecycle rules decide"
);

rejects!(
    access_log_retention_is_one_day_to_ten_years,
    "name: web\nregion: us-east-1\nload_balancer:\n  access_logs: {retention_days: 0}\nservice:\n  image: nginx\n",
    "retention_days 0 is out of range",
    "must be 1 to 3650"
);

rejects!(
    network_egress_is_nat_nat_single_or_endpoints,
    "name: web\nregion: us-east-1\nnetwork:\n  egress: nat_gateway\nservice:\n  image: nginx\n",
    "`nat_gateway` is not a network egress",
    "stack.yaml:4:11",
    "did you mean `nat`?"
);

rejects!(
    endpoints_egress_needs_images_in_the_regions_ecr,
    "name: web\nregion: us-east-1\nnetwork:\n  egress: endpoints\nservice:\n  image: nginx:1.27\n  user: \"101\"\n  containers:\n    - name: proxy\n      image: 123456789012.dkr.ecr.us-west-2.amazonaws.com/proxy:1\n      user: \"101\"\n",
    "with `network.egress: endpoints` the tasks have no way to the internet",
    "stack.yaml:6:10",
    "push it to ECR in us-east-1",
    "the tasks in us-east-1 cannot pull",
    "stack.yaml:10:14",
    "in us-west-2"
);

rejects!(
    waf_is_a_web_acl_of_yours_or_the_baseline_not_both,
    "name: web\nregion: us-east-1\nload_balancer:\n  allow_http: true\n  waf_acl_arn: arn:aws:wafv2:us-east-1:123456789012:regional/webacl/mine/a1b2\n  waf: baseline\nservice:\n  image: nginx\n  user: \"101\"\n",
    "waf_acl_arn and waf are two ways to protect the load balancer: give one",
    "stack.yaml:5:16"
);

rejects!(
    waf_acl_arn_is_a_regional_web_acl_of_the_region,
    "name: web\nregion: us-east-1\nload_balancer:\n  allow_http: true\n  waf_acl_arn: arn:aws:wafv2:us-west-2:123456789012:regional/webacl/mine/a1b2\nservice:\n  image: nginx\n  user: \"101\"\n",
    "the web ACL is in us-west-2; the load balancer in us-east-1 needs one of us-east-1"
);

rejects!(
    waf_acl_arn_is_not_a_global_web_acl,
    "name: web\nregion: us-east-1\nload_balancer:\n  allow_http: true\n  waf_acl_arn: arn:aws:wafv2:us-east-1:123456789012:global/webacl/mine/a1b2\nservice:\n  image: nginx\n  user: \"101\"\n",
    "waf_acl_arn is not a regional AWS WAF web ACL ARN",
    "a CLOUDFRONT-scoped (global) web ACL cannot protect a load balancer"
);

rejects!(
    waf_is_baseline_or_a_rate_limit,
    "name: web\nregion: us-east-1\nload_balancer:\n  allow_http: true\n  waf: strict\nservice:\n  image: nginx\n  user: \"101\"\n",
    "`strict` is not a WAF setting",
    "stack.yaml:5:8"
);

rejects!(
    waf_rate_limit_is_ten_or_more,
    "name: web\nregion: us-east-1\nload_balancer:\n  allow_http: true\n  waf: {rate_limit: 5}\nservice:\n  image: nginx\n  user: \"101\"\n",
    "rate_limit 5 is out of range"
);

rejects!(
    network_endpoints_are_service_names_each_once,
    "name: web\nregion: us-east-1\nnetwork:\n  endpoints: [sqs, com.amazonaws.us-east-1.kms, sqs]\nservice:\n  image: nginx\n  user: \"101\"\n",
    "`com.amazonaws.us-east-1.kms` is not an AWS service's endpoint name",
    "`sqs` is listed twice"
);

rejects!(
    flow_logs_are_reject_all_or_false,
    "name: web\nregion: us-east-1\nnetwork:\n  flow_logs: rejected\nservice:\n  image: nginx\n",
    "`rejected` is not a flow log setting",
    "stack.yaml:4:14",
    "did you mean `reject`?"
);

rejects!(
    flow_logs_are_not_true,
    "name: web\nregion: us-east-1\nnetwork:\n  flow_logs: true\nservice:\n  image: nginx\n",
    "`true` is not a flow log setting",
    "reject (rejected traffic, the default), all, or false"
);

rejects!(
    flow_logs_are_for_a_created_network,
    "name: web\nregion: us-east-1\nnetwork:\n  flow_logs: all\n  existing:\n    vpc_id: vpc-1\n    subnet_ids: [subnet-a, subnet-b]\nservice:\n  image: nginx\n",
    "`network.flow_logs` is for a network ballast creates",
    "an existing VPC's flow logs are its owner's to set"
);

rejects!(
    a_capability_is_one_ecs_knows,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  user: \"101\"\n  capabilities: {drop: [CAP_NET_RAW]}\n",
    "`CAP_NET_RAW` is not a Linux capability ECS knows",
    "did you mean `NET_RAW`?"
);

rejects!(
    fargate_adds_no_capability_but_sys_ptrace,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  user: \"101\"\n  capabilities: {add: [NET_BIND_SERVICE, SYS_PTRACE]}\n",
    "Fargate cannot add the capability `NET_BIND_SERVICE`",
    "stack.yaml:6:24"
);

rejects!(
    a_writable_path_is_an_absolute_directory,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  user: \"101\"\n  writable_paths: [/tmp, var/cache, /, /a.b, /a-b]\n",
    "`var/cache` is not a writable path",
    "`/` is not a writable path",
    "`/a-b` and `/a.b` make the same volume name `app-a-b`"
);

rejects!(
    a_runtime_platform_is_linux_on_x86_64_or_arm64,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  user: \"101\"\n  runtime_platform: {cpu_architecture: arm64, operating_system_family: WINDOWS_SERVER_2022_CORE}\n",
    "`arm64` is not a CPU architecture ECS runs",
    "did you mean `ARM64`?",
    "ballast runs Linux tasks only"
);

rejects!(
    an_egress_rule_is_a_port_a_cidr_and_tcp_udp_or_all,
    "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  user: \"101\"\n  egress:\n    - {port: 5432, to: 10.0.0.1/16}\n    - {port: 0, to: 10.0.0.0/16}\n    - {to: 10.1.0.0/16}\n    - {port: 53, to: 0.0.0.0/0, protocol: icmp}\n    - {port: 80, to: 0.0.0.0/0, protocol: all}\n",
    "`10.0.0.1/16` has host bits set",
    "port 0 is not between 1 and 65535",
    "an egress rule to 10.1.0.0/16 needs a `port` (or `protocol: all`)",
    "`icmp` is not a protocol an egress rule takes",
    "`protocol: all` opens every port"
);

/// A container without `user` runs as the image's (root in most): a warning naming each one.
#[test]
fn containers_without_a_user_are_a_warning() {
    let (code, err) = common::validate(
        "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  containers:\n    - {name: otel, image: otel, essential: false}\n    - {name: logs, image: fluentbit, essential: false, user: \"1000\"}\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("stack.yaml:4:10: containers `app`, `otel` run as the image's user"),
        "{err}"
    );
    assert!(!err.contains("`logs`"), "{err}");
    let (code, err) = common::validate(
        "name: web\nregion: us-east-1\nservice:\n  image: nginx\n  user: \"101\"\nload_balancer:\n  allow_http: true\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
}

rejects!(
    network_is_created_or_existing_not_both,
    "name: web\nregion: us-east-1\nnetwork:\n  egress: nat\n  create: {cidr: 10.0.0.0/16}\n  existing:\n    vpc_id: vpc-1\n    subnet_ids: [subnet-a, subnet-b]\n    private_subnet_ids: [subnet-c]\nservice:\n  image: nginx\n",
    "`network` has both `create` and `existing`",
    "`network.egress` is for a network ballast creates",
    "tasks need private subnets in at least two availability zones"
);

rejects!(
    a_private_cidr_is_a_subnet_of_the_vpc,
    "name: web\nregion: us-east-1\nnetwork:\n  create:\n    cidr: 10.0.0.0/16\n    subnets:\n      - {az: us-east-1a, cidr: 10.0.0.0/20, private_cidr: 10.0.0.0/24}\n      - {az: us-east-1b, cidr: 10.0.16.0/20, private_cidr: 10.9.0.0/20}\nservice:\n  image: nginx\n",
    "subnet 10.0.0.0/24 overlaps 10.0.0.0/20",
    "subnet 10.9.0.0/20 is outside the VPC 10.0.0.0/16"
);

rejects!(
    an_ssl_policy_is_an_elb_security_policy,
    "name: web\nregion: us-east-1\nload_balancer:\n  certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/abc\n  ssl_policy: TLS13\nservice:\n  image: nginx\n",
    "`TLS13` is not an ELB security policy",
    "stack.yaml:5:15"
);

/// Public tasks and a single NAT gateway are allowed, with a warning each at the field.
#[test]
fn public_tasks_and_one_nat_gateway_are_warnings() {
    let (code, err) = common::validate(
        "name: web\nregion: us-east-1\nnetwork:\n  egress: nat_single\nservice:\n  image: nginx\n  assign_public_ip: true\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stack.yaml:4:11"), "{err}");
    assert!(
        err.contains("egress: nat_single makes one NAT gateway"),
        "{err}"
    );
    assert!(err.contains("stack.yaml:7:21"), "{err}");
    assert!(
        err.contains("assign_public_ip: true runs the tasks in the public subnets"),
        "{err}"
    );
    // Without a certificate: one warning, about plain HTTP, which allow_http silences.
    let (code, err) = common::validate(OK);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("warning").count(), 1, "{err}");
    assert!(
        err.contains("warning: stack.yaml: the load balancer serves plain HTTP"),
        "{err}"
    );
    let (code, err) = common::validate(&format!("{OK}load_balancer:\n  allow_http: true\n"));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
    let (code, err) = common::validate(&format!(
        "{OK}load_balancer:\n  certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/abc\n"
    ));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
}
