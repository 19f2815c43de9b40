//! `aws_sns_topic`: the topic `<stack>-alarms` that every alarm notifies and the `notify`
//! addresses subscribe to. Only when the spec has alarms.

use async_trait::async_trait;

use super::common::{ignore_missing, ownership};
use super::sns::{lookup, sns_tags};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef};
use crate::spec::View;

pub struct SnsTopic;

pub const KIND: &str = "aws_sns_topic";
pub const ID: &str = "alarms.topic";

#[async_trait]
impl Kind<Clients> for SnsTopic {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "sns:ListTopics",
                "sns:ListTagsForResource",
                "sns:GetTopicAttributes",
            ],
            write: &[
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:TagResource",
                "sns:UntagResource",
            ],
            arns: &["arn:aws:sns:{region}:*:{name}"],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(retag)
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        if v.stack.alarms.is_none() {
            return vec![];
        }
        // Nothing to set: the topic is its name (SNS defaults for everything else).
        vec![Node::new(KIND, ID, v.names().alarm_topic())]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let found = lookup(c, stack).await?;
        let Some(t) = found.as_ref() else {
            return Ok(vec![]);
        };
        let own = ownership(stack, t.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !own.owned && desired.is_empty() {
            return Ok(vec![]);
        }
        let name = crate::spec::Names::new(&stack.name, &stack.region).alarm_topic();
        Ok(vec![Observed {
            id: ID.into(),
            kind: KIND,
            physical_id: t.arn.clone(),
            outputs: outputs(&t.arn, &name),
            name,
            attrs: Attrs::from([("tags".into(), own.tags.clone())]),
            owned: own.owned,
        }])
    }

    /// ListTopics alone, without the tags: a topic's name is unique in its region, so the one
    /// this run created or deleted is the stack's.
    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        _: &[&Node],
        _: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        let name = crate::spec::Names::new(&stack.name, &stack.region).alarm_topic();
        let arn = super::sns::find_arn(c, &name).await?;
        Ok(arn
            .map(|arn| Observed {
                id: ID.into(),
                kind: KIND,
                physical_id: arn,
                name,
                attrs: Attrs::new(),
                outputs: Outputs::new(),
                owned: true,
            })
            .into_iter()
            .collect())
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        _: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let r = c
            .sns
            .create_topic()
            .name(&node.name)
            .set_tags(Some(sns_tags(stack, node)?))
            .send()
            .await
            .ctx(|| format!("create topic {}", node.name))?;
        let arn = r.topic_arn().ok_or("CreateTopic returned no ARN")?;
        Ok(outputs(arn, &node.name))
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
        // The topic has no attributes of its own to change.
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        // Deleting a topic deletes its subscriptions too.
        let r = c
            .sns
            .delete_topic()
            .topic_arn(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("delete topic {}", cur.name));
        ignore_missing(r)
    }
}

fn outputs(arn: &str, name: &str) -> Outputs {
    Outputs::from([
        ("arn".into(), arn.to_string()),
        ("name".into(), name.to_string()),
    ])
}

/// `Kind::retag`: see there.
fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a std::collections::BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        if !set.is_empty() {
            c.sns
                .tag_resource()
                .resource_arn(&cur.physical_id)
                .set_tags(Some(
                    set.iter()
                        .map(|(k, v)| aws_sdk_sns::types::Tag::builder().key(k).value(v).build())
                        .collect::<Result<Vec<_>, _>>()?,
                ))
                .send()
                .await
                .ctx(|| format!("tag topic {}", cur.name))?;
        }
        if !remove.is_empty() {
            c.sns
                .untag_resource()
                .resource_arn(&cur.physical_id)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .ctx(|| format!("untag topic {}", cur.name))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::metric_alarm::tests::model;
    use crate::resources::sns_subscription::SnsSubscription;

    #[test]
    fn a_topic_and_its_subscriptions_only_with_alarms() {
        let mut m = model();
        let topic = crate::resources::lower_one(&SnsTopic, &m);
        assert_eq!(topic.len(), 1);
        assert_eq!(
            (topic[0].id.as_str(), topic[0].name.as_str()),
            (ID, "web-alarms")
        );
        let subs = crate::resources::lower_one(&SnsSubscription, &m);
        let ids: Vec<&str> = subs.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "alarms.notify.email.ops@example.com",
                "alarms.notify.https.hooks.example.com_alerts-2f229e95"
            ]
        );
        assert_eq!(
            subs[1].attrs["endpoint"],
            crate::engine::Value::str("https://hooks.example.com/alerts")
        );
        assert_eq!(subs[1].deps(), [ID]);
        m.alarms = None;
        assert!(crate::resources::lower_one(&SnsTopic, &m).is_empty());
        assert!(crate::resources::lower_one(&SnsSubscription, &m).is_empty());
    }
}
