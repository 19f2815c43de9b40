//! `aws_route53_record`: the failover alias records users resolve.
//!
//! - `record.primary`: the name, PRIMARY, aliasing the primary region's load balancer, with
//!   that region's health check.
//! - `record.secondary`: the name, SECONDARY: the second region's load balancer (with its
//!   health check); with a fallback page and two regions, an alias to a second failover pair
//!   (`<stack>-failover.<name>`: `record.failover-primary` = the second region,
//!   `record.failover-secondary` = the fallback page); with one region, the fallback page.
//!   The fallback page is the S3 website, or with `fallback.certificate_arn` the CloudFront
//!   distribution in front of it (`cdn.rs`).
//!
//! So traffic goes primary -> secondary -> fallback page. Route 53 records carry no tags: a
//! record is the stack's when its SetIdentifier is one ballast derives from the stack
//! (`<stack>/<region>`, `<stack>/failover`, `<stack>/fallback`). Any other A record of the same
//! name is refused, like a look-alike. Changes are CREATE (fails if the record appeared since
//! the plan), UPSERT of an owned record, and DELETE with the exact values Route 53 has; each
//! waits until the change is INSYNC.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecordSet,
    ResourceRecordSetFailover, RrType,
};

use super::common::{b, s, wait_until};
use super::route53::{self, norm_name, TAG_DNS, TAG_ZONE};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, StackRef, Value};
use crate::spec::{Names, View};

pub struct Record;

pub const KIND: &str = "aws_route53_record";
pub const PRIMARY: &str = "record.primary";
pub const SECONDARY: &str = "record.secondary";
pub const FAILOVER_PRIMARY: &str = "record.failover-primary";
pub const FAILOVER_SECONDARY: &str = "record.failover-secondary";

/// `alias_zone` of an alias to another record of the same hosted zone.
pub const THIS_ZONE: &str = "(this zone)";

/// How long a change may take to reach every Route 53 name server (usually under a minute).
const INSYNC_LIMIT: Duration = Duration::from_secs(600);

/// The name of the second failover pair (second region, then the fallback page).
fn failover_name(stack: &str, name: &str) -> String {
    Names::new(stack, "").secondary_record(name)
}

fn set_identifier(stack: &str, what: &str) -> String {
    Names::new(stack, "").set_identifier(what)
}

#[async_trait]
impl Kind<Clients> for Record {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "route53:ListHostedZonesByName",
                "route53:ListResourceRecordSets",
                "route53:GetChange",
            ],
            write_any: &["route53:ChangeResourceRecordSets"],
            ..Iam::default()
        }
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            super::health_check::KIND,
            super::load_balancer::KIND,
            super::fallback::KIND,
            super::cdn::KIND,
        ]
    }

    fn global(&self) -> bool {
        true
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(dns) = &v.stack.dns else {
            return Vec::new();
        };
        let stack = &v.stack.name;
        let record = |id: &str, name: &str, what: &str, failover: &str| {
            Node::new(KIND, id, format!("{name} {failover}"))
                .attr("zone", dns.zone.as_str())
                .attr("record_name", name)
                .attr("type", "A")
                .attr("set_identifier", set_identifier(stack, what))
                .attr("failover", failover)
                .force_new(&["zone", "record_name", "type", "set_identifier"])
        };
        let to_region = |n: Node, r: &str| {
            n.attr(
                "alias_dns_name",
                Value::reference_in(r, super::load_balancer::ID, "dns_name"),
            )
            .attr(
                "alias_zone",
                Value::reference_in(r, super::load_balancer::ID, "zone_id"),
            )
            .attr("evaluate_target_health", true)
            .attr(
                "health_check_id",
                Value::reference(&super::health_check::id(r), "id"),
            )
        };
        // The page over HTTPS (CloudFront) with a certificate, else the S3 website (HTTP).
        let https = dns
            .fallback
            .as_ref()
            .is_some_and(|f| f.certificate_arn.is_some());
        let (page, page_dns, page_zone) = if https {
            (super::cdn::ID, "domain_name", "zone_id")
        } else {
            (super::fallback::ID, "website_endpoint", "website_zone_id")
        };
        let to_fallback = |n: Node| {
            n.attr("alias_dns_name", Value::reference(page, page_dns))
                .attr("alias_zone", Value::reference(page, page_zone))
                .attr("evaluate_target_health", false)
                .attr("health_check_id", Value::Null)
        };
        let name = dns.name.as_str();
        let pair = failover_name(stack, name);
        let mut out = vec![to_region(
            record(PRIMARY, name, &v.stack.regions[0], "PRIMARY"),
            &v.stack.regions[0],
        )];
        match (v.stack.secondary(), dns.fallback.is_some()) {
            (Some(r2), false) => out.push(to_region(record(SECONDARY, name, r2, "SECONDARY"), r2)),
            (Some(r2), true) => {
                out.push(
                    record(SECONDARY, name, "failover", "SECONDARY")
                        .attr("alias_dns_name", pair.as_str())
                        .attr("alias_zone", THIS_ZONE)
                        .attr("evaluate_target_health", true)
                        .attr("health_check_id", Value::Null)
                        // An alias to a name of the zone needs that name to exist (Route 53
                        // refuses the change otherwise): the pair goes first.
                        .after(FAILOVER_PRIMARY)
                        .after(FAILOVER_SECONDARY),
                );
                out.push(to_region(
                    record(FAILOVER_PRIMARY, &pair, r2, "PRIMARY"),
                    r2,
                ));
                out.push(to_fallback(record(
                    FAILOVER_SECONDARY,
                    &pair,
                    "fallback",
                    "SECONDARY",
                )));
            }
            (None, true) => out.push(to_fallback(record(
                SECONDARY,
                name,
                "fallback",
                "SECONDARY",
            ))),
            (None, false) => {}
        }
        out
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        // The (zone, name) pairs the stack has or had: from the spec, and from the tags of the
        // stack's health checks (so records are found after `dns:` left the spec).
        let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
        for n in desired {
            wanted.insert((
                s(&n.attrs, "zone")?.to_string(),
                norm_name(s(&n.attrs, "record_name")?),
            ));
        }
        for f in route53::checks_for(c, stack, !desired.is_empty())
            .await?
            .iter()
        {
            if let (Some(z), Some(d)) = (f.tag(TAG_ZONE), f.tag(TAG_DNS)) {
                wanted.insert((z.to_string(), norm_name(d)));
                wanted.insert((z.to_string(), norm_name(&failover_name(&stack.name, d))));
            }
        }
        let prefix = set_identifier(&stack.name, "");
        let mut out = Vec::new();
        for (zone, name) in &wanted {
            let zone_id = route53::zone_id(c, zone).await?;
            for rrs in records_named(c, &zone_id, name).await? {
                let owned = rrs
                    .set_identifier()
                    .is_some_and(|id| id.starts_with(&prefix));
                if owned {
                    out.push(observe(&rrs, zone, &zone_id, &stack.name));
                } else {
                    // Someone else's record of this name: every node of the name conflicts.
                    for n in desired.iter().filter(|n| {
                        n.attrs
                            .get("record_name")
                            .and_then(Value::as_str)
                            .map(norm_name)
                            .as_deref()
                            == Some(name.as_str())
                    }) {
                        let mut o = observe(&rrs, zone, &zone_id, &stack.name);
                        o.id = n.id.clone();
                        o.owned = false;
                        o.physical_id = format!(
                            "{} {} {}",
                            name,
                            rrs.r#type().as_str(),
                            rrs.set_identifier().unwrap_or("(no set identifier)")
                        );
                        out.push(o);
                    }
                }
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let zone = s(attrs, "zone")?;
        let zone_id = route53::zone_id(c, zone).await?;
        let rrs = record_set(attrs, &zone_id)?;
        change(c, &zone_id, ChangeAction::Create, rrs, &node.name).await?;
        Ok(outputs(attrs, &zone_id))
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
        _: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        let zone_id = route53::zone_id(c, s(attrs, "zone")?).await?;
        let rrs = record_set(attrs, &zone_id)?;
        change(c, &zone_id, ChangeAction::Upsert, rrs, &node.name).await?;
        Ok(outputs(attrs, &zone_id))
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        // Exactly the values Route 53 has (kept in the outputs as read).
        let zone_id = cur
            .outputs
            .get("zone_id")
            .ok_or("internal error: record without its zone")?;
        let mut attrs = cur.attrs.clone();
        for k in ["alias_dns_name", "alias_zone"] {
            if let Some(raw) = cur.outputs.get(&format!("raw_{k}")) {
                attrs.insert(k.into(), Value::str(raw.as_str()));
            }
        }
        let rrs = record_set(&attrs, zone_id)?;
        change(c, zone_id, ChangeAction::Delete, rrs, &cur.name).await
    }
}

fn outputs(attrs: &Attrs, zone_id: &str) -> Outputs {
    let get = |k: &str| {
        attrs
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Outputs::from([
        ("zone_id".into(), zone_id.to_string()),
        ("fqdn".into(), get("record_name")),
        ("raw_alias_dns_name".into(), get("alias_dns_name")),
        (
            "raw_alias_zone".into(),
            match get("alias_zone") {
                z if z == THIS_ZONE => zone_id.to_string(),
                z => z,
            },
        ),
    ])
}

/// The A records of exactly `name` in the zone.
async fn records_named(
    c: &Clients,
    zone_id: &str,
    name: &str,
) -> Result<Vec<ResourceRecordSet>, BoxError> {
    let mut out = Vec::new();
    let mut start: Option<(String, RrType, Option<String>)> =
        Some((name.to_string(), RrType::A, None));
    // Bounded: a name has at most a handful of A records (failover pairs, weights).
    for _ in 0..20 {
        let Some((n, t, id)) = start.take() else {
            break;
        };
        let r = c
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(n)
            .start_record_type(t)
            .set_start_record_identifier(id)
            .send()
            .await
            .ctx(|| format!("list records {name}"))?;
        let mut past = false;
        for rrs in r.resource_record_sets() {
            if norm_name(rrs.name()) == name && rrs.r#type() == &RrType::A {
                out.push(rrs.clone());
            } else if norm_name(rrs.name()) != name || rrs.r#type() != &RrType::A {
                past = true;
            }
        }
        if r.is_truncated() && !past {
            if let (Some(n), Some(t)) = (r.next_record_name(), r.next_record_type()) {
                start = Some((
                    n.to_string(),
                    t.clone(),
                    r.next_record_identifier().map(str::to_string),
                ));
            }
        }
    }
    Ok(out)
}

/// A record set as the node's attributes, normalized: names lowercase without the trailing
/// dot; an alias to the record's own zone as `THIS_ZONE`.
fn observe(rrs: &ResourceRecordSet, zone: &str, zone_id: &str, stack: &str) -> Observed {
    let alias = rrs.alias_target();
    let alias_zone = alias.map(|a| route53::bare_zone_id(a.hosted_zone_id()).to_string());
    let set_id = rrs.set_identifier().unwrap_or_default().to_string();
    let failover = rrs.failover().map(|f| f.as_str().to_string());
    let name = norm_name(rrs.name());
    let in_pair = name.starts_with(&failover_name(stack, ""));
    let id = match (in_pair, failover.as_deref()) {
        (false, Some("PRIMARY")) => PRIMARY,
        (false, _) => SECONDARY,
        (true, Some("PRIMARY")) => FAILOVER_PRIMARY,
        (true, _) => FAILOVER_SECONDARY,
    };
    let attrs = Attrs::from([
        ("zone".into(), Value::str(zone)),
        ("record_name".into(), Value::str(name.as_str())),
        ("type".into(), Value::str(rrs.r#type().as_str())),
        ("set_identifier".into(), Value::str(set_id.as_str())),
        ("failover".into(), Value::opt_str(failover.clone())),
        (
            "alias_dns_name".into(),
            Value::opt_str(alias.map(|a| norm_name(a.dns_name()))),
        ),
        (
            "alias_zone".into(),
            Value::opt_str(alias_zone.as_deref().map(|z| {
                if z == zone_id {
                    THIS_ZONE.to_string()
                } else {
                    z.to_string()
                }
            })),
        ),
        (
            "evaluate_target_health".into(),
            Value::Bool(alias.is_some_and(|a| a.evaluate_target_health())),
        ),
        (
            "health_check_id".into(),
            Value::opt_str(rrs.health_check_id()),
        ),
    ]);
    let mut outputs = Outputs::from([
        ("zone_id".into(), zone_id.to_string()),
        ("fqdn".into(), name.clone()),
    ]);
    if let Some(a) = alias {
        outputs.insert("raw_alias_dns_name".into(), a.dns_name().to_string());
        outputs.insert("raw_alias_zone".into(), a.hosted_zone_id().to_string());
    }
    Observed {
        id: id.into(),
        kind: KIND,
        physical_id: format!("{name} A {set_id}"),
        name: format!("{name} {}", failover.unwrap_or_default()),
        attrs,
        outputs,
        owned: true,
    }
}

fn record_set(attrs: &Attrs, zone_id: &str) -> Result<ResourceRecordSet, BoxError> {
    let alias_zone = match s(attrs, "alias_zone")? {
        THIS_ZONE => zone_id,
        z => z,
    };
    let alias = AliasTarget::builder()
        .hosted_zone_id(alias_zone)
        .dns_name(s(attrs, "alias_dns_name")?)
        .evaluate_target_health(b(attrs, "evaluate_target_health"))
        .build()?;
    Ok(ResourceRecordSet::builder()
        .name(s(attrs, "record_name")?)
        .r#type(RrType::from(s(attrs, "type")?))
        .set_identifier(s(attrs, "set_identifier")?)
        .failover(ResourceRecordSetFailover::from(s(attrs, "failover")?))
        .alias_target(alias)
        .set_health_check_id(
            attrs
                .get("health_check_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        )
        .build()?)
}

/// One change, then wait until Route 53 has it on every name server.
async fn change(
    c: &Clients,
    zone_id: &str,
    action: ChangeAction,
    rrs: ResourceRecordSet,
    what: &str,
) -> Result<(), BoxError> {
    let verb = action.as_str().to_ascii_lowercase();
    let r = c
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(action)
                        .resource_record_set(rrs)
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await
        .ctx(|| format!("{verb} record {what}"))?;
    let id = r
        .change_info()
        .map(|i| i.id().to_string())
        .ok_or("ChangeResourceRecordSets returned no change")?;
    if r.change_info()
        .is_some_and(|i| i.status() == &ChangeStatus::Insync)
    {
        return Ok(());
    }
    wait_until(
        INSYNC_LIMIT,
        format!("record {what} not in sync"),
        || async {
            let r = c
                .route53
                .get_change()
                .id(&id)
                .send()
                .await
                .ctx(|| format!("get change {id}"))?;
            Ok(r.change_info()
                .is_some_and(|i| i.status() == &ChangeStatus::Insync))
        },
    )
    .await
}
