"""ELBv2 patches (L1-L3). The table in tests/emulator/README.md is written from these."""

from __future__ import annotations

from ..registry import patch


@patch(
    "L1", "elbv2",
    moto=(
        "CreateLoadBalancer with an existing name creates a second load balancer with the same "
        "name."
    ),
    emulator="Returns the existing one (real ELBv2 is idempotent for identical settings).",
)
def idempotent_create_load_balancer() -> None:
    from moto.elbv2.models import ELBv2Backend as Backend

    orig_create_lb = Backend.create_load_balancer

    def create_load_balancer(self, name, *args, **kwargs):
        """L1: CreateLoadBalancer with an existing name returns that load balancer."""
        for lb in self.load_balancers.values():
            if lb.name == name:
                return lb
        return orig_create_lb(self, name, *args, **kwargs)

    Backend.create_load_balancer = create_load_balancer


@patch(
    "L2", "elbv2",
    moto=(
        "`TargetGroup.LoadBalancerArns` only ever grows. It ignores ModifyListener and keeps "
        "deleted load balancers."
    ),
    emulator=(
        "Recomputed from current listeners and rules after each listener, rule or load balancer "
        "change."
    ),
)
def target_group_load_balancers() -> None:
    from moto.elbv2.models import ELBv2Backend as Backend

    def recompute_target_group_lbs(self) -> None:
        """L2: TargetGroup.LoadBalancerArns = load balancers whose listeners forward to it."""
        for tg in self.target_groups.values():
            tg.load_balancer_arns = [
                lb.arn for lb in self.load_balancers.values()
                if any(tg.arn in self._get_target_group_arns_from(action_data=a.data)
                       for listener in lb.listeners.values()
                       for rule in listener.rules.values() for a in rule.actions)
            ]

    def after(method):
        orig = getattr(Backend, method)

        def wrapped(self, *args, **kwargs):
            result = orig(self, *args, **kwargs)
            recompute_target_group_lbs(self)
            return result
        setattr(Backend, method, wrapped)

    for method in ("create_listener", "modify_listener", "delete_listener", "create_rule",
                   "modify_rule", "delete_rule", "delete_load_balancer"):
        after(method)


@patch(
    "L3", "elbv2",
    moto=(
        "DescribeTargetGroups(LoadBalancerArn=...) for a load balancer without target groups → "
        "`TargetGroupNotFound`."
    ),
    emulator="`[]`.",
)
def target_groups_of_a_load_balancer() -> None:
    from moto.elbv2.models import ELBv2Backend as Backend

    orig_describe_tgs = Backend.describe_target_groups

    def describe_target_groups(self, load_balancer_arn, *args, **kwargs):
        """L3: a load balancer without target groups yields an empty list, not an error."""
        if load_balancer_arn and load_balancer_arn in self.load_balancers and not any(
                load_balancer_arn in tg.load_balancer_arns for tg in self.target_groups.values()):
            return []
        return orig_describe_tgs(self, load_balancer_arn, *args, **kwargs)

    Backend.describe_target_groups = describe_target_groups
