//! `aws_ecs_capacity_provider`: the ECS capacity provider over the `ec2_capacity` Auto Scaling
//! group (managed scaling, managed termination protection), associated with the cluster.

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProviderField, ClusterField,
    ManagedScaling, ManagedScalingStatus, ManagedTerminationProtection,
};

use super::common::{b, i, ignore_missing, s};
use super::ecs::{ecs_owner, ecs_tags};
use crate::aws::{AwsError, Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::{Names, View};

pub struct CapacityProvider;

pub const KIND: &str = "aws_ecs_capacity_provider";
pub const ID: &str = "capacity.ec2";

#[async_trait]
impl Kind<Clients> for CapacityProvider {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["ecs:DescribeCapacityProviders", "ecs:DescribeClusters"],
            write: &[
                "ecs:CreateCapacityProvider",
                "ecs:UpdateCapacityProvider",
                "ecs:DeleteCapacityProvider",
                "ecs:TagResource",
                "ecs:UntagResource",
            ],
            arns: &["arn:aws:ecs:{region}:*:capacity-provider/{name}"],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::ecs::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::autoscaling_group::KIND, super::cluster::KIND]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(e) = &v.service().ec2_capacity else {
            return vec![];
        };
        vec![
            Node::new(KIND, v.id(ID), v.service_names().capacity_provider())
                .attr(
                    "auto_scaling_group_arn",
                    Value::reference(&v.id(super::autoscaling_group::ID), "arn"),
                )
                .attr("target_capacity", e.target_capacity)
                .attr(
                    "managed_termination_protection",
                    e.managed_termination_protection,
                )
                .attr("cluster", Value::reference(super::cluster::ID, "name"))
                .force_new(&["auto_scaling_group_arn"]),
        ]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        // The listing (every provider of the region); then each desired one it did not show
        // by its name (one made a moment ago is found before the listing shows it).
        let names = Names::new(&stack.name, &stack.region);
        let describe = |wanted: Vec<String>| async move {
            let mut out = Vec::new();
            let mut token = None;
            // Bounded: a region has at most a few hundred providers.
            for _ in 0..50 {
                let r = c
                    .ecs
                    .describe_capacity_providers()
                    .set_capacity_providers((!wanted.is_empty()).then(|| wanted.clone()))
                    .include(CapacityProviderField::Tags)
                    .set_next_token(token)
                    .send()
                    .await
                    .ctx(|| "describe capacity providers".into())?;
                out.extend(r.capacity_providers().iter().cloned());
                token = r.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            Ok::<_, AwsError>(out)
        };
        let cluster = names.cluster();
        let clusters = async {
            c.ecs
                .describe_clusters()
                .clusters(&cluster)
                .include(ClusterField::Settings)
                .send()
                .await
                .ctx(|| format!("describe cluster {cluster}"))
        };
        let listed = describe(Vec::new()).await?;
        let missing: Vec<String> = desired
            .iter()
            .map(|n| n.name.clone())
            .filter(|n| !listed.iter().any(|p| p.name() == Some(n.as_str())))
            .collect();
        let named = if missing.is_empty() {
            Vec::new()
        } else {
            describe(missing).await?
        };
        let mut found: Vec<aws_sdk_ecs::types::CapacityProvider> = Vec::new();
        for cp in named.into_iter().chain(listed) {
            let name = cp.name().unwrap_or_default();
            let ours = desired.iter().any(|n| n.name == name)
                || crate::spec::names::service_of(&stack.name, name, "ec2").is_some();
            if ours && !found.iter().any(|f| f.name() == Some(name)) {
                found.push(cp);
            }
        }
        // Which of them the cluster uses (read only when the stack has any).
        let associated: Vec<String> = if found.is_empty() {
            Vec::new()
        } else {
            clusters
                .await?
                .clusters()
                .iter()
                .filter(|cl| cl.status() == Some("ACTIVE"))
                .flat_map(|cl| cl.capacity_providers().iter().cloned())
                .collect()
        };
        let mut out = Vec::new();
        for cp in found
            .iter()
            .filter(|cp| cp.status().map(|s| s.as_str()) == Some("ACTIVE"))
        {
            let name = cp.name().unwrap_or_default().to_string();
            let own = ecs_owner(stack, cp.tags());
            let Some(id) = super::common::found_id(&own, desired, &name, || {
                let svc = crate::spec::names::service_of(&stack.name, &name, "ec2").flatten();
                crate::spec::names::service_id(ID, svc.as_deref())
            }) else {
                continue;
            };
            let asg = cp.auto_scaling_group_provider();
            let associated = associated.contains(&name);
            out.push(Observed {
                id,
                kind: KIND,
                name: name.clone(),
                outputs: Outputs::from([
                    (
                        "arn".into(),
                        cp.capacity_provider_arn().unwrap_or_default().to_string(),
                    ),
                    ("name".into(), name.clone()),
                ]),
                physical_id: name.clone(),
                attrs: Attrs::from([
                    ("tags".into(), own.tags.clone()),
                    (
                        "auto_scaling_group_arn".into(),
                        Value::opt_str(asg.map(|a| a.auto_scaling_group_arn())),
                    ),
                    (
                        "target_capacity".into(),
                        Value::from(
                            asg.and_then(|a| a.managed_scaling())
                                .and_then(|m| m.target_capacity())
                                .map(i64::from),
                        ),
                    ),
                    (
                        "managed_termination_protection".into(),
                        Value::Bool(
                            asg.and_then(|a| a.managed_termination_protection())
                                == Some(&ManagedTerminationProtection::Enabled),
                        ),
                    ),
                    (
                        "cluster".into(),
                        if associated {
                            Value::str(&cluster)
                        } else {
                            Value::Null
                        },
                    ),
                ]),
                owned: own.owned,
            });
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
        let r = c
            .ecs
            .create_capacity_provider()
            .name(&node.name)
            .auto_scaling_group_provider(
                AutoScalingGroupProvider::builder()
                    .auto_scaling_group_arn(s(attrs, "auto_scaling_group_arn")?)
                    .managed_scaling(scaling(attrs)?)
                    .managed_termination_protection(protection(attrs))
                    .build()?,
            )
            .set_tags(Some(ecs_tags(stack, node)))
            .send()
            .await
            .ctx(|| format!("create capacity provider {}", node.name))?;
        associate(c, s(attrs, "cluster")?, &node.name, true).await?;
        let arn = r
            .capacity_provider()
            .and_then(|p| p.capacity_provider_arn())
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
        if changed
            .iter()
            .any(|k| k == "target_capacity" || k == "managed_termination_protection")
        {
            c.ecs
                .update_capacity_provider()
                .name(&node.name)
                .auto_scaling_group_provider(
                    AutoScalingGroupProviderUpdate::builder()
                        .managed_scaling(scaling(attrs)?)
                        .managed_termination_protection(protection(attrs))
                        .build(),
                )
                .send()
                .await
                .ctx(|| format!("update capacity provider {}", node.name))?;
        }
        if changed.iter().any(|k| k == "cluster") {
            associate(c, s(attrs, "cluster")?, &node.name, true).await?;
        }
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        if let Some(cluster) = cur.attrs.get("cluster").and_then(Value::as_str) {
            let r = associate(c, cluster, &cur.physical_id, false).await;
            ignore_missing(r)?;
        }
        let r = super::common::retry_in_use(IN_USE, || async {
            c.ecs
                .delete_capacity_provider()
                .capacity_provider(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("delete capacity provider {}", cur.name))
        })
        .await;
        ignore_missing(r)
    }
}

fn scaling(attrs: &Attrs) -> Result<ManagedScaling, BoxError> {
    Ok(ManagedScaling::builder()
        .status(ManagedScalingStatus::Enabled)
        .target_capacity(i(attrs, "target_capacity")?)
        .build())
}

fn protection(attrs: &Attrs) -> ManagedTerminationProtection {
    if b(attrs, "managed_termination_protection") {
        ManagedTerminationProtection::Enabled
    } else {
        ManagedTerminationProtection::Disabled
    }
}

/// Add or remove `provider` in the cluster's capacity providers, keeping the others
/// (PutClusterCapacityProviders replaces the whole list).
pub async fn associate(
    c: &Clients,
    cluster: &str,
    provider: &str,
    on: bool,
) -> Result<(), AwsError> {
    super::ecs::edit_providers(c, cluster, |current| {
        let mut list: Vec<String> = current.into_iter().filter(|p| p != provider).collect();
        if on {
            list.push(provider.to_string());
        }
        list
    })
    .await
}
