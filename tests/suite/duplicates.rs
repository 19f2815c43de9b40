//! Duplicate owned copies (issue 8, point 2): two resources carrying the same stack and logical
//! id, as a race of two deploys leaves them. The plan shows both ids, deploy keeps the copy the
//! rest of the stack refers to and deletes the others, and the stack converges.

use crate::common;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use common::{assert_ok, tagged, web_inventory, web_spec, Env, Plan, TestStack};

/// The tags of an EC2 resource as a racing run would have set them: all of them but AWS's own.
fn spec_of(kind: ResourceType, tags: &[Tag]) -> TagSpecification {
    let tags = tags
        .iter()
        .filter(|t| !t.key().unwrap_or_default().starts_with("aws:"))
        .cloned();
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tags.collect()))
        .build()
}

fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

#[test]
fn duplicates_made_by_a_race_are_shown_with_both_ids_and_removed() {
    let env = Env::new();
    let region = "eu-central-1";
    let s = TestStack::new(&env, "it-dups", region, &web_spec("it-dups", region, ""));
    let stack = s.name.as_str();
    assert_ok(&s.deploy().run, "cold deploy");
    let want = web_inventory(
        stack,
        region,
        &[&format!("{region}a"), &format!("{region}b")],
    );
    assert_eq!(s.inventory(), want);
    let lb_before = s.load_balancer();
    let listeners_before = s.listeners().len();

    // What the stack has: one VPC, its subnets, its security groups.
    let vpcs = s.vpcs();
    assert_eq!(vpcs.len(), 1);
    let vpc = vpcs[0].clone();
    let vpc_id = vpc.vpc_id().unwrap().to_string();
    let all_subnets = s.subnets();
    let all_subnet_ids: Vec<String> = all_subnets
        .iter()
        .map(|x| x.subnet_id().unwrap().to_string())
        .collect();
    // The public subnets: the load balancer's.
    let mut subnets: Vec<_> = all_subnets
        .into_iter()
        .filter(|x| {
            tag(x.tags(), "ballast:resource").is_some_and(|r| !r.starts_with("subnet.private."))
        })
        .collect();
    subnets.sort_by_key(|x| x.availability_zone().unwrap_or_default().to_string());
    let subnet = subnets[0].clone();
    let subnet_ids: Vec<String> = subnets
        .iter()
        .map(|x| x.subnet_id().unwrap().to_string())
        .collect();
    let sg = s
        .security_groups()
        .into_iter()
        .find(|g| tag(g.tags(), "ballast:resource") == Some("sg.alb"))
        .expect("the load balancer's security group");
    let sg_id = sg.group_id().unwrap().to_string();
    let c = s.clients();
    let igws = env.rt.block_on(async {
        let r = c.ec2.describe_internet_gateways().filters(tagged(stack));
        r.send().await.unwrap().internet_gateways().to_vec()
    });
    assert_eq!(igws.len(), 1);
    let igw = igws[0].clone();
    let igw_id = igw.internet_gateway_id().unwrap().to_string();

    // A racing run's copies: a second VPC tagged as the stack's VPC, a subnet in it tagged as
    // one of the stack's subnets, a security group in it tagged as the stack's ALB group, and
    // an internet gateway attached to it tagged as the stack's.
    let (dup_vpc, dup_subnet, dup_sg, dup_igw) = env.rt.block_on(async {
        let v = c
            .ec2
            .create_vpc()
            .cidr_block(vpc.cidr_block().unwrap())
            .tag_specifications(spec_of(ResourceType::Vpc, vpc.tags()))
            .send()
            .await
            .unwrap();
        let dup_vpc = v.vpc().unwrap().vpc_id().unwrap().to_string();
        let sn = c
            .ec2
            .create_subnet()
            .vpc_id(&dup_vpc)
            .cidr_block(subnet.cidr_block().unwrap())
            .availability_zone(subnet.availability_zone().unwrap())
            .tag_specifications(spec_of(ResourceType::Subnet, subnet.tags()))
            .send()
            .await
            .unwrap();
        let dup_subnet = sn.subnet().unwrap().subnet_id().unwrap().to_string();
        let g = c
            .ec2
            .create_security_group()
            .vpc_id(&dup_vpc)
            .group_name(sg.group_name().unwrap())
            .description(sg.description().unwrap())
            .tag_specifications(spec_of(ResourceType::SecurityGroup, sg.tags()))
            .send()
            .await
            .unwrap();
        let i = c
            .ec2
            .create_internet_gateway()
            .tag_specifications(spec_of(ResourceType::InternetGateway, igw.tags()))
            .send()
            .await
            .unwrap();
        let dup_igw = i.internet_gateway().unwrap().internet_gateway_id().unwrap();
        c.ec2
            .attach_internet_gateway()
            .internet_gateway_id(dup_igw)
            .vpc_id(&dup_vpc)
            .send()
            .await
            .unwrap();
        let dup_sg = g.group_id().unwrap().to_string();
        (dup_vpc, dup_subnet, dup_sg, dup_igw.to_string())
    });
    assert_eq!(s.vpcs().len(), 2, "two VPCs carry the stack's tags");
    let kept_of = [
        (dup_vpc.as_str(), vpc_id.as_str()),
        (dup_subnet.as_str(), subnet.subnet_id().unwrap()),
        (dup_sg.as_str(), sg_id.as_str()),
        (dup_igw.as_str(), igw_id.as_str()),
    ];

    // The plan: exactly the four copies are deleted, each with a note naming both ids; the
    // copies the load balancer and the rest of the stack use are kept.
    env.reset();
    let r = s.run("plan", &["--output", "json", "--detailed-exitcode"]);
    assert_eq!(
        r.code, 2,
        "a stack with duplicates has changes:\n{}",
        r.stderr
    );
    let plan = Plan::parse(&r.stdout);
    let changed: Vec<&serde_json::Value> = plan
        .changes()
        .iter()
        .filter(|c| c["action"] != "no-op")
        .collect();
    assert_eq!(changed.len(), 4, "{:#}", plan.json);
    for (dup, kept) in kept_of {
        let c = changed
            .iter()
            .find(|c| c["physical_id"] == dup)
            .unwrap_or_else(|| panic!("no delete of {dup}: {:#}", plan.json));
        assert_eq!(c["action"], "delete");
        let notes = c["notes"].as_array().unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        let note = notes[0].as_str().unwrap();
        assert!(
            note.starts_with(&format!("duplicate of {kept} (kept: "))
                && note.ends_with(&format!("this copy {dup} is deleted")),
            "{note}"
        );
        // The kept copy is the one in the plan as a no-op.
        let kept_change = plan
            .changes()
            .iter()
            .find(|k| k["physical_id"] == kept)
            .unwrap_or_else(|| panic!("{kept} is not in the plan"));
        assert_eq!(kept_change["action"], "no-op");
        assert_eq!(kept_change["address"], c["address"]);
    }
    let vpc_note = changed
        .iter()
        .find(|c| c["physical_id"] == dup_vpc.as_str());
    let vpc_note = vpc_note.unwrap()["notes"][0].as_str().unwrap();
    assert!(
        vpc_note.contains("the stack's other resources refer to it"),
        "the VPC the stack hangs off is kept, not the tie-break's: {vpc_note}"
    );
    env.stats().assert_no_writes("plan");

    // The human plan names both ids of every duplicate, and is never "No changes".
    let r = s.run("plan", &[]);
    assert_ok(&r, "plan");
    assert!(!r.stderr.contains("No changes"), "{}", r.stderr);
    r.assert_stderr(&["Plan: 0 to add, 0 to change, 0 to replace, 4 to destroy."]);
    for (dup, kept) in kept_of {
        r.assert_stderr(&[
            &format!("duplicate of {kept} (kept: "),
            &format!("this copy {dup} is deleted"),
            &format!("(a duplicate: {dup} carries the same stack and resource id; {kept} is kept)"),
        ]);
    }

    // Deploy deletes exactly the copies: the subnet, the group and the gateway (detached)
    // before their VPC, and not a single write to what is kept.
    env.reset();
    let r = s.run("deploy", &["--yes"]);
    assert_ok(&r, "deploy with duplicates");
    r.assert_stderr(&["Apply complete! 0 added, 0 changed, 0 replaced, 4 destroyed in"]);
    let ops = env.stats().write_ops;
    let mut sorted = ops.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "DeleteInternetGateway",
            "DeleteSecurityGroup",
            "DeleteSubnet",
            "DeleteVpc",
            "DetachInternetGateway"
        ],
        "{ops:?}"
    );
    assert_eq!(ops.last().map(String::as_str), Some("DeleteVpc"), "{ops:?}");

    // Read back: the original VPC, subnets, group and load balancer, nothing else.
    let vpcs = s.vpcs();
    assert_eq!(vpcs.len(), 1);
    assert_eq!(vpcs[0].vpc_id(), Some(vpc_id.as_str()));
    let mut left: Vec<String> = s
        .subnets()
        .iter()
        .map(|x| x.subnet_id().unwrap().to_string())
        .collect();
    left.sort();
    let mut every = all_subnet_ids.clone();
    every.sort();
    assert_eq!(left, every);
    let mut original = subnet_ids.clone();
    original.sort();
    let groups = s.security_groups();
    assert!(groups.iter().any(|g| g.group_id() == Some(sg_id.as_str())));
    assert!(!groups.iter().any(|g| g.group_id() == Some(dup_sg.as_str())));
    env.rt.block_on(async {
        let r = c.ec2.describe_internet_gateways().filters(tagged(stack));
        let left = r.send().await.unwrap().internet_gateways().to_vec();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].internet_gateway_id(), Some(igw_id.as_str()));
        let attached: Vec<_> = left[0].attachments().iter().map(|a| a.vpc_id()).collect();
        assert_eq!(attached, [Some(vpc_id.as_str())]);
    });
    let lb = s.load_balancer();
    assert_eq!(lb.load_balancer_arn(), lb_before.load_balancer_arn());
    assert_eq!(lb.vpc_id(), Some(vpc_id.as_str()));
    let mut lb_subnets: Vec<String> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_string))
        .collect();
    lb_subnets.sort();
    assert_eq!(lb_subnets, original);
    assert_eq!(s.listeners().len(), listeners_before);
    assert_eq!(s.inventory(), want, "one of each");

    s.assert_converged();
    s.destroy();
}
