//! The resource kinds LocalStack's free runtime serves (EC2, IAM, CloudWatch Logs), planned and
//! applied through the library against LocalStack: `scripts/test --localstack`.
//!
//! LocalStack serves no ECS, ELBv2 or Application Auto Scaling, so a whole stack cannot deploy
//! there; each test applies one kind (plus the kinds it refers to) with
//! `resources::registry_only`, the way `ballast deploy` drives the engine (spec -> plan ->
//! apply), reads every field back with the SDK, checks that a re-plan has no changes and that
//! re-applying writes nothing (counted by the proxy, tests/emulator/proxy.py), then destroys and
//! checks that nothing tagged with the stack is left.
//!
//! They are `#[ignore]`d in the moto run (cargo counts and lists them as ignored, so they never
//! pass untested) and run with `--ignored` by `scripts/test --localstack`, which starts
//! LocalStack and sets `BALLAST_LOCALSTACK_URL` to the proxy. Run without it, they fail.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::VpcAttributeName;
use ballast::aws::Clients;
use ballast::engine::{self, Action, Change, Plan, Reporter, StackRef, Step};
use ballast::resources::{registry_only, DynKind};
use ballast::spec::Model;
use common::{tagged, Env};

const REGION: &str = "us-east-1";
const INSTANCE_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role";

/// Every kind these tests cover, for cleaning up and for the "nothing left" check.
const ALL: &[&str] = &[
    "aws_vpc",
    "aws_subnet",
    "aws_internet_gateway",
    "aws_eip",
    "aws_nat_gateway",
    "aws_route_table",
    "aws_security_group",
    "aws_vpc_endpoint",
    "aws_iam_role",
    "aws_cloudwatch_log_group",
    "aws_flow_log",
    "aws_s3_log_bucket",
];

/// A stack with every part these kinds lower: a created network in two AZs, user tags, ALB
/// ingress from two CIDRs, a service port, a log retention. `service_extra` is appended to the
/// service block. Without flow logs (`aws_flow_log` has its own test, `flow_logs_spec`).
fn spec(stack: &str, ingress: &str, retention: u32, service_extra: &str) -> String {
    flow_logs_spec(stack, ingress, retention, service_extra, "false")
}

/// `spec` with `network.flow_logs: <flow_logs>`.
fn flow_logs_spec(
    stack: &str,
    ingress: &str,
    retention: u32,
    service_extra: &str,
    flow_logs: &str,
) -> String {
    format!(
        "name: {stack}
region: {REGION}
tags:
  team: platform
network:
  flow_logs: {flow_logs}
  create:
    cidr: 10.42.0.0/16
    subnets:
      - az: us-east-1a
        cidr: 10.42.0.0/24
      - az: us-east-1b
        cidr: 10.42.1.0/24
load_balancer:
  ingress_cidrs: [{ingress}]
service:
  image: public.ecr.aws/nginx/nginx:1.27
  port: 8080
  cpu: 256
  memory: 512
  log_retention_days: {retention}
{service_extra}"
    )
}

const EC2_CAPACITY: &str = "  ec2_capacity:
    instance_type: t3.small
    min: 1
    max: 4
    target_capacity: 100
";

struct Quiet;

impl Reporter for Quiet {
    fn started(&self, _: &Change, _: Step) {}
    fn finished(&self, _: &Change, _: Step, _: Duration, _: &str) {}
    fn failed(&self, _: &Change, _: Step, _: &str) {}
    fn skipped(&self, _: &Change, _: Step, _: &str) {}
}

/// One test's connection to LocalStack (through the counting proxy).
struct Ls {
    env: Env,
    stack: &'static str,
    kinds: Vec<DynKind>,
    /// The counting proxy counts every call together (it has no scopes, unlike the moto
    /// shim): LocalStack's tests run one at a time.
    _serial: std::sync::MutexGuard<'static, ()>,
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Ls {
    /// The environment of one LocalStack test; fails when LocalStack is not there.
    fn start(stack: &'static str, kinds: &[&str]) -> Ls {
        let url = std::env::var("BALLAST_LOCALSTACK_URL").unwrap_or_default();
        assert!(
            !url.is_empty(),
            "BALLAST_LOCALSTACK_URL is not set: the LocalStack set runs with \
             scripts/test --localstack (or scripts/emulator start --localstack)"
        );
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let env = Env::at(url);
        assert!(
            env.shim,
            "the counting proxy at {} does not answer /_shim/health with ok (is LocalStack up? \
             scripts/emulator status --localstack)",
            env.endpoint
        );
        let ls = Ls {
            env,
            stack,
            kinds: registry_only(kinds),
            _serial: serial,
        };
        ls.destroy_leftovers();
        ls
    }

    fn clients(&self) -> Clients {
        self.env.clients(REGION)
    }

    fn model(&self, yaml: &str) -> Model {
        let path = self.env.spec("stack.yaml", yaml);
        ballast::spec::load_file(path.to_str().unwrap(), None)
            .unwrap_or_else(|e| panic!("spec does not load: {e:?}"))
    }

    fn stack_ref(&self, model: Option<&Model>) -> StackRef {
        match model {
            Some(m) => ballast::commands::stack_ref(m),
            None => StackRef {
                name: self.stack.into(),
                region: REGION.into(),
                tags: Default::default(),
            },
        }
    }

    /// Plans with fresh clients, as each `ballast` command does.
    fn plan_with(&self, kinds: &[DynKind], model: Option<&Model>) -> Plan {
        let c = self.clients();
        let stack = self.stack_ref(model);
        self.env
            .rt
            .block_on(engine::plan(
                kinds,
                &engine::Scopes::one(&stack.region, &c),
                &stack,
                model,
            ))
            .unwrap_or_else(|e| panic!("plan failed: {}", ballast::error::chain(&e)))
    }

    fn plan(&self, model: Option<&Model>) -> Plan {
        self.plan_with(&self.kinds, model)
    }

    fn apply_with(&self, kinds: &[DynKind], plan: &Plan) {
        let c = self.clients();
        let res = self.env.rt.block_on(engine::apply(
            kinds,
            &engine::Scopes::one(&plan.stack.region, &c),
            plan,
            &Quiet,
        ));
        assert!(
            res.ok(),
            "apply failed: {:#?}, skipped {:?}",
            res.failed,
            res.skipped
        );
    }

    fn apply(&self, plan: &Plan) {
        self.apply_with(&self.kinds, plan)
    }

    fn stats(&self) -> common::Stats {
        // Fails loudly when the counting proxy does not answer.
        self.env.stats()
    }

    /// Creates everything the subset lowers from `model`, from nothing.
    fn deploy(&self, model: &Model) {
        let want = ballast::engine::lower(&self.kinds, model).len();
        let plan = self.plan(Some(model));
        let creates = actions(&plan, Action::Create);
        assert_eq!(
            (creates.len(), plan.changes.len()),
            (want, want),
            "a cold plan creates every node and nothing else: {:#?}",
            summary(&plan)
        );
        self.env.reset();
        self.apply(&plan);
        let st = self.stats();
        eprintln!(
            "{}: cold apply of {want} nodes: {} calls, {} writes {:?}",
            self.stack, st.total, st.writes, st.write_ops
        );
        assert!(
            st.writes >= want as u64,
            "the proxy counted {} writes for {want} creates: {:?}",
            st.writes,
            st.write_ops
        );
        self.converged(model);
    }

    /// A re-plan has no changes, and re-applying it writes nothing (read by the proxy).
    fn converged(&self, model: &Model) {
        self.env.reset();
        let plan = self.plan(Some(model));
        assert!(
            !plan.has_changes(),
            "re-plan after apply must have no changes: {:#?}",
            summary(&plan)
        );
        self.apply(&plan);
        let st = self.stats();
        eprintln!(
            "{}: re-plan + re-apply: {} calls, {} writes",
            self.stack, st.total, st.writes
        );
        assert!(
            st.total > 0,
            "the proxy counted no calls for a whole plan: is BALLAST_LOCALSTACK_URL the proxy?"
        );
        assert_eq!(
            (st.writes, st.write_ops.clone()),
            (0, vec![]),
            "re-plan and re-apply of an unchanged stack must not write"
        );
    }

    /// Applies a changed spec: exactly `expected` changes (address, action), then converged.
    /// Returns the write ops the apply made.
    fn change(&self, model: &Model, expected: &[(&str, Action)]) -> Vec<String> {
        let plan = self.plan(Some(model));
        let got: Vec<(String, Action)> = plan
            .changes
            .iter()
            .filter(|c| c.action != Action::NoOp)
            .map(|c| (c.address.clone(), c.action))
            .collect();
        let want: Vec<(String, Action)> =
            expected.iter().map(|(a, x)| (a.to_string(), *x)).collect();
        assert_eq!(got, want, "plan of the changed spec: {:#?}", summary(&plan));
        self.env.reset();
        self.apply(&plan);
        let writes = self.stats().write_ops;
        self.converged(model);
        writes
    }

    /// Destroys the stack (plan without a model + apply) and checks nothing of it is left.
    fn destroy(&self, model: &Model) {
        let want = ballast::engine::lower(&self.kinds, model).len();
        let plan = self.plan(None);
        assert_eq!(
            actions(&plan, Action::Delete).len(),
            want,
            "destroy deletes every node: {:#?}",
            summary(&plan)
        );
        assert_eq!(plan.changes.len(), want);
        self.apply(&plan);
        assert!(
            !self.plan(None).has_changes(),
            "nothing left to destroy after destroy"
        );
        self.assert_nothing_left();
    }

    /// An earlier, aborted run may have left part of this stack.
    fn destroy_leftovers(&self) {
        let all = registry_only(ALL);
        let plan = self.plan_with(&all, None);
        if plan.has_changes() {
            self.apply_with(&all, &plan);
        }
        self.env.reset();
    }

    /// Nothing tagged with the stack (or named for it, for IAM and Logs) is left.
    fn assert_nothing_left(&self) {
        let c = self.clients();
        let stack = self.stack;
        self.env.rt.block_on(async {
            // Not DescribeTags: LocalStack, like moto, keeps the tags of deleted EC2 resources
            // there (tests/emulator/README.md). Each type's own Describe is exact.
            let f = tagged(stack);
            let vpcs = c
                .ec2
                .describe_vpcs()
                .filters(f.clone())
                .send()
                .await
                .unwrap();
            let subnets = c
                .ec2
                .describe_subnets()
                .filters(f.clone())
                .send()
                .await
                .unwrap();
            let igws = c
                .ec2
                .describe_internet_gateways()
                .filters(f.clone())
                .send()
                .await
                .unwrap();
            let rts = c
                .ec2
                .describe_route_tables()
                .filters(f.clone())
                .send()
                .await
                .unwrap();
            let sgs = c
                .ec2
                .describe_security_groups()
                .filters(f.clone())
                .send()
                .await
                .unwrap();
            let eips = c
                .ec2
                .describe_addresses()
                .filters(f.clone())
                .send()
                .await
                .unwrap();
            let flow_logs = c
                .ec2
                .describe_flow_logs()
                .filter(f.clone())
                .send()
                .await
                .unwrap();
            // A deleted NAT gateway stays listed (state deleted) for an hour, as on AWS.
            let nats = c
                .ec2
                .describe_nat_gateways()
                .filter(f)
                .send()
                .await
                .unwrap();
            let live_nats = nats
                .nat_gateways()
                .iter()
                .filter(|g| g.state().map(|s| s.as_str()) != Some("deleted"))
                .count();
            // So may a deleted VPC endpoint.
            let endpoints = c
                .ec2
                .describe_vpc_endpoints()
                .filters(tagged(stack))
                .send()
                .await
                .unwrap();
            let live_endpoints = endpoints
                .vpc_endpoints()
                .iter()
                .filter(|e| {
                    !matches!(
                        e.state()
                            .map(|s| s.as_str().to_ascii_lowercase())
                            .as_deref(),
                        Some("deleted" | "deleting")
                    )
                })
                .count();
            assert_eq!(
                (
                    vpcs.vpcs().len(),
                    subnets.subnets().len(),
                    igws.internet_gateways().len(),
                    rts.route_tables().len(),
                    sgs.security_groups().len(),
                    eips.addresses().len(),
                    live_nats,
                    flow_logs.flow_logs().len(),
                    live_endpoints,
                ),
                (0, 0, 0, 0, 0, 0, 0, 0, 0),
                "VPCs, subnets, IGWs, route tables, SGs, Elastic IPs, NAT gateways, flow logs, \
                 VPC endpoints left"
            );
            let roles = c.iam.list_roles().send().await.unwrap();
            let left: Vec<_> = roles
                .roles()
                .iter()
                .map(|r| r.role_name())
                .filter(|n| n.starts_with(&format!("{stack}-")))
                .collect();
            assert!(left.is_empty(), "IAM roles left: {left:?}");
            let profiles = c.iam.list_instance_profiles().send().await.unwrap();
            let left: Vec<_> = profiles
                .instance_profiles()
                .iter()
                .map(|p| p.instance_profile_name())
                .filter(|n| n.starts_with(&format!("{stack}-")))
                .collect();
            assert!(left.is_empty(), "instance profiles left: {left:?}");
            let groups = c
                .logs
                .describe_log_groups()
                .log_group_name_prefix(format!("/ballast/{stack}"))
                .send()
                .await
                .unwrap();
            assert!(groups.log_groups().is_empty(), "log groups left");
            let buckets = c.s3.list_buckets().send().await.unwrap();
            let left: Vec<_> = buckets
                .buckets()
                .iter()
                .filter_map(|b| b.name())
                .filter(|n| n.starts_with(&format!("{stack}-")))
                .collect();
            assert!(left.is_empty(), "buckets left: {left:?}");
        });
    }
}

fn actions(plan: &Plan, action: Action) -> Vec<&str> {
    plan.changes
        .iter()
        .filter(|c| c.action == action)
        .map(|c| c.address.as_str())
        .collect()
}

fn summary(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| {
            let diffs: Vec<String> = c
                .diffs
                .iter()
                .map(|d| format!("{}: {:?} -> {:?}", d.key, d.before, d.after))
                .collect();
            format!("{:?} {} {diffs:?}", c.action, c.address)
        })
        .collect()
}

fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The ownership tags, the user's tag from the spec, and (EC2) the Name.
fn assert_owned(tags: &BTreeMap<String, String>, stack: &str, id: &str, name: Option<&str>) {
    let get = |k: &str| tags.get(k).map(String::as_str);
    assert_eq!(
        get("ballast:stack"),
        Some(stack),
        "ballast:stack of {id}: {tags:?}"
    );
    assert_eq!(
        get("ballast:resource"),
        Some(id),
        "ballast:resource of {id}: {tags:?}"
    );
    assert_eq!(get("team"), Some("platform"), "user tag of {id}: {tags:?}");
    if let Some(n) = name {
        assert_eq!(get("Name"), Some(n), "Name of {id}: {tags:?}");
    }
}

/// IAM returns policy documents URL-encoded; decoded independently of `src/`.
fn policy_json(doc: &str) -> serde_json::Value {
    let mut out = Vec::new();
    let b = doc.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&doc[i + 1..i + 3], 16).expect("percent escape"));
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("trust policy {doc}: {e}"))
}

fn vpc_id(c: &Clients, env: &Env, stack: &str) -> String {
    env.rt.block_on(async {
        let r = c
            .ec2
            .describe_vpcs()
            .filters(tagged(stack))
            .send()
            .await
            .unwrap();
        assert_eq!(r.vpcs().len(), 1, "one VPC tagged for {stack}");
        r.vpcs()[0].vpc_id().unwrap().to_string()
    })
}

#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_vpc() {
    let ls = Ls::start("it-ls-vpc", &["aws_vpc"]);
    let m = ls.model(&spec(ls.stack, "0.0.0.0/0", 30, ""));
    ls.deploy(&m);
    let c = ls.clients();
    ls.env.rt.block_on(async {
        let r = c
            .ec2
            .describe_vpcs()
            .filters(tagged(ls.stack))
            .send()
            .await
            .unwrap();
        assert_eq!(r.vpcs().len(), 1);
        let v = &r.vpcs()[0];
        assert_eq!(v.cidr_block(), Some("10.42.0.0/16"));
        assert_owned(&ec2_tags(v.tags()), ls.stack, "vpc", Some(ls.stack));
        let dns = c
            .ec2
            .describe_vpc_attribute()
            .vpc_id(v.vpc_id().unwrap())
            .attribute(VpcAttributeName::EnableDnsHostnames)
            .send()
            .await
            .unwrap();
        assert_eq!(
            dns.enable_dns_hostnames().and_then(|a| a.value()),
            Some(true),
            "DNS hostnames are enabled"
        );
    });
    ls.destroy(&m);
}

#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_subnet() {
    let ls = Ls::start("it-ls-subnet", &["aws_vpc", "aws_subnet"]);
    let m = ls.model(&spec(ls.stack, "0.0.0.0/0", 30, ""));
    ls.deploy(&m);
    let c = ls.clients();
    let vpc = vpc_id(&c, &ls.env, ls.stack);
    ls.env.rt.block_on(async {
        let r = c
            .ec2
            .describe_subnets()
            .filters(tagged(ls.stack))
            .send()
            .await
            .unwrap();
        let mut got: Vec<(String, String)> = Vec::new();
        for sn in r.subnets() {
            let az = sn.availability_zone().unwrap().to_string();
            assert_eq!(sn.vpc_id(), Some(vpc.as_str()));
            assert_eq!(
                sn.map_public_ip_on_launch(),
                Some(false),
                "map-public-ip-on-launch of {az}: nothing launched there needs it"
            );
            let tags = ec2_tags(sn.tags());
            let private = tags
                .get("ballast:resource")
                .is_some_and(|r| r.starts_with("subnet.private."));
            let (id, name) = if private {
                (
                    format!("subnet.private.{az}"),
                    format!("{}-private-{az}", ls.stack),
                )
            } else {
                (format!("subnet.{az}"), format!("{}-{az}", ls.stack))
            };
            assert_owned(&tags, ls.stack, &id, Some(&name));
            got.push((id, sn.cidr_block().unwrap().to_string()));
        }
        got.sort();
        // The private subnets mirror the public ones in the other half of the VPC.
        assert_eq!(
            got,
            [
                (
                    "subnet.private.us-east-1a".to_string(),
                    "10.42.128.0/24".to_string()
                ),
                (
                    "subnet.private.us-east-1b".to_string(),
                    "10.42.129.0/24".to_string()
                ),
                ("subnet.us-east-1a".to_string(), "10.42.0.0/24".to_string()),
                ("subnet.us-east-1b".to_string(), "10.42.1.0/24".to_string()),
            ]
        );
    });
    ls.destroy(&m);
}

#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_internet_gateway() {
    let kinds = ["aws_vpc", "aws_internet_gateway"];
    let ls = Ls::start("it-ls-igw", &kinds);
    let m = ls.model(&spec(ls.stack, "0.0.0.0/0", 30, ""));
    ls.deploy(&m);
    let c = ls.clients();
    let vpc = vpc_id(&c, &ls.env, ls.stack);
    ls.env.rt.block_on(async {
        let r = c
            .ec2
            .describe_internet_gateways()
            .filters(tagged(ls.stack))
            .send()
            .await
            .unwrap();
        assert_eq!(r.internet_gateways().len(), 1);
        let g = &r.internet_gateways()[0];
        let attached: Vec<_> = g.attachments().iter().map(|a| a.vpc_id()).collect();
        assert_eq!(
            attached,
            [Some(vpc.as_str())],
            "attached to the stack's VPC"
        );
        assert_owned(&ec2_tags(g.tags()), ls.stack, "igw", Some(ls.stack));
    });
    ls.destroy(&m);
}

#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_route_table() {
    let kinds = [
        "aws_vpc",
        "aws_subnet",
        "aws_internet_gateway",
        "aws_route_table",
    ];
    let ls = Ls::start("it-ls-rt", &kinds);
    // Public tasks: no private tier, so the public route table alone (aws_nat_gateway below
    // has the private ones).
    let m = ls.model(&spec(
        ls.stack,
        "0.0.0.0/0",
        30,
        "  assign_public_ip: true\n",
    ));
    ls.deploy(&m);
    let c = ls.clients();
    let vpc = vpc_id(&c, &ls.env, ls.stack);
    ls.env.rt.block_on(async {
        let igw = c
            .ec2
            .describe_internet_gateways()
            .filters(tagged(ls.stack))
            .send()
            .await
            .unwrap();
        let igw = igw.internet_gateways()[0].internet_gateway_id().unwrap();
        let subnets = c
            .ec2
            .describe_subnets()
            .filters(tagged(ls.stack))
            .send()
            .await
            .unwrap();
        let mut subnet_ids: Vec<&str> = subnets
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id())
            .collect();
        subnet_ids.sort();
        let r = c
            .ec2
            .describe_route_tables()
            .filters(tagged(ls.stack))
            .send()
            .await
            .unwrap();
        assert_eq!(r.route_tables().len(), 1);
        let rt = &r.route_tables()[0];
        assert_eq!(rt.vpc_id(), Some(vpc.as_str()));
        let default: Vec<_> = rt
            .routes()
            .iter()
            .filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .map(|r| r.gateway_id())
            .collect();
        assert_eq!(default, [Some(igw)], "default route to the IGW");
        let local: Vec<_> = rt
            .routes()
            .iter()
            .filter(|r| r.destination_cidr_block() == Some("10.42.0.0/16"))
            .map(|r| r.gateway_id())
            .collect();
        assert_eq!(local, [Some("local")], "the VPC's local route");
        let mut assoc: Vec<&str> = rt
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .collect();
        assoc.sort();
        assert_eq!(assoc, subnet_ids, "associated with both subnets");
        assert!(
            rt.associations().iter().all(|a| a.main() != Some(true)),
            "not the VPC's main route table"
        );
        assert_owned(
            &ec2_tags(rt.tags()),
            ls.stack,
            "rt.public",
            Some(&format!("{}-public", ls.stack)),
        );
    });
    ls.destroy(&m);
}

#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_nat_gateway() {
    let kinds = [
        "aws_vpc",
        "aws_subnet",
        "aws_internet_gateway",
        "aws_eip",
        "aws_nat_gateway",
        "aws_route_table",
    ];
    let ls = Ls::start("it-ls-nat", &kinds);
    let m = ls.model(&spec(ls.stack, "0.0.0.0/0", 30, ""));
    ls.deploy(&m);
    let c = ls.clients();
    // (AZ of the NAT gateway's subnet, its allocation id) by NAT id, and what each private
    // route table routes 0.0.0.0/0 to, by its subnet's AZ.
    let read = || {
        ls.env.rt.block_on(async {
            let subnets = c
                .ec2
                .describe_subnets()
                .filters(tagged(ls.stack))
                .send()
                .await
                .unwrap();
            let az_of = |id: &str| -> (String, bool) {
                let sn = subnets
                    .subnets()
                    .iter()
                    .find(|s| s.subnet_id() == Some(id))
                    .unwrap_or_else(|| panic!("subnet {id} is the stack's"));
                let private =
                    ec2_tags(sn.tags())["ballast:resource"].starts_with("subnet.private.");
                (sn.availability_zone().unwrap().to_string(), private)
            };
            let eips = c
                .ec2
                .describe_addresses()
                .filters(tagged(ls.stack))
                .send()
                .await
                .unwrap();
            let nats = c
                .ec2
                .describe_nat_gateways()
                .filter(tagged(ls.stack))
                .send()
                .await
                .unwrap();
            let mut by_nat = BTreeMap::new();
            for g in nats.nat_gateways() {
                if g.state().map(|s| s.as_str()) != Some("available") {
                    continue;
                }
                let (az, private) = az_of(g.subnet_id().unwrap());
                assert!(!private, "a NAT gateway is in a public subnet");
                let alloc = g.nat_gateway_addresses()[0].allocation_id().unwrap();
                let eip = eips
                    .addresses()
                    .iter()
                    .find(|a| a.allocation_id() == Some(alloc))
                    .unwrap_or_else(|| panic!("the NAT gateway's address {alloc} is the stack's"));
                assert_owned(
                    &ec2_tags(eip.tags()),
                    ls.stack,
                    &format!("eip.nat.{az}"),
                    Some(&format!("{}-nat-{az}", ls.stack)),
                );
                assert_owned(
                    &ec2_tags(g.tags()),
                    ls.stack,
                    &format!("nat.{az}"),
                    Some(&format!("{}-nat-{az}", ls.stack)),
                );
                by_nat.insert(g.nat_gateway_id().unwrap().to_string(), az);
            }
            let rts = c
                .ec2
                .describe_route_tables()
                .filters(tagged(ls.stack))
                .send()
                .await
                .unwrap();
            let mut routes = BTreeMap::new();
            for rt in rts.route_tables() {
                let tags = ec2_tags(rt.tags());
                if tags["ballast:resource"] == "rt.public" {
                    continue;
                }
                let assoc: Vec<_> = rt
                    .associations()
                    .iter()
                    .filter_map(|a| a.subnet_id())
                    .collect();
                assert_eq!(assoc.len(), 1, "a private table per private subnet");
                let (az, private) = az_of(assoc[0]);
                assert!(private, "{az}: associated with the private subnet");
                assert_owned(
                    &tags,
                    ls.stack,
                    &format!("rt.private.{az}"),
                    Some(&format!("{}-private-{az}", ls.stack)),
                );
                let nat = rt
                    .routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                    .and_then(|r| r.nat_gateway_id())
                    .unwrap_or_else(|| panic!("{az}: a default route to a NAT gateway"));
                routes.insert(az, by_nat[nat].clone());
            }
            (by_nat.len(), eips.addresses().len(), routes)
        })
    };
    let azs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    // `nat`: each private subnet routes to its own AZ's gateway.
    assert_eq!(
        read(),
        (
            2,
            2,
            azs(&[("us-east-1a", "us-east-1a"), ("us-east-1b", "us-east-1b")])
        )
    );
    // `nat_single`: one gateway and address go, the other AZ's table routes to the first's.
    let single = ls.model(&spec(ls.stack, "0.0.0.0/0", 30, "").replacen(
        "network:\n",
        "network:\n  egress: nat_single\n",
        1,
    ));
    ls.change(
        &single,
        &[
            ("aws_eip.eip.nat.us-east-1b", Action::Delete),
            ("aws_nat_gateway.nat.us-east-1b", Action::Delete),
            ("aws_route_table.rt.private.us-east-1b", Action::Update),
        ],
    );
    assert_eq!(
        read(),
        (
            1,
            1,
            azs(&[("us-east-1a", "us-east-1a"), ("us-east-1b", "us-east-1a")])
        )
    );
    ls.destroy(&single);
}

/// `network.egress: endpoints`: the S3 gateway endpoint on the private route tables (which have
/// no default route), interface endpoints for ECR and Logs in the private subnets behind their
/// own security group, each owned; converged; destroyed.
#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_vpc_endpoint() {
    let kinds = [
        "aws_vpc",
        "aws_subnet",
        "aws_internet_gateway",
        "aws_route_table",
        "aws_security_group",
        "aws_vpc_endpoint",
    ];
    let ls = Ls::start("it-ls-vpce", &kinds);
    let yaml = spec(ls.stack, "0.0.0.0/0", 30, "")
        .replacen("network:\n", "network:\n  egress: endpoints\n", 1)
        .replacen(
            "public.ecr.aws/nginx/nginx:1.27",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1",
            1,
        );
    let m = ls.model(&yaml);
    ls.deploy(&m);
    let c = ls.clients();
    ls.env.rt.block_on(async {
        let f = tagged(ls.stack);
        let subnets = c.ec2.describe_subnets().filters(f.clone()).send().await;
        let private: std::collections::BTreeSet<String> = subnets
            .unwrap()
            .subnets()
            .iter()
            .filter(|s| ec2_tags(s.tags())["ballast:resource"].starts_with("subnet.private."))
            .map(|s| s.subnet_id().unwrap().to_string())
            .collect();
        assert_eq!(private.len(), 2);
        let rts = c
            .ec2
            .describe_route_tables()
            .filters(f.clone())
            .send()
            .await;
        let rts = rts.unwrap();
        let tables: std::collections::BTreeSet<String> = rts
            .route_tables()
            .iter()
            .filter(|t| ec2_tags(t.tags())["ballast:resource"].starts_with("rt.private."))
            .map(|t| {
                let default = t
                    .routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"));
                assert!(default.is_none(), "no way to the internet: {t:?}");
                t.route_table_id().unwrap().to_string()
            })
            .collect();
        assert_eq!(tables.len(), 2);
        let sgs = c
            .ec2
            .describe_security_groups()
            .filters(f.clone())
            .send()
            .await;
        let sgs = sgs.unwrap();
        let sg = sgs
            .security_groups()
            .iter()
            .find(|g| ec2_tags(g.tags())["ballast:resource"] == "sg.endpoints")
            .expect("the endpoints' group");
        assert_eq!(
            ingress(sg),
            vec![("tcp".to_string(), 443, 443, "10.42.0.0/16".to_string())]
        );
        assert_eq!(egress(sg), vec![]);
        let eps = c.ec2.describe_vpc_endpoints().filters(f).send().await;
        let eps = eps.unwrap();
        let mut seen = Vec::new();
        for e in eps.vpc_endpoints() {
            let service = e
                .service_name()
                .unwrap()
                .trim_start_matches("com.amazonaws.us-east-1.");
            assert_owned(
                &ec2_tags(e.tags()),
                ls.stack,
                &format!("vpce.{service}"),
                Some(&format!("{}-{service}", ls.stack)),
            );
            let kind = e.vpc_endpoint_type().unwrap().as_str().to_ascii_lowercase();
            if service == "s3" {
                assert_eq!(kind, "gateway");
                let on: std::collections::BTreeSet<String> =
                    e.route_table_ids().iter().cloned().collect();
                assert_eq!(on, tables);
            } else {
                assert_eq!(kind, "interface", "{service}");
                let on: std::collections::BTreeSet<String> =
                    e.subnet_ids().iter().cloned().collect();
                assert_eq!(on, private, "{service}");
                assert_eq!(e.groups()[0].group_id(), sg.group_id(), "{service}");
            }
            seen.push(service.to_string());
        }
        seen.sort();
        assert_eq!(seen, ["ecr.api", "ecr.dkr", "logs", "s3"]);
    });
    ls.destroy(&m);
}

/// (protocol, from, to, source) of every ingress rule.
fn ingress(g: &aws_sdk_ec2::types::SecurityGroup) -> Vec<(String, i32, i32, String)> {
    permissions(g.ip_permissions())
}

fn egress(g: &aws_sdk_ec2::types::SecurityGroup) -> Vec<(String, i32, i32, String)> {
    permissions(g.ip_permissions_egress())
}

fn permissions(perms: &[aws_sdk_ec2::types::IpPermission]) -> Vec<(String, i32, i32, String)> {
    let mut out = Vec::new();
    for p in perms {
        let proto = p.ip_protocol().unwrap_or_default().to_string();
        let (from, to) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
        for r in p.ip_ranges() {
            out.push((proto.clone(), from, to, r.cidr_ip().unwrap().to_string()));
        }
        for r in p.user_id_group_pairs() {
            out.push((proto.clone(), from, to, r.group_id().unwrap().to_string()));
        }
    }
    out.sort();
    out
}

fn rule(port: i32, source: &str) -> (String, i32, i32, String) {
    ("tcp".into(), port, port, source.into())
}

#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_security_group() {
    let kinds = ["aws_vpc", "aws_security_group"];
    let ls = Ls::start("it-ls-sg", &kinds);
    let m = ls.model(&spec(ls.stack, "10.1.0.0/16, 192.0.2.0/24", 30, ""));
    ls.deploy(&m);
    let c = ls.clients();
    let vpc = vpc_id(&c, &ls.env, ls.stack);
    let read = || {
        ls.env.rt.block_on(async {
            let r = c
                .ec2
                .describe_security_groups()
                .filters(tagged(ls.stack))
                .send()
                .await
                .unwrap();
            assert_eq!(r.security_groups().len(), 2);
            let by_name = |n: String| {
                r.security_groups()
                    .iter()
                    .find(|g| g.group_name() == Some(n.as_str()))
                    .unwrap_or_else(|| panic!("security group {n}"))
                    .clone()
            };
            (
                by_name(format!("{}-alb", ls.stack)),
                by_name(format!("{}-service", ls.stack)),
            )
        })
    };
    let (alb, svc) = read();
    for (g, id) in [(&alb, "sg.alb"), (&svc, "sg.service")] {
        assert_eq!(g.vpc_id(), Some(vpc.as_str()));
        assert_owned(&ec2_tags(g.tags()), ls.stack, id, g.group_name());
    }
    assert_eq!(
        alb.description(),
        Some(format!("ballast {}: load balancer", ls.stack).as_str())
    );
    assert_eq!(
        svc.description(),
        Some(
            format!(
                "ballast {}: service tasks, from the load balancer only",
                ls.stack
            )
            .as_str()
        )
    );
    assert_eq!(
        ingress(&alb),
        [rule(80, "10.1.0.0/16"), rule(80, "192.0.2.0/24")],
        "ALB: the listener port from each allowed CIDR"
    );
    let alb_id = alb.group_id().unwrap().to_string();
    assert_eq!(
        ingress(&svc),
        [rule(8080, &alb_id)],
        "service: the container port from the ALB's group only"
    );
    let svc_id = svc.group_id().unwrap().to_string();
    assert_eq!(
        egress(&alb),
        [rule(8080, &svc_id)],
        "ALB: sends only to the service's group, on its port (AWS's allow-all revoked)"
    );
    assert_eq!(
        egress(&svc),
        [
            rule(53, "0.0.0.0/0"),
            rule(443, "0.0.0.0/0"),
            ("udp".into(), 53, 53, "0.0.0.0/0".into())
        ],
        "service: HTTPS and DNS only"
    );

    // One CIDR fewer: the ALB group is updated in place by revoking that rule.
    let m2 = ls.model(&spec(ls.stack, "10.1.0.0/16", 30, ""));
    let writes = ls.change(&m2, &[("aws_security_group.sg.alb", Action::Update)]);
    assert_eq!(writes, ["RevokeSecurityGroupIngress"]);
    let (alb, svc) = read();
    assert_eq!(alb.group_id(), Some(alb_id.as_str()), "same group");
    assert_eq!(ingress(&alb), [rule(80, "10.1.0.0/16")]);
    assert_eq!(ingress(&svc), [rule(8080, &alb_id)]);
    assert_eq!(egress(&alb), [rule(8080, &svc_id)]);
    ls.destroy(&m2);
}

#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_iam_role() {
    let ls = Ls::start("it-ls-iam", &["aws_iam_role"]);
    let m = ls.model(&spec(ls.stack, "0.0.0.0/0", 30, EC2_CAPACITY));
    ls.deploy(&m);
    let c = ls.clients();
    let exec = format!("{}-{REGION}-exec", ls.stack);
    let instance = format!("{}-{REGION}-instance", ls.stack);
    ls.env.rt.block_on(async {
        for (name, id, service, managed, inline) in [
            (
                &exec,
                "role.execution",
                "ecs-tasks.amazonaws.com",
                None,
                Some("ballast-execution"),
            ),
            (
                &instance,
                "role.instance",
                "ec2.amazonaws.com",
                Some(INSTANCE_POLICY),
                None,
            ),
        ] {
            let r = c.iam.get_role().role_name(name).send().await.unwrap();
            let role = r.role().unwrap();
            let trust = policy_json(role.assume_role_policy_document().unwrap());
            let mut statement = serde_json::json!({
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole"
            });
            // ECS tasks of this account and region only (the confused-deputy guard).
            if id == "role.execution" {
                let account = role.arn().split(':').nth(4).unwrap();
                statement["Condition"] = serde_json::json!({
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": format!("arn:aws:ecs:{REGION}:{account}:*")},
                });
            }
            assert_eq!(
                trust,
                serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}),
                "trust policy of {name}"
            );
            assert_eq!(
                role.description(),
                Some(format!("ballast stack {}: {id}", ls.stack).as_str())
            );
            let tags = role
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            assert_owned(&tags, ls.stack, id, None);
            let attached = c
                .iam
                .list_attached_role_policies()
                .role_name(name)
                .send()
                .await
                .unwrap();
            let arns: Vec<_> = attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn())
                .collect();
            assert_eq!(arns, Vec::from_iter(managed), "managed policies of {name}");
            let names = c
                .iam
                .list_role_policies()
                .role_name(name)
                .send()
                .await
                .unwrap();
            assert_eq!(
                names.policy_names(),
                Vec::from_iter(inline.map(str::to_string)),
                "inline policies of {name}"
            );
        }
        // The execution role may write logs to the service's group only, and pull no image
        // (a public one needs no permission).
        let p = c
            .iam
            .get_role_policy()
            .role_name(&exec)
            .policy_name("ballast-execution");
        let doc = policy_json(&p.send().await.unwrap().policy_document);
        assert_eq!(
            doc["Statement"],
            serde_json::json!([{
                "Sid": "WriteLogs", "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": format!(
                    "arn:aws:logs:{REGION}:${{aws:PrincipalAccount}}:log-group:/ballast/{}:*",
                    ls.stack
                ),
            }])
        );
        // The instance role has an instance profile of the same name holding it; the
        // execution role has none.
        let p = c
            .iam
            .get_instance_profile()
            .instance_profile_name(&instance)
            .send()
            .await
            .unwrap();
        let p = p.instance_profile().unwrap();
        let roles: Vec<_> = p.roles().iter().map(|r| r.role_name()).collect();
        assert_eq!(roles, [instance.as_str()]);
        let tags = p
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        assert_owned(&tags, ls.stack, "role.instance", None);
        let none = c
            .iam
            .get_instance_profile()
            .instance_profile_name(&exec)
            .send()
            .await;
        assert!(
            none.is_err_and(|e| e.into_service_error().is_no_such_entity_exception()),
            "no instance profile for the execution role"
        );
    });

    // Without ec2_capacity the instance role (and its profile) is removed from the stack.
    let m2 = ls.model(&spec(ls.stack, "0.0.0.0/0", 30, ""));
    let writes = ls.change(&m2, &[("aws_iam_role.role.instance", Action::Delete)]);
    // The role leaves its profile and loses its policy first; then the profile and the role go
    // at once (in either order: `IamRole::delete` joins the two).
    let pos = |w: &str| writes.iter().position(|x| x == w);
    let mut sorted = writes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "DeleteInstanceProfile",
            "DeleteRole",
            "DetachRolePolicy",
            "RemoveRoleFromInstanceProfile",
        ],
        "{writes:?}"
    );
    assert!(pos("RemoveRoleFromInstanceProfile") < pos("DeleteInstanceProfile"));
    assert!(pos("RemoveRoleFromInstanceProfile") < pos("DeleteRole"));
    assert!(pos("DetachRolePolicy") < pos("DeleteRole"));
    ls.env.rt.block_on(async {
        let gone = c.iam.get_role().role_name(&instance).send().await;
        assert!(gone.is_err_and(|e| e.into_service_error().is_no_such_entity_exception()));
        c.iam.get_role().role_name(&exec).send().await.unwrap();
    });

    // `permissions:`: a task role with one inline policy, read back.
    let perms = "  permissions:\n    - {actions: [dynamodb:GetItem], resources: [\"arn:aws:dynamodb:us-east-1:000000000000:table/t\"]}\n";
    let m3 = ls.model(&spec(ls.stack, "0.0.0.0/0", 30, perms));
    let writes = ls.change(&m3, &[("aws_iam_role.role.task", Action::Create)]);
    assert_eq!(writes, ["CreateRole", "PutRolePolicy"]);
    let task = format!("{}-{REGION}-task", ls.stack);
    ls.env.rt.block_on(async {
        let r = c.iam.list_role_policies().role_name(&task).send().await;
        assert_eq!(r.unwrap().policy_names(), ["ballast-permissions"]);
        let r = c.iam.get_role_policy().role_name(&task).policy_name("ballast-permissions");
        let doc = policy_json(&r.send().await.unwrap().policy_document);
        assert_eq!(doc["Statement"][0]["Action"], serde_json::json!(["dynamodb:GetItem"]));
        // A policy added by hand to an owned role is drift.
        c.iam
            .put_role_policy()
            .role_name(&exec)
            .policy_name("by-hand")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
    });
    let writes = ls.change(&m3, &[("aws_iam_role.role.execution", Action::Update)]);
    assert_eq!(writes, ["DeleteRolePolicy"], "the hand-added policy goes");
    ls.destroy(&m3);
}

#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_cloudwatch_log_group() {
    let kinds = ["aws_cloudwatch_log_group"];
    let ls = Ls::start("it-ls-logs", &kinds);
    let m = ls.model(&spec(ls.stack, "0.0.0.0/0", 30, ""));
    ls.deploy(&m);
    let c = ls.clients();
    let name = format!("/ballast/{}", ls.stack);
    let read = || {
        ls.env.rt.block_on(async {
            let r = c
                .logs
                .describe_log_groups()
                .log_group_name_prefix(&name)
                .send()
                .await
                .unwrap();
            assert_eq!(r.log_groups().len(), 1);
            let g = r.log_groups()[0].clone();
            assert_eq!(g.log_group_name(), Some(name.as_str()));
            let arn = g.log_group_arn().expect("logGroupArn").to_string();
            let tags = c
                .logs
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .unwrap();
            let tags: BTreeMap<String, String> = tags
                .tags()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect();
            assert_owned(&tags, ls.stack, "logs", None);
            g.retention_in_days()
        })
    };
    assert_eq!(read(), Some(30));

    let m2 = ls.model(&spec(ls.stack, "0.0.0.0/0", 7, ""));
    let writes = ls.change(&m2, &[("aws_cloudwatch_log_group.logs", Action::Update)]);
    assert_eq!(writes, ["PutRetentionPolicy"]);
    assert_eq!(read(), Some(7));
    ls.destroy(&m2);
}

#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_flow_log() {
    let kinds = [
        "aws_vpc",
        "aws_cloudwatch_log_group",
        "aws_iam_role",
        "aws_flow_log",
    ];
    let ls = Ls::start("it-ls-flow", &kinds);
    let spec = |traffic: &str| flow_logs_spec(ls.stack, "0.0.0.0/0", 30, "", traffic);
    let m = ls.model(&spec("reject"));
    ls.deploy(&m);
    let c = ls.clients();
    let vpc = vpc_id(&c, &ls.env, ls.stack);
    let role = format!("{}-{REGION}-flow-logs", ls.stack);
    let group = format!("/ballast/{}/vpc/flow-logs", ls.stack);
    // (traffic type, id) of the stack's one flow log, every other field checked.
    let read = || {
        ls.env.rt.block_on(async {
            let r = c
                .ec2
                .describe_flow_logs()
                .filter(tagged(ls.stack))
                .send()
                .await
                .unwrap();
            assert_eq!(r.flow_logs().len(), 1, "{:?}", r.flow_logs());
            let f = &r.flow_logs()[0];
            assert_eq!(f.resource_id(), Some(vpc.as_str()));
            assert_eq!(
                f.log_destination_type().map(|t| t.as_str()),
                Some("cloud-watch-logs")
            );
            assert_eq!(f.log_group_name(), Some(group.as_str()));
            let arn = c.iam.get_role().role_name(&role).send().await.unwrap();
            assert_eq!(
                f.deliver_logs_permission_arn(),
                Some(arn.role().unwrap().arn())
            );
            assert_eq!(f.max_aggregation_interval(), Some(600));
            assert_owned(
                &ec2_tags(f.tags()),
                ls.stack,
                "flow_logs",
                Some(&format!("{}-flow-logs", ls.stack)),
            );
            (
                f.traffic_type().map(|t| t.as_str().to_string()),
                f.flow_log_id().unwrap().to_string(),
            )
        })
    };
    let (traffic, first) = read();
    assert_eq!(traffic.as_deref(), Some("REJECT"));
    ls.env.rt.block_on(async {
        // The delivery role: VPC Flow Logs of this account and region only, writing only to
        // the flow log group.
        let r = c.iam.get_role().role_name(&role).send().await.unwrap();
        let r = r.role().unwrap();
        let account = r.arn().split(':').nth(4).unwrap();
        assert_eq!(
            policy_json(r.assume_role_policy_document().unwrap()),
            serde_json::json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": format!("arn:aws:ec2:{REGION}:{account}:vpc-flow-log/*")},
                },
            }]})
        );
        let names = c.iam.list_role_policies().role_name(&role).send().await;
        assert_eq!(names.unwrap().policy_names(), ["ballast-flow-logs"]);
        let p = c
            .iam
            .get_role_policy()
            .role_name(&role)
            .policy_name("ballast-flow-logs");
        let doc = policy_json(&p.send().await.unwrap().policy_document);
        assert_eq!(
            doc["Statement"][0]["Resource"],
            serde_json::json!(format!(
                "arn:aws:logs:{REGION}:${{aws:PrincipalAccount}}:log-group:{group}:*"
            ))
        );
        let attached = c.iam.list_attached_role_policies().role_name(&role).send();
        assert!(attached.await.unwrap().attached_policies().is_empty());
        let g = c
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&group)
            .send()
            .await
            .unwrap();
        let retention: Vec<_> = g.log_groups().iter().map(|g| g.retention_in_days()).collect();
        assert_eq!(retention, [Some(90)], "the flow log group keeps 90 days");
    });

    // A flow log cannot change: all traffic replaces it, the old one deleted first.
    let m2 = ls.model(&spec("all"));
    let writes = ls.change(&m2, &[("aws_flow_log.flow_logs", Action::Replace)]);
    assert_eq!(writes, ["DeleteFlowLogs", "CreateFlowLogs"]);
    let (traffic, second) = read();
    assert_eq!(traffic.as_deref(), Some("ALL"));
    assert_ne!(first, second);

    // Off: the flow log, its group and its role go.
    let m3 = ls.model(&spec("false"));
    ls.change(
        &m3,
        &[
            ("aws_cloudwatch_log_group.logs.flow", Action::Delete),
            ("aws_flow_log.flow_logs", Action::Delete),
            ("aws_iam_role.role.flow_logs", Action::Delete),
        ],
    );
    ls.destroy(&m3);
}

#[test]
#[ignore = "needs LocalStack: scripts/test --localstack"]
fn aws_s3_log_bucket() {
    let kinds = ["aws_s3_log_bucket"];
    let ls = Ls::start("it-ls-alblogs", &kinds);
    let spec = |logs: &str| {
        format!(
            "{}load_balancer:\n  access_logs: {logs}\n",
            spec(ls.stack, "0.0.0.0/0", 30, "")
                .replace("load_balancer:\n  ingress_cidrs: [0.0.0.0/0]\n", "")
        )
    };
    let m = ls.model(&spec("{retention_days: 30}"));
    ls.deploy(&m);
    let c = ls.clients();
    let read = || {
        ls.env.rt.block_on(async {
            let account = c.sts.get_caller_identity().send().await.unwrap();
            let bucket = format!(
                "{}-alb-{}-{REGION}-an",
                ls.stack,
                account.account().unwrap()
            );
            let tags =
                c.s3.get_bucket_tagging()
                    .bucket(&bucket)
                    .send()
                    .await
                    .unwrap();
            let tags: BTreeMap<String, String> = tags
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            assert_owned(&tags, ls.stack, "access_logs", None);
            let sse =
                c.s3.get_bucket_encryption()
                    .bucket(&bucket)
                    .send()
                    .await
                    .unwrap();
            let rule = &sse.server_side_encryption_configuration().unwrap().rules()[0];
            let algo = rule.apply_server_side_encryption_by_default().unwrap();
            assert_eq!(algo.sse_algorithm().as_str(), "AES256");
            let owner = c.s3.get_bucket_ownership_controls().bucket(&bucket).send();
            let owner = owner.await.unwrap();
            let rules = owner.ownership_controls().unwrap().rules();
            assert_eq!(rules[0].object_ownership().as_str(), "BucketOwnerEnforced");
            let pab =
                c.s3.get_public_access_block()
                    .bucket(&bucket)
                    .send()
                    .await
                    .unwrap();
            let pab = pab.public_access_block_configuration().unwrap();
            assert_eq!(
                (pab.block_public_acls(), pab.ignore_public_acls()),
                (Some(true), Some(true))
            );
            assert_eq!(
                (pab.block_public_policy(), pab.restrict_public_buckets()),
                (Some(true), Some(true))
            );
            let life = c.s3.get_bucket_lifecycle_configuration().bucket(&bucket);
            let days = life.send().await.unwrap().rules()[0]
                .expiration()
                .unwrap()
                .days();
            let p =
                c.s3.get_bucket_policy()
                    .bucket(&bucket)
                    .send()
                    .await
                    .unwrap();
            let p = policy_json(p.policy().unwrap());
            assert_eq!(
                p["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::127311923021:root",
                "us-east-1: ELB's account writes the logs"
            );
            (days, p["Statement"].as_array().unwrap().len())
        })
    };
    assert_eq!(read(), (Some(30), 2));

    let m2 = ls.model(&spec("{retention_days: 7}"));
    let writes = ls.change(&m2, &[("aws_s3_log_bucket.access_logs", Action::Update)]);
    assert_eq!(writes, ["PutBucketLifecycleConfiguration"]);
    assert_eq!(read(), (Some(7), 2));

    // Protected: a third statement denies s3:DeleteBucket, and destroy refuses the bucket.
    let m3 = ls.model(&format!("protect: true\n{}", spec("{retention_days: 7}")));
    let writes = ls.change(&m3, &[("aws_s3_log_bucket.access_logs", Action::Update)]);
    assert_eq!(writes, ["PutBucketPolicy"]);
    assert_eq!(read(), (Some(7), 3));
    let plan = ls.plan(None);
    let res = ls.env.rt.block_on(engine::apply(
        &ls.kinds,
        &engine::Scopes::one(REGION, &c),
        &plan,
        &Quiet,
    ));
    assert!(!res.ok(), "a protected bucket is not deleted");
    assert_eq!(read(), (Some(7), 3));
    let writes = ls.change(&m2, &[("aws_s3_log_bucket.access_logs", Action::Update)]);
    assert_eq!(writes, ["PutBucketPolicy"]);
    ls.destroy(&m2);
}
