//! `aws_lb_listener`: the ALB listener forwarding to the target group (HTTPS when a
//! certificate is given, plus an HTTP->HTTPS redirect on port 80).
//!
//! `ballast maintenance on` switches the main listener's default action to a fixed 503 response
//! and tags it `ballast:maintenance` with the target group it forwarded to. Discovery reports
//! such a listener with `maintenance = true` and `forward_to` = that target group; the desired
//! node wants `maintenance = false` but ignores its drift (a note), so `plan` and `deploy`
//! never end maintenance, and an update made for another reason keeps the fixed response.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum, Tag,
};

use super::common::{i, ignore_missing, ownership, s};
use super::elb::{elb_tags, tags_of};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::names::{TAG_MAINTENANCE, TAG_STACK};
use crate::spec::{Names, View};

pub struct Listener;

pub const KIND: &str = "aws_lb_listener";
pub const ID: &str = "listener";
pub const REDIRECT_ID: &str = "listener.redirect";

/// The fixed response of a listener in maintenance.
pub const MAINTENANCE_STATUS: &str = "503";
pub const MAINTENANCE_CONTENT_TYPE: &str = "text/html";

/// The default action of a listener in maintenance: 503 with `page` (at most 1024 bytes).
pub fn maintenance_action(page: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code(MAINTENANCE_STATUS)
                .content_type(MAINTENANCE_CONTENT_TYPE)
                .message_body(page)
                .build(),
        )
        .build()
}

/// The status of the default action of a listener with no service at `/`.
pub const NOT_FOUND_STATUS: &str = "404";

/// Where the main listener's default action forwards: the one service's target group, or
/// the target group of the named service whose route is `path: /`; `Null` when no service
/// is there (the default action answers `NOT_FOUND_STATUS`).
fn default_target(v: &View<'_>) -> Value {
    if !v.stack.named_services {
        return Value::reference(super::target_group::ID, "arn");
    }
    v.stack
        .services()
        .into_iter()
        .find(|(_, s)| s.route.as_ref().is_some_and(|r| r.is_default()))
        .map(|(name, _)| {
            Value::reference(
                &crate::spec::names::service_id(super::target_group::ID, Some(name)),
                "arn",
            )
        })
        .unwrap_or(Value::Null)
}

/// The fixed response of a listener with no service at `/`.
fn not_found_action() -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code(NOT_FOUND_STATUS)
                .content_type("text/plain")
                .message_body("Not Found")
                .build(),
        )
        .build()
}

/// A forward to one target group.
pub fn forward_action(target_group_arn: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group_arn)
        .build()
}

/// The target group a forward action sends to (the simple form, or the first of a weighted
/// forward).
pub fn forward_target(a: &Action) -> Option<&str> {
    a.target_group_arn().or_else(|| {
        a.forward_config()?
            .target_groups()
            .first()?
            .target_group_arn()
    })
}

/// The stack's main listener in one region, as `ballast maintenance` switches it.
pub struct MainListener {
    pub lb_name: String,
    pub port: i32,
    pub arn: String,
    /// The `ballast:maintenance` tag: where maintenance returns to.
    pub tag: Option<String>,
    /// Its default action is a forward: to this target group, when it names one.
    pub forwarding: bool,
    pub forwards_to: Option<String>,
    /// Its default action is a fixed response: (status, content type, body).
    pub fixed: Option<(String, String, String)>,
}

impl MainListener {
    pub fn label(&self) -> String {
        format!("listener {}:{}", self.lb_name, self.port)
    }

    /// Whether it answers with maintenance's status and `page` already.
    pub fn serves(&self, page: &str) -> bool {
        self.fixed.as_ref().is_some_and(|(status, ctype, body)| {
            status == MAINTENANCE_STATUS && ctype == MAINTENANCE_CONTENT_TYPE && body == page
        })
    }

    /// Answer every request with 503 and `page`.
    pub async fn switch_to_page(&self, c: &Clients, page: &str) -> Result<(), AwsError> {
        self.set_default_action(
            c,
            maintenance_action(page),
            "switch",
            "to the maintenance page",
        )
        .await
    }

    /// Forward to `target_group_arn` again.
    pub async fn switch_to_forward(
        &self,
        c: &Clients,
        target_group_arn: &str,
    ) -> Result<(), AwsError> {
        self.set_default_action(
            c,
            forward_action(target_group_arn),
            "switch",
            "back to forwarding",
        )
        .await
    }

    async fn set_default_action(
        &self,
        c: &Clients,
        action: Action,
        verb: &str,
        how: &str,
    ) -> Result<(), AwsError> {
        c.elbv2
            .modify_listener()
            .listener_arn(&self.arn)
            .default_actions(action)
            .send()
            .await
            .ctx(|| format!("{verb} {} {how}", self.label()))
            .map(|_| ())
    }

    /// Tag it `ballast:maintenance` = `target_group_arn` (where maintenance returns to).
    pub async fn tag_maintenance(
        &self,
        c: &Clients,
        target_group_arn: &str,
    ) -> Result<(), AwsError> {
        c.elbv2
            .add_tags()
            .resource_arns(&self.arn)
            .tags(
                Tag::builder()
                    .key(TAG_MAINTENANCE)
                    .value(target_group_arn)
                    .build(),
            )
            .send()
            .await
            .ctx(|| format!("tag {}", self.label()))
            .map(|_| ())
    }

    /// Remove its `ballast:maintenance` tag.
    pub async fn untag_maintenance(&self, c: &Clients) -> Result<(), AwsError> {
        c.elbv2
            .remove_tags()
            .resource_arns(&self.arn)
            .tag_keys(TAG_MAINTENANCE)
            .send()
            .await
            .ctx(|| format!("untag {}", self.label()))
            .map(|_| ())
    }
}

/// Why there is no main listener to switch.
#[derive(Debug)]
pub enum NoMainListener {
    Aws(AwsError),
    /// Not there, or not the stack's: the reason, said to the user.
    Refused(String),
}

impl From<AwsError> for NoMainListener {
    fn from(e: AwsError) -> Self {
        NoMainListener::Aws(e)
    }
}

/// The load balancer by the stack's name (refused unless it carries the stack's ownership tag)
/// and its listener on `port` that is not a redirect.
pub async fn main_listener(
    c: &Clients,
    stack: &StackRef,
    port: i32,
) -> Result<MainListener, NoMainListener> {
    let lb_name = Names::new(&stack.name, &stack.region).alb();
    let r = c
        .elbv2
        .describe_load_balancers()
        .names(&lb_name)
        .send()
        .await
        .ctx(|| format!("describe load balancer {lb_name}"));
    let lb = match r {
        Err(e) if e.is_not_found() => None,
        r => r?.load_balancers().first().cloned(),
    };
    let Some(lb) = lb else {
        return Err(NoMainListener::Refused(format!(
            "no load balancer {lb_name} in {}: deploy the stack first",
            stack.region
        )));
    };
    let lb_arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let lb_tags = tags_of(c, std::slice::from_ref(&lb_arn))
        .await?
        .remove(&lb_arn)
        .unwrap_or_default();
    if !lb_tags
        .iter()
        .any(|(k, v)| k == TAG_STACK && *v == stack.name)
    {
        return Err(NoMainListener::Refused(format!(
            "load balancer {lb_name} in {} does not carry the tag {TAG_STACK}={}: it is not this stack's, so it is left alone",
            stack.region, stack.name
        )));
    }
    let listeners = c
        .elbv2
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .ctx(|| format!("describe listeners of {lb_name}"))?
        .listeners
        .unwrap_or_default();
    let Some(listener) = listeners.into_iter().find(|l| {
        l.port() == Some(port)
            && l.default_actions().first().and_then(|a| a.r#type())
                != Some(&ActionTypeEnum::Redirect)
    }) else {
        return Err(NoMainListener::Refused(format!(
            "load balancer {lb_name} in {} has no listener on port {port}: deploy the stack first",
            stack.region
        )));
    };
    let arn = listener.listener_arn().unwrap_or_default().to_string();
    let tag = tags_of(c, std::slice::from_ref(&arn))
        .await?
        .remove(&arn)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, v)| k == TAG_MAINTENANCE && !v.is_empty())
        .map(|(_, v)| v);
    let action = listener.default_actions().first();
    let fixed = action
        .filter(|a| a.r#type() == Some(&ActionTypeEnum::FixedResponse))
        .and_then(|a| a.fixed_response_config())
        .map(|f| {
            (
                f.status_code().unwrap_or_default().to_string(),
                f.content_type().unwrap_or_default().to_string(),
                f.message_body().unwrap_or_default().to_string(),
            )
        });
    Ok(MainListener {
        lb_name,
        port: listener.port().unwrap_or_default(),
        arn,
        tag,
        forwarding: action.is_some_and(|a| a.r#type() == Some(&ActionTypeEnum::Forward)),
        forwards_to: action.and_then(forward_target).map(str::to_string),
        fixed,
    })
}

/// Whether a listener is in maintenance (its default action is a fixed response and it carries
/// the `ballast:maintenance` tag): the target group it returns to.
pub fn maintenance_of<'t>(
    action: Option<&Action>,
    tags: &'t [(String, String)],
) -> Option<&'t str> {
    if action.and_then(|a| a.r#type()) != Some(&ActionTypeEnum::FixedResponse) {
        return None;
    }
    tags.iter()
        .find(|(k, v)| k == TAG_MAINTENANCE && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

#[async_trait]
impl Kind<Clients> for Listener {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeTags",
            ],
            write_any: &[
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::elb::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::load_balancer::KIND, super::target_group::KIND]
    }

    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        let lb = &v.stack.load_balancer;
        let https = lb.https();
        let mut main = Node::new(KIND, ID, format!("{}:{}", v.names().alb(), lb.port))
            .attr(
                "load_balancer_arn",
                Value::reference(super::load_balancer::ID, "arn"),
            )
            .attr("port", lb.port)
            .attr("protocol", if https { "HTTPS" } else { "HTTP" })
            .attr("certificate_arn", Value::opt_str(lb.certificate(v.region)))
            .attr(
                "ssl_policy",
                Value::opt_str(https.then_some(lb.ssl_policy.as_str())),
            )
            .attr("forward_to", default_target(v))
            .attr("maintenance", false)
            .force_new(&["load_balancer_arn"]);
        // Without a service at `/`, what no rule takes is not found (not a bare AWS error).
        if main.attrs.get("forward_to") == Some(&Value::Null) {
            main = main.attr("default_status", NOT_FOUND_STATUS);
        }
        main.ignore_drift.push((
            "maintenance",
            "the stack is in maintenance (the load balancer answers 503 with the maintenance page); \
             `ballast maintenance off FILE` ends it"
                .into(),
        ));
        let mut out = vec![main];
        if https {
            out.push(
                Node::new(KIND, REDIRECT_ID, format!("{}:80", v.names().alb()))
                    .attr(
                        "load_balancer_arn",
                        Value::reference(super::load_balancer::ID, "arn"),
                    )
                    .attr("port", 80u32)
                    .attr("protocol", "HTTP")
                    .attr("redirect_to_port", lb.port)
                    .force_new(&["load_balancer_arn"]),
            );
        }
        out
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        _desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let lb_name = crate::spec::Names::new(&stack.name, &stack.region).alb();
        let found = super::elb::lookup(c, stack).await?;
        let Some(lb) = found.as_ref() else {
            return Ok(vec![]);
        };
        let lb_arn = lb.lb.load_balancer_arn().unwrap_or_default().to_string();
        // Listeners belong to the load balancer: ours if it is ours.
        let lb_owned =
            ownership(stack, lb.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))).owned;
        let listeners = lb.listeners.clone();
        let arns: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.listener_arn().map(str::to_string))
            .collect();
        let tags = tags_of(c, &arns).await.unwrap_or_default();
        let mut out = Vec::new();
        for l in listeners {
            let arn = l.listener_arn().unwrap_or_default().to_string();
            let l_tags = tags.get(&arn).map(Vec::as_slice).unwrap_or_default();
            let own = ownership(stack, l_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let action = l.default_actions().first();
            let redirect = action.and_then(|a| a.redirect_config());
            // Listeners belong to the load balancer: ours if it is ours.
            let id = own.id.unwrap_or_else(|| {
                if redirect.is_some() {
                    REDIRECT_ID.into()
                } else {
                    ID.into()
                }
            });
            let mut attrs = Attrs::from([
                ("tags".into(), own.tags.clone()),
                ("load_balancer_arn".into(), Value::str(&lb_arn)),
                ("port".into(), Value::from(l.port().map(i64::from))),
                (
                    "protocol".into(),
                    Value::opt_str(l.protocol().map(|p| p.as_str())),
                ),
            ]);
            if let Some(rc) = redirect {
                attrs.insert(
                    "redirect_to_port".into(),
                    Value::from(rc.port().and_then(|p| p.parse::<i64>().ok())),
                );
            } else {
                attrs.insert(
                    "certificate_arn".into(),
                    Value::opt_str(l.certificates().first().and_then(|c| c.certificate_arn())),
                );
                // A TLS policy means nothing on a plain HTTP listener: normalize it away.
                let tls = l.protocol() == Some(&ProtocolEnum::Https);
                attrs.insert(
                    "ssl_policy".into(),
                    Value::opt_str(l.ssl_policy().filter(|_| tls)),
                );
                // In maintenance: where `maintenance off` returns it.
                let back_to = maintenance_of(action, l_tags);
                attrs.insert(
                    "forward_to".into(),
                    Value::opt_str(back_to.or_else(|| action.and_then(forward_target))),
                );
                attrs.insert("maintenance".into(), Value::from(back_to.is_some()));
                // A fixed response that is not maintenance's: its status.
                attrs.insert(
                    "default_status".into(),
                    Value::opt_str(
                        action
                            .filter(|_| back_to.is_none())
                            .and_then(|a| a.fixed_response_config())
                            .and_then(|f| f.status_code()),
                    ),
                );
            }
            out.push(Observed {
                id,
                kind: KIND,
                name: format!("{lb_name}:{}", l.port().unwrap_or_default()),
                outputs: Outputs::from([("arn".into(), arn.clone())]),
                physical_id: arn,
                attrs,
                owned: own.owned || lb_owned,
            });
        }
        Ok(out)
    }

    /// With the load balancer this run wrote listeners of known: DescribeListeners of it
    /// alone, without the tags (a listener of the stack's load balancer is the stack's; the
    /// redirect is told by its action). Otherwise a whole discovery.
    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
        known: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        let mut lbs: Vec<&str> = known
            .iter()
            .filter_map(|a| a.get("load_balancer_arn").and_then(Value::as_str))
            .filter(|a| !a.is_empty())
            .collect();
        lbs.sort();
        lbs.dedup();
        if lbs.is_empty() {
            return self.discover(c, stack, desired).await;
        }
        let found = futures::future::try_join_all(lbs.iter().map(|arn| async move {
            let r = c
                .elbv2
                .describe_listeners()
                .load_balancer_arn(*arn)
                .send()
                .await
                .ctx(|| format!("describe listeners of {arn}"));
            match r {
                // The load balancer is gone, and its listeners with it.
                Err(e) if e.is_not_found() => Ok(vec![]),
                r => r.map(|r| r.listeners().to_vec()),
            }
        }))
        .await?;
        Ok(found
            .into_iter()
            .flatten()
            .map(|l| {
                let redirect = l
                    .default_actions()
                    .first()
                    .and_then(|a| a.redirect_config())
                    .is_some();
                Observed {
                    id: if redirect { REDIRECT_ID } else { ID }.into(),
                    kind: KIND,
                    physical_id: l.listener_arn().unwrap_or_default().to_string(),
                    name: String::new(),
                    attrs: Attrs::new(),
                    outputs: Outputs::new(),
                    owned: true,
                }
            })
            .collect())
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let mut req = c
            .elbv2
            .create_listener()
            .load_balancer_arn(s(attrs, "load_balancer_arn")?)
            .port(i(attrs, "port")?)
            .protocol(ProtocolEnum::from(s(attrs, "protocol")?))
            .default_actions(default_action(attrs)?)
            .set_tags(Some(elb_tags(stack, node)));
        if let Some(cert) = attrs.get("certificate_arn").and_then(Value::as_str) {
            req = req.certificates(Certificate::builder().certificate_arn(cert).build());
        }
        if let Some(p) = attrs.get("ssl_policy").and_then(Value::as_str) {
            req = req.ssl_policy(p);
        }
        let r = req
            .send()
            .await
            .ctx(|| format!("create listener {}", node.name))?;
        let arn = r
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .unwrap_or_default()
            .to_string();
        Ok(Outputs::from([("arn".into(), arn)]))
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
        // A listener in maintenance keeps its fixed response (only `maintenance off` ends it),
        // as AWS has it now, and the tag follows a new target group.
        let in_maintenance = cur.attrs.get("maintenance").and_then(Value::as_bool) == Some(true);
        let mut action = None;
        if in_maintenance {
            let now = c
                .elbv2
                .describe_listeners()
                .listener_arns(&cur.physical_id)
                .send()
                .await
                .ctx(|| format!("describe listener {}", node.name))?;
            action = now
                .listeners()
                .first()
                .and_then(|l| l.default_actions().first())
                .filter(|a| a.r#type() == Some(&ActionTypeEnum::FixedResponse))
                .and_then(|a| a.fixed_response_config())
                .map(|f| {
                    Action::builder()
                        .r#type(ActionTypeEnum::FixedResponse)
                        .fixed_response_config(f.clone())
                        .build()
                });
            let to = attrs.get("forward_to").and_then(Value::as_str);
            if let Some(to) = to.filter(|_| {
                action.is_some() && cur.attrs.get("forward_to") != attrs.get("forward_to")
            }) {
                c.elbv2
                    .add_tags()
                    .resource_arns(&cur.physical_id)
                    .tags(Tag::builder().key(TAG_MAINTENANCE).value(to).build())
                    .send()
                    .await
                    .ctx(|| format!("tag listener {}", node.name))?;
            }
        }
        let action = match action {
            Some(a) => a,
            None => default_action(attrs)?,
        };
        let mut req = c
            .elbv2
            .modify_listener()
            .listener_arn(&cur.physical_id)
            .port(i(attrs, "port")?)
            .protocol(ProtocolEnum::from(s(attrs, "protocol")?))
            .default_actions(action);
        if let Some(cert) = attrs.get("certificate_arn").and_then(Value::as_str) {
            req = req.certificates(Certificate::builder().certificate_arn(cert).build());
        }
        if let Some(p) = attrs.get("ssl_policy").and_then(Value::as_str) {
            req = req.ssl_policy(p);
        }
        req.send()
            .await
            .ctx(|| format!("modify listener {}", node.name))?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        let r = c
            .elbv2
            .delete_listener()
            .listener_arn(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("delete listener {}", cur.name));
        ignore_missing(r)
    }
}

fn default_action(attrs: &Attrs) -> Result<Action, BoxError> {
    Ok(
        match attrs.get("redirect_to_port").and_then(Value::as_int) {
            Some(port) => Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol("HTTPS")
                        .port(port.to_string())
                        .status_code(RedirectActionStatusCodeEnum::Http301)
                        .build(),
                )
                .build(),
            None => match attrs.get("forward_to").and_then(Value::as_str) {
                Some(tg) => forward_action(tg),
                None => not_found_action(),
            },
        },
    )
}
