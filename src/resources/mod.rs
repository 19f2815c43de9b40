//! One file per AWS resource kind; this registry lists them once.
//!
//! Kinds are discovered concurrently, and execution order comes from the dependency graph, so
//! the order here only sets the order of plan output ties. `ec2`, `elb`, `ecs`, `appscaling`,
//! `cloudwatch`, `sns` and `route53` hold the helpers several kinds of one service share; `common` those
//! of every kind.

mod common;
mod consistent;

pub mod appscaling;
pub mod cloudwatch;
pub mod ec2;
pub mod ecs;
pub mod elb;
pub mod network;
pub mod route53;
pub mod sns;

pub mod autoscaling_group;
pub mod capacity_provider;
pub mod cdn;
pub mod cluster;
pub mod composite_alarm;
pub mod dashboard;
pub mod eip;
pub mod fallback;
pub mod flow_log;
pub mod health_check;
pub mod iam_role;
pub mod internet_gateway;
pub mod launch_template;
pub mod listener;
pub mod listener_rule;
pub mod load_balancer;
pub mod log_bucket;
pub mod log_group;
pub mod metric_alarm;
pub mod namespace;
pub mod nat_gateway;
pub mod record;
pub mod route_table;
pub mod scalable_target;
pub mod scaling_policy;
pub mod scheduled_action;
pub mod security_group;
pub mod service;
pub mod sns_subscription;
pub mod sns_topic;
pub mod subnet;
pub mod target_group;
pub mod task_definition;
pub mod vpc;
pub mod vpc_endpoint;
pub mod web_acl;

use std::collections::BTreeMap;

use crate::aws::Clients;
use crate::engine::{Cloud, Kind, Spec};
use crate::spec::{Model, View};

pub type DynKind = Box<dyn Kind<Clients>>;

/// The kinds of AWS lower from the stack's model.
impl Cloud for Clients {
    type Spec = Model;
}

impl Spec for Model {
    type View<'a> = View<'a>;

    fn regions(&self) -> &[String] {
        &self.regions
    }

    fn services(&self) -> Vec<String> {
        Model::services(self)
            .into_iter()
            .map(|(name, _)| name.to_string())
            .collect()
    }

    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    fn view<'a>(&'a self, region: &'a str, service: Option<&'a str>) -> View<'a> {
        View::new(self, region, service)
    }
}

/// Every resource kind ballast manages, each waiting for AWS to show what the run made
/// (`consistent`).
pub fn registry() -> Vec<DynKind> {
    kinds().into_iter().map(consistent::consistent).collect()
}

fn kinds() -> Vec<DynKind> {
    vec![
        Box::new(vpc::Vpc),
        Box::new(subnet::Subnet),
        Box::new(internet_gateway::InternetGateway),
        Box::new(eip::Eip),
        Box::new(nat_gateway::NatGateway),
        Box::new(route_table::RouteTable),
        Box::new(security_group::SecurityGroup),
        Box::new(vpc_endpoint::VpcEndpoint),
        Box::new(log_bucket::LogBucket),
        Box::new(web_acl::WebAcl),
        Box::new(load_balancer::LoadBalancer),
        Box::new(target_group::TargetGroup),
        Box::new(listener::Listener),
        Box::new(listener_rule::ListenerRule),
        Box::new(launch_template::LaunchTemplate),
        Box::new(autoscaling_group::AutoScalingGroup),
        Box::new(cluster::Cluster),
        Box::new(namespace::Namespace),
        Box::new(capacity_provider::CapacityProvider),
        Box::new(iam_role::IamRole),
        Box::new(log_group::LogGroup),
        Box::new(flow_log::FlowLog),
        Box::new(task_definition::TaskDefinition),
        Box::new(service::Service),
        Box::new(scalable_target::ScalableTarget),
        Box::new(scaling_policy::ScalingPolicy),
        Box::new(scheduled_action::ScheduledAction),
        Box::new(sns_topic::SnsTopic),
        Box::new(sns_subscription::SnsSubscription),
        Box::new(metric_alarm::MetricAlarm),
        Box::new(composite_alarm::CompositeAlarm),
        Box::new(dashboard::Dashboard),
        Box::new(fallback::Fallback),
        Box::new(cdn::Cdn),
        Box::new(health_check::HealthCheck),
        Box::new(record::Record),
    ]
}

/// The registry's kinds named in `names` (by `Kind::name`, e.g. `aws_vpc`), in registry order:
/// plan and apply a part of a stack, e.g. against an emulator that serves only some services.
/// Nodes may refer only to nodes of the kinds given. Panics on a name no kind has.
pub fn registry_only(names: &[&str]) -> Vec<DynKind> {
    let kinds = registry();
    for n in names {
        assert!(
            kinds.iter().any(|k| k.name() == *n),
            "registry_only: no resource kind is named {n:?}"
        );
    }
    kinds
        .into_iter()
        .filter(|k| names.contains(&k.name()))
        .collect()
}

/// What `kind` lowers `m` to in its primary region: the stack-wide view, then each service's.
#[cfg(test)]
pub(crate) fn lower_one(kind: &dyn Kind<Clients>, m: &Model) -> Vec<crate::engine::Node> {
    let mut nodes = kind.desired(&View::new(m, &m.region, None));
    for (name, _) in m.services() {
        nodes.extend(kind.service_desired(&View::new(m, &m.region, Some(name))));
    }
    nodes
}

#[cfg(test)]
mod tests {
    use crate::engine::graph::{delete_closure, kind_closure};
    use crate::spec::{load_str, Model, View};

    /// A stack of two named services (`api`, `web`), each with every per-service resource:
    /// autoscaling with schedules, EC2 capacity, every managed alarm and both SLOs.
    fn two_services() -> Model {
        let mut m = super::metric_alarm::tests::model();
        let scaled = load_str(
            "scaled.yaml",
            include_str!("../../stacks/scaled.yaml"),
            None,
        )
        .unwrap();
        let ec2 = load_str("ec2.yaml", include_str!("../../stacks/ec2.yaml"), None).unwrap();
        let mut one = m.services.remove("web").unwrap();
        one.autoscaling = scaled.services["scaled"].autoscaling.clone();
        one.ec2_capacity = ec2.services["onec2"].ec2_capacity.clone();
        m.services = [("api".to_string(), one.clone()), ("web".to_string(), one)].into();
        m.named_services = true;
        m
    }

    /// `slo:` of a routed service replaces the stack's for it alone; the others keep the
    /// stack's, an internal service has none.
    #[test]
    fn a_services_own_slo_replaces_the_stacks() {
        let m = load_str(
            "slo.yaml",
            "name: shop\nregion: us-east-1\nslo: {availability: 99.9}\nservices:\n  web:\n    image: web:1\n    route: {path: /}\n  api:\n    image: api:1\n    route: {paths: [/api/*]}\n    slo: {latency: {percentile: 95, threshold_ms: 200}}\n  jobs:\n    image: jobs:1\n    internal: true\n",
            None,
        )
        .unwrap();
        let slo_alarms = |service: &str| -> Vec<(String, String)> {
            let view = View::new(&m, &m.region, Some(service));
            let mut out: Vec<(String, String)> = super::registry()
                .iter()
                .flat_map(|k| k.service_desired(&view))
                .filter(|n| n.id.starts_with("alarm.slo."))
                .map(|n| (n.id, n.name))
                .collect();
            out.sort();
            out
        };
        let web = slo_alarms("web");
        assert!(
            !web.is_empty()
                && web
                    .iter()
                    .all(|(id, _)| id.starts_with("alarm.slo.availability.")),
            "{web:?}"
        );
        let api = slo_alarms("api");
        assert!(
            !api.is_empty()
                && api
                    .iter()
                    .all(|(id, _)| id.starts_with("alarm.slo.latency.")),
            "{api:?}"
        );
        assert!(
            api.contains(&(
                "alarm.slo.latency.page.api".into(),
                "shop-api-slo-latency-page".into()
            )),
            "{api:?}"
        );
        assert_eq!(slo_alarms("jobs"), vec![]);
        let desc = super::registry()
            .iter()
            .flat_map(|k| k.service_desired(&View::new(&m, &m.region, Some("api"))))
            .find(|n| n.id == "alarm.slo.latency.page.api")
            .and_then(|n| {
                n.attrs
                    .get("description")
                    .and_then(|d| d.as_str().map(str::to_string))
            })
            .unwrap();
        assert!(desc.contains("200 ms"), "{desc}");
    }

    /// With named services every kind's per-service nodes carry the service in their id
    /// (`<base>.<service>`) and physical name, no two nodes share an id, and a service's nodes
    /// refer only to their own service's nodes or to the stack's.
    #[test]
    fn named_services_lower_apart() {
        let m = two_services();
        let stack_wide: Vec<String> = super::registry()
            .iter()
            .flat_map(|k| k.desired(&View::new(&m, &m.region, None)))
            .map(|n| n.id)
            .collect();
        let mut ids: std::collections::BTreeSet<String> = stack_wide.iter().cloned().collect();
        for service in ["api", "web"] {
            let view = View::new(&m, &m.region, Some(service));
            let nodes: Vec<_> = super::registry()
                .iter()
                .flat_map(|k| k.service_desired(&view))
                .collect();
            // Every per-service kind has a node here (the registry's kinds but the network,
            // load balancer, cluster, dashboard, topic and Route 53 ones).
            assert!(nodes.len() >= 30, "{service}: {} nodes", nodes.len());
            let own: std::collections::BTreeSet<&str> =
                nodes.iter().map(|n| n.id.as_str()).collect();
            for n in &nodes {
                assert!(
                    n.id.ends_with(&format!(".{service}")),
                    "{service}: id {}",
                    n.id
                );
                assert!(
                    n.name.contains(service),
                    "{service}: {} named {}",
                    n.id,
                    n.name
                );
                assert!(ids.insert(n.id.clone()), "{} twice", n.id);
                for dep in n.deps() {
                    assert!(
                        own.contains(dep.as_str()) || stack_wide.contains(&dep),
                        "{service}: {} refers to {dep}, neither its service's nor the stack's",
                        n.id
                    );
                }
            }
        }
    }

    /// A service is made after its listener and rollback alarms but need not outlive them: on
    /// delete the load balancer and the alarms go while it drains; the rest of its order holds.
    #[test]
    fn a_service_drains_while_its_listener_and_alarms_go() {
        let kinds = super::registry();
        let (made, del) = (kind_closure(&kinds), delete_closure(&kinds));
        let service = super::service::KIND;
        for k in [
            super::listener::KIND,
            super::listener_rule::KIND,
            super::metric_alarm::KIND,
            super::load_balancer::KIND,
        ] {
            assert!(made[service].contains(k), "{k} is made before the service");
            assert!(
                !del[service].contains(k),
                "{k} need not wait for the service's delete"
            );
        }
        for k in [
            super::target_group::KIND,
            super::security_group::KIND,
            super::subnet::KIND,
            super::task_definition::KIND,
            super::cluster::KIND,
            super::iam_role::KIND,
        ] {
            assert!(del[service].contains(k), "{k} is deleted after the service");
        }
        // The delete order only drops edges; a kind that does not reach the service keeps all.
        for (k, deps) in &made {
            assert!(del[k].is_subset(deps), "{k}");
            if !deps.contains(service) && *k != service {
                assert_eq!(&del[k], deps, "{k}");
            }
        }
    }

    /// Every SDK operation a kind's file calls (`.ec2.describe_vpcs()`, `s3.put_object()`, ...)
    /// is an action some kind's `Kind::iam` names, so `ballast iam-policy` cannot miss one.
    #[test]
    fn every_sdk_call_of_the_kinds_is_in_their_iam_actions() {
        let clients = [
            ("ec2", "ec2"),
            ("elbv2", "elasticloadbalancing"),
            ("ecs", "ecs"),
            ("iam", "iam"),
            ("logs", "logs"),
            ("servicediscovery", "servicediscovery"),
            ("wafv2", "wafv2"),
            ("appscaling", "application-autoscaling"),
            ("autoscaling", "autoscaling"),
            ("cloudwatch", "cloudwatch"),
            ("sns", "sns"),
            ("route53", "route53"),
            ("s3", "s3"),
            ("cloudfront", "cloudfront"),
        ];
        // Where the IAM action is not the operation's name.
        let renamed = [
            ("s3:HeadObject", "s3:GetObject"),
            ("s3:ListObjectsV2", "s3:ListBucket"),
            ("s3:HeadBucket", "s3:ListBucket"),
            ("s3:DeleteObjects", "s3:DeleteObject"),
            ("s3:PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
            ("s3:GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
            ("s3:GetBucketEncryption", "s3:GetEncryptionConfiguration"),
            ("s3:PutBucketEncryption", "s3:PutEncryptionConfiguration"),
            (
                "s3:GetBucketLifecycleConfiguration",
                "s3:GetLifecycleConfiguration",
            ),
            (
                "s3:PutBucketLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
            ),
            (
                "cloudfront:CreateDistributionWithTags",
                "cloudfront:CreateDistribution",
            ),
        ];
        let not_calls = ["config", "clone", "as_ref"];
        let mut allowed = std::collections::BTreeSet::new();
        for k in super::kinds() {
            let iam = k.iam();
            allowed.extend(
                iam.read
                    .iter()
                    .chain(iam.write)
                    .chain(iam.write_any)
                    .map(|a| a.to_ascii_lowercase()),
            );
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/resources");
        let mut missing = Vec::new();
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (field, prefix) in clients {
                let mut from = 0;
                while let Some(i) = text[from..].find(field) {
                    let at = from + i;
                    from = at + field.len();
                    let before = text[..at].chars().last().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' {
                        continue; // `my_ec2`: another name
                    }
                    let Some(rest) = text[from..].trim_start().strip_prefix('.') else {
                        continue;
                    };
                    let rest = rest.trim_start();
                    let op: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if op.is_empty()
                        || !rest[op.len()..].starts_with("()")
                        || not_calls.contains(&op.as_str())
                    {
                        continue;
                    }
                    let pascal: String = op
                        .split('_')
                        .map(|w| w[..1].to_uppercase() + &w[1..])
                        .collect();
                    let action = format!("{prefix}:{pascal}");
                    let action = renamed
                        .iter()
                        .find(|(from, _)| *from == action)
                        .map_or(action.clone(), |(_, to)| to.to_string());
                    seen += 1;
                    // IAM action names are case-insensitive (`wafv2:GetWebAcl` is
                    // `wafv2:GetWebACL`).
                    if !allowed.contains(action.to_ascii_lowercase().as_str()) {
                        missing.push(format!("{}: {action}", path.display()));
                    }
                }
            }
        }
        assert!(seen > 150, "the scan found the SDK calls ({seen})");
        assert!(
            missing.is_empty(),
            "no kind's Kind::iam names: {missing:#?}"
        );
    }
}
