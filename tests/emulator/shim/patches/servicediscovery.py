"""Cloud Map patches (D1-D3). The table in tests/emulator/README.md is written from these."""

from __future__ import annotations

from ..registry import patch


@patch(
    "D1", "servicediscovery",
    moto="ListNamespaces ignores `Filters`: every namespace of the region is listed.",
    emulator="`TYPE`, `NAME` and `HTTP_NAME` filters with `EQ` (and `BEGINS_WITH` for names) are honored.",
)
@patch(
    "D2", "servicediscovery",
    moto="DeleteNamespace deletes a namespace that still has services.",
    emulator="`ResourceInUse: Namespace has associated services; delete the services before deleting the namespace`.",
)
@patch(
    "D3", "servicediscovery",
    moto="CreateHttpNamespace makes a second namespace of a name that exists.",
    emulator=(
        "`NamespaceAlreadyExists`; the same `CreatorRequestId` again gets the first call's "
        "operation (an idempotent retry)."
    ),
)
def namespaces() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.servicediscovery import models
    from moto.servicediscovery.responses import ServiceDiscoveryResponse as R
    import json

    Backend = models.ServiceDiscoveryBackend

    def list_namespaces(self):
        """D1: the filters of the request."""
        params = json.loads(self.body or "{}")
        out = []
        for ns in self.servicediscovery_backend.list_namespaces():
            keep = True
            for f in params.get("Filters") or []:
                value = {"TYPE": ns.type, "NAME": ns.name,
                         "HTTP_NAME": (ns.http_properties or {}).get("HttpName")}.get(f.get("Name"))
                values = f.get("Values") or []
                if f.get("Condition", "EQ") == "BEGINS_WITH":
                    keep &= any(str(value or "").startswith(v) for v in values)
                else:
                    keep &= value in values
            if keep:
                out.append(ns.to_json())
        return 200, {}, json.dumps({"Namespaces": out})

    orig_delete = Backend.delete_namespace

    def delete_namespace(self, namespace_id):
        """D2: not while services are in it."""
        if any(s.namespace_id == namespace_id for s in self.services.values()):
            raise JsonRESTError(
                "ResourceInUse",
                "Namespace has associated services; delete the services before deleting the namespace")
        return orig_delete(self, namespace_id)

    orig_create = Backend.create_http_namespace

    def create_http_namespace(self, name, creator_request_id, description, tags):
        """D3: one namespace per name; a retry with the same request id is the same call."""
        for ns in self.namespaces.values():
            if ns.name != name:
                continue
            if creator_request_id and ns.creator_request_id == creator_request_id:
                for op_id, op in self.operations.items():
                    if op.targets.get("NAMESPACE") == ns.id:
                        return op_id
            raise JsonRESTError("NamespaceAlreadyExists", f"Namespace {name} already exists.")
        return orig_create(self, name, creator_request_id, description, tags)

    R.list_namespaces = list_namespaces
    Backend.delete_namespace = delete_namespace
    Backend.create_http_namespace = create_http_namespace
