//! `aws_cloudwatch_log_group`: where the service's containers log, with a retention, and where
//! the VPC's flow logs go (`network.flow_logs`).

use async_trait::async_trait;

use super::common::{found_id, i, ignore_missing, ownership, tags_for};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::names::service_id;
use crate::spec::View;

pub struct LogGroup;

pub const KIND: &str = "aws_cloudwatch_log_group";
pub const ID: &str = "logs";
/// The VPC flow logs' group.
pub const FLOW_LOGS_ID: &str = "logs.flow";

/// How long flow log records are kept: 90 days, long enough to look back on an incident.
pub const FLOW_LOGS_RETENTION_DAYS: i64 = 90;

#[async_trait]
impl Kind<Clients> for LogGroup {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["logs:DescribeLogGroups", "logs:ListTagsForResource"],
            write: &[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            arns: &[
                "arn:aws:logs:{region}:*:log-group:{name}",
                "arn:aws:logs:{region}:*:log-group:{name}:*",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(retag)
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        super::network::flow_logs(v)
            .map(|_| {
                Node::new(KIND, FLOW_LOGS_ID, v.names().flow_log_group())
                    .attr("retention_in_days", FLOW_LOGS_RETENTION_DAYS)
            })
            .into_iter()
            .collect()
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        vec![Node::new(KIND, v.id(ID), v.service_names().log_group())
            .attr("retention_in_days", v.service().log_retention_days)]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let groups = list(c, stack).await?;
        // Their tags at once. One deleted a moment ago may still be listed: without tags, it
        // is left out.
        let tags = futures::future::try_join_all(groups.iter().map(|g| async move {
            let name = g.log_group_name().unwrap_or_default();
            let r = c
                .logs
                .list_tags_for_resource()
                .resource_arn(taggable_arn(g))
                .send()
                .await
                .ctx(|| format!("list tags of log group {name}"));
            match r {
                Err(e) if e.is_not_found() => Ok(None),
                r => r.map(|r| Some(r.tags.unwrap_or_default())),
            }
        }))
        .await?;
        let mut out = Vec::new();
        for (g, tags) in groups.iter().zip(tags) {
            let Some(tags) = tags else { continue };
            let name = g.log_group_name().unwrap_or_default().to_string();
            let own = ownership(stack, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let Some(id) = found_id(&own, desired, &name, || id_of(stack, &name)) else {
                continue;
            };
            out.push(Observed {
                id,
                kind: KIND,
                name: name.clone(),
                outputs: Outputs::from([
                    ("name".into(), name.clone()),
                    ("arn".into(), taggable_arn(g)),
                ]),
                physical_id: name.clone(),
                attrs: Attrs::from([
                    (
                        "retention_in_days".into(),
                        Value::from(g.retention_in_days().map(i64::from)),
                    ),
                    ("tags".into(), own.tags.clone()),
                ]),
                owned: own.owned,
            });
        }
        Ok(out)
    }

    /// The prefix listing alone, without the tags: a log group's name is unique, so the one of
    /// the stack's name that this run created or deleted is the stack's.
    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        _: &[&Node],
        _: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        Ok(list(c, stack)
            .await?
            .iter()
            .filter_map(|g| {
                let name = g.log_group_name()?.to_string();
                Some(Observed {
                    id: id_of(stack, &name),
                    kind: KIND,
                    name: name.clone(),
                    outputs: Outputs::new(),
                    physical_id: name,
                    attrs: Attrs::new(),
                    owned: true,
                })
            })
            .collect())
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        c.logs
            .create_log_group()
            .log_group_name(&node.name)
            .set_tags(Some(tags_for(stack, node, false).into_iter().collect()))
            .send()
            .await
            .ctx(|| format!("create log group {}", node.name))?;
        set_retention(c, &node.name, attrs).await?;
        Ok(Outputs::from([("name".into(), node.name.clone())]))
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
        set_retention(c, &node.name, attrs).await?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        // Logs answers OperationAbortedException while another change to the group is under way.
        let r = super::common::retry_in_use(crate::aws::IN_USE, || async {
            c.logs
                .delete_log_group()
                .log_group_name(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("delete log group {}", cur.name))
        })
        .await;
        ignore_missing(r)
    }
}

async fn set_retention(c: &Clients, name: &str, attrs: &Attrs) -> Result<(), BoxError> {
    c.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(i(attrs, "retention_in_days")?)
        .send()
        .await
        .ctx(|| format!("set retention of log group {name}"))?;
    Ok(())
}

/// `Kind::retag`: see there.
fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a std::collections::BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        let arn = cur
            .outputs
            .get("arn")
            .map(|a| a.trim_end_matches(":*").to_string())
            .unwrap_or_default();
        if !set.is_empty() {
            c.logs
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(set.clone().into_iter().collect()))
                .send()
                .await
                .ctx(|| format!("tag log group {}", cur.name))?;
        }
        if !remove.is_empty() {
            c.logs
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .ctx(|| format!("untag log group {}", cur.name))?;
        }
        Ok(())
    })
}

/// DescribeLogGroups by the name as a prefix (Logs has no read by name alone).
type Group = aws_sdk_cloudwatchlogs::types::LogGroup;

/// The stack's log groups (`/ballast/<stack>`, `/ballast/<stack>/<service>`), from every page
/// of the listing by prefix.
async fn list(c: &Clients, stack: &StackRef) -> Result<Vec<Group>, AwsError> {
    let one = crate::spec::Names::new(&stack.name, &stack.region).log_group();
    let named = format!("{one}/");
    let mut pages = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&one)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.ctx(|| format!("describe log groups {one}*"))?;
        out.extend(page.log_groups.unwrap_or_default().into_iter().filter(|g| {
            g.log_group_name()
                .is_some_and(|n| n == one || n.starts_with(&named))
        }));
    }
    Ok(out)
}

/// The logical id of the stack's log group `name` without a `ballast:resource` tag.
fn id_of(stack: &StackRef, name: &str) -> String {
    let names = crate::spec::Names::new(&stack.name, &stack.region);
    if name == names.flow_log_group() {
        return FLOW_LOGS_ID.into();
    }
    let one = names.log_group();
    let svc = name
        .strip_prefix(one.as_str())
        .and_then(|r| r.strip_prefix('/'));
    service_id(ID, svc)
}

/// `logGroupArn`, the taggable ARN (`arn` ends in `:*`).
fn taggable_arn(g: &Group) -> String {
    g.log_group_arn().map(str::to_string).unwrap_or_else(|| {
        g.arn()
            .unwrap_or_default()
            .trim_end_matches(":*")
            .to_string()
    })
}
