"""WSGI request/response helpers of the shim (middleware.py, cbor.py)."""

from __future__ import annotations

import io
import json
from http import HTTPStatus


def read_body(environ) -> bytes:
    """Read the request body and put it back so moto can read it too."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def load_json(environ) -> dict:
    body = read_body(environ)
    return json.loads(body) if body.strip() else {}


def respond(start_response, status: int, body: str, ctype: str, headers=()):
    data = body.encode("utf-8")
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    start_response(f"{status} {reason}", [
        ("Content-Type", ctype), ("Content-Length", str(len(data))), *headers,
    ])
    return [data]


def respond_json(start_response, obj) -> list[bytes]:
    return respond(start_response, 200, json.dumps(obj), "application/json")
