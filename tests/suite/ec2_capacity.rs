//! EC2 capacity: an Auto Scaling group behind an ECS capacity provider instead of Fargate.

use crate::common;

use aws_sdk_autoscaling::types::AutoScalingGroup;
use aws_sdk_ecs::types::CapacityProvider;
use common::{actions, rejects, total, web_inventory, web_spec, Env, TestStack};

/// The stack's Auto Scaling group(s) and capacity provider(s), by name.
fn asg_and_provider(s: &TestStack) -> (Vec<AutoScalingGroup>, Vec<CapacityProvider>) {
    let c = s.clients();
    let asgs = c.autoscaling.describe_auto_scaling_groups();
    let asgs = asgs.auto_scaling_group_names(format!("{}-ecs", s.name));
    let cps = c.ecs.describe_capacity_providers();
    let cps = cps.capacity_providers(format!("{}-ec2", s.name));
    s.block_on(async {
        (
            asgs.send().await.unwrap().auto_scaling_groups().to_vec(),
            cps.send().await.unwrap().capacity_providers().to_vec(),
        )
    })
}

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
    let s = TestStack::new(&env, stack, region, &spec(stack, region, "t3.small", 3));
    // The web stack, plus a launch template, an Auto Scaling group, a capacity provider and the
    // instances' role.
    let mut want = web_inventory(stack, region, &["me-south-1a", "me-south-1b"]);
    want.insert("aws_launch_template".into(), vec!["it-ec2-ecs".into()]);
    want.insert("aws_autoscaling_group".into(), vec!["it-ec2-ecs".into()]);
    want.insert(
        "aws_ecs_capacity_provider".into(),
        vec!["it-ec2-ec2".into()],
    );
    want.get_mut("aws_iam_role")
        .unwrap()
        .push("it-ec2-me-south-1-instance".into());
    let d = s.deploy();
    assert_eq!(d.plan.inventory_after(), want);
    assert_eq!(d.plan.summary.add, total(&want));
    assert_eq!(s.inventory(), want);

    let (asgs, cps) = asg_and_provider(&s);
    let asg = &asgs[0];
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
    let p = cps[0].auto_scaling_group_provider().unwrap();
    assert_eq!(
        p.auto_scaling_group_arn(),
        asg.auto_scaling_group_arn().unwrap()
    );
    assert_eq!(p.managed_scaling().unwrap().target_capacity(), Some(90));
    assert_eq!(
        p.managed_termination_protection().unwrap().as_str(),
        "ENABLED"
    );
    let svc = s.service();
    assert_eq!(
        svc.capacity_provider_strategy()[0].capacity_provider(),
        "it-ec2-ec2"
    );

    let mut providers = s.clusters()[0].capacity_providers().to_vec();
    providers.sort();
    assert_eq!(providers, ["FARGATE", "FARGATE_SPOT", "it-ec2-ec2"]);

    let c = s.clients();
    env.rt.block_on(async {
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
        // Hardened: IMDSv2 at one hop, tasks kept from the metadata service, no public IP,
        // an encrypted root volume.
        let v = c
            .ec2
            .describe_launch_template_versions()
            .launch_template_name("it-ec2-ecs")
            .versions("$Default")
            .send()
            .await
            .unwrap();
        let data = v.launch_template_versions()[0]
            .launch_template_data()
            .unwrap();
        let md = data.metadata_options().unwrap();
        assert_eq!(md.http_tokens().unwrap().as_str(), "required");
        assert_eq!(md.http_put_response_hop_limit(), Some(1));
        let user_data =
            String::from_utf8(aws_smithy_types::base64::decode(data.user_data().unwrap()).unwrap())
                .unwrap();
        assert!(
            user_data.contains("ECS_AWSVPC_BLOCK_IMDS=true"),
            "{user_data}"
        );
        assert_eq!(
            data.network_interfaces()[0].associate_public_ip_address(),
            Some(false)
        );
        let root = data
            .block_device_mappings()
            .iter()
            .find(|m| m.device_name() == Some("/dev/xvda"))
            .expect("the root volume's mapping");
        assert_eq!(root.ebs().unwrap().encrypted(), Some(true));
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

    s.assert_converged();

    // Bounds: one UpdateAutoScalingGroup. Instance type: a new launch template version.
    s.set_yaml(&spec(stack, region, "t3.medium", 5));
    let r = s.run("plan", &[]);
    let p = s.plan_json();
    assert_eq!(
        p.actions(),
        actions(&[
            ("aws_autoscaling_group.asg.ecs", "update"),
            ("aws_launch_template.lt.ecs", "update"),
        ])
    );
    r.assert_stderr(&[&p.summary.plan_line()]);
    let mut ops = s.deploy_writes();
    ops.sort();
    assert_eq!(
        ops,
        [
            "CreateLaunchTemplateVersion",
            "ModifyLaunchTemplate",
            "UpdateAutoScalingGroup"
        ]
    );
    s.assert_converged();

    s.destroy();
    let (asgs, cps) = asg_and_provider(&s);
    assert!(asgs.is_empty());
    assert!(cps
        .iter()
        .all(|p| p.status().map(|s| s.as_str()) != Some("ACTIVE")));
    env.rt.block_on(async {
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
    let both = format!(
        "{}  capacity:\n    spot_weight: 1\n",
        spec("it-ec2v", "us-east-1", "t3.small", 3)
    );
    rejects(&both, &["cannot both be set"]);

    let bad = spec("it-ec2v", "us-east-1", "large", 3).replace("max: 3", "max: 0");
    rejects(
        &bad,
        &[
            "`large` is not an EC2 instance type",
            "max 0 is out of range",
        ],
    );

    let public = spec("it-ec2v", "us-east-1", "t3.small", 3).replace(
        "desired_count: 2\n",
        "desired_count: 2\n  assign_public_ip: true\n",
    );
    rejects(&public, &["assign_public_ip: true does not work"]);
}

/// Named services, two on EC2 capacity of their own: each gets its own launch template, Auto
/// Scaling group, capacity provider and instance role, both providers join the one cluster
/// although they are created at once (PutClusterCapacityProviders replaces the whole list),
/// a redeploy writes nothing, and a destroy by name finds and removes every one.
#[test]
fn ec2_capacity_per_named_service() {
    let env = Env::new();
    let (stack, region) = ("it-ec2svc", "me-south-1");
    let yaml = format!(
        "name: {stack}\nregion: {region}\nservices:\n\
         \x20 web:\n    image: public.ecr.aws/nginx/nginx:1.27\n    route: {{path: /}}\n    cpu: 256\n    memory: 512\n\
         \x20   ec2_capacity: {{instance_type: t3.small, min: 1, max: 3}}\n\
         \x20 api:\n    image: public.ecr.aws/nginx/nginx:1.27\n    route: {{paths: [/api/*]}}\n\
         \x20   ec2_capacity: {{instance_type: t3.medium, min: 1, max: 5}}\n\
         \x20 worker:\n    image: public.ecr.aws/nginx/nginx:1.27\n    port: 9000\n    internal: true\n"
    );
    let s = TestStack::new(&env, stack, region, &yaml);
    let d = s.deploy();
    let inv = d.plan.inventory_after();
    for (kind, names) in [
        (
            "aws_launch_template",
            ["it-ec2svc-api-ecs", "it-ec2svc-web-ecs"],
        ),
        (
            "aws_autoscaling_group",
            ["it-ec2svc-api-ecs", "it-ec2svc-web-ecs"],
        ),
        (
            "aws_ecs_capacity_provider",
            ["it-ec2svc-api-ec2", "it-ec2svc-web-ec2"],
        ),
    ] {
        assert_eq!(inv[kind], names, "{kind}");
    }
    for role in [
        "it-ec2svc-api-me-south-1-instance",
        "it-ec2svc-web-me-south-1-instance",
    ] {
        assert!(inv["aws_iam_role"].iter().any(|r| r == role), "{role}");
    }
    assert_eq!(s.inventory(), inv);

    let mut providers = s.clusters()[0].capacity_providers().to_vec();
    providers.sort();
    assert_eq!(
        providers,
        [
            "FARGATE",
            "FARGATE_SPOT",
            "it-ec2svc-api-ec2",
            "it-ec2svc-web-ec2"
        ],
        "both providers joined the cluster"
    );
    for svc in s.services() {
        let strategy: Vec<&str> = svc
            .capacity_provider_strategy()
            .iter()
            .map(|i| i.capacity_provider())
            .collect();
        let want = match svc.service_name().unwrap() {
            "worker" => "FARGATE".to_string(),
            name => format!("{stack}-{name}-ec2"),
        };
        assert_eq!(strategy, [want.as_str()], "{:?}", svc.service_name());
    }
    let c = s.clients();
    let asgs = s.block_on(async {
        c.autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("it-ec2svc-api-ecs")
            .auto_scaling_group_names("it-ec2svc-web-ecs")
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()
            .to_vec()
    });
    let mut bounds: Vec<(&str, Option<i32>)> = asgs
        .iter()
        .map(|g| (g.auto_scaling_group_name().unwrap(), g.max_size()))
        .collect();
    bounds.sort();
    assert_eq!(
        bounds,
        [
            ("it-ec2svc-api-ecs", Some(5)),
            ("it-ec2svc-web-ecs", Some(3))
        ]
    );

    s.assert_converged();
    s.destroy_by_name();
}
