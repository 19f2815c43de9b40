//! `aws_ecs_cluster`: the ECS cluster, with Container Insights on.

use async_trait::async_trait;
use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName};

use super::common::ignore_missing;
use super::ecs::{ecs_owner, ecs_tags, edit_providers};
use crate::aws::{Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::View;

pub struct Cluster;

pub const KIND: &str = "aws_ecs_cluster";
pub const ID: &str = "cluster";

#[async_trait]
impl Kind<Clients> for Cluster {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["ecs:DescribeClusters"],
            write: &[
                "ecs:CreateCluster",
                "ecs:DeleteCluster",
                "ecs:UpdateClusterSettings",
                "ecs:PutClusterCapacityProviders",
                "ecs:TagResource",
                "ecs:UntagResource",
            ],
            write_any: &["iam:CreateServiceLinkedRole"],
            arns: &["arn:aws:ecs:{region}:*:cluster/{name}"],
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::ecs::retag)
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        vec![Node::new(KIND, ID, v.names().cluster())
            .attr("container_insights", "enabled")
            .attr(
                "capacity_providers",
                Value::set(["FARGATE", "FARGATE_SPOT"]),
            )]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let name = crate::spec::Names::new(&stack.name, &stack.region).cluster();
        let r = c
            .ecs
            .describe_clusters()
            .clusters(&name)
            .include(ClusterField::Tags)
            .include(ClusterField::Settings)
            .send()
            .await
            .ctx(|| format!("describe cluster {name}"))?;
        let mut out = Vec::new();
        for cl in r
            .clusters()
            .iter()
            .filter(|cl| cl.status() == Some("ACTIVE"))
        {
            let own = ecs_owner(stack, cl.tags());
            if !own.owned && desired.is_empty() {
                continue;
            }
            let insights = cl
                .settings()
                .iter()
                .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
                .and_then(|s| s.value())
                .unwrap_or("disabled");
            let arn = cl.cluster_arn().unwrap_or_default().to_string();
            out.push(Observed {
                id: ID.into(),
                kind: KIND,
                name: name.clone(),
                outputs: Outputs::from([
                    ("arn".into(), arn.clone()),
                    ("name".into(), name.clone()),
                ]),
                physical_id: arn,
                attrs: Attrs::from([
                    ("tags".into(), own.tags.clone()),
                    ("container_insights".into(), Value::str(insights)),
                    (
                        "capacity_providers".into(),
                        // The Fargate ones; the EC2 provider is its own resource.
                        Value::set(
                            cl.capacity_providers()
                                .iter()
                                .filter(|p| p.starts_with("FARGATE"))
                                .map(String::as_str),
                        ),
                    ),
                ]),
                owned: own.owned,
            });
        }
        Ok(out)
    }

    /// Discovery reads each by its name (DescribeClusters).
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
        let r = c
            .ecs
            .create_cluster()
            .cluster_name(&node.name)
            .settings(setting(attrs))
            .set_capacity_providers(Some(super::common::strs(attrs, "capacity_providers")))
            .set_tags(Some(ecs_tags(stack, node)))
            .send()
            .await
            .ctx(|| format!("create cluster {}", node.name))?;
        let arn = r
            .cluster()
            .and_then(|c| c.cluster_arn())
            .unwrap_or_default()
            .to_string();
        Ok(Outputs::from([
            ("arn".into(), arn),
            ("name".into(), node.name.clone()),
        ]))
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
        cur: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        if changed.iter().any(|k| k == "capacity_providers") {
            // The Fargate ones from the spec; the EC2 provider manages its own membership.
            let fargate = super::common::strs(attrs, "capacity_providers");
            edit_providers(c, &node.name, |current| {
                let mut list = fargate.clone();
                list.extend(current.into_iter().filter(|p| !p.starts_with("FARGATE")));
                list
            })
            .await?;
        }
        if changed.iter().any(|k| k == "container_insights") {
            c.ecs
                .update_cluster_settings()
                .cluster(&node.name)
                .settings(setting(attrs))
                .send()
                .await
                .ctx(|| format!("update settings of cluster {}", node.name))?;
        }
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        // A cluster cannot go while a deleted service drains or terminating container
        // instances are still registered.
        let r = super::common::retry_in_use(IN_USE, || async {
            c.ecs
                .delete_cluster()
                .cluster(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("delete cluster {}", cur.name))
        })
        .await;
        ignore_missing(r)
    }
}

fn setting(attrs: &Attrs) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(
            attrs
                .get("container_insights")
                .and_then(Value::as_str)
                .unwrap_or("enabled"),
        )
        .build()
}
