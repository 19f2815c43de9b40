//! `aws_s3_log_bucket`: the bucket each region's load balancer writes its access logs to
//! (`load_balancer.access_logs: true`; with a bucket name the logs go to that bucket of the
//! user's, and this kind makes nothing).
//!
//! Named in the account's own bucket namespace (S3's account regional namespace:
//! `<stack>-alb-<account>-<region>-an`, which no other account can take), tagged on create
//! (CreateBucket's `Tags`), encrypted with S3-managed keys, object ownership enforced (no
//! ACLs), public access blocked, a lifecycle rule that expires logs after `retention_days`, and
//! a policy that lets Elastic Load Balancing write under `<stack>/AWSLogs/<account>/` and
//! nothing else. With `protect: true` the policy also denies `s3:DeleteBucket` to everyone,
//! and `destroy` refuses the bucket until a deploy with `protect: false` lifts that. Every one
//! of these is read back.
//!
//! Destroying the bucket deletes the logs in it: it is the stack's.

use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketNamespace,
    CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, ObjectIdentifier, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag,
};
use serde_json::{json, Value as Json};

use super::common::{b, i, ignore_missing, ownership, tags_for};
use super::fallback::ok_or_missing;
use crate::aws::{identity, Clients, Ctx, ErrorKind};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::names::ACCOUNT;
use crate::spec::{Names, View};

pub struct LogBucket;

pub const KIND: &str = "aws_s3_log_bucket";
pub const ID: &str = "access_logs";
const RULE_ID: &str = "ballast-expire-logs";
const DELIVERY_SID: &str = "BallastElbLogDelivery";
const TLS_SID: &str = "BallastTlsOnly";
const PROTECT_SID: &str = "BallastProtect";
const SSE: &str = "AES256";
const OWNERSHIP: &str = "BucketOwnerEnforced";

/// Elastic Load Balancing's account in the regions opened before August 2022: the principal
/// their log delivery writes as (AWS's "Enable access logs" guide). Newer regions take the
/// log-delivery service principal instead.
const ELB_ACCOUNTS: &[(&str, &str)] = &[
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-1", "582318560864"),
    ("ap-northeast-2", "600734575887"),
    ("ap-northeast-3", "383597477331"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-west-3", "009996457667"),
    ("eu-south-1", "635631232127"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
];

/// The key prefix of the logs in a bucket (`access_logs.s3.prefix`): the stack's name, so that
/// a bucket of the user's can take several stacks' logs.
pub fn prefix(stack: &str) -> String {
    stack.to_string()
}

/// The bucket's name: the node's with the account in place of [`ACCOUNT`].
fn physical(name: &str, account: &str) -> String {
    name.replace(ACCOUNT, account)
}

/// The bucket policy: ELB's log delivery may put objects under the stack's prefix; nothing
/// reaches the bucket without TLS (Security Hub S3.5); with `protect`, nobody may delete it.
pub fn policy(bucket: &str, account: &str, region: &str, stack: &str, protect: bool) -> Json {
    let principal = match ELB_ACCOUNTS.iter().find(|(r, _)| *r == region) {
        Some((_, id)) => json!({"AWS": format!("arn:aws:iam::{id}:root")}),
        None => json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    };
    let mut statements = vec![
        json!({
            "Sid": DELIVERY_SID,
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket}/{}/AWSLogs/{account}/*", prefix(stack)),
        }),
        json!({
            "Sid": TLS_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }),
    ];
    if protect {
        statements.push(json!({
            "Sid": PROTECT_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteBucket",
            "Resource": format!("arn:aws:s3:::{bucket}"),
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// What an observed policy says: (ELB may deliver, TLS only, and nothing else is allowed or
/// denied; protected). A statement ballast does not write is drift: `log_delivery` is then false, and
/// the deploy writes the policy whole again.
fn read_policy(
    text: Option<&str>,
    bucket: &str,
    account: &str,
    region: &str,
    stack: &str,
) -> (bool, bool) {
    let Some(doc) = text.and_then(|t| serde_json::from_str::<Json>(t).ok()) else {
        return (false, false);
    };
    let statements = match &doc["Statement"] {
        Json::Array(a) => a.clone(),
        Json::Null => Vec::new(),
        one => vec![one.clone()],
    };
    let want = policy(bucket, account, region, stack, true);
    let ours = want["Statement"].as_array().cloned().unwrap_or_default();
    let protected = statements.iter().any(|s| s == &ours[2]);
    let delivers = ours[..2].iter().all(|o| statements.contains(o))
        && statements.iter().all(|s| ours.contains(s));
    (delivers, protected)
}

#[async_trait]
impl Kind<Clients> for LogBucket {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "s3:GetBucketTagging",
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketOwnershipControls",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetLifecycleConfiguration",
                "s3:GetBucketPolicy",
                "s3:ListBucket",
            ],
            write: &[
                "s3:CreateBucket",
                "s3:TagResource",
                "s3:PutBucketTagging",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutLifecycleConfiguration",
                "s3:PutBucketPolicy",
                "s3:DeleteObject",
                "s3:DeleteBucket",
            ],
            arns: &["arn:aws:s3:::{name}", "arn:aws:s3:::{name}/*"],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::fallback::retag)
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(logs) = &v.stack.load_balancer.access_logs else {
            return Vec::new();
        };
        if logs.bucket.is_some() {
            return Vec::new();
        }
        vec![Node::new(KIND, ID, v.names().access_log_bucket())
            .attr("encryption", SSE)
            .attr("object_ownership", OWNERSHIP)
            .attr("block_public_access", true)
            .attr("retention_days", i64::from(logs.retention_days))
            .attr("log_delivery", true)
            .attr("protect", logs.protect)]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        // The one name this stack's bucket can have in this region (also when the spec no
        // longer asks for it: then it is found to be deleted).
        let name = Names::new(&stack.name, &stack.region).access_log_bucket();
        let account = identity::caller(c).await?.account;
        let bucket = physical(&name, &account);
        let tags =
            c.s3.get_bucket_tagging()
                .bucket(&bucket)
                .send()
                .await
                .ctx(|| format!("read tags of bucket {bucket}"));
        let tags: Vec<(String, String)> = match tags {
            Err(e) if e.code() == "NoSuchBucket" => return Ok(Vec::new()),
            // Not this account's (only outside the account regional namespace, which an
            // emulator may not keep): creating it will fail, and say so then.
            Err(e) if e.kind() == ErrorKind::AccessDenied => return Ok(Vec::new()),
            Err(e) if e.is_not_found() => Vec::new(),
            r => r?
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        };
        let own = ownership(stack, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !own.owned && desired.is_empty() {
            return Ok(Vec::new());
        }
        let s3 = &c.s3;
        // Independent reads: one round trip.
        let (sse, owner, access, life, pol) = futures::join!(
            async {
                s3.get_bucket_encryption()
                    .bucket(&bucket)
                    .send()
                    .await
                    .ctx(|| format!("read encryption of bucket {bucket}"))
            },
            async {
                s3.get_bucket_ownership_controls()
                    .bucket(&bucket)
                    .send()
                    .await
                    .ctx(|| format!("read object ownership of bucket {bucket}"))
            },
            async {
                s3.get_public_access_block()
                    .bucket(&bucket)
                    .send()
                    .await
                    .ctx(|| format!("read public access of bucket {bucket}"))
            },
            async {
                s3.get_bucket_lifecycle_configuration()
                    .bucket(&bucket)
                    .send()
                    .await
                    .ctx(|| format!("read lifecycle of bucket {bucket}"))
            },
            async {
                s3.get_bucket_policy()
                    .bucket(&bucket)
                    .send()
                    .await
                    .ctx(|| format!("read policy of bucket {bucket}"))
            },
        );
        let (sse, owner, access, life, pol) = (
            ok_or_missing(sse)?,
            ok_or_missing(owner)?,
            ok_or_missing(access)?,
            ok_or_missing(life)?,
            ok_or_missing(pol)?,
        );
        let encryption = sse
            .as_ref()
            .and_then(|s| s.server_side_encryption_configuration())
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| d.sse_algorithm().as_str().to_string());
        let object_ownership = owner
            .as_ref()
            .and_then(|o| o.ownership_controls())
            .and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().as_str().to_string());
        let blocked = access
            .as_ref()
            .and_then(|a| a.public_access_block_configuration())
            .is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            });
        // Our rule alone: any other rule is drift (the deploy writes the configuration whole).
        let rules = life.as_ref().map(|l| l.rules()).unwrap_or_default();
        let days = match rules {
            [r] if r.id() == Some(RULE_ID) && r.status() == &ExpirationStatus::Enabled => r
                .expiration()
                .and_then(|e| e.days())
                .map_or(Value::Null, |d| Value::Int(i64::from(d))),
            _ => Value::Null,
        };
        let (delivers, protected) = read_policy(
            pol.as_ref().and_then(|p| p.policy()),
            &bucket,
            &account,
            &stack.region,
            &stack.name,
        );
        let attrs = Attrs::from([
            ("tags".into(), own.tags.clone()),
            ("encryption".into(), Value::opt_str(encryption)),
            ("object_ownership".into(), Value::opt_str(object_ownership)),
            ("block_public_access".into(), Value::Bool(blocked)),
            ("retention_days".into(), days),
            ("log_delivery".into(), Value::Bool(delivers)),
            ("protect".into(), Value::Bool(protected)),
        ]);
        Ok(vec![Observed {
            id: own.id.clone().unwrap_or_else(|| ID.to_string()),
            kind: KIND,
            name: bucket.clone(),
            outputs: outputs(&bucket, &stack.region),
            physical_id: bucket,
            attrs,
            owned: own.owned,
        }])
    }

    /// Discovery reads the bucket by its name.
    fn found_by_name(&self) -> bool {
        true
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let account = identity::caller(c).await?.account;
        let bucket = physical(&node.name, &account);
        let tags: Vec<Tag> = tags_for(stack, node, false)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<_, _>>()?;
        // Tagged as it is made: a bucket of this name without the stack's tags is never
        // taken for the stack's.
        let mut config = CreateBucketConfiguration::builder().set_tags(Some(tags));
        if stack.region != "us-east-1" {
            config =
                config.location_constraint(BucketLocationConstraint::from(stack.region.as_str()));
        }
        c.s3.create_bucket()
            .bucket(&bucket)
            .bucket_namespace(BucketNamespace::AccountRegional)
            .create_bucket_configuration(config.build())
            .send()
            .await
            .ctx(|| format!("create bucket {bucket}"))?;
        configure(c, stack, &bucket, &account, attrs, None).await?;
        Ok(outputs(&bucket, &stack.region))
    }

    async fn update(
        &self,
        c: &Clients,
        stack: &StackRef,
        _: &Node,
        attrs: &Attrs,
        cur: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        let account = identity::caller(c).await?.account;
        configure(c, stack, &cur.physical_id, &account, attrs, Some(changed)).await?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let bucket = cur.physical_id.as_str();
        if cur.attrs.get("protect").and_then(Value::as_bool) == Some(true) {
            return Err(format!(
                "bucket {bucket} is protected (its policy denies s3:DeleteBucket); deploy with `protect: false` first"
            )
            .into());
        }
        // The logs go with the bucket: it is the stack's. Bounded: 1000 keys a page.
        for _ in 0..10_000 {
            let page =
                c.s3.list_objects_v2()
                    .bucket(bucket)
                    .send()
                    .await
                    .ctx(|| format!("list objects of bucket {bucket}"));
            let page = match page {
                Err(e) if e.is_not_found() => return Ok(()),
                r => r?,
            };
            let keys: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<_, _>>()?;
            if keys.is_empty() {
                break;
            }
            let r =
                c.s3.delete_objects()
                    .bucket(bucket)
                    .delete(
                        Delete::builder()
                            .set_objects(Some(keys))
                            .quiet(true)
                            .build()?,
                    )
                    .send()
                    .await
                    .ctx(|| format!("delete the logs in bucket {bucket}"));
            ignore_missing(r)?;
        }
        let r =
            c.s3.delete_bucket()
                .bucket(bucket)
                .send()
                .await
                .ctx(|| format!("delete bucket {bucket}"));
        ignore_missing(r)
    }
}

fn outputs(bucket: &str, region: &str) -> Outputs {
    Outputs::from([
        ("bucket".into(), bucket.to_string()),
        ("arn".into(), format!("arn:aws:s3:::{bucket}")),
        // For `fallback::retag`, which serves both buckets.
        ("region".into(), region.to_string()),
    ])
}

/// Write the settings `changed` names (all of them on create, `changed: None`): encryption,
/// object ownership, public access and lifecycle at once, then the policy (after public access
/// is blocked, so that it never meets an open bucket).
async fn configure(
    c: &Clients,
    stack: &StackRef,
    bucket: &str,
    account: &str,
    attrs: &Attrs,
    changed: Option<&[String]>,
) -> Result<(), BoxError> {
    let wants = |k: &str| changed.is_none_or(|ch| ch.iter().any(|c| c == k));
    let s3 = &c.s3;
    let days = i(attrs, "retention_days")?;
    let sse = async {
        if !wants("encryption") {
            return Ok(());
        }
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()?,
            )
            .build();
        s3.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()?,
            )
            .send()
            .await
            .ctx(|| format!("set encryption of bucket {bucket}"))?;
        Ok::<_, BoxError>(())
    };
    let owner = async {
        if !wants("object_ownership") {
            return Ok(());
        }
        s3.put_bucket_ownership_controls()
            .bucket(bucket)
            .ownership_controls(
                OwnershipControls::builder()
                    .rules(
                        OwnershipControlsRule::builder()
                            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                            .build()?,
                    )
                    .build()?,
            )
            .send()
            .await
            .ctx(|| format!("set object ownership of bucket {bucket}"))?;
        Ok::<_, BoxError>(())
    };
    let access = async {
        if !wants("block_public_access") {
            return Ok(());
        }
        let on = b(attrs, "block_public_access");
        s3.put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(on)
                    .ignore_public_acls(on)
                    .block_public_policy(on)
                    .restrict_public_buckets(on)
                    .build(),
            )
            .send()
            .await
            .ctx(|| format!("set public access of bucket {bucket}"))?;
        Ok::<_, BoxError>(())
    };
    let life = async {
        if !wants("retention_days") {
            return Ok(());
        }
        let rule = LifecycleRule::builder()
            .id(RULE_ID)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .expiration(LifecycleExpiration::builder().days(days).build())
            .build()?;
        s3.put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .rules(rule)
                    .build()?,
            )
            .send()
            .await
            .ctx(|| format!("set lifecycle of bucket {bucket}"))?;
        Ok::<_, BoxError>(())
    };
    let (a, b2, c2, d) = futures::join!(sse, owner, access, life);
    a?;
    b2?;
    c2?;
    d?;
    if wants("log_delivery") || wants("protect") {
        let doc = policy(
            bucket,
            account,
            &stack.region,
            &stack.name,
            b(attrs, "protect"),
        );
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(doc.to_string())
            .send()
            .await
            .ctx(|| format!("set policy of bucket {bucket}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_reads_back_as_delivery_and_protection() {
        let (b, a, r, s) = ("web-alb-1-us-east-1-an", "1", "us-east-1", "web");
        for protect in [false, true] {
            let text = policy(b, a, r, s, protect).to_string();
            assert_eq!(read_policy(Some(&text), b, a, r, s), (true, protect));
        }
        // A statement ballast does not write is drift.
        let mut doc = policy(b, a, r, s, false);
        doc["Statement"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}));
        assert_eq!(
            read_policy(Some(&doc.to_string()), b, a, r, s),
            (false, false)
        );
        assert_eq!(read_policy(None, b, a, r, s), (false, false));
    }

    #[test]
    fn old_regions_name_elbs_account_and_new_ones_the_service() {
        let p = policy("b", "1", "us-east-1", "s", false);
        assert_eq!(
            p["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::127311923021:root"
        );
        let p = policy("b", "1", "ap-southeast-3", "s", false);
        assert_eq!(
            p["Statement"][0]["Principal"]["Service"],
            "logdelivery.elasticloadbalancing.amazonaws.com"
        );
    }

    #[test]
    fn the_engine_and_the_names_agree_on_the_account_placeholder() {
        assert_eq!(ACCOUNT, crate::engine::policy::ACCOUNT);
    }

    #[test]
    fn the_longest_name_is_a_bucket_name() {
        let stack = "a".repeat(crate::spec::names::MAX_STACK_NAME);
        let name = Names::new(&stack, "ap-southeast-2").access_log_bucket();
        assert_eq!(physical(&name, "123456789012").len(), 63);
    }
}
