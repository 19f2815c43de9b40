//! EC2 capacity: an Auto Scaling group behind an ECS capacity provider instead of Fargate.

mod common;

use common::{assert_ok, web_spec, Env};

fn spec(stack: &str, region: &str, instance_type: &str, max: u32) -> String {
    format!(
        "{}  ec2_capacity:\n    instance_type: {instance_type}\n    min: 1\n    max: {max}\n    target_capacity: 90\n",
        web_spec(stack, region, "")
    )
}

#[test]
fn ec2_capacity_provider_deploys_updates_in_place_and_destroys() {
    let env = Env::new();
    let (stack, region) = ("it-ec2", "me-south-1");
    env.clean(stack, region);
    let path = env.spec("ec2.yaml", &spec(stack, region, "t3.small", 3));
    let path = path.to_str().unwrap();
    let r = env.ballast(&["deploy", path, "--yes"]);
    assert_ok(&r, "deploy");
    assert!(
        r.stderr.contains("Apply complete! 19 added"),
        "{}",
        r.stderr
    );

    let c = env.clients(region);
    env.rt.block_on(async {
        let asg = c
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("it-ec2-ecs")
            .send()
            .await
            .unwrap();
        let asg = &asg.auto_scaling_groups()[0];
        assert_eq!((asg.min_size(), asg.max_size()), (Some(1), Some(3)));
        assert_eq!(asg.new_instances_protected_from_scale_in(), Some(true));
        assert_eq!(
            asg.vpc_zone_identifier().unwrap().split(',').count(),
            2,
            "both AZs"
        );
        assert!(asg
            .tags()
            .iter()
            .any(|t| t.key() == Some("ballast:stack") && t.value() == Some(stack)));

        let cp = c
            .ecs
            .describe_capacity_providers()
            .capacity_providers("it-ec2-ec2")
            .send()
            .await
            .unwrap();
        let p = cp.capacity_providers()[0]
            .auto_scaling_group_provider()
            .unwrap();
        assert_eq!(
            p.auto_scaling_group_arn(),
            asg.auto_scaling_group_arn().unwrap()
        );
        assert_eq!(p.managed_scaling().unwrap().target_capacity(), Some(90));
        assert_eq!(
            p.managed_termination_protection().unwrap().as_str(),
            "ENABLED"
        );

        let cl = c
            .ecs
            .describe_clusters()
            .clusters(stack)
            .send()
            .await
            .unwrap();
        let mut providers = cl.clusters()[0].capacity_providers().to_vec();
        providers.sort();
        assert_eq!(providers, ["FARGATE", "FARGATE_SPOT", "it-ec2-ec2"]);

        let svc = c
            .ecs
            .describe_services()
            .cluster(stack)
            .services(stack)
            .send()
            .await
            .unwrap();
        let svc = &svc.services()[0];
        assert_eq!(
            svc.capacity_provider_strategy()[0].capacity_provider(),
            "it-ec2-ec2"
        );
        let td = c
            .ecs
            .describe_task_definition()
            .task_definition(svc.task_definition().unwrap())
            .send()
            .await
            .unwrap();
        assert!(td
            .task_definition()
            .unwrap()
            .requires_compatibilities()
            .iter()
            .any(|c| c.as_str() == "EC2"));

        let lt = c
            .ec2
            .describe_launch_templates()
            .launch_template_names("it-ec2-ecs")
            .send()
            .await
            .unwrap();
        assert_eq!(lt.launch_templates().len(), 1);
        let profile = c
            .iam
            .get_instance_profile()
            .instance_profile_name("it-ec2-me-south-1-instance")
            .send()
            .await
            .unwrap();
        assert_eq!(
            profile.instance_profile().unwrap().roles()[0].role_name(),
            "it-ec2-me-south-1-instance"
        );
    });

    env.reset();
    let r = env.ballast(&["deploy", path, "--yes"]);
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "{:?}", s.write_ops);
    }

    // Bounds: one UpdateAutoScalingGroup. Instance type: a new launch template version.
    std::fs::write(path, spec(stack, region, "t3.medium", 5)).unwrap();
    let r = env.ballast(&["plan", path]);
    assert!(
        r.stderr
            .contains("Plan: 0 to add, 2 to change, 0 to replace, 0 to destroy."),
        "{}",
        r.stderr
    );
    env.reset();
    assert_ok(&env.ballast(&["deploy", path, "--yes"]), "deploy changes");
    if let Some(s) = env.stats() {
        let mut ops = s.write_ops.clone();
        ops.sort();
        assert_eq!(
            ops,
            [
                "CreateLaunchTemplateVersion",
                "ModifyLaunchTemplate",
                "UpdateAutoScalingGroup"
            ]
        );
    }
    env.reset();
    let r = env.ballast(&["deploy", path, "--yes"]);
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);

    assert_ok(&env.ballast(&["destroy", path, "--yes"]), "destroy");
    env.rt.block_on(async {
        let asg = c
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("it-ec2-ecs")
            .send()
            .await
            .unwrap();
        assert!(asg.auto_scaling_groups().is_empty());
        let cp = c
            .ecs
            .describe_capacity_providers()
            .capacity_providers("it-ec2-ec2")
            .send()
            .await
            .unwrap();
        assert!(cp
            .capacity_providers()
            .iter()
            .all(|p| p.status().map(|s| s.as_str()) != Some("ACTIVE")));
        assert!(c
            .iam
            .get_instance_profile()
            .instance_profile_name("it-ec2-me-south-1-instance")
            .send()
            .await
            .is_err());
        let lt = c
            .ec2
            .describe_launch_templates()
            .launch_template_names("it-ec2-ecs")
            .send()
            .await;
        assert!(lt.map(|l| l.launch_templates().is_empty()).unwrap_or(true));
    });
}

#[test]
fn ec2_capacity_validation() {
    let env = Env::new();
    let both = format!(
        "{}  capacity:\n    spot_weight: 1\n",
        spec("it-ec2v", "us-east-1", "t3.small", 3)
    );
    let p = env.spec("both.yaml", &both);
    let r = env.ballast(&["validate", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot both be set"), "{}", r.stderr);

    let bad = spec("it-ec2v", "us-east-1", "large", 3).replace("max: 3", "max: 0");
    let p = env.spec("bad.yaml", &bad);
    let r = env.ballast(&["validate", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("`large` is not an EC2 instance type"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("max 0 is out of range"), "{}", r.stderr);

    let public = spec("it-ec2v", "us-east-1", "t3.small", 3).replace(
        "desired_count: 2\n",
        "desired_count: 2\n  assign_public_ip: true\n",
    );
    let p = env.spec("public.yaml", &public);
    let r = env.ballast(&["validate", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("assign_public_ip: true does not work"),
        "{}",
        r.stderr
    );
}
