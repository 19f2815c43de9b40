//! `aws_launch_template`: how the container instances of `ec2_capacity` boot: the ECS-optimized
//! AMI, the instance type, the instance profile, user data that joins the stack's cluster and
//! blocks the tasks' way to the instance metadata, IMDSv2 at one hop, an encrypted root volume.
//! A change creates a new version and makes it the default, which the Auto Scaling group uses.

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest, RequestLaunchTemplateData,
    ResourceType, VolumeType,
};

use super::common::{b, ignore_missing, s, strs};
use super::ec2::{observe_ec2, stack_filter, tag_spec};
use crate::aws::{Clients, Ctx, IN_USE};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::{NetworkModel, View};

pub struct LaunchTemplate;

pub const KIND: &str = "aws_launch_template";
pub const ID: &str = "lt.ecs";

/// Registers the instance with the stack's cluster, and keeps its tasks (awsvpc) from the
/// instance metadata service, so a container cannot take the instance role's credentials.
pub fn user_data(cluster: &str) -> String {
    format!(
        "#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n\
         echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config\n"
    )
}

/// The root volume of the ECS-optimized Amazon Linux 2023 AMI, encrypted (with the account's
/// default EBS key). An AMI of `ec2_capacity.ami` with another root device gets this as a
/// second, encrypted volume instead.
const ROOT_DEVICE: &str = "/dev/xvda";

#[async_trait]
impl Kind<Clients> for LaunchTemplate {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeLaunchTemplateVersions",
            ],
            write_any: &[
                "ec2:CreateLaunchTemplate",
                "ec2:CreateLaunchTemplateVersion",
                "ec2:ModifyLaunchTemplate",
                "ec2:DeleteLaunchTemplate",
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
        // The user data names the cluster: instances must be gone before it can be deleted.
        &[
            super::iam_role::KIND,
            super::security_group::KIND,
            super::cluster::KIND,
        ]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(e) = &v.service().ec2_capacity else {
            return vec![];
        };
        vec![
            Node::new(KIND, v.id(ID), v.service_names().launch_template())
                .attr("image_id", e.image_id.as_str())
                .attr("instance_type", e.instance_type.as_str())
                .attr(
                    "instance_profile_arn",
                    Value::reference(&v.id(super::iam_role::INSTANCE_ID), "instance_profile_arn"),
                )
                .attr(
                    "security_groups",
                    Value::set([Value::reference(
                        &v.id(super::security_group::SERVICE_ID),
                        "id",
                    )]),
                )
                // In private subnets the instances reach out through the network's egress;
                // only in an existing network's public subnets do they need public IPs.
                .attr(
                    "associate_public_ip_address",
                    matches!(
                        &v.network,
                        NetworkModel::Existing { private_subnet_ids, .. }
                            if private_subnet_ids.is_empty()
                    ),
                )
                .attr("user_data", user_data(&v.names().cluster()))
                // IMDSv2 only, one hop: a container (one hop further) cannot reach it.
                .attr("metadata_http_tokens", "required")
                .attr("metadata_hop_limit", 1)
                .attr("root_volume_encrypted", true)
                .after(super::cluster::ID),
        ]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let describe = |f: Filter| async move {
            c.ec2
                .describe_launch_templates()
                .filters(f)
                .send()
                .await
                .ctx(|| "describe launch templates".into())
                .map(|r| r.launch_templates.unwrap_or_default())
        };
        let mut found = describe(stack_filter(stack)).await?;
        if !desired.is_empty() {
            let names = Filter::builder()
                .name("launch-template-name")
                .set_values(Some(desired.iter().map(|n| n.name.clone()).collect()))
                .build();
            found.extend(describe(names).await?);
        }
        let mut out: Vec<Observed> = Vec::new();
        for lt in found {
            let id = lt.launch_template_id().unwrap_or_default().to_string();
            if out.iter().any(|o| o.physical_id == id) {
                continue;
            }
            let v = c
                .ec2
                .describe_launch_template_versions()
                .launch_template_id(&id)
                .versions("$Default")
                .send()
                .await
                .ctx(|| format!("describe default version of launch template {id}"))?;
            let data = v
                .launch_template_versions()
                .first()
                .and_then(|v| v.launch_template_data());
            let nic = data.and_then(|d| d.network_interfaces().first());
            let user_data = data
                .and_then(|d| d.user_data())
                .and_then(|u| aws_smithy_types::base64::decode(u).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let attrs = Attrs::from([
                (
                    "image_id".into(),
                    Value::opt_str(data.and_then(|d| d.image_id())),
                ),
                (
                    "instance_type".into(),
                    Value::opt_str(data.and_then(|d| d.instance_type()).map(|t| t.as_str())),
                ),
                (
                    "instance_profile_arn".into(),
                    Value::opt_str(
                        data.and_then(|d| d.iam_instance_profile())
                            .and_then(|p| p.arn()),
                    ),
                ),
                (
                    "associate_public_ip_address".into(),
                    Value::Bool(
                        nic.and_then(|n| n.associate_public_ip_address())
                            .unwrap_or(false),
                    ),
                ),
                (
                    "security_groups".into(),
                    Value::set(
                        nic.map(|n| n.groups())
                            .unwrap_or_default()
                            .iter()
                            .map(String::as_str),
                    ),
                ),
                ("user_data".into(), Value::from(user_data)),
                (
                    "metadata_http_tokens".into(),
                    Value::opt_str(
                        data.and_then(|d| d.metadata_options())
                            .and_then(|m| m.http_tokens())
                            .map(|t| t.as_str()),
                    ),
                ),
                (
                    "metadata_hop_limit".into(),
                    data.and_then(|d| d.metadata_options())
                        .and_then(|m| m.http_put_response_hop_limit())
                        .map_or(Value::Null, |h| Value::from(i64::from(h))),
                ),
                (
                    "root_volume_encrypted".into(),
                    Value::Bool(
                        data.map(|d| d.block_device_mappings())
                            .unwrap_or_default()
                            .iter()
                            .find(|m| m.device_name() == Some(ROOT_DEVICE))
                            .and_then(|m| m.ebs())
                            .and_then(|e| e.encrypted())
                            .unwrap_or(false),
                    ),
                ),
            ]);
            let mut tags = lt.tags().to_vec();
            // Launch templates are named: a same-named one without tags is a look-alike.
            if !tags.iter().any(|t| t.key() == Some("Name")) {
                tags.push(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("Name")
                        .value(lt.launch_template_name().unwrap_or_default())
                        .build(),
                );
            }
            let outputs = Outputs::from([
                ("id".into(), id.clone()),
                (
                    "name".into(),
                    lt.launch_template_name().unwrap_or_default().to_string(),
                ),
            ]);
            out.extend(observe_ec2(KIND, stack, desired, id, &tags, attrs, outputs));
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
            .ec2
            .create_launch_template()
            .launch_template_name(&node.name)
            .launch_template_data(data(attrs)?)
            .tag_specifications(tag_spec(ResourceType::LaunchTemplate, stack, node))
            .send()
            .await
            .ctx(|| format!("create launch template {}", node.name))?;
        let id = r
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .unwrap_or_default()
            .to_string();
        Ok(Outputs::from([
            ("id".into(), id),
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
        let v = c
            .ec2
            .create_launch_template_version()
            .launch_template_id(&cur.physical_id)
            .launch_template_data(data(attrs)?)
            .send()
            .await
            .ctx(|| format!("create a version of launch template {}", node.name))?;
        let number = v
            .launch_template_version()
            .and_then(|v| v.version_number())
            .unwrap_or_default();
        c.ec2
            .modify_launch_template()
            .launch_template_id(&cur.physical_id)
            .default_version(number.to_string())
            .send()
            .await
            .ctx(|| {
                format!(
                    "make version {number} the default of launch template {}",
                    node.name
                )
            })?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let r = super::common::retry_in_use(IN_USE, || async {
            c.ec2
                .delete_launch_template()
                .launch_template_id(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("delete launch template {}", cur.name))
        })
        .await;
        ignore_missing(r)
    }
}

fn data(attrs: &Attrs) -> Result<RequestLaunchTemplateData, BoxError> {
    Ok(RequestLaunchTemplateData::builder()
        .image_id(s(attrs, "image_id")?)
        .instance_type(s(attrs, "instance_type")?.into())
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .arn(s(attrs, "instance_profile_arn")?)
                .build(),
        )
        .network_interfaces(
            LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                .device_index(0)
                .associate_public_ip_address(b(attrs, "associate_public_ip_address"))
                .set_groups(Some(strs(attrs, "security_groups")))
                .build(),
        )
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::from(s(
                    attrs,
                    "metadata_http_tokens",
                )?))
                .http_put_response_hop_limit(super::common::i(attrs, "metadata_hop_limit")?)
                .build(),
        )
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name(ROOT_DEVICE)
                .ebs(
                    LaunchTemplateEbsBlockDeviceRequest::builder()
                        .encrypted(b(attrs, "root_volume_encrypted"))
                        .volume_type(VolumeType::Gp3)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        .user_data(aws_smithy_types::base64::encode(s(attrs, "user_data")?))
        .build())
}
