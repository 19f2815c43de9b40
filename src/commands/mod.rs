//! One module per command; shared set-up here.

pub mod deploy;
pub mod destroy;
pub mod drill;
pub mod iam_policy;
pub mod lock;
pub mod maintenance;
pub mod plan;
pub mod saved;
pub mod signal;
pub mod status;
pub mod unlock;
pub mod validate;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::aws::identity::{self, Identity};
use crate::aws::{self, AwsError, Clients};
use crate::cli::{Cli, Command, Global};
use crate::engine::{self, Plan, PlanError, Scopes, StackRef};
use crate::error::Error;
use crate::render::Style;
use crate::resources::{registry, DynKind};
use crate::spec::{self, Model};

/// Run the command `cli` names; its exit code, or the error `main` reports. An interrupt
/// (Ctrl-C, SIGTERM) that the command does not handle itself drops it (`Error::Interrupted`).
pub fn run(cli: &Cli) -> Result<i32, Error> {
    let g = &cli.global;
    if let Command::Validate(a) = &cli.command {
        return validate::run(a, g);
    }
    if let Command::IamPolicy(a) = &cli.command {
        return iam_policy::run(a, g);
    }
    if let Command::Completions(a) = &cli.command {
        use clap::CommandFactory;
        clap_complete::generate(
            a.shell,
            &mut Cli::command(),
            "ballast",
            &mut std::io::stdout(),
        );
        return Ok(0);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Io)?;
    let res = rt.block_on(async {
        let handler = signal::Handler::new();
        let command = async {
            match &cli.command {
                Command::Plan(a) => plan::run(a, g).await,
                Command::Deploy(a) => deploy::run(a, g).await,
                Command::Destroy(a) => destroy::run(a, g).await,
                Command::Status(a) => status::run(a, g).await,
                Command::Maintenance(a) => maintenance::run(a, g).await,
                Command::Drill(a) => drill::run(a, g).await,
                Command::Unlock(a) => unlock::run(a, g).await,
                Command::Validate(_) | Command::IamPolicy(_) | Command::Completions(_) => {
                    unreachable!("run above")
                }
            }
        };
        handler
            .or_interrupted(command)
            .await
            .unwrap_or(Err(Error::Interrupted))
    });
    // A confirmation prompt left waiting on stdin (an interrupt at it) runs on a blocking
    // thread: return without waiting for it.
    rt.shutdown_background();
    res
}

/// What every command that talks to AWS needs.
pub struct Session {
    pub kinds: Vec<DynKind>,
    /// The primary region's clients.
    pub clients: Clients,
    /// Every region's clients (the primary's too).
    pub regional: BTreeMap<String, Clients>,
    pub stack: StackRef,
    pub style: Style,
    /// Who the calls are made as: asked once, when the session is made; `None` for commands
    /// that only read (`status`).
    pub who: Option<Who>,
    /// The regions the command acts in: those it was made for, then those planning found.
    acting_in: Vec<String>,
    global: Global,
    /// The stack's locks this command holds (`with_lock`), and what takes more of them.
    held: tokio::sync::Mutex<Vec<lock::Held>>,
    locking: Option<(&'static str, lock::Options)>,
}

/// Which of the stack's locks `Session::with_lock` takes before its body runs.
#[derive(Clone, Copy, Debug)]
pub enum Locks<'a> {
    /// In every region the command acts in (the primary first).
    All,
    /// In these regions only.
    In(&'a [String]),
    /// None yet: the body takes each region's at its first write there (`Session::lock_region`),
    /// so a command with nothing to do writes nothing, not even a lock.
    AtFirstWrite,
}

/// The one GetCallerIdentity call of a command, started when the session is made and awaited
/// where it must be known: before the first write, before the first output. The first to get
/// it prints the account line on stderr.
#[derive(Clone)]
pub struct Who {
    answer: Shared<BoxFuture<'static, Result<Identity, AwsError>>>,
    printed: Arc<AtomicBool>,
}

impl Who {
    /// Start the call (on its own task: it runs while the command goes on).
    fn start(c: &Clients) -> Who {
        let c = c.clone();
        let task = tokio::spawn(async move { identity::caller(&c).await });
        let answer = async move {
            task.await
                .unwrap_or_else(|e| Err(AwsError::new("get the caller identity", e.to_string())))
        }
        .boxed()
        .shared();
        Who {
            answer,
            printed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The identity; the first caller prints the account line (`regions`: the command's).
    pub async fn get(&self, regions: &[String]) -> Result<Identity, Error> {
        let id = self.answer.clone().await?;
        if !self.printed.swap(true, Ordering::SeqCst) {
            eprint(&account_line(&id, regions));
        }
        Ok(id)
    }
}

/// `Account 123456789012 as arn:aws:iam::123456789012:user/ci, region us-east-1`.
pub fn account_line(id: &Identity, regions: &[String]) -> String {
    format!(
        "Account {} as {}, {} {}\n",
        id.account,
        id.arn,
        if regions.len() == 1 {
            "region"
        } else {
            "regions"
        },
        regions.join(", ")
    )
}

/// Refuse an account `accounts:` does not list (an empty list allows any).
pub fn check_account(id: &Identity, accounts: &[String]) -> Result<(), Error> {
    if accounts.is_empty() || accounts.contains(&id.account) {
        return Ok(());
    }
    Err(Error::WrongAccount {
        account: id.account.clone(),
        arn: id.arn.clone(),
        allowed: accounts.to_vec(),
    })
}

/// How long a command waits, after applying, for AWS's listings to show what it did.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(30);

/// After an apply: wait (at most `SETTLE`) until AWS's listings show what it created and no
/// longer show what it deleted, so that the next plan sees the stack as this run left it; say
/// what they still do not show.
///
/// The stack's locks are read beside each look (`Session::check_locks`), so their release after
/// the last one needs no read of its own.
pub async fn settle(s: &Session, plan: &Plan, res: &engine::ApplyResult) -> Result<(), Error> {
    let deadline = std::time::Instant::now() + SETTLE;
    let mut pause = std::time::Duration::from_millis(250);
    let lagging = loop {
        // Every look from scratch: the reads kinds share must not be the last look's.
        s.fresh();
        let scopes = s.scopes();
        let (lagging, ()) = tokio::join!(
            engine::unsettled(&s.kinds, &scopes, plan, res),
            s.check_locks()
        );
        let lagging = lagging?;
        if lagging.is_empty() || std::time::Instant::now() + pause > deadline {
            break lagging;
        }
        tracing::debug!("AWS does not list yet: {}", lagging.join(", "));
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(4));
    };
    if !lagging.is_empty() {
        eprint(&format!(
            "\nNote: after {} s AWS does not list yet what this run did to {}: the next plan may not see it yet.\n",
            SETTLE.as_secs(),
            lagging.join(", ")
        ));
    }
    Ok(())
}

/// Say each propagation pause on stderr (set once per process).
fn report_waits() {
    aws::propagation::on_wait(|what, waited| {
        eprint(&format!(
            "  {}\n",
            aws::propagation::waiting_line(what, waited)
        ))
    });
}

/// Reads and validates the spec; shows its warnings (and goes on).
pub fn load(file: &Path, g: &Global) -> Result<Model, Error> {
    load_in(file, g.region.as_deref())
}

/// `load` with the region override given (`None`: the spec's own regions).
pub fn load_in(file: &Path, region: Option<&str>) -> Result<Model, Error> {
    load_valid(file, region)
}

/// Reads and validates the spec, either form (`ballast validate`); shows its warnings.
pub fn load_valid(file: &Path, region: Option<&str>) -> Result<Model, Error> {
    let model = spec::load_file(&file.to_string_lossy(), region)?;
    for w in &model.warnings {
        eprint(&format!("{w}\n"));
    }
    Ok(model)
}

/// Clients for the stack's primary region (`stack.region`) and every other region in
/// `regions`.
pub async fn session(g: &Global, stack: StackRef, regions: &[String]) -> Session {
    report_waits();
    let mut s = Session {
        kinds: registry(),
        clients: connect(g, &stack.region).await,
        regional: BTreeMap::new(),
        stack,
        style: Style {
            show_values: g.show_values,
            ..Style::new(g.color)
        },
        who: None,
        acting_in: regions.to_vec(),
        global: g.clone(),
        held: Default::default(),
        locking: None,
    };
    s.regional.insert(s.stack.region.clone(), s.clients.clone());
    s.connect(regions).await;
    s
}

/// `session` for a command that writes (or plans): asks who the calls are made as, at once and
/// alongside what follows. With `accounts:` the answer comes first: an account it does not list
/// is refused before any other call.
pub async fn acting(
    g: &Global,
    stack: StackRef,
    regions: &[String],
    accounts: &[String],
) -> Result<Session, Error> {
    let mut s = session(g, stack, regions).await;
    let who = Who::start(&s.clients);
    s.who = Some(who.clone());
    if !accounts.is_empty() {
        let id = who.get(&s.acting_in).await?;
        check_account(&id, accounts)?;
    }
    Ok(s)
}

async fn connect(g: &Global, region: &str) -> Clients {
    aws::connect(&aws::Settings {
        region: region.to_string(),
        profile: g.profile.clone(),
        endpoint_url: g.endpoint_url.clone(),
    })
    .await
}

pub fn stack_ref(m: &Model) -> StackRef {
    StackRef {
        name: m.name.clone(),
        region: m.region.clone(),
        tags: m.tags.clone(),
    }
}

impl Session {
    /// Add clients for `regions` not connected yet.
    async fn connect(&mut self, regions: &[String]) {
        let new: Vec<&String> = regions
            .iter()
            .filter(|r| !self.regional.contains_key(*r))
            .collect();
        let clients = futures::future::join_all(new.iter().map(|r| connect(&self.global, r))).await;
        for (r, c) in new.into_iter().zip(clients) {
            self.regional.insert(r.clone(), c);
        }
    }

    /// Who the calls are made as, once known (printing the account line the first time);
    /// `None` for a session that did not ask.
    pub async fn identity(&self) -> Result<Option<Identity>, Error> {
        match &self.who {
            Some(w) => Ok(Some(w.get(&self.acting_in).await?)),
            None => Ok(None),
        }
    }

    /// The regions the command acts in with their clients, the primary first (the order locks
    /// are taken in).
    pub fn lock_regions(&self) -> Vec<(String, Clients)> {
        let mut v = Vec::new();
        let primary = &self.stack.region;
        if self.acting_in.contains(primary) {
            v.push((primary.clone(), self.regional[primary].clone()));
        }
        for r in &self.acting_in {
            if r != primary {
                if let Some(c) = self.regional.get(r) {
                    v.push((r.clone(), c.clone()));
                }
            }
        }
        v
    }

    /// Run `body` holding the stack's lock for `command`: this is how every command that writes
    /// runs. It owns the lock's whole life: it takes the locks `locks` names (the caller's
    /// identity known first: the account line comes before the lock), renews them while `body`
    /// runs (`lock::Held`), and releases every lock the command took, on success, on an error
    /// and on an interrupt. An interrupt (Ctrl-C, SIGTERM) that no step of `body` handles
    /// itself drops `body` where it is and gives `Error::Interrupted` (exit 130, from `main`).
    pub async fn with_lock<T>(
        &mut self,
        locks: Locks<'_>,
        command: &'static str,
        o: lock::Options,
        body: impl AsyncFnOnce(&mut Session) -> Result<T, Error>,
    ) -> Result<T, Error> {
        // Listened for from before the first lock is taken.
        let handler = signal::Handler::new();
        self.locking = Some((command, o));
        let taken = match locks {
            Locks::All => self.take_lock(None).await,
            Locks::In(regions) => self.take_lock(Some(regions)).await,
            Locks::AtFirstWrite => Ok(()),
        };
        let res = match taken {
            Ok(()) => handler.or_interrupted(body(self)).await.unwrap_or_else(|| {
                eprint("\nInterrupted.\n");
                Err(Error::Interrupted)
            }),
            Err(e) => Err(e),
        };
        self.release_locks().await;
        self.locking = None;
        res
    }

    /// Take the lock in `regions` (`None`: every region the command acts in) for the command
    /// `with_lock` runs.
    async fn take_lock(&self, regions: Option<&[String]>) -> Result<(), Error> {
        let (command, o) = self
            .locking
            .expect("locks are taken inside Session::with_lock");
        let who = self.identity().await?.map(|i| i.arn).unwrap_or_default();
        let mut all = self.lock_regions();
        if let Some(only) = regions {
            all.retain(|(r, _)| only.contains(r));
        }
        let h = lock::acquire(&self.stack.name, all, command, &who, o).await?;
        self.held.lock().await.push(h);
        Ok(())
    }

    /// Before the first write in `region` under `Locks::AtFirstWrite`: the identity, then the
    /// lock there (once).
    pub async fn lock_region(&self, region: &str) -> Result<(), Error> {
        self.identity().await?;
        let (command, o) = self
            .locking
            .expect("locks are taken inside Session::with_lock");
        let mut held = self.held.lock().await;
        if held.iter().any(|h| h.holds(region)) {
            return Ok(());
        }
        let who = self.identity().await?.map(|i| i.arn).unwrap_or_default();
        let mut all = self.lock_regions();
        all.retain(|(r, _)| r == region);
        held.push(lock::acquire(&self.stack.name, all, command, &who, o).await?);
        Ok(())
    }

    /// Read every lock held, so that their release moments later need not (`Held::check`).
    pub async fn check_locks(&self) {
        let held = self.held.lock().await;
        futures::future::join_all(held.iter().map(|h| h.check())).await;
    }

    /// Release every lock the command holds (the last taken first). `with_lock` does it at
    /// the end; a body may do it earlier, beside its last reads.
    pub async fn release_locks(&self) {
        let held = std::mem::take(&mut *self.held.lock().await);
        for h in held.into_iter().rev() {
            h.release().await;
        }
    }

    /// The id of the lock held in `region` (what `ballast unlock` takes).
    pub async fn lock_id(&self, region: &str) -> Option<String> {
        let held = self.held.lock().await;
        held.iter()
            .find(|h| h.holds(region))
            .map(|h| h.id().to_string())
    }

    pub fn scopes(&self) -> Scopes<'_, Clients> {
        Scopes {
            primary: self.stack.region.clone(),
            regions: self.regional.iter().map(|(r, c)| (r.clone(), c)).collect(),
        }
    }

    /// Discovery from scratch: the reads kinds share are made again.
    pub fn fresh(&self) {
        self.clients.shared.clear();
        for c in self.regional.values() {
            c.shared.clear();
        }
    }

    /// Plan across every connected region. When the stack's global resources name a region
    /// not connected (one removed from the spec, or a stack destroyed by name), connect it and
    /// plan again, once.
    ///
    /// The identity is awaited after planning (the two run at the same time), so the account
    /// line comes before the plan and before any write; a planning error comes first.
    pub async fn plan(&mut self, model: Option<&Model>) -> Result<Plan, Error> {
        self.fresh();
        let first = engine::plan(&self.kinds, &self.scopes(), &self.stack, model).await;
        let plan = match first {
            Err(PlanError::MoreRegions(more)) => {
                self.connect(&more).await;
                for r in more {
                    if !self.acting_in.contains(&r) {
                        self.acting_in.push(r);
                    }
                }
                engine::plan(&self.kinds, &self.scopes(), &self.stack, model).await
            }
            other => other,
        };
        let plan = plan?;
        self.identity().await?;
        Ok(plan)
    }
}

/// The stack a command without a spec acts on, and its regions (primary first): from FILE, or
/// `--stack` plus a region. Regions a stack's global resources name are found by planning.
pub fn target(
    file: Option<&Path>,
    stack: Option<&str>,
    g: &Global,
) -> Result<(StackRef, Vec<String>), Error> {
    match (file, stack) {
        (Some(f), _) => {
            let m = load(f, g)?;
            Ok((
                StackRef {
                    name: m.name,
                    region: m.region,
                    tags: Default::default(),
                },
                m.regions,
            ))
        }
        (None, Some(name)) => {
            let region = g
                .region
                .clone()
                .or_else(|| std::env::var("AWS_REGION").ok())
                .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                .ok_or_else(|| Error::Usage("--stack needs --region (or AWS_REGION)".into()))?;
            Ok((
                StackRef {
                    name: name.to_string(),
                    region: region.clone(),
                    tags: Default::default(),
                },
                vec![region],
            ))
        }
        (None, None) => Err(Error::Usage("give a spec FILE or --stack NAME".into())),
    }
}

/// `target`, and the spec's model when the stack is given by FILE.
pub fn target_model(
    file: Option<&Path>,
    stack: Option<&str>,
    g: &Global,
) -> Result<(StackRef, Vec<String>, Option<Model>), Error> {
    match file {
        Some(f) => {
            let m = load(f, g)?;
            Ok((
                StackRef {
                    name: m.name.clone(),
                    region: m.region.clone(),
                    tags: Default::default(),
                },
                m.regions.clone(),
                Some(m),
            ))
        }
        None => {
            let (s, r) = target(None, stack, g)?;
            Ok((s, r, None))
        }
    }
}

/// Ask on a TTY; refuse without one unless `--yes`. The prompt runs on a blocking thread, so
/// an interrupt at it reaches the command's handlers (which release the lock when one is held)
/// and `main` exits without waiting for the prompt's thread.
pub async fn confirm(yes: bool, action: &'static str, question: &str) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    refuses_confirmation(false, action)?;
    let q = question.to_string();
    tokio::task::spawn_blocking(move || ask(action, &q))
        .await
        .map_err(|e| Error::Usage(format!("the confirmation prompt failed: {e}")))?
}

/// The prompt itself.
fn ask(action: &'static str, question: &str) -> Result<(), Error> {
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Cancelled { action })
    }
}

/// Whether `confirm` would refuse at once (no `--yes` and no terminal): checked before taking
/// the lock, so such a run writes nothing at all.
pub fn refuses_confirmation(yes: bool, action: &'static str) -> Result<(), Error> {
    if !yes && !std::io::stdin().is_terminal() {
        return Err(Error::NeedsConfirmation { action });
    }
    Ok(())
}

pub fn eprint(s: &str) {
    let _ = std::io::stderr().write_all(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(account: &str) -> Identity {
        Identity {
            account: account.into(),
            arn: format!("arn:aws:iam::{account}:user/ci"),
        }
    }

    #[test]
    fn the_account_line_names_the_account_the_caller_and_the_regions() {
        assert_eq!(
            account_line(&id("123456789012"), &["us-east-1".into()]),
            "Account 123456789012 as arn:aws:iam::123456789012:user/ci, region us-east-1\n"
        );
        assert_eq!(
            account_line(&id("123456789012"), &["us-east-1".into(), "us-west-2".into()]),
            "Account 123456789012 as arn:aws:iam::123456789012:user/ci, regions us-east-1, us-west-2\n"
        );
    }

    #[test]
    fn only_listed_accounts_are_allowed_and_no_list_allows_any() {
        assert!(check_account(&id("123456789012"), &[]).is_ok());
        assert!(check_account(&id("123456789012"), &["123456789012".into()]).is_ok());
        let e = check_account(
            &id("123456789012"),
            &["111111111111".into(), "222222222222".into()],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "refusing to act in account 123456789012 (as arn:aws:iam::123456789012:user/ci): the spec's `accounts:` allows only 111111111111, 222222222222; use credentials or a --profile for one of those"
        );
        assert_eq!(e.exit_code(), 1);
    }
}
