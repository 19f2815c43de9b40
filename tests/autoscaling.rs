//! Application Auto Scaling of the ECS service: scalable target, target tracking policies and
//! scheduled actions, deployed by the binary against the emulator and read back with the SDK.

mod common;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use common::{assert_ok, web_spec, Env};

const SCALING: &str = "  autoscaling:
    min: 2
    max: 6
    cpu: 60
    requests_per_target: 500
    schedules:
      - name: morning
        cron: cron(0 8 ? * MON-FRI *)
        timezone: Europe/Berlin
        min: 4
";

fn rid(stack: &str) -> String {
    format!("service/{stack}/{stack}")
}

/// Deploy `spec` and return the write calls it made (empty without the shim).
fn deploy_writes(env: &Env, spec: &str, what: &str) -> Option<Vec<String>> {
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, what);
    env.stats().map(|s| s.write_ops)
}

#[test]
fn autoscaling_deploys_updates_one_thing_at_a_time_and_destroys() {
    let env = Env::new();
    let (stack, region) = ("it-scale", "eu-west-2");
    env.clean(stack, region);
    let base = web_spec(stack, region, SCALING);
    let spec_path = env.spec("web.yaml", &base);
    let spec = spec_path.to_str().unwrap();

    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "cold deploy");
    assert!(
        r.stderr
            .contains("Apply complete! 19 added, 0 changed, 0 replaced, 0 destroyed"),
        "{}",
        r.stderr
    );

    let c = env.clients(region);
    env.rt.block_on(async {
        let targets = c
            .appscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(rid(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(targets.scalable_targets().len(), 1);
        let t = &targets.scalable_targets()[0];
        assert_eq!(
            t.scalable_dimension(),
            &ScalableDimension::EcsServiceDesiredCount
        );
        assert_eq!((t.min_capacity(), t.max_capacity()), (2, 6));
        let tags = c
            .appscaling
            .list_tags_for_resource()
            .resource_arn(t.scalable_target_arn().unwrap())
            .send()
            .await
            .unwrap();
        let tags = tags.tags().unwrap();
        assert_eq!(tags.get("ballast:stack").map(String::as_str), Some(stack));
        assert_eq!(
            tags.get("ballast:resource").map(String::as_str),
            Some("scaling.target")
        );

        let lb = c
            .elbv2
            .describe_load_balancers()
            .names("it-scale-alb")
            .send()
            .await
            .unwrap();
        let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap();
        let tg = c
            .elbv2
            .describe_target_groups()
            .names("it-scale-tg")
            .send()
            .await
            .unwrap();
        let tg_arn = tg.target_groups()[0].target_group_arn().unwrap();
        let label = format!(
            "{}/targetgroup/{}",
            lb_arn.split_once(":loadbalancer/").unwrap().1,
            tg_arn.split_once(":targetgroup/").unwrap().1
        );
        assert!(label.starts_with("app/it-scale-alb/"), "{label}");

        let policies = c
            .appscaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .send()
            .await
            .unwrap();
        let mut policies: Vec<_> = policies.scaling_policies().to_vec();
        policies.sort_by(|a, b| a.policy_name().cmp(b.policy_name()));
        let names: Vec<&str> = policies.iter().map(|p| p.policy_name()).collect();
        assert_eq!(names, ["it-scale-cpu", "it-scale-requests"]);
        for p in &policies {
            assert_eq!(p.policy_type().as_str(), "TargetTrackingScaling");
            let cfg = p.target_tracking_scaling_policy_configuration().unwrap();
            assert_eq!(cfg.scale_in_cooldown(), Some(300));
            assert_eq!(cfg.scale_out_cooldown(), Some(60));
            assert_eq!(cfg.disable_scale_in(), Some(false));
        }
        let cpu = policies[0]
            .target_tracking_scaling_policy_configuration()
            .unwrap();
        assert_eq!(cpu.target_value(), 60.0);
        let m = cpu.predefined_metric_specification().unwrap();
        assert_eq!(
            m.predefined_metric_type().as_str(),
            "ECSServiceAverageCPUUtilization"
        );
        assert_eq!(m.resource_label(), None);
        let req = policies[1]
            .target_tracking_scaling_policy_configuration()
            .unwrap();
        assert_eq!(req.target_value(), 500.0);
        let m = req.predefined_metric_specification().unwrap();
        assert_eq!(
            m.predefined_metric_type().as_str(),
            "ALBRequestCountPerTarget"
        );
        assert_eq!(m.resource_label(), Some(label.as_str()));

        let actions = c
            .appscaling
            .describe_scheduled_actions()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(actions.scheduled_actions().len(), 1);
        let a = &actions.scheduled_actions()[0];
        assert_eq!(a.scheduled_action_name(), "it-scale-morning");
        assert_eq!(a.schedule(), "cron(0 8 ? * MON-FRI *)");
        assert_eq!(a.timezone(), Some("Europe/Berlin"));
        let action = a.scalable_target_action().unwrap();
        assert_eq!(action.min_capacity(), Some(4));
        assert_eq!(action.max_capacity(), None);
    });

    // Second deploy: nothing to do, not a single write.
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_ok(&r, "second deploy");
    assert!(r.stderr.contains("No changes."), "{}", r.stderr);
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "second deploy wrote: {:?}", s.write_ops);
    }
    let r = env.ballast(&["plan", spec, "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // A new CPU target: one PutScalingPolicy.
    let cpu70 = base.replace("cpu: 60", "cpu: 70");
    std::fs::write(spec, &cpu70).unwrap();
    let r = env.ballast(&["plan", spec]);
    assert!(
        r.stderr.contains(
            "aws_appautoscaling_policy.scaling.cpu (it-scale-cpu) will be updated in place"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy."),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("target_value = 60 -> 70"), "{}", r.stderr);
    if let Some(ops) = deploy_writes(&env, spec, "deploy cpu target") {
        assert_eq!(ops, ["PutScalingPolicy"]);
    }
    env.rt.block_on(async {
        let p = c
            .appscaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .send()
            .await
            .unwrap();
        // moto ignores PolicyNames: pick the policy by name.
        let cfg = p
            .scaling_policies()
            .iter()
            .find(|p| p.policy_name() == "it-scale-cpu")
            .unwrap()
            .target_tracking_scaling_policy_configuration()
            .unwrap();
        assert_eq!(cfg.target_value(), 70.0);
    });

    // A new max: one RegisterScalableTarget.
    let max8 = cpu70.replace("max: 6", "max: 8");
    std::fs::write(spec, &max8).unwrap();
    if let Some(ops) = deploy_writes(&env, spec, "deploy max") {
        assert_eq!(ops, ["RegisterScalableTarget"]);
    }
    env.rt.block_on(async {
        let t = c
            .appscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(rid(stack))
            .send()
            .await
            .unwrap();
        let t = &t.scalable_targets()[0];
        assert_eq!((t.min_capacity(), t.max_capacity()), (2, 8));
    });

    // The schedule removed: one DeleteScheduledAction.
    let (head, _) = max8.split_once("    schedules:").unwrap();
    std::fs::write(spec, head).unwrap();
    if let Some(ops) = deploy_writes(&env, spec, "deploy without schedule") {
        assert_eq!(ops, ["DeleteScheduledAction"]);
    }
    env.rt.block_on(async {
        let a = c
            .appscaling
            .describe_scheduled_actions()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .send()
            .await
            .unwrap();
        assert!(a.scheduled_actions().is_empty());
    });
    let r = env.ballast(&["plan", spec, "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "settled after the changes\n{}", r.stderr);

    // Destroy: nothing of Application Auto Scaling is left.
    let r = env.ballast(&["destroy", spec, "--yes"]);
    assert_ok(&r, "destroy");
    assert!(
        r.stderr.contains("Destroy complete! 18 destroyed"),
        "{}",
        r.stderr
    );
    env.rt.block_on(async {
        let t = c
            .appscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(rid(stack))
            .send()
            .await
            .unwrap();
        assert!(t.scalable_targets().is_empty());
        let p = c
            .appscaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .send()
            .await
            .unwrap();
        assert!(p.scaling_policies().is_empty());
    });
    env.reset();
    let r = env.ballast(&["destroy", spec, "--yes"]);
    assert_ok(&r, "second destroy");
    assert!(r.stderr.contains("Nothing to destroy"), "{}", r.stderr);
}

#[test]
fn removing_autoscaling_deletes_policies_actions_and_target() {
    let env = Env::new();
    let (stack, region) = ("it-scale-off", "eu-west-3");
    env.clean(stack, region);
    // Memory only, and a schedule without a time zone (UTC) that sets only a max.
    let scaling = "  autoscaling:
    min: 1
    max: 4
    memory: 75
    scale_in_cooldown: 120
    disable_scale_in: true
    schedules:
      - name: nightly
        cron: 0 22 * * ? *
        max: 2
";
    let with = web_spec(stack, region, scaling);
    let spec_path = env.spec("web.yaml", &with);
    let spec = spec_path.to_str().unwrap();
    assert_ok(&env.ballast(&["deploy", spec, "--yes"]), "deploy");

    let c = env.clients(region);
    env.rt.block_on(async {
        let p = c
            .appscaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(p.scaling_policies().len(), 1);
        assert_eq!(p.scaling_policies()[0].policy_name(), "it-scale-off-memory");
        let cfg = p.scaling_policies()[0]
            .target_tracking_scaling_policy_configuration()
            .unwrap();
        assert_eq!(
            cfg.predefined_metric_specification()
                .unwrap()
                .predefined_metric_type()
                .as_str(),
            "ECSServiceAverageMemoryUtilization"
        );
        assert_eq!(cfg.target_value(), 75.0);
        assert_eq!(cfg.scale_in_cooldown(), Some(120));
        assert_eq!(cfg.disable_scale_in(), Some(true));
        let a = c
            .appscaling
            .describe_scheduled_actions()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .send()
            .await
            .unwrap();
        let a = &a.scheduled_actions()[0];
        assert_eq!(a.scheduled_action_name(), "it-scale-off-nightly");
        assert_eq!(a.schedule(), "cron(0 22 * * ? *)", "a bare cron is wrapped");
        assert_eq!(a.timezone(), Some("UTC"));
        let action = a.scalable_target_action().unwrap();
        assert_eq!(
            (action.min_capacity(), action.max_capacity()),
            (None, Some(2))
        );
    });
    if let Some(ops) = deploy_writes(&env, spec, "second deploy") {
        assert!(ops.is_empty(), "second deploy wrote: {ops:?}");
    }

    // The service deleted behind ballast's back: it is created again, and its scaling is
    // registered again (target replaced, policy and action put again).
    env.rt.block_on(async {
        c.ecs
            .delete_service()
            .cluster(stack)
            .service(stack)
            .force(true)
            .send()
            .await
            .unwrap();
    });
    let r = env.ballast(&["plan", spec]);
    assert!(
        r.stderr.contains(
            "aws_appautoscaling_target.scaling.target (service/it-scale-off/it-scale-off) must be replaced"
        ),
        "{}",
        r.stderr
    );
    if let Some(ops) = deploy_writes(&env, spec, "deploy after the service was deleted") {
        let pos = |op: &str| ops.iter().position(|o| o == op);
        let order = [
            "DeregisterScalableTarget",
            "CreateService",
            "RegisterScalableTarget",
            "PutScalingPolicy",
        ];
        let at: Vec<_> = order.iter().map(|op| pos(op)).collect();
        assert!(at.iter().all(Option::is_some), "{ops:?}");
        assert!(at.windows(2).all(|w| w[0] < w[1]), "order: {ops:?}");
        assert!(
            pos("PutScheduledAction") > pos("RegisterScalableTarget"),
            "{ops:?}"
        );
    }
    let r = env.ballast(&["plan", spec, "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "converged after re-registering\n{}", r.stderr);
    env.rt.block_on(async {
        let p = c
            .appscaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(p.scaling_policies().len(), 1, "policy put again");
    });

    // Autoscaling removed: the policy and the action go, then the target.
    let (without, _) = with.split_once("  autoscaling:").unwrap();
    std::fs::write(spec, without).unwrap();
    if let Some(mut ops) = deploy_writes(&env, spec, "deploy without autoscaling") {
        assert_eq!(ops.pop().as_deref(), Some("DeregisterScalableTarget"));
        ops.sort();
        assert_eq!(ops, ["DeleteScalingPolicy", "DeleteScheduledAction"]);
    }
    env.rt.block_on(async {
        let t = c
            .appscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(rid(stack))
            .send()
            .await
            .unwrap();
        assert!(t.scalable_targets().is_empty());
        let a = c
            .appscaling
            .describe_scheduled_actions()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .send()
            .await
            .unwrap();
        assert!(a.scheduled_actions().is_empty());
    });
    let r = env.ballast(&["plan", spec, "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
}

#[test]
fn a_scalable_target_registered_by_someone_else_is_a_conflict() {
    let env = Env::new();
    let (stack, region) = ("it-scale-foreign", "eu-south-1");
    env.clean(stack, region);
    let plain = web_spec(stack, region, "");
    let spec_path = env.spec("web.yaml", &plain);
    let spec = spec_path.to_str().unwrap();
    assert_ok(&env.ballast(&["deploy", spec, "--yes"]), "deploy");

    // Someone registers the service's desired count by hand, without our tags.
    let c = env.clients(region);
    env.rt.block_on(async {
        c.appscaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(1)
            .max_capacity(3)
            .send()
            .await
            .unwrap();
    });

    std::fs::write(
        spec,
        web_spec(
            stack,
            region,
            "  autoscaling:\n    min: 1\n    max: 4\n    cpu: 50\n",
        ),
    )
    .unwrap();
    env.reset();
    let r = env.ballast(&["deploy", spec, "--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("aws_appautoscaling_target.scaling.target"),
        "{}",
        r.stderr
    );
    if let Some(s) = env.stats() {
        assert_eq!(s.writes, 0, "a conflict writes nothing: {:?}", s.write_ops);
    }

    // Destroy leaves the foreign target alone.
    std::fs::write(spec, &plain).unwrap();
    assert_ok(&env.ballast(&["destroy", spec, "--yes"]), "destroy");
    env.rt.block_on(async {
        let t = c
            .appscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(rid(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(t.scalable_targets().len(), 1, "not ours, not touched");
        c.appscaling
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(rid(stack))
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await
            .unwrap();
    });
}
