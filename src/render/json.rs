//! The machine-readable plan: versioned and stable. Additive changes keep `format_version` 1.x;
//! anything else bumps the major.

use serde::Serialize;

use crate::engine::{Action, AttrChange, Attrs, Plan, Summary, Value};

pub const FORMAT_VERSION: &str = "1.1";

#[derive(Serialize)]
pub struct JsonPlan<'a> {
    pub format_version: &'static str,
    pub ballast_version: &'static str,
    pub stack: &'a str,
    /// The primary region.
    pub region: &'a str,
    /// Every region of the plan, primary first.
    pub regions: Vec<&'a str>,
    pub has_changes: bool,
    pub summary: Summary,
    pub resource_changes: Vec<JsonChange<'a>>,
}

#[derive(Serialize)]
pub struct JsonChange<'a> {
    pub address: &'a str,
    /// The region, or `global` (Route 53).
    pub scope: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub id: &'a str,
    pub name: &'a str,
    pub action: Action,
    pub physical_id: Option<&'a str>,
    pub before: Option<&'a Attrs>,
    /// Desired attributes; values known only after apply are `null` and listed in `after_unknown`.
    pub after: Option<Attrs>,
    pub after_unknown: Vec<&'a str>,
    pub changed: &'a [AttrChange],
    pub replace_because: Vec<&'a str>,
    pub notes: &'a [String],
}

pub fn plan(plan: &Plan) -> JsonPlan<'_> {
    let resource_changes = plan
        .changes
        .iter()
        .map(|c| {
            let after = (c.action != Action::Delete).then(|| {
                c.after
                    .iter()
                    .map(|(k, v)| (k.clone(), if v.has_ref() { Value::Null } else { v.clone() }))
                    .collect()
            });
            JsonChange {
                address: &c.address,
                scope: &c.scope,
                kind: c.kind,
                id: &c.id,
                name: &c.name,
                action: c.action,
                physical_id: c.current.as_ref().map(|o| o.physical_id.as_str()),
                before: c.current.as_ref().map(|o| &o.attrs),
                after,
                after_unknown: c
                    .after
                    .iter()
                    .filter(|(_, v)| v.has_ref())
                    .map(|(k, _)| k.as_str())
                    .collect(),
                changed: &c.diffs,
                replace_because: c
                    .diffs
                    .iter()
                    .filter(|d| d.forces_replacement)
                    .map(|d| d.key.as_str())
                    .collect(),
                notes: &c.notes,
            }
        })
        .collect();
    JsonPlan {
        format_version: FORMAT_VERSION,
        ballast_version: env!("CARGO_PKG_VERSION"),
        stack: &plan.stack.name,
        region: &plan.stack.region,
        regions: plan.regions(),
        has_changes: plan.has_changes(),
        summary: plan.summary(),
        resource_changes,
    }
}
