//! `aws_cloudfront_distribution`: the fallback page over HTTPS. With
//! `dns.fallback.certificate_arn`, a CloudFront distribution answers for `dns.name` with that
//! certificate (ACM, us-east-1) and fetches the page from the fallback bucket's S3 website (a
//! custom origin, HTTP only: S3 websites serve no HTTPS); the fallback record then aliases the
//! distribution instead of the S3 website.
//!
//! Global, like CloudFront. Distributions have no names: discovery lists them, keeps those
//! whose comment names the stack or whose aliases hold the stack's name, and proves ownership
//! by their tags (`CreateDistributionWithTags` tags on create). Another owner's distribution
//! with the alias is a conflict (CloudFront refuses one alias on two distributions anyway).
//! Updates send the whole configuration (`GetDistributionConfig` for the `ETag`, then
//! `UpdateDistribution` with `IfMatch`). A distribution must be disabled, and deployed so, before
//! CloudFront deletes it: delete disables it, waits until it is `Deployed` (minutes on AWS),
//! then deletes with the last `ETag`.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    Aliases, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
    DistributionConfigWithTags, MinimumProtocolVersion, Origin, OriginProtocolPolicy, Origins,
    PriceClass, SslSupportMethod, Tag, Tags, ViewerCertificate, ViewerProtocolPolicy,
};

use super::common::{b, ignore_missing, ownership, s, strs, tags_for, wait_until};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::View;

pub struct Cdn;

pub const KIND: &str = "aws_cloudfront_distribution";
pub const ID: &str = "cdn";

/// The Route 53 hosted zone id of every CloudFront distribution, for alias records. AWS
/// documents it as fixed ("Specify Z2FDTNDATAQYW2. This is always the hosted zone ID when you
/// create an alias record that routes traffic to a CloudFront distribution", Route 53 API
/// reference, `AliasTarget`); no API returns it.
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";

/// The origin's id inside the distribution.
const ORIGIN_ID: &str = "fallback-s3-website";
/// How long a distribution may take to deploy its disabled state before it can be deleted
/// (usually 5 to 15 minutes).
const DEPLOY_LIMIT: Duration = Duration::from_secs(30 * 60);
/// AWS's managed cache policy `Managed-CachingOptimized` (its id is the same in every
/// account, from the CloudFront developer guide's "Use managed cache policies").
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// What the comment of a stack's distribution starts with (the rest names the page's host).
fn comment_prefix(stack: &str) -> String {
    format!("ballast stack {stack}:")
}

#[async_trait]
impl Kind<Clients> for Cdn {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "cloudfront:ListDistributions",
                "cloudfront:GetDistribution",
                "cloudfront:GetDistributionConfig",
                "cloudfront:ListTagsForResource",
            ],
            write_any: &[
                "cloudfront:CreateDistribution",
                "cloudfront:UpdateDistribution",
                "cloudfront:DeleteDistribution",
                "cloudfront:TagResource",
                "cloudfront:UntagResource",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::fallback::KIND]
    }

    fn global(&self) -> bool {
        true
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(dns) = &v.stack.dns else {
            return Vec::new();
        };
        let Some(arn) = dns
            .fallback
            .as_ref()
            .and_then(|f| f.certificate_arn.as_ref())
        else {
            return Vec::new();
        };
        vec![Node::new(KIND, ID, v.names().fallback_distribution())
            .attr(
                "origin_domain",
                Value::reference(super::fallback::ID, "website_host"),
            )
            .attr("origin_protocol_policy", "http-only")
            .attr("aliases", Value::set([dns.name.as_str()]))
            .attr("certificate_arn", arn.as_str())
            .attr("ssl_support_method", "sni-only")
            .attr("minimum_protocol_version", "TLSv1.2_2021")
            .attr("viewer_protocol_policy", "redirect-to-https")
            .attr("default_root_object", "index.html")
            .attr("price_class", "PriceClass_100")
            .attr("enabled", true)
            .attr(
                "comment",
                format!(
                    "{} fallback page for {}",
                    comment_prefix(&v.stack.name),
                    dns.name
                ),
            )]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let aliases: Vec<String> = desired
            .iter()
            .flat_map(|n| strs(&n.attrs, "aliases"))
            .collect();
        let prefix = comment_prefix(&stack.name);
        let mut out = Vec::new();
        for d in list(c).await? {
            let theirs: Vec<&String> = d
                .aliases()
                .map(|a| a.items().iter().collect())
                .unwrap_or_default();
            let same_alias = theirs.iter().any(|a| aliases.contains(a));
            if !d.comment().starts_with(&prefix) && !same_alias {
                continue;
            }
            let tags = c
                .cloudfront
                .list_tags_for_resource()
                .resource(d.arn())
                .send()
                .await
                .ctx(|| format!("read tags of distribution {}", d.id()))?;
            let tags: Vec<(String, String)> = tags
                .tags()
                .map(|t| {
                    t.items()
                        .iter()
                        .map(|t| {
                            (
                                t.key().to_string(),
                                t.value().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let own = ownership(stack, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            // Another owner's distribution with the stack's name conflicts with the node.
            let conflict = same_alias && !desired.is_empty();
            if !own.owned && !conflict {
                continue;
            }
            let Some((cfg, _)) = config_of(c, d.id()).await? else {
                continue;
            };
            let mut o = observe(&cfg, d.id(), d.arn(), d.domain_name());
            o.attrs.insert("tags".into(), own.tags.clone());
            o.owned = own.owned;
            if own.owned {
                o.id = own.id.unwrap_or_else(|| ID.to_string());
                o.name = own.name.unwrap_or_else(|| d.id().to_string());
            } else {
                // Someone else's distribution answers for the name: the stack's node conflicts.
                o.id = desired[0].id.clone();
                o.name = format!(
                    "{} ({})",
                    d.id(),
                    theirs
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            out.push(o);
        }
        Ok(out)
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        // Unique per create: CloudFront refuses a caller reference it has seen.
        let caller = format!("ballast/{}/{}/{nonce}", stack.name, node.id);
        let tags: Vec<Tag> = tags_for(stack, node, true)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<_, _>>()?;
        let r = c
            .cloudfront
            .create_distribution_with_tags()
            .distribution_config_with_tags(
                DistributionConfigWithTags::builder()
                    .distribution_config(config(&caller, attrs)?)
                    .tags(Tags::builder().set_items(Some(tags)).build())
                    .build(),
            )
            .send()
            .await
            .ctx(|| format!("create distribution {}", node.name))?;
        let d = r
            .distribution()
            .ok_or("CreateDistributionWithTags returned no distribution")?;
        Ok(outputs(d.id(), d.arn(), d.domain_name()))
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
        cur: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        let id = cur.physical_id.as_str();
        let (old, etag) = config_of(c, id)
            .await?
            .ok_or_else(|| format!("distribution {id} of {} is gone", node.name))?;
        // The whole configuration, as the spec has it (the caller reference stays).
        let r = c
            .cloudfront
            .update_distribution()
            .id(id)
            .if_match(etag)
            .distribution_config(config(&old.caller_reference, attrs)?)
            .send()
            .await
            .ctx(|| format!("update distribution {}", node.name))?;
        let d = r
            .distribution()
            .ok_or("UpdateDistribution returned no distribution")?;
        Ok(outputs(d.id(), d.arn(), d.domain_name()))
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let id = cur.physical_id.as_str();
        let name = cur.name.as_str();
        let Some((mut cfg, etag)) = config_of(c, id).await? else {
            return Ok(());
        };
        if cfg.enabled {
            cfg.enabled = false;
            let r = c
                .cloudfront
                .update_distribution()
                .id(id)
                .if_match(etag)
                .distribution_config(cfg)
                .send()
                .await
                .ctx(|| format!("disable distribution {name}"));
            match r {
                Err(e) if e.is_not_found() => return Ok(()),
                r => r?,
            };
        }
        wait_until(
            DEPLOY_LIMIT,
            format!("distribution {name} ({id}) is not deployed disabled"),
            || async {
                let r = c
                    .cloudfront
                    .get_distribution()
                    .id(id)
                    .send()
                    .await
                    .ctx(|| format!("read distribution {name}"));
                match r {
                    Err(e) if e.is_not_found() => Ok(true),
                    r => Ok(r?.distribution().is_some_and(|d| d.status() == "Deployed")),
                }
            },
        )
        .await?;
        let r = c
            .cloudfront
            .get_distribution()
            .id(id)
            .send()
            .await
            .ctx(|| format!("read distribution {name}"));
        let etag = match r {
            Err(e) if e.is_not_found() => return Ok(()),
            r => r?.e_tag().unwrap_or_default().to_string(),
        };
        let r = c
            .cloudfront
            .delete_distribution()
            .id(id)
            .if_match(etag)
            .send()
            .await
            .ctx(|| format!("delete distribution {name}"));
        ignore_missing(r)
    }
}

/// Every distribution of the account (summaries), page by page.
async fn list(
    c: &Clients,
) -> Result<Vec<aws_sdk_cloudfront::types::DistributionSummary>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    // Bounded: 100 pages of 100 is far beyond the default quota of 200 distributions.
    for _ in 0..100 {
        let r = c
            .cloudfront
            .list_distributions()
            .set_marker(marker.clone())
            .send()
            .await
            .ctx(|| "list distributions".to_string())?;
        let Some(l) = r.distribution_list() else {
            break;
        };
        out.extend(l.items().iter().cloned());
        marker = l.next_marker().map(str::to_string);
        if !l.is_truncated() || marker.is_none() {
            break;
        }
    }
    Ok(out)
}

/// A distribution's configuration and its current `ETag`; `None` once it is gone.
async fn config_of(
    c: &Clients,
    id: &str,
) -> Result<Option<(DistributionConfig, String)>, AwsError> {
    let r = c
        .cloudfront
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .ctx(|| format!("read configuration of distribution {id}"));
    let r = match r {
        Err(e) if e.is_not_found() => return Ok(None),
        r => r?,
    };
    let etag = r.e_tag().unwrap_or_default().to_string();
    Ok(r.distribution_config().cloned().map(|cfg| (cfg, etag)))
}

fn outputs(id: &str, arn: &str, domain_name: &str) -> Outputs {
    Outputs::from([
        ("id".into(), id.to_string()),
        ("arn".into(), arn.to_string()),
        ("domain_name".into(), domain_name.to_string()),
        ("zone_id".into(), CLOUDFRONT_ZONE_ID.to_string()),
    ])
}

/// The whole distribution configuration from the node's attributes.
fn config(caller_reference: &str, attrs: &Attrs) -> Result<DistributionConfig, BoxError> {
    let aliases = strs(attrs, "aliases");
    let origin = Origin::builder()
        .id(ORIGIN_ID)
        .domain_name(s(attrs, "origin_domain")?)
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(OriginProtocolPolicy::from(s(
                    attrs,
                    "origin_protocol_policy",
                )?))
                .build()?,
        )
        .build()?;
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id(ORIGIN_ID)
        .viewer_protocol_policy(ViewerProtocolPolicy::from(s(
            attrs,
            "viewer_protocol_policy",
        )?))
        // AWS's managed cache policy: no query strings or cookies in the key, and the
        // page's own `Cache-Control` (max-age 60, set by the fallback kind) decides how long
        // edges keep it, so a changed page shows within a minute without an invalidation.
        .cache_policy_id(CACHING_OPTIMIZED)
        .compress(true)
        .build()?;
    Ok(DistributionConfig::builder()
        .caller_reference(caller_reference)
        .aliases(
            Aliases::builder()
                .quantity(aliases.len() as i32)
                .set_items(Some(aliases))
                .build()?,
        )
        .default_root_object(s(attrs, "default_root_object")?)
        .origins(Origins::builder().quantity(1).items(origin).build()?)
        .default_cache_behavior(behavior)
        .comment(s(attrs, "comment")?)
        .price_class(PriceClass::from(s(attrs, "price_class")?))
        .enabled(b(attrs, "enabled"))
        .viewer_certificate(
            ViewerCertificate::builder()
                .cloud_front_default_certificate(false)
                .acm_certificate_arn(s(attrs, "certificate_arn")?)
                .ssl_support_method(SslSupportMethod::from(s(attrs, "ssl_support_method")?))
                .minimum_protocol_version(MinimumProtocolVersion::from(s(
                    attrs,
                    "minimum_protocol_version",
                )?))
                .build(),
        )
        .build()?)
}

/// A distribution's configuration as the node's attributes.
fn observe(cfg: &DistributionConfig, id: &str, arn: &str, domain_name: &str) -> Observed {
    let origin = cfg.origins.as_ref().and_then(|o| {
        o.items()
            .iter()
            .find(|o| o.id() == ORIGIN_ID)
            .or_else(|| o.items().first())
    });
    let vc = cfg.viewer_certificate.as_ref();
    let attrs = Attrs::from([
        (
            "origin_domain".into(),
            Value::opt_str(origin.map(|o| o.domain_name())),
        ),
        (
            "origin_protocol_policy".into(),
            Value::opt_str(
                origin
                    .and_then(|o| o.custom_origin_config())
                    .map(|c| c.origin_protocol_policy().as_str()),
            ),
        ),
        (
            "aliases".into(),
            Value::set(
                cfg.aliases
                    .as_ref()
                    .map(|a| a.items().to_vec())
                    .unwrap_or_default(),
            ),
        ),
        (
            "certificate_arn".into(),
            Value::opt_str(vc.and_then(|v| v.acm_certificate_arn())),
        ),
        (
            "ssl_support_method".into(),
            Value::opt_str(vc.and_then(|v| v.ssl_support_method()).map(|m| m.as_str())),
        ),
        (
            "minimum_protocol_version".into(),
            Value::opt_str(
                vc.and_then(|v| v.minimum_protocol_version())
                    .map(|m| m.as_str()),
            ),
        ),
        (
            "viewer_protocol_policy".into(),
            Value::opt_str(
                cfg.default_cache_behavior
                    .as_ref()
                    .map(|d| d.viewer_protocol_policy().as_str()),
            ),
        ),
        (
            "default_root_object".into(),
            Value::opt_str(cfg.default_root_object.as_deref()),
        ),
        (
            "price_class".into(),
            Value::opt_str(cfg.price_class.as_ref().map(|p| p.as_str())),
        ),
        ("enabled".into(), Value::Bool(cfg.enabled)),
        ("comment".into(), Value::str(cfg.comment.as_str())),
    ]);
    Observed {
        id: ID.to_string(),
        kind: KIND,
        physical_id: id.to_string(),
        name: id.to_string(),
        attrs,
        outputs: outputs(id, arn, domain_name),
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
        let arn = cur.outputs.get("arn").unwrap_or(&cur.physical_id);
        if !set.is_empty() {
            let items = set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()?;
            c.cloudfront
                .tag_resource()
                .resource(arn)
                .tags(Tags::builder().set_items(Some(items)).build())
                .send()
                .await
                .ctx(|| format!("tag distribution {}", cur.physical_id))?;
        }
        if !remove.is_empty() {
            c.cloudfront
                .untag_resource()
                .resource(arn)
                .tag_keys(
                    aws_sdk_cloudfront::types::TagKeys::builder()
                        .set_items(Some(remove.to_vec()))
                        .build(),
                )
                .send()
                .await
                .ctx(|| format!("untag distribution {}", cur.physical_id))?;
        }
        Ok(())
    })
}
