"""CloudWatch over Smithy RPC v2 CBOR, which moto lacks: CborToJson translates those calls to
moto's awsJson1_0 and the answers back (tests/emulator/README.md, "CloudWatch over Smithy RPC v2
CBOR")."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import traceback
import uuid
from http import HTTPStatus

from .wsgi import read_body

# --------------------------------------------------------------------------
# Smithy RPC v2 CBOR -> moto's awsJson1_0 (CloudWatch)
# --------------------------------------------------------------------------
# aws-sdk-cloudwatch speaks rpc-v2-cbor: POST /service/<Service>/operation/<Op>, header
# smithy-protocol: rpc-v2-cbor, body = CBOR map of the input members. moto 5.2.5 has no route
# for it (404) but serves the same operations over awsJson1_0, so CborToJson rewrites the
# request into a JSON call (X-Amz-Target <prefix>.<Op>) and the answer back into CBOR, typed by
# the botocore model of the operation's output: Smithy's CBOR decoders are strict (a double
# must be a CBOR float, an integer an integer, a timestamp tag 1 over a float).

CBOR_PATH_RE = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")
# Smithy service shape name -> how to reach it in moto.
CBOR_SERVICES = {
    "GraniteServiceVersion20100801": {
        "botocore": "cloudwatch", "signing_name": "monitoring",
        "namespace": "com.amazonaws.cloudwatch", "target_prefix": "GraniteServiceVersion20100801",
    },
}
CBOR_HEADERS = [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]
_SERVICE_MODELS: dict = {}


def is_cbor_request(environ) -> bool:
    return bool(CBOR_PATH_RE.match(environ.get("PATH_INFO", ""))) or \
        environ.get("HTTP_SMITHY_PROTOCOL", "") == "rpc-v2-cbor"


def service_model(name: str):
    if name not in _SERVICE_MODELS:
        import botocore.session
        _SERVICE_MODELS[name] = botocore.session.get_session().get_service_model(name)
    return _SERVICE_MODELS[name]


def respond_cbor(start_response, status: int, obj, request_id: str, headers=()):
    import cbor2
    data = cbor2.dumps(obj)
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    start_response(f"{status} {reason}", [
        *CBOR_HEADERS, ("Content-Length", str(len(data))), ("x-amzn-RequestId", request_id),
        *headers,
    ])
    return [data]


def respond_cbor_error(start_response, status: int, type_: str, message: str, request_id: str,
                       query_code: str | None = None):
    """An rpc-v2-cbor error: CBOR map {__type, message}. CloudWatch is @awsQueryCompatible, so
    the x-amzn-query-error header carries the awsQuery error code (what the SDKs report as the
    error code when the header is present)."""
    code = query_code or type_.rsplit("#", 1)[-1]
    fault = "Sender" if status < 500 else "Receiver"
    return respond_cbor(start_response, status, {"__type": type_, "message": message}, request_id,
                        [("x-amzn-query-error", f"{code};{fault}")])


def cbor_to_json(value):
    """Decoded CBOR input -> the JSON document moto's awsJson parser reads."""
    import cbor2
    if isinstance(value, dict):
        # A null member is an absent member.
        return {str(k): cbor_to_json(v) for k, v in value.items()
                if v is not None and v is not cbor2.undefined}
    if isinstance(value, (list, tuple)):
        return [cbor_to_json(v) for v in value]
    if isinstance(value, dt.datetime):  # tag 1 (epoch) or tag 0 (RFC 3339), decoded by cbor2
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, cbor2.CBORTag):
        return cbor_to_json(value.value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    return value


def json_to_cbor(value, shape):
    """moto's JSON output -> CBOR-ready Python values, typed by the botocore output shape.
    Members the model does not know are dropped, as the real service would not send them."""
    import cbor2
    if value is None:
        return None
    t = shape.type_name
    if t == "structure":
        out = {}
        for name, member in shape.members.items():
            if isinstance(value, dict) and value.get(name) is not None:
                out[name] = json_to_cbor(value[name], member)
        return out
    if t == "list":
        return [json_to_cbor(v, shape.member) for v in value]
    if t == "map":
        return {str(k): json_to_cbor(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=dt.timezone.utc)
                value = parsed.timestamp()
        return cbor2.CBORTag(1, float(value))  # tag 1 over a double, as smithy-rs decodes it
    if t in ("double", "float"):
        return float(value)
    if t in ("integer", "long", "short", "byte"):
        return int(value)
    if t == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if t == "blob":
        return base64.b64decode(value) if isinstance(value, str) else bytes(value)
    return value if isinstance(value, str) else str(value)


class CborToJson:
    """WSGI layer between the shim and moto: serves rpc-v2-cbor requests of CBOR_SERVICES by
    calling moto over awsJson1_0 and translating both ways (see the section comment)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        m = CBOR_PATH_RE.match(environ.get("PATH_INFO", ""))
        svc = CBOR_SERVICES.get(m.group(1)) if m else None
        if svc is None or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        import cbor2
        op_name = m.group(2)
        request_id = str(uuid.uuid4())
        model = service_model(svc["botocore"])
        try:
            op = model.operation_model(op_name)
        except Exception:  # botocore.exceptions.OperationNotFoundError
            return respond_cbor_error(start_response, 404, "UnknownOperationException",
                                      f"unknown operation {op_name}", request_id)
        body = read_body(environ)
        try:
            params = cbor2.loads(body) if body else {}
            if not isinstance(params, dict):
                raise ValueError(f"input is a CBOR {type(params).__name__}, not a map")
        except Exception as e:  # noqa: BLE001 -- any decoding failure is the client's
            return respond_cbor_error(start_response, 400, "SerializationException",
                                      f"cannot decode the CBOR request body: {e}", request_id)
        data = json.dumps(cbor_to_json(params)).encode()
        inner = dict(environ)
        inner.update({
            "PATH_INFO": "/", "QUERY_STRING": "", "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data),
            "HTTP_X_AMZ_TARGET": f"{svc['target_prefix']}.{op_name}",
            "HTTP_ACCEPT": "application/json",
        })
        inner.pop("HTTP_SMITHY_PROTOCOL", None)
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda _chunk: None

        try:
            chunks = self.app(inner, capture)
            try:
                out = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
            status = int(captured["status"].split()[0])
        except Exception:  # noqa: BLE001 -- moto raises out of its app for unimplemented actions
            traceback.print_exc()
            status, out = 500, b""
        for k, v in captured.get("headers", ()):
            if k.lower() == "x-amzn-requestid":
                request_id = v
        if 200 <= status < 300:
            doc = json.loads(out) if out.strip() else {}
            result = json_to_cbor(doc, op.output_shape) if op.output_shape is not None else {}
            return respond_cbor(start_response, status, result, request_id)
        return self.error(start_response, status, out, op, model, svc, request_id)

    @staticmethod
    def error(start_response, status, out, op, model, svc, request_id):
        try:
            doc = json.loads(out)
            code = str(doc.get("__type", "")).rsplit("#", 1)[-1]
            message = doc.get("message") or doc.get("Message") or ""
        except ValueError:  # moto answered HTML: an exception or an operation it lacks
            from moto.cloudwatch.responses import CloudWatchResponse
            from botocore import xform_name
            if svc["botocore"] == "cloudwatch" and not hasattr(CloudWatchResponse, xform_name(op.name)):
                return respond_cbor_error(
                    start_response, 501, "NotImplemented",
                    f"emulator: moto 5.2.5 does not implement {op.name}", request_id)
            return respond_cbor_error(
                start_response, status, f"{svc['namespace']}#InternalServiceFault",
                f"emulator: moto failed on {op.name} (see .emulator/server.log)", request_id,
                "InternalServiceError")
        # The modeled error shape: by the operation's errors first (ResourceNotFound is both
        # DashboardNotFoundError and ResourceNotFound), then by any of the service's.
        shapes = list(op.error_shapes) + list(model.error_shapes)
        shape = next((e for e in shapes if code in (e.error_code, e.name)), None)
        if shape is None:
            return respond_cbor_error(start_response, status, code or "UnknownError", message,
                                      request_id)
        return respond_cbor_error(start_response, status, f"{svc['namespace']}#{shape.name}",
                                  message, request_id, shape.error_code)
