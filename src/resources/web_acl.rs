//! `aws_wafv2_web_acl`: the stack's own AWS WAF web ACL in each region (`load_balancer.waf:
//! baseline`), which the load balancer is associated with (its `waf_acl_arn` attribute): AWS
//! managed rule groups (Amazon IP reputation list, core rule set, known bad inputs) and a rate
//! limit per client IP, CloudWatch metrics and sampled requests on every rule. Its rules are
//! read back and diffed as one list; a rule added by hand is drift.

use async_trait::async_trait;
use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, DefaultAction, ManagedRuleGroupStatement, NoneAction, OverrideAction,
    RateBasedStatement, RateBasedStatementAggregateKeyType, ResourceType, Rule, RuleAction, Scope,
    Statement, Tag, VisibilityConfig, WebAcl as Acl,
};

use super::common::{ownership, tags_for, wait_until};
use crate::aws::{AwsError, Clients, Ctx, ErrorKind};
use crate::engine::{
    Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value, TAGS,
};
use crate::spec::{Names, View, WafModel};

pub struct WebAcl;

pub const KIND: &str = "aws_wafv2_web_acl";
pub const ID: &str = "waf";

/// The AWS managed rule groups of the baseline, by rule name, in priority order around the
/// rate limit (IP reputation first: it is the cheapest to evaluate).
const IP_REPUTATION: (&str, &str) = ("aws-ip-reputation", "AWSManagedRulesAmazonIpReputationList");
const MANAGED: [(&str, &str); 2] = [
    ("aws-common", "AWSManagedRulesCommonRuleSet"),
    (
        "aws-known-bad-inputs",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ),
];
const RATE_RULE: &str = "rate-limit-per-ip";
/// The rate limit's window: requests per client IP in 5 minutes.
const WINDOW_SECS: i64 = 300;

/// The baseline's rules as discovery reads them back: `<priority> <name>: <statement> -> <action>`.
fn baseline_rules(rate_limit: u32) -> Vec<String> {
    let managed = |(name, group): (&str, &str)| format!("{name}: AWS {group} -> none");
    let mut rules = vec![managed(IP_REPUTATION)];
    rules.push(format!(
        "{RATE_RULE}: rate {rate_limit} per IP per {WINDOW_SECS} s -> block"
    ));
    rules.extend(MANAGED.iter().map(|r| managed(*r)));
    rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| format!("{i} {r}"))
        .collect()
}

/// CloudWatch metrics and sampled requests, under `metric`.
fn visibility(metric: &str) -> Result<VisibilityConfig, BoxError> {
    Ok(VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name(metric)
        .build()?)
}

/// The baseline's rules for the API.
fn rules(acl: &str, rate_limit: i64) -> Result<Vec<Rule>, BoxError> {
    let managed = |priority: i32, (name, group): (&str, &str)| -> Result<Rule, BoxError> {
        let statement = Statement::builder()
            .managed_rule_group_statement(
                ManagedRuleGroupStatement::builder()
                    .vendor_name("AWS")
                    .name(group)
                    .build()?,
            )
            .build();
        Ok(Rule::builder()
            .name(name)
            .priority(priority)
            .statement(statement)
            .override_action(
                OverrideAction::builder()
                    .none(NoneAction::builder().build())
                    .build(),
            )
            .visibility_config(visibility(&format!("{acl}-{name}"))?)
            .build()?)
    };
    let rate = Rule::builder()
        .name(RATE_RULE)
        .priority(1)
        .statement(
            Statement::builder()
                .rate_based_statement(
                    RateBasedStatement::builder()
                        .limit(rate_limit)
                        .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
                        .evaluation_window_sec(WINDOW_SECS)
                        .build()?,
                )
                .build(),
        )
        .action(
            RuleAction::builder()
                .block(BlockAction::builder().build())
                .build(),
        )
        .visibility_config(visibility(&format!("{acl}-{RATE_RULE}"))?)
        .build()?;
    Ok(vec![
        managed(0, IP_REPUTATION)?,
        rate,
        managed(2, MANAGED[0])?,
        managed(3, MANAGED[1])?,
    ])
}

/// One rule as `baseline_rules` writes it; what the baseline does not make reads as `other`.
fn read_rule(r: &Rule) -> String {
    let statement = r.statement();
    let what = if let Some(m) = statement.and_then(|s| s.managed_rule_group_statement()) {
        let customized = m.version().is_some()
            || !m.excluded_rules().is_empty()
            || !m.rule_action_overrides().is_empty()
            || m.scope_down_statement().is_some()
            || !m.managed_rule_group_configs().is_empty();
        format!(
            "{} {}{}",
            m.vendor_name(),
            m.name(),
            if customized { " (customized)" } else { "" }
        )
    } else if let Some(rb) = statement.and_then(|s| s.rate_based_statement()) {
        let key = rb.aggregate_key_type().as_str();
        let per = if key == "IP" {
            "IP".to_string()
        } else {
            key.to_string()
        };
        let window = rb.evaluation_window_sec();
        let window = if window == 0 { WINDOW_SECS } else { window };
        let scoped = if rb.scope_down_statement().is_some() {
            " (scoped down)"
        } else {
            ""
        };
        format!("rate {} per {per} per {window} s{scoped}", rb.limit())
    } else {
        "other".to_string()
    };
    let action = match (r.action(), r.override_action()) {
        (Some(a), _) if a.block().is_some() => "block",
        (Some(a), _) if a.allow().is_some() => "allow",
        (Some(a), _) if a.count().is_some() => "count",
        (Some(a), _) if a.captcha().is_some() => "captcha",
        (Some(a), _) if a.challenge().is_some() => "challenge",
        (_, Some(o)) if o.none().is_some() => "none",
        (_, Some(o)) if o.count().is_some() => "count",
        _ => "other",
    };
    format!("{} {}: {what} -> {action}", r.priority(), r.name())
}

/// Whether metrics and sampled requests are on for the ACL and every rule.
fn metrics_on(acl: &Acl) -> bool {
    let on = |v: Option<&VisibilityConfig>| {
        v.is_some_and(|v| v.cloud_watch_metrics_enabled() && v.sampled_requests_enabled())
    };
    on(acl.visibility_config()) && acl.rules().iter().all(|r| on(r.visibility_config()))
}

#[async_trait]
impl Kind<Clients> for WebAcl {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "wafv2:ListWebACLs",
                "wafv2:GetWebACL",
                "wafv2:ListTagsForResource",
            ],
            write_any: &[
                "wafv2:CreateWebACL",
                "wafv2:UpdateWebACL",
                "wafv2:DeleteWebACL",
                "wafv2:TagResource",
                "wafv2:UntagResource",
                // A delete takes the ACL off what it still protects first.
                "wafv2:ListResourcesForWebACL",
                "wafv2:DisassociateWebACL",
                "elasticloadbalancing:SetWebAcl",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(retag)
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let Some(WafModel::Baseline { rate_limit }) = &v.stack.load_balancer.waf else {
            return vec![];
        };
        vec![Node::new(KIND, ID, v.names().web_acl())
            .attr("default_action", "allow")
            .attr(
                "rules",
                Value::List(
                    baseline_rules(*rate_limit)
                        .into_iter()
                        .map(Value::Str)
                        .collect(),
                ),
            )
            .attr("rate_limit", i64::from(*rate_limit))
            .attr("metrics", true)]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let name = Names::new(&stack.name, &stack.region).web_acl();
        let Some((arn, id)) = find(c, &name).await? else {
            return Ok(vec![]);
        };
        let (tags, acl) = futures::join!(
            async {
                c.wafv2
                    .list_tags_for_resource()
                    .resource_arn(&arn)
                    .send()
                    .await
                    .ctx(|| format!("read tags of web ACL {name}"))
            },
            async {
                c.wafv2
                    .get_web_acl()
                    .name(&name)
                    .scope(Scope::Regional)
                    .id(&id)
                    .send()
                    .await
                    .ctx(|| format!("read web ACL {name}"))
            }
        );
        // Deleted between the listing and the reads: gone.
        let (tags, got) = match (tags, acl) {
            (Err(e), _) | (_, Err(e)) if e.is_not_found() => return Ok(vec![]),
            (t, a) => (t?, a?),
        };
        let tags: Vec<(&str, &str)> = tags
            .tag_info_for_resource()
            .map(|t| t.tag_list())
            .unwrap_or_default()
            .iter()
            .map(|t| (t.key(), t.value()))
            .collect();
        let own = ownership(stack, tags);
        if !own.owned && desired.is_empty() {
            return Ok(vec![]);
        }
        let acl = got.web_acl().ok_or("GetWebACL returned no web ACL")?;
        let default = match acl.default_action() {
            Some(d) if d.allow().is_some() => "allow",
            Some(d) if d.block().is_some() => "block",
            _ => "other",
        };
        let mut rules: Vec<&Rule> = acl.rules().iter().collect();
        rules.sort_by_key(|r| r.priority());
        let rate_limit = rules
            .iter()
            .find(|r| r.name() == RATE_RULE)
            .and_then(|r| r.statement())
            .and_then(|s| s.rate_based_statement())
            .map_or(0, |rb| rb.limit());
        let attrs = Attrs::from([
            (TAGS.into(), own.tags),
            ("default_action".into(), Value::str(default)),
            (
                "rules".into(),
                Value::List(rules.iter().map(|r| Value::Str(read_rule(r))).collect()),
            ),
            ("rate_limit".into(), Value::Int(rate_limit)),
            ("metrics".into(), Value::Bool(metrics_on(acl))),
        ]);
        Ok(vec![Observed {
            id: own.id.unwrap_or_else(|| ID.into()),
            kind: KIND,
            name,
            physical_id: arn.clone(),
            attrs,
            outputs: outputs(&arn, &id, got.lock_token().unwrap_or_default()),
            owned: own.owned,
        }])
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let tags = tags_for(stack, node, false)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()?;
        let limit = attrs
            .get("rate_limit")
            .and_then(Value::as_int)
            .unwrap_or(2000);
        let r = c
            .wafv2
            .create_web_acl()
            .name(&node.name)
            .scope(Scope::Regional)
            .description(format!(
                "ballast {}: the load balancer's baseline",
                stack.name
            ))
            .default_action(allow())
            .visibility_config(visibility(&node.name)?)
            .set_rules(Some(rules(&node.name, limit)?))
            .set_tags(Some(tags))
            .send()
            .await
            .ctx(|| format!("create web ACL {}", node.name))?;
        let summary = r.summary().ok_or("CreateWebACL returned no summary")?;
        Ok(outputs(
            summary.arn().unwrap_or_default(),
            summary.id().unwrap_or_default(),
            summary.lock_token().unwrap_or_default(),
        ))
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
        let id = cur.outputs.get("id").cloned().unwrap_or_default();
        let limit = attrs
            .get("rate_limit")
            .and_then(Value::as_int)
            .unwrap_or(2000);
        // The lock token discovery read; a stale one (someone changed the ACL since) is read
        // again once.
        let mut token = cur.outputs.get(LOCK).cloned().unwrap_or_default();
        for attempt in 0..2 {
            let r = c
                .wafv2
                .update_web_acl()
                .name(&node.name)
                .scope(Scope::Regional)
                .id(&id)
                .lock_token(&token)
                .default_action(allow())
                .visibility_config(visibility(&node.name)?)
                .set_rules(Some(rules(&node.name, limit)?))
                .send()
                .await
                .ctx(|| format!("update web ACL {}", node.name));
            match r {
                Err(e) if attempt == 0 && e.code() == "WAFOptimisticLockException" => {
                    token = lock_token(c, &node.name, &id).await?;
                }
                r => {
                    let next = r?.next_lock_token().unwrap_or_default().to_string();
                    return Ok(outputs(&cur.physical_id, &id, &next));
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let id = cur.outputs.get("id").cloned().unwrap_or_default();
        let name = &cur.name;
        // Whatever it still protects lets go of it first (AWS refuses to delete an associated
        // ACL): the stack's load balancer is deleted or moved to another ACL moments before,
        // and AWS takes a while to see that.
        let what = format!("web ACL {name} is still associated");
        wait_until(std::time::Duration::from_secs(300), what, || async {
            let token = match lock_token(c, name, &id).await {
                Err(e) if e.is_not_found() => return Ok(true),
                t => t?,
            };
            let r = c
                .wafv2
                .delete_web_acl()
                .name(name)
                .scope(Scope::Regional)
                .id(&id)
                .lock_token(token)
                .send()
                .await
                .ctx(|| format!("delete web ACL {name}"));
            match r {
                Ok(_) => Ok(true),
                Err(e) if e.is_not_found() => Ok(true),
                Err(e) if e.kind() == ErrorKind::InUse => {
                    disassociate_all(c, &cur.physical_id).await?;
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }
}

/// The output holding the lock token discovery read.
const LOCK: &str = "lock_token";

fn outputs(arn: &str, id: &str, lock: &str) -> Outputs {
    Outputs::from([
        ("arn".into(), arn.to_string()),
        ("id".into(), id.to_string()),
        (LOCK.into(), lock.to_string()),
    ])
}

fn allow() -> DefaultAction {
    DefaultAction::builder()
        .allow(AllowAction::builder().build())
        .build()
}

/// The ARN and id of the regional web ACL named `name`, if there is one.
async fn find(c: &Clients, name: &str) -> Result<Option<(String, String)>, AwsError> {
    let mut marker = None;
    // Bounded: 100 ACLs a page, 100 pages (AWS allows 100 web ACLs per region by default).
    for _ in 0..100 {
        let r = c
            .wafv2
            .list_web_acls()
            .scope(Scope::Regional)
            .limit(100)
            .set_next_marker(marker)
            .send()
            .await
            .ctx(|| "list web ACLs".into())?;
        if let Some(a) = r.web_acls().iter().find(|a| a.name() == Some(name)) {
            return Ok(Some((
                a.arn().unwrap_or_default().to_string(),
                a.id().unwrap_or_default().to_string(),
            )));
        }
        match r.next_marker() {
            Some(m) if !m.is_empty() && !r.web_acls().is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    Ok(None)
}

async fn lock_token(c: &Clients, name: &str, id: &str) -> Result<String, AwsError> {
    let r = c
        .wafv2
        .get_web_acl()
        .name(name)
        .scope(Scope::Regional)
        .id(id)
        .send()
        .await
        .ctx(|| format!("read web ACL {name}"))?;
    Ok(r.lock_token().unwrap_or_default().to_string())
}

/// Take the ACL `arn` off every load balancer it protects.
async fn disassociate_all(c: &Clients, arn: &str) -> Result<(), AwsError> {
    let r = c
        .wafv2
        .list_resources_for_web_acl()
        .web_acl_arn(arn)
        .resource_type(ResourceType::ApplicationLoadBalancer)
        .send()
        .await
        .ctx(|| format!("list what web ACL {arn} protects"))?;
    for resource in r.resource_arns() {
        let r = c
            .wafv2
            .disassociate_web_acl()
            .resource_arn(resource)
            .send()
            .await
            .ctx(|| format!("disassociate web ACL from {resource}"));
        match r {
            Err(e) if e.is_not_found() => {}
            r => {
                r?;
            }
        }
    }
    Ok(())
}

/// `Kind::retag`: TagResource for what is set, UntagResource for what is removed.
fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a std::collections::BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        if !set.is_empty() {
            let tags = set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()?;
            c.wafv2
                .tag_resource()
                .resource_arn(&cur.physical_id)
                .set_tags(Some(tags))
                .send()
                .await
                .ctx(|| format!("tag web ACL {}", cur.name))?;
        }
        if !remove.is_empty() {
            c.wafv2
                .untag_resource()
                .resource_arn(&cur.physical_id)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .ctx(|| format!("untag web ACL {}", cur.name))?;
        }
        Ok(())
    })
}

/// The load balancer's side: the web ACL it is associated with (None: none), and making it so.
pub async fn associated(c: &Clients, lb_arn: &str) -> Result<Option<String>, AwsError> {
    let r = c
        .wafv2
        .get_web_acl_for_resource()
        .resource_arn(lb_arn)
        .send()
        .await
        .ctx(|| format!("read the web ACL of {lb_arn}"));
    match r {
        Err(e) if e.is_not_found() => Ok(None),
        r => Ok(r?.web_acl().map(|a| a.arn().to_string())),
    }
}

/// Associate `acl` with the load balancer `lb_arn` (replacing any other), or with None take the
/// load balancer off its ACL.
pub async fn associate(c: &Clients, lb_arn: &str, acl: Option<&str>) -> Result<(), AwsError> {
    match acl {
        Some(acl) => c
            .wafv2
            .associate_web_acl()
            .web_acl_arn(acl)
            .resource_arn(lb_arn)
            .send()
            .await
            .map(|_| ())
            .ctx(|| format!("associate web ACL {acl} with {lb_arn}")),
        None => {
            let r = c
                .wafv2
                .disassociate_web_acl()
                .resource_arn(lb_arn)
                .send()
                .await
                .ctx(|| format!("disassociate the web ACL of {lb_arn}"));
            match r {
                Err(e) if e.is_not_found() => Ok(()),
                r => r.map(|_| ()),
            }
        }
    }
}
