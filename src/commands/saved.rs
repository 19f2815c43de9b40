//! Saved plans: `plan --out FILE` writes the plan with what it was made from (the spec's hash and
//! a fingerprint of what AWS had); `deploy --plan FILE` applies it only if both are unchanged,
//! so what was reviewed is exactly what is applied (the pull-request workflow).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{Plan, Value};
use crate::error::Error;
use crate::render::json;
use crate::spec::Model;

pub const FORMAT: &str = "ballast-saved-plan";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
pub struct Saved {
    pub format: String,
    pub format_version: u32,
    pub ballast_version: String,
    pub stack: String,
    pub regions: Vec<String>,
    /// SHA-256 of the validated spec (the model ballast plans from, files it reads included).
    pub spec_sha256: String,
    /// SHA-256 of every resource the plan read (below), in one.
    pub state_sha256: String,
    /// Per resource address: SHA-256 of what AWS had (physical id, attributes, outputs).
    pub state: BTreeMap<String, String>,
    /// The plan as `plan --output json` shows it (sensitive values hidden).
    pub plan: serde_json::Value,
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The spec's hash: the validated model and the inputs its nodes carry (a fallback page).
pub fn spec_hash(model: &Model, plan: &Plan) -> String {
    let mut h = serde_json::to_string(model).expect("the model serializes");
    for c in &plan.changes {
        if let Some(n) = &c.node {
            h.push_str(&c.key);
            h.push_str(&serde_json::to_string(&n.data).expect("data serializes"));
        }
    }
    sha256(h.as_bytes())
}

/// What AWS had when the plan was made, resource by resource. Attributes whose drift is left
/// alone (an autoscaled count) are left out: they may change without making the plan wrong.
pub fn state(plan: &Plan) -> BTreeMap<String, String> {
    plan.changes
        .iter()
        .filter_map(|c| {
            let cur = c.current.as_ref()?;
            let ignored: Vec<&str> = c
                .node
                .iter()
                .flat_map(|n| n.ignore_drift.iter().map(|(k, _)| *k))
                .collect();
            let attrs: BTreeMap<&String, &Value> = cur
                .attrs
                .iter()
                .filter(|(k, _)| !ignored.contains(&k.as_str()))
                .collect();
            let body = serde_json::json!({
                "physical_id": cur.physical_id,
                "attrs": attrs,
                "outputs": cur.outputs,
            });
            // A duplicate copy has the same address: its physical id keeps it apart.
            let key = format!("{} {}", c.address, cur.physical_id);
            Some((key, sha256(body.to_string().as_bytes())))
        })
        .collect()
}

fn state_hash(state: &BTreeMap<String, String>) -> String {
    sha256(
        serde_json::to_string(state)
            .expect("state serializes")
            .as_bytes(),
    )
}

fn shown(plan: &Plan) -> serde_json::Value {
    serde_json::to_value(json::plan(&crate::render::shown(plan, false))).expect("plan serializes")
}

pub fn save(path: &Path, model: &Model, plan: &Plan) -> Result<(), Error> {
    let state = state(plan);
    let saved = Saved {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        ballast_version: env!("CARGO_PKG_VERSION").into(),
        stack: plan.stack.name.clone(),
        regions: plan.regions().iter().map(|r| r.to_string()).collect(),
        spec_sha256: spec_hash(model, plan),
        state_sha256: state_hash(&state),
        state,
        plan: shown(plan),
    };
    let text = serde_json::to_string_pretty(&saved).expect("saved plan serializes");
    std::fs::write(path, text + "\n").map_err(|source| Error::WriteFile {
        path: path.display().to_string(),
        source,
    })
}

pub fn load(path: &Path) -> Result<Saved, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        path: path.display().to_string(),
        source,
    })?;
    let saved: Saved = serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{} is not a plan saved by `ballast plan --out`: {e}",
            path.display()
        ))
    })?;
    if saved.format != FORMAT || saved.format_version != FORMAT_VERSION {
        return Err(Error::Usage(format!(
            "{} is a {} version {} file: this ballast reads {FORMAT} version {FORMAT_VERSION}",
            path.display(),
            saved.format,
            saved.format_version
        )));
    }
    Ok(saved)
}

/// Refuses (`Error::StalePlan`, listing what differs) unless `plan`, made now, is the saved one:
/// the same stack and regions, spec, state of AWS and changes.
pub fn check(path: &Path, saved: &Saved, model: &Model, plan: &Plan) -> Result<(), Error> {
    let mut why = Vec::new();
    if saved.stack != plan.stack.name {
        why.push(format!(
            "it is a plan of stack \"{}\", not \"{}\"",
            saved.stack, plan.stack.name
        ));
    }
    let regions: Vec<String> = plan.regions().iter().map(|r| r.to_string()).collect();
    if saved.regions != regions {
        why.push(format!(
            "it was made for {}, the spec now names {}",
            saved.regions.join(", "),
            regions.join(", ")
        ));
    }
    if saved.spec_sha256 != spec_hash(model, plan) {
        why.push("the spec changed since the plan was saved".into());
    }
    let now = state(plan);
    if state_hash(&now) != saved.state_sha256 || now != saved.state {
        let mut differs = Vec::new();
        for (k, v) in &saved.state {
            match now.get(k) {
                None => differs.push(format!("{k} is gone")),
                Some(w) if w != v => differs.push(format!("{k} changed")),
                _ => {}
            }
        }
        for k in now.keys().filter(|k| !saved.state.contains_key(*k)) {
            differs.push(format!("{k} appeared"));
        }
        if differs.is_empty() {
            differs.push("the saved state's checksum does not match its resources".into());
        }
        why.push(format!(
            "AWS changed since the plan was saved: {}",
            differs.join("; ")
        ));
    }
    if why.is_empty() && saved.plan.get("resource_changes") != shown(plan).get("resource_changes") {
        why.push("the plan made now differs from the saved one".into());
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(Error::StalePlan {
            path: path.display().to_string(),
            why,
        })
    }
}
