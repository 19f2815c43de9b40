//! `aws_flow_log`: the VPC flow log of a created network (`network.flow_logs`: rejected traffic
//! by default, or all of it) to its own log group, delivered as its own role. A flow log cannot
//! be changed: any change replaces it (deletes come first, so the two never collide).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ec2::types::{FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType};

use super::common::{client_token, i, ignore_missing, s};
use super::ec2::{discover, tag_spec};
use crate::aws::{propagation, AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::View;

pub struct FlowLog;

pub const KIND: &str = "aws_flow_log";
pub const ID: &str = "flow_logs";

/// Seconds over which a flow log record aggregates packets: EC2's default, 600 (60 costs more).
const AGGREGATION_S: i64 = 600;

#[async_trait]
impl Kind<Clients> for FlowLog {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["ec2:DescribeFlowLogs"],
            write_any: &[
                "ec2:CreateFlowLogs",
                "ec2:DeleteFlowLogs",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::ec2::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            super::vpc::KIND,
            super::log_group::KIND,
            super::iam_role::KIND,
        ]
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(traffic) = super::network::flow_logs(v) else {
            return Vec::new();
        };
        vec![Node::new(KIND, ID, v.names().flow_log())
            .attr("resource_id", Value::reference(super::vpc::ID, "id"))
            .attr("traffic_type", traffic)
            .attr("log_destination_type", "cloud-watch-logs")
            .attr(
                "log_group_name",
                Value::reference(super::log_group::FLOW_LOGS_ID, "name"),
            )
            .attr(
                "deliver_logs_permission_arn",
                Value::reference(super::iam_role::FLOW_LOGS_ID, "arn"),
            )
            .attr("max_aggregation_interval", AGGREGATION_S)
            .force_new(&[
                "resource_id",
                "traffic_type",
                "log_destination_type",
                "log_group_name",
                "deliver_logs_permission_arn",
                "max_aggregation_interval",
            ])]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let describe = |f| async move {
            let mut pages = c.ec2.describe_flow_logs().filter(f).into_paginator().send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.ctx(|| "describe flow logs".into())?;
                out.extend(page.flow_logs.unwrap_or_default());
            }
            Ok(out)
        };
        let read = |f: &aws_sdk_ec2::types::FlowLog| {
            let id = f.flow_log_id().unwrap_or_default().to_string();
            let attrs = Attrs::from([
                ("resource_id".into(), Value::opt_str(f.resource_id())),
                (
                    "traffic_type".into(),
                    Value::opt_str(f.traffic_type().map(|t| t.as_str())),
                ),
                (
                    "log_destination_type".into(),
                    Value::opt_str(f.log_destination_type().map(|t| t.as_str())),
                ),
                ("log_group_name".into(), Value::opt_str(f.log_group_name())),
                (
                    "deliver_logs_permission_arn".into(),
                    Value::opt_str(f.deliver_logs_permission_arn()),
                ),
                (
                    "max_aggregation_interval".into(),
                    Value::from(f.max_aggregation_interval().map(i64::from)),
                ),
            ]);
            (attrs, Outputs::from([("id".into(), id)]))
        };
        Ok(discover(KIND, stack, desired, describe, read).await?)
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let action = || format!("create flow log {}", node.name);
        // A flow log that could not be made is an item of the answer, not an error: one that
        // names what this run made a moment ago (the VPC, the role) is tried again while AWS
        // propagates it, each time with a new idempotency token.
        let deadline = Instant::now() + propagation::window("ec2");
        let mut pause = Duration::from_millis(500);
        let id = loop {
            let r = c
                .ec2
                .create_flow_logs()
                .resource_type(FlowLogsResourceType::Vpc)
                .resource_ids(s(attrs, "resource_id")?)
                .traffic_type(TrafficType::from(s(attrs, "traffic_type")?))
                .log_destination_type(LogDestinationType::from(s(attrs, "log_destination_type")?))
                .log_group_name(s(attrs, "log_group_name")?)
                .deliver_logs_permission_arn(s(attrs, "deliver_logs_permission_arn")?)
                .max_aggregation_interval(i(attrs, "max_aggregation_interval")?)
                .client_token(client_token(&node.name))
                .tag_specifications(tag_spec(ResourceType::VpcFlowLog, stack, node))
                .send()
                .await
                .ctx(action)?;
            let Some(e) = unsuccessful("ec2", action(), r.unsuccessful()) else {
                break r.flow_log_ids().first().cloned().ok_or_else(|| {
                    AwsError::new(action(), "EC2 answered without a flow log id or an error")
                })?;
            };
            // Not found (the new VPC) or the new role not yet assumable: still propagating.
            let propagating = propagation::still_propagating(
                "ec2",
                "CreateFlowLogs",
                e.code(),
                &e.message,
                Some(propagation::Phase::Write),
            );
            if !propagating || Instant::now() > deadline {
                return Err(e.into());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(10));
        };
        Ok(Outputs::from([("id".into(), id)]))
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
        // Every attribute is force-new; tags are retagged.
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let action = || format!("delete flow log {}", cur.physical_id);
        let r = c
            .ec2
            .delete_flow_logs()
            .flow_log_ids(&cur.physical_id)
            .send()
            .await
            .ctx(action);
        let r = match r {
            Err(e) if e.is_not_found() => return Ok(()),
            r => r?,
        };
        // EC2 answers a flow log it could not delete as an item, not an error.
        match unsuccessful("ec2", action(), r.unsuccessful()) {
            Some(e) => ignore_missing(Err::<(), _>(e)),
            None => Ok(()),
        }
    }
}

/// The first failed item of a CreateFlowLogs or DeleteFlowLogs answer, as the error it is.
fn unsuccessful(
    service: &'static str,
    action: String,
    items: &[aws_sdk_ec2::types::UnsuccessfulItem],
) -> Option<AwsError> {
    let e = items.iter().find_map(|u| u.error())?;
    Some(AwsError::from_code(
        service,
        action,
        e.code().unwrap_or("Unsuccessful"),
        e.message().unwrap_or_default(),
    ))
}
