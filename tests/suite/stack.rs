//! End-to-end: the binary against the emulator, effects read back with the SDK.

use crate::common;

use common::{
    actions, assert_ok, tagged, total, web_inventory, web_spec, zone, Env, Inventory, Summary,
    TestStack,
};

/// A web stack of `web_spec` in `region`, not deployed yet.
fn web<'e>(env: &'e Env, stack: &str, region: &str) -> TestStack<'e> {
    TestStack::new(env, stack, region, &web_spec(stack, region, ""))
}

/// What `web_spec` makes in `region`: one subnet in each of its first two AZs.
fn web_in(stack: &str, region: &str) -> Inventory {
    web_inventory(
        stack,
        region,
        &[&format!("{region}a"), &format!("{region}b")],
    )
}

/// A cold deploy creates exactly what its plan says, and that is the web stack.
fn deploy_web(s: &TestStack) {
    let want = web_in(&s.name, &s.region);
    let d = s.deploy();
    assert_eq!(d.plan.inventory_after(), want, "the plan is the web stack");
    let add = total(&want);
    assert_eq!(
        d.plan.summary,
        Summary {
            add,
            ..Summary::default()
        }
    );
    assert_eq!(s.inventory(), want, "in AWS after the deploy");
}

#[test]
fn a_cold_deploy_applies_its_plan_and_prints_the_outputs() {
    let env = Env::new();
    let s = web(&env, "it-cold", "us-east-2");
    let want = web_in(&s.name, &s.region);
    assert_eq!(s.inventory(), Inventory::new(), "nothing before the deploy");
    let d = s.deploy();
    assert_eq!(d.plan.inventory_after(), want);
    assert_eq!(
        d.plan.summary,
        Summary {
            add: total(&want),
            ..Summary::default()
        },
        "a new stack: everything added, nothing else"
    );
    d.run.assert_stderr(&["alb_dns_name"]);
    assert_eq!(s.inventory(), want, "in AWS after the deploy");
}

#[test]
fn the_network_is_one_vpc_with_a_subnet_per_az_and_only_the_alb_reaches_the_tasks() {
    let env = Env::new();
    let s = web(&env, "it-net", "us-east-2");
    let stack = s.name.as_str();
    deploy_web(&s);
    let (subnets, sgs, svc) = (s.subnets(), s.security_groups(), s.service());
    let c = s.clients();
    env.rt.block_on(async {
        let vpcs = c
            .ec2
            .describe_vpcs()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(vpcs.vpcs().len(), 1);
        assert_eq!(vpcs.vpcs()[0].cidr_block(), Some("10.0.0.0/16"));
        let vpc_id = vpcs.vpcs()[0].vpc_id().unwrap().to_string();

        // A public and a private subnet per AZ in two AZs, none mapping public IPs.
        let mut got: Vec<(String, String, String)> = subnets
            .iter()
            .map(|s| {
                let name = s
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("Name"))
                    .and_then(|t| t.value())
                    .unwrap()
                    .to_string();
                (
                    name,
                    s.availability_zone().unwrap().to_string(),
                    s.cidr_block().unwrap().to_string(),
                )
            })
            .collect();
        got.sort();
        let row = |n: &str, az: &str, cidr: &str| (format!("{stack}-{n}"), az.into(), cidr.into());
        assert_eq!(
            got,
            [
                row("private-us-east-2a", "us-east-2a", "10.0.128.0/20"),
                row("private-us-east-2b", "us-east-2b", "10.0.144.0/20"),
                row("us-east-2a", "us-east-2a", "10.0.0.0/20"),
                row("us-east-2b", "us-east-2b", "10.0.16.0/20"),
            ]
        );
        assert!(subnets.iter().all(|s| s.vpc_id() == Some(vpc_id.as_str())));
        assert!(subnets
            .iter()
            .all(|s| s.map_public_ip_on_launch() == Some(false)));
        let subnet_of = |name: String| {
            subnets
                .iter()
                .find(|s| s.tags().iter().any(|t| t.value() == Some(name.as_str())))
                .and_then(|s| s.subnet_id())
                .unwrap()
                .to_string()
        };

        let igws = c
            .ec2
            .describe_internet_gateways()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(igws.internet_gateways().len(), 1);
        let igw = igws.internet_gateways()[0].internet_gateway_id().unwrap();
        assert_eq!(
            igws.internet_gateways()[0].attachments()[0].vpc_id(),
            Some(vpc_id.as_str())
        );

        // A NAT gateway in each AZ's public subnet, each with its Elastic IP.
        let nats = c
            .ec2
            .describe_nat_gateways()
            .filter(tagged(stack))
            .send()
            .await
            .unwrap();
        let nat_in = |az: &str| -> String {
            let public = subnet_of(format!("{stack}-{az}"));
            let g = nats
                .nat_gateways()
                .iter()
                .find(|g| g.subnet_id() == Some(public.as_str()))
                .unwrap_or_else(|| panic!("a NAT gateway in {az}'s public subnet"));
            assert_eq!(g.state().unwrap().as_str(), "available");
            assert!(g.nat_gateway_addresses()[0].allocation_id().is_some());
            g.nat_gateway_id().unwrap().to_string()
        };
        let (nat_a, nat_b) = (nat_in("us-east-2a"), nat_in("us-east-2b"));
        // (A run before this one on the same emulator leaves its NAT gateways `deleted`.)
        let live = nats
            .nat_gateways()
            .iter()
            .filter(|g| g.state().map(|s| s.as_str()) != Some("deleted"))
            .count();
        assert_eq!(live, 2);

        // The public table routes to the internet gateway; each private subnet's to its AZ's
        // NAT gateway.
        let rts = c
            .ec2
            .describe_route_tables()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap();
        let mut routes: Vec<(Vec<String>, String)> = rts
            .route_tables()
            .iter()
            .map(|rt| {
                let mut assoc: Vec<String> = rt
                    .associations()
                    .iter()
                    .filter_map(|a| a.subnet_id().map(str::to_string))
                    .collect();
                assoc.sort();
                let default = rt
                    .routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                    .unwrap();
                let to = default
                    .nat_gateway_id()
                    .or(default.gateway_id())
                    .unwrap()
                    .to_string();
                (assoc, to)
            })
            .collect();
        routes.sort();
        let mut public = vec![
            subnet_of(format!("{stack}-us-east-2a")),
            subnet_of(format!("{stack}-us-east-2b")),
        ];
        public.sort();
        let mut want = vec![
            (public, igw.to_string()),
            (
                vec![subnet_of(format!("{stack}-private-us-east-2a"))],
                nat_a,
            ),
            (
                vec![subnet_of(format!("{stack}-private-us-east-2b"))],
                nat_b,
            ),
        ];
        want.sort();
        assert_eq!(routes, want);

        // The tasks run in the private subnets without public IPs.
        let mut private = vec![
            subnet_of(format!("{stack}-private-us-east-2a")),
            subnet_of(format!("{stack}-private-us-east-2b")),
        ];
        private.sort();
        let net = svc
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .unwrap();
        let mut task_subnets = net.subnets().to_vec();
        task_subnets.sort();
        assert_eq!(task_subnets, private);
        assert_eq!(net.assign_public_ip().unwrap().as_str(), "DISABLED");

        // The VPC's default security group allows nothing (Security Hub EC2.2).
        let default = c
            .ec2
            .describe_security_groups()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(&vpc_id)
                    .build(),
            )
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-name")
                    .values("default")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let default = &default.security_groups()[0];
        assert!(
            default.ip_permissions().is_empty() && default.ip_permissions_egress().is_empty(),
            "the default group has rules: {default:?}"
        );

        assert_eq!(sgs.len(), 2);
        let sg = |name: String| {
            sgs.iter()
                .find(|g| g.group_name() == Some(name.as_str()))
                .unwrap()
        };
        let (alb_sg, svc_sg) = (sg(format!("{stack}-alb")), sg(format!("{stack}-service")));
        let perms = svc_sg.ip_permissions();
        assert_eq!(perms.len(), 1, "service SG admits one rule");
        assert_eq!(perms[0].from_port(), Some(80));
        assert!(
            perms[0].ip_ranges().is_empty(),
            "no CIDR may reach the tasks"
        );
        assert_eq!(
            perms[0].user_id_group_pairs()[0].group_id(),
            alb_sg.group_id(),
            "only the ALB's SG"
        );
        // Egress is closed: the ALB's group sends only to the service's, on its port; the
        // service's only to HTTPS and DNS.
        let out = |g: &aws_sdk_ec2::types::SecurityGroup| {
            let mut rules: Vec<(String, i32, String)> = g
                .ip_permissions_egress()
                .iter()
                .flat_map(|p| {
                    let head = (p.ip_protocol().unwrap().to_string(), p.from_port().unwrap());
                    p.ip_ranges()
                        .iter()
                        .map(|r| r.cidr_ip().unwrap().to_string())
                        .chain(
                            p.user_id_group_pairs()
                                .iter()
                                .map(|r| r.group_id().unwrap().to_string()),
                        )
                        .map(move |to| (head.0.clone(), head.1, to))
                })
                .collect();
            rules.sort();
            rules
        };
        let any = "0.0.0.0/0".to_string();
        assert_eq!(
            out(alb_sg),
            [("tcp".into(), 80, svc_sg.group_id().unwrap().to_string())]
        );
        assert_eq!(
            out(svc_sg),
            [
                ("tcp".into(), 53, any.clone()),
                ("tcp".into(), 443, any.clone()),
                ("udp".into(), 53, any)
            ]
        );
    });
}

#[test]
fn the_load_balancer_service_role_and_logs_get_their_defaults() {
    let env = Env::new();
    let s = web(&env, "it-defaults", "us-east-2");
    let stack = s.name.as_str();
    deploy_web(&s);
    let lb = s.load_balancer();
    assert_eq!(lb.scheme().unwrap().as_str(), "internet-facing");
    assert_eq!(lb.availability_zones().len(), 2);
    // Hardened by default: invalid header fields dropped (ELB.4), desync mitigation defensive.
    let c = s.clients();
    let lb_attrs = c
        .elbv2
        .describe_load_balancer_attributes()
        .load_balancer_arn(lb.load_balancer_arn().unwrap());
    let lb_attrs = s.block_on(lb_attrs.send()).unwrap();
    let lb_attr = |key: &str| {
        lb_attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some(key))
            .and_then(|a| a.value())
            .map(str::to_string)
    };
    assert_eq!(
        lb_attr("routing.http.drop_invalid_header_fields.enabled").as_deref(),
        Some("true")
    );
    assert_eq!(
        lb_attr("routing.http.desync_mitigation_mode").as_deref(),
        Some("defensive")
    );
    assert_eq!(
        lb_attr("deletion_protection.enabled").as_deref(),
        Some("false"),
        "no `protect:`"
    );
    let tg = s.target_group();
    assert_eq!(tg.target_type().unwrap().as_str(), "ip");
    assert_eq!(tg.health_check_path(), Some("/"));
    assert_eq!(tg.matcher().and_then(|m| m.http_code()), Some("200-399"));
    let listeners = s.listeners();
    assert_eq!(listeners.len(), 1);
    assert_eq!(listeners[0].port(), Some(80));
    assert_eq!(
        listeners[0].default_actions()[0].target_group_arn(),
        tg.target_group_arn()
    );

    let svc = s.service();
    assert_eq!(svc.desired_count(), 2);
    let strategy = svc.capacity_provider_strategy();
    assert_eq!(strategy.len(), 1, "all on-demand Fargate by default");
    assert_eq!(strategy[0].capacity_provider(), "FARGATE");
    let dc = svc.deployment_configuration().unwrap();
    let cb = dc.deployment_circuit_breaker().unwrap();
    assert!(
        cb.enable() && cb.rollback(),
        "circuit breaker with rollback by default"
    );
    assert_eq!(dc.minimum_healthy_percent(), Some(100));
    assert_eq!(dc.maximum_percent(), Some(200));
    assert_eq!(svc.health_check_grace_period_seconds(), Some(60));
    assert_eq!(
        svc.load_balancers()[0].target_group_arn(),
        tg.target_group_arn()
    );

    let c = s.clients();
    env.rt.block_on(async {
        let tags = c
            .elbv2
            .describe_tags()
            .resource_arns(lb.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        let tags = tags.tag_descriptions()[0].tags();
        assert!(tags
            .iter()
            .any(|t| t.key() == Some("ballast:stack") && t.value() == Some(stack)));

        let role = c
            .iam
            .get_role()
            .role_name(format!("{stack}-us-east-2-exec"))
            .send()
            .await
            .unwrap();
        assert!(role
            .role()
            .unwrap()
            .tags()
            .iter()
            .any(|t| t.key() == "ballast:stack" && t.value() == stack));
        let lg = c
            .logs
            .describe_log_groups()
            .log_group_name_prefix(format!("/ballast/{stack}"))
            .send()
            .await
            .unwrap();
        assert_eq!(lg.log_groups()[0].retention_in_days(), Some(30));
    });
}

#[test]
fn a_second_deploy_changes_nothing_and_writes_nothing() {
    let env = Env::new();
    let s = web(&env, "it-idem", "us-east-2");
    deploy_web(&s);
    s.assert_converged();

    let v = s.plan_json();
    assert_eq!(v.json["format_version"], "1.1");
    assert_eq!(v.json["has_changes"], false);
    let changes = v.changes();
    assert_eq!(changes.len(), total(&web_in(&s.name, &s.region)));
    assert!(changes.iter().all(|c| c["action"] == "no-op"));
}

#[test]
fn destroy_leaves_nothing_and_a_second_destroy_writes_nothing() {
    let env = Env::new();
    let s = web(&env, "it-gone", "us-east-2");
    let stack = s.name.as_str();
    deploy_web(&s);
    // Counts what the inventory had (the web stack, as deploy_web checked) and leaves an empty
    // inventory.
    s.destroy();
    assert!(s.vpcs().is_empty());
    assert!(s.subnets().is_empty());
    assert!(s.security_groups().is_empty());
    let c = s.clients();
    env.rt.block_on(async {
        let lb = c.elbv2.describe_load_balancers();
        assert!(lb.names(format!("{stack}-alb")).send().await.is_err());
        let role = c.iam.get_role();
        let role = role.role_name(format!("{stack}-us-east-2-exec"));
        assert!(role.send().await.is_err());
    });
    let clusters = s.clusters();
    assert!(clusters.iter().all(|c| c.status() == Some("INACTIVE")));
    // Nothing left: "Nothing to destroy" and not a single write.
    s.destroy();
}

/// `text` with the stack's temporary directory (which warnings name) as `[dir]`.
fn without_dir(s: &TestStack, text: &str) -> String {
    let dir = std::path::Path::new(s.spec()).parent().unwrap();
    text.replace(&dir.display().to_string(), "[dir]")
}

#[test]
fn one_changed_attribute_is_one_update() {
    let env = Env::new();
    let s = web(&env, "it-change", "us-west-1");
    let base = s.yaml();
    s.deploy();
    let svc = s.service();
    let (svc_arn, first_td) = (svc.service_arn().unwrap(), svc.task_definition().unwrap());
    let revision = |arn: &str| arn.rsplit(':').next().unwrap().parse::<u32>().unwrap();

    // Health check path: one in-place update of the target group.
    s.set_yaml(&format!(
        "{base}load_balancer:\n  health_check:\n    path: /healthz\n"
    ));
    let r = s.run("plan", &["--detailed-exitcode"]);
    assert_eq!(r.code, 2, "changes -> exit 2\n{}", r.stderr);
    insta::assert_snapshot!("plan_health_check_path", without_dir(&s, &r.stderr));
    let v = s.plan_json();
    let changed: Vec<&serde_json::Value> = v
        .changes()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["address"], "aws_lb_target_group.tg");
    assert_eq!(changed[0]["action"], "update");
    assert_eq!(changed[0]["changed"][0]["key"], "health_check_path");
    assert_eq!(changed[0]["changed"][0]["before"], "/");
    assert_eq!(changed[0]["changed"][0]["after"], "/healthz");
    assert_eq!(s.deploy_writes(), ["ModifyTargetGroup"]);
    assert_eq!(s.target_group().health_check_path(), Some("/healthz"));

    // Desired count: one UpdateService; without autoscaling the desired count is also the
    // running-tasks alarm's threshold, so that alarm and the dashboard line drawing it follow.
    s.set_yaml(&s.yaml().replace("desired_count: 2", "desired_count: 3"));
    let d = s.deploy();
    d.run
        .assert_stderr(&["~ desired_count = 2 -> 3", "\"2\" -> \"3\""]);
    let mut ops = d.stats.write_ops.clone();
    ops.sort();
    assert_eq!(ops, ["PutDashboard", "PutMetricAlarm", "UpdateService"]);

    // Image: a new task definition revision and an in-place service update, never a replace.
    s.set_yaml(&s.yaml().replace("nginx:1.27", "nginx:1.28"));
    let d = s.deploy();
    assert_eq!(
        d.plan.actions(),
        actions(&[
            ("aws_ecs_service.service", "update"),
            ("aws_ecs_task_definition.taskdef", "update"),
        ])
    );
    assert_eq!(
        d.stats.write_ops,
        ["RegisterTaskDefinition", "UpdateService"]
    );
    let now = s.service();
    assert_eq!(
        now.service_arn(),
        Some(svc_arn),
        "same service, not a replacement"
    );
    let td = now.task_definition().unwrap();
    assert!(td.contains("task-definition/it-change:"), "{td}");
    assert_eq!(revision(td), revision(first_td) + 1, "one new revision");
    assert_eq!(now.desired_count(), 3);
    s.assert_converged();
    s.destroy();
}

#[test]
fn resources_removed_from_the_spec_are_destroyed() {
    let env = Env::new();
    let (stack, region) = ("it-shrink", "ap-southeast-1");
    let three = format!(
        "{}network:\n  create:\n    cidr: 10.8.0.0/16\n    subnets:\n      - {{az: ap-southeast-1a, cidr: 10.8.0.0/20}}\n      - {{az: ap-southeast-1b, cidr: 10.8.16.0/20}}\n      - {{az: ap-southeast-1c, cidr: 10.8.32.0/20}}\n",
        web_spec(stack, region, "")
    );
    let s = TestStack::new(&env, stack, region, &three);
    let want = web_inventory(
        stack,
        region,
        &["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"],
    );
    let d = s.deploy();
    assert_eq!(d.plan.inventory_after(), want, "a subnet in each of 3 AZs");
    assert_eq!(d.plan.summary.add, total(&want));
    assert_eq!(s.inventory(), want);

    let two = three
        .lines()
        .filter(|l| !l.contains("ap-southeast-1c"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    s.set_yaml(&two);
    let r = s.run("plan", &[]);
    assert_ok(&r, "plan");
    r.assert_stderr(&[
        "aws_subnet.subnet.ap-southeast-1c (it-shrink-ap-southeast-1c) will be destroyed",
        "no longer in the spec",
    ]);
    let p = s.plan_json();
    assert_eq!(
        p.actions(),
        actions(&[
            ("aws_subnet.subnet.ap-southeast-1c", "delete"),
            // The AZ's private tier goes with it; the other AZs' private subnets stay.
            ("aws_subnet.subnet.private.ap-southeast-1c", "delete"),
            ("aws_eip.eip.nat.ap-southeast-1c", "delete"),
            ("aws_nat_gateway.nat.ap-southeast-1c", "delete"),
            ("aws_route_table.rt.private.ap-southeast-1c", "delete"),
            ("aws_route_table.rt.public", "update"),
            ("aws_lb.alb", "update"),
            ("aws_ecs_service.service", "update"),
            // Its healthy/unhealthy hosts graph has one line per AZ.
            ("aws_cloudwatch_dashboard.dashboard", "update"),
        ])
    );
    r.assert_stderr(&[&p.summary.plan_line()]);
    s.deploy();
    assert_eq!(
        s.subnets().len(),
        4,
        "a public and a private subnet in each of 2 AZs"
    );
    assert_eq!(s.load_balancer().availability_zones().len(), 2);
    s.assert_converged();
    s.destroy_by_name();
}

#[test]
fn foreign_lookalikes_are_never_adopted_changed_or_deleted() {
    let env = Env::new();
    let s = web(&env, "it-foreign", "us-west-2");
    let stack = s.name.as_str();
    let c = s.clients();
    env.rt.block_on(async {
        c.ecs
            .create_cluster()
            .cluster_name(stack)
            .send()
            .await
            .unwrap();
        c.logs
            .create_log_group()
            .log_group_name("/ballast/it-foreign")
            .send()
            .await
            .unwrap();
    });
    env.reset();
    let r = s.run("plan", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[
        "aws_ecs_cluster.cluster already exists as",
        "aws_cloudwatch_log_group.logs already exists as /ballast/it-foreign",
        "never adopts, changes or deletes",
    ]);
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = s.run("destroy", &["--yes"]);
    assert_ok(&r, "destroy");
    r.assert_stderr(&["Nothing to destroy"]);
    env.stats()
        .assert_no_writes("plan, deploy and destroy next to look-alikes");
    assert_eq!(s.inventory(), Inventory::new(), "nothing is ours");
    assert_eq!(s.clusters()[0].status(), Some("ACTIVE"));
    env.rt.block_on(async {
        c.ecs.delete_cluster().cluster(stack).send().await.unwrap();
        c.logs
            .delete_log_group()
            .log_group_name("/ballast/it-foreign")
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn interrupted_and_failed_deploys_converge_without_duplicates() {
    let env = Env::new();
    let s = web(&env, "it-kill", "eu-west-1");
    let stack = s.name.as_str();

    // Kill a slow deploy part-way: 1 s into its apply, about three round trips of the eight
    // before its service (it shows the plan it made under the stack's lock just before
    // applying it).
    env.set_delay(300);
    let mut child = env
        .command()
        .args(["deploy", s.spec(), "--yes"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let planned = std::io::BufRead::lines(stderr)
        .map_while(Result::ok)
        .any(|l| l.starts_with("Plan:"));
    assert!(planned, "the deploy shows its plan");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let finished_early = child.try_wait().unwrap().is_some();
    child.kill().ok();
    child.wait().unwrap();
    // What the killed deploy had sent still lands: let it, before planning again.
    env.wait_idle();
    env.set_delay(0);
    assert!(
        !finished_early,
        "the deploy should still have been running when killed"
    );
    // A killed deploy cannot release the stack's lock: break it as its owner would, by its id
    // (`ballast unlock`; tests/suite/lock.rs has the lock's own tests), at once: this emulator lists
    // what was made without lag.
    let lock = common::lock_id(&s, &s.region).expect("the killed deploy left its lock");
    let r = env.ballast(&["unlock", stack, "--region", &s.region, &lock, "--no-wait"]);
    assert_ok(&r, "unlock after the kill");

    // A deploy whose service creation fails leaves the rest in place and says so.
    env.fault("CreateService", 1, 400, "InvalidParameterException");
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[
        "failed to create service it-kill",
        "run deploy again to converge",
    ]);

    let ops = s.deploy_writes();
    assert!(ops.contains(&"CreateService".to_string()), "{ops:?}");
    assert!(
        !ops.contains(&"CreateVpc".to_string()),
        "no second VPC: {ops:?}"
    );
    // One of each: a VPC, two subnets, an IGW, a route table, two security groups...
    assert_eq!(s.inventory(), web_in(stack, &s.region), "no duplicates");
    let c = s.clients();
    env.rt.block_on(async {
        let svcs = c.ecs.list_services().cluster(stack).send().await.unwrap();
        assert_eq!(svcs.service_arns().len(), 1);
    });
    s.assert_converged();
    s.destroy();
}

#[test]
fn without_a_tty_and_without_yes_nothing_is_written() {
    let env = Env::new();
    let s = web(&env, "it-notty", "eu-central-1");
    let p = s.plan_json();
    let want = web_in(&s.name, &s.region);
    assert_eq!(p.inventory_after(), want);
    assert_eq!(p.summary.add, total(&want));
    env.reset();
    let r = s.run("deploy", &[]);
    assert_eq!(r.code, 1);
    r.assert_stderr(&[
        "refusing to deploy without confirmation",
        // The plan is still shown.
        &p.summary.plan_line(),
    ]);
    // Every default is visible in the plan of a new stack.
    insta::assert_snapshot!("plan_create_web", without_dir(&s, &r.stderr));
    env.stats()
        .assert_no_writes("a deploy without confirmation");
}

#[test]
fn existing_network_is_used_and_checked() {
    let env = Env::new();
    let s = web(&env, "it-existing", "ap-northeast-1");
    let (stack, region) = (s.name.as_str(), s.region.as_str());
    let c = s.clients();
    let (vpc, a, b, a2, pa, pb) = env.rt.block_on(async {
        let vpc = c
            .ec2
            .create_vpc()
            .cidr_block("10.9.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let mk = |cidr: &'static str, az: &'static str| {
            let c = c.clone();
            let vpc = vpc.clone();
            async move {
                let s = c
                    .ec2
                    .create_subnet()
                    .vpc_id(vpc)
                    .cidr_block(cidr)
                    .availability_zone(az)
                    .send()
                    .await
                    .unwrap();
                s.subnet().unwrap().subnet_id().unwrap().to_string()
            }
        };
        let a = mk("10.9.0.0/24", "ap-northeast-1a").await;
        let b = mk("10.9.1.0/24", "ap-northeast-1c").await;
        let a2 = mk("10.9.2.0/24", "ap-northeast-1a").await;
        let pa = mk("10.9.3.0/24", "ap-northeast-1a").await;
        let pb = mk("10.9.4.0/24", "ap-northeast-1c").await;
        (vpc, a, b, a2, pa, pb)
    });
    let spec_for = |s1: &str, s2: &str| {
        format!(
            "{}network:\n  existing:\n    vpc_id: {vpc}\n    subnet_ids: [{s1}, {s2}]\n",
            web_spec(stack, region, "")
        )
    };
    s.set_yaml(&spec_for(&a, &a2));
    let r = s.run("plan", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["span 1 availability zone"]);

    s.set_yaml(&spec_for(&a, &b));
    let mut want = web_in(stack, region);
    for own_network in [
        "aws_vpc",
        "aws_subnet",
        "aws_internet_gateway",
        "aws_eip",
        "aws_nat_gateway",
        "aws_route_table",
        "aws_flow_log",
    ] {
        want.remove(own_network);
    }
    // Nor flow logs: an existing VPC's are its owner's.
    want.insert(
        "aws_cloudwatch_log_group".into(),
        vec![format!("/ballast/{stack}")],
    );
    want.insert(
        "aws_iam_role".into(),
        vec![format!("{stack}-{region}-exec")],
    );
    let d = s.deploy();
    assert_eq!(
        d.plan.inventory_after(),
        want,
        "no VPC, subnets, IGW, NAT gateway or route table of its own"
    );
    assert_eq!(d.plan.summary.add, total(&want));
    assert_eq!(s.inventory(), want);
    let mut subnets: Vec<_> = s
        .load_balancer()
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id())
        .map(str::to_string)
        .collect();
    subnets.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(subnets, want);
    // Without private subnets the tasks run in the public ones with public IPs, as before.
    let tasks = |s: &TestStack| {
        let svc = s.service();
        let vpc = svc
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .unwrap()
            .clone();
        let mut subnets = vpc.subnets().to_vec();
        subnets.sort();
        (
            subnets,
            vpc.assign_public_ip().map(|a| a.as_str().to_string()),
        )
    };
    assert_eq!(tasks(&s), (want.clone(), Some("ENABLED".to_string())));
    // With them, the tasks move there without public IPs: the service is updated in place.
    s.set_yaml(&format!(
        "{}    private_subnet_ids: [{pa}, {pb}]\n",
        spec_for(&a, &b)
    ));
    let d = s.deploy();
    assert_eq!(
        d.plan.actions(),
        [("aws_ecs_service.service".to_string(), "update".to_string())]
    );
    let mut private = vec![pa.clone(), pb.clone()];
    private.sort();
    assert_eq!(tasks(&s), (private, Some("DISABLED".to_string())));
    s.assert_converged();
    s.destroy();
    env.rt.block_on(async {
        // The network was not ours: it is still there.
        let v = c.ec2.describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
        assert_eq!(v.vpcs().len(), 1);
    });
}

#[test]
fn throttling_is_retried_past_the_sdk_default_of_three_attempts() {
    let env = Env::new();
    let s = web(&env, "it-throttle", "sa-east-1");
    // Four throttled answers in a row: the SDK default (3 attempts) would give up. Fault
    // injection needs the shim: without it `fault` fails the test.
    env.fault("CreateCluster", 4, 400, "ThrottlingException");
    env.fault("DescribeVpcs", 4, 400, "RequestLimitExceeded");
    let r = s.run("deploy", &["--yes"]);
    assert_ok(&r, "throttled deploy");
    assert_eq!(
        env.stats().count("CreateCluster"),
        5,
        "4 throttled + 1 accepted"
    );
    s.destroy();
}

#[test]
fn spot_mix_changes_update_the_service_in_place() {
    let env = Env::new();
    let (stack, region) = ("it-spot", "ca-central-1");
    let base = web_spec(stack, region, "");
    let s = TestStack::new(
        &env,
        stack,
        region,
        &format!("{base}  capacity:\n    base: 1\n    spot_weight: 1\n"),
    );
    s.deploy();
    let svc = s.service();
    let mut mix: Vec<_> = svc
        .capacity_provider_strategy()
        .iter()
        .map(|i| (i.capacity_provider().to_string(), i.base(), i.weight()))
        .collect();
    mix.sort();
    assert_eq!(
        mix,
        [
            ("FARGATE".to_string(), 1, 1),
            ("FARGATE_SPOT".to_string(), 0, 1)
        ]
    );
    let arn = svc.service_arn().unwrap();

    s.set_yaml(&format!(
        "{base}  capacity:\n    base: 2\n    spot_weight: 3\n"
    ));
    let r = s.run("plan", &[]);
    assert_ok(&r, "plan");
    r.assert_stderr(&[
        "aws_ecs_service.service (it-spot) will be updated in place",
        "~ capacity_provider_strategy",
    ]);
    let p = s.plan_json();
    assert_eq!(
        p.actions(),
        actions(&[("aws_ecs_service.service", "update")])
    );
    r.assert_stderr(&[&p.summary.plan_line()]);
    assert_eq!(s.deploy_writes(), ["UpdateService"]);
    let now = s.service();
    assert_eq!(now.service_arn(), Some(arn), "same service");
    let spot = now
        .capacity_provider_strategy()
        .iter()
        .find(|i| i.capacity_provider() == "FARGATE_SPOT")
        .unwrap();
    assert_eq!(spot.weight(), 3);
    s.assert_converged();
    s.destroy();
}

#[test]
fn deploy_waits_for_its_rollout_and_exits_by_verdict() {
    let env = Env::new();
    let s = web(&env, "it-verdict", "eu-north-1");
    let base = s.yaml();

    // Rollout outcomes are chosen through the shim: without it `set_rollout` fails the test.
    let r = s.run("deploy", &["--yes", "--poll-interval", "50ms"]);
    assert_ok(&r, "deploy");
    r.assert_stderr(&[
        "Waiting for rollout ecs-svc/",
        "completed: 2/2 tasks running",
    ]);

    // A rollout the circuit breaker rolls back: exit 3 with the reason.
    env.set_rollout(
        "FAILED",
        "ECS deployment circuit breaker: tasks failed to start.",
    );
    s.set_yaml(&base.replace("nginx:1.27", "nginx:broken"));
    let r = s.run("deploy", &["--yes", "--poll-interval", "50ms"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    r.assert_stderr(&["was rolled back: ECS deployment circuit breaker: tasks failed to start."]);

    // A rollout the managed 5xx alarm rolls back (a rollback alarm by default): the service's
    // deployment configuration names it, and deploy exits 3 with ECS's reason, which names it.
    let alarm = format!("{}-target_5xx_rate", s.name);
    let svc = s.service();
    let cfg = svc.deployment_configuration().unwrap().alarms().unwrap();
    assert_eq!(cfg.alarm_names(), [alarm.as_str()]);
    assert!(cfg.enable() && cfg.rollback());
    env.set_rollout(
        "FAILED",
        &format!("Rolling back to the last deployment: CloudWatch alarm(s) {alarm} are in ALARM."),
    );
    s.set_yaml(&base.replace("nginx:1.27", "nginx:5xx"));
    let r = s.run("deploy", &["--yes", "--poll-interval", "50ms"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    r.assert_stderr(&[
        "was rolled back: Rolling back",
        &format!("{alarm} are in ALARM"),
    ]);

    // A rollout that never settles: exit 4 after --wait-timeout, and it says how to follow it.
    env.set_rollout("IN_PROGRESS", "");
    s.set_yaml(&base.replace("nginx:1.27", "nginx:slow"));
    let t = std::time::Instant::now();
    let r = s.run(
        "deploy",
        &["--yes", "--wait-timeout", "1s", "--poll-interval", "100ms"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    r.assert_stderr(&["timed out after 1s", "ballast status"]);
    assert!(t.elapsed() < std::time::Duration::from_secs(30));

    // --no-wait returns once the change is made.
    s.set_yaml(&base.replace("nginx:1.27", "nginx:later"));
    let r = s.run("deploy", &["--yes", "--no-wait"]);
    assert_ok(&r, "deploy --no-wait");
    assert!(!r.stderr.contains("Waiting for rollout"), "{}", r.stderr);

    env.set_rollout("COMPLETED", "");
    s.destroy();
}

#[test]
fn status_shows_tasks_rollout_and_healthy_targets_per_az() {
    let env = Env::new();
    let s = web(&env, "it-status", "ap-south-1");
    let (stack, region) = (s.name.as_str(), s.region.as_str());
    let r = s.run("status", &[]);
    assert_ok(&r, "status before deploy");
    r.assert_stderr(&["Service: not deployed"]);
    s.deploy();

    // Register one task IP per AZ, as ECS would: in the tasks' (private) subnets.
    let tg = s.target_group();
    let arn = tg.target_group_arn().unwrap();
    let subnets: Vec<_> = s
        .subnets()
        .into_iter()
        .filter(|sn| {
            sn.tags()
                .iter()
                .any(|t| t.key() == Some("Name") && t.value().unwrap_or("").contains("-private-"))
        })
        .collect();
    assert_eq!(subnets.len(), 2);
    let c = s.clients();
    env.rt.block_on(async {
        for sn in &subnets {
            let ip = sn.cidr_block().unwrap().replace(".0/20", ".10");
            c.elbv2
                .register_targets()
                .target_group_arn(arn)
                .targets(
                    aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                        .id(ip)
                        .port(80)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
    });
    env.reset();
    let r = s.run("status", &[]);
    assert_ok(&r, "status");
    r.assert_stderr(&[
        "tasks:            2/2 running, 0 pending",
        "last deployment:  ecs-svc/",
        "COMPLETED",
        "scaling:          fixed desired count",
    ]);
    env.stats().assert_no_writes("status (it only reads)");
    let r = env.ballast(&[
        "status", "--stack", stack, "--region", region, "--output", "json",
    ]);
    assert_ok(&r, "status json");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let by_az = v["load_balancer"]["by_az"].as_object().unwrap();
    assert_eq!(
        by_az.keys().cloned().collect::<Vec<_>>(),
        ["ap-south-1a", "ap-south-1b"]
    );
    for (_, t) in by_az {
        assert_eq!(t["total"], 1, "{v}");
    }
    assert_eq!(v["service"]["deployments"][0]["rollout_state"], "COMPLETED");

    // The stack's alarms, with their state: one set firing by hand, as CloudWatch would.
    env.rt.block_on(async {
        c.cloudwatch
            .set_alarm_state()
            .alarm_name(format!("{stack}-cpu_high"))
            .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
            .state_reason("Threshold Crossed: 3 datapoints were greater than 85.0")
            .send()
            .await
            .unwrap();
    });
    let r = s.run("status", &[]);
    assert_ok(&r, "status with a firing alarm");
    r.assert_stderr(&[
        "Alarms 7 (1 in ALARM)",
        &format!("{stack}-cpu_high"),
        "ALARM",
        "Threshold Crossed: 3 datapoints were greater than 85.0",
        &format!("{stack}-target_5xx_rate"),
    ]);
    let r = env.ballast(&[
        "status", "--stack", stack, "--region", region, "--output", "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let alarms = v["alarms"].as_array().unwrap();
    assert_eq!(alarms.len(), 7, "{v}");
    let cpu = alarms
        .iter()
        .find(|a| a["name"] == format!("{stack}-cpu_high"))
        .unwrap();
    assert_eq!(cpu["state"], "ALARM");
    assert_eq!(cpu["kind"], "metric");
    // New alarms start without data, as on AWS.
    let other = alarms
        .iter()
        .find(|a| a["name"] == format!("{stack}-elb_5xx"))
        .unwrap();
    assert_eq!(other["state"], "INSUFFICIENT_DATA");
    s.destroy();
}

#[test]
fn every_example_stack_deploys_idempotently_and_destroys() {
    let _turn = common::examples_turn();
    let env = Env::new();
    let files = common::examples();
    for f in files {
        let s = TestStack::from_file(&env, &f);
        if s.global {
            // The examples' hosted zone: ballast never creates zones.
            zone(&env, "example.com");
        }
        let d = s.deploy();
        assert_eq!(s.inventory(), d.plan.inventory_after(), "{}", f.display());
        s.assert_converged();
        s.destroy();
    }
}

/// `protect: true` turns the load balancer's deletion protection on: destroy then stops at it
/// and says how to go on; a deploy with `protect: false` turns it off, and destroy goes through.
#[test]
fn a_protected_stack_is_not_destroyed_until_it_is_unprotected() {
    let env = Env::new();
    let (stack, region) = ("it-protect", "eu-north-1");
    let yaml = format!("protect: true\n{}", web_spec(stack, region, ""));
    let s = TestStack::new(&env, stack, region, &yaml);
    s.deploy();
    let protection = || {
        let c = s.clients();
        let arn = s.load_balancer().load_balancer_arn().unwrap().to_string();
        let attrs = s
            .block_on(
                c.elbv2
                    .describe_load_balancer_attributes()
                    .load_balancer_arn(arn)
                    .send(),
            )
            .unwrap();
        attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some("deletion_protection.enabled"))
            .and_then(|a| a.value())
            .map(str::to_string)
    };
    assert_eq!(protection().as_deref(), Some("true"));
    let r = s.run("destroy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["has deletion protection on; deploy with `protect: false`"]);
    s.set_yaml(&yaml.replace("protect: true", "protect: false"));
    s.deploy();
    assert_eq!(protection().as_deref(), Some("false"));
    s.destroy();
}

/// `load_balancer.access_logs`: a bucket of the stack's own in the region, every setting read
/// back (a policy statement added by hand is drift, and goes), `protect: true` keeps the bucket
/// from `destroy`, and without access logs the load balancer stops writing and the bucket goes,
/// with the logs in it.
#[test]
fn access_logs_go_to_a_bucket_of_the_stacks_own() {
    let env = Env::new();
    let (stack, region) = ("it-logs", "eu-west-1");
    let base = web_spec(stack, region, "");
    let on = format!("{base}load_balancer:\n  access_logs: {{retention_days: 30}}\n");
    let s = TestStack::new(&env, stack, region, &on);
    s.deploy();
    let c = s.clients();
    let account = s
        .block_on(c.sts.get_caller_identity().send())
        .unwrap()
        .account()
        .unwrap()
        .to_string();
    let bucket = format!("{stack}-alb-{account}-{region}-an");
    let lb_logs = || {
        let arn = s.load_balancer().load_balancer_arn().unwrap().to_string();
        let attrs = s
            .block_on(
                c.elbv2
                    .describe_load_balancer_attributes()
                    .load_balancer_arn(arn)
                    .send(),
            )
            .unwrap();
        let get = |k: &str| {
            attrs
                .attributes()
                .iter()
                .find(|a| a.key() == Some(k))
                .and_then(|a| a.value())
                .unwrap_or_default()
                .to_string()
        };
        (
            get("access_logs.s3.enabled"),
            get("access_logs.s3.bucket"),
            get("access_logs.s3.prefix"),
        )
    };
    assert_eq!(lb_logs(), ("true".into(), bucket.clone(), stack.into()));
    assert_eq!(s.inventory()["aws_s3_log_bucket"], vec![bucket.clone()]);
    let sse = s
        .block_on(c.s3.get_bucket_encryption().bucket(&bucket).send())
        .unwrap();
    let rule = &sse.server_side_encryption_configuration().unwrap().rules()[0];
    let algo = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(algo.sse_algorithm().as_str(), "AES256");
    let owner = s
        .block_on(c.s3.get_bucket_ownership_controls().bucket(&bucket).send())
        .unwrap();
    let rules = owner.ownership_controls().unwrap().rules();
    assert_eq!(rules[0].object_ownership().as_str(), "BucketOwnerEnforced");
    let life = s
        .block_on(
            c.s3.get_bucket_lifecycle_configuration()
                .bucket(&bucket)
                .send(),
        )
        .unwrap();
    assert_eq!(life.rules()[0].expiration().unwrap().days(), Some(30));
    let policy = || {
        let p = s
            .block_on(c.s3.get_bucket_policy().bucket(&bucket).send())
            .unwrap();
        serde_json::from_str::<serde_json::Value>(p.policy().unwrap()).unwrap()
    };
    let p = policy();
    // eu-west-1 opened before August 2022: ELB's account there writes the logs.
    assert_eq!(
        p["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::156460612806:root"
    );
    assert_eq!(
        p["Statement"][0]["Resource"],
        format!("arn:aws:s3:::{bucket}/{stack}/AWSLogs/{account}/*")
    );
    // Nothing without TLS (Security Hub S3.5).
    assert_eq!(
        p["Statement"][1]["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
    assert_eq!(p["Statement"].as_array().unwrap().len(), 2, "{p}");
    s.assert_converged();

    // A statement added by hand is drift: the plan shows it, the deploy writes ours again.
    let mut open = p.clone();
    open["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")
        }));
    s.block_on(
        c.s3.put_bucket_policy()
            .bucket(&bucket)
            .policy(open.to_string())
            .send(),
    )
    .unwrap();
    let r = s.run("plan", &["--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    r.assert_stderr(&["log_delivery"]);
    s.deploy();
    assert_eq!(policy(), p);
    s.assert_converged();

    // Protected, the bucket refuses to go (its policy denies s3:DeleteBucket to everyone) until
    // a deploy with `protect: false` lifts that.
    s.set_yaml(&format!("protect: true\n{on}"));
    s.deploy();
    assert_eq!(policy()["Statement"][2]["Action"], "s3:DeleteBucket");
    s.set_yaml(&format!("protect: true\n{base}"));
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[
        "is protected (its policy denies s3:DeleteBucket); deploy with `protect: false` first",
    ]);
    assert_eq!(s.inventory()["aws_s3_log_bucket"], vec![bucket.clone()]);
    s.set_yaml(&on);
    s.deploy();
    assert_eq!(policy(), p);
    // ELB's test file: the bucket is not empty when it goes. (Written over plain HTTP, which
    // the bucket's policy denies, as on AWS: the policy goes first.)
    s.block_on(c.s3.delete_bucket_policy().bucket(&bucket).send())
        .unwrap();
    s.block_on(
        c.s3.put_object()
            .bucket(&bucket)
            .key(format!("{stack}/AWSLogs/{account}/ELBAccessLogTestFile"))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"test"))
            .send(),
    )
    .unwrap();
    // Without access logs: the load balancer stops writing, the bucket goes with its logs.
    s.set_yaml(&base);
    s.deploy();
    assert_eq!(lb_logs(), ("false".into(), String::new(), String::new()));
    assert!(!s.inventory().contains_key("aws_s3_log_bucket"));
    s.assert_converged();
    s.destroy();
}

#[test]
fn deploys_never_fight_the_autoscaler() {
    let env = Env::new();
    let (stack, region) = ("it-drift", "eu-west-3");
    let s = TestStack::new(
        &env,
        stack,
        region,
        &web_spec(
            stack,
            region,
            "  autoscaling:\n    min: 2\n    max: 10\n    cpu: 50\n",
        ),
    );
    s.deploy();
    // The autoscaler scaled out.
    let c = s.clients();
    env.rt.block_on(async {
        c.ecs
            .update_service()
            .cluster(stack)
            .service(stack)
            .desired_count(7)
            .send()
            .await
            .unwrap();
    });
    s.assert_converged().assert_stderr(&[
        "desired_count is 7 in AWS and is left alone: autoscaling owns the desired count (2..10)",
    ]);
    assert_eq!(s.service().desired_count(), 7, "not reset");
    s.destroy();
}

#[test]
fn replacing_a_target_group_replaces_what_holds_on_to_it() {
    let env = Env::new();
    let s = web(&env, "it-port", "us-east-1");
    let base = s.yaml();
    s.deploy();

    // A new container port: the target group's port cannot change in place.
    s.set_yaml(&format!("{base}  port: 8080\n"));
    let r = s.run("plan", &[]);
    assert_ok(&r, "plan");
    r.assert_stderr(&[
        "aws_lb_target_group.tg (it-port-tg) must be replaced",
        "aws_lb_listener.listener (it-port-alb:80) must be replaced",
        "aws_ecs_service.service (it-port) must be replaced",
        "~ port = 80 -> 8080 # forces replacement",
    ]);
    s.deploy();
    s.assert_converged();
    assert_eq!(s.target_group().port(), Some(8080));
    let services = s.services();
    let active: Vec<_> = services
        .iter()
        .filter(|s| s.status() == Some("ACTIVE"))
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].load_balancers()[0].container_port(), Some(8080));
    s.destroy();
}

#[test]
fn a_certificate_makes_the_listener_https_with_a_redirect_from_http() {
    let env = Env::new();
    let (stack, region) = ("it-tls", "us-east-2");
    let acm = env.acm(region);
    let cert = env.rt.block_on(async {
        let r = acm
            .request_certificate()
            .domain_name("it-tls.example.com")
            .send()
            .await
            .unwrap();
        r.certificate_arn().unwrap().to_string()
    });
    let s = TestStack::new(
        &env,
        stack,
        region,
        &format!(
            "{}load_balancer:\n  certificate_arn: {cert}\n",
            web_spec(stack, region, "")
        ),
    );
    let d = s.deploy();
    let mut want = web_in(stack, region);
    want.insert(
        "aws_lb_listener".into(),
        vec!["it-tls-alb:443".into(), "it-tls-alb:80".into()],
    );
    assert_eq!(d.plan.inventory_after(), want, "two listeners");
    let ls = s.listeners();
    let https = ls
        .iter()
        .find(|l| l.port() == Some(443))
        .expect("443 listener");
    assert_eq!(https.protocol().unwrap().as_str(), "HTTPS");
    assert_eq!(
        https.certificates()[0].certificate_arn(),
        Some(cert.as_str())
    );
    assert_eq!(
        https.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-Res-2021-06")
    );
    let http = ls
        .iter()
        .find(|l| l.port() == Some(80))
        .expect("80 listener");
    let redirect = http.default_actions()[0]
        .redirect_config()
        .expect("redirect");
    assert_eq!(
        (redirect.protocol(), redirect.port()),
        (Some("HTTPS"), Some("443"))
    );
    let sgs = s.security_groups();
    let alb_sg = sgs
        .iter()
        .find(|g| g.group_name() == Some("it-tls-alb"))
        .expect("the ALB's security group");
    let ports: Vec<_> = alb_sg
        .ip_permissions()
        .iter()
        .filter_map(|p| p.from_port())
        .collect();
    assert!(ports.contains(&80) && ports.contains(&443), "{ports:?}");
    s.assert_converged();
    s.destroy();
}

#[test]
fn ctrl_c_while_waiting_leaves_the_rollout_running_and_says_how_to_follow_it() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    let s = web(&env, "it-sigint", "us-west-1");
    // A rollout that never settles needs the shim: without it `set_rollout` fails the test.
    env.set_rollout("IN_PROGRESS", "");
    let mut child = env
        .command()
        .args(["deploy", s.spec(), "--yes", "--poll-interval", "100ms"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = String::new();
    // ballast listens for Ctrl-C only once it polls the rollout: a SIGINT right after "Waiting
    // for rollout" may still find the default action (killed, no exit code). The first progress
    // line ("  rollout IN_PROGRESS: ...") comes after that poll.
    let mut polled = false;
    while !(seen.contains("Waiting for rollout") && polled) {
        let line = rx
            .recv_timeout(deadline - std::time::Instant::now())
            .expect("deploy starts waiting");
        polled |= line.starts_with("  rollout ");
        seen.push_str(&line);
        seen.push('\n');
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(5)) {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(seen.contains("Stopped waiting. Rollout ecs-svc/"), "{seen}");
    assert!(
        seen.contains("goes on in ECS; follow it with `ballast status"),
        "{seen}"
    );
    // The rollout was left alone: the service is still there, mid-rollout.
    let svc = s.service();
    let d = &svc.deployments()[0];
    assert_eq!(d.rollout_state().unwrap().as_str(), "IN_PROGRESS");
    env.set_rollout("COMPLETED", "");
    s.destroy();
}

#[test]
fn tags_follow_the_spec_in_place_on_every_kind_of_every_example() {
    const TAG_CALLS: &[&str] = &[
        "CreateTags",
        "DeleteTags",
        "AddTags",
        "RemoveTags",
        "TagResource",
        "UntagResource",
        "TagRole",
        "UntagRole",
        "CreateOrUpdateTags",
        "ChangeTagsForResource",
        "PutBucketTagging",
    ];
    let _turn = common::examples_turn();
    let env = Env::new();
    let files = common::examples();
    let mut kinds = std::collections::BTreeSet::new();
    for f in files {
        let s = TestStack::from_file(&env, &f);
        if s.global {
            zone(&env, "example.com");
        }
        let original = s.yaml();
        let with_tags = |tags: &str| {
            let mut out = String::new();
            for line in original.lines() {
                out.push_str(line);
                out.push('\n');
                if line.starts_with("name:") {
                    out.push_str("tags:\n");
                    out.push_str(tags);
                }
            }
            out
        };
        s.set_yaml(&with_tags("  team: blue\n  stale: yes-please\n"));
        let cold = s.deploy();
        // Every resource made with the spec's tags is retagged below, none more.
        let tagged = cold
            .plan
            .changes()
            .iter()
            .filter(|c| c["after"].get("tags").is_some())
            .count();
        let makes_vpc = cold.plan.changes().iter().any(|c| c["type"] == "aws_vpc");

        // Change one value, remove one key, add one: an update of exactly the tags of every
        // taggable resource, nothing else, no replacement.
        s.set_yaml(&with_tags("  team: green\n  owner: platform\n"));
        let plan = s.plan_json();
        let mut updates = 0;
        for c in plan.changes() {
            let taggable = c["after"].get("tags").is_some();
            let kind = c["type"].as_str().unwrap();
            if taggable {
                kinds.insert(kind.to_string());
                assert_eq!(c["action"], "update", "{}: {c:#}", f.display());
                let changed: Vec<&str> = c["changed"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["key"].as_str().unwrap())
                    .collect();
                assert_eq!(changed, ["tags"], "{}", c["address"]);
                assert_eq!(c["before"]["tags"]["team"], "blue");
                assert_eq!(c["after"]["tags"]["team"], "green");
                updates += 1;
            } else {
                assert_eq!(c["action"], "no-op", "{}: {c:#}", f.display());
            }
        }
        assert_eq!(
            updates,
            tagged,
            "{}: every resource made with tags is retagged",
            f.display()
        );
        assert!(updates > 0, "{}: nothing taggable?", f.display());
        let d = s.deploy();
        let w = &d.stats.write_ops;
        assert!(
            w.iter().all(|op| TAG_CALLS.contains(&op.as_str())),
            "{}: only tag calls: {w:?}",
            f.display()
        );
        assert!(
            w.len() >= updates && w.len() <= 2 * updates,
            "{}: one call to set and one to remove per resource: {} calls for {updates}: {w:?}",
            f.display(),
            w.len()
        );
        // Read back with the SDK: the VPC has the new tags and keeps its ownership tags.
        let vpcs = s.vpcs();
        assert_eq!(vpcs.len(), usize::from(makes_vpc), "{}", f.display());
        if let Some(vpc) = vpcs.first() {
            let tags: std::collections::BTreeMap<&str, &str> = vpc
                .tags()
                .iter()
                .map(|t| (t.key().unwrap(), t.value().unwrap()))
                .collect();
            assert_eq!(tags.get("team"), Some(&"green"));
            assert_eq!(tags.get("owner"), Some(&"platform"));
            assert_eq!(tags.get("stale"), None);
            assert_eq!(tags.get("ballast:stack"), Some(&s.name.as_str()));
            assert_eq!(tags.get("ballast:resource"), Some(&"vpc"));
        }
        s.assert_converged();
        s.destroy();
    }
    // Every taggable kind the examples deploy took part.
    for k in [
        "aws_vpc",
        "aws_subnet",
        "aws_internet_gateway",
        "aws_route_table",
        "aws_security_group",
        "aws_lb",
        "aws_lb_target_group",
        "aws_lb_listener",
        "aws_ecs_cluster",
        "aws_ecs_service",
        "aws_ecs_task_definition",
        "aws_iam_role",
        "aws_cloudwatch_log_group",
        "aws_cloudwatch_metric_alarm",
        "aws_cloudwatch_composite_alarm",
        "aws_sns_topic",
        "aws_appautoscaling_target",
        "aws_launch_template",
        "aws_autoscaling_group",
        "aws_ecs_capacity_provider",
        "aws_route53_health_check",
        "aws_s3_bucket",
    ] {
        assert!(kinds.contains(k), "{k} not among {kinds:?}");
    }
}

#[test]
fn a_saved_plan_is_applied_exactly_or_not_at_all() {
    let env = Env::new();
    let (name, region) = ("it-saved", "ap-northeast-2");
    let s = TestStack::new(&env, name, region, &web_spec(name, region, ""));
    let out = |n: u32| format!("{}.plan{n}.json", s.spec());

    // A reviewed plan of a new stack, applied without --yes or a terminal.
    let r = s.run("plan", &["--out", &out(1)]);
    assert_ok(&r, "plan --out");
    r.assert_stderr(&["Saved this plan to", "--plan"]);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out(1)).unwrap()).unwrap();
    assert_eq!(saved["format"], "ballast-saved-plan");
    assert_eq!(
        saved["plan"]["summary"]["add"],
        total(&web_in(name, region))
    );
    env.reset();
    let r = s.run("deploy", &["--plan", &out(1)]);
    assert_ok(&r, "deploy --plan");
    assert_eq!(s.inventory(), web_in(name, region));

    // A change is planned and saved; then AWS changes: the saved plan is refused, nothing is
    // written (not even the lock), and the message names what changed.
    let changed = web_spec(name, region, "  environment:\n    MODE: two\n");
    s.set_yaml(&changed);
    assert_ok(&s.run("plan", &["--out", &out(2)]), "plan --out");
    let tg = s.target_group();
    s.block_on(
        s.clients()
            .elbv2
            .modify_target_group()
            .target_group_arn(tg.target_group_arn().unwrap())
            .health_check_path("/out-of-band")
            .send(),
    )
    .unwrap();
    env.reset();
    let r = s.run("deploy", &["--plan", &out(2)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&[
        "no longer applies, so nothing was changed",
        "AWS changed since the plan was saved: aws_lb_target_group.tg",
        "changed",
    ]);
    let st = env.stats();
    st.assert_no_writes("a stale saved plan");
    assert!(st.lock_ops.is_empty(), "{:?}", st.lock_ops);

    // Saved again; then the spec changes: refused, naming the spec.
    assert_ok(&s.run("plan", &["--out", &out(3)]), "plan --out");
    s.set_yaml(&web_spec(name, region, "  environment:\n    MODE: three\n"));
    env.reset();
    let r = s.run("deploy", &["--plan", &out(3)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["the spec changed since the plan was saved"]);
    env.stats().assert_no_writes("a saved plan of another spec");

    // The spec it was made from, AWS as it was: applied exactly (the path and the environment).
    s.set_yaml(&changed);
    env.reset();
    let r = s.run("deploy", &["--plan", &out(3)]);
    assert_ok(&r, "deploy --plan");
    let mut w = env.stats().write_ops;
    w.sort();
    assert_eq!(
        w,
        [
            "ModifyTargetGroup",
            "RegisterTaskDefinition",
            "UpdateService"
        ],
        "exactly the saved plan"
    );
    assert_eq!(s.target_group().health_check_path(), Some("/"));
    s.assert_converged();
    s.destroy();
}

#[test]
fn destroy_names_what_it_leaves_because_it_lost_the_stacks_tag() {
    let env = Env::new();
    let s = web(&env, "it-left", "eu-west-2");
    deploy_web(&s);
    // Someone removes the ownership tag of the log group by hand.
    let c = s.clients();
    let group = "/ballast/it-left";
    let arn = s
        .block_on(
            c.logs
                .describe_log_groups()
                .log_group_name_prefix(group)
                .send(),
        )
        .unwrap()
        .log_groups()[0]
        .log_group_arn()
        .unwrap()
        .to_string();
    s.block_on(
        c.logs
            .untag_resource()
            .resource_arn(&arn)
            .tag_keys("ballast:stack")
            .send(),
    )
    .unwrap();

    // Destroy deletes the rest, leaves the log group alone, and says so.
    let r = s.destroy();
    r.assert_stderr(&[
        "Destroy complete!",
        "left: /ballast/it-left (aws_cloudwatch_log_group.logs",
        "but not its ownership tag (ballast:stack=it-left), so destroy did not touch it",
    ]);
    // By name, without the spec: the stack's default names are looked for.
    let r = s.destroy_by_name();
    r.assert_stderr(&[
        "Nothing to destroy",
        "left: /ballast/it-left (aws_cloudwatch_log_group.logs",
    ]);
    let left = s
        .block_on(
            c.logs
                .describe_log_groups()
                .log_group_name_prefix(group)
                .send(),
        )
        .unwrap();
    assert_eq!(left.log_groups().len(), 1, "untouched");
    s.block_on(c.logs.delete_log_group().log_group_name(group).send())
        .unwrap();
}

/// A security group that something outside the stack still uses (here a network interface
/// someone made in it) cannot be deleted: when the wait for it ends, destroy names the network
/// interface and fails, advising destroy again; once that is gone, destroy finishes.
#[test]
fn destroy_names_the_network_interfaces_that_hold_a_security_group() {
    let env = Env::new();
    let s = web(&env, "it-sgheld", "ap-northeast-3");
    deploy_web(&s);
    let c = s.clients();
    let group = s
        .security_groups()
        .into_iter()
        .find(|g| g.group_name() == Some("it-sgheld-service"))
        .expect("the service's security group");
    let subnet = s.subnets()[0].subnet_id().unwrap().to_string();
    let eni = s
        .block_on(
            c.ec2
                .create_network_interface()
                .subnet_id(&subnet)
                .groups(group.group_id().unwrap())
                .description("a debugging box of someone's")
                .send(),
        )
        .unwrap()
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .unwrap()
        .to_string();
    let t = std::time::Instant::now();
    let r = env.ballast(&["destroy", s.spec(), "--yes", "--in-use-wait", "5s"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(60),
        "gives up when its wait ends: {:?}",
        t.elapsed()
    );
    r.assert_stderr(&[
        &format!(
            "security group it-sgheld-service ({}) is still used after 5 s by network interface {eni} (a debugging box of someone's)",
            group.group_id().unwrap()
        ),
        "run destroy again",
    ]);
    s.block_on(
        c.ec2
            .delete_network_interface()
            .network_interface_id(&eni)
            .send(),
    )
    .unwrap();
    s.destroy();
    assert!(s.inventory().is_empty(), "{:?}", s.inventory());
}

#[test]
fn destroy_stops_soon_naming_what_still_uses_its_target_group() {
    let env = Env::new();
    let s = web(&env, "it-held", "us-west-1");
    deploy_web(&s);
    // The load balancer and its listener lose the stack's tag: the target group the listener
    // forwards to can no longer be deleted.
    let c = s.clients();
    let lb = s.load_balancer().load_balancer_arn().unwrap().to_string();
    let listener = s.listeners()[0].listener_arn().unwrap().to_string();
    for arn in [&lb, &listener] {
        s.block_on(
            c.elbv2
                .remove_tags()
                .resource_arns(arn)
                .tag_keys("ballast:stack")
                .send(),
        )
        .unwrap();
    }
    let t = std::time::Instant::now();
    let r = env.ballast(&["destroy", s.spec(), "--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(120),
        "gives up in bounded time: {:?}",
        t.elapsed()
    );
    r.assert_stderr(&[
        "target group it-held-tg is still used by the listener on port 80 of load balancer it-held-alb",
        "left: it-held-alb (aws_lb.alb",
        "run destroy again",
    ]);
    assert!(!r.stderr.contains("run deploy again"), "{}", r.stderr);
    // Given their tag back, the rest goes.
    for arn in [&lb, &listener] {
        s.block_on(
            c.elbv2
                .add_tags()
                .resource_arns(arn)
                .tags(
                    aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                        .key("ballast:stack")
                        .value("it-held")
                        .build(),
                )
                .send(),
        )
        .unwrap();
    }
    s.destroy();
}

/// `network.egress: endpoints`: no NAT gateway and no Elastic IP; the private subnets reach
/// ECR, Logs, SSM and Secrets Manager through interface endpoints (their group admits HTTPS
/// from the VPC only) and S3 through the gateway endpoint on their route tables, which have no
/// default route. A hand-made change is drift; switching to NAT and back changes the route
/// tables in place; a destroy leaves nothing.
#[test]
fn private_tasks_reach_aws_through_vpc_endpoints_without_nat() {
    let env = Env::new();
    let (stack, region) = ("it-vpce", "ap-southeast-2");
    let service = format!(
        "name: {stack}\nregion: {region}\nservice:\n  image: 123456789012.dkr.ecr.{region}.amazonaws.com/web:1\n  user: \"101\"\n  desired_count: 2\n  secrets:\n    API_KEY: ssm:/shop/api-key\n    DB: arn:aws:secretsmanager:{region}:123456789012:secret:shop/db-AbCdEf\n"
    );
    let spec = |egress: &str| {
        format!("{service}network:\n  egress: {egress}\n  endpoints: [sqs, dynamodb]\n")
    };
    let s = TestStack::new(&env, stack, region, &spec("endpoints"));
    let d = s.deploy();
    let inv = s.inventory();
    assert!(!inv.contains_key("aws_nat_gateway"), "{inv:?}");
    assert!(!inv.contains_key("aws_eip"), "{inv:?}");
    // What the tasks need, and what the application asked for (`network.endpoints`).
    let services = [
        "dynamodb",
        "ecr.api",
        "ecr.dkr",
        "logs",
        "s3",
        "secretsmanager",
        "sqs",
        "ssm",
    ];
    let mut names: Vec<String> = services.iter().map(|x| format!("{stack}-{x}")).collect();
    names.sort();
    assert_eq!(inv["aws_vpc_endpoint"], names);
    assert_eq!(d.plan.inventory_after(), inv, "the plan is what AWS has");

    let c = s.clients();
    let private_subnets: std::collections::BTreeSet<String> = s
        .subnets()
        .iter()
        .filter(|sn| {
            sn.tags()
                .iter()
                .any(|t| t.key() == Some("Name") && t.value().unwrap().contains("-private-"))
        })
        .map(|sn| sn.subnet_id().unwrap().to_string())
        .collect();
    assert_eq!(private_subnets.len(), 2);
    let tables = || {
        s.block_on(c.ec2.describe_route_tables().filters(tagged(stack)).send())
            .unwrap()
            .route_tables()
            .iter()
            .filter(|t| {
                t.tags()
                    .iter()
                    .any(|g| g.key() == Some("Name") && g.value().unwrap().contains("-private-"))
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let endpoints = || {
        s.block_on(c.ec2.describe_vpc_endpoints().filters(tagged(stack)).send())
            .unwrap()
            .vpc_endpoints()
            .iter()
            .filter(|e| e.state().map(|s| s.as_str()) != Some("deleted"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let private_tables: std::collections::BTreeSet<String> = tables()
        .iter()
        .map(|t| t.route_table_id().unwrap().to_string())
        .collect();
    assert_eq!(private_tables.len(), 2);
    let sg = s
        .security_groups()
        .into_iter()
        .find(|g| g.group_name() == Some(&format!("{stack}-endpoints")))
        .expect("the endpoints' security group");
    let ingress = sg.ip_permissions();
    assert_eq!(ingress.len(), 1, "{ingress:?}");
    assert_eq!(ingress[0].from_port(), Some(443));
    assert_eq!(ingress[0].ip_ranges()[0].cidr_ip(), Some("10.0.0.0/16"));
    assert!(sg.ip_permissions_egress().is_empty(), "{sg:?}");
    for e in endpoints() {
        let service = e.service_name().unwrap();
        let gateway = ["s3", "dynamodb"].map(|g| format!("com.amazonaws.{region}.{g}"));
        if gateway.iter().any(|g| g == service) {
            assert_eq!(e.vpc_endpoint_type().unwrap().as_str(), "Gateway");
            let rts: std::collections::BTreeSet<String> =
                e.route_table_ids().iter().cloned().collect();
            assert_eq!(rts, private_tables);
        } else {
            assert_eq!(e.vpc_endpoint_type().unwrap().as_str(), "Interface");
            let sns: std::collections::BTreeSet<String> = e.subnet_ids().iter().cloned().collect();
            assert_eq!(sns, private_subnets, "{service}");
            assert_eq!(e.groups()[0].group_id(), sg.group_id(), "{service}");
            assert_eq!(e.private_dns_enabled(), Some(true), "{service}");
        }
    }
    // No way to the internet: no default route, S3 through its gateway endpoint.
    for t in tables() {
        let routes = t.routes();
        assert!(
            !routes
                .iter()
                .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")),
            "{routes:?}"
        );
        assert!(
            routes
                .iter()
                .any(|r| r.gateway_id().is_some_and(|g| g.starts_with("vpce-"))),
            "{routes:?}"
        );
    }
    s.assert_converged();

    // An interface endpoint taken out of a subnet by hand is drift, and the deploy puts it back.
    let logs = endpoints()
        .into_iter()
        .find(|e| e.service_name() == Some(&format!("com.amazonaws.{region}.logs")))
        .unwrap();
    let one = private_subnets.iter().next().unwrap();
    s.block_on(
        c.ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(logs.vpc_endpoint_id().unwrap())
            .remove_subnet_ids(one)
            .send(),
    )
    .unwrap();
    let plan = s.plan_json();
    assert_eq!(
        plan.actions(),
        actions(&[("aws_vpc_endpoint.vpce.logs", "update")])
    );
    s.deploy();
    s.assert_converged();

    // To NAT: the endpoints go, NAT gateways come, the route tables get their default routes
    // in place; and back.
    s.set_yaml(&spec("nat"));
    let d = s.deploy();
    for (what, action) in d.plan.actions() {
        let in_place = action == "update" && what.starts_with("aws_route_table.");
        assert!(
            in_place || action == "create" || action == "delete",
            "{what}: {action}"
        );
    }
    // With NAT, the endpoints the application asked for stay (their traffic skips NAT).
    let inv = s.inventory();
    let asked: Vec<String> = ["dynamodb", "sqs"]
        .iter()
        .map(|x| format!("{stack}-{x}"))
        .collect();
    assert_eq!(inv["aws_vpc_endpoint"], asked, "{inv:?}");
    assert_eq!(inv["aws_nat_gateway"].len(), 2);
    for t in tables() {
        let nat = t
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .and_then(|r| r.nat_gateway_id());
        assert!(nat.is_some(), "{t:?}");
    }
    s.assert_converged();
    s.set_yaml(&spec("endpoints"));
    let d = s.deploy();
    for (what, action) in d.plan.actions() {
        let in_place = action == "update" && what.starts_with("aws_route_table.");
        assert!(
            in_place || action == "create" || action == "delete",
            "{what}: {action}"
        );
    }
    assert_eq!(s.inventory()["aws_vpc_endpoint"], names);
    for t in tables() {
        assert!(!t
            .routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")));
    }
    s.assert_converged();
    s.destroy();
}

/// `load_balancer.waf: baseline`: a web ACL of the stack's own (AWS managed rule groups and a
/// rate limit per client IP, metrics on every rule) protects the load balancer. A rule added
/// and the default action changed by hand are drift; a new rate limit is an update in place; a
/// web ACL of the user's (`waf_acl_arn`) takes over and the stack's goes; destroy leaves
/// nothing of the stack's (the user's ACL stays).
#[test]
fn waf_baseline_protects_the_load_balancer() {
    use aws_sdk_wafv2::types::{DefaultAction, Scope, VisibilityConfig};
    let env = Env::new();
    let (stack, region) = ("it-waf", "sa-east-1");
    let base = web_spec(stack, region, "");
    let spec = |waf: &str| format!("{base}load_balancer:\n  allow_http: true\n  {waf}\n");
    let s = TestStack::new(&env, stack, region, &spec("waf: baseline"));
    s.deploy();
    let name = format!("{stack}-baseline");
    assert_eq!(s.inventory()["aws_wafv2_web_acl"], vec![name.clone()]);
    let c = s.clients();
    let lb = s.load_balancer().load_balancer_arn().unwrap().to_string();
    let protecting = || {
        let r = s.block_on(c.wafv2.get_web_acl_for_resource().resource_arn(&lb).send());
        r.unwrap().web_acl().map(|a| a.arn().to_string())
    };
    let find = |n: &str| {
        let r = s.block_on(c.wafv2.list_web_acls().scope(Scope::Regional).send());
        let r = r.unwrap();
        let a = r.web_acls().iter().find(|a| a.name() == Some(n)).cloned();
        a.map(|a| (a.arn().unwrap().to_string(), a.id().unwrap().to_string()))
    };
    let get = |id: &str| {
        let r = c
            .wafv2
            .get_web_acl()
            .name(&name)
            .scope(Scope::Regional)
            .id(id);
        s.block_on(r.send()).unwrap()
    };
    let (arn, id) = find(&name).expect("the stack's web ACL");
    assert_eq!(protecting(), Some(arn.clone()));
    let got = get(&id);
    let acl = got.web_acl().unwrap();
    assert!(acl.default_action().unwrap().allow().is_some());
    let rules: Vec<(i32, &str)> = acl
        .rules()
        .iter()
        .map(|r| (r.priority(), r.name()))
        .collect();
    assert_eq!(
        rules,
        [
            (0, "aws-ip-reputation"),
            (1, "rate-limit-per-ip"),
            (2, "aws-common"),
            (3, "aws-known-bad-inputs")
        ]
    );
    let groups: Vec<&str> = acl
        .rules()
        .iter()
        .filter_map(|r| r.statement()?.managed_rule_group_statement())
        .map(|m| m.name())
        .collect();
    assert_eq!(
        groups,
        [
            "AWSManagedRulesAmazonIpReputationList",
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet"
        ]
    );
    let rate = acl.rules()[1]
        .statement()
        .unwrap()
        .rate_based_statement()
        .unwrap();
    assert_eq!(
        (rate.limit(), rate.aggregate_key_type().as_str()),
        (2000, "IP")
    );
    assert!(acl.rules()[1].action().unwrap().block().is_some());
    for r in acl.rules() {
        let v = r.visibility_config().unwrap();
        assert!(v.cloud_watch_metrics_enabled() && v.sampled_requests_enabled());
    }
    s.assert_converged();

    // By hand: a rule more and the default action to block. Drift, and the deploy undoes it.
    let mut more = acl.rules().to_vec();
    let mut extra = acl.rules()[0].clone();
    extra.name = "by-hand".into();
    extra.priority = 9;
    more.push(extra);
    s.block_on(
        c.wafv2
            .update_web_acl()
            .name(&name)
            .scope(Scope::Regional)
            .id(&id)
            .lock_token(got.lock_token().unwrap())
            .default_action(
                DefaultAction::builder()
                    .block(aws_sdk_wafv2::types::BlockAction::builder().build())
                    .build(),
            )
            .visibility_config(acl.visibility_config().unwrap().clone())
            .set_rules(Some(more))
            .send(),
    )
    .unwrap();
    let r = s.run("plan", &["--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    r.assert_stderr(&["default_action", "by-hand"]);
    s.deploy();
    let got = get(&id);
    assert_eq!(got.web_acl().unwrap().rules().len(), 4);
    assert!(got
        .web_acl()
        .unwrap()
        .default_action()
        .unwrap()
        .allow()
        .is_some());
    s.assert_converged();

    // A new rate limit: the same ACL, updated in place.
    s.set_yaml(&spec("waf: {rate_limit: 500}"));
    let d = s.deploy();
    assert_eq!(
        d.plan.actions(),
        actions(&[("aws_wafv2_web_acl.waf", "update")])
    );
    let got = get(&id);
    let rate = got.web_acl().unwrap().rules()[1].statement().unwrap();
    assert_eq!(rate.rate_based_statement().unwrap().limit(), 500);
    s.assert_converged();

    // A web ACL of the user's takes over; the stack's lets go of the load balancer and goes.
    let mine = s
        .block_on(
            c.wafv2
                .create_web_acl()
                .name("users-acl-for-it-waf")
                .scope(Scope::Regional)
                .default_action(
                    DefaultAction::builder()
                        .allow(aws_sdk_wafv2::types::AllowAction::builder().build())
                        .build(),
                )
                .visibility_config(
                    VisibilityConfig::builder()
                        .sampled_requests_enabled(false)
                        .cloud_watch_metrics_enabled(false)
                        .metric_name("users")
                        .build()
                        .unwrap(),
                )
                .send(),
        )
        .unwrap();
    let mine = mine.summary().unwrap();
    let mine_arn = mine.arn().unwrap().to_string();
    s.set_yaml(&spec(&format!("waf_acl_arn: {mine_arn}")));
    let d = s.deploy();
    assert_eq!(
        d.plan.actions(),
        actions(&[
            ("aws_lb.alb", "update"),
            ("aws_wafv2_web_acl.waf", "delete")
        ])
    );
    assert_eq!(protecting(), Some(mine_arn.clone()));
    assert!(find(&name).is_none(), "the stack's web ACL is gone");
    assert!(!s.inventory().contains_key("aws_wafv2_web_acl"));
    s.assert_converged();

    // Back to the baseline: a new ACL of the stack's protects the load balancer again.
    s.set_yaml(&spec("waf: baseline"));
    s.deploy();
    let (arn, _) = find(&name).expect("the stack's web ACL, made again");
    assert_eq!(protecting(), Some(arn));
    s.assert_converged();
    s.destroy();
    // The user's ACL is the user's: still there, protecting nothing.
    assert!(find("users-acl-for-it-waf").is_some());
    s.block_on(
        c.wafv2
            .delete_web_acl()
            .name("users-acl-for-it-waf")
            .scope(Scope::Regional)
            .id(mine.id().unwrap())
            .lock_token(mine.lock_token().unwrap())
            .send(),
    )
    .unwrap();
}
