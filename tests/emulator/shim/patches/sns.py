"""SNS patches (S1-S4) and POST /_shim/sns/confirm. The table in tests/emulator/README.md is
written from these."""

from __future__ import annotations

import json
import re

from ..registry import patch

# Protocols whose subscriptions wait for the endpoint's owner to confirm them (S2).
SNS_CONFIRM_PROTOCOLS = ("email", "email-json", "http", "https")
SNS_PROTOCOLS = ("http", "https", "email", "email-json", "sms", "sqs", "application", "lambda",
                 "firehose")


@patch(
    "S1", "sns",
    moto=(
        "CreateTopic on an existing name with other `Tags` or `Attributes` returns the topic and "
        "ignores them."
    ),
    emulator=(
        "`InvalidParameter` (400) \"Invalid parameter: Tags Reason: Topic already exists with "
        "different tags\" (or `Attributes ... different attributes`). The same name with the same "
        "or no tags still returns the existing ARN."
    ),
)
def create_topic_conflicts() -> None:
    from moto.sns import models
    from moto.sns.exceptions import SNSInvalidParameter
    from moto.core.utils import camelcase_to_underscores

    Backend = models.SNSBackend

    orig_create_topic = Backend.create_topic

    def create_topic(self, name, attributes=None, tags=None):
        """S1: CreateTopic of an existing topic with other Tags or Attributes fails, as on
        AWS (moto returns the topic and ignores them)."""
        existing = next((t for t in self.topics.values() if t.name == name), None)
        if existing is not None:
            if tags and dict(tags) != dict(existing._tags or {}):
                raise SNSInvalidParameter(
                    "Invalid parameter: Tags Reason: Topic already exists with different tags")
            for key, value in (attributes or {}).items():
                current = getattr(existing, camelcase_to_underscores(key), None)
                if key in ("Policy", "DeliveryPolicy") and current:
                    try:
                        same = json.loads(value) == json.loads(current)
                    except ValueError:
                        same = False
                else:
                    same = str(value) == str(current)
                if not same:
                    raise SNSInvalidParameter("Invalid parameter: Attributes Reason: Topic "
                                              "already exists with different attributes")
        return orig_create_topic(self, name, attributes, tags)

    Backend.create_topic = create_topic


@patch(
    "S2", "sns",
    moto=(
        "Subscribe returns the full subscription ARN at once, for every protocol; nothing is ever "
        "pending."
    ),
    emulator=(
        "`email`, `email-json`, `http`, `https` subscriptions start pending, as on AWS: Subscribe "
        "answers `\"pending confirmation\"` (the ARN only with `ReturnSubscriptionArn=true`), "
        "ListSubscriptions(ByTopic) show `SubscriptionArn: \"PendingConfirmation\"`, "
        "GetSubscriptionAttributes says `PendingConfirmation: \"true\"`, Publish delivers nothing "
        "to them. Subscribing the same endpoint again answers `pending confirmation` again (no "
        "duplicate). `POST /_shim/sns/confirm` confirms them (then they list with their ARN). "
        "`sqs`, `lambda`, `firehose`, `application`, `sms` are confirmed at once. Unsubscribe of "
        "`PendingConfirmation` (or anything not an ARN) → `InvalidParameter`, as on AWS."
    ),
)
@patch(
    "S3", "sns",
    moto="Subscribe accepts any protocol and any endpoint.",
    emulator=(
        "Unknown protocol → `InvalidParameter` \"Amazon SNS does not support this protocol "
        "string\"; an `email` endpoint without `@`, or an `http(s)` endpoint not starting with "
        "`http(s)://` → `InvalidParameter`."
    ),
)
def pending_subscriptions() -> None:
    """S2 + S3: Subscribe validates; email/email-json/http/https subscriptions wait for
    POST /_shim/sns/confirm."""
    from moto.sns import models
    from moto.sns.exceptions import SNSInvalidParameter
    from moto.sns.responses import SNSResponse as R

    Backend, Subscription = models.SNSBackend, models.Subscription

    orig_subscribe = Backend.subscribe

    def subscribe(self, topic_arn, endpoint, protocol):
        """S2 + S3: protocol and endpoint are validated; email/email-json/http/https
        subscriptions start pending confirmation (moto: confirmed at once)."""
        if protocol not in SNS_PROTOCOLS:
            raise SNSInvalidParameter(
                f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}")
        if protocol in ("email", "email-json") and not re.fullmatch(r"[^@\s]+@[^@\s]+", endpoint or ""):
            raise SNSInvalidParameter("Invalid parameter: Email address")
        if protocol in ("http", "https") and not (endpoint or "").lower().startswith(f"{protocol}://"):
            raise SNSInvalidParameter("Invalid parameter: Endpoint must match the specified protocol")
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        sub = orig_subscribe(self, topic_arn, endpoint, protocol)
        if existing is None:
            sub.confirmed = protocol not in SNS_CONFIRM_PROTOCOLS
            if not sub.confirmed:
                sub.attributes["PendingConfirmation"] = True
                sub.attributes["ConfirmationWasAuthenticated"] = False
        return sub

    def shown_arn(sub) -> str:
        return sub.arn if sub.confirmed else "PendingConfirmation"

    orig_subscribe_response = R.subscribe

    def subscribe_response(self):
        """S2: a pending subscription answers "pending confirmation" unless
        ReturnSubscriptionArn is true."""
        result = orig_subscribe_response(self)
        arn = result.result["SubscriptionArn"]
        sub = self.backend.subscriptions.get(arn)
        want_arn = str(self._get_param("ReturnSubscriptionArn", "false")).lower() == "true"
        if sub is not None and not sub.confirmed and not want_arn:
            result.result["SubscriptionArn"] = "pending confirmation"
        return result

    def listing(orig):
        def wrapped(self):
            """S2: pending subscriptions are listed with SubscriptionArn "PendingConfirmation"."""
            result = orig(self)
            result.result["Subscriptions"] = [{
                "SubscriptionArn": shown_arn(s), "Owner": s.account_id, "Protocol": s.protocol,
                "Endpoint": s.endpoint, "TopicArn": s.topic.arn,
            } for s in result.result["Subscriptions"]]
            return result
        return wrapped

    orig_unsubscribe = Backend.unsubscribe

    def unsubscribe(self, subscription_arn):
        """S2: "PendingConfirmation" (or anything that is not an ARN) is rejected like on AWS."""
        parts = (subscription_arn or "").split(":")
        if len(parts) < 6 or parts[0] != "arn":
            raise SNSInvalidParameter("Invalid parameter: SubscriptionArn Reason: An ARN must "
                                      f"have at least 6 elements, not {len(parts)}")
        return orig_unsubscribe(self, subscription_arn)

    orig_publish = Subscription.publish

    def publish(self, *args, **kwargs):
        """S2: nothing is delivered to a pending subscription (and so no HTTP request leaves
        for an unconfirmed http(s) endpoint)."""
        if not self.confirmed:
            return None
        return orig_publish(self, *args, **kwargs)

    Backend.subscribe, Backend.unsubscribe = subscribe, unsubscribe
    R.subscribe = subscribe_response
    R.list_subscriptions = listing(R.list_subscriptions)
    R.list_subscriptions_by_topic = listing(R.list_subscriptions_by_topic)
    Subscription.publish = publish


@patch(
    "S4", "sns",
    moto="GetTopicAttributes `SubscriptionsConfirmed`/`SubscriptionsPending` always `\"0\"`.",
    emulator="Counted from the topic's subscriptions (AWS updates them with some delay).",
)
def topic_subscription_counts() -> None:
    from moto.sns.responses import SNSResponse as R

    orig_topic_attributes = R.get_topic_attributes

    def get_topic_attributes(self):
        """S4: SubscriptionsConfirmed / SubscriptionsPending count the topic's subscriptions
        (moto: always 0)."""
        topic = self.backend.get_topic(self._get_param("TopicArn"))
        subs = self.backend._get_topic_subscriptions(topic)
        topic.subscriptions_confimed = sum(1 for s in subs if s.confirmed)
        topic.subscriptions_pending = sum(1 for s in subs if not s.confirmed)
        return orig_topic_attributes(self)

    R.get_topic_attributes = get_topic_attributes


def sns_confirm(endpoint: str, topic_arn: str | None = None) -> list[str]:
    """POST /_shim/sns/confirm: what the owner of a pending endpoint does by following the
    confirmation link. Confirms the matching pending subscriptions in every account and region."""
    from moto.sns.models import sns_backends
    confirmed = []
    for account in list(sns_backends.keys()):
        for region in list(sns_backends[account].keys()):
            for sub in sns_backends[account][region].subscriptions.values():
                if not sub.confirmed and sub.endpoint == endpoint and topic_arn in (None, sub.topic.arn):
                    sub.confirmed = True
                    sub.attributes["PendingConfirmation"] = False
                    sub.attributes["ConfirmationWasAuthenticated"] = True
                    confirmed.append(sub.arn)
    return confirmed
