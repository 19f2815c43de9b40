use std::path::Path;

use crate::cli::{Global, Output, StatusArgs};
use crate::error::Error;
use crate::inspect::{dns, status};
use crate::render;
use crate::resources::route53;
use crate::spec::Names;

pub async fn run(a: &StatusArgs, g: &Global) -> Result<i32, Error> {
    let (file, stack, output): (Option<&Path>, Option<&str>, _) =
        (a.file.as_deref(), a.stack.as_deref(), a.output);
    let (stack, mut regions, model) = super::target_model(file, stack, g)?;
    let mut s = super::session(g, stack, &regions).await;
    // Route 53: with a spec only when it has `dns:`; by stack name, the stack's health checks
    // tell (their tags name the zone, the record and the regions, which are then read too).
    let record = model
        .as_ref()
        .and_then(|m| m.dns.as_ref())
        .map(|d| (d.zone.clone(), d.name.clone()));
    let with_dns = model.is_none() || record.is_some();
    if model.is_none() {
        let found = route53::checks(&s.clients, &s.stack).await?;
        for f in found.iter() {
            if let Some(r) = f.tag(route53::TAG_REGION) {
                if !regions.iter().any(|x| x == r) {
                    regions.push(r.to_string());
                }
            }
        }
        s.connect(&regions).await;
    }
    // The named services to read (`services:`), or none for the one-service form; by stack
    // name, the cluster's services tell.
    let named: Option<Vec<String>> = model.as_ref().map(|m| {
        if m.named_services {
            m.services.keys().cloned().collect()
        } else {
            Vec::new()
        }
    });
    let only = a.service.as_deref();
    if let (Some(one), Some(named)) = (only, &named) {
        if !named.iter().any(|n| n == one) {
            return Err(Error::Usage(if named.is_empty() {
                format!(
                    "--service {one}: the stack has one service (`service:`); leave --service out"
                )
            } else {
                format!(
                    "--service {one}: the stack has no such service; its services are {}",
                    named.join(", ")
                )
            }));
        }
    }
    // Every region at once, shown primary first, and Route 53 alongside.
    let reads = futures::future::join_all(regions.iter().map(|r| {
        let names = Names::new(&s.stack.name, r);
        let clients = &s.regional[r];
        let named = named.clone();
        async move {
            let mut services = match named {
                Some(n) => n,
                None => status::services_in_cluster(clients, &names).await?,
            };
            if let Some(one) = only {
                if !services.iter().any(|n| n == one) {
                    return Err(Error::Usage(format!(
                        "--service {one}: stack {} has no such service in {}{}",
                        names.stack,
                        names.region,
                        if services.is_empty() {
                            String::new()
                        } else {
                            format!(" (its services: {})", services.join(", "))
                        }
                    )));
                }
                services.retain(|n| n == one);
            }
            Ok::<_, Error>(status::read(clients, &names, &services).await?)
        }
    }));
    let dns_read = async {
        if !with_dns {
            return Ok(None);
        }
        let rec = record.as_ref().map(|(z, n)| (z.as_str(), n.as_str()));
        dns::read(&s.clients, &s.stack, rec).await.map(Some)
    };
    let (reads, dns_read) = futures::future::join(reads, dns_read).await;
    let mut all = Vec::new();
    for r in reads {
        all.push(r?);
    }
    if let Some(mut d) = dns_read? {
        if let Some(a) = &mut d.answer {
            let targets = dns::Targets::new(
                all.iter().filter_map(|st| {
                    Some((
                        st.region.clone(),
                        st.load_balancer.as_ref()?.dns_name.clone(),
                    ))
                }),
                crate::resources::fallback::region_of(&regions),
            );
            let answer = dns::Answer {
                response_code: a.response_code.clone(),
                values: a.values.clone(),
            };
            a.target = targets.identify(&answer).await;
        }
        for st in &mut all {
            st.health_check = d
                .checks
                .iter()
                .find(|(r, _)| *r == st.region)
                .map(|(_, h)| h.clone());
            st.dns = d.answer.clone();
        }
    }
    match output {
        Output::Human => {
            for st in &all {
                super::eprint(&render::status::render(st, s.style));
            }
            if let Some(a) = all.first().and_then(|st| st.dns.as_ref()) {
                super::eprint(&render::status::render_dns(a, s.style));
            }
        }
        Output::Json => {
            let v = match all.as_slice() {
                [one] => serde_json::to_value(one),
                _ => serde_json::to_value(&all),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&v.expect("status serializes"))
                    .expect("status serializes")
            );
        }
    }
    Ok(0)
}
