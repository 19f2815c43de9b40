//! Everything ballast shows: plans (human and JSON), progress, outputs and errors.
//! Human output goes to stderr; data (JSON) to stdout.

pub mod error;
pub mod json;
pub mod plan;
pub mod progress;
pub mod status;

use std::io::IsTerminal;

/// ANSI styling, on or off; and whether plans show sensitive values (`--show-values`).
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
    pub show_values: bool,
}

/// Attributes whose values plans hide unless `--show-values`: a container's environment may
/// hold what should have been a secret (its variable names stay visible).
pub const SENSITIVE: &[&str] = &["environment"];

/// The attribute whose items (the sidecars) each have a sensitive `environment`.
pub const SIDECARS: &str = "containers";

/// What a plan shows of a sensitive value.
pub const HIDDEN: &str = "(sensitive)";
/// ... of one that changes.
pub const HIDDEN_CHANGED: &str = "(sensitive, changed)";

/// `plan` as it may be shown: with `show_values` as it is, otherwise with the values of the
/// `SENSITIVE` attributes hidden everywhere (what AWS has, what is wanted, the differences).
pub fn shown(
    plan: &crate::engine::Plan,
    show_values: bool,
) -> std::borrow::Cow<'_, crate::engine::Plan> {
    use crate::engine::{Attrs, Value};
    if show_values {
        return std::borrow::Cow::Borrowed(plan);
    }
    fn hide(v: &Value, before: Option<&Value>) -> Value {
        match v {
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, x)| {
                        let changed = before.is_some_and(|b| match b {
                            Value::Map(b) => b.get(k) != Some(x),
                            _ => true,
                        });
                        (
                            k.clone(),
                            Value::str(if changed { HIDDEN_CHANGED } else { HIDDEN }),
                        )
                    })
                    .collect(),
            ),
            Value::Null | Value::Ref(..) => v.clone(),
            _ => Value::str(HIDDEN),
        }
    }
    // The sidecars' environments too, each against the same sidecar's (by name) before.
    fn hide_sidecars(v: &Value, before: Option<&Value>) -> Value {
        let before_env = |name: Option<&Value>| {
            before?.as_list().iter().find_map(|b| {
                let b = b.as_map()?;
                (b.get("name") == name)
                    .then(|| b.get("environment"))
                    .flatten()
            })
        };
        match v {
            Value::List(items) => Value::List(
                items
                    .iter()
                    .map(|item| match item {
                        Value::Map(m) => {
                            let mut m = m.clone();
                            let was = before_env(m.get("name")).cloned();
                            if let Some(env) = m.get_mut("environment") {
                                *env = hide(env, was.as_ref().or(before.map(|_| &Value::Null)));
                            }
                            Value::Map(m)
                        }
                        other => other.clone(),
                    })
                    .collect(),
            ),
            _ => v.clone(),
        }
    }
    let hide_all = |attrs: &mut Attrs| {
        for key in SENSITIVE {
            if let Some(v) = attrs.get_mut(*key) {
                *v = hide(v, None);
            }
        }
        if let Some(v) = attrs.get_mut(SIDECARS) {
            *v = hide_sidecars(v, None);
        }
    };
    let mut plan = plan.clone();
    for c in &mut plan.changes {
        hide_all(&mut c.after);
        if let Some(n) = c.node.as_mut() {
            hide_all(&mut n.attrs);
        }
        if let Some(o) = c.current.as_mut() {
            hide_all(&mut o.attrs);
        }
        for d in c
            .diffs
            .iter_mut()
            .filter(|d| SENSITIVE.contains(&d.key.as_str()))
        {
            let after = d.after.as_ref().map(|a| hide(a, d.before.as_ref()));
            d.before = d.before.as_ref().map(|b| hide(b, None));
            d.after = after;
        }
        for d in c.diffs.iter_mut().filter(|d| d.key == SIDECARS) {
            let after = d
                .after
                .as_ref()
                .map(|a| hide_sidecars(a, d.before.as_ref()));
            d.before = d.before.as_ref().map(|b| hide_sidecars(b, None));
            d.after = after;
        }
    }
    std::borrow::Cow::Owned(plan)
}

impl Style {
    pub fn new(choice: crate::cli::ColorChoice) -> Self {
        let color = match choice {
            crate::cli::ColorChoice::Always => true,
            crate::cli::ColorChoice::Never => false,
            crate::cli::ColorChoice::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Style {
            color,
            show_values: false,
        }
    }

    pub fn plain() -> Self {
        Style {
            color: false,
            show_values: false,
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}
