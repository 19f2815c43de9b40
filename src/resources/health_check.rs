//! `aws_route53_health_check`: one per region, against that region's load balancer. Route 53
//! sees a region as down when its check fails, and the failover records send users elsewhere.
//!
//! Global: lowered once from the whole model. Every field is sent on update (an update that
//! leaves one out resets it on some emulators); the type and the request interval cannot change
//! in place. `inverted` is always false in the spec: `ballast drill` sets it for a while, and a
//! deploy after an interrupted drill resets it.

use async_trait::async_trait;
use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType, Tag, TagResourceType};

use super::common::{b, i, ignore_missing, retry_in_use, s};
use super::route53::{self, FoundCheck, TAG_DNS, TAG_REGION, TAG_ZONE};
use crate::aws::{Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::names::{TAG_RESOURCE, TAG_STACK};
use crate::spec::View;

pub struct HealthCheck;

pub const KIND: &str = "aws_route53_health_check";

/// The logical id of a region's health check.
pub use super::route53::check_id as id;

/// At most 10 tags per health check: ballast's six, then the user's tags while they fit.
const MAX_TAGS: usize = 10;
const OWN_TAGS: usize = 6;

#[async_trait]
impl Kind<Clients> for HealthCheck {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["route53:ListHealthChecks", "route53:ListTagsForResources"],
            write_any: &[
                "route53:CreateHealthCheck",
                "route53:UpdateHealthCheck",
                "route53:DeleteHealthCheck",
                "route53:ChangeTagsForResource",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::load_balancer::KIND]
    }

    fn global(&self) -> bool {
        true
    }

    fn region_of(&self, o: &Observed) -> Option<String> {
        o.outputs.get("region").cloned()
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(dns) = &v.stack.dns else {
            return Vec::new();
        };
        let https = v.stack.load_balancer.https();
        v.stack
            .regions
            .iter()
            .map(|r| {
                let mut n = Node::new(KIND, id(r), v.names().health_check(r))
                    .attr("type", if https { "HTTPS" } else { "HTTP" })
                    .attr(
                        "fqdn",
                        Value::reference_in(r, super::load_balancer::ID, "dns_name"),
                    )
                    .attr("port", v.stack.load_balancer.port)
                    .attr("resource_path", dns.health_check.path.as_str())
                    .attr("request_interval", dns.health_check.interval)
                    .attr("failure_threshold", dns.health_check.failure_threshold)
                    .attr("inverted", false)
                    .attr("enable_sni", https)
                    .attr("region", r.as_str())
                    .attr("zone", dns.zone.as_str())
                    .attr("record", dns.name.as_str())
                    // The user's tags that fit beside ballast's six (in key order).
                    .attr(
                        "tags",
                        Value::Map(
                            v.stack
                                .tags
                                .iter()
                                .take(MAX_TAGS - OWN_TAGS)
                                .map(|(k, v)| (k.clone(), Value::str(v)))
                                .collect(),
                        ),
                    )
                    // Its ownership tags are on it (see `route53`: a create that stopped before
                    // tagging leaves a check the next deploy tags).
                    .attr("tagged", true)
                    .force_new(&["type", "request_interval", "region"]);
                // Ownership data, kept in tags: written on create only.
                n.ignore_drift
                    .push(("zone", "kept in a tag; set when created".into()));
                n.ignore_drift
                    .push(("record", "kept in a tag; set when created".into()));
                n
            })
            .collect()
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        // Health checks have no names, so nothing of another owner can be mistaken for one.
        let found = route53::checks_for(c, stack, !desired.is_empty()).await?;
        Ok(found.iter().map(observe).collect())
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let region = s(attrs, "region")?;
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        // Unique per create: Route 53 refuses a caller reference once used, even after a delete.
        let caller = format!("{}{region}/{nonce}", route53::caller_prefix(&stack.name));
        let r = c
            .route53
            .create_health_check()
            .caller_reference(&caller)
            .health_check_config(config(attrs)?)
            .send()
            .await
            .ctx(|| format!("create health check {}", node.name))?;
        let hc = r
            .health_check()
            .ok_or("CreateHealthCheck returned no health check")?;
        let id = hc.id().to_string();
        // Route 53 tags health checks in a second call. A run stopped before it leaves a check
        // with only its caller reference to say whose it is; the next discovery finds it by
        // that (`route53::checks`) and the next deploy tags it (`tagged`).
        tag(c, stack, node, attrs, &id).await?;
        Ok(outputs(&id, region))
    }

    async fn update(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
        cur: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        if changed.iter().any(|a| a == "tagged") {
            tag(c, stack, node, attrs, &cur.physical_id).await?;
        }
        if changed.iter().any(|a| a != "tagged") {
            update(c, &cur.physical_id, &node.name, attrs).await?;
        }
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        // A record that still names the check keeps it in use until its change is in sync.
        let r = retry_in_use(IN_USE, || async {
            c.route53
                .delete_health_check()
                .health_check_id(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("delete health check {}", cur.name))
        })
        .await;
        ignore_missing(r)
    }
}

fn outputs(id: &str, region: &str) -> Outputs {
    Outputs::from([
        ("id".into(), id.to_string()),
        ("region".into(), region.to_string()),
    ])
}

fn config(attrs: &Attrs) -> Result<HealthCheckConfig, BoxError> {
    Ok(HealthCheckConfig::builder()
        .r#type(HealthCheckType::from(s(attrs, "type")?))
        .fully_qualified_domain_name(s(attrs, "fqdn")?)
        .port(i(attrs, "port")?)
        .resource_path(s(attrs, "resource_path")?)
        .request_interval(i(attrs, "request_interval")?)
        .failure_threshold(i(attrs, "failure_threshold")?)
        .inverted(b(attrs, "inverted"))
        .enable_sni(b(attrs, "enable_sni"))
        .build()?)
}

/// Write a check's tags: ballast's six (the stack, the resource, its name, region, zone and
/// record), then the user's while they fit.
async fn tag(
    c: &Clients,
    stack: &StackRef,
    node: &Node,
    attrs: &Attrs,
    id: &str,
) -> Result<(), BoxError> {
    let mut tags = vec![
        (TAG_STACK.to_string(), stack.name.clone()),
        (TAG_RESOURCE.to_string(), node.id.clone()),
        ("Name".to_string(), node.name.clone()),
        (TAG_REGION.to_string(), s(attrs, "region")?.to_string()),
        (TAG_ZONE.to_string(), s(attrs, "zone")?.to_string()),
        (TAG_DNS.to_string(), s(attrs, "record")?.to_string()),
    ];
    for (k, v) in &stack.tags {
        if tags.len() < MAX_TAGS {
            tags.push((k.clone(), v.clone()));
        }
    }
    c.route53
        .change_tags_for_resource()
        .resource_type(TagResourceType::Healthcheck)
        .resource_id(id)
        .set_add_tags(Some(
            tags.into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .ctx(|| format!("tag health check {}", node.name))?;
    Ok(())
}

/// UpdateHealthCheck with every field that can change in place.
pub async fn update(c: &Clients, id: &str, name: &str, attrs: &Attrs) -> Result<(), BoxError> {
    c.route53
        .update_health_check()
        .health_check_id(id)
        .fully_qualified_domain_name(s(attrs, "fqdn")?)
        .port(i(attrs, "port")?)
        .resource_path(s(attrs, "resource_path")?)
        .failure_threshold(i(attrs, "failure_threshold")?)
        .inverted(b(attrs, "inverted"))
        .enable_sni(b(attrs, "enable_sni"))
        .send()
        .await
        .ctx(|| format!("update health check {name}"))?;
    Ok(())
}

/// A found check, normalized to the node's attributes.
pub fn observe(f: &FoundCheck) -> Observed {
    let cfg = f.check.health_check_config();
    let region = f.tag(TAG_REGION).unwrap_or_default().to_string();
    let opt_i = |v: Option<i32>| Value::from(v.map(i64::from));
    let attrs = Attrs::from([
        (
            "tags".into(),
            Value::Map(
                f.tags
                    .iter()
                    .filter(|(k, _)| super::common::is_user_tag(k))
                    .map(|(k, v)| (k.clone(), Value::str(v)))
                    .collect(),
            ),
        ),
        (
            "type".into(),
            Value::opt_str(cfg.map(|c| c.r#type().as_str())),
        ),
        (
            "fqdn".into(),
            Value::opt_str(
                cfg.and_then(|c| c.fully_qualified_domain_name())
                    .map(|n| n.trim_end_matches('.')),
            ),
        ),
        ("port".into(), opt_i(cfg.and_then(|c| c.port()))),
        (
            "resource_path".into(),
            Value::opt_str(cfg.and_then(|c| c.resource_path())),
        ),
        (
            "request_interval".into(),
            opt_i(cfg.and_then(|c| c.request_interval())),
        ),
        (
            "failure_threshold".into(),
            opt_i(cfg.and_then(|c| c.failure_threshold())),
        ),
        (
            "inverted".into(),
            Value::Bool(cfg.and_then(|c| c.inverted()).unwrap_or(false)),
        ),
        (
            "enable_sni".into(),
            Value::Bool(cfg.and_then(|c| c.enable_sni()).unwrap_or(false)),
        ),
        ("region".into(), Value::str(region.as_str())),
        ("tagged".into(), Value::Bool(f.tagged)),
        ("zone".into(), Value::opt_str(f.tag(TAG_ZONE))),
        ("record".into(), Value::opt_str(f.tag(TAG_DNS))),
    ]);
    Observed {
        id: f.tag(TAG_RESOURCE).unwrap_or_default().to_string(),
        kind: KIND,
        physical_id: f.id().to_string(),
        name: f.tag("Name").unwrap_or(f.id()).to_string(),
        attrs,
        outputs: outputs(f.id(), &region),
        owned: true,
    }
}

/// `Kind::retag`: see there.
fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a std::collections::BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        let add: Vec<Tag> = set
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        c.route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Healthcheck)
            .resource_id(&cur.physical_id)
            .set_add_tags((!add.is_empty()).then_some(add))
            .set_remove_tag_keys((!remove.is_empty()).then(|| remove.to_vec()))
            .send()
            .await
            .ctx(|| format!("tag health check {}", cur.name))?;
        Ok(())
    })
}
