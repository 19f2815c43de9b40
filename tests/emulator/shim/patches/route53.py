"""Route 53 patches (R1-R4) and their helpers (also used by POST /_shim/route53/health/<id>).
The table in tests/emulator/README.md is written from these."""

from __future__ import annotations

import threading

from ..registry import patch

# R1: one change batch at a time (moto's server answers on many threads).
R53_CHANGES = threading.Lock()

# Health the tests force on Route 53 health checks (POST /_shim/route53/health/<id>): what the
# checkers see at the endpoint, before Inverted is applied. id -> True (healthy) / False.
R53_FORCED_HEALTH: dict[str, bool] = {}
# Checker regions reported when a health check names no Regions (a subset of AWS's default set).
R53_CHECKER_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1")
R53_MAX_ALIAS_DEPTH = 8


def dns_key(name: str | None) -> str:
    """Route 53 compares names case-insensitively, with or without the trailing dot."""
    return (name or "").rstrip(".").lower()


def fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def is_true(value) -> bool:
    return value is True or str(value).lower() == "true"


def r53_backends():
    """Every Route 53 backend (one per account and partition) that exists."""
    from moto.route53.models import route53_backends
    for account in list(route53_backends.keys()):
        for partition in list(route53_backends[account].keys()):
            yield route53_backends[account][partition]


def r53_find_health_check(health_check_id: str):
    for backend in r53_backends():
        if health_check_id in backend.health_checks:
            return backend.health_checks[health_check_id]
    return None


def r53_health(backend, hc, depth: int = 0) -> tuple[bool, str]:
    """R2: (healthy, StatusReport.Status) of a health check, as Route 53's checkers would report.
    The endpoint answers OK unless a test forced it unhealthy; Inverted flips the outcome;
    a disabled check is always healthy; CALCULATED counts its healthy children."""
    if hc.disabled:
        return True, "Success: The health check is disabled; Route 53 considers it healthy."
    if hc.type_ == "CALCULATED":
        children = [backend.health_checks.get(c) for c in hc.children or []]
        up = sum(1 for c in children if c is not None and depth < R53_MAX_ALIAS_DEPTH
                 and r53_health(backend, c, depth + 1)[0])
        ok = up >= (hc.health_threshold or 0)
        return ok != bool(hc.inverted), f"{up} of {len(children)} child health checks are healthy."
    endpoint_ok = R53_FORCED_HEALTH.get(hc.id, True)
    if hc.type_ in ("TCP",):
        probe = "TCP connection established." if endpoint_ok else "Connection timed out."
    else:
        probe = "HTTP Status Code 200, OK" if endpoint_ok else "HTTP Status Code 503, Service Unavailable"
    healthy = endpoint_ok != bool(hc.inverted)
    inverted = " (inverted health check)" if hc.inverted else ""
    return healthy, f"{'Success' if healthy else 'Failure'}: {probe}{inverted}"


def r53_observations(backend, hc) -> list[dict]:
    """R2: one observation per checker region (the check's Regions, else a default set), with a
    fake checker IP from 198.51.100.0/24 (TEST-NET-2)."""
    from moto.core.utils import utcnow
    if hc.type_ == "CALCULATED":
        return []
    _, status = r53_health(backend, hc)
    return [{"Region": region, "IPAddress": f"198.51.100.{10 + i}",
             "StatusReport": {"Status": status, "CheckedTime": utcnow()}}
            for i, region in enumerate(hc.regions or R53_CHECKER_REGIONS)]


def rrset_dict(rs) -> dict:
    """A moto RecordSet as the ResourceRecordSet dict of a request."""
    out = {"Name": rs.name, "Type": rs.type, "TTL": rs.ttl, "SetIdentifier": rs.set_identifier,
           "Weight": rs.weight, "Region": rs.region, "HealthCheckId": rs.health_check_id,
           "AliasTarget": rs.alias_target, "Failover": rs.failover,
           "GeoLocation": rs.geo_location, "MultiValueAnswer": rs.multi_value_answer,
           "ResourceRecords": [{"Value": v} for v in rs.records or []]}
    return {k: v for k, v in out.items() if v not in (None, [])}


def rrset_identity(rr: dict) -> tuple:
    """What names a record set: name, type and SetIdentifier (UPSERT replaces by this)."""
    return dns_key(rr.get("Name")), rr.get("Type"), rr.get("SetIdentifier")


def rrset_values(rr: dict) -> dict:
    """Everything a DELETE must repeat exactly, normalized for comparison."""
    alias = rr.get("AliasTarget")
    return {
        "TTL": None if rr.get("TTL") is None else int(rr["TTL"]),
        "ResourceRecords": sorted(str(x["Value"]) for x in rr.get("ResourceRecords") or []),
        "AliasTarget": None if not alias else (
            str(alias.get("HostedZoneId", "")).replace("/hostedzone/", ""),
            dns_key(alias.get("DNSName")), is_true(alias.get("EvaluateTargetHealth"))),
        **{k: rr.get(k) for k in ("Failover", "HealthCheckId", "Region", "GeoLocation",
                                  "MultiValueAnswer")},
        "Weight": None if rr.get("Weight") is None else int(rr["Weight"]),
    }


def rrset_label(rr: dict) -> str:
    """How Route 53's InvalidChangeBatch messages name a record set."""
    label = f"name='{fqdn(dns_key(rr.get('Name')))}', type='{rr.get('Type')}'"
    if rr.get("SetIdentifier"):
        label += f", set-identifier='{rr['SetIdentifier']}'"
    return f"[{label}]"


def alias_in_zone(zone, rr: dict) -> bool:
    alias = rr.get("AliasTarget")
    return bool(alias) and str(alias.get("HostedZoneId", "")).replace(
        "/hostedzone/", "") == zone.resource_id


def zone_records(zone, name: str, rtype: str | None = None) -> list:
    return [r for r in zone.rrsets
            if dns_key(r.name) == dns_key(name) and rtype in (None, r.type)]


def record_healthy(backend, zone, rs, depth: int) -> bool:
    """R3: a record is healthy when its health check is (none counts as healthy) and, for an
    alias with EvaluateTargetHealth to a record in the same zone, when that target has a
    healthy record. Aliases to anything else (load balancers, S3 websites) count as healthy."""
    hc = backend.health_checks.get(rs.health_check_id) if rs.health_check_id else None
    if hc is not None and not r53_health(backend, hc)[0]:
        return False
    rr = rrset_dict(rs)
    if alias_in_zone(zone, rr) and is_true(rr["AliasTarget"].get("EvaluateTargetHealth")):
        if depth >= R53_MAX_ALIAS_DEPTH:
            return False
        return any(record_healthy(backend, zone, t, depth + 1)
                   for t in zone_records(zone, rr["AliasTarget"]["DNSName"], rs.type))
    return True


def choose_record(backend, zone, records: list, depth: int):
    """R3: the record Route 53 answers with: the PRIMARY while it is healthy, else the
    SECONDARY; of other sets the first healthy one. If none is healthy, all count as healthy."""
    ordered = sorted(records, key=lambda r: (r.failover or "") != "PRIMARY")
    return next((r for r in ordered if record_healthy(backend, zone, r, depth)), ordered[0])


def test_dns_answer(backend, zone, name: str, rtype: str, depth: int = 0) -> tuple[str, list[str]]:
    """R3: (ResponseCode, RecordData) for name/type, following aliases within the zone."""
    if not zone_records(zone, name):
        return "NXDOMAIN", []
    records = zone_records(zone, name, rtype)
    if not records:
        return "NOERROR", []
    if depth >= R53_MAX_ALIAS_DEPTH:
        return "SERVFAIL", []
    chosen = rrset_dict(choose_record(backend, zone, records, depth))
    alias = chosen.get("AliasTarget")
    if not alias:
        return "NOERROR", [x["Value"] for x in chosen.get("ResourceRecords", [])]
    if alias_in_zone(zone, chosen):
        return test_dns_answer(backend, zone, alias["DNSName"], rtype, depth + 1)
    return "NOERROR", [alias["DNSName"].rstrip(".")]


@patch(
    "R1", "route53",
    moto=(
        "Route 53 ChangeResourceRecordSets applies each change in turn (a failing change leaves "
        "the earlier ones applied). CREATE after UPSERT stores a duplicate. DELETE with other "
        "values than the record's is accepted for alias records (for TTL records it fails with "
        "`InvalidInput` and a misleading message, and it compares with a journal of past changes, "
        "not with the zone). DELETE with a `SetIdentifier` removes every record with that "
        "identifier, of any name. Names compare case-sensitively."
    ),
    emulator=(
        "The whole batch is checked against the zone first, then applied all or nothing. Every "
        "problem is listed in one `InvalidChangeBatch` (400) in Route 53's current error shape, "
        "`<ErrorResponse "
        "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>[msg, "
        "msg]</Message></Error><RequestId/></ErrorResponse>` (what `aws-sdk-route53` parses into "
        "`InvalidChangeBatch` with that message; Route 53's old `<InvalidChangeBatch><Messages>` "
        "root would not parse in the Rust SDK). Messages, AWS's wording: `Tried to create resource "
        "record set [name='www.example.com.', type='A'] but it already exists`, `Tried to delete "
        "resource record set [name='x.example.com.', type='A', set-identifier='r1'] but it was not "
        "found`, `... but the values provided do not match the current values`, `RRSet with DNS "
        "name a.other.com. is not permitted in zone example.com.`, `Tried to create an alias that "
        "targets b.example.com., type A in zone Z..., but that target was not found` (alias "
        "targets in the same zone are looked up in the zone as it is after the batch, so a batch "
        "may create the target after the alias). A record set is named by (name, type, "
        "SetIdentifier): CREATE fails if it exists, UPSERT replaces it, DELETE removes exactly it "
        "and only if every value matches (TTL, ResourceRecords in any order, AliasTarget "
        "HostedZoneId/DNSName (case- and dot-insensitive)/EvaluateTargetHealth, Failover, "
        "HealthCheckId, Weight, Region, GeoLocation, MultiValueAnswer). Names compare "
        "case-insensitively, with or without the trailing dot; a record keeps the name as written, "
        "plus a trailing dot. Batches apply one at a time, as Route 53 serializes a zone's "
        "changes (moto's server answers on many threads: two batches at once could each change "
        "its own copy of the zone, and the later one undo the earlier)."
    ),
)
def change_batches() -> None:
    from moto.route53.exceptions import (DnsNameInvalidForZone, InvalidActionValue,
                                         Route53ClientError)
    from moto.route53.models import RecordSet, Route53Backend as Backend
    from moto.route53.utils import validate_domain_name

    def change_resource_record_sets(self, zoneid, change_list):
        """R1: the whole batch is validated first and applied all or nothing: CREATE of an
        existing record set, DELETE of one that does not exist with exactly these values, a
        name outside the zone, or an alias to a missing record of the zone make the batch fail
        with InvalidChangeBatch listing every problem. UPSERT and DELETE act on one record set
        (name, type, SetIdentifier); names compare case- and trailing-dot-insensitively."""
        with R53_CHANGES:
            apply_batch(self, zoneid, change_list)

    def apply_batch(self, zoneid, change_list):
        zone = self.get_hosted_zone(zoneid)
        rrsets, errors = list(zone.rrsets), []
        for change in change_list:
            action, rr = change["Action"], change["ResourceRecordSet"]
            validate_domain_name(rr["Name"], code="InvalidChangeBatch")
            if action not in ("CREATE", "UPSERT", "DELETE"):
                raise InvalidActionValue(action)
            name, zone_name = dns_key(rr["Name"]), dns_key(zone.name)
            if name != zone_name and not name.endswith("." + zone_name):
                errors.append(DnsNameInvalidForZone(fqdn(rr["Name"]), zone.name).message)
                continue
            at = next((i for i, r in enumerate(rrsets)
                       if rrset_identity(rrset_dict(r)) == rrset_identity(rr)), None)
            label = rrset_label(rr)
            if action == "DELETE":
                if at is None:
                    errors.append(f"Tried to delete resource record set {label} but it was not found")
                elif rrset_values(rrset_dict(rrsets[at])) != rrset_values(rr):
                    errors.append(f"Tried to delete resource record set {label} but the values "
                                  "provided do not match the current values")
                else:
                    del rrsets[at]
                continue
            if action == "CREATE" and at is not None:
                errors.append(f"Tried to create resource record set {label} but it already exists")
                continue
            new = RecordSet({**rr, "Name": fqdn(rr["Name"]), "ResourceRecords": [
                x["Value"] for x in rr.get("ResourceRecords") or []]})
            if at is None:
                rrsets.append(new)
            else:
                rrsets[at] = new
        for change in change_list:
            rr = change["ResourceRecordSet"]
            if change["Action"] != "DELETE" and alias_in_zone(zone, rr) and not any(
                    dns_key(r.name) == dns_key(rr["AliasTarget"]["DNSName"]) and r.type == rr["Type"]
                    for r in rrsets):
                errors.append(f"Tried to create an alias that targets "
                              f"{fqdn(dns_key(rr['AliasTarget']['DNSName']))}, type {rr['Type']} "
                              f"in zone {zone.resource_id}, but that target was not found")
        if errors:
            raise Route53ClientError("InvalidChangeBatch", "[" + ", ".join(errors) + "]")
        zone.rrsets = rrsets

    Backend.change_resource_record_sets = change_resource_record_sets


@patch(
    "R2", "route53",
    moto=(
        "GetHealthCheckStatus always reports one healthy observation (`Success: HTTP Status Code: "
        "200. Resolved IP: 127.0.13.37. OK`), whatever `Inverted` says. "
        "GetHealthCheckLastFailureReason → 404."
    ),
    emulator=(
        "One observation per checker region (the check's `Regions`, else `us-east-1`, `us-west-2`, "
        "`eu-west-1`, `ap-southeast-1`), `IPAddress` `198.51.100.10`, `.11`, ... and `StatusReport "
        "{Status, CheckedTime (now)}`. The endpoint answers 200 unless `POST "
        "/_shim/route53/health/<id>` forced it failing. Healthy = endpoint OK XOR `Inverted`. "
        "Status texts: `Success: HTTP Status Code 200, OK`, `Failure: HTTP Status Code 503, "
        "Service Unavailable`, and with `Inverted` the same with ` (inverted health check)` "
        "appended (`Failure: HTTP Status Code 200, OK (inverted health check)`; forced failing + "
        "inverted → `Success: HTTP Status Code 503, Service Unavailable (inverted health check)`). "
        "TCP checks say `TCP connection established.` / `Connection timed out.`. `Disabled` is "
        "always healthy. CALCULATED: healthy when at least `HealthThreshold` children are (no "
        "observations). The change is seen at once (AWS needs `FailureThreshold` × "
        "`RequestInterval` seconds). GetHealthCheckLastFailureReason: the same observations while "
        "the check fails, `[]` while it is healthy. Only the `Success:`/`Failure:` prefix is AWS's "
        "wording for sure."
    ),
)
def health_check_status() -> None:
    from moto.core.responses import ActionResult
    from moto.route53 import urls
    from moto.route53.responses import Route53 as R

    def get_health_check_status(self) -> ActionResult:
        """R2: observations follow the check's health (Inverted, /_shim/route53/health)."""
        hc = self.backend.get_health_check(self._get_param("HealthCheckId"))
        return ActionResult({"HealthCheckObservations": r53_observations(self.backend, hc)})

    def get_health_check_last_failure_reason(self) -> ActionResult:
        """R2: (moto: 404) the failing observations; none while the check is healthy."""
        hc = self.backend.get_health_check(self._get_param("HealthCheckId"))
        failing = not r53_health(self.backend, hc)[0]
        return ActionResult({"HealthCheckObservations": r53_observations(self.backend, hc)
                             if failing else []})

    R.get_health_check_status = get_health_check_status
    R.get_health_check_last_failure_reason = get_health_check_last_failure_reason
    urls.url_paths.update({
        r"{0}/(?P<api_version>[\d_-]+)/healthcheck/(?P<health_check_id>[^/]+)/lastfailurereason$": R.dispatch,
    })


@patch(
    "R3", "route53",
    moto="TestDNSAnswer → 404.",
    emulator=(
        "`GET /2013-04-01/testdnsanswer?hostedzoneid=&recordname=&recordtype=` answers "
        "`TestDNSAnswerResponse {Nameserver (the zone's first name server, ns-2048.awsdns-64.com), "
        "RecordName and RecordType as asked, RecordData/RecordDataEntry*, ResponseCode, Protocol "
        "\"UDP\"}`. Resolution starts at recordname/recordtype: among the record sets there, a "
        "failover pair answers with the PRIMARY if it is healthy, else the SECONDARY if that is "
        "healthy, else the PRIMARY (AWS treats \"all unhealthy\" as \"all healthy\"); other "
        "routing policies take the first healthy record set (no weights, latency or geo). A record "
        "set is healthy when its `HealthCheckId` check is (R2; no check, or an id that no longer "
        "exists, counts as healthy) and, if it is an alias with `EvaluateTargetHealth` to a record "
        "in the same zone (alias `HostedZoneId` = this zone), that name has a healthy record set "
        "of the type. An alias to a record of the zone is followed (up to 8 hops, then "
        "`SERVFAIL`); **an alias to anything else (ALB, S3 website endpoint, CloudFront) answers "
        "its `DNSName` as stored, without the trailing dot**, where real Route 53 answers the IP "
        "addresses of that endpoint; a plain record answers its values. No record of any type at "
        "the name → `NXDOMAIN` with no data; the name exists but not the type → `NOERROR` with no "
        "data. Unknown zone → `NoSuchHostedZone` (404). `resolverip` and `edns0clientsubnet*` are "
        "ignored."
    ),
)
def test_dns_answers() -> None:
    from moto.core.responses import ActionResult
    from moto.route53 import urls
    from moto.route53.responses import Route53 as R

    def test_dns_answer_response(self) -> ActionResult:
        """R3: (moto: 404) the answer Route 53 would give for the record, failover and
        aliases within the zone followed."""
        zone = self.backend.get_hosted_zone(self._get_param("HostedZoneId"))
        name, rtype = self._get_param("RecordName"), self._get_param("RecordType")
        code, data = test_dns_answer(self.backend, zone, name, rtype)
        return ActionResult({
            "Nameserver": zone.delegation_set.name_servers[0] if zone.delegation_set
            else "ns-2048.awsdns-64.com",
            "RecordName": name, "RecordType": rtype, "RecordData": data,
            "ResponseCode": code, "Protocol": "UDP"})

    R.test_dns_answer = test_dns_answer_response
    urls.url_paths.update({
        r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$": R.dispatch,
    })


@patch(
    "R4", "route53",
    moto=(
        "UpdateHealthCheck sets `Regions` and `ChildHealthChecks` to none when the request does "
        "not name them; `HealthCheckVersion` stays 1; `ResetElements` is ignored."
    ),
    emulator=(
        "Fields the request does not name keep their value; `ResetElements` resets "
        "`FullyQualifiedDomainName`, `Regions` (back to the default set), `ResourcePath`, "
        "`ChildHealthChecks`; every update adds 1 to `HealthCheckVersion`. (`Inverted`, "
        "`ResourcePath`, `FullyQualifiedDomainName`, `Port`, `FailureThreshold`, `EnableSNI`, "
        "`Disabled` were already updated by moto.)"
    ),
)
def update_health_check_keeps_fields() -> None:
    from moto.core.responses import ActionResult
    from moto.route53.responses import Route53 as R

    orig_update_health_check = R.update_health_check

    def update_health_check(self) -> ActionResult:
        """R4: fields UpdateHealthCheck does not name stay as they are (moto drops Regions and
        ChildHealthChecks), ResetElements resets, HealthCheckVersion counts the updates."""
        hc = self.backend.get_health_check(self._get_param("HealthCheckId"))
        kept = {"Regions": hc.regions, "ChildHealthChecks": hc.children}
        result = orig_update_health_check(self)
        for param, attr in (("Regions", "regions"), ("ChildHealthChecks", "children")):
            if not self._get_param(param):
                setattr(hc, attr, kept[param])
        resets = {"FullyQualifiedDomainName": "fqdn", "Regions": "regions",
                  "ResourcePath": "resource_path", "ChildHealthChecks": "children"}
        for element in self._get_param("ResetElements") or []:
            setattr(hc, resets[element], None)
        hc.health_check_version += 1
        return result

    R.update_health_check = update_health_check
