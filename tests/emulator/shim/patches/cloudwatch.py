"""CloudWatch patches (C1-C6). The table in tests/emulator/README.md is written from these."""

from __future__ import annotations

import base64
import json
import re

from ..registry import patch

ALARM_REF_RE = re.compile(r'\b(?:ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"([^"]+)"|([^()\s,"]+))\s*\)')
AT_LEAST_RE = re.compile(r'\bAT_LEAST\s*\([^()]*\(([^()]*)\)\s*\)')


def rule_alarm_names(rule: str) -> list[str]:
    """Alarm names an AlarmRule refers to: ALARM(x), OK("x"), INSUFFICIENT_DATA(arn), and the
    names listed in AT_LEAST(n, STATE, (a, b)). ARNs are reduced to the alarm name."""
    refs = [a or b for a, b in ALARM_REF_RE.findall(rule)]
    for group in AT_LEAST_RE.findall(rule):
        refs += [r.strip().strip('"') for r in group.split(",") if r.strip()]
    return [r.split(":alarm:", 1)[1] if r.startswith("arn:") and ":alarm:" in r else r
            for r in refs]



@patch(
    "C1", "cloudwatch",
    moto=(
        "A new metric alarm is `OK` (\"Unchecked: Initial alarm creation\"). PutMetricAlarm on an "
        "existing alarm replaces it: state back to the initial one, and `Tags` are merged into its "
        "tags."
    ),
    emulator=(
        "New metric and composite alarms are `INSUFFICIENT_DATA`, as on AWS (AWS then evaluates "
        "them within minutes; the emulator never does, see below). Updating an alarm keeps "
        "`StateValue`, `StateReason(Data)`, `StateUpdatedTimestamp`, `StateTransitionedTimestamp`; "
        "`Tags` on an update are ignored (AWS documents this: use TagResource). "
        "`AlarmConfigurationUpdatedTimestamp` moves."
    ),
)
@patch(
    "C2", "cloudwatch",
    moto=(
        "PutCompositeAlarm → HTTP 500 (not implemented). DescribeAlarms ignores `AlarmTypes` and "
        "`MaxRecords`/`NextToken`, applies only the first of ActionPrefix / AlarmNamePrefix / "
        "AlarmNames / StateValue, returns insertion order."
    ),
    emulator=(
        "PutCompositeAlarm stores `AlarmName`, `AlarmRule`, `AlarmDescription`, `ActionsEnabled` "
        "(default true), `AlarmActions`, `OKActions`, `InsufficientDataActions`, `Tags`, "
        "`ActionsSuppressor*` in moto's own alarm table (per account and region; moto already "
        "models an alarm with a rule), so DeleteAlarms, SetAlarmState, "
        "Tag/Untag/ListTagsForResource (`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`) work "
        "on composites. Every alarm named in the rule (`ALARM(x)`, `OK(\"x\")`, "
        "`INSUFFICIENT_DATA(arn)`, `AT_LEAST(n, S, (a, b))`) must exist, else `ValidationError` "
        "\"Could not save the composite alarm as alarms [..] in the alarm rule do not exist\" (so "
        "create children first). DescribeAlarms: **without `AlarmTypes` only metric alarms are "
        "returned, as on AWS**; `[\"CompositeAlarm\"]` only composites; all filters are ANDed "
        "(ActionPrefix looks at all three action lists); sorted by name, metric alarms first; "
        "pages of `MaxRecords` (default 50) with an opaque `NextToken` (a bad one → "
        "`InvalidNextToken`). `ChildrenOfAlarmName`/`ParentsOfAlarmName` → `InvalidParameterValue` "
        "\"not emulated\"."
    ),
)
@patch(
    "C3", "cloudwatch",
    moto=(
        "DeleteAlarms leaves the alarm's tags, and a new alarm of the same name gets them back."
    ),
    emulator="The tags go with the alarm.",
)
@patch(
    "C5", "cloudwatch",
    moto="DescribeAlarmHistory → HTTP 500 (not implemented).",
    emulator=(
        "History per account and region, kept after DeleteAlarms like AWS: `ConfigurationUpdate` "
        "items `Alarm \"x\" created/updated/deleted`, `StateUpdate` items `Alarm updated from A to "
        "B` with `HistoryData` `{\"version\",\"oldState\",\"newState\"}`. Filters `AlarmName`, "
        "`AlarmTypes` (default metric alarms only), `HistoryItemType`, `StartDate`/`EndDate`, "
        "`ScanBy` (default newest first), `MaxRecords` (default 100)/`NextToken`. "
        "`StateTransitionedTimestamp` is set on creation and when `StateValue` changes."
    ),
)
def alarms() -> None:
    """C1, C2, C3, C5: alarms (metric and composite), their listing, their history."""
    from moto.cloudwatch import models
    from moto.cloudwatch.exceptions import InvalidParameterValue, ValidationError
    from moto.cloudwatch.responses import CloudWatchResponse as R
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult, EmptyResult
    from moto.core.utils import utcnow

    Backend, Alarm = models.CloudWatchBackend, models.Alarm

    class InvalidNextToken(ServiceException):
        code = "InvalidNextToken"

    def alarm_type(alarm) -> str:
        return "MetricAlarm" if alarm.rule is None else "CompositeAlarm"

    def history(backend) -> list:
        """C5: alarm history per account and region; kept after DeleteAlarms, as AWS does."""
        if not hasattr(backend, "shim_history"):
            backend.shim_history = []
        return backend.shim_history

    def record(backend, alarm, item_type: str, summary: str, data: dict) -> None:
        history(backend).append({
            "AlarmName": alarm.name, "AlarmType": alarm_type(alarm), "Timestamp": utcnow(),
            "HistoryItemType": item_type, "HistorySummary": summary,
            "HistoryData": json.dumps({"version": "1.0", **data}),
        })

    orig_put = Backend.put_metric_alarm

    def put_metric_alarm(self, name, *args, **kwargs):
        """C1: a new alarm starts INSUFFICIENT_DATA (moto: OK). Updating an alarm keeps its
        state and ignores Tags, as AWS documents (moto resets the state, merges the tags)."""
        old = self.alarms.get(name)
        if old is not None:
            kwargs["tags"] = None
        alarm = orig_put(self, name, *args, **kwargs)
        if old is not None:
            for attr in ("state_value", "state_reason", "state_reason_data",
                         "state_updated_timestamp", "state_transitioned_timestamp", "history"):
                setattr(alarm, attr, getattr(old, attr, None))
            record(self, alarm, "ConfigurationUpdate", f'Alarm "{name}" updated', {"type": "Update"})
        else:
            alarm.state_value = "INSUFFICIENT_DATA"
            alarm.state_transitioned_timestamp = alarm.state_updated_timestamp
            record(self, alarm, "ConfigurationUpdate", f'Alarm "{name}" created', {"type": "Create"})
        return alarm

    orig_update_state = Alarm.update_state

    def update_state(self, reason, reason_data, state_value):
        """C5: SetAlarmState leaves a StateUpdate history item and a StateTransitionedTimestamp."""
        old_value, old_reason = self.state_value, self.state_reason
        orig_update_state(self, reason, reason_data, state_value)
        if state_value != old_value:
            self.state_transitioned_timestamp = self.state_updated_timestamp
            backend = models.cloudwatch_backends[self.alarm_arn.split(":")[4]][self.region_name]
            record(backend, self, "StateUpdate", f"Alarm updated from {old_value} to {state_value}", {
                "oldState": {"stateValue": old_value, "stateReason": old_reason},
                "newState": {"stateValue": state_value, "stateReason": reason,
                             **({"stateReasonData": json.loads(reason_data)} if reason_data else {})},
            })

    orig_delete = Backend.delete_alarms

    def delete_alarms(self, alarm_names):
        """C3: deleting an alarm deletes its tags (moto keeps them for a later alarm of the
        same name)."""
        gone = [self.alarms[n] for n in alarm_names if n in self.alarms]
        orig_delete(self, alarm_names)
        for alarm in gone:
            self.tagger.delete_all_tags_for_resource(alarm.alarm_arn)
            record(self, alarm, "ConfigurationUpdate", f'Alarm "{alarm.name}" deleted', {"type": "Delete"})

    def put_composite_alarm(self) -> ActionResult:
        """C2: PutCompositeAlarm (moto: HTTP 500), kept in moto's own alarm table as an alarm
        with a rule, which moto already models for DescribeAlarms, DeleteAlarms, SetAlarmState
        and tags."""
        backend = self.cloudwatch_backend
        name, rule = self._get_param("AlarmName"), self._get_param("AlarmRule")
        for param, value in (("alarmName", name), ("alarmRule", rule)):
            if not value:
                raise ValidationError(f"1 validation error detected: Value null at '{param}' "
                                      "failed to satisfy constraint: Member must not be null")
        missing = [n for n in dict.fromkeys(rule_alarm_names(rule)) if n not in backend.alarms]
        if missing:
            raise ValidationError(f"Could not save the composite alarm as alarms {missing} "
                                  "in the alarm rule do not exist")
        alarm = backend.put_metric_alarm(
            name=name, namespace=None, metric_name=None, comparison_operator=None,
            evaluation_periods=None, period=None, threshold=None, statistic=None,
            description=self._get_param("AlarmDescription"), dimensions=[],
            alarm_actions=self._get_param("AlarmActions", []),
            ok_actions=self._get_param("OKActions", []),
            insufficient_data_actions=self._get_param("InsufficientDataActions", []),
            actions_enabled=self._get_param("ActionsEnabled"), rule=rule,
            tags=self._get_param("Tags", []))
        alarm.actions_suppressor = self._get_param("ActionsSuppressor")
        alarm.actions_suppressor_wait_period = self._get_param("ActionsSuppressorWaitPeriod")
        alarm.actions_suppressor_extension_period = self._get_param("ActionsSuppressorExtensionPeriod")
        return EmptyResult()

    def page(self, items: list, default_size: int) -> tuple[list, str | None]:
        size = self._get_param("MaxRecords") or default_size
        token = self._get_param("NextToken")
        try:
            start = int(base64.b64decode(token).decode().removeprefix("shim:")) if token else 0
        except ValueError:
            raise InvalidNextToken("The service returned an invalid next token.")
        end = start + int(size)
        return items[start:end], (base64.b64encode(f"shim:{end}".encode()).decode()
                                  if end < len(items) else None)

    def describe_alarms(self) -> ActionResult:
        """C2: AlarmTypes is honoured (default: metric alarms only, as on AWS), AlarmNames,
        AlarmNamePrefix, StateValue and ActionPrefix all apply (moto: only the first given),
        alarms come sorted by name and paged by MaxRecords (default 50) / NextToken."""
        if self._get_param("ChildrenOfAlarmName") or self._get_param("ParentsOfAlarmName"):
            raise InvalidParameterValue(
                "emulator: ChildrenOfAlarmName and ParentsOfAlarmName are not emulated")
        names = self._get_param("AlarmNames") or []
        prefix = self._get_param("AlarmNamePrefix")
        state = self._get_param("StateValue")
        action_prefix = self._get_param("ActionPrefix")
        types = self._get_param("AlarmTypes") or ["MetricAlarm"]
        alarms = sorted(
            (a for a in self.cloudwatch_backend.alarms.values()
             if (not names or a.name in names)
             and (not prefix or a.name.startswith(prefix))
             and (not state or a.state_value == state)
             and (not action_prefix or any(x.startswith(action_prefix) for x in (
                 *a.alarm_actions, *a.ok_actions, *a.insufficient_data_actions)))
             and alarm_type(a) in types),
            key=lambda a: (alarm_type(a) != "MetricAlarm", a.name))
        alarms, token = page(self, alarms, 50)
        return ActionResult({
            "MetricAlarms": [a for a in alarms if a.rule is None],
            "CompositeAlarms": [a for a in alarms if a.rule is not None],
            "NextToken": token,
        })

    def describe_alarm_history(self) -> ActionResult:
        """C5: DescribeAlarmHistory (moto: HTTP 500) from the history the patches record:
        create/update/delete (ConfigurationUpdate) and state changes (StateUpdate)."""
        name = self._get_param("AlarmName")
        kind = self._get_param("HistoryItemType")
        types = self._get_param("AlarmTypes") or ["MetricAlarm"]
        start, end = self._get_param("StartDate"), self._get_param("EndDate")
        items = [h for h in history(self.cloudwatch_backend)
                 if (not name or h["AlarmName"] == name) and (not kind or h["HistoryItemType"] == kind)
                 and h["AlarmType"] in types
                 and (start is None or h["Timestamp"] >= start.replace(tzinfo=None))
                 and (end is None or h["Timestamp"] <= end.replace(tzinfo=None))]
        if self._get_param("ScanBy") != "TimestampAscending":
            items.reverse()
        items, token = page(self, items, 100)
        return ActionResult({"AlarmHistoryItems": items, "NextToken": token})

    # Alarms created before a patch field existed would miss the attribute.
    Alarm.state_transitioned_timestamp = None
    Alarm.actions_suppressor = None
    Alarm.actions_suppressor_wait_period = None
    Alarm.actions_suppressor_extension_period = None

    Backend.put_metric_alarm, Backend.delete_alarms = put_metric_alarm, delete_alarms
    Alarm.update_state = update_state
    R.put_composite_alarm, R.describe_alarms = put_composite_alarm, describe_alarms
    R.describe_alarm_history = describe_alarm_history


@patch(
    "C4", "cloudwatch",
    moto=(
        "ListTagsForResource of an unknown ARN → `[]`. UntagResource of an existing alarm that has "
        "no tags → `ResourceNotFoundException`."
    ),
    emulator=(
        "Unknown ARN → `ResourceNotFoundException` (404) for both; untagging an untagged alarm "
        "succeeds."
    ),
)
def tags_of_unknown_arns() -> None:
    from moto.cloudwatch import models
    from moto.cloudwatch.exceptions import ResourceNotFoundException

    Backend = models.CloudWatchBackend

    def known_arn(self, arn: str) -> bool:
        return any(a.alarm_arn == arn for a in self.alarms.values()) or any(
            r.rule_arn == arn for r in self.insight_rules.values())

    orig_list_tags, orig_untag = Backend.list_tags_for_resource, Backend.untag_resource

    def list_tags_for_resource(self, arn):
        """C4: an unknown ARN is ResourceNotFoundException (moto: no tags)."""
        if not known_arn(self, arn):
            raise ResourceNotFoundException
        return orig_list_tags(self, arn)

    def untag_resource(self, arn, tag_keys):
        """C4: untagging an alarm without tags works (moto: ResourceNotFoundException)."""
        if not known_arn(self, arn):
            raise ResourceNotFoundException
        self.tagger.untag_resource_using_names(arn, tag_keys)

    Backend.list_tags_for_resource, Backend.untag_resource = list_tags_for_resource, untag_resource


@patch(
    "C6", "cloudwatch",
    moto=(
        "PutMetricAlarm accepts an alarm without any metric, with both `Statistic` and "
        "`ExtendedStatistic`, or `Statistic` together with `Metrics`."
    ),
    emulator=(
        "`ValidationError` (400): with `Metrics`, none of `MetricName`, `Namespace`, `Statistic`, "
        "`ExtendedStatistic`, `Dimensions`, `Period`, `Unit` (\"Statistic should not be set if "
        "list of Metrics is set.\", AWS's wording), and exactly one query with `ReturnData` "
        "(default true) unless `ThresholdMetricId` is set (\"Exactly one element of the metrics "
        "list should return data.\"); without `Metrics`, `MetricName`+`Namespace`, `Period` and "
        "exactly one of `Statistic`/`ExtendedStatistic` (emulator's wording)."
    ),
)
def metric_validation() -> None:
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.responses import CloudWatchResponse as R
    from moto.core.responses import ActionResult

    orig_put_response = R.put_metric_alarm

    def put_metric_alarm_response(self) -> ActionResult:
        """C6: PutMetricAlarm validates the metric the way AWS does (moto accepts an alarm
        without a metric, or with both Statistic and ExtendedStatistic)."""
        metrics = self._get_param("Metrics") or []
        single = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions",
                  "Period", "Unit")
        if metrics:
            for param in single:
                if self._get_param(param):
                    raise ValidationError(f"{param} should not be set if list of Metrics is set.")
            if not self._get_param("ThresholdMetricId") and sum(
                    1 for m in metrics if m.get("ReturnData", True)) != 1:
                raise ValidationError("Exactly one element of the metrics list should return data.")
        else:
            if not self._get_param("MetricName") or not self._get_param("Namespace"):
                raise ValidationError("MetricName and Namespace must be set if list of Metrics is not set.")
            if bool(self._get_param("Statistic")) == bool(self._get_param("ExtendedStatistic")):
                raise ValidationError("Exactly one of Statistic and ExtendedStatistic must be set.")
            if not self._get_param("Period"):
                raise ValidationError("Period must be set if list of Metrics is not set.")
        return orig_put_response(self)

    R.put_metric_alarm = put_metric_alarm_response
