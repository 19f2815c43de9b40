//! Progress while applying: a spinner per resource in flight on a TTY, plain lines otherwise.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Style;
use crate::engine::{Change, Reporter, Step};

pub struct Progress {
    st: Style,
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
}

impl Progress {
    pub fn new(st: Style) -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            (
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                Mutex::new(HashMap::new()),
            )
        });
        Progress { st, bars }
    }

    fn line(&self, s: String) {
        match &self.bars {
            Some((mp, _)) => {
                let _ = mp.println(s);
            }
            None => {
                let _ = writeln!(std::io::stderr(), "{s}");
            }
        }
    }

    fn clear(&self, address: &str) {
        if let Some((_, bars)) = &self.bars {
            if let Some(pb) = bars.lock().unwrap().remove(address) {
                pb.finish_and_clear();
            }
        }
    }
}

impl Reporter for Progress {
    fn started(&self, c: &Change, step: Step) {
        let (ing, _) = step.verb();
        match &self.bars {
            Some((mp, bars)) => {
                let pb = mp.add(ProgressBar::new_spinner());
                pb.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").unwrap());
                pb.set_message(format!("{}: {ing}...", c.address));
                pb.enable_steady_tick(Duration::from_millis(100));
                bars.lock().unwrap().insert(c.address.clone(), pb);
            }
            None => self.line(format!("{}: {ing}...", c.address)),
        }
    }

    fn finished(&self, c: &Change, step: Step, elapsed: Duration, detail: &str) {
        self.clear(&c.address);
        let (_, ed) = step.verb();
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" [{detail}]")
        };
        self.line(format!(
            "{}: {} after {:.1}s{detail}",
            c.address,
            self.st.green(ed),
            elapsed.as_secs_f64()
        ));
    }

    fn failed(&self, c: &Change, step: Step, error: &str) {
        self.clear(&c.address);
        let (ing, _) = step.verb();
        self.line(format!(
            "{}: {} {}: {error}",
            c.address,
            self.st.red("failed"),
            ing.to_lowercase()
        ));
    }

    fn skipped(&self, c: &Change, _step: Step, because: &str) {
        self.line(format!(
            "{}: {} because {because} failed",
            c.address,
            self.st.yellow("skipped")
        ));
    }
}
