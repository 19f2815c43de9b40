//! The validated stack with every default filled in. Resource kinds lower this into nodes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::names::Names;

#[derive(Clone, Debug, Serialize)]
pub struct Model {
    pub name: String,
    /// The primary region (kinds lower from a `View` of one region).
    pub region: String,
    /// Every region of the stack, the primary first: `[region]` for the one-region form,
    /// `regions:` as written (at most two) otherwise. Two regions always come with `dns`.
    pub regions: Vec<String>,
    /// `accounts:`: the account ids the stack may be acted on in; empty when not given (any).
    pub accounts: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub network: NetworkModel,
    pub load_balancer: LoadBalancerModel,
    /// The stack's services by name. The `service:` form is one service named like the stack.
    pub services: BTreeMap<String, ServiceModel>,
    /// Whether the spec names its services (`services:`): the ids and physical names of their
    /// resources then carry the service's name (`tg.api`, `pizza-api-tg`). The `service:` form
    /// keeps the ids and names of a one-service stack (`tg`, `web-tg`).
    pub named_services: bool,
    /// `None` when `alarms: false`.
    pub alarms: Option<AlarmsModel>,
    pub slo: Option<SloModel>,
    pub dashboard: bool,
    /// `iam.permissions_boundary`: the boundary of every role the stack has; none without it
    /// (a boundary set by hand is then drift, and removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    /// `dns:`: Route 53 health checks and failover records. Always `Some` with two regions.
    pub dns: Option<DnsModel>,
    /// What validation found allowed but unwise: every command shows these.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// `dns:`, defaults filled in. Names are lowercase without the trailing dot.
///
/// The hosted zone is given either way; exactly one of `zone_id` and `zone_name` is `Some`:
/// with `zone_id` use the id as is (no lookup), with `zone_name` look the public hosted zone up
/// by name (`ListHostedZonesByName`, matching `<zone_name>.` exactly; a private zone of the
/// same name is not it). The zone is never created or deleted.
#[derive(Clone, Debug, Serialize)]
pub struct DnsModel {
    /// The zone as written, normalized: a name (`example.com`) or an id (`Z0123456789ABC`).
    pub zone: String,
    /// `Some` when the zone is given by id (`^Z[A-Z0-9]{1,31}$`; a leading `/hostedzone/` is
    /// dropped).
    pub zone_id: Option<String>,
    /// `Some` when the zone is given by name; `dns.name` is then known to be in it.
    pub zone_name: Option<String>,
    /// The record users resolve, e.g. `shop.example.com`.
    pub name: String,
    pub health_check: DnsHealthCheckModel,
    /// What users see when no region is healthy; the page is served by an S3 website bucket
    /// named `Names::fallback_bucket(name)` (behind CloudFront with a certificate).
    pub fallback: Option<FallbackModel>,
}

/// One Route 53 health check per region, against that region's load balancer (HTTP, on the
/// listener port).
#[derive(Clone, Debug, Serialize)]
pub struct DnsHealthCheckModel {
    /// Starts with `/`, at most 255 characters; default `load_balancer.health_check.path`.
    pub path: String,
    /// Seconds between checks: 10 or 30.
    pub interval: u32,
    /// Failed checks in a row that make a region unhealthy: 1..=10.
    pub failure_threshold: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct FallbackModel {
    /// `fallback.page` as written (relative to the spec file's directory).
    pub file: String,
    /// The page's content: non-empty UTF-8, at most `MAX_FALLBACK_PAGE` bytes.
    pub body: String,
    /// `fallback.certificate_arn`: an ACM certificate in us-east-1 (CloudFront takes no other).
    /// With it a CloudFront distribution serves the page over HTTPS at `dns.name`, and the
    /// fallback record aliases the distribution instead of the S3 website.
    pub certificate_arn: Option<String>,
    /// `protect:`: the bucket refuses deletion (its policy denies s3:DeleteBucket).
    pub protect: bool,
}

/// The most bytes a fallback page may have: `ballast maintenance on` serves the same page as the
/// load balancer's fixed response, whose body AWS caps at 1024 bytes.
pub const MAX_FALLBACK_PAGE: usize = 1024;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkModel {
    Create {
        cidr: String,
        /// The public subnets (load balancer, NAT gateways), one per AZ.
        subnets: Vec<SubnetModel>,
        /// The private subnets (tasks, container instances), one per AZ of `subnets`, in the
        /// same order.
        private_subnets: Vec<SubnetModel>,
        egress: Egress,
        /// `network.endpoints`: VPC endpoints for the AWS services the application calls
        /// (`sqs`, `dynamodb`, ...), beside those its egress makes.
        endpoints: Vec<String>,
        flow_logs: FlowLogs,
    },
    Existing {
        vpc_id: String,
        subnet_ids: Vec<String>,
        /// The tasks' subnets; empty: they run in `subnet_ids`.
        private_subnet_ids: Vec<String>,
    },
}

/// How the private subnets of a created network reach out (`network.egress`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Egress {
    /// A NAT gateway in each AZ, each private subnet routed to its own AZ's.
    Nat,
    /// One NAT gateway, in the first AZ, for every private subnet.
    NatSingle,
    /// No way to the internet: VPC endpoints for what the tasks need (ECR, CloudWatch Logs,
    /// Secrets Manager, SSM, STS, ECS for container instances) and the S3 gateway endpoint.
    Endpoints,
}

/// What the VPC flow logs of a created network record (`network.flow_logs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowLogs {
    Off,
    /// Rejected traffic only (the default): what a security review asks for, at a fraction of
    /// the volume.
    Reject,
    All,
}

impl FlowLogs {
    /// EC2's traffic type, None when off.
    pub fn traffic_type(self) -> Option<&'static str> {
        match self {
            FlowLogs::Off => None,
            FlowLogs::Reject => Some("REJECT"),
            FlowLogs::All => Some("ALL"),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SubnetModel {
    pub az: String,
    pub cidr: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoadBalancerModel {
    pub port: u32,
    /// The listener's ACM certificate in each region (every region of the stack, or none).
    pub certificates: BTreeMap<String, String>,
    /// The HTTPS listener's TLS policy (unused without a certificate).
    pub ssl_policy: String,
    pub idle_timeout: u32,
    pub deletion_protection: bool,
    pub drop_invalid_header_fields: bool,
    pub desync_mitigation_mode: String,
    pub ingress_cidrs: Vec<String>,
    pub deregistration_delay: u32,
    pub health_check: TargetHealthModel,
    /// `access_logs`: where the load balancer writes its access logs; `None`: nowhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<AccessLogsModel>,
    /// The web ACL the load balancer is associated with; `None`: none (an association made
    /// outside the spec, by Firewall Manager for one, is left alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waf: Option<WafModel>,
}

/// `load_balancer.waf_acl_arn` or `load_balancer.waf`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WafModel {
    /// Existing web ACLs: region -> ARN, for every region of the stack.
    Existing(BTreeMap<String, String>),
    /// The stack's own web ACL per region: AWS managed rule groups and a rate limit per IP.
    Baseline { rate_limit: u32 },
}

/// `load_balancer.access_logs`, defaults filled in.
#[derive(Clone, Debug, Serialize)]
pub struct AccessLogsModel {
    /// A bucket of the user's; `None`: the stack's own, one per region.
    pub bucket: Option<String>,
    /// Days the stack's own bucket keeps a log.
    pub retention_days: u32,
    /// `protect:`: the stack's own bucket refuses deletion (a bucket policy denies it).
    pub protect: bool,
}

impl LoadBalancerModel {
    pub fn https(&self) -> bool {
        !self.certificates.is_empty()
    }

    /// The listener's certificate in `region`.
    pub fn certificate(&self, region: &str) -> Option<&str> {
        self.certificates.get(region).map(String::as_str)
    }

    /// The stack's URL at the load balancer's DNS name: `https://` with a certificate, the
    /// port when it is not the scheme's.
    pub fn url(&self, dns: &str) -> String {
        let (scheme, default) = if self.https() {
            ("https", 443)
        } else {
            ("http", 80)
        };
        if self.port == default {
            format!("{scheme}://{dns}/")
        } else {
            format!("{scheme}://{dns}:{}/", self.port)
        }
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
    /// `secrets:`: variable name -> ECS `valueFrom` (a secret or parameter ARN, or the name of
    /// a parameter of the stack's region).
    pub secrets: BTreeMap<String, String>,
    pub secrets_kms_key: Option<String>,
    pub health_check: Option<ContainerHealthModel>,
    pub health_check_grace_period: u32,
    pub assign_public_ip: bool,
    pub log_retention_days: u32,
    pub autoscaling: Option<AutoscalingModel>,
    pub capacity: Option<CapacityModel>,
    pub ec2_capacity: Option<Ec2CapacityModel>,
    pub deployment: DeploymentModel,
    /// `route:` (named services only): the listener rule's conditions. `None` for the
    /// one-service form (the listener's default action) and for internal services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteModel>,
    /// `internal: true`: no route; reached by the stack's other services only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    /// Sidecars, in the spec's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerModel>,
    /// What the `app` container waits for: container name -> condition.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, String>,
    /// The task role's statements; empty: no task role.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<PermissionModel>,
    /// Its target group's own health check (`health_check: {path: ...}` of a routed service);
    /// none: `load_balancer.health_check`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_health: Option<TargetHealthModel>,
    /// Its own SLO (`slo:` of a routed service); none: the stack's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloModel>,
    /// How the `app` container is locked down.
    pub hardening: HardeningModel,
    pub runtime_platform: RuntimePlatformModel,
    /// `egress:`: where the tasks may connect besides the defaults.
    pub egress: Vec<EgressModel>,
}

/// One egress rule of a service's security group: `protocol` is `tcp`, `udp` or `-1` (all,
/// then no `port`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EgressModel {
    pub protocol: String,
    pub port: Option<u32>,
    pub to: String,
}

/// How a container is locked down: read-only root filesystem but for `writable_paths` (task
/// volumes), its user, Linux capabilities, and an init process that reaps zombies and passes
/// signals on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HardeningModel {
    pub readonly_root_filesystem: bool,
    pub writable_paths: Vec<String>,
    pub user: Option<String>,
    pub drop: Vec<String>,
    pub add: Vec<String>,
}

/// An image as the tasks of `region` pull it: `{region}` in it is the region (one ECR
/// repository name for each region of a stack, kept in step by ECR replication).
pub fn image_in(image: &str, region: &str) -> String {
    image.replace(REGION_PLACEHOLDER, region)
}

/// What `image_in` replaces.
pub const REGION_PLACEHOLDER: &str = "{region}";

/// The task volume of a container's writable path: `<container>-<path>`, every character of
/// the path but letters, digits, `-` and `_` a `-` (`app-var-cache-nginx`).
pub fn volume_name(container: &str, path: &str) -> String {
    let path: String = path
        .trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{container}-{path}")
}

/// The task's `runtimePlatform`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuntimePlatformModel {
    pub cpu_architecture: String,
    pub operating_system_family: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ContainerModel {
    pub name: String,
    pub image: String,
    pub essential: bool,
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    pub memory_reservation: Option<u32>,
    pub command: Option<Vec<String>>,
    pub environment: BTreeMap<String, String>,
    pub health_check: Option<ContainerHealthModel>,
    /// Container name -> START | HEALTHY | COMPLETE | SUCCESS.
    pub depends_on: BTreeMap<String, String>,
    pub hardening: HardeningModel,
}

/// One Allow statement of a task role's inline policy; actions and resources sorted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PermissionModel {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// A service's listener rule conditions, as validated: path patterns (empty: any path) and
/// host headers (empty: any host). `path: /` alone is the catch-all: the service at `/` takes
/// the listener's default action instead of a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteModel {
    pub paths: Vec<String>,
    pub hosts: Vec<String>,
}

impl RouteModel {
    /// Whether this is the catch-all (`path: /` and no host): the listener's default action.
    pub fn is_default(&self) -> bool {
        self.hosts.is_empty() && self.paths == ["/"]
    }
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

    /// Whether each service has its own (of its target group or its tasks); the others are the
    /// load balancer's, one per stack and region.
    pub fn per_service(self) -> bool {
        self != ManagedAlarm::Elb5xx
    }

    /// Whether it counts at the load balancer (requests, responses, target health): none of
    /// these watch an internal service, which has no target group.
    pub fn at_load_balancer(self) -> bool {
        !matches!(
            self,
            ManagedAlarm::RunningTasksLow | ManagedAlarm::CpuHigh | ManagedAlarm::MemoryHigh
        )
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

/// The load balancer's node id, whose `dns_name` the `url` output is made from.
pub const LB_NODE: &str = "alb";

/// The stack's outputs read from its nodes; `url` is made from the load balancer's DNS name
/// and listener (`LoadBalancerModel::url`).
pub const OUTPUTS: &[StackOutput] = &[
    StackOutput {
        label: "alb_dns_name",
        node: "alb",
        key: "dns_name",
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
    /// The model of a stack that only has a name and a region: every default, so its nodes
    /// carry the names every kind gives by default (`destroy --stack` looks for those).
    pub fn defaults(name: &str, region: &str) -> Result<Model, super::SpecError> {
        let yaml = format!("name: {name}\nregion: {region}\nservice:\n  image: any\n");
        super::load_str("(defaults)", &yaml, None)
    }

    pub fn names(&self) -> Names {
        Names::new(&self.name, &self.region)
    }

    /// The primary region: the first of `regions` (the one-region form's only region).
    pub fn primary(&self) -> &str {
        self.regions
            .first()
            .map_or(self.region.as_str(), String::as_str)
    }

    pub fn is_primary(&self, region: &str) -> bool {
        self.primary() == region
    }

    /// The second region, if the stack has two.
    pub fn secondary(&self) -> Option<&str> {
        self.regions.get(1).map(String::as_str)
    }

    /// The stack's services by name, in name order. The one service of the `service:` form is
    /// named like the stack (whatever `name` is now: a model renamed after loading keeps it).
    pub fn services(&self) -> Vec<(&str, &ServiceModel)> {
        if self.named_services {
            self.services.iter().map(|(n, s)| (n.as_str(), s)).collect()
        } else {
            self.services
                .values()
                .map(|s| (self.name.as_str(), s))
                .collect()
        }
    }

    /// The service named `name` (as `services` names it), to change it (tests and tools build
    /// variants of a model).
    ///
    /// # Panics
    /// When the stack has no such service.
    pub fn service_mut(&mut self, name: &str) -> &mut ServiceModel {
        let found = if self.named_services {
            self.services.get_mut(name)
        } else if name == self.name {
            self.services.values_mut().next()
        } else {
            None
        };
        found.unwrap_or_else(|| panic!("{name} is not a service of the stack"))
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
