#!/usr/bin/env python3
"""AWS emulator for ballast's integration tests: moto server 5.2.5 + a small shim.

Usage: python tests/emulator/server.py --port PORT [--delay-ms N]

The shim (the package tests/emulator/shim/) is a WSGI middleware in front of moto's server app.
It
  * counts every AWS API call (service, operation, read/write),
  * can sleep N ms before each AWS call (simulated latency for benchmarks),
  * can make the next K calls of an operation fail with a chosen error,
and exposes this under /_shim/ (see tests/emulator/README.md):

  GET  /_shim/health   -> 200 "ok"
  GET  /_shim/patches  -> [{"id", "service", "moto", "emulator"}]: the fidelity patches below
  GET  /_shim/stats    -> {"total", "writes", "reads", "calls": [{"service", "op", "write"}]}
  POST /_shim/reset    -> zero the counters
  GET|POST /_shim/delay  {"ms": N}
  POST /_shim/faults   {"op", "count", "status", "code", "message"[, "service"]}
  POST /_shim/throttle {"rate": r, "seed": n} -> each AWS call throttled with probability r
       in its service's error shape; GET -> {"rate", "throttled"}; DELETE -> off
  POST /_shim/freeze   {"after_writes": k} -> k writes pass, then every call hangs;
  GET /_shim/freeze -> {"after_writes", "passed", "frozen", "waiting"};
  DELETE /_shim/freeze -> the hung calls get 503 without reaching moto (a kill after write k)
  GET /_shim/faults    -> pending faults;  DELETE /_shim/faults -> clear them
  POST /_shim/sns/confirm {"endpoint"[, "topic_arn"]} -> confirm pending SNS subscriptions
  POST /_shim/route53/health/<id> {"healthy": bool}, DELETE, GET -> force a Route 53 health
       check's endpoint unhealthy (R2)
  POST|GET|DELETE /_shim/consistency -> consistency mode: first uses of new ids fail, listings
       lag, deletes conflict, as on AWS while resources propagate (consistency.py)

SCOPES: every call is counted, delayed, faulted, throttled, frozen and given its consistency
mode and ECS rollout outcome in the scope of the access key id it is signed with, and every
/_shim/ call acts on the scope its `X-Shim-Scope: <access key id>` header names (created by
the first such call; no header: the default scope, which also holds every call of a key no
/_shim/ call named). Each test signs with a key of its own, so tests share one emulator and
run at once. The Route 53 forced health (by check id) and SNS confirmations (by endpoint) are
not scoped.

It also serves CloudWatch over Smithy RPC v2 CBOR (the protocol of aws-sdk-cloudwatch), which
moto lacks: CborToJson (shim/cbor.py) translates those calls to moto's awsJson1_0 and the
answers back.

FIDELITY PATCHES -- where moto 5.2.5 differs from real AWS in ways ballast relies on -- are
small wrappers around moto methods, one module per service in shim/patches/, each registered
once with its id (E1, G1, ...) and its two texts by @patch (shim/registry.py), and all applied at
startup by registry.apply_all(). The list: GET /_shim/patches, or the table under "Fidelity
patches" in tests/emulator/README.md, which shim/catalog.py writes from the registry.
Opt-in, off by default: /_shim/consistency (consistency.py) adds AWS's propagation delays.

SPEED-UPS (shim/speedups.py, installed after the patches) cache what moto recomputes on every
request though it cannot change while the server runs (its package listing, each host's
backend, each response class's methods, the error-shape tables, EC2 filter patterns): less CPU
per call, no behaviour change.
"""

from __future__ import annotations

import argparse
import os
import sys

# Must be set before moto is imported: makes AWS managed policies (e.g.
# AmazonECSTaskExecutionRolePolicy) exist in IAM.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

from werkzeug.serving import run_simple  # noqa: E402

from moto.server import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

from shim import registry, speedups  # noqa: E402
from shim.cbor import CborToJson  # noqa: E402
from shim.middleware import Shim  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing to bind a non-loopback address")
    os.environ.setdefault("MOTO_PORT", str(args.port))

    registry.apply_all()
    speedups.apply_all()  # caches of what moto recomputes per request; no answer changes
    app = Shim(CborToJson(DomainDispatcherApplication(create_backend_app)), delay_ms=args.delay_ms)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
