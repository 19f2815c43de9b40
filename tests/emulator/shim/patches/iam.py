"""IAM policy enforcement patches (I1-I3), for `INITIAL_NO_AUTH_ACTION_COUNT` / reset-auth.
The table in tests/emulator/README.md is written from them."""

from __future__ import annotations

from ..registry import patch

# SigV4 signing names that differ from the service's IAM action prefix.
IAM_PREFIX = {"monitoring": "cloudwatch"}


@patch(
    "I1", "iam",
    moto=(
        "With IAM enforcement on, the action checked is `<signing name>:<operation>`: CloudWatch "
        "signs as `monitoring`, so a policy allowing `cloudwatch:PutMetricAlarm` is denied it."
    ),
    emulator="The action's prefix is the service's IAM prefix (`monitoring` → `cloudwatch`), as on AWS.",
)
@patch(
    "I2", "iam",
    moto=(
        "With IAM enforcement on, moto recomputes each request's SigV4 signature over the request "
        "it sees, and gets some wrong: every CloudFront call, and every CloudWatch call the shim "
        "translated from CBOR, is refused with `SignatureDoesNotMatch`."
    ),
    emulator=(
        "Signatures are not checked; the access key id still names the caller (an unknown one is "
        "refused) and every action is checked against its policies. What the enforcement proves "
        "is which actions a caller needs, not its signing."
    ),
)
@patch(
    "I3", "iam",
    moto=(
        "moto checks most actions against the resource `*` (it knows the resource only for IAM "
        "roles, SQS, STS and S3), and a statement whose `Resource` names ARNs never matches `*`: "
        "a policy scoped to a stack's names is denied everything."
    ),
    emulator=(
        "Where moto checks against `*` (it does not know the call's resource), a statement's "
        "`Resource` matches: the emulator enforces actions, not resources. Where it knows the "
        "resource (IAM roles, S3 buckets) the ARN must match, as on AWS."
    ),
)
@patch(
    "I4", "iam",
    moto=(
        "With IAM enforcement on, a denied call (or an unknown key) is answered in the query "
        "protocol's XML (`<ErrorResponse><Errors><Error>`) by every service: the JSON services' "
        "SDKs (ECS, Logs, SSM, ...) and the REST-XML ones' (CloudFront, Route 53) find no error "
        "code in it, and the message naming the action is lost."
    ),
    emulator=(
        "The error is answered in the service's own shape: JSON protocols `{\"__type\": "
        "\"AccessDeniedException\", \"message\"}`, EC2 `<Response><Errors><Error>` with "
        "`UnauthorizedOperation`, query and REST-XML `<ErrorResponse><Error>` with `AccessDenied`; "
        "the message says `User: ARN is not authorized to perform: service:Action`, as AWS does."
    ),
)
def enforcement() -> None:
    from moto.iam import access_control as ac

    orig_init = ac.IAMRequestBase.__init__

    def __init__(self, *args, **kwargs):
        """I1: the IAM prefix, not the signing name."""
        orig_init(self, *args, **kwargs)
        prefix = IAM_PREFIX.get(self._service)
        if prefix:
            self._action = prefix + self._action[len(self._service):]

    def check_signature(self):
        """I2: signatures are not checked (the key id names the caller)."""

    orig_matches = ac.IAMPolicyStatement._check_element_matches

    def _check_element_matches(self, element, value):
        """I3: an unknown resource (`*`) matches any Resource element."""
        if element == "Resource" and value == "*":
            return True
        return orig_matches(self, element, value)

    from moto.core import authorization
    from moto.core.exceptions import _RESTError

    orig_authorize = authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action

    def _authenticate_and_authorize_action(self, iam_request_cls, resource="*"):
        """I4: the service's own error shape."""
        try:
            return orig_authorize(self, iam_request_cls, resource)
        except _RESTError as e:
            if iam_request_cls is not ac.IAMRequest:
                raise  # S3's errors are in S3's shape already
            raise in_shape(e, self.headers, self.querystring) from None

    authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action = (
        _authenticate_and_authorize_action)
    ac.IAMRequestBase.__init__ = __init__
    ac.IAMRequestBase.check_signature = check_signature
    ac.IAMPolicyStatement._check_element_matches = _check_element_matches


def in_shape(e, headers, querystring):
    """moto's query-protocol auth error `e` as the service that was called answers it."""
    from xml.sax.saxutils import escape

    from moto.core.exceptions import JsonRESTError

    code, message = e.error_type, e.message
    target = headers.get("X-Amz-Target") or headers.get("x-amz-target")
    credential = (headers.get("Authorization") or "").partition("Credential=")[2].split("/")
    service = credential[3] if len(credential) > 3 else ""
    if target:
        if code == "AccessDenied":
            code = "AccessDeniedException"
        err = JsonRESTError(code, message)
        err.code = e.code
        return err
    if service == "ec2":
        if code == "AccessDenied":
            code = "UnauthorizedOperation"
            message = f"You are not authorized to perform this operation. {message}"
        e.description = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>shim-auth</RequestID></Response>")
        return e
    e.description = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error><RequestId>shim-auth</RequestId>"
        f"</ErrorResponse>")
    return e
