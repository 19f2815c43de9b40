//! The stack spec exactly as written in YAML. Every field a rule can reject carries its source
//! location (`Spanned`), so errors point at `file:line:col`. Validation (`validate.rs`) applies
//! the defaults while it lowers a `Spec` into the `Model` (`model.rs`).

use std::collections::BTreeMap;

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Stack name: lowercase letters, digits and dashes; prefixes every resource name.
    pub name: S<String>,
    /// AWS region; `--region` overrides it.
    pub region: Option<S<String>>,
    /// Two regions with Route 53 failover between them (the first is the primary); the
    /// alternative to `region`. `--region` then selects one of them and overrides nothing.
    pub regions: Option<S<Vec<S<String>>>>,
    /// The AWS account ids (12 digits each) the stack may be acted on in: any other account is
    /// refused before any other AWS call (Terraform's `allowed_account_ids`).
    pub accounts: Option<S<Vec<S<String>>>>,
    /// The Route 53 record users resolve, with failover between the regions.
    pub dns: Option<S<Dns>>,
    /// Extra tags put on every resource (ownership tags are added by ballast).
    #[serde(default)]
    pub tags: BTreeMap<String, S<String>>,
    #[serde(default)]
    pub network: Option<Network>,
    #[serde(default)]
    pub load_balancer: LoadBalancer,
    /// One service, named like the stack.
    pub service: Option<S<Service>>,
    /// Several services behind the one load balancer, by name (the alternative to `service:`).
    pub services: Option<S<std::collections::HashMap<S<String>, Service>>>,
    /// CloudWatch alarms; default on. `alarms: false` turns every alarm off.
    pub alarms: Option<S<Toggle<Alarms>>>,
    /// Error-budget alerts.
    pub slo: Option<S<Slo>>,
    /// A CloudWatch dashboard for the stack; default true.
    pub dashboard: Option<bool>,
    /// What every IAM role of the stack gets.
    pub iam: Option<S<Iam>>,
    /// Default false. True protects what losing would hurt from deletion, by hand or by
    /// `destroy`: the load balancer's deletion protection (unless
    /// `load_balancer.deletion_protection` says otherwise), and the access-log bucket (its
    /// policy denies `s3:DeleteBucket`). To remove the stack, deploy with
    /// `protect: false` first.
    pub protect: Option<bool>,
}

/// `iam:`: settings of every role ballast makes for the stack.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Iam {
    /// A managed policy ARN set as the permissions boundary of every role (organizations that
    /// require one on each role they let CI create).
    pub permissions_boundary: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// An existing public hosted zone, by name (`example.com`) or id (`Z0123456789ABC`); ballast
    /// never creates or deletes it.
    pub zone: S<String>,
    /// The record users resolve: the zone itself or a name inside it.
    pub name: S<String>,
    /// One Route 53 health check per region, against that region's load balancer.
    #[serde(default)]
    pub health_check: DnsHealthCheck,
    /// What users see when no region is healthy.
    pub fallback: Option<Fallback>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsHealthCheck {
    /// Default: the target group's health check path (`load_balancer.health_check.path`).
    pub path: Option<S<String>>,
    /// Seconds: 10 or 30; default 30.
    pub interval: Option<S<u32>>,
    /// Failed checks in a row that make a region unhealthy: 1..=10; default 3.
    pub failure_threshold: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// A static page (at most 1024 bytes of UTF-8), relative to the spec file's directory.
    pub page: S<String>,
    /// An ACM certificate ARN in us-east-1 covering `dns.name`: the page is then served over
    /// HTTPS by CloudFront (in front of the S3 website); without it, by the S3 website (HTTP).
    pub certificate_arn: Option<S<String>>,
}

/// `network:`: `create` (the default) or `existing`, and how private tasks reach out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// ballast creates a VPC with one public and one private subnet per AZ, an internet
    /// gateway, route tables and the private tier's way out (`egress`).
    pub create: Option<CreateNetwork>,
    /// Use a VPC and subnets that already exist (they must span at least two AZs).
    pub existing: Option<ExistingNetwork>,
    /// How tasks in the private subnets of a created network reach image registries, logs and
    /// secrets: `nat` (one NAT gateway per AZ, the default), `nat_single` (one, cheaper: an
    /// outage of its AZ cuts the others off) or `endpoints` (no internet: VPC endpoints for
    /// the AWS services the tasks need; images must then be in the region's ECR).
    pub egress: Option<S<String>>,
    /// More VPC endpoints for the AWS services the application calls (`[sqs, dynamodb, kms]`),
    /// with any egress: `endpoints` leaves the tasks no other way to them, and through NAT
    /// they save its data charge. `s3` and `dynamodb` are gateway endpoints (free).
    pub endpoints: Option<Vec<S<String>>>,
    /// VPC flow logs of a created network: `reject` (the default: rejected traffic only),
    /// `all`, or `false`.
    pub flow_logs: Option<S<Word>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateNetwork {
    pub cidr: Option<S<String>>,
    /// One public subnet per entry; default: two AZs (`<region>a`, `<region>b`) carved from `cidr`.
    pub subnets: Option<S<Vec<SubnetSpec>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetSpec {
    pub az: S<String>,
    /// The public subnet of this AZ.
    pub cidr: S<String>,
    /// The private subnet of this AZ; default: `cidr` mirrored in the other half of the VPC.
    pub private_cidr: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExistingNetwork {
    pub vpc_id: S<String>,
    /// Public subnets: the load balancer's (and the tasks' without `private_subnet_ids`).
    pub subnet_ids: S<Vec<S<String>>>,
    /// Private subnets with their own way out (NAT or endpoints): the tasks' and instances'.
    pub private_subnet_ids: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// Listener port; default 443 with a certificate, else 80.
    pub port: Option<S<u32>>,
    /// ACM certificate ARN, or one per region (`{us-east-1: arn, us-west-2: arn}`): turns the
    /// listener into HTTPS and adds an HTTP->HTTPS redirect on 80.
    pub certificate_arn: Option<S<Certificate>>,
    /// Plain HTTP without a certificate is meant (a development stack): no warning.
    pub allow_http: Option<bool>,
    /// The HTTPS listener's TLS policy; default `ELBSecurityPolicy-TLS13-1-2-Res-2021-06`
    /// (TLS 1.3 and 1.2 with forward secrecy only: Security Hub ELB.17 accepts it).
    pub ssl_policy: Option<S<String>>,
    /// Seconds; default 60.
    pub idle_timeout: Option<S<u32>>,
    /// Default false.
    pub deletion_protection: Option<bool>,
    /// Drop requests' header fields that are not valid HTTP (Security Hub ELB.4); default true.
    pub drop_invalid_header_fields: Option<bool>,
    /// How the ALB treats requests that may be HTTP desync attacks: `defensive` (default),
    /// `strictest` or `monitor` (Security Hub ELB.12 accepts the first two).
    pub desync_mitigation_mode: Option<S<String>>,
    /// Who may reach the ALB; default 0.0.0.0/0.
    pub ingress_cidrs: Option<Vec<S<String>>>,
    /// Seconds the ALB waits for in-flight requests before deregistering a target; default 30.
    pub deregistration_delay: Option<S<u32>>,
    /// Access logs (Security Hub ELB.5): `true` makes a bucket per region for them, a bucket
    /// name sends them to that bucket of yours, a map sets `bucket` and `retention_days`;
    /// default false.
    pub access_logs: Option<S<AccessLogs>>,
    /// An existing AWS WAF web ACL to associate (Security Hub ELB.16): one ARN, or one per
    /// region (`{us-east-1: arn, us-west-2: arn}`). Not with `waf`.
    pub waf_acl_arn: Option<S<Certificate>>,
    /// `baseline`: a web ACL of the stack's own in each region, with AWS managed rule groups
    /// (IP reputation, common rule set, known bad inputs) and a rate limit per client IP;
    /// `{rate_limit: N}` sets the limit (requests per IP per 5 minutes, default 2000).
    pub waf: Option<S<Waf>>,
    #[serde(default)]
    pub health_check: TargetHealthCheck,
}

/// `load_balancer.waf` as a map: the baseline with its settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafSettings {
    /// Requests one client IP may make in 5 minutes before it is blocked; default 2000.
    pub rate_limit: Option<S<u32>>,
}

/// `load_balancer.waf`: `baseline`, `false`, or a map of settings. Hand-written for the same
/// reason as `AccessLogs`.
#[derive(Debug)]
pub enum Waf {
    Off,
    /// A word (`baseline`, or a wrong one).
    Is(String),
    Set(WafSettings),
    /// Neither a word, `false` nor a map: what it was.
    Wrong(String),
}

impl<'de> Deserialize<'de> for Waf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Waf;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("baseline, false or a map of settings")
            }
            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
                Ok(if on {
                    Waf::Wrong("`true`".into())
                } else {
                    Waf::Off
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Waf::Is(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                WafSettings::deserialize(de::value::MapAccessDeserializer::new(map)).map(Waf::Set)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Waf::Wrong("a list".into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Waf::Wrong(format!("`{v}`")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Waf::Wrong(format!("`{v}`")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Waf::Wrong(format!("`{v}`")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Waf::Wrong("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `load_balancer.access_logs` as a map.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogsSettings {
    /// A bucket of yours (in the load balancer's region, with a policy that lets ELB write);
    /// without it the stack makes its own.
    pub bucket: Option<S<String>>,
    /// Days the stack's own bucket keeps a log; default 90.
    pub retention_days: Option<S<u32>>,
}

/// `load_balancer.access_logs`: `false`, `true`, a bucket name or a map of settings. Hand-written
/// for the same reason as `Toggle` (a map keeps its spans; a wrong value is kept for the error).
#[derive(Debug)]
pub enum AccessLogs {
    Off,
    /// A bucket name (its span is the value's).
    Bucket(String),
    Set(AccessLogsSettings),
    /// Neither a boolean, a string nor a map: what it was.
    Wrong(String),
}

impl<'de> Deserialize<'de> for AccessLogs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AccessLogs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false, a bucket name or a map of settings")
            }
            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
                Ok(if on {
                    AccessLogs::Set(AccessLogsSettings::default())
                } else {
                    AccessLogs::Off
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(AccessLogs::Bucket(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                AccessLogsSettings::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(AccessLogs::Set)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(AccessLogs::Wrong("a list".into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(AccessLogs::Wrong(format!("`{v}`")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(AccessLogs::Wrong(format!("`{v}`")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(AccessLogs::Wrong(format!("`{v}`")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AccessLogs::Wrong("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetHealthCheck {
    pub path: Option<S<String>>,
    pub interval: Option<S<u32>>,
    pub timeout: Option<S<u32>>,
    pub healthy_threshold: Option<S<u32>>,
    pub unhealthy_threshold: Option<S<u32>>,
    /// HTTP codes that mean healthy, e.g. `200` or `200-399`; default `200-399`.
    pub matcher: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub image: S<String>,
    /// Container port; default 80.
    pub port: Option<S<u32>>,
    /// Fargate CPU units; default 256.
    pub cpu: Option<S<u32>>,
    /// MiB; default 512.
    pub memory: Option<S<u32>>,
    /// Default 2 (one task per AZ).
    pub desired_count: Option<S<u32>>,
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub environment: BTreeMap<String, S<String>>,
    /// Variables ECS sets from a secret store when a task starts: name -> a Secrets Manager
    /// secret ARN, an SSM parameter ARN, or `ssm:/name` (a parameter of the stack's region).
    /// The values never pass through ballast.
    #[serde(default)]
    pub secrets: BTreeMap<String, S<String>>,
    /// The customer managed KMS key the secrets are encrypted with (its ARN); the execution
    /// role may then decrypt with it.
    pub secrets_kms_key: Option<S<String>>,
    /// The container's health check (`command`: ECS replaces tasks that fail it), or, on a
    /// routed service of `services:`, its target group's (`path`: default
    /// `load_balancer.health_check`).
    pub health_check: Option<S<ServiceHealthCheck>>,
    /// Seconds ECS ignores failing ALB health checks after a task starts; default 60.
    pub health_check_grace_period: Option<S<u32>>,
    /// Default false: tasks run in the private subnets. True puts them in the public subnets
    /// with a public IP (a development stack without NAT; validate warns).
    pub assign_public_ip: Option<S<bool>>,
    /// CloudWatch Logs retention in days; default 30.
    pub log_retention_days: Option<S<u32>>,
    /// Application Auto Scaling of the desired count.
    pub autoscaling: Option<Autoscaling>,
    /// Fargate / Fargate Spot mix; default all on-demand Fargate.
    pub capacity: Option<Capacity>,
    /// Run tasks on EC2 instances of an Auto Scaling group (an ECS capacity provider) instead
    /// of Fargate.
    pub ec2_capacity: Option<Ec2Capacity>,
    /// Rollout safety; default circuit breaker with rollback, 100% min healthy, 200% max.
    #[serde(default)]
    pub deployment: Deployment,
    /// `services:` only: the requests of the load balancer this service gets (a listener
    /// rule). Every service but an internal one has a route.
    pub route: Option<S<Route>>,
    /// `services:` only: no load balancer route; the stack's other services reach it by name.
    pub internal: Option<S<bool>>,
    /// Sidecars: every other container of the task (the service's own is `app`).
    #[serde(default)]
    pub containers: Vec<S<Container>>,
    /// What the `app` container waits for: container name -> START | HEALTHY | COMPLETE |
    /// SUCCESS.
    #[serde(default)]
    pub depends_on: BTreeMap<String, S<String>>,
    /// The task role: what the application itself may call on AWS. No permissions, no role
    /// (the tasks get no AWS credentials).
    #[serde(default)]
    pub permissions: Vec<S<Permission>>,
    /// `services:` only: this routed service's error-budget alerts, instead of the stack's
    /// `slo:`.
    pub slo: Option<S<Slo>>,
    /// Default true: the container's root filesystem is read-only (Security Hub ECS.5);
    /// `writable_paths` are not.
    pub readonly_root_filesystem: Option<S<bool>>,
    /// Directories the container may write to: each an empty task volume at every start;
    /// default `[/tmp]`.
    pub writable_paths: Option<S<Vec<S<String>>>>,
    /// The user the container runs as: a name, `uid` or `uid:gid`; default the image's, root
    /// for most images (validate warns; Security Hub ECS.20).
    pub user: Option<S<String>>,
    /// Linux capabilities: `drop` (default `[ALL]`) and `add` (default none; Fargate allows
    /// only `SYS_PTRACE`).
    pub capabilities: Option<S<Capabilities>>,
    /// The task's operating system and CPU architecture; default Linux on X86_64.
    pub runtime_platform: Option<S<RuntimePlatform>>,
    /// Where the tasks may connect besides the defaults (HTTPS and DNS anywhere, and the
    /// stack's other services on their ports): each rule a `port`, a `to` CIDR and a
    /// `protocol` (tcp, the default; udp; or all, every port, without `port`).
    #[serde(default)]
    pub egress: Vec<S<EgressRule>>,
}

/// One rule of a service's `egress:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressRule {
    /// The destination port; not with `protocol: all`.
    pub port: Option<S<u32>>,
    /// The destination: an IPv4 CIDR (`10.0.0.0/16`, `0.0.0.0/0`).
    pub to: S<String>,
    /// `tcp` (default), `udp` or `all`.
    pub protocol: Option<S<String>>,
}

/// A sidecar container of a service's task.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// Letters, digits, dashes and underscores; not `app` (the service's own container).
    pub name: S<String>,
    pub image: S<String>,
    /// Default true (as in ECS): the task stops when an essential container stops.
    pub essential: Option<bool>,
    /// CPU units reserved for it; default none (it shares the task's).
    pub cpu: Option<S<u32>>,
    /// MiB: its hard limit (`memory`) and what is reserved for it (`memory_reservation`).
    pub memory: Option<S<u32>>,
    pub memory_reservation: Option<S<u32>>,
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub environment: BTreeMap<String, S<String>>,
    pub health_check: Option<ContainerHealthCheck>,
    /// Container name -> START | HEALTHY | COMPLETE | SUCCESS (`app` is the service's own).
    #[serde(default)]
    pub depends_on: BTreeMap<String, S<String>>,
    /// Default true: the container's root filesystem is read-only (Security Hub ECS.5);
    /// `writable_paths` are not.
    pub readonly_root_filesystem: Option<S<bool>>,
    /// Directories the container may write to: each an empty task volume at every start;
    /// default `[/tmp]`.
    pub writable_paths: Option<S<Vec<S<String>>>>,
    /// The user the container runs as: a name, `uid` or `uid:gid`; default the image's, root
    /// for most images (validate warns; Security Hub ECS.20).
    pub user: Option<S<String>>,
    /// Linux capabilities: `drop` (default `[ALL]`) and `add` (default none; Fargate allows
    /// only `SYS_PTRACE`).
    pub capabilities: Option<S<Capabilities>>,
}

/// `capabilities:` of a container.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    pub drop: Option<S<Vec<S<String>>>>,
    pub add: Option<S<Vec<S<String>>>>,
}

/// `runtime_platform:` of a service's task.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimePlatform {
    /// `X86_64` (default) or `ARM64` (Graviton: cheaper per vCPU; the image must be built for it).
    pub cpu_architecture: Option<S<String>>,
    /// `LINUX` (the only one ballast runs).
    pub operating_system_family: Option<S<String>>,
}

/// One statement of a task role's policy (Allow).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    /// `service:Action`, wildcards allowed (`dynamodb:Get*`).
    pub actions: S<Vec<S<String>>>,
    /// ARNs, or `*`.
    pub resources: S<Vec<S<String>>>,
}

/// A listener rule's conditions: requests whose path matches one of the paths and (when hosts
/// are given) whose Host header is one of the hosts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub path: Option<S<String>>,
    pub paths: Option<S<Vec<S<String>>>>,
    pub host: Option<S<String>>,
    pub hosts: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Autoscaling {
    pub min: S<u32>,
    pub max: S<u32>,
    /// Target average CPU utilization, percent.
    pub cpu: Option<S<u32>>,
    /// Target average memory utilization, percent.
    pub memory: Option<S<u32>>,
    /// Target ALB requests per task (per target), per minute.
    pub requests_per_target: Option<S<u32>>,
    /// Seconds; default 300.
    pub scale_in_cooldown: Option<S<u32>>,
    /// Seconds; default 60.
    pub scale_out_cooldown: Option<S<u32>>,
    /// Default false.
    pub disable_scale_in: Option<bool>,
    #[serde(default)]
    pub schedules: Vec<Schedule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub name: S<String>,
    /// `cron(0 8 ? * MON-FRI *)`, `rate(1 day)` or `at(2026-12-24T18:00:00)`; a bare
    /// six-field cron expression is wrapped in `cron(...)`.
    pub cron: S<String>,
    /// IANA time zone; default UTC.
    pub timezone: Option<S<String>>,
    pub min: Option<S<u32>>,
    pub max: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// Tasks that always run on on-demand Fargate; default 1.
    pub base: Option<S<u32>>,
    /// Relative weight of on-demand Fargate beyond `base`; default 1.
    pub on_demand_weight: Option<S<u32>>,
    /// Relative weight of Fargate Spot beyond `base`; default 0.
    pub spot_weight: Option<S<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Stop and roll back a deploy whose tasks keep failing; default true.
    pub circuit_breaker: Option<bool>,
    pub min_healthy_percent: Option<S<u32>>,
    pub max_percent: Option<S<u32>>,
    /// Alarms that roll a deployment back when they fire: managed alarm keys
    /// (`target_5xx_rate`...) or names of alarms made outside ballast. Absent: `target_5xx_rate`
    /// when alarms are on; `[]`: none.
    pub rollback_alarms: Option<Vec<S<String>>>,
}

/// A service's `health_check`: its container's (`command`, `retries`, `start_period`) or its
/// target group's (`path`, `matcher`, the thresholds); `interval` and `timeout` belong to
/// whichever it is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceHealthCheck {
    pub command: Option<S<Vec<String>>>,
    pub path: Option<S<String>>,
    pub matcher: Option<S<String>>,
    pub healthy_threshold: Option<S<u32>>,
    pub unhealthy_threshold: Option<S<u32>>,
    pub interval: Option<S<u32>>,
    pub timeout: Option<S<u32>>,
    pub retries: Option<S<u32>>,
    pub start_period: Option<S<u32>>,
}

impl ServiceHealthCheck {
    /// The container's check, when `command` is set.
    pub fn container(&self) -> Option<ContainerHealthCheck> {
        Some(ContainerHealthCheck {
            command: self.command.clone()?,
            interval: self.interval.clone(),
            timeout: self.timeout.clone(),
            retries: self.retries.clone(),
            start_period: self.start_period.clone(),
        })
    }

    /// The target group's check, when `command` is not set.
    pub fn target(&self) -> Option<TargetHealthCheck> {
        self.command.is_none().then(|| TargetHealthCheck {
            path: self.path.clone(),
            interval: self.interval.clone(),
            timeout: self.timeout.clone(),
            healthy_threshold: self.healthy_threshold.clone(),
            unhealthy_threshold: self.unhealthy_threshold.clone(),
            matcher: self.matcher.clone(),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerHealthCheck {
    /// e.g. `["CMD-SHELL", "curl -f http://localhost/ || exit 1"]`
    pub command: S<Vec<String>>,
    pub interval: Option<S<u32>>,
    pub timeout: Option<S<u32>>,
    pub retries: Option<S<u32>>,
    pub start_period: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2Capacity {
    /// e.g. `t3.small`.
    pub instance_type: S<String>,
    /// Default: the current ECS-optimized Amazon Linux 2023 AMI (resolved by EC2 through SSM).
    pub ami: Option<S<String>>,
    /// Instances in the Auto Scaling group; default 1..4.
    pub min: Option<S<u32>>,
    pub max: Option<S<u32>>,
    /// Managed scaling: how full ECS keeps the group, percent; default 100.
    pub target_capacity: Option<S<u32>>,
    /// Keep ECS from terminating instances that run tasks; default true.
    pub managed_termination_protection: Option<bool>,
}

/// `load_balancer.certificate_arn`: one ARN (a one-region stack), or a map of region -> ARN.
/// Hand-written for the same reason as `Toggle`: the map keeps its spans.
#[derive(Debug)]
pub enum Certificate {
    One(String),
    PerRegion(BTreeMap<String, S<String>>),
    /// Neither a string nor a map: what it was, for the error.
    Wrong(String),
}

impl<'de> Deserialize<'de> for Certificate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Certificate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an ACM certificate ARN or a map of region to ARN")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Certificate::One(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                BTreeMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Certificate::PerRegion)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Certificate::Wrong("a list".into()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Certificate::Wrong(format!("`{v}`")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Certificate::Wrong(format!("`{v}`")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Certificate::Wrong(format!("`{v}`")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Certificate::Wrong(format!("`{v}`")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Certificate::Wrong("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `false` (off) or a word (`flow_logs: reject`). Hand-written for the same reason as `Toggle`:
/// a value of any other type is kept for the error at the value.
#[derive(Debug)]
pub enum Word {
    Off,
    Is(String),
    /// Neither `false` nor a string: what it was.
    Wrong(String),
}

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Word;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("false or a word")
            }
            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
                Ok(if on {
                    Word::Wrong("`true`".into())
                } else {
                    Word::Off
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Word::Is(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Word::Wrong("a map".into()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Word::Wrong("a list".into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Word::Wrong(format!("`{v}`")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Word::Wrong(format!("`{v}`")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Word::Wrong(format!("`{v}`")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Word::Wrong("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `false` (off), `true` (defaults) or a map of settings. A hand-written `Deserialize` rather
/// than `#[serde(untagged)]`: untagged buffers the value, which loses the spans inside the map and
/// turns "unknown key" into "data did not match any variant". This visitor hands the map straight
/// to `T`, so unknown keys keep their place and their "did you mean". Any other value becomes
/// `Wrong` instead of an error: serde-saphyr would place a visitor's error at the key, validation
/// places it at the value (the toggle is always read inside a `Spanned`).
#[derive(Debug)]
pub enum Toggle<T> {
    Off,
    On,
    Set(T),
    /// Neither a boolean nor a map: what it was, for the error.
    Wrong(String),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Toggle<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Toggle<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false or a map of settings")
            }
            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
                Ok(if on { Toggle::On } else { Toggle::Off })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Toggle::Set)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Toggle::Wrong("a list".into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Toggle::Wrong(format!("`{v}`")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Toggle::Wrong(format!("`{v}`")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Toggle::Wrong(format!("`{v}`")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Toggle::Wrong(format!("`{v}`")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Toggle::On)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    /// Who the stack's SNS topic notifies.
    #[serde(default)]
    pub notify: Notify,
    /// Percent of target responses that are 5xx.
    pub target_5xx_rate: Option<S<Toggle<AlarmTuning>>>,
    /// The load balancer's own 5xx responses per period.
    pub elb_5xx: Option<S<Toggle<AlarmTuning>>>,
    /// p99 target response time, seconds.
    pub latency_p99: Option<S<Toggle<AlarmTuning>>>,
    /// Unhealthy targets.
    pub unhealthy_hosts: Option<S<Toggle<AlarmTuning>>>,
    /// Running tasks below the service's minimum (default threshold).
    pub running_tasks_low: Option<S<Toggle<AlarmTuning>>>,
    /// Service CPU, percent.
    pub cpu_high: Option<S<Toggle<AlarmTuning>>>,
    /// Service memory, percent.
    pub memory_high: Option<S<Toggle<AlarmTuning>>>,
    /// Alarms on any CloudWatch metric.
    #[serde(default)]
    pub custom: Vec<CustomAlarm>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    #[serde(default)]
    pub email: Vec<S<String>>,
    /// HTTPS endpoints (webhooks).
    #[serde(default)]
    pub https: Vec<S<String>>,
}

/// How a managed alarm evaluates; every field defaults per alarm.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmTuning {
    pub threshold: Option<S<f64>>,
    /// Seconds: 10, 30 or a multiple of 60.
    pub period: Option<S<u32>>,
    pub evaluation_periods: Option<S<u32>>,
    /// Breaching datapoints out of `evaluation_periods` that fire the alarm.
    pub datapoints: Option<S<u32>>,
    /// `missing`, `notBreaching`, `breaching` or `ignore`.
    pub missing_data: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomAlarm {
    /// Lowercase letters, digits and dashes; the alarm is named `<stack>-<name>`.
    pub name: S<String>,
    /// e.g. `AWS/SQS`.
    pub namespace: S<String>,
    pub metric: S<String>,
    #[serde(default)]
    pub dimensions: Option<S<BTreeMap<String, S<String>>>>,
    /// `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount` or a percentile (`p99`, `p99.9`).
    pub statistic: S<String>,
    /// `>`, `>=`, `<` or `<=` (quote it: a bare `>` starts a YAML block scalar).
    pub comparison: S<String>,
    pub threshold: S<f64>,
    /// Seconds; default 60.
    pub period: Option<S<u32>>,
    /// Default 5.
    pub evaluation_periods: Option<S<u32>>,
    /// Default: `evaluation_periods`.
    pub datapoints: Option<S<u32>>,
    /// Default `missing`.
    pub missing_data: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Percent of requests that are not 5xx over 30 days: 90 <= x < 100.
    pub availability: Option<S<f64>>,
    pub latency: Option<LatencySlo>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySlo {
    /// 50 <= x < 100.
    pub percentile: S<f64>,
    /// 1..=60000.
    pub threshold_ms: S<u32>,
}
