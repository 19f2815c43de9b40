//! What Route 53 says about a stack with `dns:`: each region's health check as Route 53's
//! checkers see it (GetHealthCheckStatus) and what the name answers now (TestDNSAnswer), told
//! apart as a region's load balancer or the fallback page. Read by `ballast status` and
//! `ballast drill`.

use aws_sdk_route53::types::RrType;
use serde::Serialize;

use crate::aws::{AwsError, Clients, Ctx};
use crate::resources::fallback;
use crate::resources::route53::norm_name;

/// A health check as Route 53's checkers see it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CheckHealth {
    pub id: String,
    /// Whether the check is `Inverted` (a drill running, or one interrupted).
    pub inverted: bool,
    /// Most observations report `Success` (after `Inverted`).
    pub healthy: bool,
    /// Observations that report `Success`, of `observations`.
    pub healthy_observations: usize,
    pub observations: usize,
    /// The status text of the latest observation, e.g. `Success: HTTP Status Code 200, OK`.
    pub last_status: String,
}

/// GetHealthCheckStatus of check `id`: one call.
pub async fn check_health(c: &Clients, id: &str, inverted: bool) -> Result<CheckHealth, AwsError> {
    let r = c
        .route53
        .get_health_check_status()
        .health_check_id(id)
        .send()
        .await
        .ctx(|| format!("get the status of health check {id}"))?;
    let obs = r.health_check_observations();
    let status = |o: &aws_sdk_route53::types::HealthCheckObservation| {
        o.status_report()
            .and_then(|s| s.status())
            .unwrap_or_default()
            .to_string()
    };
    let healthy_observations = obs
        .iter()
        .filter(|o| status(o).starts_with("Success"))
        .count();
    let last_status = obs
        .iter()
        .max_by_key(|o| {
            o.status_report()
                .and_then(|s| s.checked_time())
                .map(|t| (t.secs(), t.subsec_nanos()))
        })
        .map(status)
        .unwrap_or_default();
    Ok(CheckHealth {
        id: id.to_string(),
        inverted,
        healthy: healthy_observations * 2 > obs.len(),
        healthy_observations,
        observations: obs.len(),
        last_status,
    })
}

/// What Route 53 answers for a name's A record now.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Answer {
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`...
    pub response_code: String,
    /// The record data: IP addresses on AWS (the emulator answers an alias target's DNS name).
    pub values: Vec<String>,
}

impl Answer {
    /// The values on one line, or the response code when there are none.
    pub fn text(&self) -> String {
        if self.values.is_empty() {
            format!("no data ({})", self.response_code)
        } else {
            self.values.join(", ")
        }
    }
}

/// TestDNSAnswer for `name`, type A, in the zone `zone_id`: one call.
pub async fn answer(c: &Clients, zone_id: &str, name: &str) -> Result<Answer, AwsError> {
    let r = c
        .route53
        .test_dns_answer()
        .hosted_zone_id(zone_id)
        .record_name(name)
        .record_type(RrType::A)
        .send()
        .await
        .ctx(|| format!("test the DNS answer for {name}"))?;
    Ok(Answer {
        response_code: r.response_code().to_string(),
        values: r.record_data().iter().map(|v| norm_name(v)).collect(),
    })
}

/// What an answer can be: the stack's load balancers and its fallback page.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// (region, load balancer DNS name), lowercase without the trailing dot.
    pub regions: Vec<(String, String)>,
    /// The S3 website endpoint the fallback record aliases, if the stack has a fallback page.
    pub fallback: Option<String>,
}

/// `fallback` for the fallback page in [`Targets::identify`].
pub const FALLBACK: &str = "fallback";

impl Targets {
    pub fn new(
        regions: impl IntoIterator<Item = (String, String)>,
        fallback_region: Option<&str>,
    ) -> Self {
        Targets {
            regions: regions
                .into_iter()
                .filter(|(_, d)| !d.is_empty())
                .map(|(r, d)| (r, norm_name(&d)))
                .collect(),
            fallback: fallback_region
                .and_then(fallback::website_endpoint)
                .map(|(e, _)| e.to_string()),
        }
    }

    /// The region whose load balancer the answer names, or [`FALLBACK`]. Route 53 answers an
    /// alias with the target's addresses, so when the answer holds IP addresses they are
    /// compared with what the targets' names resolve to here (best effort: `None` when they
    /// cannot be resolved).
    pub async fn identify(&self, a: &Answer) -> Option<String> {
        if a.values.is_empty() {
            return None;
        }
        let named = |v: &str| -> Option<String> {
            if let Some((r, _)) = self.regions.iter().find(|(_, d)| d == v) {
                return Some(r.clone());
            }
            (self.fallback.as_deref() == Some(v)).then(|| FALLBACK.to_string())
        };
        if let Some(t) = a.values.iter().find_map(|v| named(v)) {
            return Some(t);
        }
        let ips: Vec<std::net::IpAddr> = a.values.iter().filter_map(|v| v.parse().ok()).collect();
        if ips.is_empty() {
            return None;
        }
        let candidates = self
            .regions
            .iter()
            .map(|(r, d)| (r.clone(), d.clone()))
            .chain(
                self.fallback
                    .iter()
                    .map(|e| (FALLBACK.to_string(), e.clone())),
            );
        for (what, host) in candidates {
            let lookup = tokio::task::spawn_blocking(move || {
                use std::net::ToSocketAddrs;
                (host.as_str(), 80).to_socket_addrs()
            });
            let Ok(Ok(Ok(addrs))) =
                tokio::time::timeout(std::time::Duration::from_secs(2), lookup).await
            else {
                continue;
            };
            let addrs: Vec<std::net::IpAddr> = addrs.map(|a| a.ip()).collect();
            if ips.iter().any(|ip| addrs.contains(ip)) {
                return Some(what);
            }
        }
        None
    }
}

/// The DNS name of the stack's load balancer in a region (`""` when there is none): one call.
pub async fn alb_dns_name(c: &Clients, alb: &str) -> Result<String, AwsError> {
    match c
        .elbv2
        .describe_load_balancers()
        .names(alb)
        .send()
        .await
        .ctx(|| format!("describe load balancer {alb}"))
    {
        Err(e) if e.is_not_found() => Ok(String::new()),
        r => Ok(r?
            .load_balancers()
            .first()
            .and_then(|l| l.dns_name())
            .map(norm_name)
            .unwrap_or_default()),
    }
}

/// `ballast status`'s Route 53 part: each region's health check and, once, the answer.
#[derive(Debug, Default)]
pub struct DnsRead {
    /// (region, check) for every health check of the stack.
    pub checks: Vec<(String, CheckHealth)>,
    /// `None` when the stack has no health check and no record was named.
    pub answer: Option<NameAnswer>,
}

/// What Route 53 answers for the stack's name now.
#[derive(Clone, Debug, Serialize)]
pub struct NameAnswer {
    pub name: String,
    pub zone: String,
    pub response_code: String,
    pub values: Vec<String>,
    /// The region whose load balancer the answer is, `fallback` for the fallback page, `None`
    /// when it is neither (or not known).
    pub target: Option<String>,
}

/// The stack's health checks (found by caller reference and tags) and their status, and the
/// answer for `record` (zone, name), else for the zone and name the checks' tags name. Reads
/// concurrently: ListHealthChecks (+ tags), one GetHealthCheckStatus per check, and the zone
/// lookup (by name) and TestDNSAnswer. The answer's `target` is filled in by the caller.
pub async fn read(
    c: &Clients,
    stack: &crate::engine::StackRef,
    record: Option<(&str, &str)>,
) -> Result<DnsRead, AwsError> {
    use crate::resources::route53::{self, TAG_DNS, TAG_REGION, TAG_ZONE};
    let checks = async {
        let found = route53::checks(c, stack).await?;
        let health = futures::future::try_join_all(found.iter().map(|f| async move {
            let inverted = f
                .check
                .health_check_config()
                .and_then(|h| h.inverted())
                .unwrap_or(false);
            let h = check_health(c, f.id(), inverted).await?;
            Ok::<_, AwsError>((f.tag(TAG_REGION).unwrap_or_default().to_string(), h))
        }))
        .await?;
        Ok::<_, AwsError>((found, health))
    };
    let answer_of = |zone: String, name: String| async move {
        let zone_id = route53::zone_id(c, &zone).await?;
        let a = answer(c, &zone_id, &name).await?;
        Ok::<_, AwsError>(NameAnswer {
            name,
            zone,
            response_code: a.response_code,
            values: a.values,
            target: None,
        })
    };
    let (mut health, answer) = match record {
        Some((zone, name)) => {
            let (checks, answer) =
                futures::future::join(checks, answer_of(zone.to_string(), name.to_string())).await;
            (checks?.1, Some(answer?))
        }
        None => {
            let (found, health) = checks.await?;
            let named = found
                .iter()
                .find_map(|f| Some((f.tag(TAG_ZONE)?.to_string(), f.tag(TAG_DNS)?.to_string())));
            let answer = match named {
                Some((zone, name)) => Some(answer_of(zone, name).await?),
                None => None,
            };
            (health, answer)
        }
    };
    health.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(DnsRead {
        checks: health,
        answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(values: &[&str]) -> Answer {
        Answer {
            response_code: "NOERROR".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn identifies_load_balancers_and_the_fallback_page() {
        let t = Targets::new(
            [
                (
                    "us-east-1".to_string(),
                    "Shop-ALB-1.us-east-1.elb.amazonaws.com.".to_string(),
                ),
                (
                    "us-west-2".to_string(),
                    "shop-alb-1.us-west-2.elb.amazonaws.com".to_string(),
                ),
            ],
            Some("us-west-2"),
        );
        let id = |v: &[&str]| {
            let t = t.clone();
            let a = answer(v);
            async move { t.identify(&a).await }
        };
        assert_eq!(
            id(&["shop-alb-1.us-east-1.elb.amazonaws.com"])
                .await
                .as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            id(&["shop-alb-1.us-west-2.elb.amazonaws.com"])
                .await
                .as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            id(&["s3-website-us-west-2.amazonaws.com"]).await.as_deref(),
            Some(FALLBACK)
        );
        assert_eq!(id(&[]).await, None);
        assert_eq!(id(&["elsewhere.example.com"]).await, None);
    }
}
