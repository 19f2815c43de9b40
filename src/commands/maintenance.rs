//! `ballast maintenance on|off FILE`: switch the main listener of the stack's load balancer to a
//! fixed 503 response with the maintenance page, and back to forwarding to the target group.
//!
//! `on` tags the listener `ballast:maintenance` = the target group it forwarded to, then changes
//! its default action (so a crash in between leaves a tag `off` clears); `off` forwards to that
//! target group again (the stack's target group by name without the tag), then removes the tag.
//! With named services (`services:`) the services' listener rules would go on forwarding, so
//! `on` puts one rule first on the main listener instead (priority 1, every path, 503 with the
//! page) and `off` deletes it.
//! Both are idempotent and write nothing when there is nothing to do. Only a load balancer that
//! carries the stack's ownership tag is touched. `plan` and `deploy` leave a stack in
//! maintenance alone (`src/resources/listener.rs`).

use std::path::Path;

use crate::aws::Clients;
use crate::cli::{Global, MaintenanceArgs, MaintenanceMode};
use crate::engine::StackRef;
use crate::error::Error;
use crate::resources::listener::{main_listener, MainListener, NoMainListener, MAINTENANCE_STATUS};
use crate::resources::listener_rule::{
    delete_maintenance_rule, maintenance_rule, put_maintenance_rule, MAINTENANCE_PRIORITY,
};
use crate::resources::target_group::{name_in_arn, owned_by_name};
use crate::spec::names::TAG_MAINTENANCE;
use crate::spec::{Model, Names, MAX_FALLBACK_PAGE};

/// The page served when neither `--page` nor `dns.fallback.page` gives one.
pub const BUILTIN_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Down for maintenance</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#333}</style>
</head>
<body><h1>Down for maintenance</h1>
<p>We are doing some planned work and will be back soon. Thank you for your patience.</p>
</body>
</html>
"#;

pub async fn run(a: &MaintenanceArgs, g: &Global) -> Result<i32, Error> {
    let (mode, file, page, yes) = (a.mode, a.file.as_path(), a.page.as_deref(), a.yes);
    let model = super::load(file, g)?;
    let body = match mode {
        MaintenanceMode::On => Some(page_body(page, &model)?),
        MaintenanceMode::Off if page.is_some() => {
            return Err(Error::Usage(
                "--page goes with `maintenance on`: `off` forwards to the target group again"
                    .into(),
            ))
        }
        MaintenanceMode::Off => None,
    };
    // `--region` limits it to one region (spec loading checked it is one of the stack's).
    let regions: Vec<String> = match &g.region {
        Some(r) => vec![r.clone()],
        None => model.regions.clone(),
    };
    let where_ = regions.join(" and ");
    match mode {
        MaintenanceMode::On => super::confirm(
            yes,
            "put the stack in maintenance",
            &format!(
                "Put stack \"{}\" in maintenance in {where_}? Its load balancer will answer every request with 503 and the maintenance page.",
                model.name
            ),
        )
        .await?,
        MaintenanceMode::Off => super::confirm(
            yes,
            "end maintenance",
            &format!(
                "End maintenance of stack \"{}\" in {where_}? Its load balancer will forward to the service again.",
                model.name
            ),
        )
        .await?,
    }
    let mut s = super::acting(g, super::stack_ref(&model), &regions, &model.accounts).await?;
    let command = match mode {
        MaintenanceMode::On => "maintenance on",
        MaintenanceMode::Off => "maintenance off",
    };
    // Each region's lock is taken at its first write (a switch with nothing to do writes
    // nothing, not even a lock). The reads before it are not repeated: both switches set a
    // state (tag, default action) rather than change one.
    s.with_lock(
        super::Locks::AtFirstWrite,
        command,
        (&a.lock).into(),
        async |s| switch(s, &regions, body.as_deref(), &model).await,
    )
    .await
}

async fn switch(
    s: &super::Session,
    regions: &[String],
    body: Option<&str>,
    model: &Model,
) -> Result<i32, Error> {
    let port = model.load_balancer.port as i32;
    let named = model.named_services;
    let results = futures::future::join_all(regions.iter().map(|r| {
        let c = &s.regional[r];
        let mut stack = s.stack.clone();
        stack.region = r.clone();
        async move {
            match (body, named) {
                (Some(page), false) => on(c, &stack, port, page, s).await,
                (None, false) => off(c, &stack, port, s).await,
                (Some(page), true) => rule_on(c, &stack, port, page, s).await,
                (None, true) => rule_off(c, &stack, port, s).await,
            }
        }
    }))
    .await;
    // The account line before the results (a region that wrote nothing did not wait for it).
    s.identity().await?;
    let mut first_err = None;
    for (r, res) in regions.iter().zip(results) {
        match res {
            Ok(done) => super::eprint(&format!("{} {r}: {done}\n", s.style.green("✓"))),
            Err(e) => {
                super::eprint(&format!(
                    "{} {r}: {}\n",
                    s.style.red("✗"),
                    crate::error::chain(&e)
                ));
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// The page to serve: `--page`, else `dns.fallback.page`, else the built-in one.
fn page_body(page: Option<&Path>, model: &Model) -> Result<String, Error> {
    let Some(p) = page else {
        return Ok(model
            .dns
            .as_ref()
            .and_then(|d| d.fallback.as_ref())
            .map(|f| f.body.clone())
            .unwrap_or_else(|| BUILTIN_PAGE.to_string()));
    };
    let bytes = std::fs::read(p).map_err(|source| Error::ReadFile {
        path: p.display().to_string(),
        source,
    })?;
    check_page(&p.display().to_string(), bytes)
}

/// A page the load balancer can serve: non-empty UTF-8 of at most 1024 bytes.
pub fn check_page(name: &str, bytes: Vec<u8>) -> Result<String, Error> {
    if bytes.len() > MAX_FALLBACK_PAGE {
        return Err(Error::Usage(format!(
            "the page {name} is {} bytes: a load balancer's fixed response holds at most {MAX_FALLBACK_PAGE} bytes (make it smaller, e.g. inline no images or scripts)",
            bytes.len()
        )));
    }
    if bytes.is_empty() {
        return Err(Error::Usage(format!("the page {name} is empty")));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::Usage(format!(
            "the page {name} is not UTF-8 (invalid byte at offset {}): a load balancer's fixed response is text",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// The main listener, or why there is none to switch.
async fn find(c: &Clients, stack: &StackRef, port: i32) -> Result<MainListener, Error> {
    main_listener(c, stack, port).await.map_err(|e| match e {
        NoMainListener::Aws(e) => Error::Aws(e),
        NoMainListener::Refused(why) => Error::Refused(why),
    })
}

/// Before the first write in a region: the identity, then the lock there; else the identity
/// alone (the account line before the results).
async fn before(s: &super::Session, region: &str, writes: bool) -> Result<(), Error> {
    if writes {
        s.lock_region(region).await
    } else {
        s.identity().await.map(|_| ())
    }
}

async fn on(
    c: &Clients,
    stack: &StackRef,
    port: i32,
    page: &str,
    s: &super::Session,
) -> Result<String, Error> {
    let m = find(c, stack, port).await?;
    let target = match (&m.tag, &m.forwards_to) {
        (Some(t), _) => t.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => owned_by_name(c, stack).await?.ok_or_else(|| {
            Error::Refused(format!(
                "{} forwards to no target group and the stack's target group {} is not there: cannot tell where maintenance would return to",
                m.label(),
                Names::new(&stack.name, &stack.region).target_group()
            ))
        })?,
    };
    let same = m.serves(page);
    let retag = m.tag.as_deref() != Some(target.as_str());
    before(s, &stack.region, retag || !same).await?;
    // Tag first: a crash before the switch leaves a tag that `off` clears.
    if retag {
        m.tag_maintenance(c, &target).await?;
    }
    if same {
        return Ok(format!(
            "already in maintenance with this page: {} answers {MAINTENANCE_STATUS}",
            m.label()
        ));
    }
    m.switch_to_page(c, page).await?;
    Ok(if m.fixed.is_some() {
        format!(
            "maintenance page updated: {} answers {MAINTENANCE_STATUS} with the new page ({} bytes)",
            m.label(),
            page.len()
        )
    } else {
        format!(
            "in maintenance: {} answers {MAINTENANCE_STATUS} with the maintenance page ({} bytes) instead of forwarding to {}",
            m.label(),
            page.len(),
            name_in_arn(&target)
        )
    })
}

async fn off(
    c: &Clients,
    stack: &StackRef,
    port: i32,
    s: &super::Session,
) -> Result<String, Error> {
    let m = find(c, stack, port).await?;
    before(s, &stack.region, !m.forwarding || m.tag.is_some()).await?;
    let mut done = None;
    if !m.forwarding {
        let target = match &m.tag {
            Some(t) => t.clone(),
            None => owned_by_name(c, stack).await?.ok_or_else(|| {
                Error::Refused(format!(
                    "{} is not forwarding, carries no {TAG_MAINTENANCE} tag, and the stack's target group {} is not there: run `ballast deploy` to restore it",
                    m.label(),
                    Names::new(&stack.name, &stack.region).target_group()
                ))
            })?,
        };
        m.switch_to_forward(c, &target).await?;
        done = Some(format!(
            "maintenance over: {} forwards to {} again",
            m.label(),
            name_in_arn(&target)
        ));
    }
    // Untag last: a crash before this leaves a tag the next `off` clears.
    if m.tag.is_some() {
        m.untag_maintenance(c).await?;
    }
    Ok(done.unwrap_or_else(|| {
        if m.tag.is_some() {
            format!(
                "not in maintenance ({} forwards); removed its leftover {TAG_MAINTENANCE} tag",
                m.label()
            )
        } else {
            format!("not in maintenance: {} forwards, nothing to do", m.label())
        }
    }))
}

/// With named services: the maintenance rule, first on the main listener, answers every
/// request (no service's rule forwards while it is there); the default action and the
/// services' rules are left as they are.
async fn rule_on(
    c: &Clients,
    stack: &StackRef,
    port: i32,
    page: &str,
    s: &super::Session,
) -> Result<String, Error> {
    let m = find(c, stack, port).await?;
    let rule = maintenance_rule(c, &stack.name, &m.arn)
        .await?
        .map_err(Error::Refused)?;
    if rule.as_ref().and_then(|r| r.page.as_deref()) == Some(page) {
        before(s, &stack.region, false).await?;
        return Ok(format!(
            "already in maintenance with this page: {} answers {MAINTENANCE_STATUS} before every service's rule",
            m.label()
        ));
    }
    before(s, &stack.region, true).await?;
    put_maintenance_rule(c, stack, &m.arn, rule.as_ref(), page).await?;
    Ok(if rule.is_some() {
        format!(
            "maintenance page updated: {} answers {MAINTENANCE_STATUS} with the new page ({} bytes)",
            m.label(),
            page.len()
        )
    } else {
        format!(
            "in maintenance: {} answers {MAINTENANCE_STATUS} with the maintenance page ({} bytes) before every service's rule (rule {MAINTENANCE_PRIORITY})",
            m.label(),
            page.len()
        )
    })
}

async fn rule_off(
    c: &Clients,
    stack: &StackRef,
    port: i32,
    s: &super::Session,
) -> Result<String, Error> {
    let m = find(c, stack, port).await?;
    let rule = maintenance_rule(c, &stack.name, &m.arn)
        .await?
        .map_err(Error::Refused)?;
    before(s, &stack.region, rule.is_some()).await?;
    Ok(match rule {
        Some(r) => {
            delete_maintenance_rule(c, &r).await?;
            format!(
                "maintenance over: {} routes to the services again",
                m.label()
            )
        }
        None => format!(
            "not in maintenance: {} routes to the services, nothing to do",
            m.label()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_page_fits_a_fixed_response() {
        assert!(
            BUILTIN_PAGE.len() <= MAX_FALLBACK_PAGE,
            "{}",
            BUILTIN_PAGE.len()
        );
        assert!(check_page("builtin", BUILTIN_PAGE.as_bytes().to_vec()).is_ok());
    }

    #[test]
    fn pages_over_1024_bytes_empty_or_not_utf8_are_refused() {
        assert!(check_page("p", vec![b'a'; 1024]).is_ok());
        let e = check_page("p", vec![b'a'; 1025]).unwrap_err().to_string();
        assert!(
            e.contains("1025 bytes") && e.contains("at most 1024"),
            "{e}"
        );
        let e = check_page("p", vec![]).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = check_page("p", vec![b'<', 0xff, b'>'])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not UTF-8") && e.contains("offset 1"), "{e}");
    }

    #[test]
    fn target_group_names_from_arns() {
        assert_eq!(
            name_in_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef"),
            "web-tg"
        );
    }
}
