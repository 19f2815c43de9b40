#!/usr/bin/env python3
"""Counting proxy in front of LocalStack, for ballast's LocalStack test set.

Usage: python tests/emulator/proxy.py --port 4567 --upstream http://127.0.0.1:4566

Forwards every request to LocalStack unchanged and counts the AWS calls exactly as the
moto shim does (tests/emulator/calls.py), with the same control endpoints:

  GET  /_shim/health   -> 200 "ok" while LocalStack answers its health check, else 502
  GET  /_shim/stats    -> {"total", "writes", "reads", "calls": [{"service", "op", "write"}]}
  POST /_shim/reset    -> zero the counters

Delay, faults and rollout control are moto-shim features: here they answer 404.
Requests under /_localstack/ (LocalStack's own API) are forwarded but not counted.
Standard library only; binds and forwards to loopback addresses only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from calls import CallLog, identify

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Not forwarded either way (RFC 9110 7.6.1), plus the framing headers we set ourselves.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "expect", "content-length",
}
UPSTREAM_TIMEOUT_S = 120


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for the SDKs' connection pools
    server_version = "ballast-localstack-proxy"
    log = CallLog()
    upstream: tuple[str, int] = ("127.0.0.1", 4566)

    def do_request(self) -> None:
        path, _, query = self.path.partition("?")
        body = self.read_body()
        if path.startswith("/_shim/"):
            return self.control(path[len("/_shim/"):].strip("/"))
        if not path.startswith("/_localstack/"):
            service, op = identify(
                lambda name: self.headers.get(name, ""), self.command, path, query, body
            )
            self.log.record(service, op)
        self.forward(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_request

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def forward(self, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(*self.upstream, timeout=UPSTREAM_TIMEOUT_S)
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            return self.reply(502, f"proxy: LocalStack at {self.upstream_url()} failed: {e}")
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def control(self, name: str) -> None:
        if name == "health" and self.command == "GET":
            if upstream_healthy(self.upstream):
                return self.reply(200, "ok")
            return self.reply(502, f"LocalStack at {self.upstream_url()} is not healthy")
        if name == "stats" and self.command == "GET":
            return self.reply(200, json.dumps(self.log.stats()), "application/json")
        if name == "reset" and self.command == "POST":
            self.log.reset()
            return self.reply(200, json.dumps({"ok": True}), "application/json")
        return self.reply(
            404,
            f"no such endpoint on the LocalStack proxy: {self.command} /_shim/{name} "
            "(delay, faults and rollout exist only in the moto shim)",
        )

    def reply(self, status: int, text: str, ctype: str = "text/plain") -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def upstream_url(self) -> str:
        return f"http://{self.upstream[0]}:{self.upstream[1]}"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        pass  # one line per request would drown the log; errors are logged below

    def log_error(self, format: str, *args) -> None:  # noqa: A002
        sys.stderr.write("proxy: " + (format % args) + "\n")


def upstream_healthy(upstream: tuple[str, int]) -> bool:
    conn = http.client.HTTPConnection(*upstream, timeout=5)
    try:
        conn.request("GET", "/_localstack/health")
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--upstream", default="http://127.0.0.1:4566")
    args = parser.parse_args()
    up = urlsplit(args.upstream)
    if args.host not in ("127.0.0.1", "localhost") or up.hostname not in LOOPBACK or up.scheme != "http":
        sys.exit("refusing a non-loopback address: --host and --upstream must be loopback (http)")
    Proxy.upstream = (up.hostname, up.port or 80)
    ThreadingHTTPServer.request_queue_size = 128  # ballast opens many connections at once
    server = ThreadingHTTPServer((args.host, args.port), Proxy)
    server.daemon_threads = True
    print(f"proxy: 127.0.0.1:{args.port} -> {args.upstream}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
