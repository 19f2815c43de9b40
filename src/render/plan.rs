//! The human plan, after Terraform's.

use std::fmt::Write;

use super::Style;
use crate::engine::{Action, Attrs, Change, Plan, Value, GLOBAL, TAGS};

/// Why the plan exists: deploy shows removed resources as "no longer in the spec".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Deploy,
    Destroy,
}

pub fn render(plan: &Plan, purpose: Purpose, st: Style) -> String {
    let shown = super::shown(plan, st.show_values);
    let plan: &Plan = &shown;
    let mut out = String::new();
    let changes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    let notes: Vec<(&Change, &String)> = plan
        .changes
        .iter()
        .flat_map(|c| c.notes.iter().map(move |n| (c, n)))
        .collect();
    if changes.is_empty() {
        for (c, n) in &notes {
            let _ = writeln!(out, "{} {}: {n}", st.dim("note:"), c.address);
        }
        let _ = writeln!(
            out,
            "{} Stack \"{}\" in {} matches the spec ({} resources).",
            st.green(&st.bold("No changes.")),
            plan.stack.name,
            where_(plan),
            plan.changes.len()
        );
        return out;
    }
    let _ = writeln!(
        out,
        "ballast will perform the following actions on stack \"{}\" in {}:\n",
        plan.stack.name,
        where_(plan)
    );
    let _ = writeln!(
        out,
        "Resource actions are indicated with the following symbols:\n{}\n",
        legend(&changes, st)
    );
    for c in &changes {
        block(&mut out, c, purpose, st);
    }
    for (c, n) in &notes {
        let _ = writeln!(out, "{} {}: {n}", st.dim("note:"), c.address);
    }
    if !notes.is_empty() {
        out.push('\n');
    }
    let s = plan.summary();
    let _ = writeln!(
        out,
        "{} {} to add, {} to change, {} to replace, {} to destroy.",
        st.bold("Plan:"),
        s.add,
        s.change,
        s.replace,
        s.destroy
    );
    out
}

/// `us-east-1`, or `us-east-1 and us-west-2` (plus Route 53 when the plan has global resources).
fn where_(plan: &Plan) -> String {
    let mut parts: Vec<String> = plan.regions().iter().map(|r| r.to_string()).collect();
    if plan.changes.iter().any(|c| c.scope == GLOBAL) {
        parts.push("Route 53".into());
    }
    match parts.as_slice() {
        [] => plan.stack.region.clone(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn sym(a: Action, st: Style) -> String {
    match a {
        Action::Create => st.green("+"),
        Action::Update => st.yellow("~"),
        Action::Replace => format!("{}{}", st.red("-"), st.green("/+")),
        Action::Delete => st.red("-"),
        Action::NoOp => " ".into(),
    }
}

fn legend(changes: &[&Change], st: Style) -> String {
    let mut lines = Vec::new();
    for (a, what) in [
        (Action::Create, "create"),
        (Action::Update, "update in place"),
        (Action::Replace, "destroy and then create replacement"),
        (Action::Delete, "destroy"),
    ] {
        if changes.iter().any(|c| c.action == a) {
            lines.push(format!("  {:>3} {what}", sym(a, st)));
        }
    }
    lines.join("\n")
}

fn block(out: &mut String, c: &Change, purpose: Purpose, st: Style) {
    let what = match c.action {
        Action::Create => "will be created".to_string(),
        Action::Update => "will be updated in place".to_string(),
        Action::Replace => "must be replaced".to_string(),
        Action::Delete if c.duplicate_of.is_some() => format!(
            "will be destroyed\n  # (a duplicate: {} carries the same stack and resource id; {} is kept)",
            physical_id(c),
            c.duplicate_of.as_deref().unwrap_or_default()
        ),
        Action::Delete if purpose == Purpose::Deploy => {
            "will be destroyed\n  # (it carries this stack's ownership tag but is no longer in the spec)".to_string()
        }
        Action::Delete => "will be destroyed".to_string(),
        Action::NoOp => return,
    };
    let _ = writeln!(
        out,
        "  {} {} ({}) {what}",
        st.bold("#"),
        st.bold(&c.address),
        c.name
    );
    let pad = if c.action == Action::Replace {
        ""
    } else {
        "  "
    };
    let _ = writeln!(
        out,
        "{pad}{} resource \"{}\" \"{}\" {{",
        sym(c.action, st),
        c.kind,
        c.id
    );
    match c.action {
        Action::Create => {
            let w = width(shown(&c.after).map(|(k, _)| k));
            for (k, v) in shown(&c.after) {
                let _ = writeln!(out, "      {} {k:<w$} = {}", st.green("+"), show(Some(v)));
            }
        }
        Action::Delete => {
            let attrs = &c.current.as_ref().expect("delete has current").attrs;
            let w = width(shown(attrs).map(|(k, _)| k));
            for (k, v) in shown(attrs) {
                let _ = writeln!(
                    out,
                    "      {} {k:<w$} = {} {}",
                    st.red("-"),
                    show(Some(v)),
                    st.dim("-> null")
                );
            }
        }
        _ => {
            let w = width(c.diffs.iter().map(|d| &d.key));
            for d in &c.diffs {
                let force = if d.forces_replacement && c.action == Action::Replace {
                    format!(" {}", st.red("# forces replacement"))
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "      {} {:<w$} = {} -> {}{force}",
                    st.yellow("~"),
                    d.key,
                    show(d.before.as_ref()),
                    show(d.after.as_ref())
                );
            }
            let unchanged = c.after.len().saturating_sub(c.diffs.len());
            if unchanged > 0 {
                let _ = writeln!(
                    out,
                    "        {}",
                    st.dim(&format!("# ({unchanged} unchanged attributes hidden)"))
                );
            }
        }
    }
    let _ = writeln!(out, "    }}\n");
}

fn physical_id(c: &Change) -> &str {
    c.current.as_ref().map_or("", |o| o.physical_id.as_str())
}

/// The attributes a create or delete shows: all but an empty `tags`, `secrets`, `containers`,
/// `depends_on` or `inline_policies` (a stack without `tags:`, a service without `secrets:`
/// or sidecars).
fn shown(attrs: &Attrs) -> impl Iterator<Item = (&String, &Value)> {
    const NONE_WHEN_EMPTY: [&str; 5] = [
        TAGS,
        "secrets",
        super::SIDECARS,
        "depends_on",
        "inline_policies",
    ];
    attrs.iter().filter(|(k, v)| {
        let empty = match v {
            Value::Map(m) => m.is_empty(),
            Value::List(l) => l.is_empty(),
            _ => false,
        };
        !(NONE_WHEN_EMPTY.contains(&k.as_str()) && empty)
    })
}

fn width<'a>(keys: impl Iterator<Item = &'a String>) -> usize {
    keys.map(|k| k.len()).max().unwrap_or(0)
}

/// Values longer than this are shown cut in the human plan (the JSON plan has them whole).
pub const MAX_SHOWN_VALUE: usize = 400;

fn show(v: Option<&Value>) -> String {
    match v {
        None => "(known after apply)".into(),
        Some(v) => crate::text::shorten(&v.to_string(), MAX_SHOWN_VALUE),
    }
}
