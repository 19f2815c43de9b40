//! `aws_sns_topic_subscription`: one subscription of the alarm topic per `alarms.notify`
//! address (email and https). Addresses removed from the spec are unsubscribed, new ones
//! subscribed.
//!
//! Subscriptions cannot be tagged: a subscription is this stack's when it is on the stack's
//! owned topic and of a protocol ballast makes (email, https); others (an SQS queue or a Lambda
//! someone added by hand) are left alone. A subscription waiting for its owner to confirm it
//! (listed with the ARN `PendingConfirmation`) is there as far as the plan is concerned: it is
//! not drift, and subscribing again would only send another confirmation message.

use async_trait::async_trait;

use super::common::{ignore_missing, ownership, s};
use super::sns::lookup;
use super::sns_topic;
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, StackRef, Value};
use crate::spec::View;

pub struct SnsSubscription;

pub const KIND: &str = "aws_sns_topic_subscription";

/// The protocols `alarms.notify` has, in the order of the spec's lists.
const PROTOCOLS: &[&str] = &["email", "https"];

/// Logical id of the subscription of `endpoint`: `alarms.notify.email.ops@example.com`,
/// `alarms.notify.https.hooks.example.com_alerts-1a2b3c4d`. The endpoint is kept readable;
/// where characters had to be replaced (or it was cut short) a hash of the whole endpoint keeps
/// two endpoints that read alike apart.
pub fn id(protocol: &str, endpoint: &str) -> String {
    const MAX: usize = 64;
    let bare = endpoint
        .strip_prefix(&format!("{protocol}://"))
        .unwrap_or(endpoint);
    let mut clean: String = bare
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || "@._-".contains(ch) {
                ch
            } else {
                '_'
            }
        })
        .collect();
    let lossy = clean != bare || clean.len() > MAX;
    clean.truncate(MAX);
    if lossy {
        clean = format!("{clean}-{:08x}", fnv1a(endpoint));
    }
    format!("alarms.notify.{protocol}.{clean}")
}

/// 32-bit FNV-1a: stable across Rust releases (std's hasher is not promised to be).
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Whether a listed subscription ARN is a real one (pending ones are `PendingConfirmation`,
/// and Subscribe answers `pending confirmation`).
fn confirmed(arn: &str) -> bool {
    arn.starts_with("arn:")
}

#[async_trait]
impl Kind<Clients> for SnsSubscription {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["sns:ListSubscriptionsByTopic", "sns:ListTopics"],
            write_any: &["sns:Subscribe", "sns:Unsubscribe"],
            ..Iam::default()
        }
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[sns_topic::KIND]
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(a) = &v.stack.alarms else {
            return vec![];
        };
        let mut nodes: Vec<Node> = Vec::new();
        for (protocol, endpoints) in PROTOCOLS.iter().zip([&a.notify.email, &a.notify.https]) {
            for e in endpoints {
                let id = id(protocol, e);
                if nodes.iter().any(|n| n.id == id) {
                    continue; // the same address twice is one subscription
                }
                nodes.push(
                    Node::new(KIND, id, e.as_str())
                        .attr("protocol", *protocol)
                        .attr("endpoint", e.as_str())
                        .attr("topic_arn", Value::reference(sns_topic::ID, "arn"))
                        .force_new(&["protocol", "endpoint", "topic_arn"]),
                );
            }
        }
        nodes
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        _: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let found = lookup(c, stack).await?;
        let Some(t) = found.as_ref() else {
            return Ok(vec![]);
        };
        // A topic of the stack's name without its tag is the topic kind's conflict; its
        // subscriptions are someone else's.
        if !ownership(stack, t.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))).owned {
            return Ok(vec![]);
        }
        let mut out = Vec::new();
        for sub in &t.subscriptions {
            let (Some(protocol), Some(endpoint)) = (sub.protocol(), sub.endpoint()) else {
                continue;
            };
            if !PROTOCOLS.contains(&protocol) {
                continue;
            }
            let arn = sub.subscription_arn().unwrap_or_default();
            let mut outputs = Outputs::new();
            if confirmed(arn) {
                outputs.insert("arn".into(), arn.to_string());
            }
            out.push(Observed {
                id: id(protocol, endpoint),
                kind: KIND,
                physical_id: arn.to_string(),
                name: endpoint.to_string(),
                attrs: Attrs::from([
                    ("protocol".into(), Value::str(protocol)),
                    ("endpoint".into(), Value::str(endpoint)),
                    (
                        "topic_arn".into(),
                        Value::str(sub.topic_arn().unwrap_or(&t.arn)),
                    ),
                ]),
                outputs,
                owned: true,
            });
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
        let r = c
            .sns
            .subscribe()
            .topic_arn(s(attrs, "topic_arn")?)
            .protocol(s(attrs, "protocol")?)
            .endpoint(s(attrs, "endpoint")?)
            // The ARN even while the subscription waits for confirmation.
            .return_subscription_arn(true)
            .send()
            .await
            .ctx(|| format!("subscribe {} to the alarm topic", node.name))?;
        let mut out = Outputs::new();
        if let Some(arn) = r.subscription_arn().filter(|a| confirmed(a)) {
            out.insert("arn".into(), arn.to_string());
        }
        Ok(out)
    }

    async fn update(
        &self,
        _: &Clients,
        _: &StackRef,
        _: &Node,
        _: &Attrs,
        cur: &Observed,
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        // Every attribute forces a new subscription: nothing changes in place.
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        if !confirmed(&cur.physical_id) {
            // Nobody can unsubscribe a subscription that waits for confirmation: SNS knows it
            // by no ARN (Unsubscribe of `PendingConfirmation` is InvalidParameter), and AWS
            // deletes it by itself after 3 days unconfirmed. Done as far as we can go; it is
            // never confirmed by mistake, because the link goes only to the removed address.
            return Ok(());
        }
        let r = c
            .sns
            .unsubscribe()
            .subscription_arn(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("unsubscribe {} from the alarm topic", cur.name));
        ignore_missing(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_the_address_readable_and_apart() {
        assert_eq!(
            id("email", "ops@example.com"),
            "alarms.notify.email.ops@example.com"
        );
        let a = id("https", "https://hooks.example.com/alerts?x=1");
        let b = id("https", "https://hooks.example.com/alerts/x=1");
        assert!(
            a.starts_with("alarms.notify.https.hooks.example.com_alerts_x_1-"),
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(a, id("https", "https://hooks.example.com/alerts?x=1"));
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert!(id("https", &long).len() < 100);
        assert_eq!(
            id("https", "https://example.com"),
            "alarms.notify.https.example.com"
        );
    }

    #[test]
    fn pending_subscriptions_have_no_arn() {
        assert!(!confirmed("PendingConfirmation"));
        assert!(!confirmed("pending confirmation"));
        assert!(confirmed(
            "arn:aws:sns:us-east-1:123456789012:web-alarms:1f2e"
        ));
    }
}
