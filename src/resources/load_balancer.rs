//! `aws_lb`: the internet-facing Application Load Balancer across the stack's subnets.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
};

use super::common::{b, i, ignore_missing, ownership, s, strs};
use super::elb::{arn_suffix, elb_tags, lookup, FoundLb};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::{NetworkModel, View, WafModel};

pub struct LoadBalancer;

pub const KIND: &str = "aws_lb";
pub const ID: &str = "alb";

#[async_trait]
impl Kind<Clients> for LoadBalancer {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeTags",
                "wafv2:GetWebACLForResource",
            ],
            write: &[
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
                "elasticloadbalancing:SetWebAcl",
            ],
            write_any: &[
                "iam:CreateServiceLinkedRole",
                "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL",
            ],
            arns: &["arn:aws:elasticloadbalancing:{region}:*:loadbalancer/app/{name}/*"],
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::elb::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            super::subnet::KIND,
            super::security_group::KIND,
            super::internet_gateway::KIND,
            super::log_bucket::KIND,
            super::web_acl::KIND,
        ]
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let lb = &v.stack.load_balancer;
        let mut n = Node::new(KIND, ID, v.names().alb())
            .attr("scheme", "internet-facing")
            .attr("subnets", super::network::public_subnets(v))
            .attr(
                "security_groups",
                Value::set([Value::reference(super::security_group::ALB_ID, "id")]),
            )
            .attr("idle_timeout", lb.idle_timeout)
            .attr("deletion_protection", lb.deletion_protection)
            .attr("drop_invalid_header_fields", lb.drop_invalid_header_fields)
            .attr("desync_mitigation_mode", lb.desync_mitigation_mode.as_str());
        // Access logs: to the stack's own bucket in this region, or to the user's.
        let (bucket, prefix) = match &lb.access_logs {
            None => (Value::str(""), String::new()),
            Some(l) => (
                l.bucket.as_deref().map_or_else(
                    || Value::reference(super::log_bucket::ID, "bucket"),
                    Value::str,
                ),
                super::log_bucket::prefix(&v.stack.name),
            ),
        };
        n = n
            .attr("access_logs_bucket", bucket)
            .attr("access_logs_prefix", prefix)
            .force_new(&["scheme"]);
        // Its web ACL, only when the spec names one: an association made outside the spec
        // (Firewall Manager's, for one) is not the spec's to remove.
        match &lb.waf {
            None => {}
            Some(WafModel::Baseline { .. }) => {
                n = n.attr(WAF, Value::reference(super::web_acl::ID, "arn"));
            }
            Some(WafModel::Existing(acls)) => {
                n = n.attr(WAF, Value::opt_str(acls.get(v.region).map(String::as_str)));
            }
        }
        // An internet-facing ALB needs the VPC's internet gateway attached (AWS refuses it
        // otherwise); the default route is made beside it, long before the ALB is active.
        if matches!(v.network, NetworkModel::Create { .. }) {
            n = n.after(super::internet_gateway::ID);
        }
        vec![n]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let name = crate::spec::Names::new(&stack.name, &stack.region).alb();
        let found = lookup(c, stack).await?;
        let mut out = Vec::new();
        if let Some(FoundLb {
            lb,
            tags,
            attributes,
            ..
        }) = found.as_ref()
        {
            let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
            let own = ownership(stack, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            if !own.owned && desired.is_empty() {
                return Ok(out);
            }
            // The web ACL, read only when the spec names one.
            let waf = if desired.iter().any(|n| n.attrs.contains_key(WAF)) {
                Some(super::web_acl::associated(c, &arn).await?)
            } else {
                None
            };
            let attr = |k: &str| {
                attributes
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            let dns = lb.dns_name().unwrap_or_default().to_string();
            // (bucket, prefix) while access logs are on; empty while off.
            let logs = if attr("access_logs.s3.enabled").as_deref() == Some("true") {
                (
                    attr("access_logs.s3.bucket").unwrap_or_default(),
                    attr("access_logs.s3.prefix").unwrap_or_default(),
                )
            } else {
                (String::new(), String::new())
            };
            let attrs = Attrs::from([
                ("tags".into(), own.tags.clone()),
                (
                    "scheme".into(),
                    Value::opt_str(lb.scheme().map(|s| s.as_str())),
                ),
                (
                    "subnets".into(),
                    Value::set(lb.availability_zones().iter().filter_map(|z| z.subnet_id())),
                ),
                (
                    "security_groups".into(),
                    Value::set(lb.security_groups().iter().map(String::as_str)),
                ),
                (
                    "idle_timeout".into(),
                    Value::Int(
                        attr("idle_timeout.timeout_seconds")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(60),
                    ),
                ),
                (
                    "deletion_protection".into(),
                    Value::Bool(attr("deletion_protection.enabled").as_deref() == Some("true")),
                ),
                (
                    "drop_invalid_header_fields".into(),
                    Value::Bool(
                        attr("routing.http.drop_invalid_header_fields.enabled").as_deref()
                            == Some("true"),
                    ),
                ),
                (
                    "desync_mitigation_mode".into(),
                    Value::str(
                        attr("routing.http.desync_mitigation_mode")
                            .unwrap_or_else(|| DEFAULT_DESYNC.to_string()),
                    ),
                ),
                ("access_logs_bucket".into(), Value::str(logs.0)),
                ("access_logs_prefix".into(), Value::str(logs.1)),
            ]);
            let mut attrs = attrs;
            if let Some(acl) = waf {
                attrs.insert(WAF.into(), Value::opt_str(acl));
            }
            out.push(Observed {
                id: ID.into(),
                kind: KIND,
                name: name.clone(),
                outputs: outputs(&arn, &dns, lb.canonical_hosted_zone_id()),
                physical_id: arn,
                attrs,
                owned: own.owned,
            });
        }
        Ok(out)
    }

    /// Discovery reads each by its name (DescribeLoadBalancers Names).
    fn found_by_name(&self) -> bool {
        true
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let r = c
            .elbv2
            .create_load_balancer()
            .name(&node.name)
            .scheme(LoadBalancerSchemeEnum::from(s(attrs, "scheme")?))
            .r#type(LoadBalancerTypeEnum::Application)
            .ip_address_type(IpAddressType::Ipv4)
            .set_subnets(Some(strs(attrs, "subnets")))
            .set_security_groups(Some(strs(attrs, "security_groups")))
            .set_tags(Some(elb_tags(stack, node)))
            .send()
            .await
            .ctx(|| format!("create load balancer {}", node.name))?;
        let lb = r
            .load_balancers()
            .first()
            .ok_or("CreateLoadBalancer returned no load balancer")?;
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        // A new load balancer has AWS's defaults (60 s idle timeout, no deletion protection,
        // invalid header fields kept, defensive desync mitigation, no access logs): set the
        // attributes only where the spec differs (one round trip less on the way to the
        // listener).
        if i(attrs, "idle_timeout")? != DEFAULT_IDLE_TIMEOUT
            || b(attrs, "deletion_protection")
            || b(attrs, "drop_invalid_header_fields")
            || s(attrs, "desync_mitigation_mode")? != DEFAULT_DESYNC
            || !s(attrs, "access_logs_bucket")?.is_empty()
        {
            set_attributes(c, &arn, attrs).await?;
        }
        if let Some(acl) = attrs.get(WAF).and_then(Value::as_str) {
            super::web_acl::associate(c, &arn, Some(acl)).await?;
        }
        Ok(outputs(
            &arn,
            lb.dns_name().unwrap_or_default(),
            lb.canonical_hosted_zone_id(),
        ))
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        _: &Node,
        attrs: &Attrs,
        cur: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        let arn = &cur.physical_id;
        if changed.iter().any(|k| k == "subnets") {
            c.elbv2
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(strs(attrs, "subnets")))
                .send()
                .await
                .ctx(|| format!("set subnets of {}", cur.name))?;
        }
        if changed.iter().any(|k| k == "security_groups") {
            c.elbv2
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(strs(attrs, "security_groups")))
                .send()
                .await
                .ctx(|| format!("set security groups of {}", cur.name))?;
        }
        if changed.iter().any(|k| ATTRIBUTES.contains(&k.as_str())) {
            set_attributes(c, arn, attrs).await?;
        }
        if changed.iter().any(|k| k == WAF) {
            let acl = attrs.get(WAF).and_then(Value::as_str);
            super::web_acl::associate(c, arn, acl).await?;
        }
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        if cur
            .attrs
            .get("deletion_protection")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return Err(format!(
                "load balancer {} has deletion protection on; deploy with `protect: false` (and no load_balancer.deletion_protection: true) first",
                cur.name
            )
            .into());
        }
        let r = c
            .elbv2
            .delete_load_balancer()
            .load_balancer_arn(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("delete load balancer {}", cur.name));
        ignore_missing(r)
    }
}

/// The attribute naming the web ACL the load balancer is associated with.
const WAF: &str = "waf_acl_arn";

/// `zone_id`: the load balancer's canonical hosted zone, which Route 53 alias records need
/// (read from AWS, never from a table of regions).
fn outputs(arn: &str, dns: &str, zone_id: Option<&str>) -> Outputs {
    Outputs::from([
        ("arn".into(), arn.to_string()),
        ("arn_suffix".into(), arn_suffix(arn)),
        ("dns_name".into(), dns.to_string()),
        ("zone_id".into(), zone_id.unwrap_or_default().to_string()),
    ])
}

/// AWS's idle timeout of a new load balancer, in seconds.
const DEFAULT_IDLE_TIMEOUT: i32 = 60;

/// AWS's desync mitigation mode of a new load balancer.
const DEFAULT_DESYNC: &str = "defensive";

/// The attributes written by ModifyLoadBalancerAttributes (all at once).
const ATTRIBUTES: [&str; 6] = [
    "idle_timeout",
    "deletion_protection",
    "drop_invalid_header_fields",
    "desync_mitigation_mode",
    "access_logs_bucket",
    "access_logs_prefix",
];

async fn set_attributes(c: &Clients, arn: &str, attrs: &Attrs) -> Result<(), BoxError> {
    let bucket = s(attrs, "access_logs_bucket")?;
    let kv = |k: &str, v: String| LoadBalancerAttribute::builder().key(k).value(v).build();
    c.elbv2
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .attributes(kv(
            "idle_timeout.timeout_seconds",
            i(attrs, "idle_timeout")?.to_string(),
        ))
        .attributes(kv(
            "deletion_protection.enabled",
            b(attrs, "deletion_protection").to_string(),
        ))
        .attributes(kv(
            "routing.http.drop_invalid_header_fields.enabled",
            b(attrs, "drop_invalid_header_fields").to_string(),
        ))
        .attributes(kv(
            "routing.http.desync_mitigation_mode",
            s(attrs, "desync_mitigation_mode")?.to_string(),
        ))
        .attributes(kv(
            "access_logs.s3.enabled",
            (!bucket.is_empty()).to_string(),
        ))
        .attributes(kv("access_logs.s3.bucket", bucket.to_string()))
        .attributes(kv(
            "access_logs.s3.prefix",
            s(attrs, "access_logs_prefix")?.to_string(),
        ))
        .send()
        .await
        .ctx(|| format!("set attributes of load balancer {arn}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn arn_suffixes_match_cloudwatch_dimensions() {
        let lb =
            "arn:aws:elasticloadbalancing:us-east-1:123:loadbalancer/app/web-alb/50dc6c495c0c9188";
        assert_eq!(super::arn_suffix(lb), "app/web-alb/50dc6c495c0c9188");
        let tg = "arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/web-tg/73e2d6bc24d8a067";
        assert_eq!(super::arn_suffix(tg), "targetgroup/web-tg/73e2d6bc24d8a067");
    }
}
