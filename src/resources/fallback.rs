//! `aws_s3_bucket`: the fallback page users see when no region is healthy, served as an S3
//! website (HTTP) from the primary region. (The secondary would survive a primary region's
//! S3 outage, but then adding or removing the second region would move the bucket, and a
//! bucket name can take hours to become free again after a delete.)
//!
//! S3 serves a website by the Host header, so the bucket is named like the record users resolve
//! (`shop.example.com`). Global, like bucket names: lowered once, and its calls go to a client
//! for the bucket's region. Ownership: the bucket's tags. The page is `index.html` (also the
//! error document, so every path shows it); its SHA-256, kept in the object's metadata, tells
//! whether it changed.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ErrorDocument, IndexDocument,
    PublicAccessBlockConfiguration, Tag, Tagging, WebsiteConfiguration,
};
use sha2::{Digest, Sha256};

use super::common::{ignore_missing, ownership, s};
use super::route53::{self, TAG_DNS};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::View;

pub struct Fallback;

pub const KIND: &str = "aws_s3_bucket";
pub const ID: &str = "fallback";
const PAGE: &str = "index.html";
const META_SHA: &str = "sha256";
/// A changed page shows within a minute (CloudFront's managed policy follows the origin).
const PAGE_CACHE_CONTROL: &str = "max-age=60";

/// S3 website endpoints and their Route 53 hosted zone ids, from AWS's table of S3 endpoints:
/// there is no API for them. (Load balancers' zone ids, by contrast, are read from AWS.)
const WEBSITE_ENDPOINTS: &[(&str, &str, &str)] = &[
    (
        "us-east-1",
        "s3-website-us-east-1.amazonaws.com",
        "Z3AQBSTGFYJSTF",
    ),
    (
        "us-east-2",
        "s3-website.us-east-2.amazonaws.com",
        "Z2O1EMRO9K5GLX",
    ),
    (
        "us-west-1",
        "s3-website-us-west-1.amazonaws.com",
        "Z2F56UZL2M1ACD",
    ),
    (
        "us-west-2",
        "s3-website-us-west-2.amazonaws.com",
        "Z3BJ6K6RIION7M",
    ),
    (
        "ca-central-1",
        "s3-website.ca-central-1.amazonaws.com",
        "Z1QDHH18159H29",
    ),
    (
        "eu-west-1",
        "s3-website-eu-west-1.amazonaws.com",
        "Z1BKCTXD74EZPE",
    ),
    (
        "eu-west-2",
        "s3-website.eu-west-2.amazonaws.com",
        "Z3GKZC51ZF0DB4",
    ),
    (
        "eu-west-3",
        "s3-website.eu-west-3.amazonaws.com",
        "Z3R1K369G5AVDG",
    ),
    (
        "eu-central-1",
        "s3-website.eu-central-1.amazonaws.com",
        "Z21DNDUVLTQW6Q",
    ),
    (
        "eu-north-1",
        "s3-website.eu-north-1.amazonaws.com",
        "Z3BAZG2TWCNX0D",
    ),
    (
        "ap-south-1",
        "s3-website.ap-south-1.amazonaws.com",
        "Z11RGJOFQNVJUP",
    ),
    (
        "ap-northeast-1",
        "s3-website-ap-northeast-1.amazonaws.com",
        "Z2M4EHUR26P7ZW",
    ),
    (
        "ap-northeast-2",
        "s3-website.ap-northeast-2.amazonaws.com",
        "Z3W03O7B5YMIYP",
    ),
    (
        "ap-southeast-1",
        "s3-website-ap-southeast-1.amazonaws.com",
        "Z3O0J2DXBE1FTB",
    ),
    (
        "ap-southeast-2",
        "s3-website-ap-southeast-2.amazonaws.com",
        "Z1WCIGYICN2BYD",
    ),
    (
        "sa-east-1",
        "s3-website-sa-east-1.amazonaws.com",
        "Z7KQH4QJS55SO",
    ),
];

/// The region the fallback bucket lives in: the primary (the first of the stack's regions).
pub fn region_of(regions: &[String]) -> Option<&str> {
    regions.first().map(String::as_str)
}

/// The S3 website endpoint and its hosted zone id in `region`.
pub fn website_endpoint(region: &str) -> Option<(&'static str, &'static str)> {
    WEBSITE_ENDPOINTS
        .iter()
        .find(|(r, _, _)| *r == region)
        .map(|(_, e, z)| (*e, *z))
}

pub fn sha256_hex(body: &str) -> String {
    Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A policy that lets anyone read the page (an S3 website serves public objects only); with
/// `protect`, nobody may delete the bucket.
fn policy(bucket: &str, protect: bool) -> serde_json::Value {
    let mut statements = vec![serde_json::json!({
        "Sid": "BallastFallbackPage",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
    })];
    if protect {
        statements.push(serde_json::json!({
            "Sid": "BallastProtect",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteBucket",
            "Resource": format!("arn:aws:s3:::{bucket}"),
        }));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

/// What a bucket policy says, as (public_read, protect): the page readable by anyone, and the
/// bucket not deletable. A statement ballast does not write is drift: both read as false, so
/// the next deploy writes the policy whole again.
fn read_policy(text: Option<&str>, bucket: &str) -> (bool, bool) {
    let doc = text.and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok());
    let statements = doc
        .as_ref()
        .and_then(|d| d["Statement"].as_array().cloned())
        .unwrap_or_default();
    let ours = policy(bucket, true)["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if statements.iter().any(|s| !ours.contains(s)) {
        return (false, false);
    }
    (statements.contains(&ours[0]), statements.contains(&ours[1]))
}

/// A client for the bucket's region.
fn client(c: &Clients, region: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        c.s3.config()
            .to_builder()
            .region(aws_sdk_s3::config::Region::new(region.to_string()))
            .build(),
    )
}

#[async_trait]
impl Kind<Clients> for Fallback {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "s3:GetBucketLocation",
                "s3:GetBucketPolicy",
                "s3:GetBucketTagging",
                "s3:GetBucketWebsite",
                "s3:GetBucketPublicAccessBlock",
                "s3:ListBucket",
                "s3:GetObject",
            ],
            write: &[
                "s3:CreateBucket",
                "s3:TagResource",
                "s3:DeleteBucket",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
                "s3:PutBucketTagging",
                "s3:PutBucketWebsite",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutObject",
                "s3:DeleteObject",
            ],
            arns: &["arn:aws:s3:::{name}", "arn:aws:s3:::{name}/*"],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(retag)
    }

    fn global(&self) -> bool {
        true
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(dns) = &v.stack.dns else {
            return Vec::new();
        };
        let Some(page) = &dns.fallback else {
            return Vec::new();
        };
        let region = region_of(&v.stack.regions).expect("a model has a region");
        let mut node = Node::new(KIND, ID, v.names().fallback_bucket(&dns.name))
            .attr("region", region)
            .attr("website_index", PAGE)
            .attr("public_read", true)
            .attr("protect", page.protect)
            .attr("page_sha256", sha256_hex(&page.body))
            .attr("page", page.file.as_str())
            .force_new(&["region"]);
        node.data.insert("page_body".into(), page.body.clone());
        vec![node]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        // The bucket is named like the record: from the spec, or from the tags of the stack's
        // health checks (so it is found after `dns:` or `fallback:` left the spec).
        let mut names: Vec<String> = desired.iter().map(|n| n.name.clone()).collect();
        for f in route53::checks_for(c, stack, !desired.is_empty())
            .await?
            .iter()
        {
            if let Some(d) = f.tag(TAG_DNS) {
                names.push(route53::norm_name(d));
            }
        }
        names.sort();
        names.dedup();
        let mut out = Vec::new();
        for name in names {
            if let Some(o) = observe(c, stack, &name, desired).await? {
                out.push(o);
            }
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
        let region = s(attrs, "region")?;
        let s3 = client(c, region);
        let bucket = node.name.as_str();
        let tags: Vec<Tag> = super::common::tags_for(stack, node, false)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<_, _>>()?;
        // Tagged as it is made (CreateBucket's `Tags`): a run killed right after the create
        // leaves a bucket the next run knows for the stack's, not a stranger of the same name.
        let mut config = CreateBucketConfiguration::builder().set_tags(Some(tags));
        if region != "us-east-1" {
            config = config.location_constraint(BucketLocationConstraint::from(region));
        }
        s3.create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(config.build())
            .send()
            .await
            .ctx(|| format!("create bucket {bucket}"))?;
        configure(&s3, bucket, attrs, node).await?;
        outputs(bucket, region)
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
        let region = s(attrs, "region")?;
        configure(&client(c, region), &node.name, attrs, node).await?;
        outputs(&node.name, region)
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let region = cur
            .outputs
            .get("region")
            .map(String::as_str)
            .unwrap_or("us-east-1");
        let s3 = client(c, region);
        let bucket = cur.physical_id.as_str();
        if cur.attrs.get("protect").and_then(Value::as_bool) == Some(true) {
            return Err(format!(
                "bucket {bucket} is protected (its policy denies s3:DeleteBucket); deploy with `protect: false` first"
            )
            .into());
        }
        // Bounded: the bucket holds the page (and whatever a person put there, which goes too:
        // the bucket is the stack's).
        for _ in 0..100 {
            let r = s3
                .list_objects_v2()
                .bucket(bucket)
                .send()
                .await
                .ctx(|| format!("list objects of bucket {bucket}"));
            let r = match r {
                Err(e) if e.is_not_found() => return Ok(()),
                r => r?,
            };
            if r.contents().is_empty() {
                break;
            }
            for o in r.contents() {
                let key = o.key().unwrap_or_default();
                let d = s3
                    .delete_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .ctx(|| format!("delete object {key} of bucket {bucket}"));
                ignore_missing(d)?;
            }
        }
        let r = s3
            .delete_bucket()
            .bucket(bucket)
            .send()
            .await
            .ctx(|| format!("delete bucket {bucket}"));
        ignore_missing(r)
    }
}

fn outputs(bucket: &str, region: &str) -> Result<Outputs, BoxError> {
    let (endpoint, zone) = website_endpoint(region)
        .ok_or_else(|| format!("no S3 website endpoint known for region {region}"))?;
    Ok(Outputs::from([
        ("bucket".into(), bucket.to_string()),
        ("region".into(), region.to_string()),
        ("website_endpoint".into(), endpoint.to_string()),
        ("website_zone_id".into(), zone.to_string()),
        // The bucket's own website host: CloudFront's origin (S3 picks the bucket by the Host).
        ("website_host".into(), format!("{bucket}.{endpoint}")),
        ("url".into(), format!("http://{bucket}.{endpoint}/")),
    ]))
}

/// Public access, the policy, the website and the page: every call is idempotent.
async fn configure(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    attrs: &Attrs,
    node: &Node,
) -> Result<(), BoxError> {
    let open = !attrs
        .get("public_read")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(open)
                .restrict_public_buckets(open)
                .build(),
        )
        .send()
        .await
        .ctx(|| format!("set public access of bucket {bucket}"))?;
    let protect = attrs
        .get("protect")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy(bucket, protect).to_string())
        .send()
        .await
        .ctx(|| format!("set policy of bucket {bucket}"))?;
    let index = s(attrs, "website_index")?;
    s3.put_bucket_website()
        .bucket(bucket)
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(IndexDocument::builder().suffix(index).build()?)
                .error_document(ErrorDocument::builder().key(index).build()?)
                .build(),
        )
        .send()
        .await
        .ctx(|| format!("configure website of bucket {bucket}"))?;
    let body = page_body(node)?;
    s3.put_object()
        .bucket(bucket)
        .key(index)
        .content_type("text/html; charset=utf-8")
        // How long browsers and CloudFront (with a certificate) keep the page.
        .cache_control(PAGE_CACHE_CONTROL)
        .metadata(META_SHA, sha256_hex(&body))
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .ctx(|| format!("upload the fallback page to bucket {bucket}"))?;
    Ok(())
}

/// The page's content, carried by the node uncompared (attributes hold its hash).
fn page_body(node: &Node) -> Result<String, BoxError> {
    node.data
        .get("page_body")
        .cloned()
        .ok_or_else(|| "internal error: the fallback page has no content".into())
}

async fn observe(
    c: &Clients,
    stack: &StackRef,
    bucket: &str,
    desired: &[&Node],
) -> Result<Option<Observed>, BoxError> {
    // Where the bucket is (GetBucketLocation answers from any region).
    let loc =
        c.s3.get_bucket_location()
            .bucket(bucket)
            .send()
            .await
            .ctx(|| format!("locate bucket {bucket}"));
    let region = match loc {
        Err(e) if e.is_not_found() => return Ok(None),
        // Another account's bucket of this name: creating it will fail; say so then.
        Err(e) if e.kind() == crate::aws::ErrorKind::AccessDenied => return Ok(None),
        r => match r?.location_constraint().map(|l| l.as_str().to_string()) {
            Some(l) if !l.is_empty() => l,
            _ => "us-east-1".to_string(),
        },
    };
    let s3 = client(c, &region);
    let tags = match s3
        .get_bucket_tagging()
        .bucket(bucket)
        .send()
        .await
        .ctx(|| format!("read tags of bucket {bucket}"))
    {
        Err(e) if e.is_not_found() => Vec::new(),
        r => r?
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
    };
    let own = ownership(stack, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !own.owned && desired.is_empty() {
        return Ok(None);
    }
    // The four reads are independent: one round trip instead of four. The page is always
    // uploaded as `PAGE`; another index document shows as a diff of `website_index`.
    let (website, access, policy, head) = futures::join!(
        async {
            s3.get_bucket_website()
                .bucket(bucket)
                .send()
                .await
                .ctx(|| format!("read website of bucket {bucket}"))
        },
        async {
            s3.get_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .ctx(|| format!("read public access of bucket {bucket}"))
        },
        async {
            s3.get_bucket_policy()
                .bucket(bucket)
                .send()
                .await
                .ctx(|| format!("read policy of bucket {bucket}"))
        },
        async {
            s3.head_object()
                .bucket(bucket)
                .key(PAGE)
                .send()
                .await
                .ctx(|| format!("read the page of bucket {bucket}"))
        },
    );
    let (website, access, policy, head) = (
        ok_or_missing(website)?,
        ok_or_missing(access)?,
        ok_or_missing(policy)?,
        ok_or_missing(head)?,
    );
    let index = website
        .as_ref()
        .and_then(|w| w.index_document())
        .map(|i| i.suffix().to_string());
    let blocked = access
        .as_ref()
        .and_then(|a| a.public_access_block_configuration())
        .is_some_and(|c| {
            c.block_public_policy().unwrap_or(false) || c.restrict_public_buckets().unwrap_or(false)
        });
    let (readable, protect) = read_policy(policy.as_ref().and_then(|p| p.policy()), bucket);
    let public = !blocked && readable;
    let sha = head
        .as_ref()
        .and_then(|h| h.metadata())
        .and_then(|m: &HashMap<String, String>| m.get(META_SHA).cloned());
    let page = desired
        .iter()
        .find_map(|n| n.attrs.get("page").cloned())
        .unwrap_or(Value::Null);
    let attrs = Attrs::from([
        ("tags".into(), own.tags.clone()),
        ("region".into(), Value::str(region.as_str())),
        ("website_index".into(), Value::opt_str(index)),
        ("public_read".into(), Value::Bool(public)),
        ("protect".into(), Value::Bool(protect)),
        ("page_sha256".into(), Value::opt_str(sha)),
        // The file name is not kept in AWS: the hash stands for the content.
        ("page".into(), page),
    ]);
    Ok(Some(Observed {
        id: own.id.clone().unwrap_or_else(|| ID.to_string()),
        kind: KIND,
        physical_id: bucket.to_string(),
        name: bucket.to_string(),
        outputs: outputs(bucket, &region).unwrap_or_default(),
        attrs,
        owned: own.owned,
    }))
}

/// A read whose "not found" means "not set" (no website, no policy, no such configuration).
pub(super) fn ok_or_missing<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// S3 replaces a bucket's whole tag set: read it, change the user's keys, write it back.
/// `Kind::retag`: see there.
pub(super) fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a std::collections::BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        let region = cur
            .outputs
            .get("region")
            .map(String::as_str)
            .unwrap_or("us-east-1");
        let s3 = client(c, region);
        let bucket = cur.physical_id.as_str();
        let now = s3
            .get_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .ctx(|| format!("get the tags of bucket {bucket}"))?;
        let mut tags: std::collections::BTreeMap<String, String> = now
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .filter(|(k, _)| !remove.contains(k))
            .collect();
        tags.extend(set.clone());
        let tags: Vec<Tag> = tags
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<_, _>>()?;
        s3.put_bucket_tagging()
            .bucket(bucket)
            .tagging(Tagging::builder().set_tag_set(Some(tags)).build()?)
            .send()
            .await
            .ctx(|| format!("tag bucket {bucket}"))?;
        Ok(())
    })
}
