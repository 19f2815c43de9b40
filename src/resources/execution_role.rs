//! `aws_iam_role`: the task execution role ECS uses to pull images and write logs.

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

use super::common::{ignore_missing, ownership, s, strs, tags_for};
use crate::aws::{AwsError, Clients, Ctx};
use crate::engine::{Attrs, BoxError, Kind, Node, Observed, Outputs, StackRef, Value};
use crate::spec::Model;

pub struct ExecutionRole;

pub const KIND: &str = "aws_iam_role";

const EXECUTION_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// IAM returns policy documents URL-encoded; compare them as canonical JSON.
pub fn canonical_policy(doc: &str) -> String {
    let decoded = if doc.trim_start().starts_with('%') {
        percent_decode(doc)
    } else {
        doc.to_string()
    };
    serde_json::from_str::<serde_json::Value>(&decoded)
        .map(|v| v.to_string())
        .unwrap_or(decoded)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                }
                Err(_) => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[async_trait]
impl Kind<Clients> for ExecutionRole {
    fn name(&self) -> &'static str {
        KIND
    }

    fn desired(&self, m: &Model) -> Vec<Node> {
        vec![
            Node::new(KIND, "role.execution", m.names().execution_role())
                .attr("assume_role_policy", canonical_policy(TRUST))
                .attr("managed_policy_arns", Value::set([EXECUTION_POLICY])),
        ]
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        let name = crate::spec::Names::new(&stack.name, &stack.region).execution_role();
        let r = c
            .iam
            .get_role()
            .role_name(&name)
            .send()
            .await
            .ctx(|| format!("get role {name}"));
        let role = match r {
            Err(e) if e.is_iam_not_found() => return Ok(vec![]),
            r => match r?.role {
                Some(role) => role,
                None => return Ok(vec![]),
            },
        };
        let own = ownership(stack, role.tags().iter().map(|t| (t.key(), t.value())));
        if !own.owned && desired.is_empty() {
            return Ok(vec![]);
        }
        let attached = c
            .iam
            .list_attached_role_policies()
            .role_name(&name)
            .send()
            .await
            .ctx(|| format!("list policies of role {name}"))?;
        let arn = role.arn().to_string();
        Ok(vec![Observed {
            id: "role.execution".into(),
            kind: KIND,
            name: name.clone(),
            outputs: Outputs::from([("arn".into(), arn), ("name".into(), name.clone())]),
            physical_id: name,
            attrs: Attrs::from([
                (
                    "assume_role_policy".into(),
                    Value::str(canonical_policy(
                        role.assume_role_policy_document().unwrap_or_default(),
                    )),
                ),
                (
                    "managed_policy_arns".into(),
                    Value::set(
                        attached
                            .attached_policies()
                            .iter()
                            .filter_map(|p| p.policy_arn()),
                    ),
                ),
            ]),
            owned: own.owned,
        }])
    }

    async fn create(
        &self,
        c: &Clients,
        stack: &StackRef,
        node: &Node,
        attrs: &Attrs,
    ) -> Result<Outputs, BoxError> {
        let tags = tags_for(stack, node, false)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()?;
        let r = c
            .iam
            .create_role()
            .role_name(&node.name)
            .description(format!(
                "ECS task execution role of ballast stack {}",
                stack.name
            ))
            .assume_role_policy_document(s(attrs, "assume_role_policy")?)
            .set_tags(Some(tags))
            .send()
            .await
            .ctx(|| format!("create role {}", node.name))?;
        let arn = r.role().map(|r| r.arn().to_string()).unwrap_or_default();
        attach(c, &node.name, attrs, &Attrs::new()).await?;
        Ok(Outputs::from([
            ("arn".into(), arn),
            ("name".into(), node.name.clone()),
        ]))
    }

    async fn update(
        &self,
        c: &Clients,
        _: &StackRef,
        node: &Node,
        attrs: &Attrs,
        cur: &Observed,
        changed: &[String],
    ) -> Result<Outputs, BoxError> {
        if changed.iter().any(|k| k == "assume_role_policy") {
            c.iam
                .update_assume_role_policy()
                .role_name(&node.name)
                .policy_document(s(attrs, "assume_role_policy")?)
                .send()
                .await
                .ctx(|| format!("update trust policy of role {}", node.name))?;
        }
        attach(c, &node.name, attrs, &cur.attrs).await?;
        Ok(cur.outputs.clone())
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        for arn in strs(&cur.attrs, "managed_policy_arns") {
            let r = c
                .iam
                .detach_role_policy()
                .role_name(&cur.physical_id)
                .policy_arn(&arn)
                .send()
                .await
                .ctx(|| format!("detach {arn} from role {}", cur.name));
            ignore_missing(r, AwsError::is_iam_not_found)?;
        }
        let r = c
            .iam
            .delete_role()
            .role_name(&cur.physical_id)
            .send()
            .await
            .ctx(|| format!("delete role {}", cur.name));
        ignore_missing(r, AwsError::is_iam_not_found)
    }
}

async fn attach(c: &Clients, role: &str, want: &Attrs, have: &Attrs) -> Result<(), BoxError> {
    let want = strs(want, "managed_policy_arns");
    let have = strs(have, "managed_policy_arns");
    for arn in want.iter().filter(|a| !have.contains(a)) {
        c.iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .ctx(|| format!("attach {arn} to role {role}"))?;
    }
    for arn in have.iter().filter(|a| !want.contains(a)) {
        c.iam
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .ctx(|| format!("detach {arn} from role {role}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_encoded_and_plain_policies_compare_equal() {
        let plain = super::canonical_policy(super::TRUST);
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ecs-tasks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        assert_eq!(super::canonical_policy(encoded), plain);
    }
}
