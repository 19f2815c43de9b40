//! The validated stack with every default filled in. Resource kinds lower this into nodes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::names::Names;

#[derive(Clone, Debug, Serialize)]
pub struct Model {
    pub name: String,
    /// The primary region.
    pub region: String,
    /// Every region, primary first.
    pub regions: Vec<String>,
    /// Route 53 failover (stub until the regions spec lands).
    pub dns: Option<DnsModel>,
    pub tags: BTreeMap<String, String>,
    pub network: NetworkModel,
    pub load_balancer: LoadBalancerModel,
    pub service: ServiceModel,
    /// `None` when `alarms: false`.
    pub alarms: Option<AlarmsModel>,
    pub slo: Option<SloModel>,
    pub dashboard: bool,
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
    /// Alarm names made outside ballast.
    pub rollback_alarms: Vec<String>,
    /// Keys of managed alarms (`target_5xx_rate`...) that roll a deployment back; by default
    /// `target_5xx_rate` when alarms are on and `rollback_alarms` is not given.
    pub rollback_managed: Vec<ManagedAlarm>,
}

/// `alarms:`, defaults filled in.
#[derive(Clone, Debug, Serialize)]
pub struct AlarmsModel {
    pub notify: NotifyModel,
    /// The managed alarms that are on, in `ManagedAlarm::ALL` order.
    pub managed: Vec<ManagedAlarmModel>,
    pub custom: Vec<CustomAlarmModel>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct NotifyModel {
    pub email: Vec<String>,
    pub https: Vec<String>,
}

/// How an alarm evaluates its metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    pub threshold: f64,
    /// Seconds: 10, 30 or a multiple of 60.
    pub period: u32,
    pub evaluation_periods: u32,
    /// Breaching datapoints out of `evaluation_periods` that fire the alarm (M of N).
    pub datapoints: u32,
    /// `missing`, `notBreaching`, `breaching` or `ignore`.
    pub missing_data: String,
}

/// The alarms ballast makes by default, each of which a spec can tune or turn off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagedAlarm {
    /// 100 * HTTPCode_Target_5XX_Count / RequestCount, percent.
    Target5xxRate,
    /// HTTPCode_ELB_5XX_Count per period: the load balancer's own errors (no healthy target).
    Elb5xx,
    /// TargetResponseTime p99, seconds.
    LatencyP99,
    /// UnHealthyHostCount of the target group.
    UnhealthyHosts,
    /// RunningTaskCount (Container Insights) below the service's minimum.
    RunningTasksLow,
    /// CPUUtilization of the service, percent.
    CpuHigh,
    /// MemoryUtilization of the service, percent.
    MemoryHigh,
}

impl ManagedAlarm {
    pub const ALL: [ManagedAlarm; 7] = [
        ManagedAlarm::Target5xxRate,
        ManagedAlarm::Elb5xx,
        ManagedAlarm::LatencyP99,
        ManagedAlarm::UnhealthyHosts,
        ManagedAlarm::RunningTasksLow,
        ManagedAlarm::CpuHigh,
        ManagedAlarm::MemoryHigh,
    ];

    /// The key in the spec and in the alarm's name (`<stack>-<key>`).
    pub fn key(self) -> &'static str {
        match self {
            ManagedAlarm::Target5xxRate => "target_5xx_rate",
            ManagedAlarm::Elb5xx => "elb_5xx",
            ManagedAlarm::LatencyP99 => "latency_p99",
            ManagedAlarm::UnhealthyHosts => "unhealthy_hosts",
            ManagedAlarm::RunningTasksLow => "running_tasks_low",
            ManagedAlarm::CpuHigh => "cpu_high",
            ManagedAlarm::MemoryHigh => "memory_high",
        }
    }

    pub fn from_key(key: &str) -> Option<ManagedAlarm> {
        ManagedAlarm::ALL.into_iter().find(|a| a.key() == key)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ManagedAlarmModel {
    pub alarm: ManagedAlarm,
    pub eval: Evaluation,
}

/// `alarms.custom[]`: any CloudWatch metric.
#[derive(Clone, Debug, Serialize)]
pub struct CustomAlarmModel {
    /// Unique among custom alarms; the alarm is named `<stack>-<name>`.
    pub name: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: BTreeMap<String, String>,
    /// `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount`, or a percentile such as `p95`.
    pub statistic: String,
    /// CloudWatch's ComparisonOperator, e.g. `GreaterThanThreshold` (from `>`).
    pub comparison: String,
    pub eval: Evaluation,
}

/// `slo:`: alert on error-budget burn (multi-window, multi-burn-rate).
#[derive(Clone, Debug, Serialize)]
pub struct SloModel {
    /// Percent of requests that are not 5xx over 30 days, e.g. 99.9.
    pub availability: Option<f64>,
    pub latency: Option<LatencySloModel>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LatencySloModel {
    /// e.g. 99: 99% of requests are faster than `threshold_ms`.
    pub percentile: f64,
    pub threshold_ms: u32,
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

#[derive(Clone, Debug, Serialize)]
pub struct DnsModel {
    pub zone: String,
    pub zone_id: Option<String>,
    pub name: String,
    pub health_check: DnsHealthCheckModel,
    pub fallback: Option<FallbackModel>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DnsHealthCheckModel {
    pub path: String,
    pub interval: u32,
    pub failure_threshold: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct FallbackModel {
    pub file: String,
    pub body: String,
}

impl Model {
    pub fn secondary(&self) -> Option<&str> {
        self.regions.get(1).map(String::as_str)
    }

    /// The model as lowered in `region` (stub until the regions spec lands).
    pub fn for_region(&self, region: &str) -> Model {
        let mut m = self.clone();
        m.region = region.to_string();
        m
    }
}
