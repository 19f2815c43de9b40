//! Ctrl-C and SIGTERM, one "interrupt" for every command, delivered to the innermost handler.
//!
//! A command runs under nested handlers: the runner's (`commands::run`: drop the command, exit
//! 130), the lock's (`Session::with_lock`: drop the body, release the lock, exit 130), and a
//! step's own (an apply that stops starting new calls, a rollout wait that stops waiting, a
//! drill that restores its health check). Each interrupt goes to the handler made last of
//! those alive when it arrives: one dispatcher task reads which that is at the moment of the
//! signal, so a step that ends because of an interrupt never passes the same interrupt on to
//! the handler around it.
//!
//! SIGTERM (what CI runners and `timeout` send) is handled like Ctrl-C, so a cancelled pipeline
//! releases its lock and leaves the stack as Ctrl-C would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::sync::watch;

/// The handlers alive, by id, in the order they were made (the innermost last).
static ALIVE: Mutex<Vec<u64>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(1);
/// Each interrupt: its number and the handler it went to (0: none).
static SENT: OnceLock<watch::Sender<(u64, u64)>> = OnceLock::new();

/// The innermost handler alive (0: none).
fn innermost() -> u64 {
    ALIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .last()
        .copied()
        .unwrap_or(0)
}

/// Ctrl-C or SIGTERM, once. A signal that cannot be listened for never arrives.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { std::future::pending::<()>().await },
                _ = term.recv() => {}
            },
            Err(_) => {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await
                }
            }
        }
    }
    #[cfg(not(unix))]
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await
    }
}

/// The dispatcher: started by the first handler (in a tokio runtime), it listens for the
/// process's lifetime.
fn sender() -> &'static watch::Sender<(u64, u64)> {
    SENT.get_or_init(|| {
        let (tx, _) = watch::channel((0, 0));
        let out = tx.clone();
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                signal().await;
                n += 1;
                out.send_replace((n, innermost()));
            }
        });
        tx
    })
}

/// A handler: while it is the innermost one alive, `interrupted` resolves at each interrupt.
/// Make it before the work it guards starts (the signals are listened for from then on), and
/// keep it alive as long as that work.
pub struct Handler {
    id: u64,
    rx: watch::Receiver<(u64, u64)>,
    /// The number of the last interrupt this handler returned.
    seen: AtomicU64,
}

impl Handler {
    pub fn new() -> Handler {
        let rx = sender().subscribe();
        let seen = AtomicU64::new(rx.borrow().0);
        let id = NEXT.fetch_add(1, Ordering::SeqCst);
        ALIVE.lock().unwrap_or_else(|e| e.into_inner()).push(id);
        Handler { id, rx, seen }
    }

    /// The next interrupt sent to this handler (one not returned before).
    pub async fn interrupted(&self) {
        let mut rx = self.rx.clone();
        loop {
            let (n, to) = *rx.borrow_and_update();
            if to == self.id && n > self.seen.load(Ordering::SeqCst) {
                self.seen.store(n, Ordering::SeqCst);
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Run `fut`; an interrupt sent here drops it where it is and gives `None`.
    pub async fn or_interrupted<T>(&self, fut: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::select! {
            v = fut => Some(v),
            _ = self.interrupted() => None,
        }
    }
}

impl Default for Handler {
    fn default() -> Self {
        Handler::new()
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        ALIVE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&id| id != self.id);
    }
}

/// Run `fut` under a handler of its own; an interrupt drops it and gives `None`.
pub async fn interruptible<T>(fut: impl std::future::Future<Output = T>) -> Option<T> {
    Handler::new().or_interrupted(fut).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interrupt() {
        sender().send_modify(|(n, to)| {
            *n += 1;
            *to = innermost();
        });
    }

    /// One test for the nesting rules: the handlers alive are process-wide.
    #[tokio::test]
    async fn an_interrupt_goes_to_the_innermost_handler_alive_and_only_once() {
        let outer = Handler::new();
        {
            let inner = Handler::new();
            interrupt();
            let got = tokio::time::timeout(std::time::Duration::from_millis(50), async {
                tokio::join!(
                    inner.or_interrupted(std::future::pending::<()>()),
                    outer.or_interrupted(tokio::time::sleep(std::time::Duration::from_millis(20)))
                )
            })
            .await
            .expect("the inner handler saw it");
            assert_eq!(got, (None, Some(())), "the inner one only");
            // The same interrupt is not returned twice.
            let again =
                tokio::time::timeout(std::time::Duration::from_millis(20), inner.interrupted())
                    .await;
            assert!(again.is_err(), "returned once");
        }
        // The inner one gone, the next goes to the outer one.
        interrupt();
        let got =
            tokio::time::timeout(std::time::Duration::from_millis(50), outer.interrupted()).await;
        assert!(got.is_ok(), "the outer handler saw the next one");
    }
}
