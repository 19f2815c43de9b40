"""EC2 patches (G1, G2). The table in tests/emulator/README.md is written from these."""

from __future__ import annotations

from ..registry import patch


@patch(
    "G1", "ec2",
    moto=(
        "DescribeLaunchTemplates answers the tags a launch template had when it was created: later "
        "CreateTags/DeleteTags on it are not seen."
    ),
    emulator="The template's current tags.",
)
def launch_template_tags() -> None:
    """G1: DescribeLaunchTemplates answers a template's live tags."""
    from moto.ec2.models.launch_templates import LaunchTemplate

    # moto copies the tags into the template when it is created and answers that copy, so
    # CreateTags/DeleteTags on a launch template later are never seen (AWS: they are).
    LaunchTemplate.tags = property(lambda self: self.get_tags(), lambda self, _value: None)


@patch(
    "G2", "ec2",
    moto=(
        "DeleteSecurityGroup deletes a group that network interfaces are in, or that another "
        "group's rules name."
    ),
    emulator=(
        "`DependencyViolation` (400) \"resource sg-… has a dependent object\", as on AWS, until no "
        "network interface is in it and no other group's ingress or egress rule names it. (moto's "
        "load balancers make no network interfaces, so a group only a load balancer uses can still "
        "be deleted.)"
    ),
)
def security_group_in_use() -> None:
    """G2: a security group in use cannot be deleted."""
    # G2: DeleteSecurityGroup deletes a group that network interfaces are in, or that another
    # group's rules name. AWS answers DependencyViolation (400) until they are gone.
    from moto.ec2.exceptions import DependencyViolationError

    def in_use(self, group_id: str) -> bool:
        if any(
            group_id in [g.id for g in eni.group_set] for eni in list(self.enis.values())
        ):
            return True
        for groups in list(self.groups.values()):
            for other in list(groups.values()):
                if other.id == group_id:
                    continue
                for rule in list(other.ingress_rules) + list(other.egress_rules):
                    if (rule.source_group or {}).get("GroupId") == group_id:
                        return True
        return False

    # Only the API call is checked: moto's own DeleteVpc deletes the VPC's default group through
    # the same backend method, and moto's DeleteAutoScalingGroup leaves its instances running
    # (AWS terminates them), which would hold that group for good.
    from moto.ec2.responses.security_groups import SecurityGroups

    delete_response = SecurityGroups.delete_security_group

    def checked_delete(self):
        key = self._get_param("GroupId") or self._get_param("GroupName")
        backend = self.ec2_backend
        group = backend.get_security_group_by_name_or_id(key) if key else None
        if group is not None and in_use(backend, group.id):
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
        return delete_response(self)

    SecurityGroups.delete_security_group = checked_delete
