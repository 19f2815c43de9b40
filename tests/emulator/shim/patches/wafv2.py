"""WAFv2 patches (V1-V4). The table in tests/emulator/README.md is written from these."""

from __future__ import annotations

from ..registry import patch


@patch(
    "V1", "wafv2",
    moto="DeleteWebACL deletes a web ACL that is still associated with a resource.",
    emulator=(
        "Refuses with WAFAssociatedItemException while the ACL protects anything, as AWS does."
    ),
)
@patch(
    "V2", "wafv2",
    moto=(
        "AssociateWebACL of a resource that another web ACL protects leaves it associated with "
        "both."
    ),
    emulator="Moves the resource to the new ACL (a resource has one web ACL).",
)
@patch(
    "V3", "wafv2",
    moto="ListResourcesForWebACL is not implemented.",
    emulator="Lists the ARNs of the resources the ACL protects.",
)
def web_acl_associations() -> None:
    import json

    from moto.core.exceptions import JsonRESTError
    from moto.wafv2.models import WAFV2Backend as Backend
    from moto.wafv2.responses import WAFV2Response as Response

    class AssociatedItem(JsonRESTError):
        code = 400

        def __init__(self) -> None:
            super().__init__(
                "WAFAssociatedItemException",
                "AWS WAF couldn’t perform the operation because your resource is being used by "
                "another resource or it’s associated with another resource.",
            )

    orig_delete = Backend.delete_web_acl

    def delete_web_acl(self, name, scope, _id, lock_token):
        """V1: an associated ACL is not deleted."""
        for acl in self.wacls.values():
            if acl.name == name and acl.id == _id and acl.associated_resources:
                raise AssociatedItem()
        return orig_delete(self, name, scope, _id, lock_token)

    orig_associate = Backend.associate_web_acl

    def associate_web_acl(self, web_acl_arn, resource_arn):
        """V2: the resource leaves the ACL it had."""
        if web_acl_arn in self.wacls:
            for acl in self.wacls.values():
                if resource_arn in acl.associated_resources:
                    acl.associated_resources.remove(resource_arn)
        return orig_associate(self, web_acl_arn, resource_arn)

    def list_resources_for_web_acl(self):
        """V3: the resources an ACL protects (ResourceType is not checked: moto keeps ARNs)."""
        from moto.wafv2.exceptions import WAFNonexistentItemException

        body = json.loads(self.body)
        acl = self.wafv2_backend.wacls.get(body["WebACLArn"])
        if acl is None:
            raise WAFNonexistentItemException()
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"ResourceArns": list(acl.associated_resources)})

    Backend.delete_web_acl = delete_web_acl
    Backend.associate_web_acl = associate_web_acl
    Response.list_resources_for_web_acl = list_resources_for_web_acl


@patch(
    "V4", "wafv2",
    moto="DeleteLoadBalancer leaves the deleted load balancer associated with its web ACL.",
    emulator="The association goes with the load balancer, as on AWS.",
)
def load_balancer_deletes_its_association() -> None:
    from moto.elbv2.models import ELBv2Backend
    from moto.wafv2.models import wafv2_backends

    orig = ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self, arn):
        """V4: no web ACL protects a load balancer that is gone."""
        result = orig(self, arn)
        backend = wafv2_backends[self.account_id][self.region_name]
        for acl in backend.wacls.values():
            if arn in acl.associated_resources:
                acl.associated_resources.remove(arn)
        return result

    ELBv2Backend.delete_load_balancer = delete_load_balancer
