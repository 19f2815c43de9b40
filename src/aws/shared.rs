//! Reads several resource kinds need during one discovery (the ALB, the scalable target): made
//! once, then shared. Errors are not kept, so a failed read is tried again by the next caller.
//! Only discovery uses it: apply must see AWS as it is.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

type Cell = Arc<OnceCell<Arc<dyn Any + Send + Sync>>>;

#[derive(Clone, Default)]
pub struct Shared {
    cells: Arc<Mutex<HashMap<String, Cell>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

impl Shared {
    /// Forget every read: the next discovery reads AWS again (a plan made again under the stack
    /// lock, or after an apply, must not see the earlier one's reads).
    pub fn clear(&self) {
        self.cells.lock().unwrap().clear();
    }

    /// The value of `read` for `key`, computed by the first caller; concurrent callers wait.
    pub async fn once<T, E, F, Fut>(&self, key: &str, read: F) -> Result<Arc<T>, E>
    where
        T: Any + Send + Sync,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let cell = self
            .cells
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .clone();
        let v = cell
            .get_or_try_init(|| async {
                read()
                    .await
                    .map(|t| Arc::new(t) as Arc<dyn Any + Send + Sync>)
            })
            .await?;
        Ok(v.clone().downcast::<T>().expect("one type per key"))
    }
}

#[cfg(test)]
mod tests {
    use super::Shared;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn reads_once_and_retries_after_errors() {
        let shared = Shared::default();
        let calls = AtomicU32::new(0);
        let read = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(7u32)
        };
        let (a, b) = tokio::join!(shared.once("k", read), shared.once("k", read));
        assert_eq!((*a.unwrap(), *b.unwrap()), (7, 7));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let failing = shared
            .once("e", || async { Err::<u32, _>("boom".to_string()) })
            .await;
        assert!(failing.is_err());
        let retried = shared.once("e", || async { Ok::<_, String>(1u32) }).await;
        assert_eq!(*retried.unwrap(), 1);
    }
}
