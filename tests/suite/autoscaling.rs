//! Application Auto Scaling of the ECS service: scalable target, target tracking policies and
//! scheduled actions, deployed by the binary against the emulator and read back with the SDK.

use crate::common;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use common::{actions, total, web_inventory, web_spec, Env, Inventory, TestStack};

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

/// The web stack plus the scalable target of `SCALING`, its two policies and its schedule.
fn scaled_inventory(stack: &str, region: &str) -> Inventory {
    let mut inv = web_inventory(
        stack,
        region,
        &[&format!("{region}a"), &format!("{region}b")],
    );
    let rows = [
        ("aws_appautoscaling_target", vec![rid(stack)]),
        (
            "aws_appautoscaling_policy",
            vec![format!("{stack}-cpu"), format!("{stack}-requests")],
        ),
        (
            "aws_appautoscaling_scheduled_action",
            vec![format!("{stack}-morning")],
        ),
    ];
    for (kind, names) in rows {
        inv.insert(kind.into(), names);
    }
    inv
}

#[test]
fn autoscaling_deploys_updates_one_thing_at_a_time_and_destroys() {
    let env = Env::new();
    let (stack, region) = ("it-scale", "eu-west-2");
    let base = web_spec(stack, region, SCALING);
    let s = TestStack::new(&env, stack, region, &base);

    let want = scaled_inventory(stack, region);
    let d = s.deploy();
    assert_eq!(d.plan.inventory_after(), want);
    assert_eq!(d.plan.summary.add, total(&want));
    assert_eq!(d.plan.actions().len(), total(&want), "only additions");
    assert_eq!(s.inventory(), want);

    let targets = s.scalable_targets();
    assert_eq!(targets.len(), 1);
    let t = &targets[0];
    assert_eq!(
        t.scalable_dimension(),
        &ScalableDimension::EcsServiceDesiredCount
    );
    assert_eq!((t.min_capacity(), t.max_capacity()), (2, 6));
    let c = s.clients();
    let tags = c
        .appscaling
        .list_tags_for_resource()
        .resource_arn(t.scalable_target_arn().unwrap());
    let tags = env.rt.block_on(tags.send()).unwrap();
    let tags = tags.tags().unwrap();
    assert_eq!(tags.get("ballast:stack").map(String::as_str), Some(stack));
    assert_eq!(
        tags.get("ballast:resource").map(String::as_str),
        Some("scaling.target")
    );

    let lb = s.load_balancer();
    let tg = s.target_group();
    let (lb_arn, tg_arn) = (
        lb.load_balancer_arn().unwrap(),
        tg.target_group_arn().unwrap(),
    );
    let label = format!(
        "{}/targetgroup/{}",
        lb_arn.split_once(":loadbalancer/").unwrap().1,
        tg_arn.split_once(":targetgroup/").unwrap().1
    );
    assert!(label.starts_with("app/it-scale-alb/"), "{label}");

    let mut policies = s.scaling_policies();
    policies.sort_by(|a, b| a.policy_name().cmp(b.policy_name()));
    let names: Vec<&str> = policies.iter().map(|p| p.policy_name()).collect();
    assert_eq!(names, ["it-scale-cpu", "it-scale-requests"]);
    let targets = [
        (60.0, "ECSServiceAverageCPUUtilization", None),
        (500.0, "ALBRequestCountPerTarget", Some(label.as_str())),
    ];
    for (p, (value, metric, label)) in policies.iter().zip(targets) {
        assert_eq!(p.policy_type().as_str(), "TargetTrackingScaling");
        let cfg = p.target_tracking_scaling_policy_configuration().unwrap();
        assert_eq!(cfg.scale_in_cooldown(), Some(300));
        assert_eq!(cfg.scale_out_cooldown(), Some(60));
        assert_eq!(cfg.disable_scale_in(), Some(false));
        assert_eq!(cfg.target_value(), value);
        let m = cfg.predefined_metric_specification().unwrap();
        assert_eq!(m.predefined_metric_type().as_str(), metric);
        assert_eq!(m.resource_label(), label);
    }

    let actions_now = s.scheduled_actions();
    assert_eq!(actions_now.len(), 1);
    let a = &actions_now[0];
    assert_eq!(a.scheduled_action_name(), "it-scale-morning");
    assert_eq!(a.schedule(), "cron(0 8 ? * MON-FRI *)");
    assert_eq!(a.timezone(), Some("Europe/Berlin"));
    let action = a.scalable_target_action().unwrap();
    assert_eq!(action.min_capacity(), Some(4));
    assert_eq!(action.max_capacity(), None);

    // Second deploy: nothing to do, not a single write.
    s.assert_converged();

    // A new CPU target: one PutScalingPolicy.
    let cpu70 = base.replace("cpu: 60", "cpu: 70");
    s.set_yaml(&cpu70);
    let r = s.run("plan", &[]);
    let p = s.plan_json();
    assert_eq!(
        p.actions(),
        actions(&[("aws_appautoscaling_policy.scaling.cpu", "update")])
    );
    r.assert_stderr(&[
        "aws_appautoscaling_policy.scaling.cpu (it-scale-cpu) will be updated in place",
        &p.summary.plan_line(),
        "target_value = 60 -> 70",
    ]);
    assert_eq!(s.deploy_writes(), ["PutScalingPolicy"]);
    // moto ignores PolicyNames: pick the policy by name.
    let policies = s.scaling_policies();
    let cpu = policies.iter().find(|p| p.policy_name() == "it-scale-cpu");
    let cfg = cpu.unwrap().target_tracking_scaling_policy_configuration();
    assert_eq!(cfg.unwrap().target_value(), 70.0);

    // A new max: one RegisterScalableTarget.
    let max8 = cpu70.replace("max: 6", "max: 8");
    s.set_yaml(&max8);
    assert_eq!(s.deploy_writes(), ["RegisterScalableTarget"]);
    let t = &s.scalable_targets()[0];
    assert_eq!((t.min_capacity(), t.max_capacity()), (2, 8));

    // The schedule removed: one DeleteScheduledAction.
    let (head, _) = max8.split_once("    schedules:").unwrap();
    s.set_yaml(head);
    assert_eq!(s.deploy_writes(), ["DeleteScheduledAction"]);
    assert!(s.scheduled_actions().is_empty());
    // Settled after the changes.
    s.assert_converged();
    let mut want = want;
    want.remove("aws_appautoscaling_scheduled_action");
    assert_eq!(s.inventory(), want, "all but the schedule");

    // Destroy (it counts what the inventory has): nothing of Application Auto Scaling is left.
    s.destroy();
    assert!(s.scalable_targets().is_empty());
    assert!(s.scaling_policies().is_empty());
    // Second destroy: "Nothing to destroy".
    s.destroy();
}

#[test]
fn removing_autoscaling_deletes_policies_actions_and_target() {
    let env = Env::new();
    let (stack, region) = ("it-scale-off", "eu-west-3");
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
    let s = TestStack::new(&env, stack, region, &with);
    s.deploy();

    let p = s.scaling_policies();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].policy_name(), "it-scale-off-memory");
    let cfg = p[0].target_tracking_scaling_policy_configuration().unwrap();
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
    let a = &s.scheduled_actions()[0];
    assert_eq!(a.scheduled_action_name(), "it-scale-off-nightly");
    assert_eq!(a.schedule(), "cron(0 22 * * ? *)", "a bare cron is wrapped");
    assert_eq!(a.timezone(), Some("UTC"));
    let action = a.scalable_target_action().unwrap();
    assert_eq!(
        (action.min_capacity(), action.max_capacity()),
        (None, Some(2))
    );
    let ops = s.deploy_writes();
    assert!(ops.is_empty(), "second deploy wrote: {ops:?}");

    // The service deleted behind ballast's back: it is created again, and its scaling is
    // registered again (target replaced, policy and action put again).
    let c = s.clients();
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
    s.run("plan", &[]).assert_stderr(&[
        "aws_appautoscaling_target.scaling.target (service/it-scale-off/it-scale-off) must be replaced",
    ]);
    let ops = s.deploy_writes();
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
    // Converged after re-registering.
    s.assert_converged();
    assert_eq!(s.scaling_policies().len(), 1, "policy put again");

    // Autoscaling removed: the policy and the action go, then the target. The service's
    // minimum is now its desired count (2, not min 1): the running-tasks alarm and the
    // dashboard line that draws its threshold follow, and the CPU alarm's description no
    // longer speaks of autoscaling.
    let (without, _) = with.split_once("  autoscaling:").unwrap();
    s.set_yaml(without);
    let (mut watch, mut ops): (Vec<String>, Vec<String>) = s
        .deploy_writes()
        .into_iter()
        .partition(|o| o == "PutMetricAlarm" || o == "PutDashboard");
    watch.sort();
    assert_eq!(watch, ["PutDashboard", "PutMetricAlarm", "PutMetricAlarm"]);
    assert_eq!(ops.pop().as_deref(), Some("DeregisterScalableTarget"));
    ops.sort();
    assert_eq!(ops, ["DeleteScalingPolicy", "DeleteScheduledAction"]);
    assert!(s.scalable_targets().is_empty());
    assert!(s.scheduled_actions().is_empty());
    s.assert_converged();
    assert_eq!(
        s.inventory(),
        web_inventory(stack, region, &["eu-west-3a", "eu-west-3b"])
    );
    s.destroy();
}

#[test]
fn a_scalable_target_registered_by_someone_else_is_a_conflict() {
    let env = Env::new();
    let (stack, region) = ("it-scale-foreign", "eu-south-1");
    let plain = web_spec(stack, region, "");
    let s = TestStack::new(&env, stack, region, &plain);
    s.deploy();

    // Someone registers the service's desired count by hand, without our tags.
    let c = s.clients();
    let register = c.appscaling.register_scalable_target();
    let register = register.service_namespace(ServiceNamespace::Ecs);
    let register = register.resource_id(rid(stack));
    let register = register.scalable_dimension(ScalableDimension::EcsServiceDesiredCount);
    env.rt
        .block_on(register.min_capacity(1).max_capacity(3).send())
        .unwrap();

    s.set_yaml(&web_spec(
        stack,
        region,
        "  autoscaling:\n    min: 1\n    max: 4\n    cpu: 50\n",
    ));
    env.reset();
    let r = s.run("deploy", &["--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    r.assert_stderr(&["aws_appautoscaling_target.scaling.target"]);
    env.stats().assert_no_writes("a conflict");

    // Destroy leaves the foreign target alone (it is not in the stack's inventory).
    s.set_yaml(&plain);
    s.destroy();
    assert_eq!(s.scalable_targets().len(), 1, "not ours, not touched");
    env.rt.block_on(async {
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
