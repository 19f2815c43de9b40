//! `aws_lb_listener`: the ALB listener forwarding to the target group (HTTPS when a
//! certificate is given, plus an HTTP->HTTPS redirect on port 80).

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};

use super::common::{i, ignore_missing, ownership, s};
use super::elb::{elb_tags, tags_of};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Kind, Node, Observed, Outputs, StackRef, Value};
use crate::spec::Model;

pub struct Listener;

pub const KIND: &str = "aws_lb_listener";
pub const ID: &str = "listener";
pub const REDIRECT_ID: &str = "listener.redirect";

/// The TLS policy AWS recommends for ALBs (TLS 1.2 and 1.3).
const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

#[async_trait]
impl Kind<Clients> for Listener {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::load_balancer::KIND, super::target_group::KIND]
    }

    fn desired(&self, m: &Model) -> Vec<Node> {
        let lb = &m.load_balancer;
        let https = lb.https();
        let main = Node::new(KIND, ID, format!("{}:{}", m.names().alb(), lb.port))
            .attr(
                "load_balancer_arn",
                Value::reference(super::load_balancer::ID, "arn"),
            )
            .attr("port", lb.port)
            .attr("protocol", if https { "HTTPS" } else { "HTTP" })
            .attr(
                "certificate_arn",
                Value::opt_str(lb.certificate_arn.as_deref()),
            )
            .attr("ssl_policy", Value::opt_str(https.then_some(SSL_POLICY)))
            .attr(
                "forward_to",
                Value::reference(super::target_group::ID, "arn"),
            )
            .force_new(&["load_balancer_arn"]);
        let mut out = vec![main];
        if https {
            out.push(
                Node::new(KIND, REDIRECT_ID, format!("{}:80", m.names().alb()))
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
        let listeners = c
            .elbv2
            .describe_listeners()
            .load_balancer_arn(&lb_arn)
            .send()
            .await
            .ctx(|| format!("describe listeners of {lb_name}"))?
            .listeners
            .unwrap_or_default();
        let arns: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.listener_arn().map(str::to_string))
            .collect();
        let tags = tags_of(c, &arns).await.unwrap_or_default();
        let mut out = Vec::new();
        for l in listeners {
            let arn = l.listener_arn().unwrap_or_default().to_string();
            let own = ownership(
                stack,
                tags.get(&arn)
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
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
                attrs.insert(
                    "forward_to".into(),
                    Value::opt_str(action.and_then(|a| a.target_group_arn())),
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
        let mut req = c
            .elbv2
            .modify_listener()
            .listener_arn(&cur.physical_id)
            .port(i(attrs, "port")?)
            .protocol(ProtocolEnum::from(s(attrs, "protocol")?))
            .default_actions(default_action(attrs)?);
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
            None => Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(s(attrs, "forward_to")?)
                .build(),
        },
    )
}
