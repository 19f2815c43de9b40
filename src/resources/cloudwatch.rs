//! CloudWatch helpers shared by the metric and composite alarm kinds: the stack's alarms read
//! once per discovery (both types, with their tags), tags on create, canonical numbers, and the
//! `ALARM("a") AND ALARM("b")` rules of composite alarms.

use std::sync::Arc;

use aws_sdk_cloudwatch::types::{AlarmType, CompositeAlarm, MetricAlarm, Tag};
use futures::future::try_join_all;

use super::common::{ownership, tags_for};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Node, Observed, Outputs, StackRef, Value};

/// CloudWatch tags for a new alarm.
pub fn cw_tags(stack: &StackRef, node: &Node) -> Vec<Tag> {
    tags_for(stack, node, false)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub enum Body {
    Metric(Box<MetricAlarm>),
    Composite(Box<CompositeAlarm>),
}

/// An alarm whose name starts with `<stack>-`, with its tags.
pub struct FoundAlarm {
    pub name: String,
    pub arn: String,
    pub body: Body,
    pub tags: Vec<(String, String)>,
}

impl FoundAlarm {
    /// Its logical id and whether it is owned: the `ballast:resource` tag of an owned alarm,
    /// the desired node of the same name for a look-alike; `None` for another stack's alarm
    /// (or, with nothing desired, any look-alike).
    pub fn claim(&self, stack: &StackRef, desired: &[&Node]) -> Option<(String, bool)> {
        let own = ownership(
            stack,
            self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        if own.owned {
            return Some((own.id.unwrap_or_else(|| self.name.clone()), true));
        }
        let node = desired.iter().find(|n| n.name == self.name)?;
        Some((node.id.clone(), false))
    }
}

/// Every metric and composite alarm named `<stack>-...` as DescribeAlarms lists them by name
/// prefix (paged, 100 a page), without their tags.
async fn listing(c: &Clients, stack: &StackRef) -> Result<Vec<(String, String, Body)>, AwsError> {
    let prefix = crate::spec::Names::new(&stack.name, &stack.region).alarm_prefix();
    let mut found: Vec<(String, String, Body)> = Vec::new();
    let mut next = None;
    loop {
        let r = c
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(&prefix)
            // Without AlarmTypes only metric alarms come back.
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .max_records(100)
            .set_next_token(next)
            .send()
            .await
            .ctx(|| format!("describe alarms {prefix}*"))?;
        for a in r.metric_alarms() {
            found.push((
                a.alarm_name().unwrap_or_default().to_string(),
                a.alarm_arn().unwrap_or_default().to_string(),
                Body::Metric(Box::new(a.clone())),
            ));
        }
        for a in r.composite_alarms() {
            found.push((
                a.alarm_name().unwrap_or_default().to_string(),
                a.alarm_arn().unwrap_or_default().to_string(),
                Body::Composite(Box::new(a.clone())),
            ));
        }
        next = r.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    Ok(found)
}

/// Every metric and composite alarm named `<stack>-...`, read once per discovery for both
/// alarm kinds: DescribeAlarms by name prefix (paged, 100 a page), then the tags of all of them
/// at once.
pub async fn alarms(c: &Clients, stack: &StackRef) -> Result<Arc<Vec<FoundAlarm>>, AwsError> {
    c.shared
        .once("alarms", || async {
            let found = listing(c, stack).await?;
            let tags = try_join_all(found.iter().map(|(name, arn, _)| async move {
                let r = c
                    .cloudwatch
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
                    .await
                    .ctx(|| format!("list tags of alarm {name}"));
                match r {
                    // Deleted since the listing: gone.
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                    Ok(r) => Ok(Some(
                        r.tags()
                            .iter()
                            .map(|t| {
                                (
                                    t.key().unwrap_or_default().to_string(),
                                    t.value().unwrap_or_default().to_string(),
                                )
                            })
                            .collect::<Vec<_>>(),
                    )),
                }
            }))
            .await?;
            Ok(found
                .into_iter()
                .zip(tags)
                .filter_map(|((name, arn, body), tags)| {
                    Some(FoundAlarm {
                        name,
                        arn,
                        body,
                        tags: tags?,
                    })
                })
                .collect())
        })
        .await
}

/// A number as the plan shows and compares it: at most 12 significant digits (so the float
/// error of `14.4 * (1 - 99.9 / 100)` disappears), no trailing zeros, no exponent: `5.0` is
/// `5`, `0.0144` is `0.0144`.
pub fn canon(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let r: f64 = format!("{x:.11e}").parse().unwrap_or(x);
    // -0 reads as 0.
    format!("{}", if r == 0.0 { 0.0 } else { r })
}

/// A number for an attribute: its canonical string.
pub fn number(x: f64) -> Value {
    Value::Str(canon(x))
}

/// The rule of a composite alarm that fires when all of `names` are in ALARM.
pub fn all_in_alarm(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("ALARM(\"{n}\")"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// An observed rule in the node's terms: the sorted alarm names when it is exactly
/// `ALARM("a") AND ALARM("b")` of them (in that sorted order), else the rule as it is (which
/// then differs from any desired one and is put again).
pub fn observed_rule(rule: &str) -> Value {
    let names: Option<Vec<&str>> = rule
        .split(" AND ")
        .map(|part| {
            part.strip_prefix("ALARM(\"")
                .and_then(|p| p.strip_suffix("\")"))
                .filter(|name| !name.contains('"'))
        })
        .collect();
    match names {
        Some(mut names) => {
            names.sort_unstable();
            if all_in_alarm(&names) == rule {
                Value::List(names.into_iter().map(Value::str).collect())
            } else {
                Value::str(rule)
            }
        }
        None => Value::str(rule),
    }
}

/// A stretch of time after "the last" or "every": `hour`, `5 minutes`, `6 hours`.
pub fn span(secs: u32) -> String {
    let d = duration(secs);
    d.strip_prefix("1 ").map(str::to_string).unwrap_or(d)
}

/// A period in words: `30 seconds`, `1 minute`, `5 minutes`, `1 hour`, `6 hours`.
pub fn duration(secs: u32) -> String {
    let (n, unit) = if secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `Kind::listed` of both alarm kinds: the names DescribeAlarms lists by the stack's prefix
/// (one shared read, without the tags), those of composite alarms or of metric alarms. An
/// alarm's name is unique in its region: one this run created or deleted counts as owned.
pub async fn listed(
    c: &Clients,
    stack: &StackRef,
    desired: &[&Node],
    kind: &'static str,
    composite: bool,
) -> Result<Vec<Observed>, BoxError> {
    let names = c
        .shared
        .once("alarm-names", || async {
            let found = listing(c, stack).await?;
            Ok::<_, AwsError>(
                found
                    .into_iter()
                    .map(|(name, _, body)| (name, matches!(body, Body::Composite(_))))
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
    Ok(names
        .iter()
        .filter(|(_, c)| *c == composite)
        .map(|(name, _)| Observed {
            id: desired
                .iter()
                .find(|n| n.name == *name)
                .map_or_else(|| name.clone(), |n| n.id.clone()),
            kind,
            physical_id: name.clone(),
            name: name.clone(),
            attrs: Attrs::new(),
            outputs: Outputs::new(),
            owned: true,
        })
        .collect())
}

/// Discovery of one alarm kind from the shared read: the alarms whose body `attrs` accepts
/// (metric or composite), as observations of `kind`.
pub async fn discover(
    c: &Clients,
    stack: &StackRef,
    desired: &[&Node],
    kind: &'static str,
    attrs: impl Fn(&Body) -> Option<Attrs>,
) -> Result<Vec<Observed>, BoxError> {
    let found = alarms(c, stack).await?;
    Ok(found
        .iter()
        .filter_map(|a| {
            let mut attrs = attrs(&a.body)?;
            let (id, owned) = a.claim(stack, desired)?;
            let own = ownership(stack, a.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            attrs.insert("tags".into(), own.tags);
            Some(Observed {
                id,
                kind,
                physical_id: a.name.clone(),
                name: a.name.clone(),
                attrs,
                outputs: Outputs::from([
                    ("name".into(), a.name.clone()),
                    ("arn".into(), a.arn.clone()),
                ]),
                owned,
            })
        })
        .collect())
}

/// `Kind::retag` of both alarm kinds (by the `arn` output): TagResource, UntagResource.
pub fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a std::collections::BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        let arn = cur.outputs.get("arn").unwrap_or(&cur.physical_id);
        if !set.is_empty() {
            c.cloudwatch
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(
                    set.iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .ctx(|| format!("tag alarm {}", cur.name))?;
        }
        if !remove.is_empty() {
            c.cloudwatch
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .ctx(|| format!("untag alarm {}", cur.name))?;
        }
        Ok(())
    })
}

/// DeleteAlarms of one alarm, metric or composite; a missing one is gone already.
pub async fn delete(c: &Clients, cur: &Observed) -> Result<(), BoxError> {
    let r = c
        .cloudwatch
        .delete_alarms()
        .alarm_names(&cur.physical_id)
        .send()
        .await
        .ctx(|| format!("delete alarm {}", cur.name));
    super::common::ignore_missing(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_canonical() {
        assert_eq!(canon(5.0), "5");
        assert_eq!(canon(0.0144), "0.0144");
        assert_eq!(canon(14.4 * (1.0 - 99.9 / 100.0)), "0.0144");
        assert_eq!(canon(6.0 * (100.0 - 99.9) / 100.0), "0.006");
        assert_eq!(canon(0.3), "0.3");
        assert_eq!(canon(-0.0), "0");
        assert_eq!(canon(80.5), "80.5");
        assert_eq!(canon(1e-7), "0.0000001");
        assert_eq!(canon(250.0 / 1000.0), "0.25");
    }

    #[test]
    fn rules_round_trip() {
        let rule = all_in_alarm(&["web-slo-availability-1h", "web-slo-availability-5m"]);
        assert_eq!(
            rule,
            r#"ALARM("web-slo-availability-1h") AND ALARM("web-slo-availability-5m")"#
        );
        assert_eq!(
            observed_rule(&rule),
            Value::set(["web-slo-availability-5m", "web-slo-availability-1h"])
        );
        // Anything else stays as it is, so it differs from what ballast wants.
        let or = r#"ALARM("a") OR ALARM("b")"#;
        assert_eq!(observed_rule(or), Value::str(or));
        let unsorted = r#"ALARM("b") AND ALARM("a")"#;
        assert_eq!(observed_rule(unsorted), Value::str(unsorted));
    }

    #[test]
    fn durations_read_like_words() {
        assert_eq!(duration(30), "30 seconds");
        assert_eq!(duration(60), "1 minute");
        assert_eq!(duration(300), "5 minutes");
        assert_eq!(duration(3600), "1 hour");
        assert_eq!(duration(21600), "6 hours");
        assert_eq!(duration(90), "90 seconds");
        assert_eq!(span(3600), "hour");
        assert_eq!(span(300), "5 minutes");
        assert_eq!(span(60), "minute");
    }

    fn found(name: &str, tags: &[(&str, &str)]) -> FoundAlarm {
        FoundAlarm {
            name: name.into(),
            arn: format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"),
            body: Body::Composite(Box::new(CompositeAlarm::builder().build())),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn alarms_are_claimed_by_tag_or_refused_by_name() {
        let stack = StackRef {
            name: "web".into(),
            region: "us-east-1".into(),
            tags: Default::default(),
        };
        let node = Node::new(
            "aws_cloudwatch_metric_alarm",
            "alarm.cpu_high",
            "web-cpu_high",
        );
        let desired = [&node];
        let ours = found(
            "web-cpu_high",
            &[
                ("ballast:stack", "web"),
                ("ballast:resource", "alarm.cpu_high"),
            ],
        );
        assert_eq!(
            ours.claim(&stack, &desired),
            Some(("alarm.cpu_high".into(), true))
        );
        // Owned but no longer desired: still ours (to delete).
        assert_eq!(
            ours.claim(&stack, &[]),
            Some(("alarm.cpu_high".into(), true))
        );
        // Stack `web-api`'s alarms share the `web-` prefix.
        let theirs = found(
            "web-api-cpu_high",
            &[
                ("ballast:stack", "web-api"),
                ("ballast:resource", "alarm.cpu_high"),
            ],
        );
        assert_eq!(theirs.claim(&stack, &desired), None);
        // Someone else's alarm with our name is a conflict, and only while we want the name.
        let lookalike = found("web-cpu_high", &[]);
        assert_eq!(
            lookalike.claim(&stack, &desired),
            Some(("alarm.cpu_high".into(), false))
        );
        assert_eq!(lookalike.claim(&stack, &[]), None);
    }
}
