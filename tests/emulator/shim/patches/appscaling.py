"""Application Auto Scaling patches (A1, A2). The table in tests/emulator/README.md is written
from these."""

from __future__ import annotations

import json

from ..registry import patch


@patch(
    "A1", "appscaling",
    moto=(
        "RegisterScalableTarget ignores `Tags`. ListTagsForResource/TagResource/UntagResource → "
        "HTTP 500 (not implemented)."
    ),
    emulator=(
        "Tags are kept per scalable target ARN. The three tag ops work. An unknown ARN → "
        "`ResourceNotFoundException`."
    ),
)
def scalable_target_tags() -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as R
    from moto.core.exceptions import JsonRESTError

    def tag_store(self) -> dict:
        backend = self.applicationautoscaling_backend
        if not hasattr(backend, "shim_tags"):
            backend.shim_tags = {}
        return backend.shim_tags

    def tags_for(self, arn: str) -> dict:
        backend = self.applicationautoscaling_backend
        if not any(t.arn == arn for d in backend.targets.values() for t in d.values()):
            raise JsonRESTError("ResourceNotFoundException", f"No scalable target found for {arn}")
        return tag_store(self).setdefault(arn, {})

    orig_register = R.register_scalable_target

    def register_scalable_target(self):
        """A1: Tags on RegisterScalableTarget are kept (moto ignores them)."""
        out = orig_register(self)
        tags_for(self, json.loads(out)["ScalableTargetARN"]).update(self._get_param("Tags") or {})
        return out

    def list_tags_for_resource(self):
        return json.dumps({"Tags": tags_for(self, self._get_param("ResourceARN"))})

    def tag_resource(self):
        tags_for(self, self._get_param("ResourceARN")).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self):
        tags = tags_for(self, self._get_param("ResourceARN"))
        for key in self._get_param("TagKeys") or []:
            tags.pop(key, None)
        return "{}"

    R.register_scalable_target = register_scalable_target
    R.list_tags_for_resource, R.tag_resource = list_tags_for_resource, tag_resource
    R.untag_resource = untag_resource


@patch(
    "A2", "appscaling",
    moto="DeregisterScalableTarget leaves the target's scaling policies.",
    emulator="They are deleted with it.",
)
def deregister_deletes_policies() -> None:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend as Backend

    orig_deregister = Backend.deregister_scalable_target

    def deregister_scalable_target(self, namespace, r_id, dimension):
        """A2: deregistering a scalable target deletes its scaling policies."""
        orig_deregister(self, namespace, r_id, dimension)
        for key, pol in list(self.policies.items()):
            if (pol.service_namespace, pol.resource_id, pol.scalable_dimension) == (
                    namespace, r_id, dimension):
                del self.policies[key]

    Backend.deregister_scalable_target = deregister_scalable_target
