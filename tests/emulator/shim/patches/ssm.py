"""SSM patch (M1). The table in tests/emulator/README.md is written from it."""

from __future__ import annotations

import threading

from ..registry import patch


@patch(
    "M1", "ssm",
    moto=(
        "SSM PutParameter checks whether the parameter exists and stores the new version in two "
        "steps, with no lock: two concurrent creates with `Overwrite=false` (server threads) can "
        "both succeed."
    ),
    emulator=(
        "PutParameter and DeleteParameter run under one lock, so the conditional create is atomic "
        "as on AWS: exactly one of concurrent creates wins, the others get "
        "`ParameterAlreadyExists` (400). SSM is served as moto serves it otherwise (JSON protocol, "
        "`X-Amz-Target: AmazonSSM.<Op>`; PutParameter/DeleteParameter count as writes, "
        "GetParameter as a read). ballast's stack lock (`/ballast/locks/<stack>`) depends on it."
    ),
)
def atomic_parameters() -> None:
    from moto.ssm.models import SimpleSystemManagerBackend as Backend

    # One lock for every account and region: moto's PutParameter checks "exists" and appends
    # the new version in two steps, so two concurrent creates with Overwrite=false could both
    # succeed. SSM's conditional create is atomic: exactly one wins, the other gets
    # ParameterAlreadyExists (ballast's stack lock depends on it).
    ssm_lock = threading.Lock()
    orig_put, orig_delete = Backend.put_parameter, Backend.delete_parameter

    def put_parameter(self, *args, **kwargs):
        """M1: PutParameter and DeleteParameter are atomic."""
        with ssm_lock:
            return orig_put(self, *args, **kwargs)

    def delete_parameter(self, *args, **kwargs):
        with ssm_lock:
            return orig_delete(self, *args, **kwargs)

    Backend.put_parameter, Backend.delete_parameter = put_parameter, delete_parameter
