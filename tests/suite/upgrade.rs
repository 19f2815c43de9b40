//! The upgrade test: a stack that an earlier release deployed must plan "No changes" with this
//! binary, so this binary must lower the specs of that release to the same resources.
//! `tests/upgrade/` keeps the examples as they were then (`<name>.yaml`, and the files they
//! name) and what that release lowered each to (`<name>.lowered.json`: every node by its
//! `scope/kind.id`, with its physical name, every attribute, the attributes that force a
//! replacement, those whose drift is left alone, and its explicit dependencies). A difference
//! fails the test unless `INTENDED` lists it with the reason. No emulator: lowering makes no AWS
//! call.
//!
//! `BALLAST_UPGRADE_FIXTURES=write cargo test --test suite upgrade::` writes the `.lowered.json` files
//! from this binary: only for taking a release's lowering as the new baseline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ballast::engine::{lower, Node};
use ballast::resources::registry;
use serde_json::{json, Value};

/// Changes of the lowering that a later change means to make, as (`scope/kind.id` or
/// `scope/kind.id attribute`, why). Empty: every node and attribute is as the baseline has it.
/// `*/` matches every scope.
const INTENDED: &[(&str, &str)] = &[
    (
        "global/aws_s3_bucket.fallback protect",
        "`protect:` covers the fallback page's bucket: false (as deployed) unless the spec \
         says protect: true",
    ),
    (
        "*/aws_ecs_task_definition.taskdef* readonly_root_filesystem",
        "container hardening (Security Hub ECS.5): a read-only root filesystem; a new revision, \
         rolled out in place",
    ),
    (
        "*/aws_ecs_task_definition.taskdef* writable_paths",
        "container hardening: /tmp stays writable (a task volume)",
    ),
    (
        "*/aws_ecs_task_definition.taskdef* capabilities",
        "container hardening: every Linux capability dropped",
    ),
    (
        "*/aws_ecs_task_definition.taskdef* init_process_enabled",
        "container hardening: an init process reaps zombies and passes signals on",
    ),
    (
        "*/aws_ecs_task_definition.taskdef* user",
        "the container's user (Security Hub ECS.20): none set is the image's, as before",
    ),
    (
        "*/aws_ecs_task_definition.taskdef* runtime_platform",
        "the task's platform written out: Linux on X86_64, what Fargate ran before",
    ),
    (
        "*/aws_security_group.sg.alb egress",
        "closed egress: the load balancer's group keeps no rule of its own (AWS's allow-all is \
         revoked in place); its rules to the services' groups are theirs (`alb_egress`)",
    ),
    (
        "*/aws_security_group.sg.service* egress",
        "closed egress: HTTPS and DNS anywhere, the stack's tasks, `egress:` (in place: \
         authorize those, revoke the allow-all)",
    ),
    (
        "*/aws_security_group.sg.service* alb_egress",
        "the load balancer's group may send to the service's group on its port (in place: one \
         AuthorizeSecurityGroupEgress on the load balancer's group)",
    ),
    (
        "*/aws_ecs_task_definition.taskdef containers",
        "sidecars: always set (empty without any), so removing the last one is a change; a \
         task definition of the baseline reads back as no sidecars: no change",
    ),
    (
        "*/aws_ecs_task_definition.taskdef depends_on",
        "what the app container waits for: always set (empty without any); the baseline's read \
         back as none: no change",
    ),
    (
        "*/aws_ecs_task_definition.taskdef task_role_arn",
        "the task role (`permissions:`): always set (none without one), so removing the \
         permissions takes the role off the task; the baseline's has none: no change",
    ),
    (
        "*/aws_iam_role.role.execution* inline_policies",
        "every inline policy of an owned role is read back, so one added by hand is drift; the \
         execution role gets ballast-execution (PutRolePolicy, in place)",
    ),
    (
        "*/aws_iam_role.role.execution* execution_policy",
        "the execution role's scoped policy: logs of the service's group, its private ECR \
         repositories (instead of AmazonECSTaskExecutionRolePolicy)",
    ),
    (
        "*/aws_iam_role.role.execution* managed_policy_arns",
        "AmazonECSTaskExecutionRolePolicy is detached once the scoped inline policy is in place",
    ),
    (
        "*/aws_ecs_service.service service_connect",
        "ECS Service Connect, for named services only: always set (none in the one-service \
         form); the baseline's services read back as without it: no change",
    ),
    (
        "*/aws_iam_role.role.instance inline_policies",
        "as for the execution role: the baseline's instance roles have no inline policy",
    ),
    (
        "*/aws_iam_role.role.execution permissions_boundary",
        "every role's permissions boundary is read back (`iam.permissions_boundary`; none \
         without it, so one put by hand is drift); the baseline's roles have none: no change",
    ),
    (
        "*/aws_iam_role.role.instance permissions_boundary",
        "as for the execution role",
    ),
    (
        "*/aws_lb.alb drop_invalid_header_fields",
        "secure by default (Security Hub ELB.4): a load balancer of the baseline keeps invalid \
         header fields, so the upgrade is one in-place ModifyLoadBalancerAttributes",
    ),
    (
        "*/aws_lb.alb desync_mitigation_mode",
        "set explicitly (Security Hub ELB.12); the baseline's read back as AWS's default, \
         defensive: no change",
    ),
    (
        "*/aws_lb.alb access_logs_bucket",
        "access logs (Security Hub ELB.5), off by default: the baseline's load balancers read \
         back without them: no change",
    ),
    (
        "*/aws_lb.alb access_logs_prefix",
        "as for access_logs_bucket",
    ),
    (
        "*/aws_iam_role.role.execution* assume_role_policy",
        "the execution role's trust names this account and region (aws:SourceAccount, \
         aws:SourceArn: the confused-deputy guard): UpdateAssumeRolePolicy, in place",
    ),
    (
        "*/aws_lb_listener.* ssl_policy",
        "TLS policy ELBSecurityPolicy-TLS13-1-2-Res-2021-06 by default (Security Hub ELB.17): \
         ModifyListener, in place (only HTTPS listeners have one)",
    ),
    (
        "*/aws_vpc.vpc default_security_group_rules",
        "secure by default (Security Hub EC2.2): the VPC's default group loses its rules, in \
         place (RevokeSecurityGroupIngress/Egress)",
    ),
    (
        "*/aws_subnet.subnet.* map_public_ip_on_launch",
        "secure by default (Security Hub EC2.15): no subnet maps public IPs on launch; the \
         baseline's public subnets change in place (ModifySubnetAttribute)",
    ),
    (
        "*/aws_subnet.subnet.private.*",
        "the private tier: a private subnet per AZ for the tasks (Security Hub ECS.2)",
    ),
    (
        "*/aws_eip.eip.nat.*",
        "the Elastic IP of each NAT gateway (`network.egress: nat`)",
    ),
    (
        "*/aws_nat_gateway.nat.*",
        "the private subnets' way out: a NAT gateway per AZ (`network.egress: nat`)",
    ),
    (
        "*/aws_route_table.rt.private.*",
        "each private subnet's route table, its default route to a NAT gateway",
    ),
    (
        "*/aws_ecs_service.service* subnets",
        "tasks run in the private subnets: UpdateService moves them in place (a new deployment)",
    ),
    (
        "*/aws_ecs_service.service* assign_public_ip",
        "tasks have no public IP by default (Security Hub ECS.2): in place, with the subnets",
    ),
    (
        "*/aws_ecs_service.service* after",
        "the service waits for the private route tables (its tasks pull images through NAT)",
    ),
    (
        "*/aws_autoscaling_group.asg* subnets",
        "container instances run in the private subnets: UpdateAutoScalingGroup, in place",
    ),
    (
        "*/aws_autoscaling_group.asg* after",
        "the group waits for the private route tables, like the service",
    ),
    (
        "*/aws_flow_log.flow_logs",
        "VPC flow logs of rejected traffic (Security Hub EC2.6, `network.flow_logs: reject`)",
    ),
    (
        "*/aws_cloudwatch_log_group.logs.flow",
        "the flow logs' log group",
    ),
    (
        "*/aws_iam_role.role.flow_logs",
        "the role VPC Flow Logs delivers to that group as",
    ),
    (
        "*/aws_launch_template.lt* user_data",
        "ECS_AWSVPC_BLOCK_IMDS=true: tasks cannot reach the instance metadata (the instance \
         role's credentials); a new template version, in place",
    ),
    (
        "*/aws_launch_template.lt* metadata_http_tokens",
        "IMDSv2 was always set; now read back: the baseline's reads back as required, no change",
    ),
    (
        "*/aws_launch_template.lt* metadata_hop_limit",
        "one hop: a container cannot reach the metadata service; a new template version",
    ),
    (
        "*/aws_launch_template.lt* root_volume_encrypted",
        "an encrypted root volume (Security Hub EC2.3); a new template version, in place",
    ),
    (
        "*/aws_launch_template.lt* associate_public_ip_address",
        "instances in the private subnets have no public IP: a new template version, in place",
    ),
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/upgrade")
}

/// Every node of the spec at `path`, by `scope/kind.id`.
fn lowered(path: &Path) -> BTreeMap<String, Value> {
    let model = ballast::spec::load_file(path.to_str().unwrap(), None)
        .unwrap_or_else(|e| panic!("{} does not load: {e:?}", path.display()));
    let nodes: Vec<Node> = lower(&registry(), &model);
    let mut out = BTreeMap::new();
    for n in nodes {
        let key = format!("{}/{}.{}", n.scope, n.kind, n.id);
        let mut ignore: Vec<&str> = n.ignore_drift.iter().map(|(k, _)| *k).collect();
        ignore.sort_unstable();
        let mut after = n.after.clone();
        after.sort();
        let v = json!({
            "name": n.name,
            "attrs": serde_json::to_value(&n.attrs).unwrap(),
            "force_new": n.force_new,
            "ignore_drift": ignore,
            "after": after,
            "outputs_change_on_update": n.outputs_change_on_update,
        });
        assert!(out.insert(key.clone(), v).is_none(), "{key} twice");
    }
    out
}

fn intended(what: &str) -> bool {
    INTENDED.iter().any(|(w, _)| glob(w, what))
}

/// Whether `text` matches `pattern`, where each `*` stands for any run of characters that has
/// no space (so `*/aws_subnet.subnet.*` names nodes, not their attributes).
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .take_while(|&i| i == 0 || !tail[..i].contains(' '))
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

/// Whether a change of `attr` replaces the node (`force_new` lists it; a reference that is not
/// known yet compares equal in the plan, so only literal values count here).
fn replaces(node: &Value, attr: &str) -> bool {
    node["force_new"]
        .as_array()
        .is_some_and(|f| f.iter().any(|k| k == attr))
}

/// What differs between the baseline and this binary's lowering, one line each.
fn differences(was: &BTreeMap<String, Value>, now: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, old) in was {
        let Some(new) = now.get(key) else {
            if !intended(key) {
                out.push(format!("{key}: no longer lowered"));
            }
            continue;
        };
        for field in [
            "name",
            "force_new",
            "ignore_drift",
            "after",
            "outputs_change_on_update",
        ] {
            if old[field] != new[field] && !intended(&format!("{key} {field}")) {
                out.push(format!("{key} {field}: {} -> {}", old[field], new[field]));
            }
        }
        let (a, b) = (
            old["attrs"].as_object().unwrap(),
            new["attrs"].as_object().unwrap(),
        );
        for attr in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
            let (x, y) = (a.get(attr), b.get(attr));
            let show = |v: Option<&Value>| v.map_or("(none)".to_string(), Value::to_string);
            if x != y && !intended(&format!("{key} {attr}")) {
                out.push(format!("{key} {attr}: {} -> {}", show(x), show(y)));
            } else if x != y && replaces(new, attr) {
                // An upgrade may change things in place, never replace what runs.
                out.push(format!(
                    "{key} {attr}: {} -> {} replaces the resource (force-new)",
                    show(x),
                    show(y)
                ));
            }
        }
    }
    for key in now.keys().filter(|k| !was.contains_key(*k)) {
        if !intended(key) {
            out.push(format!("{key}: new"));
        }
    }
    out
}

#[test]
fn every_example_of_the_baseline_lowers_to_the_same_resources() {
    let write = std::env::var("BALLAST_UPGRADE_FIXTURES").as_deref() == Ok("write");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/upgrade exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 5, "the baseline's examples: {specs:?}");
    let mut failed = Vec::new();
    for spec in &specs {
        let now = lowered(spec);
        let fixture = spec.with_extension("lowered.json");
        if write {
            let text = serde_json::to_string_pretty(&now).unwrap() + "\n";
            std::fs::write(&fixture, text).unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&fixture).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (BALLAST_UPGRADE_FIXTURES=write makes it)",
                fixture.display()
            )
        });
        let was: BTreeMap<String, Value> = serde_json::from_str(&text).unwrap();
        assert!(!was.is_empty(), "{} has no nodes", fixture.display());
        let name = spec.file_name().unwrap().to_string_lossy().to_string();
        failed.extend(
            differences(&was, &now)
                .into_iter()
                .map(|d| format!("{name}: {d}")),
        );
    }
    assert!(
        failed.is_empty(),
        "this binary lowers the baseline's examples differently (a stack deployed by it would \
         not plan \"No changes\"); list an intended difference in INTENDED:\n{}",
        failed.join("\n")
    );
}

/// The comparison itself catches a changed attribute, a renamed resource, a lost and a new
/// node (so the test above cannot pass by comparing nothing).
#[test]
fn a_changed_attribute_name_or_node_is_a_difference() {
    let node = |name: &str, port: i64| {
        json!({"name": name, "attrs": {"port": port}, "force_new": [], "ignore_drift": [],
               "after": [], "outputs_change_on_update": false})
    };
    let was = BTreeMap::from([
        (
            "us-east-1/aws_lb_target_group.tg".to_string(),
            node("web-tg", 80),
        ),
        ("us-east-1/aws_vpc.vpc".to_string(), node("web", 0)),
    ]);
    assert!(differences(&was, &was).is_empty());
    let now = BTreeMap::from([
        (
            "us-east-1/aws_lb_target_group.tg".to_string(),
            node("web-tg2", 8080),
        ),
        ("us-east-1/aws_subnet.a".to_string(), node("web-a", 0)),
    ]);
    let d = differences(&was, &now);
    assert_eq!(
        d,
        [
            "us-east-1/aws_lb_target_group.tg name: \"web-tg\" -> \"web-tg2\"",
            "us-east-1/aws_lb_target_group.tg port: 80 -> 8080",
            "us-east-1/aws_vpc.vpc: no longer lowered",
            "us-east-1/aws_subnet.a: new",
        ]
    );
}

/// An intended change is still a difference when it would replace the resource: an upgrade
/// changes in place. And `*` in INTENDED stands for one id part, never an attribute.
#[test]
fn an_intended_change_that_replaces_is_a_difference() {
    let node = |subnets: &str, force_new: &[&str]| {
        json!({"name": "web", "attrs": {"subnets": subnets}, "force_new": force_new,
               "ignore_drift": [], "after": [], "outputs_change_on_update": false})
    };
    let key = "us-east-1/aws_ecs_service.service".to_string();
    let was = BTreeMap::from([(key.clone(), node("public", &[]))]);
    let in_place = BTreeMap::from([(key.clone(), node("private", &[]))]);
    assert!(differences(&was, &in_place).is_empty());
    let replaced = BTreeMap::from([(key.clone(), node("private", &["subnets"]))]);
    assert_eq!(
        differences(&was, &replaced),
        [
            "us-east-1/aws_ecs_service.service force_new: [] -> [\"subnets\"]",
            "us-east-1/aws_ecs_service.service subnets: \"public\" -> \"private\" replaces the resource (force-new)",
        ]
    );
    assert!(glob(
        "*/aws_subnet.subnet.*",
        "eu-west-1/aws_subnet.subnet.eu-west-1a"
    ));
    assert!(!glob(
        "*/aws_subnet.subnet.*",
        "eu-west-1/aws_subnet.subnet.a cidr_block"
    ));
    assert!(glob(
        "*/aws_subnet.subnet.* map_public_ip_on_launch",
        "us-east-1/aws_subnet.subnet.us-east-1a map_public_ip_on_launch"
    ));
}
