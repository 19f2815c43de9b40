//! The stack lock of the commands that write (`deploy`, `destroy`, `maintenance`, `drill`): one
//! SSM parameter `/ballast/locks/<stack>` per region they write in (`src/aws/lock.rs`), taken in
//! a fixed order (the primary region first), renewed by a background task every third of the
//! lease, and released (only if it is still ours) on success, on failure and on Ctrl-C.
//!
//! A second writer fails at once with a message naming the holder, or with `--lock-timeout`
//! polls until the lock is free. A lock whose lease ran out is never taken over (two waiters
//! would race for it): the message says it is stale and names `ballast unlock`.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::aws::lock::{self, span, timestamp, Found, Holder};
use crate::aws::Clients;
use crate::error::{shorten, Error};

/// How long a lock stays valid without renewal.
pub const LEASE: Duration = Duration::from_secs(lock::DEFAULT_LEASE_SECS);
/// How often a waiter (`--lock-timeout`) reads the lock.
const POLL: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Wait this long for a held lock (`--lock-timeout`); `None`: fail at once.
    pub timeout: Option<Duration>,
    pub lease: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: None,
            lease: LEASE,
        }
    }
}

impl From<&crate::cli::LockArgs> for Options {
    fn from(a: &crate::cli::LockArgs) -> Self {
        Options {
            timeout: a.lock_timeout,
            lease: a.lock_lease.max(Duration::from_secs(3)),
        }
    }
}

/// Locks held in one or more regions. Release it with [`Held::release`] on every path.
pub struct Held {
    stack: String,
    id: String,
    /// Primary first.
    regions: Vec<(String, Clients)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    renewing: Option<tokio::task::JoinHandle<()>>,
    /// The last `check`: when, and what each region's lock held.
    seen: std::sync::Mutex<Option<(Instant, Vec<Found>)>>,
}

/// `alice@laptop`.
fn user_at_host() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{host}")
}

/// A lock id unique per acquisition: the time, the process and 64 random bits.
fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    format!("{:08x}{:016x}", (nanos / 1_000_000_000) as u32, h.finish())
}

/// One line about what holds the lock of `stack` in `region`.
pub fn describe(stack: &str, region: &str, found: &Found) -> String {
    let now = lock::now();
    match found {
        Found::Free => format!("stack \"{stack}\" is not locked in {region}"),
        Found::Held(h) => {
            let lease = if h.expires > now {
                format!(
                    "lease until {} (in {})",
                    timestamp(h.expires),
                    span(h.expires - now)
                )
            } else {
                format!(
                    "STALE: its lease ended {} ago ({}) and was not renewed, so its holder is \
                     probably gone",
                    span(now - h.expires),
                    timestamp(h.expires)
                )
            };
            format!(
                "stack \"{stack}\" is locked in {region} by {} ({}) running `{}` since {} ago, \
                 {lease}; lock id {}",
                h.who,
                h.host,
                h.command,
                span(now.saturating_sub(h.acquired)),
                h.id
            )
        }
        Found::Unreadable(v) => format!(
            "stack \"{stack}\" is locked in {region}: parameter {} holds something that is not a \
             ballast lock ({})",
            lock::parameter(stack),
            shorten(v, 200)
        ),
    }
}

/// The refusal: who holds it, and what to do.
fn refusal(stack: &str, region: &str, found: &Found, waited: Option<Duration>) -> Error {
    let mut msg = match waited {
        Some(w) => format!(
            "gave up after waiting {} for the lock: {}",
            span(w.as_secs()),
            describe(stack, region, found)
        ),
        None => describe(stack, region, found),
    };
    match found {
        Found::Held(h) => {
            let stale = h.expires <= lock::now();
            if !stale {
                msg.push_str("\n  to wait for it: add --lock-timeout 5m (or longer)");
            }
            msg.push_str(&format!(
                "\n  to break it{}: ballast unlock {stack} --region {region} {}",
                if stale {
                    ""
                } else {
                    " (only if that command is not running any more)"
                },
                h.id
            ));
        }
        Found::Unreadable(_) => msg.push_str(&format!(
            "\n  to break it: aws ssm delete-parameter --region {region} --name {}",
            lock::parameter(stack)
        )),
        Found::Free => {}
    }
    Error::Locked(msg)
}

/// Take the lock of `stack` in every one of `regions` (primary first) for `command`, as `who`
/// (the caller's ARN). With a timeout, wait while another holds it (releasing what was taken,
/// so two waiters never hold one region each).
pub async fn acquire(
    stack: &str,
    regions: Vec<(String, Clients)>,
    command: &str,
    who: &str,
    o: Options,
) -> Result<Held, Error> {
    let started = Instant::now();
    let mut holder = Holder {
        id: new_id(),
        who: who.to_string(),
        host: user_at_host(),
        command: command.to_string(),
        acquired: 0,
        expires: 0,
        lease: o.lease.as_secs(),
    };
    let mut said = false;
    loop {
        holder.acquired = lock::now();
        holder.expires = holder.acquired + o.lease.as_secs();
        let mut taken: Vec<(String, Clients)> = Vec::new();
        let mut blocked = None;
        for (r, c) in &regions {
            match lock::create(c, stack, &holder).await {
                Ok(None) => taken.push((r.clone(), c.clone())),
                Ok(Some(other)) => {
                    blocked = Some((r.clone(), c.clone(), other));
                    break;
                }
                Err(e) => {
                    release_all(stack, &holder.id, &taken, None).await;
                    return Err(e.into());
                }
            }
        }
        let Some((region, c, found)) = blocked else {
            return Ok(Held::start(stack, holder, taken, o.lease));
        };
        release_all(stack, &holder.id, &taken, None).await;
        let Some(timeout) = o.timeout else {
            return Err(refusal(stack, &region, &found, None));
        };
        if !said {
            super::eprint(&format!(
                "Waiting up to {} for the lock: {}\n",
                span(timeout.as_secs()),
                describe(stack, &region, &found)
            ));
            said = true;
        }
        // Poll (reads only) until it is free or the time is up.
        let mut last = found;
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(refusal(stack, &region, &last, Some(timeout)));
            }
            tokio::time::sleep(left.min(POLL)).await;
            match lock::read(&c, stack).await? {
                Found::Free => break,
                other => last = other,
            }
        }
    }
}

/// When AWS lists everything the holder of `h` may have made, seconds since the epoch. A holder
/// renews its lock every third of its lease, so one that is gone was last alive no later than a
/// third of a lease after its last renewal; the listings show what it made by then within
/// `SETTLE` (the bound a deploy waits for its own writes to be listed). `unlock` waits until
/// then, so the command after it does not make again what a killed holder made in its last
/// moments.
pub fn listed_by(h: &Holder) -> u64 {
    h.renewed() + h.lease_secs().div_ceil(3) + super::SETTLE.as_secs()
}

/// How recent a look at the locks (`Held::check`) must be for the release to go without
/// reading them again.
const SEEN: Duration = Duration::from_secs(10);

/// Delete the locks in `taken` that are still `id` (best effort: a failure is said, not fatal).
/// `seen`: what each region's lock held a moment ago, in `taken`'s order (then no read first).
async fn release_all(stack: &str, id: &str, taken: &[(String, Clients)], seen: Option<Vec<Found>>) {
    let mut seen: Vec<Option<Found>> = match seen {
        Some(v) if v.len() == taken.len() => v.into_iter().map(Some).collect(),
        _ => vec![None; taken.len()],
    };
    for ((r, c), seen) in taken.iter().zip(seen.iter_mut()).rev() {
        let r_ = match seen.take() {
            Some(found) => lock::delete_seen(c, stack, id, found).await,
            None => lock::delete_if(c, stack, id).await,
        };
        match r_ {
            Ok(Found::Held(h)) if h.id == id => {}
            Ok(Found::Free) => {
                tracing::info!("the lock of {stack} in {r} was gone already (unlocked?)");
            }
            Ok(other) => super::eprint(&format!(
                "warning: the lock is not ours any more, left as is: {}\n",
                describe(stack, r, &other)
            )),
            Err(e) => super::eprint(&format!(
                "warning: could not release the lock of stack \"{stack}\" in {r}: {}; break it \
                 with `ballast unlock {stack} --region {r} {id}`\n",
                crate::error::chain(&e)
            )),
        }
    }
}

impl Held {
    /// Start renewing the lease every third of it.
    fn start(
        stack: &str,
        holder: Holder,
        regions: Vec<(String, Clients)>,
        lease: Duration,
    ) -> Held {
        let id = holder.id.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (name, rs, every) = (stack.to_string(), regions.clone(), lease / 3);
        let renewing = tokio::spawn(async move {
            let mut h = holder;
            loop {
                // A renewal is never cut short: release waits for it, so no overwrite can land
                // after the delete and bring the lock back.
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = &mut stopped => return,
                }
                h.expires = lock::now() + lease.as_secs();
                for (r, c) in &rs {
                    match lock::renew(c, &name, &h).await {
                        Ok(None) => tracing::debug!("renewed the lock of {name} in {r}"),
                        Ok(Some(other)) => super::eprint(&format!(
                            "warning: lost the lock of stack \"{name}\" in {r} (broken with \
                             `ballast unlock`?): {}\n",
                            describe(&name, r, &other)
                        )),
                        Err(e) => tracing::warn!(
                            "could not renew the lock of {name} in {r}: {}",
                            crate::error::chain(&e)
                        ),
                    }
                }
            }
        });
        Held {
            stack: stack.to_string(),
            id,
            regions,
            stop: Some(stop),
            renewing: Some(renewing),
            seen: std::sync::Mutex::new(None),
        }
    }

    /// The lock id (what `ballast unlock` takes).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this holds the lock in `region`.
    pub fn holds(&self, region: &str) -> bool {
        self.regions.iter().any(|(r, _)| r == region)
    }

    /// Read every lock (all at once) so that the release, moments later, need not: called
    /// beside the last reads of a command (the deploy's read of its own writes), it takes the
    /// release's round trip off the end. A failed read leaves the release to read.
    pub async fn check(&self) {
        let found =
            futures::future::join_all(self.regions.iter().map(|(_, c)| lock::read(c, &self.stack)))
                .await;
        let found: Option<Vec<Found>> = found.into_iter().map(Result::ok).collect();
        *self.seen.lock().unwrap() = found.map(|f| (Instant::now(), f));
    }

    /// Stop renewing and delete every lock that is still ours (the last region first).
    pub async fn release(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.renewing.take() {
            let _ = t.await;
        }
        // A renewal since the check is ours; a break of the lock since then is not seen (the
        // window is the check's age, at most `SEEN`).
        let seen = self
            .seen
            .lock()
            .unwrap()
            .take()
            .filter(|(at, _)| at.elapsed() < SEEN)
            .map(|(_, f)| f);
        release_all(&self.stack, &self.id, &self.regions, seen).await;
        self.regions.clear();
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if !self.regions.is_empty() {
            tracing::warn!(
                "the lock {} of {} was not released: `ballast unlock` breaks it",
                self.id,
                self.stack
            );
        }
    }
}

/// How an apply run by [`stoppable`] ended.
pub enum Stopped<T> {
    /// It ran to its end without Ctrl-C.
    No(T),
    /// Ctrl-C: it started nothing new and ended when the calls in flight had.
    Gracefully(T),
    /// A second Ctrl-C dropped it where it was.
    AtOnce,
}

/// Run an apply: the first interrupt (Ctrl-C, SIGTERM) calls `stop` (which tells it to start
/// nothing new, through `Recorder::stop`, and says so) and lets the calls in flight finish, so
/// that what they made is known and read back; a second one drops it where it is.
pub async fn stoppable<T>(fut: impl Future<Output = T>, stop: impl FnOnce()) -> Stopped<T> {
    let handler = super::signal::Handler::new();
    let mut fut = std::pin::pin!(fut);
    tokio::select! {
        v = &mut fut => return Stopped::No(v),
        _ = handler.interrupted() => {}
    }
    stop();
    match handler.or_interrupted(fut).await {
        Some(v) => Stopped::Gracefully(v),
        None => Stopped::AtOnce,
    }
}

/// `engine::apply` of `plan` under `stoppable`, reporting to `recorder`: the first Ctrl-C stops
/// it (saying that the `in_flight` calls finish), a second drops it.
pub async fn apply_stoppable(
    s: &super::Session,
    plan: &crate::engine::Plan,
    recorder: &crate::engine::Recorder<'_>,
    in_flight: &str,
) -> Stopped<crate::engine::ApplyResult> {
    let stopping = || {
        recorder.stop();
        super::eprint(&format!(
            "\nInterrupted: starting nothing new, letting the {in_flight} in flight finish (Ctrl-C again to stop at once).\n"
        ));
    };
    stoppable(
        crate::engine::apply(&s.kinds, &s.scopes(), plan, recorder),
        stopping,
    )
    .await
}

/// For `plan`: one line per region whose lock is held (one GetParameter each, all at once);
/// read errors are left out (plan goes on without the note).
pub async fn notes(stack: &str, regions: &[(String, Clients)]) -> String {
    let found = futures::future::join_all(
        regions
            .iter()
            .map(|(r, c)| async move { (r, lock::read(c, stack).await) }),
    )
    .await;
    let mut s = String::new();
    for (r, f) in found {
        match f {
            Ok(Found::Free) => {}
            Ok(f) => s.push_str(&format!("note: {}\n", describe(stack, r, &f))),
            Err(e) => tracing::debug!("could not read the lock in {r}: {}", e),
        }
    }
    s
}
