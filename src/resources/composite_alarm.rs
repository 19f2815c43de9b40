//! `aws_cloudwatch_composite_alarm`: the page and ticket alerts of each SLO
//! (`<stack>-slo-<availability|latency>-<page|ticket>`), each in ALARM when both burn-rate
//! windows of its alert are (multi-window, multi-burn-rate). They, not the window alarms,
//! notify the topic.
//!
//! The rule names its window alarms through references to their `name` output, so a replaced
//! window alarm replaces the composite too: a composite alarm must go before the alarms its
//! rule names (the kind depends on the metric alarm kind), and be put after them.

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::CompositeAlarm as AwsComposite;

use super::cloudwatch::{all_in_alarm, canon, cw_tags, observed_rule, span, Body};
use super::common::{b, s, strs};
use super::metric_alarm::{slo_window_id, slos, BurnAlert, Slo, BURN_ALERTS, SLO_DAYS};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::View;

pub struct CompositeAlarm;

pub const KIND: &str = "aws_cloudwatch_composite_alarm";

/// Logical id of an SLO alert: `alarm.slo.availability.page`.
pub fn id(slo: &str, alert: &str) -> String {
    format!("alarm.slo.{slo}.{alert}")
}

fn description(v: &View<'_>, slo: &Slo, a: &BurnAlert) -> String {
    let share_per_window = a.burn_rate * f64::from(a.long.seconds) / (SLO_DAYS * 86400.0);
    let days = (SLO_DAYS / a.burn_rate * 10.0).round() / 10.0;
    let (head, tail) = match a.key {
        "page" => ("PAGE", "Act now."),
        _ => ("TICKET", "Look into it within a day."),
    };
    format!(
        "{head}: {stack} is spending the error budget of its {objective} {burn} times faster \
         than it can last: {bad} was above {threshold}% (budget {budget}%) over both the last \
         {long} and the last {short}. At this rate {share}% of the 30-day budget goes every \
         {long}, all of it within {days} days. {tail}",
        stack = v.stack.name,
        objective = slo.objective,
        burn = canon(a.burn_rate),
        bad = slo.bad,
        threshold = canon(slo.threshold(a.burn_rate) * 100.0),
        budget = canon(slo.budget * 100.0),
        long = span(a.long.seconds),
        short = span(a.short.seconds),
        share = canon(share_per_window * 100.0),
    )
}

#[async_trait]
impl Kind<Clients> for CompositeAlarm {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "cloudwatch:DescribeAlarms",
                "cloudwatch:ListTagsForResource",
            ],
            write: &[
                "cloudwatch:PutCompositeAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ],
            arns: &["arn:aws:cloudwatch:{region}:*:alarm:{name}"],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(super::cloudwatch::retag)
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::metric_alarm::KIND, super::sns_topic::KIND]
    }

    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let actions = if v.stack.alarms.is_some() {
            Value::set([Value::reference(super::sns_topic::ID, "arn")])
        } else {
            // No `alarms:` means no topic: the alerts are there to be seen, not sent.
            Value::List(vec![])
        };
        let mut nodes = Vec::new();
        for slo in slos(v) {
            for a in &BURN_ALERTS {
                let name = v
                    .service_names()
                    .alarm(&format!("slo-{}-{}", slo.key, a.key));
                // A list that holds references is sorted by value once resolved: the rule is
                // built from the sorted names, and read back the same way.
                let rule = Value::List(
                    [a.long, a.short]
                        .iter()
                        .map(|w| Value::reference(&v.id(&slo_window_id(slo.key, w.key)), "name"))
                        .collect(),
                );
                nodes.push(
                    Node::new(KIND, v.id(&id(slo.key, a.key)), name)
                        .attr("description", description(v, &slo, a))
                        .attr("rule", rule)
                        .attr("actions_enabled", true)
                        .attr("alarm_actions", actions.clone())
                        .attr("ok_actions", actions.clone()),
                );
            }
        }
        nodes
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        super::cloudwatch::discover(c, stack, desired, KIND, |body| match body {
            Body::Composite(alarm) => Some(observed_attrs(alarm)),
            _ => None,
        })
        .await
    }

    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
        _: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        super::cloudwatch::listed(c, stack, desired, KIND, true).await
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        put(c, node, attrs, Some(stack)).await?;
        Ok(Outputs::from([("name".into(), node.name.clone())]))
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
        put(c, node, attrs, None).await?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        super::cloudwatch::delete(c, cur).await
    }
}

/// A composite alarm as CloudWatch reports it, in the node's terms.
fn observed_attrs(alarm: &AwsComposite) -> Attrs {
    Attrs::from([
        (
            "description".into(),
            Value::opt_str(alarm.alarm_description()),
        ),
        (
            "rule".into(),
            observed_rule(alarm.alarm_rule().unwrap_or_default()),
        ),
        (
            "actions_enabled".into(),
            Value::Bool(alarm.actions_enabled().unwrap_or(true)),
        ),
        (
            "alarm_actions".into(),
            Value::set(alarm.alarm_actions().iter().map(String::as_str)),
        ),
        (
            "ok_actions".into(),
            Value::set(alarm.ok_actions().iter().map(String::as_str)),
        ),
    ])
}

/// PutCompositeAlarm creates or replaces the alarm; tags only when creating.
async fn put(
    c: &Clients,
    node: &Node,
    attrs: &Attrs,
    create: Option<&StackRef>,
) -> Result<(), BoxError> {
    let names = strs(attrs, "rule");
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut req = c
        .cloudwatch
        .put_composite_alarm()
        .alarm_name(&node.name)
        .alarm_description(s(attrs, "description")?)
        .alarm_rule(all_in_alarm(&names))
        .actions_enabled(b(attrs, "actions_enabled"))
        .set_alarm_actions(Some(strs(attrs, "alarm_actions")))
        .set_ok_actions(Some(strs(attrs, "ok_actions")));
    if let Some(stack) = create {
        req = req.set_tags(Some(cw_tags(stack, node)));
    }
    req.send()
        .await
        .ctx(|| format!("put alarm {}", node.name))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::metric_alarm::tests::{model, resolved, TOPIC};

    #[test]
    fn page_and_ticket_per_slo_join_their_windows() {
        let m = model();
        let nodes = crate::resources::lower_one(&CompositeAlarm, &m);
        let ids: Vec<(&str, &str)> = nodes
            .iter()
            .map(|n| (n.id.as_str(), n.name.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("alarm.slo.availability.page", "web-slo-availability-page"),
                (
                    "alarm.slo.availability.ticket",
                    "web-slo-availability-ticket"
                ),
                ("alarm.slo.latency.page", "web-slo-latency-page"),
                ("alarm.slo.latency.ticket", "web-slo-latency-ticket"),
            ]
        );
        let rules: Vec<String> = nodes
            .iter()
            .map(|n| {
                let names = strs(&resolved(n), "rule");
                all_in_alarm(&names.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .collect();
        assert_eq!(
            rules,
            [
                r#"ALARM("web-slo-availability-1h") AND ALARM("web-slo-availability-5m")"#,
                r#"ALARM("web-slo-availability-30m") AND ALARM("web-slo-availability-6h")"#,
                r#"ALARM("web-slo-latency-1h") AND ALARM("web-slo-latency-5m")"#,
                r#"ALARM("web-slo-latency-30m") AND ALARM("web-slo-latency-6h")"#,
            ]
        );
        // Every rule names metric alarm nodes by reference.
        let windows: Vec<String> =
            crate::resources::lower_one(&crate::resources::metric_alarm::MetricAlarm, &m)
                .into_iter()
                .map(|n| n.id)
                .collect();
        for n in &nodes {
            for dep in n.deps() {
                assert!(
                    windows.contains(&dep) || dep == crate::resources::sns_topic::ID,
                    "{dep}"
                );
            }
            assert_eq!(resolved(n)["alarm_actions"], Value::set([TOPIC]));
        }

        let page = nodes[0].attrs["description"].as_str().unwrap();
        assert!(page.starts_with("PAGE: web is spending the error budget of its availability SLO (99.9% of requests without a 5xx error over 30 days) 14.4 times faster"), "{page}");
        assert!(
            page.contains(
                "above 1.44% (budget 0.1%) over both the last hour and the last 5 minutes"
            ),
            "{page}"
        );
        assert!(
            page.contains("2% of the 30-day budget goes every hour, all of it within 2.1 days"),
            "{page}"
        );
        let ticket = nodes[3].attrs["description"].as_str().unwrap();
        assert!(ticket.starts_with("TICKET: web"), "{ticket}");
        assert!(ticket.contains("slower than 300 ms was above 6% (budget 1%) over both the last 6 hours and the last 30 minutes"), "{ticket}");
        assert!(
            ticket.contains("5% of the 30-day budget goes every 6 hours, all of it within 5 days"),
            "{ticket}"
        );
    }

    #[test]
    fn a_composite_read_back_equals_what_was_put() {
        for n in crate::resources::lower_one(&CompositeAlarm, &model()) {
            let want = resolved(&n);
            let names = strs(&want, "rule");
            let aws = AwsComposite::builder()
                .alarm_name(&n.name)
                .alarm_description(s(&want, "description").unwrap())
                .alarm_rule(all_in_alarm(
                    &names.iter().map(String::as_str).collect::<Vec<_>>(),
                ))
                .set_alarm_actions(Some(strs(&want, "alarm_actions")))
                .set_ok_actions(Some(strs(&want, "ok_actions")))
                .build();
            assert_eq!(observed_attrs(&aws), want, "{}", n.id);
        }
    }

    #[test]
    fn nothing_without_an_slo() {
        let mut m = model();
        m.slo = None;
        assert!(crate::resources::lower_one(&CompositeAlarm, &m).is_empty());
    }
}
