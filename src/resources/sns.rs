//! SNS helpers shared by the topic and subscription kinds: the stack's alarm topic, read once
//! per discovery together with its tags and subscriptions.

use std::sync::Arc;

use aws_sdk_sns::types::{Subscription, Tag};

use super::common::tags_for;
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Node, StackRef};

/// SNS tags for a new topic.
pub fn sns_tags(stack: &StackRef, node: &Node) -> Result<Vec<Tag>, AwsError> {
    tags_for(stack, node, false)
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::new(format!("tag topic {}", node.name), e.to_string()))
        })
        .collect()
}

/// The stack's alarm topic as SNS has it.
pub struct FoundTopic {
    pub arn: String,
    pub tags: Vec<(String, String)>,
    /// Every subscription of the topic (pending ones have the ARN `PendingConfirmation`).
    pub subscriptions: Vec<Subscription>,
}

/// The topic named `<stack>-alarms`, read once per discovery: ListTopics (paged) finds its ARN
/// (SNS finds topics by ARN only, and the ARN holds the account id), then its tags and its
/// subscriptions are read at once, so discovery stays one round-trip deeper than the listing.
pub async fn lookup(c: &Clients, stack: &StackRef) -> Result<Arc<Option<FoundTopic>>, AwsError> {
    c.shared
        .once("sns_topic", || async {
            let name = crate::spec::Names::new(&stack.name, &stack.region).alarm_topic();
            let Some(arn) = find_arn(c, &name).await? else {
                return Ok(None);
            };
            let tags = async {
                c.sns
                    .list_tags_for_resource()
                    .resource_arn(&arn)
                    .send()
                    .await
                    .ctx(|| format!("list tags of topic {name}"))
            };
            let r = futures::future::try_join(tags, subscriptions(c, &arn, &name)).await;
            let (tags, subscriptions) = match r {
                // Deleted since the listing.
                Err(e) if e.is_not_found() => return Ok(None),
                r => r?,
            };
            let tags = tags
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            Ok(Some(FoundTopic {
                arn,
                tags,
                subscriptions,
            }))
        })
        .await
}

/// The ARN of the topic called `name`: the part after the last `:`.
pub async fn find_arn(c: &Clients, name: &str) -> Result<Option<String>, AwsError> {
    let mut next = None;
    loop {
        let r = c
            .sns
            .list_topics()
            .set_next_token(next)
            .send()
            .await
            .ctx(|| "list SNS topics".into())?;
        if let Some(arn) = r
            .topics()
            .iter()
            .filter_map(|t| t.topic_arn())
            .find(|arn| arn.rsplit(':').next() == Some(name))
        {
            return Ok(Some(arn.to_string()));
        }
        next = r.next_token().map(str::to_string);
        if next.is_none() {
            return Ok(None);
        }
    }
}

async fn subscriptions(c: &Clients, arn: &str, name: &str) -> Result<Vec<Subscription>, AwsError> {
    let mut out = Vec::new();
    let mut next = None;
    loop {
        let r = c
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(arn)
            .set_next_token(next)
            .send()
            .await
            .ctx(|| format!("list subscriptions of topic {name}"))?;
        out.extend(r.subscriptions().iter().cloned());
        next = r.next_token().map(str::to_string);
        if next.is_none() {
            return Ok(out);
        }
    }
}
