//! End-to-end: the binary against the emulator, effects read back with the SDK.

mod common;

use aws_sdk_ec2::types::Filter;
use common::{assert_ok, web_spec, Env};

fn tagged(stack: &str) -> Filter {
    Filter::builder()
        .name("tag:ballast:stack")
        .values(stack)
        .build()
}

#[test]
fn deploy_is_idempotent_and_destroy_is_clean() {
    let env = Env::new();
    let (stack, region) = ("it-idem", "us-east-2");
    env.clean(stack, region);
    let spec = env.spec("web.yaml", &web_spec(stack, region, ""));
    let spec = spec.to_str().unwrap();

    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "cold deploy");
    assert!(
        r.stderr
            .contains("Apply complete! 15 added, 0 changed, 0 replaced, 0 destroyed"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("alb_dns_name"),
        "outputs are printed: {}",
        r.stderr
    );

    // Read AWS back.
    let c = env.clients(region);
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

        let subnets = c
            .ec2
            .describe_subnets()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap();
        let mut azs: Vec<_> = subnets
            .subnets()
            .iter()
            .map(|s| s.availability_zone().unwrap().to_string())
            .collect();
        azs.sort();
        assert_eq!(
            azs,
            ["us-east-2a", "us-east-2b"],
            "one subnet per AZ in two AZs"
        );
        assert!(subnets
            .subnets()
            .iter()
            .all(|s| s.vpc_id() == Some(vpc_id.as_str())));

        let igws = c
            .ec2
            .describe_internet_gateways()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(igws.internet_gateways().len(), 1);
        assert_eq!(
            igws.internet_gateways()[0].attachments()[0].vpc_id(),
            Some(vpc_id.as_str())
        );

        let rts = c
            .ec2
            .describe_route_tables()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(rts.route_tables().len(), 1);
        assert_eq!(rts.route_tables()[0].associations().len(), 2);

        let sgs = c
            .ec2
            .describe_security_groups()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(sgs.security_groups().len(), 2);
        let alb_sg = sgs
            .security_groups()
            .iter()
            .find(|g| g.group_name() == Some("it-idem-alb"))
            .unwrap();
        let svc_sg = sgs
            .security_groups()
            .iter()
            .find(|g| g.group_name() == Some("it-idem-service"))
            .unwrap();
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

        let lb = c
            .elbv2
            .describe_load_balancers()
            .names("it-idem-alb")
            .send()
            .await
            .unwrap();
        let lb = &lb.load_balancers()[0];
        assert_eq!(lb.scheme().unwrap().as_str(), "internet-facing");
        assert_eq!(lb.availability_zones().len(), 2);
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

        let tg = c
            .elbv2
            .describe_target_groups()
            .names("it-idem-tg")
            .send()
            .await
            .unwrap();
        let tg = &tg.target_groups()[0];
        assert_eq!(tg.target_type().unwrap().as_str(), "ip");
        assert_eq!(tg.health_check_path(), Some("/"));
        assert_eq!(tg.matcher().and_then(|m| m.http_code()), Some("200-399"));

        let listeners = c
            .elbv2
            .describe_listeners()
            .load_balancer_arn(lb.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(listeners.listeners().len(), 1);
        assert_eq!(listeners.listeners()[0].port(), Some(80));
        assert_eq!(
            listeners.listeners()[0].default_actions()[0].target_group_arn(),
            tg.target_group_arn()
        );

        let svc = c
            .ecs
            .describe_services()
            .cluster(stack)
            .services(stack)
            .send()
            .await
            .unwrap();
        let svc = &svc.services()[0];
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

        let role = c
            .iam
            .get_role()
            .role_name("it-idem-us-east-2-exec")
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
            .log_group_name_prefix("/ballast/it-idem")
            .send()
            .await
            .unwrap();
        assert_eq!(lg.log_groups()[0].retention_in_days(), Some(30));
    });

    // Second deploy: no changes and not a single write call.
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "second deploy");
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "second deploy wrote: {:?}", s.write_ops);
        assert!(s.total > 0);
    }

    let r = env.ballast(&["plan", spec, "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = env.ballast(&["plan", spec, "--output", "json"]);
    assert_ok(&r, "json plan");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is JSON only");
    assert_eq!(v["format_version"], "1.0");
    assert_eq!(v["has_changes"], false);
    let changes = v["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 15);
    assert!(changes.iter().all(|c| c["action"] == "no-op"));

    // Destroy, then destroy again: nothing left, no writes.
    let r = env.ballast(&["destroy", spec, "--yes"]);
    assert_ok(&r, "destroy");
    assert!(
        r.stderr.contains("Destroy complete! 15 destroyed"),
        "{}",
        r.stderr
    );
    env.rt.block_on(async {
        assert!(c
            .ec2
            .describe_vpcs()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap()
            .vpcs()
            .is_empty());
        assert!(c
            .ec2
            .describe_subnets()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap()
            .subnets()
            .is_empty());
        assert!(c
            .ec2
            .describe_security_groups()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap()
            .security_groups()
            .is_empty());
        assert!(c
            .elbv2
            .describe_load_balancers()
            .names("it-idem-alb")
            .send()
            .await
            .is_err());
        assert!(c
            .iam
            .get_role()
            .role_name("it-idem-us-east-2-exec")
            .send()
            .await
            .is_err());
        let cl = c
            .ecs
            .describe_clusters()
            .clusters(stack)
            .send()
            .await
            .unwrap();
        assert!(cl.clusters().iter().all(|c| c.status() == Some("INACTIVE")));
    });
    env.reset();
    let r = env.ballast(&["destroy", spec, "--yes"]);
    assert_ok(&r, "second destroy");
    assert!(r.stderr.contains("Nothing to destroy"), "{}", r.stderr);
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "second destroy wrote: {:?}", s.write_ops);
    }
}

#[test]
fn one_changed_attribute_is_one_update() {
    let env = Env::new();
    let (stack, region) = ("it-change", "us-west-1");
    env.clean(stack, region);
    let base = web_spec(stack, region, "");
    let spec = env.spec("web.yaml", &base);
    let spec = spec.to_str().unwrap();
    assert_ok(&env.ballast(&["deploy", spec, "--yes"]), "deploy");
    let c = env.clients(region);
    let (svc_arn, first_td) = env.rt.block_on(async {
        let s = c
            .ecs
            .describe_services()
            .cluster(stack)
            .services(stack)
            .send()
            .await
            .unwrap();
        (
            s.services()[0].service_arn().unwrap().to_string(),
            s.services()[0].task_definition().unwrap().to_string(),
        )
    });
    let revision = |arn: &str| arn.rsplit(':').next().unwrap().parse::<u32>().unwrap();

    // Health check path: one in-place update of the target group.
    std::fs::write(
        spec,
        format!("{base}load_balancer:\n  health_check:\n    path: /healthz\n"),
    )
    .unwrap();
    let r = env.ballast(&["plan", spec, "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "changes -> exit 2\n{}", r.stderr);
    insta::assert_snapshot!("plan_health_check_path", r.stderr);
    let r = env.ballast(&["plan", spec, "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let changed: Vec<&serde_json::Value> = v["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["address"], "aws_lb_target_group.tg");
    assert_eq!(changed[0]["action"], "update");
    assert_eq!(changed[0]["changed"][0]["key"], "health_check_path");
    assert_eq!(changed[0]["changed"][0]["before"], "/");
    assert_eq!(changed[0]["changed"][0]["after"], "/healthz");
    env.reset();
    assert_ok(
        &env.ballast(&["deploy", spec, "--yes"]),
        "deploy health check",
    );
    if let Some(s) = env.stats() {
        assert_eq!(s.write_ops, ["ModifyTargetGroup"]);
    }
    env.rt.block_on(async {
        let tg = c
            .elbv2
            .describe_target_groups()
            .names("it-change-tg")
            .send()
            .await
            .unwrap();
        assert_eq!(tg.target_groups()[0].health_check_path(), Some("/healthz"));
    });

    // Desired count: one UpdateService.
    let with_hc = std::fs::read_to_string(spec).unwrap();
    std::fs::write(
        spec,
        with_hc.replace("desired_count: 2", "desired_count: 3"),
    )
    .unwrap();
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "deploy desired count");
    assert!(
        r.stderr.contains("~ desired_count = 2 -> 3"),
        "{}",
        r.stderr
    );
    if let Some(s) = env.stats() {
        assert_eq!(s.write_ops, ["UpdateService"]);
    }

    // Image: a new task definition revision and an in-place service update, never a replace.
    let now = std::fs::read_to_string(spec).unwrap();
    std::fs::write(spec, now.replace("nginx:1.27", "nginx:1.28")).unwrap();
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "deploy image");
    assert!(
        r.stderr
            .contains("Plan: 0 to add, 2 to change, 0 to replace, 0 to destroy."),
        "{}",
        r.stderr
    );
    if let Some(s) = env.stats() {
        assert_eq!(s.write_ops, ["RegisterTaskDefinition", "UpdateService"]);
    }
    env.rt.block_on(async {
        let s = c
            .ecs
            .describe_services()
            .cluster(stack)
            .services(stack)
            .send()
            .await
            .unwrap();
        let s = &s.services()[0];
        assert_eq!(
            s.service_arn(),
            Some(svc_arn.as_str()),
            "same service, not a replacement"
        );
        let td = s.task_definition().unwrap();
        assert!(td.contains("task-definition/it-change:"), "{td}");
        assert_eq!(revision(td), revision(&first_td) + 1, "one new revision");
        assert_eq!(s.desired_count(), 3);
    });
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "{:?}", s.write_ops);
    }
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
}

#[test]
fn resources_removed_from_the_spec_are_destroyed() {
    let env = Env::new();
    let (stack, region) = ("it-shrink", "ap-southeast-1");
    env.clean(stack, region);
    let three = format!(
        "{}network:\n  create:\n    cidr: 10.8.0.0/16\n    subnets:\n      - {{az: ap-southeast-1a, cidr: 10.8.0.0/20}}\n      - {{az: ap-southeast-1b, cidr: 10.8.16.0/20}}\n      - {{az: ap-southeast-1c, cidr: 10.8.32.0/20}}\n",
        web_spec(stack, region, "")
    );
    let spec = env.spec("web.yaml", &three);
    let spec = spec.to_str().unwrap();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "deploy 3 AZs");
    assert!(r.stderr.contains("16 added"), "{}", r.stderr);

    let two = three
        .lines()
        .filter(|l| !l.contains("ap-southeast-1c"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(spec, two).unwrap();
    let r = env.ballast(&["plan", spec]);
    assert_ok(&r, "plan");
    assert!(
        r.stderr.contains(
            "aws_subnet.subnet.ap-southeast-1c (it-shrink-ap-southeast-1c) will be destroyed"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("no longer in the spec"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("0 to add, 3 to change, 0 to replace, 1 to destroy."),
        "{}",
        r.stderr
    );
    assert_ok(&env.ballast(&["deploy", spec, "--yes"]), "deploy 2 AZs");
    let c = env.clients(region);
    env.rt.block_on(async {
        let subnets = c
            .ec2
            .describe_subnets()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(subnets.subnets().len(), 2);
        let lb = c
            .elbv2
            .describe_load_balancers()
            .names("it-shrink-alb")
            .send()
            .await
            .unwrap();
        assert_eq!(lb.load_balancers()[0].availability_zones().len(), 2);
    });
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);
    assert_ok(
        &env.ballast(&["destroy", "--stack", stack, "--region", region, "--yes"]),
        "destroy by name",
    );
}

#[test]
fn foreign_lookalikes_are_never_adopted_changed_or_deleted() {
    let env = Env::new();
    let (stack, region) = ("it-foreign", "us-west-2");
    env.clean(stack, region);
    let c = env.clients(region);
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
    let spec = env.spec("web.yaml", &web_spec(stack, region, ""));
    let spec = spec.to_str().unwrap();
    env.reset();
    let r = env.ballast(&["plan", spec]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("aws_ecs_cluster.cluster already exists as"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("aws_cloudwatch_log_group.logs already exists as /ballast/it-foreign"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("never adopts, changes or deletes"),
        "{}",
        r.stderr
    );
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = env.ballast(&["destroy", spec, "--yes"]);
    assert_ok(&r, "destroy");
    assert!(r.stderr.contains("Nothing to destroy"), "{}", r.stderr);
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "look-alikes were touched: {:?}", s.write_ops);
    }
    env.rt.block_on(async {
        let cl = c
            .ecs
            .describe_clusters()
            .clusters(stack)
            .send()
            .await
            .unwrap();
        assert_eq!(cl.clusters()[0].status(), Some("ACTIVE"));
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
    let (stack, region) = ("it-kill", "eu-west-1");
    env.clean(stack, region);
    let spec = env.spec("web.yaml", &web_spec(stack, region, ""));
    let spec = spec.to_str().unwrap();

    // Kill a slow deploy part-way.
    env.set_delay(300);
    let mut child = env
        .command()
        .args(["deploy", spec, "--yes"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let finished_early = child.try_wait().unwrap().is_some();
    child.kill().ok();
    child.wait().unwrap();
    env.set_delay(0);
    assert!(
        !finished_early,
        "the deploy should still have been running when killed"
    );

    // A deploy whose service creation fails leaves the rest in place and says so.
    if env.shim {
        env.fault("CreateService", 1, 400, "InvalidParameterException");
        let r = env.ballast(&["deploy", spec, "--yes"]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("failed to create service it-kill"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("run deploy again to converge"),
            "{}",
            r.stderr
        );
    }
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "converging deploy");
    if let Some(s) = env.stats() {
        assert!(
            s.write_ops.contains(&"CreateService".to_string()),
            "{:?}",
            s.write_ops
        );
        assert!(
            !s.write_ops.contains(&"CreateVpc".to_string()),
            "no second VPC: {:?}",
            s.write_ops
        );
    }
    let c = env.clients(region);
    env.rt.block_on(async {
        assert_eq!(
            c.ec2
                .describe_vpcs()
                .filters(tagged(stack))
                .send()
                .await
                .unwrap()
                .vpcs()
                .len(),
            1
        );
        assert_eq!(
            c.ec2
                .describe_subnets()
                .filters(tagged(stack))
                .send()
                .await
                .unwrap()
                .subnets()
                .len(),
            2
        );
        assert_eq!(
            c.ec2
                .describe_internet_gateways()
                .filters(tagged(stack))
                .send()
                .await
                .unwrap()
                .internet_gateways()
                .len(),
            1
        );
        assert_eq!(
            c.ec2
                .describe_route_tables()
                .filters(tagged(stack))
                .send()
                .await
                .unwrap()
                .route_tables()
                .len(),
            1
        );
        assert_eq!(
            c.ec2
                .describe_security_groups()
                .filters(tagged(stack))
                .send()
                .await
                .unwrap()
                .security_groups()
                .len(),
            2
        );
        let svcs = c.ecs.list_services().cluster(stack).send().await.unwrap();
        assert_eq!(svcs.service_arns().len(), 1);
    });
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "{:?}", s.write_ops);
    }
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
}

#[test]
fn without_a_tty_and_without_yes_nothing_is_written() {
    let env = Env::new();
    let spec = env.spec("web.yaml", &web_spec("it-notty", "eu-central-1", ""));
    let r = env.ballast(&["deploy", spec.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("refusing to deploy without confirmation"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Plan: 15 to add"),
        "the plan is still shown: {}",
        r.stderr
    );
    // Every default is visible in the plan of a new stack.
    insta::assert_snapshot!("plan_create_web", r.stderr);
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "{:?}", s.write_ops);
    }
}

#[test]
fn existing_network_is_used_and_checked() {
    let env = Env::new();
    let (stack, region) = ("it-existing", "ap-northeast-1");
    env.clean(stack, region);
    let c = env.clients(region);
    let (vpc, a, b, a2) = env.rt.block_on(async {
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
        (vpc, a, b, a2)
    });
    let spec_for = |s1: &str, s2: &str| {
        format!(
            "{}network:\n  existing:\n    vpc_id: {vpc}\n    subnet_ids: [{s1}, {s2}]\n",
            web_spec(stack, region, "")
        )
    };
    let one_az = env.spec("one.yaml", &spec_for(&a, &a2));
    let r = env.ballast(&["plan", one_az.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("span 1 availability zone"),
        "{}",
        r.stderr
    );

    let two_az = env.spec("two.yaml", &spec_for(&a, &b));
    let r = env.ballast(&["deploy", two_az.to_str().unwrap(), "--yes"]);
    assert_ok(&r, "deploy into existing network");
    assert!(
        r.stderr.contains("10 added"),
        "no VPC, subnets, IGW or route table of its own: {}",
        r.stderr
    );
    env.rt.block_on(async {
        let lb = c
            .elbv2
            .describe_load_balancers()
            .names("it-existing-alb")
            .send()
            .await
            .unwrap();
        let mut subnets: Vec<_> = lb.load_balancers()[0]
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id())
            .map(str::to_string)
            .collect();
        subnets.sort();
        let mut want = vec![a.clone(), b.clone()];
        want.sort();
        assert_eq!(subnets, want);
    });
    assert_ok(
        &env.ballast(&["destroy", two_az.to_str().unwrap(), "--yes"]),
        "destroy",
    );
    env.rt.block_on(async {
        // The network was not ours: it is still there.
        let v = c.ec2.describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
        assert_eq!(v.vpcs().len(), 1);
    });
}

#[test]
fn throttling_is_retried_past_the_sdk_default_of_three_attempts() {
    let env = Env::new();
    if !env.shim {
        return; // fault injection needs the moto shim
    }
    let (stack, region) = ("it-throttle", "sa-east-1");
    env.clean(stack, region);
    let spec = env.spec("web.yaml", &web_spec(stack, region, ""));
    let spec = spec.to_str().unwrap();
    // Four throttled answers in a row: the SDK default (3 attempts) would give up.
    env.fault("CreateCluster", 4, 400, "ThrottlingException");
    env.fault("DescribeVpcs", 4, 400, "RequestLimitExceeded");
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "throttled deploy");
    let s = env.stats().unwrap();
    assert_eq!(
        s.write_ops.iter().filter(|o| *o == "CreateCluster").count(),
        5,
        "4 throttled + 1 accepted"
    );
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
}

#[test]
fn spot_mix_changes_update_the_service_in_place() {
    let env = Env::new();
    let (stack, region) = ("it-spot", "ca-central-1");
    env.clean(stack, region);
    let base = web_spec(stack, region, "");
    let spec = env.spec(
        "web.yaml",
        &format!("{base}  capacity:\n    base: 1\n    spot_weight: 1\n"),
    );
    let spec = spec.to_str().unwrap();
    assert_ok(&env.ballast(&["deploy", spec, "--yes"]), "deploy");
    let c = env.clients(region);
    let arn = env.rt.block_on(async {
        let s = c
            .ecs
            .describe_services()
            .cluster(stack)
            .services(stack)
            .send()
            .await
            .unwrap();
        let s = &s.services()[0];
        let mut mix: Vec<_> = s
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
        s.service_arn().unwrap().to_string()
    });

    std::fs::write(
        spec,
        format!("{base}  capacity:\n    base: 2\n    spot_weight: 3\n"),
    )
    .unwrap();
    let r = env.ballast(&["plan", spec]);
    assert_ok(&r, "plan");
    assert!(
        r.stderr
            .contains("aws_ecs_service.service (it-spot) will be updated in place"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("~ capacity_provider_strategy"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy."),
        "{}",
        r.stderr
    );
    env.reset();
    assert_ok(&env.ballast(&["deploy", spec, "--yes"]), "deploy new mix");
    if let Some(s) = env.stats() {
        assert_eq!(s.write_ops, ["UpdateService"]);
    }
    env.rt.block_on(async {
        let s = c
            .ecs
            .describe_services()
            .cluster(stack)
            .services(stack)
            .send()
            .await
            .unwrap();
        let s = &s.services()[0];
        assert_eq!(s.service_arn(), Some(arn.as_str()), "same service");
        let spot = s
            .capacity_provider_strategy()
            .iter()
            .find(|i| i.capacity_provider() == "FARGATE_SPOT")
            .unwrap();
        assert_eq!(spot.weight(), 3);
    });
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "{:?}", s.write_ops);
    }
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
}

#[test]
fn deploy_waits_for_its_rollout_and_exits_by_verdict() {
    let env = Env::new();
    if !env.shim {
        return; // rollout outcomes are chosen through the moto shim
    }
    let (stack, region) = ("it-verdict", "eu-north-1");
    env.clean(stack, region);
    let base = web_spec(stack, region, "");
    let spec = env.spec("web.yaml", &base);
    let spec = spec.to_str().unwrap();

    let r = env.ballast(&["deploy", spec, "--yes", "--poll-interval", "50ms"]);
    assert_ok(&r, "deploy");
    assert!(
        r.stderr.contains("Waiting for rollout ecs-svc/"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("completed: 2/2 tasks running"),
        "{}",
        r.stderr
    );

    // A rollout the circuit breaker rolls back: exit 3 with the reason.
    env.set_rollout(
        "FAILED",
        "ECS deployment circuit breaker: tasks failed to start.",
    );
    std::fs::write(spec, base.replace("nginx:1.27", "nginx:broken")).unwrap();
    let r = env.ballast(&["deploy", spec, "--yes", "--poll-interval", "50ms"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("was rolled back: ECS deployment circuit breaker: tasks failed to start."),
        "{}",
        r.stderr
    );

    // A rollout that never settles: exit 4 after --wait-timeout, and it says how to follow it.
    env.set_rollout("IN_PROGRESS", "");
    std::fs::write(spec, base.replace("nginx:1.27", "nginx:slow")).unwrap();
    let t = std::time::Instant::now();
    let r = env.ballast(&[
        "deploy",
        spec,
        "--yes",
        "--wait-timeout",
        "1s",
        "--poll-interval",
        "100ms",
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("timed out after 1s"), "{}", r.stderr);
    assert!(r.stderr.contains("ballast status"), "{}", r.stderr);
    assert!(t.elapsed() < std::time::Duration::from_secs(30));

    // --no-wait returns once the change is made.
    std::fs::write(spec, base.replace("nginx:1.27", "nginx:later")).unwrap();
    let r = env.ballast(&["deploy", spec, "--yes", "--no-wait"]);
    assert_ok(&r, "deploy --no-wait");
    assert!(!r.stderr.contains("Waiting for rollout"), "{}", r.stderr);

    env.set_rollout("COMPLETED", "");
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
}

#[test]
fn status_shows_tasks_rollout_and_healthy_targets_per_az() {
    let env = Env::new();
    let (stack, region) = ("it-status", "ap-south-1");
    env.clean(stack, region);
    let spec = env.spec("web.yaml", &web_spec(stack, region, ""));
    let spec = spec.to_str().unwrap();
    let r = env.ballast(&["status", spec]);
    assert_ok(&r, "status before deploy");
    assert!(r.stderr.contains("Service: not deployed"), "{}", r.stderr);
    assert_ok(&env.ballast(&["deploy", spec, "--yes"]), "deploy");

    // Register one task IP per AZ, as ECS would.
    let c = env.clients(region);
    env.rt.block_on(async {
        let tg = c
            .elbv2
            .describe_target_groups()
            .names("it-status-tg")
            .send()
            .await
            .unwrap();
        let arn = tg.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_string();
        let subnets = c
            .ec2
            .describe_subnets()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap();
        for sn in subnets.subnets() {
            let ip = sn.cidr_block().unwrap().replace(".0/20", ".10");
            c.elbv2
                .register_targets()
                .target_group_arn(&arn)
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
    let r = env.ballast(&["status", spec]);
    assert_ok(&r, "status");
    assert!(
        r.stderr
            .contains("tasks:            2/2 running, 0 pending"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("last deployment:  ecs-svc/"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("COMPLETED"), "{}", r.stderr);
    assert!(
        r.stderr.contains("scaling:          fixed desired count"),
        "{}",
        r.stderr
    );
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "status only reads: {:?}", s.write_ops);
    }
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
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
}

#[test]
fn every_example_stack_deploys_idempotently_and_destroys() {
    let env = Env::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/stacks");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3);
    for f in files {
        let path = f.to_str().unwrap();
        let r = env.ballast(&["destroy", path, "--yes"]);
        assert_ok(&r, "clean up");
        let r = env.ballast(&["deploy", path, "--yes"]);
        assert_ok(&r, path);
        env.reset();
        let r = env.ballast(&["deploy", path, "--yes"]);
        assert!(r.stderr.contains("No changes."), "{path}: {}", r.stderr);
        if let Some(s) = env.stats() {
            assert_eq!(s.writes, 0, "{path}: {:?}", s.write_ops);
        }
        assert_ok(&env.ballast(&["destroy", path, "--yes"]), "destroy");
    }
}

#[test]
fn deploys_never_fight_the_autoscaler() {
    let env = Env::new();
    let (stack, region) = ("it-drift", "eu-west-3");
    env.clean(stack, region);
    let spec = env.spec(
        "web.yaml",
        &web_spec(
            stack,
            region,
            "  autoscaling:\n    min: 2\n    max: 10\n    cpu: 50\n",
        ),
    );
    let spec = spec.to_str().unwrap();
    assert_ok(&env.ballast(&["deploy", spec, "--yes"]), "deploy");
    // The autoscaler scaled out.
    let c = env.clients(region);
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
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "deploy after scale-out");
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);
    assert!(
        r.stderr.contains("desired_count is 7 in AWS and is left alone: autoscaling owns the desired count (2..10)"),
        "{}",
        r.stderr
    );
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "{:?}", s.write_ops);
    }
    env.rt.block_on(async {
        let s = c
            .ecs
            .describe_services()
            .cluster(stack)
            .services(stack)
            .send()
            .await
            .unwrap();
        assert_eq!(s.services()[0].desired_count(), 7, "not reset");
    });
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
}

#[test]
fn replacing_a_target_group_replaces_what_holds_on_to_it() {
    let env = Env::new();
    let (stack, region) = ("it-port", "us-east-1");
    env.clean(stack, region);
    let base = web_spec(stack, region, "");
    let spec = env.spec("web.yaml", &base);
    let spec = spec.to_str().unwrap();
    assert_ok(&env.ballast(&["deploy", spec, "--yes"]), "deploy");

    // A new container port: the target group's port cannot change in place.
    std::fs::write(spec, format!("{base}  port: 8080\n")).unwrap();
    let r = env.ballast(&["plan", spec]);
    assert_ok(&r, "plan");
    for replaced in [
        "aws_lb_target_group.tg (it-port-tg) must be replaced",
        "aws_lb_listener.listener (it-port-alb:80) must be replaced",
        "aws_ecs_service.service (it-port) must be replaced",
    ] {
        assert!(r.stderr.contains(replaced), "{replaced}\n{}", r.stderr);
    }
    assert!(
        r.stderr
            .contains("~ port = 80 -> 8080 # forces replacement"),
        "{}",
        r.stderr
    );
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "deploy new port");
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);
    let c = env.clients(region);
    env.rt.block_on(async {
        let tg = c
            .elbv2
            .describe_target_groups()
            .names("it-port-tg")
            .send()
            .await
            .unwrap();
        assert_eq!(tg.target_groups()[0].port(), Some(8080));
        let svc = c
            .ecs
            .describe_services()
            .cluster(stack)
            .services(stack)
            .send()
            .await
            .unwrap();
        let active: Vec<_> = svc
            .services()
            .iter()
            .filter(|s| s.status() == Some("ACTIVE"))
            .collect();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].load_balancers()[0].container_port(), Some(8080));
    });
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
}

#[test]
fn a_certificate_makes_the_listener_https_with_a_redirect_from_http() {
    let env = Env::new();
    let (stack, region) = ("it-tls", "us-east-2");
    env.clean(stack, region);
    let conf = env.rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region))
            .endpoint_url(&env.endpoint)
            .load(),
    );
    let acm = aws_sdk_acm::Client::new(&conf);
    let cert = env.rt.block_on(async {
        let r = acm
            .request_certificate()
            .domain_name("it-tls.example.com")
            .send()
            .await
            .unwrap();
        r.certificate_arn().unwrap().to_string()
    });
    let spec = env.spec(
        "tls.yaml",
        &format!(
            "{}load_balancer:\n  certificate_arn: {cert}\n",
            web_spec(stack, region, "")
        ),
    );
    let spec = spec.to_str().unwrap();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "deploy https");
    let c = env.clients(region);
    env.rt.block_on(async {
        let lb = c
            .elbv2
            .describe_load_balancers()
            .names("it-tls-alb")
            .send()
            .await
            .unwrap();
        let arn = lb.load_balancers()[0].load_balancer_arn().unwrap();
        let ls = c
            .elbv2
            .describe_listeners()
            .load_balancer_arn(arn)
            .send()
            .await
            .unwrap();
        let https = ls
            .listeners()
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
            Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
        );
        let http = ls
            .listeners()
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
        let sg = c
            .ec2
            .describe_security_groups()
            .group_names("it-tls-alb")
            .send()
            .await;
        if let Ok(sg) = sg {
            let ports: Vec<_> = sg.security_groups()[0]
                .ip_permissions()
                .iter()
                .filter_map(|p| p.from_port())
                .collect();
            assert!(ports.contains(&80) && ports.contains(&443), "{ports:?}");
        }
    });
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "{:?}", s.write_ops);
    }
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
}

#[test]
fn ctrl_c_while_waiting_leaves_the_rollout_running_and_says_how_to_follow_it() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    if !env.shim {
        return;
    }
    let (stack, region) = ("it-sigint", "us-west-1");
    env.clean(stack, region);
    env.set_rollout("IN_PROGRESS", "");
    let spec = env.spec("web.yaml", &web_spec(stack, region, ""));
    let mut child = env
        .command()
        .args([
            "deploy",
            spec.to_str().unwrap(),
            "--yes",
            "--poll-interval",
            "100ms",
        ])
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
    while !seen.contains("Waiting for rollout") {
        let line = rx
            .recv_timeout(deadline - std::time::Instant::now())
            .expect("deploy starts waiting");
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
    let c = env.clients(region);
    env.rt.block_on(async {
        let s = c
            .ecs
            .describe_services()
            .cluster(stack)
            .services(stack)
            .send()
            .await
            .unwrap();
        let d = &s.services()[0].deployments()[0];
        assert_eq!(d.rollout_state().unwrap().as_str(), "IN_PROGRESS");
    });
    env.set_rollout("COMPLETED", "");
    assert_ok(
        &env.ballast(&["destroy", spec.to_str().unwrap(), "--yes"]),
        "destroy",
    );
}
