//! The validated stack with every default filled in. Resource kinds lower this into nodes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::names::Names;

#[derive(Clone, Debug, Serialize)]
pub struct Model {
    pub name: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    pub network: NetworkModel,
    pub load_balancer: LoadBalancerModel,
    pub service: ServiceModel,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkModel {
    Create {
        cidr: String,
        subnets: Vec<SubnetModel>,
    },
    Existing {
        vpc_id: String,
        subnet_ids: Vec<String>,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct SubnetModel {
    pub az: String,
    pub cidr: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoadBalancerModel {
    pub port: u32,
    pub certificate_arn: Option<String>,
    pub idle_timeout: u32,
    pub deletion_protection: bool,
    pub ingress_cidrs: Vec<String>,
    pub deregistration_delay: u32,
    pub health_check: TargetHealthModel,
}

impl LoadBalancerModel {
    pub fn https(&self) -> bool {
        self.certificate_arn.is_some()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TargetHealthModel {
    pub path: String,
    pub interval: u32,
    pub timeout: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub matcher: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServiceModel {
    pub image: String,
    pub port: u32,
    pub cpu: u32,
    pub memory: u32,
    pub desired_count: u32,
    pub command: Option<Vec<String>>,
    pub environment: BTreeMap<String, String>,
    pub health_check: Option<ContainerHealthModel>,
    pub health_check_grace_period: u32,
    pub assign_public_ip: bool,
    pub log_retention_days: u32,
    pub autoscaling: Option<AutoscalingModel>,
    pub capacity: Option<CapacityModel>,
    pub ec2_capacity: Option<Ec2CapacityModel>,
    pub deployment: DeploymentModel,
}

#[derive(Clone, Debug, Serialize)]
pub struct AutoscalingModel {
    pub min: u32,
    pub max: u32,
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    pub requests_per_target: Option<u32>,
    pub scale_in_cooldown: u32,
    pub scale_out_cooldown: u32,
    pub disable_scale_in: bool,
    pub schedules: Vec<ScheduleModel>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScheduleModel {
    pub name: String,
    /// Normalized AWS schedule expression: `cron(...)`, `rate(...)` or `at(...)`.
    pub expression: String,
    pub timezone: String,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CapacityModel {
    pub base: u32,
    pub on_demand_weight: u32,
    pub spot_weight: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeploymentModel {
    pub circuit_breaker: bool,
    pub min_healthy_percent: u32,
    pub max_percent: u32,
    pub rollback_alarms: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ContainerHealthModel {
    pub command: Vec<String>,
    pub interval: u32,
    pub timeout: u32,
    pub retries: u32,
    pub start_period: u32,
}

/// A value the stack reports after deploy: (label, node id, output key).
pub struct StackOutput {
    pub label: &'static str,
    pub node: &'static str,
    pub key: &'static str,
}

pub const OUTPUTS: &[StackOutput] = &[
    StackOutput {
        label: "alb_dns_name",
        node: "alb",
        key: "dns_name",
    },
    StackOutput {
        label: "url",
        node: "alb",
        key: "url",
    },
    StackOutput {
        label: "cluster",
        node: "cluster",
        key: "name",
    },
    StackOutput {
        label: "service_arn",
        node: "service",
        key: "arn",
    },
];

impl Model {
    pub fn names(&self) -> Names {
        Names::new(&self.name, &self.region)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Ec2CapacityModel {
    pub instance_type: String,
    /// An AMI id, or `resolve:ssm:<parameter>` which EC2 resolves at launch.
    pub image_id: String,
    pub min: u32,
    pub max: u32,
    pub target_capacity: u32,
    pub managed_termination_protection: bool,
}

/// The ECS-optimized Amazon Linux 2023 AMI, as EC2 launch templates can resolve it.
pub const ECS_OPTIMIZED_AMI: &str =
    "resolve:ssm:/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";
