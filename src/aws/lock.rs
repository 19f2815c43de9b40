//! The stack lock's SSM calls: one parameter `/ballast/locks/<stack>` per region, created with
//! `PutParameter(Overwrite=false)` (the conditional create: a second writer gets
//! `ParameterAlreadyExists`), renewed by overwriting it while its lock id is still ours, and
//! deleted when released. Its value is a [`Holder`] as JSON. What a command does with it (waiting,
//! renewing, messages) is in `src/commands/lock.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_ssm::types::ParameterType;
use serde::{Deserialize, Serialize};

use super::{AwsError, Clients, Ctx, ErrorKind};

/// How long a lock stays valid without renewal, unless `--lock-lease` says otherwise.
pub const DEFAULT_LEASE_SECS: u64 = 120;

/// The lock parameter of `stack` (in every region).
pub fn parameter(stack: &str) -> String {
    format!("/ballast/locks/{stack}")
}

/// Who holds a lock: the parameter's value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Unique per acquisition (`unlock` names it).
    pub id: String,
    /// The caller's ARN (STS GetCallerIdentity).
    pub who: String,
    /// `user@host` of the process.
    pub host: String,
    /// `deploy`, `destroy`, `maintenance on`, ...
    pub command: String,
    /// When it was taken, in seconds since the Unix epoch.
    pub acquired: u64,
    /// Until when the lease runs (the holder renews it while alive), seconds since the epoch.
    pub expires: u64,
    /// The lease's length in seconds: the holder renews it every third of that, so its last
    /// renewal was at `expires - lease`. 0 in a lock an older ballast wrote.
    #[serde(default)]
    pub lease: u64,
}

impl Holder {
    /// The lease in seconds: `lease`, or for a lock written before it was recorded the length
    /// every ballast used then (120 s).
    pub fn lease_secs(&self) -> u64 {
        if self.lease > 0 {
            self.lease
        } else {
            DEFAULT_LEASE_SECS
        }
    }

    /// When the holder last renewed the lock (or took it), seconds since the epoch.
    pub fn renewed(&self) -> u64 {
        self.expires.saturating_sub(self.lease_secs())
    }
}

/// What the lock parameter holds in a region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Free,
    Held(Holder),
    /// A parameter whose value is not a lock ballast wrote (hand-made, or another version).
    Unreadable(String),
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The parameter, read once (GetParameter).
pub async fn read(c: &Clients, stack: &str) -> Result<Found, AwsError> {
    let name = parameter(stack);
    let r = c
        .ssm
        .get_parameter()
        .name(&name)
        .send()
        .await
        .ctx(|| format!("read stack lock {name} in {}", c.region));
    match r {
        Ok(out) => {
            let value = out
                .parameter()
                .and_then(|p| p.value())
                .unwrap_or_default()
                .to_string();
            Ok(match serde_json::from_str::<Holder>(&value) {
                Ok(h) => Found::Held(h),
                Err(_) => Found::Unreadable(value),
            })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Found::Free),
        Err(e) => Err(e),
    }
}

/// Create the lock with `holder` unless it exists (PutParameter, Overwrite=false). `None`: it is
/// ours now; otherwise what holds it (read after the refused create).
pub async fn create(c: &Clients, stack: &str, holder: &Holder) -> Result<Option<Found>, AwsError> {
    let name = parameter(stack);
    let value = serde_json::to_string(holder).expect("a holder serializes");
    // A lock released between the refused create and the read: try again (a few times).
    for _ in 0..5 {
        let r = c
            .ssm
            .put_parameter()
            .name(&name)
            .value(&value)
            .r#type(ParameterType::String)
            .overwrite(false)
            .description(
                "ballast stack lock: who holds it and until when (`ballast unlock` breaks it)",
            )
            .send()
            .await
            .ctx(|| format!("take stack lock {name} in {}", c.region));
        match r {
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => match read(c, stack).await? {
                Found::Free => continue,
                other => return Ok(Some(other)),
            },
            Err(e) => return Err(e),
        }
    }
    Err(AwsError::new(
        format!("take stack lock {name} in {}", c.region),
        "it was taken and released five times while trying; try again",
    ))
}

/// Extend the lease to `holder.expires` if the lock is still `holder`'s (read, then overwrite).
/// `None` when renewed; otherwise what is there instead (`Free`: it is gone).
pub async fn renew(c: &Clients, stack: &str, holder: &Holder) -> Result<Option<Found>, AwsError> {
    let name = parameter(stack);
    match read(c, stack).await? {
        Found::Held(h) if h.id == holder.id => {}
        other => return Ok(Some(other)),
    }
    c.ssm
        .put_parameter()
        .name(&name)
        .value(serde_json::to_string(holder).expect("a holder serializes"))
        .r#type(ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .ctx(|| format!("renew stack lock {name} in {}", c.region))?;
    Ok(None)
}

/// Delete the lock if its id is `id` (read, then DeleteParameter). Returns what was there:
/// `Held` with our id when deleted, `Free` when there was none, else the other lock (left).
pub async fn delete_if(c: &Clients, stack: &str, id: &str) -> Result<Found, AwsError> {
    let found = read(c, stack).await?;
    delete_seen(c, stack, id, found).await
}

/// `delete_if` with the read made already: `found`, read a moment ago.
pub async fn delete_seen(
    c: &Clients,
    stack: &str,
    id: &str,
    found: Found,
) -> Result<Found, AwsError> {
    let name = parameter(stack);
    if matches!(&found, Found::Held(h) if h.id == id) {
        let r = c
            .ssm
            .delete_parameter()
            .name(&name)
            .send()
            .await
            .ctx(|| format!("release stack lock {name} in {}", c.region));
        match r {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Found::Free),
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// `2026-12-01T01:42:00Z` (UTC).
pub fn timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `12 s`, `3 min`, `2 h`.
pub fn span(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_spans() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_796_089_320), "2026-12-01T01:42:00Z");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(span(12), "12 s");
        assert_eq!(span(180), "3 min");
        assert_eq!(span(7200), "2 h");
    }

    #[test]
    fn the_holder_is_json() {
        let h = Holder {
            id: "x".into(),
            who: "arn:aws:iam::123456789012:user/alice".into(),
            host: "alice@laptop".into(),
            command: "deploy".into(),
            acquired: 1,
            expires: 181,
            lease: 60,
        };
        let v = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Holder>(&v).unwrap(), h);
        assert_eq!(h.renewed(), 121);
        // A lock from before the lease was recorded: the 120 s every ballast used.
        let old =
            r#"{"id":"x","who":"a","host":"h","command":"deploy","acquired":1,"expires":300}"#;
        let old: Holder = serde_json::from_str(old).unwrap();
        assert_eq!((old.lease_secs(), old.renewed()), (120, 180));
    }
}
