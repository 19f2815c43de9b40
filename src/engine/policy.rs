//! The least-privilege IAM policy for a stack: what a role needs to plan, deploy and destroy
//! it (`ballast iam-policy`), from each kind's `Kind::iam` and the nodes the spec lowers to.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value as Json};

use super::resource::{Cloud, Kind, Node, GLOBAL};

/// Statements the kinds do not make (the stack lock's), as (sid, actions, resources).
pub type Extra = (String, Vec<String>, Vec<String>);

/// The policy document: every kind's reads on `*` (discovery reads every kind, in every
/// region), the writes of the kinds among `nodes` on their nodes' ARNs where the kind scopes
/// them and on `*` where IAM cannot, and `extra`.
pub fn iam_policy<C: Cloud>(kinds: &[Box<dyn Kind<C>>], nodes: &[Node], extra: &[Extra]) -> Json {
    let mut read = BTreeSet::new();
    let mut write_any = BTreeSet::new();
    let mut scoped: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<String>)> = BTreeMap::new();
    for k in kinds {
        let iam = k.iam();
        read.extend(iam.read.iter().copied());
        let mine: Vec<&Node> = nodes.iter().filter(|n| n.kind == k.name()).collect();
        if mine.is_empty() {
            continue;
        }
        write_any.extend(iam.write_any.iter().copied());
        if iam.arns.is_empty() {
            write_any.extend(iam.write.iter().copied());
            continue;
        }
        let (actions, resources) = scoped.entry(k.name()).or_default();
        actions.extend(iam.write.iter().copied());
        for n in mine {
            let region = if n.scope == GLOBAL { "*" } else { &n.scope };
            for arn in iam.arns {
                // A name that carries the account (`ACCOUNT`) matches any account's.
                let name = n.name.replace(ACCOUNT, "*");
                resources.insert(arn.replace("{region}", region).replace("{name}", &name));
            }
        }
    }
    let mut statements = vec![statement("Read", &read, vec!["*".to_string()])];
    for (sid, actions, resources) in extra {
        let actions: BTreeSet<&str> = actions.iter().map(String::as_str).collect();
        statements.push(statement(sid, &actions, resources.clone()));
    }
    if !write_any.is_empty() {
        statements.push(statement("Write", &write_any, vec!["*".to_string()]));
    }
    for (kind, (actions, resources)) in scoped {
        statements.push(statement(
            &sid(kind),
            &actions,
            resources.into_iter().collect(),
        ));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Where a node's name carries the account id, which only AWS calls know: the same text as
/// `spec::names::ACCOUNT` (a unit test of the resources checks).
pub const ACCOUNT: &str = "<account>";

fn statement(sid: &str, actions: &BTreeSet<&str>, resources: Vec<String>) -> Json {
    let resource = match resources.as_slice() {
        [one] => json!(one),
        _ => json!(resources),
    };
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource})
}

/// `aws_iam_role` -> `AwsIamRole` (a Sid is alphanumeric).
fn sid(kind: &str) -> String {
    kind.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Every action the policy allows (for tests and the size check).
pub fn actions(policy: &Json) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["Action"].as_array().into_iter().flatten())
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_alphanumeric() {
        assert_eq!(sid("aws_iam_role"), "AwsIamRole");
        assert_eq!(sid("aws_lb"), "AwsLb");
    }
}
