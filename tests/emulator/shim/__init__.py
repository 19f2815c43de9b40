"""The emulator shim in front of moto server 5.2.5 (tests/emulator/server.py runs it).

  middleware.py  Shim: call counting, latency, faults, the /_shim/ control endpoints
  cbor.py        CborToJson: CloudWatch over Smithy RPC v2 CBOR <-> moto's awsJson1_0
  wsgi.py        request/response helpers of both
  registry.py    the fidelity patches: @patch(id, service, moto=..., emulator=...), apply_all()
  patches/       one module per service, each patch registered once next to its code
  speedups.py    caches of what moto recomputes per request (no behaviour change), apply_all()
  catalog.py     writes (or --check's) the patch table of tests/emulator/README.md

Importing the package starts nothing and imports no moto: the patches (and speed-ups) import moto
when applied.
The shim also imports calls.py and consistency.py from tests/emulator/ (shared with proxy.py),
so tests/emulator/ must be on sys.path (it is for server.py and catalog.py).
"""
