//! `ballast maintenance on|off FILE`: switch the main listener of the stack's load balancer to a
//! fixed 503 response with the maintenance page, and back to forwarding to the target group.
//!
//! `on` tags the listener `ballast:maintenance` = the target group it forwarded to, then changes
//! its default action (so a crash in between leaves a tag `off` clears); `off` forwards to that
//! target group again (the stack's target group by name without the tag), then removes the tag.
//! Both are idempotent and write nothing when there is nothing to do. Only a load balancer that
//! carries the stack's ownership tag is touched. `plan` and `deploy` leave a stack in
//! maintenance alone (`src/resources/listener.rs`).

use std::path::Path;

use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, Listener, Tag};

use crate::aws::{AwsError, Clients, Ctx};
use crate::cli::{Global, MaintenanceMode};
use crate::engine::StackRef;
use crate::error::Error;
use crate::resources::elb::tags_of;
use crate::resources::listener::{
    forward_action, forward_target, maintenance_action, MAINTENANCE_CONTENT_TYPE,
    MAINTENANCE_STATUS,
};
use crate::spec::names::{TAG_MAINTENANCE, TAG_STACK};
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

pub async fn run(
    mode: MaintenanceMode,
    file: &Path,
    page: Option<&Path>,
    yes: bool,
    lock: super::lock::Options,
    g: &Global,
) -> Result<i32, Error> {
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
        )?,
        MaintenanceMode::Off => super::confirm(
            yes,
            "end maintenance",
            &format!(
                "End maintenance of stack \"{}\" in {where_}? Its load balancer will forward to the service again.",
                model.name
            ),
        )?,
    }
    let s = super::acting(g, super::stack_ref(&model), &regions, &model.accounts).await?;
    let gate = Gate {
        s: &s,
        command: match mode {
            MaintenanceMode::On => "maintenance on",
            MaintenanceMode::Off => "maintenance off",
        },
        lock,
        held: tokio::sync::Mutex::new(Vec::new()),
    };
    let res = switch(&s, &gate, &regions, body.as_deref(), &model).await;
    for (_, h) in gate.held.into_inner() {
        h.release().await;
    }
    res
}

/// The session, whose identity must be known before the first write, and the stack's lock in
/// each region, taken at the region's first write (a switch with nothing to do writes nothing,
/// not even a lock). The reads before it are not repeated: both switches set a state (tag,
/// default action) rather than change one.
struct Gate<'a> {
    s: &'a super::Session,
    command: &'static str,
    lock: super::lock::Options,
    held: tokio::sync::Mutex<Vec<(String, super::lock::Held)>>,
}

impl Gate<'_> {
    async fn identity(&self) -> Result<(), Error> {
        self.s.identity().await.map(|_| ())
    }

    /// Before the first write in `region`: the identity, then the lock there.
    async fn before_write(&self, region: &str) -> Result<(), Error> {
        self.s.identity().await?;
        let mut held = self.held.lock().await;
        if !held.iter().any(|(r, _)| r == region) {
            let h = self
                .s
                .lock(Some(&[region.to_string()]), self.command, self.lock)
                .await?;
            held.push((region.to_string(), h));
        }
        Ok(())
    }
}

async fn switch(
    s: &super::Session,
    gate: &Gate<'_>,
    regions: &[String],
    body: Option<&str>,
    model: &Model,
) -> Result<i32, Error> {
    let port = model.load_balancer.port as i32;
    let results = super::lock::interruptible(futures::future::join_all(regions.iter().map(|r| {
        let c = &s.regional[r];
        let mut stack = s.stack.clone();
        stack.region = r.clone();
        async move {
            match body {
                Some(page) => on(c, &stack, port, page, gate).await,
                None => off(c, &stack, port, gate).await,
            }
        }
    })))
    .await
    .ok_or(Error::Interrupted)?;
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

/// The stack's main listener in one region and what it carries.
struct Main {
    lb_name: String,
    listener: Listener,
    arn: String,
    /// The `ballast:maintenance` tag: where maintenance returns to.
    tag: Option<String>,
}

impl Main {
    fn label(&self) -> String {
        format!(
            "listener {}:{}",
            self.lb_name,
            self.listener.port().unwrap_or_default()
        )
    }
}

/// The load balancer by the stack's name (refused unless it carries the stack's ownership tag)
/// and its listener on the stack's port that is not a redirect.
async fn main_listener(c: &Clients, stack: &StackRef, port: i32) -> Result<Main, Error> {
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
        return Err(Error::Refused(format!(
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
        return Err(Error::Refused(format!(
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
        return Err(Error::Refused(format!(
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
    Ok(Main {
        lb_name,
        listener,
        arn,
        tag,
    })
}

/// The stack's target group by name, if it carries the stack's tag.
async fn stack_target_group(c: &Clients, stack: &StackRef) -> Result<Option<String>, AwsError> {
    let name = Names::new(&stack.name, &stack.region).target_group();
    let r = c
        .elbv2
        .describe_target_groups()
        .names(&name)
        .send()
        .await
        .ctx(|| format!("describe target group {name}"));
    let arn = match r {
        Err(e) if e.is_not_found() => None,
        r => r?
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .map(str::to_string),
    };
    let Some(arn) = arn else { return Ok(None) };
    let tags = tags_of(c, std::slice::from_ref(&arn))
        .await?
        .remove(&arn)
        .unwrap_or_default();
    Ok(tags
        .iter()
        .any(|(k, v)| k == TAG_STACK && *v == stack.name)
        .then_some(arn))
}

/// The name in a target group ARN (`...:targetgroup/<name>/<id>`).
fn tg_name(arn: &str) -> &str {
    arn.split('/').nth(1).unwrap_or(arn)
}

/// `gate`: the session, whose identity must be known before the first write.
async fn on(
    c: &Clients,
    stack: &StackRef,
    port: i32,
    page: &str,
    gate: &Gate<'_>,
) -> Result<String, Error> {
    let m = main_listener(c, stack, port).await?;
    let action = m.listener.default_actions().first();
    let serving = action
        .filter(|a| a.r#type() == Some(&ActionTypeEnum::FixedResponse))
        .and_then(|a| a.fixed_response_config());
    let target = match (&m.tag, action.and_then(forward_target)) {
        (Some(t), _) => t.clone(),
        (None, Some(t)) => t.to_string(),
        (None, None) => stack_target_group(c, stack).await?.ok_or_else(|| {
            Error::Refused(format!(
                "{} forwards to no target group and the stack's target group {} is not there: cannot tell where maintenance would return to",
                m.label(),
                Names::new(&stack.name, &stack.region).target_group()
            ))
        })?,
    };
    let same = serving.is_some_and(|f| {
        f.status_code() == Some(MAINTENANCE_STATUS)
            && f.content_type() == Some(MAINTENANCE_CONTENT_TYPE)
            && f.message_body() == Some(page)
    });
    let retag = m.tag.as_deref() != Some(target.as_str());
    if retag || !same {
        gate.before_write(&stack.region).await?;
    } else {
        gate.identity().await?;
    }
    // Tag first: a crash before the switch leaves a tag that `off` clears.
    if retag {
        c.elbv2
            .add_tags()
            .resource_arns(&m.arn)
            .tags(Tag::builder().key(TAG_MAINTENANCE).value(&target).build())
            .send()
            .await
            .ctx(|| format!("tag {}", m.label()))?;
    }
    if same {
        return Ok(format!(
            "already in maintenance with this page: {} answers {MAINTENANCE_STATUS}",
            m.label()
        ));
    }
    c.elbv2
        .modify_listener()
        .listener_arn(&m.arn)
        .default_actions(maintenance_action(page))
        .send()
        .await
        .ctx(|| format!("switch {} to the maintenance page", m.label()))?;
    Ok(if serving.is_some() {
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
            tg_name(&target)
        )
    })
}

async fn off(c: &Clients, stack: &StackRef, port: i32, gate: &Gate<'_>) -> Result<String, Error> {
    let m = main_listener(c, stack, port).await?;
    let forwarding = m
        .listener
        .default_actions()
        .first()
        .is_some_and(|a| a.r#type() == Some(&ActionTypeEnum::Forward));
    if !forwarding || m.tag.is_some() {
        gate.before_write(&stack.region).await?;
    } else {
        gate.identity().await?;
    }
    let mut done = None;
    if !forwarding {
        let target = match &m.tag {
            Some(t) => t.clone(),
            None => stack_target_group(c, stack).await?.ok_or_else(|| {
                Error::Refused(format!(
                    "{} is not forwarding, carries no {TAG_MAINTENANCE} tag, and the stack's target group {} is not there: run `ballast deploy` to restore it",
                    m.label(),
                    Names::new(&stack.name, &stack.region).target_group()
                ))
            })?,
        };
        c.elbv2
            .modify_listener()
            .listener_arn(&m.arn)
            .default_actions(forward_action(&target))
            .send()
            .await
            .ctx(|| format!("switch {} back to forwarding", m.label()))?;
        done = Some(format!(
            "maintenance over: {} forwards to {} again",
            m.label(),
            tg_name(&target)
        ));
    }
    // Untag last: a crash before this leaves a tag the next `off` clears.
    if m.tag.is_some() {
        c.elbv2
            .remove_tags()
            .resource_arns(&m.arn)
            .tag_keys(TAG_MAINTENANCE)
            .send()
            .await
            .ctx(|| format!("untag {}", m.label()))?;
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
            tg_name("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef"),
            "web-tg"
        );
    }
}
