//! `aws_autoscaling_group`: the EC2 instances behind `ec2_capacity`. ECS managed scaling sets
//! its desired capacity, so ballast manages only the bounds.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};

use super::common::{b, i, ownership, s, strs, tags_for};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::View;

pub struct AutoScalingGroup;

pub const KIND: &str = "aws_autoscaling_group";
pub const ID: &str = "asg.ecs";

#[async_trait]
impl Kind<Clients> for AutoScalingGroup {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &["autoscaling:DescribeAutoScalingGroups"],
            write: &[
                "autoscaling:CreateAutoScalingGroup",
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:DeleteAutoScalingGroup",
                "autoscaling:CreateOrUpdateTags",
                "autoscaling:DeleteTags",
            ],
            write_any: &[
                "iam:CreateServiceLinkedRole",
                "ec2:RunInstances",
                "ec2:CreateTags",
            ],
            arns: &[
                "arn:aws:autoscaling:{region}:*:autoScalingGroup:*:autoScalingGroupName/{name}",
            ],
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            super::launch_template::KIND,
            super::subnet::KIND,
            super::route_table::KIND,
            super::vpc_endpoint::KIND,
        ]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(e) = &v.service().ec2_capacity else {
            return vec![];
        };
        vec![
            Node::new(KIND, v.id(ID), v.service_names().autoscaling_group())
                .attr(
                    "launch_template_id",
                    Value::reference(&v.id(super::launch_template::ID), "id"),
                )
                .attr("min_size", e.min)
                .attr("max_size", e.max)
                .attr("subnets", super::network::task_subnets(v))
                // ECS managed termination protection needs new instances protected from scale-in.
                .attr("protect_from_scale_in", e.managed_termination_protection)
                .after_all(super::network::task_routes(v)),
        ]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        // The stack's groups by their ownership tag; then each desired one the filter did not
        // show by its name (one made a moment ago is found before the filter shows it).
        let describe = |names: Vec<String>, tagged: bool| async move {
            let mut q = c.autoscaling.describe_auto_scaling_groups();
            q = if tagged {
                q.filters(
                    aws_sdk_autoscaling::types::Filter::builder()
                        .name(format!("tag:{}", crate::spec::names::TAG_STACK))
                        .values(&stack.name)
                        .build(),
                )
            } else {
                q.set_auto_scaling_group_names(Some(names))
            };
            let mut pages = q.into_paginator().send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.ctx(|| "describe auto scaling groups".into())?;
                out.extend(page.auto_scaling_groups().iter().cloned());
            }
            Ok::<_, crate::aws::AwsError>(out)
        };
        let tagged = describe(vec![], true).await?;
        let missing: Vec<String> = desired
            .iter()
            .map(|n| n.name.clone())
            .filter(|n| {
                !tagged
                    .iter()
                    .any(|g| g.auto_scaling_group_name() == Some(n.as_str()))
            })
            .collect();
        let named = if missing.is_empty() {
            Vec::new()
        } else {
            describe(missing, false).await?
        };
        let mut groups: Vec<aws_sdk_autoscaling::types::AutoScalingGroup> = Vec::new();
        for g in named.into_iter().chain(tagged) {
            if !groups
                .iter()
                .any(|f| f.auto_scaling_group_name() == g.auto_scaling_group_name())
            {
                groups.push(g);
            }
        }
        let mut out = Vec::new();
        // A group being deleted is on its way out, not something to adopt or update.
        for g in groups.iter().filter(|g| g.status().is_none()) {
            let name = g.auto_scaling_group_name().unwrap_or_default().to_string();
            let own = ownership(
                stack,
                g.tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))),
            );
            let Some(id) = super::common::found_id(&own, desired, &name, || {
                let svc = crate::spec::names::service_of(&stack.name, &name, "ecs").flatten();
                crate::spec::names::service_id(ID, svc.as_deref())
            }) else {
                continue;
            };
            let subnets: Vec<&str> = g
                .vpc_zone_identifier()
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .collect();
            let arn = g.auto_scaling_group_arn().unwrap_or_default().to_string();
            out.push(Observed {
                id,
                kind: KIND,
                name: name.clone(),
                outputs: Outputs::from([("arn".into(), arn), ("name".into(), name.clone())]),
                physical_id: name.clone(),
                attrs: Attrs::from([
                    ("tags".into(), own.tags.clone()),
                    (
                        "launch_template_id".into(),
                        Value::opt_str(g.launch_template().and_then(|l| l.launch_template_id())),
                    ),
                    (
                        "min_size".into(),
                        Value::Int(g.min_size().unwrap_or_default().into()),
                    ),
                    (
                        "max_size".into(),
                        Value::Int(g.max_size().unwrap_or_default().into()),
                    ),
                    ("subnets".into(), Value::set(subnets)),
                    (
                        "protect_from_scale_in".into(),
                        Value::Bool(g.new_instances_protected_from_scale_in().unwrap_or(false)),
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
        let mut tags: Vec<Tag> = tags_for(stack, node, true)
            .into_iter()
            .map(|(k, v)| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .propagate_at_launch(true)
                    .resource_id(&node.name)
                    .resource_type("auto-scaling-group")
                    .build()
            })
            .collect();
        // ECS expects this tag on groups it scales.
        tags.push(
            Tag::builder()
                .key("AmazonECSManaged")
                .value("true")
                .propagate_at_launch(true)
                .resource_id(&node.name)
                .resource_type("auto-scaling-group")
                .build(),
        );
        c.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&node.name)
            .launch_template(template(attrs)?)
            .min_size(i(attrs, "min_size")?)
            .max_size(i(attrs, "max_size")?)
            .desired_capacity(i(attrs, "min_size")?)
            .vpc_zone_identifier(strs(attrs, "subnets").join(","))
            .new_instances_protected_from_scale_in(b(attrs, "protect_from_scale_in"))
            .set_tags(Some(tags))
            .send()
            .await
            .ctx(|| format!("create auto scaling group {}", node.name))?;
        let r = c
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&node.name)
            .send()
            .await
            .ctx(|| format!("describe auto scaling group {}", node.name))?;
        let arn = r
            .auto_scaling_groups()
            .first()
            .and_then(|g| g.auto_scaling_group_arn())
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
        _: &[String],
    ) -> Result<Outputs, BoxError> {
        c.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&node.name)
            .launch_template(template(attrs)?)
            .min_size(i(attrs, "min_size")?)
            .max_size(i(attrs, "max_size")?)
            .vpc_zone_identifier(strs(attrs, "subnets").join(","))
            .new_instances_protected_from_scale_in(b(attrs, "protect_from_scale_in"))
            .send()
            .await
            .ctx(|| format!("update auto scaling group {}", node.name))?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let r = c
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(&cur.physical_id)
            .force_delete(true)
            .send()
            .await
            .ctx(|| format!("delete auto scaling group {}", cur.name));
        match r {
            Err(e) if e.is_not_found() => return Ok(()),
            r => r?,
        };
        // Instances terminate first; the launch template and subnets are in use until then.
        let what = format!("auto scaling group {} was still deleting", cur.name);
        super::common::wait_until(Duration::from_secs(900), what, || async {
            let r = c
                .autoscaling
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("describe auto scaling group {}", cur.name))?;
            Ok(r.auto_scaling_groups().is_empty())
        })
        .await
    }
}

fn template(attrs: &Attrs) -> Result<LaunchTemplateSpecification, BoxError> {
    Ok(LaunchTemplateSpecification::builder()
        .launch_template_id(s(attrs, "launch_template_id")?)
        .version("$Default")
        .build())
}

/// `Kind::retag`: see there.
fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a std::collections::BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        let name = &cur.physical_id;
        let tag = |k: &String| {
            Tag::builder()
                .key(k)
                .resource_id(name)
                .resource_type("auto-scaling-group")
        };
        if !set.is_empty() {
            c.autoscaling
                .create_or_update_tags()
                .set_tags(Some(
                    set.iter()
                        .map(|(k, v)| tag(k).value(v).propagate_at_launch(true).build())
                        .collect(),
                ))
                .send()
                .await
                .ctx(|| format!("tag Auto Scaling group {name}"))?;
        }
        if !remove.is_empty() {
            c.autoscaling
                .delete_tags()
                .set_tags(Some(remove.iter().map(|k| tag(k).build()).collect()))
                .send()
                .await
                .ctx(|| format!("untag Auto Scaling group {name}"))?;
        }
        Ok(())
    })
}
