//! `ballast unlock STACK --region R LOCK_ID`: break a stack's lock in one region, only if it is
//! the lock named (so a lock taken since by another command is never broken by mistake).
//!
//! A holder that renewed the lock moments ago may have been killed right after making something
//! AWS's tag-filtered listings do not show yet; a deploy started at once would not find it and
//! make it again. So unlock first waits until those listings have caught up
//! ([`super::lock::listed_by`]), unless `--no-wait`; a renewal seen after the wait means the
//! holder is alive, and the lock is left.
//!
//! Exit 0 when the lock was removed, and also when there was none (the stack is unlocked, which
//! is what was asked; the message says so); 1 when another lock is there (left as is); 130 on
//! Ctrl-C while waiting (left as is).

use crate::aws::lock::{self, Found};
use crate::cli::{Global, UnlockArgs};
use crate::engine::StackRef;
use crate::error::Error;

pub async fn run(a: &UnlockArgs, g: &Global) -> Result<i32, Error> {
    let (stack, lock_id, no_wait) = (a.stack.as_str(), a.lock_id.as_str(), a.no_wait);
    let region = g
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .ok_or_else(|| {
            Error::Usage(format!(
                "unlock needs --region: the region of the lock (`ballast unlock {stack} --region R {lock_id}`)"
            ))
        })?;
    let target = StackRef {
        name: stack.to_string(),
        region: region.clone(),
        tags: Default::default(),
    };
    let s = super::acting(g, target, std::slice::from_ref(&region), &[]).await?;
    // The account line first: breaking a lock in the wrong account helps no one.
    s.identity().await?;
    let mut found = lock::read(&s.clients, stack).await?;
    if let Found::Held(h) = &found {
        let (now, until) = (lock::now(), super::lock::listed_by(h));
        if h.id == lock_id && !no_wait && until > now {
            super::eprint(&format!(
                "Waiting {} before removing lock {lock_id}: its holder ({}, `{}`) renewed it {} \
                 ago, so it may have made resources in its last moments that AWS does not list \
                 yet, and the next command would make them again. (Ctrl-C leaves the lock; \
                 --no-wait skips the wait.)\n",
                lock::span(until - now),
                h.who,
                h.command,
                lock::span(now.saturating_sub(h.renewed())),
            ));
            let wait = std::time::Duration::from_secs(until - now);
            if super::signal::interruptible(tokio::time::sleep(wait))
                .await
                .is_none()
            {
                return Err(Error::Interrupted);
            }
            let again = lock::read(&s.clients, stack).await?;
            if let Found::Held(now_) = &again {
                if now_.id == lock_id && now_.expires != h.expires {
                    return Err(Error::Locked(format!(
                        "not unlocked: lock {lock_id} was renewed while waiting, so its holder \
                         is alive: {}",
                        super::lock::describe(stack, &region, &again)
                    )));
                }
            }
            found = again;
        }
    }
    match lock::delete_seen(&s.clients, stack, lock_id, found).await? {
        Found::Held(h) if h.id == lock_id => {
            super::eprint(&format!(
                "{} unlocked stack \"{stack}\" in {region}: removed lock {lock_id} of {} ({}) \
                 running `{}`.\n",
                s.style.green("✓"),
                h.who,
                h.host,
                h.command
            ));
            Ok(0)
        }
        Found::Free => {
            super::eprint(&format!(
                "Nothing to unlock: stack \"{stack}\" is not locked in {region} ({} does not \
                 exist).\n",
                lock::parameter(stack)
            ));
            Ok(0)
        }
        other => Err(Error::Locked(format!(
            "not unlocked: the lock there is not {lock_id}: {}{}",
            super::lock::describe(stack, &region, &other),
            match &other {
                Found::Held(h) => format!(
                    "\n  if that one is stale too: ballast unlock {stack} --region {region} {}",
                    h.id
                ),
                _ => format!(
                    "\n  to remove it anyway: aws ssm delete-parameter --region {region} --name {}",
                    lock::parameter(stack)
                ),
            }
        ))),
    }
}
