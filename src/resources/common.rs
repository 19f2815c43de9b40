//! Helpers shared by resource kinds: ownership tags and attribute access.

use std::collections::BTreeMap;

use crate::aws::{ErrorKind, InUseRetry};
use crate::engine::{Attrs, BoxError, Node, StackRef, Value};
use crate::spec::names::{TAG_RESOURCE, TAG_STACK};

/// Tags every created resource carries: ownership, logical id, a Name, and the user's tags.
pub fn tags_for(stack: &StackRef, node: &Node, with_name: bool) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = stack
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    t.push((TAG_STACK.into(), stack.name.clone()));
    t.push((TAG_RESOURCE.into(), node.id.clone()));
    if with_name {
        t.push(("Name".into(), node.name.clone()));
    }
    t
}

/// What a resource's tags say about ownership.
pub struct Ownership {
    /// Tagged for this stack.
    pub owned: bool,
    /// Its logical id (`ballast:resource`), if any.
    pub id: Option<String>,
    pub name: Option<String>,
    /// The user's tags (the observed `tags` attribute of taggable kinds): every tag but
    /// ballast's own (`ballast:*`, `Name`) and AWS's (`aws:*`).
    pub tags: Value,
}

pub use crate::spec::names::is_user_tag;

pub fn ownership<'a>(
    stack: &StackRef,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Ownership {
    let map: BTreeMap<&str, &str> = tags.into_iter().collect();
    let user = map
        .iter()
        .filter(|(k, _)| is_user_tag(k))
        .map(|(k, v)| (k.to_string(), Value::str(*v)))
        .collect();
    Ownership {
        tags: Value::Map(user),
        owned: map.get(TAG_STACK) == Some(&stack.name.as_str()),
        id: map.get(TAG_RESOURCE).map(|s| s.to_string()),
        name: map.get("Name").map(|s| s.to_string()),
    }
}

/// The logical id of a resource a discovery found by name `name`: the stack's own by its
/// `ballast:resource` tag (`derived` from the name when it has none); one the stack does not own
/// only when a desired node has that name (the name is taken: the plan says so), and `None`
/// otherwise (a listing also shows other stacks' look-alikes: none of this stack's business).
pub fn found_id(
    own: &Ownership,
    desired: &[&Node],
    name: &str,
    derived: impl FnOnce() -> String,
) -> Option<String> {
    if own.owned {
        Some(own.id.clone().unwrap_or_else(derived))
    } else {
        desired
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.id.clone())
    }
}

pub fn s<'a>(attrs: &'a Attrs, key: &str) -> Result<&'a str, BoxError> {
    attrs
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("internal error: attribute {key} is not a string").into())
}

pub fn i(attrs: &Attrs, key: &str) -> Result<i32, BoxError> {
    attrs
        .get(key)
        .and_then(Value::as_int)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| format!("internal error: attribute {key} is not a number").into())
}

pub fn b(attrs: &Attrs, key: &str) -> bool {
    attrs.get(key).and_then(Value::as_bool).unwrap_or(false)
}

pub fn strs(attrs: &Attrs, key: &str) -> Vec<String> {
    attrs
        .get(key)
        .map(|v| {
            v.as_list()
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Retry an operation while it fails with [`ErrorKind::InUse`] (dependents still going away),
/// with growing pauses, for as long as the `policy` allows.
pub async fn retry_in_use<T, F, Fut>(
    policy: InUseRetry,
    mut f: F,
) -> Result<T, crate::aws::AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::aws::AwsError>>,
{
    let deadline = std::time::Instant::now() + policy.limit();
    let mut delay = policy.first_pause;
    loop {
        match f().await {
            Err(e)
                if e.kind() == ErrorKind::InUse && std::time::Instant::now() + delay < deadline =>
            {
                tracing::debug!("{e}; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(policy.max_pause);
            }
            other => return other,
        }
    }
}

/// A delete that found the resource already gone succeeded.
pub fn ignore_missing<T>(r: Result<T, crate::aws::AwsError>) -> Result<(), BoxError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Poll `done` with growing pauses (0.5 s up to 15 s) until it says yes, or fail after
/// `limit` with "<what> after N minutes".
pub async fn wait_until<F, Fut>(
    limit: std::time::Duration,
    what: String,
    mut done: F,
) -> Result<(), BoxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, crate::aws::AwsError>>,
{
    wait_for(limit, what, || {
        let f = done();
        async move { f.await.map(|yes| yes.then_some(())) }
    })
    .await
}

/// `wait_until` for a value: poll `found` until it gives one, and return it.
pub async fn wait_for<T, F, Fut>(
    limit: std::time::Duration,
    what: String,
    mut found: F,
) -> Result<T, BoxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, crate::aws::AwsError>>,
{
    let deadline = std::time::Instant::now() + limit;
    let mut pause = std::time::Duration::from_millis(500);
    loop {
        if let Some(v) = found().await? {
            return Ok(v);
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("{what} after {} minutes", limit.as_secs() / 60).into());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(15));
    }
}

/// An idempotency token for one create call (ECS CreateService, Cloud Map CreateHttpNamespace;
/// ECS takes up to 36 ASCII characters):
/// the time, the process and the name, so no other call shares it.
pub fn client_token(name: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.write(name.as_bytes());
    format!("ballast-{:016x}{:08x}", h.finish(), nanos as u32)
}
