//! Several services per stack (`services:`), end to end against the emulator: one load
//! balancer, a listener rule per routed service, every service's resources found again by
//! discovery (also by a destroy that knows only the stack's name), and exactly the writes a
//! change needs.

use crate::common;

use common::{assert_ok, Env, Inventory, TestStack};

/// Two public services: `web` at `/` (the listener's default action), `api` by path and host.
fn two(stack: &str, region: &str, api_image: &str, api_route: &str, extra: &str) -> String {
    format!(
        "name: {stack}\nregion: {region}\nservices:\n  web:\n    image: public.ecr.aws/nginx/nginx:1.27\n    route: {{path: /}}\n  api:\n    image: {api_image}\n    port: 8080\n    route: {api_route}\n    desired_count: 1\n{extra}"
    )
}

const API_ROUTE: &str = "{paths: [/api/*], host: api.example.com}";

/// What one named service of stack `stack` has in `region` (alarms off).
fn service_rows(stack: &str, region: &str, svc: &str, routed: bool) -> Vec<(String, String)> {
    let mut rows = vec![
        ("aws_security_group", format!("{stack}-{svc}-service")),
        ("aws_lb_target_group", format!("{stack}-{svc}-tg")),
        (
            "aws_cloudwatch_log_group",
            format!("/ballast/{stack}/{svc}"),
        ),
        ("aws_iam_role", format!("{stack}-{svc}-{region}-exec")),
        ("aws_ecs_task_definition", format!("{stack}-{svc}")),
        ("aws_ecs_service", svc.to_string()),
    ];
    if routed {
        rows.push(("aws_lb_listener_rule", format!("{stack}-alb:80 {svc}")));
    }
    rows.into_iter().map(|(k, n)| (k.to_string(), n)).collect()
}

/// What the stack has in `region` with the services `(name, routed by a rule)`.
fn expected(stack: &str, region: &str, services: &[(&str, bool)]) -> Inventory {
    let stack_wide = [
        ("aws_vpc", stack.to_string()),
        ("aws_subnet", format!("{stack}-{region}a")),
        ("aws_subnet", format!("{stack}-{region}b")),
        ("aws_subnet", format!("{stack}-private-{region}a")),
        ("aws_subnet", format!("{stack}-private-{region}b")),
        ("aws_internet_gateway", stack.to_string()),
        ("aws_eip", format!("{stack}-nat-{region}a")),
        ("aws_eip", format!("{stack}-nat-{region}b")),
        ("aws_nat_gateway", format!("{stack}-nat-{region}a")),
        ("aws_nat_gateway", format!("{stack}-nat-{region}b")),
        ("aws_route_table", format!("{stack}-public")),
        // The VPC's flow log, its log group and delivery role.
        ("aws_flow_log", format!("{stack}-flow-logs")),
        (
            "aws_cloudwatch_log_group",
            format!("/ballast/{stack}/vpc/flow-logs"),
        ),
        ("aws_iam_role", format!("{stack}-{region}-flow-logs")),
        ("aws_route_table", format!("{stack}-private-{region}a")),
        ("aws_route_table", format!("{stack}-private-{region}b")),
        ("aws_security_group", format!("{stack}-alb")),
        ("aws_lb", format!("{stack}-alb")),
        ("aws_lb_listener", format!("{stack}-alb:80")),
        ("aws_ecs_cluster", stack.to_string()),
        // Service Connect: the namespace, and the group every task carries.
        ("aws_service_discovery_http_namespace", stack.to_string()),
        ("aws_security_group", format!("{stack}-tasks")),
        // A row per service.
        ("aws_cloudwatch_dashboard", format!("{stack}-{region}")),
    ];
    let mut rows: Vec<(String, String)> = stack_wide
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    for (svc, routed) in services {
        rows.extend(service_rows(stack, region, svc, *routed));
    }
    let mut inv = Inventory::new();
    for (k, n) in rows {
        inv.entry(k).or_default().push(n);
    }
    inv.values_mut().for_each(|v| v.sort());
    inv
}

#[test]
fn two_services_share_one_load_balancer_and_converge() {
    let env = Env::new();
    let (stack, region) = ("it-two", "us-east-2");
    let s = TestStack::new(
        &env,
        stack,
        region,
        &two(stack, region, "api:1", API_ROUTE, "alarms: false\n"),
    );
    let d = s.deploy();
    let want = expected(stack, region, &[("web", false), ("api", true)]);
    assert_eq!(d.plan.inventory_after(), want, "the plan");
    assert_eq!(s.inventory(), want, "in AWS after the deploy");

    // Read back: the rule routes api's paths and host to api's target group; what no rule
    // takes goes to web's.
    let c = s.clients();
    let tg = |svc: &str| {
        let r = c
            .elbv2
            .describe_target_groups()
            .names(format!("{stack}-{svc}-tg"));
        s.block_on(r.send()).unwrap().target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string()
    };
    let listener = s.listeners().swap_remove(0);
    assert_eq!(
        listener.default_actions()[0].target_group_arn(),
        Some(tg("web").as_str()),
        "the default action forwards to the service at /"
    );
    let rules = c
        .elbv2
        .describe_rules()
        .listener_arn(listener.listener_arn().unwrap());
    let rules = s.block_on(rules.send()).unwrap();
    let rule = rules
        .rules()
        .iter()
        .find(|r| r.is_default() != Some(true))
        .expect("api's rule");
    assert_eq!(
        rule.actions()[0].target_group_arn(),
        Some(tg("api").as_str())
    );
    let values = |field: &str| -> Vec<String> {
        rule.conditions()
            .iter()
            .filter(|c| c.field() == Some(field))
            .flat_map(|c| {
                c.path_pattern_config()
                    .map(|p| p.values().to_vec())
                    .or_else(|| c.host_header_config().map(|h| h.values().to_vec()))
                    .unwrap_or_default()
            })
            .collect()
    };
    assert_eq!(values("path-pattern"), ["/api/*"]);
    assert_eq!(values("host-header"), ["api.example.com"]);
    let priority: u32 = rule.priority().unwrap().parse().unwrap();
    assert!(
        (1_000..25_000).contains(&priority),
        "a rule with a host condition is in the first half of the bands: {priority}"
    );
    let svcs = c.ecs.describe_services().cluster(stack).services("api");
    let api = s.block_on(svcs.send()).unwrap().services()[0].clone();
    assert_eq!(
        api.load_balancers()[0].target_group_arn(),
        Some(tg("api").as_str())
    );
    assert_eq!(api.load_balancers()[0].container_port(), Some(8080));

    s.assert_converged();

    // One service's image: one new revision and one service update, for that service only.
    s.set_yaml(&two(stack, region, "api:2", API_ROUTE, "alarms: false\n"));
    let d = s.deploy();
    assert_eq!(
        d.stats.write_ops,
        ["RegisterTaskDefinition", "UpdateService"],
        "a new image of api"
    );
    let svcs = c.ecs.describe_services().cluster(stack).services("api");
    let api = s.block_on(svcs.send()).unwrap().services()[0].clone();
    assert!(
        api.task_definition()
            .unwrap()
            .contains(&format!("{stack}-api:")),
        "{:?}",
        api.task_definition()
    );

    // One route: one ModifyRule.
    let route = "{paths: [/api/*, /v2/*], host: api.example.com}";
    s.set_yaml(&two(stack, region, "api:2", route, "alarms: false\n"));
    let d = s.deploy();
    assert_eq!(d.stats.write_ops, ["ModifyRule"], "a changed route");
    s.assert_converged();

    // Destroy by the stack's name alone finds every service's resources.
    s.destroy_by_name();
}

#[test]
fn adding_and_removing_a_service_writes_only_its_resources() {
    let env = Env::new();
    let (stack, region) = ("it-add", "us-east-2");
    let one = format!(
        "name: {stack}\nregion: {region}\nalarms: false\nservices:\n  web:\n    image: public.ecr.aws/nginx/nginx:1.27\n    route: {{path: /}}\n"
    );
    let s = TestStack::new(&env, stack, region, &one);
    s.deploy();
    assert_eq!(s.inventory(), expected(stack, region, &[("web", false)]));

    // Adding api: exactly its resources and its rule, and its row on the dashboard; nothing
    // of web's is touched.
    s.set_yaml(&two(stack, region, "api:1", API_ROUTE, "alarms: false\n"));
    let d = s.deploy();
    let added = d.plan.inventory_after();
    assert_eq!(
        added,
        expected(stack, region, &[("web", false), ("api", true)])
    );
    let dashboard = (
        "aws_cloudwatch_dashboard.dashboard".to_string(),
        "update".to_string(),
    );
    let mut changed = d.plan.actions();
    assert!(changed.contains(&dashboard), "api's row: {changed:?}");
    changed.retain(|c| *c != dashboard);
    assert!(
        changed.iter().all(|(address, _)| address.ends_with(".api")),
        "only api's resources change: {changed:?}"
    );
    let mut want: Vec<(String, String)> = service_rows(stack, region, "api", true)
        .into_iter()
        .map(|(kind, _)| (kind, "create".to_string()))
        .collect();
    want.sort();
    let mut got: Vec<(String, String)> = changed
        .iter()
        .map(|(address, action)| {
            let kind = address.split('.').next().unwrap_or_default().to_string();
            (kind, action.clone())
        })
        .collect();
    got.sort();
    assert_eq!(
        got, want,
        "adding a service creates its resources only: {changed:?}"
    );
    s.assert_converged();

    // Removing it again: exactly its resources, the rule before its target group.
    s.set_yaml(&one);
    let d = s.deploy();
    let deletes: Vec<&String> = d
        .stats
        .write_ops
        .iter()
        .filter(|o| o.starts_with("Delete") || o.starts_with("Deregister"))
        .collect();
    let at = |op: &str| deletes.iter().position(|o| *o == op).unwrap_or(usize::MAX);
    assert!(
        at("DeleteRule") < at("DeleteTargetGroup"),
        "the rule goes before its target group: {deletes:?}"
    );
    assert_eq!(s.inventory(), expected(stack, region, &[("web", false)]));
    s.assert_converged();
    s.destroy();
}

#[test]
fn without_a_service_at_the_root_the_listener_answers_404() {
    let env = Env::new();
    let (stack, region) = ("it-404", "us-east-2");
    let yaml = format!(
        "name: {stack}\nregion: {region}\nalarms: false\nservices:\n  api:\n    image: api:1\n    port: 8080\n    route: {{paths: [/api/*]}}\n"
    );
    let s = TestStack::new(&env, stack, region, &yaml);
    s.deploy();
    let listener = s.listeners().swap_remove(0);
    let fixed = listener.default_actions()[0]
        .fixed_response_config()
        .expect("a fixed response");
    assert_eq!(fixed.status_code(), Some("404"));
    s.assert_converged();
    // Maintenance without a service at `/` too: on and off leave the 404 default as it is.
    assert_ok(
        &env.ballast(&["maintenance", "on", s.spec(), "--yes"]),
        "maintenance on",
    );
    assert_ok(
        &env.ballast(&["maintenance", "off", s.spec(), "--yes"]),
        "maintenance off",
    );
    let listener = s.listeners().swap_remove(0);
    assert_eq!(
        listener.default_actions()[0]
            .fixed_response_config()
            .and_then(|f| f.status_code()),
        Some("404")
    );
    s.assert_converged();
    s.destroy();
}

/// `api` with two sidecars (a telemetry collector the app waits for, a log router that waits
/// for the app): every container's settings are written and read back.
fn sidecars(stack: &str, region: &str, otel_image: &str, with_router: bool) -> String {
    let router = if with_router {
        "      - name: router\n        image: fluent-bit:3\n        memory: 128\n        memory_reservation: 32\n        command: [/fluent-bit, -q]\n        environment: {LEVEL: warn}\n        depends_on: {app: START}\n        user: \"1000\"\n        readonly_root_filesystem: false\n        capabilities: {drop: [NET_RAW]}\n"
    } else {
        ""
    };
    let wait = if with_router {
        "{otel: HEALTHY}"
    } else {
        "{otel: START}"
    };
    format!(
        "name: {stack}\nregion: {region}\nalarms: false\nservices:\n  api:\n    image: api:1\n    port: 8080\n    cpu: 512\n    memory: 1024\n    route: {{path: /}}\n    user: \"101\"\n    writable_paths: [/tmp, /var/cache/nginx]\n    runtime_platform: {{cpu_architecture: ARM64}}\n    depends_on: {wait}\n    containers:\n      - name: otel\n        image: {otel_image}\n        essential: false\n        cpu: 64\n        memory_reservation: 64\n        health_check: {{command: [CMD, /healthcheck], interval: 10}}\n{router}"
    )
}

#[test]
fn sidecars_are_written_read_back_and_changed_with_one_revision() {
    let env = Env::new();
    let (stack, region) = ("it-sidecar", "us-east-2");
    let s = TestStack::new(
        &env,
        stack,
        region,
        &sidecars(stack, region, "otel:1", true),
    );
    s.deploy();
    let c = s.clients();
    let describe = || {
        let r = c
            .ecs
            .describe_task_definition()
            .task_definition(format!("{stack}-api"));
        s.block_on(r.send()).unwrap().task_definition.unwrap()
    };
    let td = describe();
    let names: Vec<&str> = td
        .container_definitions()
        .iter()
        .filter_map(|c| c.name())
        .collect();
    assert_eq!(names, ["app", "otel", "router"], "the app container first");
    let by = |n: &str| {
        td.container_definitions()
            .iter()
            .find(|c| c.name() == Some(n))
            .unwrap()
            .clone()
    };
    let deps = |c: &aws_sdk_ecs::types::ContainerDefinition| -> Vec<(String, String)> {
        c.depends_on()
            .iter()
            .map(|d| {
                (
                    d.container_name().to_string(),
                    d.condition().as_str().to_string(),
                )
            })
            .collect()
    };
    let (app, otel, router) = (by("app"), by("otel"), by("router"));
    assert_eq!(deps(&app), [("otel".to_string(), "HEALTHY".to_string())]);
    assert_eq!(app.essential(), Some(true));
    assert_eq!(otel.image(), Some("otel:1"));
    assert_eq!(otel.essential(), Some(false));
    assert_eq!(otel.cpu(), 64);
    assert_eq!(otel.memory_reservation(), Some(64));
    let hc = otel.health_check().expect("otel's health check");
    assert_eq!(hc.command(), ["CMD", "/healthcheck"]);
    assert_eq!(hc.interval(), Some(10));
    assert_eq!(router.memory(), Some(128));
    assert_eq!(router.memory_reservation(), Some(32));
    assert_eq!(router.command(), ["/fluent-bit", "-q"]);
    assert_eq!(router.environment()[0].name(), Some("LEVEL"));
    assert_eq!(router.environment()[0].value(), Some("warn"));
    assert_eq!(deps(&router), [("app".to_string(), "START".to_string())]);
    let log = router.log_configuration().expect("the router's logs");
    let opts = log.options().unwrap();
    assert_eq!(opts["awslogs-group"], format!("/ballast/{stack}/api"));
    assert_eq!(opts["awslogs-stream-prefix"], "router");
    // Hardening: each container's own, its writable paths as scratch volumes of the task.
    let mounts = |c: &aws_sdk_ecs::types::ContainerDefinition| -> Vec<(String, String, bool)> {
        c.mount_points()
            .iter()
            .map(|m| {
                (
                    m.source_volume().unwrap().to_string(),
                    m.container_path().unwrap().to_string(),
                    m.read_only().unwrap_or(false),
                )
            })
            .collect()
    };
    let caps = |c: &aws_sdk_ecs::types::ContainerDefinition| {
        let l = c.linux_parameters().expect("linuxParameters");
        let k = l.capabilities().expect("capabilities");
        (
            k.drop().to_vec(),
            k.add().to_vec(),
            l.init_process_enabled(),
        )
    };
    assert_eq!(app.readonly_root_filesystem(), Some(true));
    assert_eq!(app.user(), Some("101"));
    assert_eq!(caps(&app), (vec!["ALL".to_string()], vec![], Some(true)));
    assert_eq!(
        mounts(&app),
        [
            ("app-tmp".to_string(), "/tmp".to_string(), false),
            (
                "app-var-cache-nginx".to_string(),
                "/var/cache/nginx".to_string(),
                false
            ),
        ]
    );
    assert_eq!(otel.readonly_root_filesystem(), Some(true));
    assert_eq!(otel.user(), None);
    assert_eq!(
        mounts(&otel),
        [("otel-tmp".to_string(), "/tmp".to_string(), false)]
    );
    assert_eq!(router.readonly_root_filesystem(), Some(false));
    assert_eq!(router.user(), Some("1000"));
    assert_eq!(
        caps(&router),
        (vec!["NET_RAW".to_string()], vec![], Some(true))
    );
    let mut volumes: Vec<&str> = td.volumes().iter().filter_map(|v| v.name()).collect();
    volumes.sort();
    assert_eq!(
        volumes,
        ["app-tmp", "app-var-cache-nginx", "otel-tmp", "router-tmp"]
    );
    let platform = td.runtime_platform().expect("runtimePlatform");
    assert_eq!(
        platform.cpu_architecture().map(|a| a.as_str()),
        Some("ARM64")
    );
    assert_eq!(
        platform.operating_system_family().map(|o| o.as_str()),
        Some("LINUX")
    );
    s.assert_converged();

    // One sidecar's image: one revision and one service update.
    s.set_yaml(&sidecars(stack, region, "otel:2", true));
    let d = s.deploy();
    assert_eq!(
        d.stats.write_ops,
        ["RegisterTaskDefinition", "UpdateService"],
        "a new image of a sidecar"
    );
    assert_eq!(
        describe().container_definitions()[1].image(),
        Some("otel:2")
    );
    s.assert_converged();

    // Removing a sidecar (and what waits on it changing) is a change too.
    s.set_yaml(&sidecars(stack, region, "otel:2", false));
    let plan = s.plan_json();
    let change = plan.change("aws_ecs_task_definition.taskdef.api");
    let keys: Vec<&str> = change["changed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["key"].as_str())
        .collect();
    assert_eq!(keys, ["containers", "depends_on"], "{change:#}");
    let d = s.deploy();
    assert_eq!(
        d.stats.write_ops,
        ["RegisterTaskDefinition", "UpdateService"],
        "a sidecar removed"
    );
    let td = describe();
    assert_eq!(td.container_definitions().len(), 2);
    s.assert_converged();
    s.destroy();
}

/// `api` may call what `perms` allows (`permissions:` entries, YAML flow style); `web` has no
/// permissions, so no task role.
fn with_permissions(stack: &str, region: &str, perms: &str) -> String {
    format!(
        "name: {stack}\nregion: {region}\nalarms: false\nservices:\n  web:\n    image: web:1\n    route: {{path: /}}\n  api:\n    image: api:1\n    port: 8080\n    route: {{paths: [/api/*]}}\n{perms}"
    )
}

const ORDERS: &str = "arn:aws:dynamodb:us-east-2:123456789012:table/orders";

#[test]
fn a_task_role_allows_exactly_the_permissions_and_nothing_added_by_hand() {
    let env = Env::new();
    let (stack, region) = ("it-taskrole", "us-east-2");
    let perms = |actions: &str| {
        format!(
            "    permissions:\n      - {{actions: [{actions}], resources: [\"{ORDERS}\"]}}\n      - {{actions: [\"s3:Get*\"], resources: [\"*\"]}}\n"
        )
    };
    let s = TestStack::new(
        &env,
        stack,
        region,
        &with_permissions(stack, region, &perms("dynamodb:Query, dynamodb:GetItem")),
    );
    let d = s.deploy();
    let role = format!("{stack}-api-{region}-task");
    let created = d.plan.change("aws_iam_role.role.task.api");
    assert_eq!(created["action"], "create", "{created:#}");
    let c = s.clients();
    let policy = |role: &str, name: &str| -> serde_json::Value {
        let r = c.iam.get_role_policy().role_name(role).policy_name(name);
        let doc = s.block_on(r.send()).unwrap().policy_document;
        let doc = ballast::resources::iam_role::canonical_policy(&doc);
        serde_json::from_str(&doc).unwrap()
    };
    let inline = |role: &str| -> Vec<String> {
        let r = c.iam.list_role_policies().role_name(role);
        s.block_on(r.send()).unwrap().policy_names
    };
    let got = policy(&role, "ballast-permissions");
    let statements = got["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{got:#}");
    assert_eq!(
        statements[0]["Action"],
        serde_json::json!(["dynamodb:GetItem", "dynamodb:Query"])
    );
    assert_eq!(statements[0]["Resource"], serde_json::json!([ORDERS]));
    assert_eq!(statements[0]["Effect"], "Allow");
    assert_eq!(statements[1]["Action"], serde_json::json!(["s3:Get*"]));
    assert_eq!(statements[1]["Resource"], serde_json::json!(["*"]));
    assert_eq!(inline(&role), ["ballast-permissions"]);
    let r = s
        .block_on(c.iam.get_role().role_name(&role).send())
        .unwrap();
    let trust = ballast::resources::iam_role::canonical_policy(
        r.role
            .as_ref()
            .unwrap()
            .assume_role_policy_document()
            .unwrap(),
    );
    assert!(trust.contains("ecs-tasks.amazonaws.com"), "{trust}");
    // Only ECS tasks of this account, started by ECS in the stack's region (confused deputy).
    assert!(
        trust.contains(r#""StringEquals":{"aws:SourceAccount":"123456789012"}"#),
        "{trust}"
    );
    assert!(
        trust.contains(r#""ArnLike":{"aws:SourceArn":"arn:aws:ecs:us-east-2:123456789012:*"}"#),
        "{trust}"
    );
    let role_arn = r.role.unwrap().arn;
    let attached = c.iam.list_attached_role_policies().role_name(&role);
    let attached = s.block_on(attached.send()).unwrap();
    assert!(attached.attached_policies().is_empty(), "no managed policy");
    let task_role = |family: &str| {
        let r = c.ecs.describe_task_definition().task_definition(family);
        let td = s.block_on(r.send()).unwrap().task_definition.unwrap();
        td.task_role_arn().map(str::to_string)
    };
    assert_eq!(task_role(&format!("{stack}-api")), Some(role_arn.clone()));
    assert_eq!(
        task_role(&format!("{stack}-web")),
        None,
        "web has no task role"
    );
    s.assert_converged();

    // A policy added by hand to a role ballast owns is drift: the plan shows it, deploy
    // deletes it and nothing else.
    let hand =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    for r in [role.clone(), format!("{stack}-web-{region}-exec")] {
        let put = c
            .iam
            .put_role_policy()
            .role_name(&r)
            .policy_name("by-hand")
            .policy_document(hand);
        s.block_on(put.send()).unwrap();
    }
    let r = s.run("plan", &["--detailed-exitcode"]);
    assert_eq!(r.code, 2, "a hand-added policy is a change:\n{}", r.stderr);
    let plan = s.plan_json();
    for addr in [
        "aws_iam_role.role.task.api",
        "aws_iam_role.role.execution.web",
    ] {
        let keys: Vec<&str> = plan.change(addr)["changed"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["key"].as_str())
            .collect();
        assert_eq!(keys, ["inline_policies"], "{addr}");
    }
    let d = s.deploy();
    assert_eq!(d.stats.write_ops, ["DeleteRolePolicy", "DeleteRolePolicy"]);
    assert_eq!(inline(&role), ["ballast-permissions"]);
    assert_eq!(
        inline(&format!("{stack}-web-{region}-exec")),
        ["ballast-execution"]
    );
    s.assert_converged();

    // Another action: the policy is put again, the task definition stays.
    s.set_yaml(&with_permissions(
        stack,
        region,
        &perms("dynamodb:Query, dynamodb:GetItem, dynamodb:PutItem"),
    ));
    let d = s.deploy();
    assert_eq!(d.stats.write_ops, ["PutRolePolicy"], "one more action");
    let got = policy(&role, "ballast-permissions");
    assert_eq!(
        got["Statement"][0]["Action"],
        serde_json::json!(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"])
    );
    s.assert_converged();

    // No permissions: the task runs without a role, then the role goes.
    s.set_yaml(&with_permissions(stack, region, ""));
    let d = s.deploy();
    let mut writes = d.stats.write_ops.clone();
    writes.sort();
    assert_eq!(
        writes,
        [
            "DeleteRole",
            "DeleteRolePolicy",
            "RegisterTaskDefinition",
            "UpdateService"
        ]
    );
    assert_eq!(task_role(&format!("{stack}-api")), None);
    s.assert_converged();

    // Back, and a policy added by hand again: destroy leaves nothing.
    s.set_yaml(&with_permissions(stack, region, &perms("dynamodb:Query")));
    s.deploy();
    let put = c
        .iam
        .put_role_policy()
        .role_name(&role)
        .policy_name("by-hand")
        .policy_document(hand);
    s.block_on(put.send()).unwrap();
    s.destroy();
}

/// `stacks/app.yaml` as stack `stack` in `region`, alarms off.
fn pizza(stack: &str, region: &str) -> String {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/app.yaml");
    let yaml = std::fs::read_to_string(file).unwrap();
    format!(
        "{}alarms: false\n",
        yaml.replace("name: pizza", &format!("name: {stack}"))
            .replace("region: us-east-1", &format!("region: {region}"))
    )
}

/// The three services of `stacks/app.yaml`: `web` and `api` behind the load balancer, `factory`
/// internal. Every service is a Service Connect client and a server under its own name in the
/// stack's namespace; each admits the stack's tasks on its port, the public ones the load
/// balancer too, the internal one nothing else; it has no target group, rule or grace period.
/// Read back field by field, redeployed with zero writes, destroyed leaving nothing.
#[test]
fn an_internal_service_is_reached_by_name_and_only_by_the_stack() {
    let env = Env::new();
    let (stack, region) = ("it-pizza", "us-east-2");
    let s = TestStack::new(&env, stack, region, &pizza(stack, region));
    let d = s.deploy();
    let mut want = expected(stack, region, &[("web", false), ("api", true)]);
    for (kind, name) in [
        ("aws_security_group", format!("{stack}-factory-service")),
        (
            "aws_cloudwatch_log_group",
            format!("/ballast/{stack}/factory"),
        ),
        ("aws_iam_role", format!("{stack}-factory-{region}-exec")),
        ("aws_iam_role", format!("{stack}-api-{region}-task")),
        ("aws_ecs_task_definition", format!("{stack}-factory")),
        ("aws_ecs_service", "factory".to_string()),
        ("aws_appautoscaling_target", format!("service/{stack}/web")),
        ("aws_appautoscaling_policy", format!("{stack}-web-requests")),
        // `waf: baseline`: the load balancer's web ACL.
        ("aws_wafv2_web_acl", format!("{stack}-baseline")),
    ] {
        want.entry(kind.to_string()).or_default().push(name);
    }
    want.values_mut().for_each(|v| v.sort());
    assert_eq!(d.plan.inventory_after(), want, "the plan");
    assert_eq!(s.inventory(), want, "in AWS after the deploy");

    let c = s.clients();
    // The namespace, and each service's Service Connect configuration on its deployment.
    let ns = s
        .block_on(c.servicediscovery.list_namespaces().send())
        .unwrap();
    let ns = ns
        .namespaces()
        .iter()
        .find(|n| n.name() == Some(stack))
        .expect("the stack's namespace")
        .clone();
    let svcs = c
        .ecs
        .describe_services()
        .cluster(stack)
        .services("web")
        .services("api")
        .services("factory");
    let svcs = s.block_on(svcs.send()).unwrap().services().to_vec();
    let groups = s.security_groups();
    let group = |name: &str| {
        groups
            .iter()
            .find(|g| g.group_name() == Some(name))
            .unwrap_or_else(|| panic!("security group {name}"))
            .clone()
    };
    let tasks_sg = group(&format!("{stack}-tasks"));
    let alb_sg = group(&format!("{stack}-alb"));
    assert!(
        tasks_sg.ip_permissions().is_empty(),
        "the tasks' group admits nothing itself"
    );
    for (name, port, public) in [
        ("web", 8080, true),
        ("api", 8080, true),
        ("factory", 9000, false),
    ] {
        let svc = svcs
            .iter()
            .find(|x| x.service_name() == Some(name))
            .unwrap();
        let dep = svc
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .unwrap();
        let sc = dep.service_connect_configuration().expect(name);
        assert!(sc.enabled(), "{name}");
        assert_eq!(sc.namespace(), ns.arn(), "{name}'s namespace");
        let server = &sc.services()[0];
        assert_eq!(server.port_name(), "app", "{name}");
        assert_eq!(server.discovery_name(), Some(name));
        let alias = &server.client_aliases()[0];
        assert_eq!((alias.dns_name(), alias.port()), (Some(name), port));
        // Its tasks carry its own group and the stack's tasks' group.
        let vpc = svc
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .unwrap();
        let own = group(&format!("{stack}-{name}-service"));
        let mut carried = vpc.security_groups().to_vec();
        carried.sort();
        let mut both = vec![
            own.group_id().unwrap().to_string(),
            tasks_sg.group_id().unwrap().to_string(),
        ];
        both.sort();
        assert_eq!(carried, both, "{name}'s tasks' groups");
        // Who may reach it: the stack's tasks on its port, and the load balancer if public.
        let mut sources: Vec<(String, i32)> = own
            .ip_permissions()
            .iter()
            .flat_map(|p| {
                assert!(p.ip_ranges().is_empty(), "{name}: no CIDR may reach it");
                p.user_id_group_pairs()
                    .iter()
                    .map(|g| (g.group_id().unwrap().to_string(), p.from_port().unwrap()))
            })
            .collect();
        sources.sort();
        let mut admitted = vec![(tasks_sg.group_id().unwrap().to_string(), port)];
        if public {
            admitted.push((alb_sg.group_id().unwrap().to_string(), port));
        }
        admitted.sort();
        assert_eq!(sources, admitted, "{name}'s ingress");
        // The app's port mapping is named for Service Connect.
        let td = c
            .ecs
            .describe_task_definition()
            .task_definition(svc.task_definition().unwrap());
        let td = s.block_on(td.send()).unwrap().task_definition.unwrap();
        let pm = &td.container_definitions()[0].port_mappings()[0];
        assert_eq!(
            (
                pm.name(),
                pm.container_port(),
                pm.app_protocol().map(|p| p.as_str())
            ),
            (Some("app"), Some(port), Some("http")),
            "{name}'s port mapping"
        );
        if public {
            assert_eq!(svc.load_balancers().len(), 1, "{name}");
        } else {
            assert!(
                svc.load_balancers().is_empty(),
                "an internal service has no load balancer"
            );
            assert_eq!(svc.health_check_grace_period_seconds(), None);
        }
    }

    // status: every service apart (an internal one has no targets), or one with --service;
    // by stack name the cluster's services tell.
    let status = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let r = s.run("status", &all);
        assert_ok(&r, "status");
        serde_json::from_str(&r.stdout).unwrap()
    };
    let st = status(&[]);
    let names: Vec<&str> = st["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "factory", "web"], "{st:#}");
    for p in st["services"].as_array().unwrap() {
        assert_eq!(p["service"]["status"], "ACTIVE", "{p:#}");
        let internal = p["name"] == "factory";
        assert_eq!(p["targets"].is_null(), internal, "{p:#}");
    }
    assert_eq!(
        st["services"][2]["scaling"]["max"], 10,
        "web scales: {st:#}"
    );
    assert!(st["service"].is_null(), "{st:#}");
    let one = status(&["--service", "factory"]);
    assert_eq!(one["services"].as_array().unwrap().len(), 1, "{one:#}");
    assert_eq!(one["services"][0]["name"], "factory");
    let r = s.run("status", &["--service", "oven"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["--service oven", "api, factory, web"]);
    let r = s
        .env
        .ballast(&["status", "--stack", stack, "--region", region]);
    assert_ok(&r, "status --stack");
    r.assert_stderr(&["Service api", "Service factory", "internal:", "Service web"]);

    s.assert_converged();

    // One image of the internal service: its revision and its update, nothing else.
    s.set_yaml(&pizza(stack, region).replace("python:3.13-slim", "python:3.14-slim"));
    let d = s.deploy();
    assert_eq!(
        d.stats.write_ops,
        ["RegisterTaskDefinition", "UpdateService"],
        "a new image of factory"
    );
    s.assert_converged();

    // Destroy by the stack's name alone: the namespace goes after the services left it.
    s.destroy_by_name();
}

/// A routed service's own target group health check: its fields are written and read back,
/// what it leaves out is the load balancer's, the other service keeps the load balancer's, and
/// a changed path is one ModifyTargetGroup.
#[test]
fn a_service_checks_its_target_group_its_own_way() {
    let env = Env::new();
    let (stack, region) = ("it-tgcheck", "us-east-2");
    let yaml = |path: &str| {
        two(
            stack,
            region,
            "api:1",
            API_ROUTE,
            &format!("    health_check: {{path: {path}, interval: 10, matcher: \"200\"}}\nload_balancer:\n  health_check: {{path: /up, timeout: 4}}\nalarms: false\n"),
        )
    };
    let s = TestStack::new(&env, stack, region, &yaml("/api/healthz"));
    s.deploy();
    let c = s.clients();
    let check = |svc: &str| {
        let r = c
            .elbv2
            .describe_target_groups()
            .names(format!("{stack}-{svc}-tg"));
        let tg = s.block_on(r.send()).unwrap().target_groups()[0].clone();
        (
            tg.health_check_path().unwrap().to_string(),
            tg.health_check_interval_seconds().unwrap(),
            tg.health_check_timeout_seconds().unwrap(),
            tg.matcher()
                .and_then(|m| m.http_code())
                .unwrap()
                .to_string(),
        )
    };
    assert_eq!(check("api"), ("/api/healthz".into(), 10, 4, "200".into()));
    assert_eq!(check("web"), ("/up".into(), 15, 4, "200-399".into()));
    s.assert_converged();

    s.set_yaml(&yaml("/api/ready"));
    assert_eq!(s.deploy_writes(), ["ModifyTargetGroup"]);
    assert_eq!(check("api").0, "/api/ready");
    s.assert_converged();
    s.destroy();
}

/// `iam.permissions_boundary` is set on every role the stack has (and read back); without it,
/// a boundary put on an owned role by hand is drift: the plan shows it, deploy removes it.
#[test]
fn every_role_has_the_specs_permissions_boundary_and_no_other() {
    let env = Env::new();
    let (stack, region) = ("it-boundary", "us-east-2");
    const BOUNDARY: &str = "arn:aws:iam::aws:policy/PowerUserAccess";
    let perms = "    permissions:\n      - {actions: [\"s3:GetObject\"], resources: [\"*\"]}\n";
    let bounded = format!(
        "{}iam: {{permissions_boundary: \"{BOUNDARY}\"}}\n",
        with_permissions(stack, region, perms)
    );
    let s = TestStack::new(&env, stack, region, &bounded);
    s.deploy();
    let c = s.clients();
    let roles = [
        format!("{stack}-web-{region}-exec"),
        format!("{stack}-api-{region}-exec"),
        format!("{stack}-api-{region}-task"),
        format!("{stack}-{region}-flow-logs"),
    ];
    let boundary = |role: &str| -> Option<String> {
        let r = s.block_on(c.iam.get_role().role_name(role).send()).unwrap();
        r.role()?
            .permissions_boundary()?
            .permissions_boundary_arn()
            .map(str::to_string)
    };
    for role in &roles {
        assert_eq!(boundary(role).as_deref(), Some(BOUNDARY), "{role}");
    }
    s.assert_converged();

    // Without `iam:`: each boundary is removed, one write per role.
    s.set_yaml(&with_permissions(stack, region, perms));
    let mut ops = s.deploy_writes();
    ops.sort();
    assert_eq!(ops, ["DeleteRolePermissionsBoundary"; 4]);
    for role in &roles {
        assert_eq!(boundary(role), None, "{role}");
    }
    s.assert_converged();

    // One put by hand is drift: the plan shows it, the deploy removes it.
    s.block_on(
        c.iam
            .put_role_permissions_boundary()
            .role_name(&roles[0])
            .permissions_boundary(BOUNDARY)
            .send(),
    )
    .unwrap();
    let r = s.run("plan", &["--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("permissions_boundary"), "{}", r.stderr);
    assert_eq!(s.deploy_writes(), ["DeleteRolePermissionsBoundary"]);
    assert_eq!(boundary(&roles[0]), None);
    s.assert_converged();
    s.destroy();
}
