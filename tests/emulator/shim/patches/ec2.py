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


@patch(
    "G3", "ec2",
    moto=(
        "DescribeNatGateways ignores tag filters (`tag:<key>`, `tag-key`): it answers every "
        "gateway of the region."
    ),
    emulator="Tag filters select gateways as on every other EC2 Describe call.",
)
def nat_gateway_tag_filters() -> None:
    """G3: DescribeNatGateways honours tag filters."""
    from moto.ec2.models.nat_gateways import NatGatewayBackend

    describe = NatGatewayBackend.describe_nat_gateways

    def filtered(self, filters, nat_gateway_ids):
        found = describe(self, filters, nat_gateway_ids)
        for name, values in (filters or {}).items():
            if name.startswith("tag:"):
                key = name[len("tag:"):]
                found = [g for g in found if g.get_tags() and any(
                    t["key"] == key and t["value"] in values for t in g.get_tags())]
            elif name == "tag-key":
                found = [g for g in found if any(t["key"] in values for t in g.get_tags())]
        return found

    NatGatewayBackend.describe_nat_gateways = filtered


@patch(
    "G4", "ec2",
    moto=(
        "DeleteNatGateway marks the gateway `deleted` at once and keeps its Elastic IP "
        "associated and its network interface; ReleaseAddress then releases the address, and "
        "DeleteSubnet deletes its subnet, while a gateway holds them."
    ),
    emulator=(
        "As on AWS, a deleted gateway is `deleting` first: the first DescribeNatGateways after "
        "the delete that lists it says `deleting`, the next ones `deleted`, and only then are its "
        "address and network interface freed. Until then ReleaseAddress of its address answers "
        "`AuthFailure` (400) \"You do not have permission to access the specified resource.\", "
        "AWS's answer, and DeleteSubnet of its subnet `DependencyViolation`."
    ),
)
def nat_gateway_deletion() -> None:
    """G4: a NAT gateway takes a while to delete and holds its address and subnet until then."""
    from moto.ec2.exceptions import DependencyViolationError, EC2ClientError
    from moto.ec2.models.nat_gateways import NatGatewayBackend
    from moto.ec2.responses.elastic_ip_addresses import ElasticIPAddresses
    from moto.ec2.responses.subnets import Subnets

    delete = NatGatewayBackend.delete_nat_gateway
    describe = NatGatewayBackend.describe_nat_gateways

    def deleting(self, nat_gateway_id):
        gw = self.nat_gateways.get(nat_gateway_id)
        if gw is None or gw.state in ("deleting", "deleted"):
            return delete(self, nat_gateway_id) if gw is not None else gw
        gw.state = "deleting"
        gw._shown_deleting = False
        return gw

    def finish(self, gw) -> None:
        gw.state = "deleted"
        for a in gw.address_set:
            if a.get("allocationId"):
                for eip in self.address_by_allocation([a["allocationId"]]):
                    if eip.association_id:
                        self.disassociate_address(association_id=eip.association_id)
        try:
            self.delete_network_interface(gw._eni.id)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def described(self, filters, nat_gateway_ids):
        found = describe(self, filters, nat_gateway_ids)
        for gw in found:
            if gw.state == "deleting":
                if gw._shown_deleting:
                    finish(self, gw)
                else:
                    gw._shown_deleting = True
        return found

    def holders(backend, pred):
        return [g for g in backend.nat_gateways.values()
                if g.state != "deleted" and pred(g)]

    release = ElasticIPAddresses.release_address

    def checked_release(self):
        alloc = self._get_param("AllocationId")
        if alloc and holders(self.ec2_backend, lambda g: any(
                a.get("allocationId") == alloc for a in g.address_set)):
            raise EC2ClientError(
                "AuthFailure", "You do not have permission to access the specified resource.")
        return release(self)

    delete_subnet = Subnets.delete_subnet

    def checked_delete_subnet(self):
        sid = self._get_param("SubnetId")
        if holders(self.ec2_backend, lambda g: g.subnet_id == sid):
            raise DependencyViolationError(
                f"The subnet '{sid}' has dependencies and cannot be deleted.")
        return delete_subnet(self)

    NatGatewayBackend.delete_nat_gateway = deleting
    NatGatewayBackend.describe_nat_gateways = described
    ElasticIPAddresses.release_address = checked_release
    Subnets.delete_subnet = checked_delete_subnet


@patch(
    "G5", "ec2",
    moto=(
        "An instance launched with a block device mapping that has neither `VolumeSize` nor "
        "`SnapshotId` (a launch template that only encrypts the AMI's root volume) fails: "
        "`MissingParameter` size/snapshot."
    ),
    emulator=(
        "The volume takes the size of the AMI's root snapshot, as on AWS: 30 GiB, the "
        "ECS-optimized Amazon Linux 2023 AMI's (moto's AMIs have no snapshot sizes)."
    ),
)
def block_device_size_from_the_ami() -> None:
    """G5: a block device mapping without a size takes the AMI's."""
    from moto.ec2.models.instances import Instance

    add = Instance.add_block_device

    def sized(self, size, device_path, snapshot_id, encrypted, delete_on_termination,
              kms_key_id, volume_type):
        if size is None and snapshot_id is None:
            size = 30
        return add(self, size, device_path, snapshot_id, encrypted, delete_on_termination,
                   kms_key_id, volume_type)

    Instance.add_block_device = sized
