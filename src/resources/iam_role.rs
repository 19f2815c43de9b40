//! `aws_iam_role`: the task execution role ECS uses to pull images and write logs (an inline
//! policy scoped to the service's log group and private ECR repositories), the task
//! role the application calls AWS as (`permissions:`), and, with `ec2_capacity`, the container
//! instances' role with its instance profile; and the role VPC Flow Logs delivers to its log
//! group as (`network.flow_logs`). Every inline policy on a role is read back: one
//! ballast did not write is drift, and deploy deletes it.

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

use super::common::{b, found_id, ignore_missing, ownership, s, strs, tags_for};
use crate::aws::{Clients, Ctx};
use crate::engine::{Attrs, BoxError, Iam, Kind, Node, Observed, Outputs, Retag, StackRef, Value};
use crate::spec::names::{service_id, service_of};
use crate::spec::{Names, View};

pub struct IamRole;

pub const KIND: &str = "aws_iam_role";
pub const EXECUTION_ID: &str = "role.execution";
pub const INSTANCE_ID: &str = "role.instance";
pub const TASK_ID: &str = "role.task";
pub const FLOW_LOGS_ID: &str = "role.flow_logs";

const INSTANCE_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role";

const INSTANCE_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// ECS tasks' trust without conditions: what the baseline's execution roles have (tests).
#[cfg(test)]
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The execution role's trust: the task role's (ECS tasks of this account, started by ECS
/// in the role's region: `aws:SourceAccount` and `aws:SourceArn`, the confused-deputy guard
/// AWS documents for the task execution role).
fn execution_trust(region: &str) -> String {
    task_trust(region)
}

/// What stands for the role's own account in a trust policy as planned and as read back: the
/// account is the caller's, known when the role is written (STS), and read back from the
/// role's ARN. A trust naming any other account reads back as it is: drift.
pub const THIS_ACCOUNT: &str = "(this account)";

/// The task role's trust: ECS tasks, of this account only (`aws:SourceAccount`) and started by
/// ECS in the role's region of this account (`aws:SourceArn`): the confused-deputy guard AWS
/// recommends for task roles.
fn task_trust(region: &str) -> String {
    guarded_trust(
        "ecs-tasks.amazonaws.com",
        &format!("arn:{}:ecs:{region}:{THIS_ACCOUNT}:*", partition(region)),
    )
}

/// The flow logs role's trust: VPC Flow Logs, for flow logs of this account in the role's
/// region only (the confused-deputy guard AWS documents for it).
fn flow_logs_trust(region: &str) -> String {
    guarded_trust(
        "vpc-flow-logs.amazonaws.com",
        &format!(
            "arn:{}:ec2:{region}:{THIS_ACCOUNT}:vpc-flow-log/*",
            partition(region)
        ),
    )
}

/// A trust policy for AWS `service`, acting for this account (`aws:SourceAccount`) on
/// resources matching `source_arn` (`aws:SourceArn`).
fn guarded_trust(service: &str, source_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": THIS_ACCOUNT},
                "ArnLike": {"aws:SourceArn": source_arn},
            },
        }],
    })
    .to_string()
}

/// What VPC Flow Logs may do as the role: write log streams of the flow log group, nothing
/// else (not even create a group: ballast makes it, with its retention).
pub fn flow_logs_policy(v: &View<'_>) -> String {
    let logs = format!(
        "arn:{}:logs:{}:${{aws:PrincipalAccount}}:log-group",
        partition(v.region),
        v.region
    );
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DeliverFlowLogs", "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": format!("{logs}:{}:*", v.names().flow_log_group()),
            },
            {
                "Sid": "FindLogGroup", "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                "Resource": format!("{logs}:*"),
            },
        ],
    })
    .to_string()
}

/// The permissions boundary of every role of the stack (`iam.permissions_boundary`).
fn boundary(v: &View<'_>) -> Value {
    Value::opt_str(v.stack.permissions_boundary.as_deref())
}

/// A string attribute that may be unset.
fn opt(attrs: &Attrs, key: &str) -> Option<String> {
    attrs.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The partition of a region's ARNs.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A trust policy as written: `THIS_ACCOUNT` replaced by the caller's account (one STS call,
/// only when the policy names it).
async fn with_account(c: &Clients, doc: &str) -> Result<String, BoxError> {
    if !doc.contains(THIS_ACCOUNT) {
        return Ok(doc.to_string());
    }
    // The command asked already (its account line): the answer is kept.
    let who = crate::aws::identity::caller(c).await?;
    if who.account.is_empty() {
        return Err("GetCallerIdentity returned no account".into());
    }
    Ok(doc.replace(THIS_ACCOUNT, &who.account))
}

/// A trust policy as read back: the role's own account (from its ARN) as `THIS_ACCOUNT`.
fn without_account(doc: &str, role_arn: &str) -> String {
    let canonical = canonical_policy(doc);
    match role_arn.split(':').nth(4).filter(|a| !a.is_empty()) {
        Some(account) => canonical
            .replace(&format!("\"{account}\""), &format!("\"{THIS_ACCOUNT}\""))
            .replace(&format!(":{account}:"), &format!(":{THIS_ACCOUNT}:")),
        None => canonical,
    }
}

/// IAM returns policy documents URL-encoded; compare them as canonical JSON.
/// The execution role's inline policy (`SECRETS_POLICY`) when the service has `secrets:`: it
/// may read exactly those secrets and parameters (and decrypt with `secrets_kms_key`).
pub fn secrets_policy(v: &View<'_>) -> Option<String> {
    let svc = v.service();
    if svc.secrets.is_empty() {
        return None;
    }
    let mut secrets = std::collections::BTreeSet::new();
    let mut parameters = std::collections::BTreeSet::new();
    for from in svc.secrets.values() {
        if from.starts_with("arn:aws") && from.split(':').nth(2) == Some("secretsmanager") {
            // Without a JSON key, version stage or version id: the secret itself.
            let arn = from.splitn(8, ':').take(7).collect::<Vec<_>>().join(":");
            // A secret's full ARN ends in `-` and six random characters, which a partial ARN
            // (the secret's name) lacks: IAM then needs the `-??????` wildcard to match it. A
            // name that merely looks suffixed (`db-secret`) gets both.
            if !has_random_suffix(&arn) {
                secrets.insert(format!("{arn}-??????"));
            } else {
                secrets.insert(format!("{arn}-??????"));
                secrets.insert(arn);
            }
        } else if from.starts_with("arn:") {
            parameters.insert(from.clone());
        } else {
            // A parameter of the stack's region, in the account of whoever reads it.
            parameters.insert(format!(
                "arn:{}:ssm:{}:${{aws:PrincipalAccount}}:parameter/{}",
                partition(v.region),
                v.region,
                from.trim_start_matches('/')
            ));
        }
    }
    let mut statements = Vec::new();
    if !secrets.is_empty() {
        statements.push(serde_json::json!({
            "Sid": "ReadSecrets", "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue", "Resource": secrets,
        }));
    }
    if !parameters.is_empty() {
        statements.push(serde_json::json!({
            "Sid": "ReadParameters", "Effect": "Allow",
            "Action": "ssm:GetParameters", "Resource": parameters,
        }));
    }
    if let Some(key) = &svc.secrets_kms_key {
        // Only as Secrets Manager or SSM decrypts for the role, in the stack's region.
        let mut via = Vec::new();
        if !secrets.is_empty() {
            via.push(format!("secretsmanager.{}.amazonaws.com", v.region));
        }
        if !parameters.is_empty() {
            via.push(format!("ssm.{}.amazonaws.com", v.region));
        }
        statements.push(serde_json::json!({
            "Sid": "DecryptSecrets", "Effect": "Allow",
            "Action": "kms:Decrypt", "Resource": [key],
            "Condition": {"StringEquals": {"kms:ViaService": via}},
        }));
    }
    Some(serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string())
}

/// Whether a Secrets Manager ARN ends in the six random characters AWS appends to a secret's
/// name (`…:secret:shop/db-AbCdEf`).
fn has_random_suffix(arn: &str) -> bool {
    let name = arn.rsplit(':').next().unwrap_or_default();
    name.rsplit_once('-')
        .is_some_and(|(_, s)| s.len() == 6 && s.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The name of the execution role's inline policy for `secrets:`.
pub const SECRETS_POLICY: &str = "ballast-secrets";

/// The name of the task role's inline policy: the service's `permissions:`.
pub const PERMISSIONS_POLICY: &str = "ballast-permissions";

/// The name of the flow logs role's inline policy.
pub const FLOW_LOGS_POLICY: &str = "ballast-flow-logs";

/// The name of the execution role's inline policy: logs of the service's group, its private
/// ECR images.
pub const EXECUTION_INLINE: &str = "ballast-execution";

/// The inline policies ballast writes, as (attribute, policy name): the execution role's two,
/// the task role's, the flow logs role's.
const INLINE: [(&str, &str); 4] = [
    ("execution_policy", EXECUTION_INLINE),
    ("secrets_policy", SECRETS_POLICY),
    ("permissions_policy", PERMISSIONS_POLICY),
    ("flow_logs_policy", FLOW_LOGS_POLICY),
];

/// What ECS may do as a service's execution role besides reading its secrets: write the
/// containers' logs to the service's log group, and pull the task's private ECR images (only
/// when it has some; public images need no permission).
pub fn execution_policy(v: &View<'_>) -> String {
    let svc = v.service();
    let mut statements = vec![serde_json::json!({
        "Sid": "WriteLogs", "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": format!(
            "arn:{}:logs:{}:${{aws:PrincipalAccount}}:log-group:{}:*",
            partition(v.region),
            v.region,
            v.service_names().log_group()
        ),
    })];
    let repos: std::collections::BTreeSet<String> = std::iter::once(svc.image.as_str())
        .chain(svc.containers.iter().map(|c| c.image.as_str()))
        .map(|i| crate::spec::image_in(i, v.region))
        .filter_map(|i| ecr_repository(&i))
        .collect();
    if !repos.is_empty() {
        statements.push(serde_json::json!({
            "Sid": "EcrToken", "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken", "Resource": "*",
        }));
        statements.push(serde_json::json!({
            "Sid": "PullImages", "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": repos,
        }));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The repository ARN of a private ECR image (`<account>.dkr.ecr.<region>.amazonaws.com/
/// <repo>[:tag|@digest]`); None for any other registry (ECR Public included).
fn ecr_repository(image: &str) -> Option<String> {
    let (host, path) = image.split_once('/')?;
    let mut parts = host.split('.');
    let account = parts.next()?;
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if parts.next()? != "dkr" || !parts.next()?.starts_with("ecr") {
        return None;
    }
    let region = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    let partition = match rest.as_slice() {
        ["amazonaws", "com"] => partition(region),
        ["amazonaws", "com", "cn"] => "aws-cn",
        _ => return None,
    };
    let repo = path.split('@').next()?;
    // A tag follows the last `:` of the last path segment.
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    (!repo.is_empty()).then(|| format!("arn:{partition}:ecr:{region}:{account}:repository/{repo}"))
}

/// The task role's policy: one Allow statement per `permissions:` entry, in the spec's order.
pub fn permissions_policy(v: &View<'_>) -> Option<String> {
    let svc = v.service();
    if svc.permissions.is_empty() {
        return None;
    }
    let statements: Vec<serde_json::Value> = svc
        .permissions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            serde_json::json!({
                "Sid": format!("Permission{i}"), "Effect": "Allow",
                "Action": p.actions, "Resource": p.resources,
            })
        })
        .collect();
    Some(serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string())
}

/// `PutRolePolicy` of `doc` as the inline policy `policy`, or `DeleteRolePolicy` (if there is
/// one) when `None`.
async fn set_policy(
    c: &Clients,
    role: &str,
    policy: &str,
    doc: Option<&str>,
) -> Result<(), BoxError> {
    match doc {
        Some(doc) => {
            c.iam
                .put_role_policy()
                .role_name(role)
                .policy_name(policy)
                .policy_document(doc)
                .send()
                .await
                .ctx(|| format!("put policy {policy} of role {role}"))?;
        }
        None => {
            let r = c
                .iam
                .delete_role_policy()
                .role_name(role)
                .policy_name(policy)
                .send()
                .await
                .ctx(|| format!("delete policy {policy} of role {role}"));
            ignore_missing(r)?;
        }
    }
    Ok(())
}

pub fn canonical_policy(doc: &str) -> String {
    let decoded = if doc.trim_start().starts_with('%') {
        percent_decode(doc)
    } else {
        doc.to_string()
    };
    serde_json::from_str::<serde_json::Value>(&decoded)
        .map(|v| sort_keys(v).to_string())
        .unwrap_or(decoded)
}

/// Keys in sorted order whatever serde_json's map keeps (`preserve_order` may be on).
fn sort_keys(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                m.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(sort_keys).collect())
        }
        other => other,
    }
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

/// (logical id, role name) of every role a stack can have.
fn roles(names: &Names) -> [(&'static str, String); 4] {
    [
        (EXECUTION_ID, names.execution_role()),
        (INSTANCE_ID, names.instance_role()),
        (TASK_ID, names.task_role()),
        (FLOW_LOGS_ID, names.flow_logs_role()),
    ]
}

/// The logical id of the stack's role `name` in the stack's region (`None` for a name of
/// another shape): `<stack>[-<service>]-<region>-exec`, `-instance` or `-task`, and the
/// stack's `<stack>-<region>-flow-logs`.
fn id_of(stack: &StackRef, name: &str) -> Option<String> {
    if name == Names::new(&stack.name, &stack.region).flow_logs_role() {
        return Some(FLOW_LOGS_ID.into());
    }
    [
        ("exec", EXECUTION_ID),
        ("instance", INSTANCE_ID),
        ("task", TASK_ID),
    ]
    .into_iter()
    .find_map(|(what, base)| {
        let svc = service_of(&stack.name, name, &format!("{}-{what}", stack.region))?;
        Some(service_id(base, svc.as_deref()))
    })
}

/// The names of the roles that may be the stack's in its region: every page of ListRoles,
/// by the names' shape.
async fn list(c: &Clients, stack: &StackRef) -> Result<Vec<String>, crate::aws::AwsError> {
    let mut pages = c.iam.list_roles().max_items(1000).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.ctx(|| "list roles".into())?;
        out.extend(
            page.roles()
                .iter()
                .map(|r| r.role_name().to_string())
                .filter(|n| id_of(stack, n).is_some()),
        );
    }
    Ok(out)
}

#[async_trait]
impl Kind<Clients> for IamRole {
    fn name(&self) -> &'static str {
        KIND
    }

    fn iam(&self) -> Iam {
        Iam {
            read: &[
                "iam:ListRoles",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:GetInstanceProfile",
            ],
            write: &[
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PutRolePermissionsBoundary",
                "iam:DeleteRolePermissionsBoundary",
                "iam:PassRole",
                "iam:CreateInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
            ],
            arns: &[
                "arn:aws:iam::*:role/{name}",
                "arn:aws:iam::*:instance-profile/{name}",
            ],
            ..Iam::default()
        }
    }

    fn retag(&self) -> Option<Retag<Clients>> {
        Some(retag)
    }

    /// The stack's role in the region: VPC Flow Logs' (a created network with flow logs).
    fn desired(&self, v: &View<'_>) -> Vec<Node> {
        if super::network::flow_logs(v).is_none() {
            return Vec::new();
        }
        vec![Node::new(KIND, FLOW_LOGS_ID, v.names().flow_logs_role())
            .attr(
                "assume_role_policy",
                canonical_policy(&flow_logs_trust(v.region)),
            )
            .attr("managed_policy_arns", Value::List(Vec::new()))
            .attr("inline_policies", Value::set([FLOW_LOGS_POLICY]))
            .attr("flow_logs_policy", canonical_policy(&flow_logs_policy(v)))
            .attr("instance_profile", false)
            .attr("permissions_boundary", boundary(v))]
    }

    /// Each service's roles: the execution role (its secrets only), the task role when it
    /// has `permissions:`, and the container instances' role when it runs on EC2 capacity.
    fn service_desired(&self, v: &View<'_>) -> Vec<Node> {
        let secrets = secrets_policy(v).map(|p| canonical_policy(&p));
        let mut out = vec![
            Node::new(KIND, v.id(EXECUTION_ID), v.service_names().execution_role())
                .attr(
                    "assume_role_policy",
                    canonical_policy(&execution_trust(v.region)),
                )
                .attr("managed_policy_arns", Value::List(Vec::new()))
                .attr(
                    "inline_policies",
                    Value::set(
                        std::iter::once(EXECUTION_INLINE)
                            .chain(secrets.as_ref().map(|_| SECRETS_POLICY)),
                    ),
                )
                .attr("execution_policy", canonical_policy(&execution_policy(v)))
                .attr("secrets_policy", secrets)
                .attr("instance_profile", false)
                .attr("permissions_boundary", boundary(v)),
        ];
        if let Some(doc) = permissions_policy(v) {
            out.push(
                Node::new(KIND, v.id(TASK_ID), v.service_names().task_role())
                    .attr(
                        "assume_role_policy",
                        canonical_policy(&task_trust(v.region)),
                    )
                    .attr("managed_policy_arns", Value::List(Vec::new()))
                    .attr("inline_policies", Value::set([PERMISSIONS_POLICY]))
                    .attr("permissions_policy", canonical_policy(&doc))
                    .attr("instance_profile", false)
                    .attr("permissions_boundary", boundary(v)),
            );
        }
        if v.service().ec2_capacity.is_some() {
            out.push(
                Node::new(KIND, v.id(INSTANCE_ID), v.service_names().instance_role())
                    .attr("assume_role_policy", canonical_policy(INSTANCE_TRUST))
                    .attr("managed_policy_arns", Value::set([INSTANCE_POLICY]))
                    .attr("inline_policies", Value::List(Vec::new()))
                    .attr("instance_profile", true)
                    .attr("permissions_boundary", boundary(v)),
            );
        }
        out
    }

    async fn discover(
        &self,
        c: &Clients,
        stack: &StackRef,
        desired: &[&Node],
    ) -> Result<Vec<Observed>, BoxError> {
        // Every role at once (each desired one and the stack's own names by name, and the
        // listing); for each, its policies and instance profile at once. Then the roles only
        // the listing showed.
        let one = |name: String| async move {
            let r = c
                .iam
                .get_role()
                .role_name(&name)
                .send()
                .await
                .ctx(|| format!("get role {name}"));
            let role = match r {
                Err(e) if e.is_not_found() => return Ok(None),
                r => match r?.role {
                    Some(role) => role,
                    None => return Ok(None),
                },
            };
            let own = ownership(stack, role.tags().iter().map(|t| (t.key(), t.value())));
            let Some(id) = found_id(&own, desired, &name, || {
                id_of(stack, &name).unwrap_or_default()
            }) else {
                return Ok(None);
            };
            // The inline policies ballast writes on a role of this kind, each read by name (a
            // listing may lag what was just written), and the listing, for those it did not.
            let base = |b: &str| id == b || id.starts_with(&format!("{b}."));
            let mine: &[(&str, &str)] = if base(EXECUTION_ID) {
                &INLINE[..2]
            } else if base(TASK_ID) {
                &INLINE[2..3]
            } else if id == FLOW_LOGS_ID {
                &INLINE[3..]
            } else {
                &[]
            };
            let read_policy = |policy: &'static str| {
                let name = &name;
                async move {
                    let r = c
                        .iam
                        .get_role_policy()
                        .role_name(name)
                        .policy_name(policy)
                        .send()
                        .await
                        .ctx(|| format!("get policy {policy} of role {name}"));
                    match r {
                        Err(e) if e.is_not_found() => Ok(None),
                        r => r.map(|r| Some(canonical_policy(r.policy_document()))),
                    }
                }
            };
            // Only the container instances' role has an instance profile (ballast makes one
            // for no other role).
            let with_profile = base(INSTANCE_ID);
            let (attached, docs, inline, profile) = futures::join!(
                c.iam.list_attached_role_policies().role_name(&name).send(),
                futures::future::try_join_all(mine.iter().map(|(_, p)| read_policy(p))),
                inline_policies(c, &name),
                async {
                    if !with_profile {
                        return None;
                    }
                    Some(
                        c.iam
                            .get_instance_profile()
                            .instance_profile_name(&name)
                            .send()
                            .await,
                    )
                }
            );
            let attached = attached.ctx(|| format!("list policies of role {name}"))?;
            let docs = docs?;
            let mut inline = inline?;
            inline.extend(
                mine.iter()
                    .zip(&docs)
                    .filter(|(_, d)| d.is_some())
                    .map(|((_, p), _)| p.to_string()),
            );
            let mut outputs = Outputs::from([
                ("arn".into(), role.arn().to_string()),
                ("name".into(), name.clone()),
            ]);
            let profile = match profile.map(|p| p.ctx(|| format!("get instance profile {name}"))) {
                None => None,
                Some(Err(e)) if e.is_not_found() => None,
                Some(r) => r?.instance_profile,
            };
            let has_profile = profile
                .as_ref()
                .is_some_and(|p| p.roles().iter().any(|r| r.role_name() == name));
            if let Some(p) = &profile {
                outputs.insert("instance_profile_arn".into(), p.arn().to_string());
                outputs.insert("instance_profile_name".into(), name.clone());
            }
            Ok::<_, BoxError>(Some(Observed {
                id,
                kind: KIND,
                name: name.clone(),
                outputs,
                physical_id: name,
                attrs: [
                    ("tags".into(), own.tags.clone()),
                    (
                        "assume_role_policy".into(),
                        Value::str(without_account(
                            role.assume_role_policy_document().unwrap_or_default(),
                            role.arn(),
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
                    ("instance_profile".into(), Value::Bool(has_profile)),
                    ("inline_policies".into(), Value::set(inline)),
                    (
                        "permissions_boundary".into(),
                        Value::opt_str(
                            role.permissions_boundary()
                                .and_then(|b| b.permissions_boundary_arn()),
                        ),
                    ),
                ]
                .into_iter()
                .chain(
                    mine.iter()
                        .zip(docs)
                        .map(|((attr, _), doc)| (attr.to_string(), Value::from(doc))),
                )
                .collect(),
                owned: own.owned,
            }))
        };
        let names = Names::new(&stack.name, &stack.region);
        let mut named: Vec<String> = desired.iter().map(|n| n.name.clone()).collect();
        named.extend(roles(&names).into_iter().map(|(_, name)| name));
        named.sort();
        named.dedup();
        let read_all =
            |names: Vec<String>| futures::future::try_join_all(names.into_iter().map(one));
        let (mut found, listed) = futures::try_join!(read_all(named.clone()), async {
            list(c, stack).await.map_err(BoxError::from)
        })?;
        let extra: Vec<String> = listed.into_iter().filter(|n| !named.contains(n)).collect();
        if !extra.is_empty() {
            found.extend(read_all(extra).await?);
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// ListRoles alone: a role's name is unique in the account, so one of the stack's names
    /// that this run created or deleted is the stack's.
    async fn listed(
        &self,
        c: &Clients,
        stack: &StackRef,
        _: &[&Node],
        _: &[Attrs],
    ) -> Result<Vec<Observed>, BoxError> {
        Ok(list(c, stack)
            .await?
            .into_iter()
            .map(|name| Observed {
                id: id_of(stack, &name).unwrap_or_default(),
                kind: KIND,
                physical_id: name.clone(),
                name,
                attrs: Attrs::new(),
                outputs: Outputs::new(),
                owned: true,
            })
            .collect())
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
            .description(format!("ballast stack {}: {}", stack.name, node.id))
            .assume_role_policy_document(with_account(c, s(attrs, "assume_role_policy")?).await?)
            .set_permissions_boundary(opt(attrs, "permissions_boundary"))
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .ctx(|| format!("create role {}", node.name))?;
        let mut outputs = Outputs::from([
            (
                "arn".into(),
                r.role().map(|r| r.arn().to_string()).unwrap_or_default(),
            ),
            ("name".into(), node.name.clone()),
        ]);
        attach(c, &node.name, attrs, &Attrs::new()).await?;
        for (attr, policy) in INLINE {
            if let Some(Value::Str(doc)) = attrs.get(attr) {
                set_policy(c, &node.name, policy, Some(doc)).await?;
            }
        }
        if b(attrs, "instance_profile") {
            outputs.extend(ensure_profile(c, &node.name, Some(tags)).await?);
        }
        Ok(outputs)
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
                .policy_document(with_account(c, s(attrs, "assume_role_policy")?).await?)
                .send()
                .await
                .ctx(|| format!("update trust policy of role {}", node.name))?;
        }
        if changed.iter().any(|k| k == "permissions_boundary") {
            // A boundary the spec does not set (one put by hand) is drift: removed.
            match opt(attrs, "permissions_boundary") {
                Some(arn) => c
                    .iam
                    .put_role_permissions_boundary()
                    .role_name(&node.name)
                    .permissions_boundary(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .ctx(|| format!("put permissions boundary of role {}", node.name))?,
                None => c
                    .iam
                    .delete_role_permissions_boundary()
                    .role_name(&node.name)
                    .send()
                    .await
                    .map(|_| ())
                    .ctx(|| format!("delete permissions boundary of role {}", node.name))?,
            }
        }
        // The inline policies first, then the managed ones: a role that trades a managed
        // policy for an inline one (the execution role's upgrade) is never without either.
        for (attr, policy) in INLINE {
            if changed.iter().any(|k| k == attr) {
                let doc = match attrs.get(attr) {
                    Some(Value::Str(doc)) => Some(doc.as_str()),
                    _ => None,
                };
                set_policy(c, &node.name, policy, doc).await?;
            }
        }
        attach(c, &node.name, attrs, &cur.attrs).await?;
        // Inline policies ballast did not write (added by hand): drift, deleted.
        let want = strs(attrs, "inline_policies");
        for policy in strs(&cur.attrs, "inline_policies") {
            let ours = INLINE
                .iter()
                .any(|(a, p)| *p == policy && attrs.contains_key(*a));
            if !want.contains(&policy) && !ours {
                set_policy(c, &node.name, &policy, None).await?;
            }
        }
        let mut outputs = cur.outputs.clone();
        if changed.iter().any(|k| k == "instance_profile") {
            if b(attrs, "instance_profile") {
                outputs.extend(ensure_profile(c, &node.name, None).await?);
            } else {
                remove_from_profile(c, &node.name).await?;
                delete_profile(c, &node.name).await?;
            }
        }
        Ok(outputs)
    }

    async fn delete(&self, c: &Clients, cur: &Observed) -> Result<(), BoxError> {
        // The instance profile, the inline policy and every managed policy at once.
        // Every inline policy the listing shows (a role found only by listing: read it now).
        let inline = async {
            let names = match cur.attrs.get("inline_policies") {
                Some(_) => strs(&cur.attrs, "inline_policies"),
                None => inline_policies(c, &cur.physical_id).await?,
            };
            for policy in names {
                set_policy(c, &cur.physical_id, &policy, None).await?;
            }
            Ok::<(), BoxError>(())
        };
        let managed = strs(&cur.attrs, "managed_policy_arns");
        let detach = futures::future::try_join_all(managed.iter().map(|arn| async move {
            let r = c
                .iam
                .detach_role_policy()
                .role_name(&cur.physical_id)
                .policy_arn(arn)
                .send()
                .await
                .ctx(|| format!("detach {arn} from role {}", cur.name));
            ignore_missing(r)
        }));
        // The instance profile, if the role has one (or was found by listing only).
        let profile = !matches!(cur.attrs.get("instance_profile"), Some(Value::Bool(false)));
        let remove = async {
            if profile {
                remove_from_profile(c, &cur.physical_id).await?;
            }
            Ok::<(), BoxError>(())
        };
        futures::try_join!(remove, inline, detach)?;
        // The role out of its profile: the two go at once. IAM answers DeleteConflict for a
        // while after the policies are detached.
        let role = async {
            let r = super::common::retry_in_use(crate::aws::IN_USE, || async {
                c.iam
                    .delete_role()
                    .role_name(&cur.physical_id)
                    .send()
                    .await
                    .ctx(|| format!("delete role {}", cur.name))
            })
            .await;
            ignore_missing(r)
        };
        let drop_profile = async {
            if profile {
                delete_profile(c, &cur.physical_id).await?;
            }
            Ok::<(), BoxError>(())
        };
        futures::try_join!(drop_profile, role)?;
        Ok(())
    }
}

/// The names of every inline policy of role `role` (none when it is gone).
async fn inline_policies(c: &Clients, role: &str) -> Result<Vec<String>, BoxError> {
    let mut pages = c
        .iam
        .list_role_policies()
        .role_name(role)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        match page.ctx(|| format!("list inline policies of role {role}")) {
            Err(e) if e.is_not_found() => break,
            r => out.extend(r?.policy_names),
        }
    }
    Ok(out)
}

/// An instance profile named like the role, holding it (EC2 instances take roles this way).
async fn ensure_profile(
    c: &Clients,
    name: &str,
    tags: Option<Vec<Tag>>,
) -> Result<Outputs, BoxError> {
    let existing = match c
        .iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .ctx(|| format!("get instance profile {name}"))
    {
        Err(e) if e.is_not_found() => None,
        r => r?.instance_profile,
    };
    let profile = match existing {
        Some(p) => p,
        None => c
            .iam
            .create_instance_profile()
            .instance_profile_name(name)
            .set_tags(tags)
            .send()
            .await
            .ctx(|| format!("create instance profile {name}"))?
            .instance_profile
            .ok_or("CreateInstanceProfile returned no profile")?,
    };
    if !profile.roles().iter().any(|r| r.role_name() == name) {
        c.iam
            .add_role_to_instance_profile()
            .instance_profile_name(name)
            .role_name(name)
            .send()
            .await
            .ctx(|| format!("add role {name} to its instance profile"))?;
    }
    Ok(Outputs::from([
        ("instance_profile_arn".into(), profile.arn().to_string()),
        ("instance_profile_name".into(), name.to_string()),
    ]))
}

async fn remove_from_profile(c: &Clients, name: &str) -> Result<(), BoxError> {
    let r = c
        .iam
        .remove_role_from_instance_profile()
        .instance_profile_name(name)
        .role_name(name)
        .send()
        .await
        .ctx(|| format!("remove role {name} from its instance profile"));
    ignore_missing(r)
}

async fn delete_profile(c: &Clients, name: &str) -> Result<(), BoxError> {
    let r = c
        .iam
        .delete_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .ctx(|| format!("delete instance profile {name}"));
    ignore_missing(r)
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

/// `Kind::retag`: see there.
fn retag<'a>(
    c: &'a Clients,
    cur: &'a Observed,
    set: &'a std::collections::BTreeMap<String, String>,
    remove: &'a [String],
) -> futures::future::BoxFuture<'a, Result<(), BoxError>> {
    Box::pin(async move {
        let role = &cur.physical_id;
        if !set.is_empty() {
            c.iam
                .tag_role()
                .role_name(role)
                .set_tags(Some(
                    set.iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect::<Result<Vec<_>, _>>()?,
                ))
                .send()
                .await
                .ctx(|| format!("tag role {role}"))?;
        }
        if !remove.is_empty() {
            c.iam
                .untag_role()
                .role_name(role)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .ctx(|| format!("untag role {role}"))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_task_roles_trust_names_this_account_and_reads_back_as_planned() {
        let planned = super::canonical_policy(&super::task_trust("us-east-1"));
        let written = planned.replace(super::THIS_ACCOUNT, "123456789012");
        assert!(
            written.contains(r#""aws:SourceAccount":"123456789012""#),
            "{written}"
        );
        assert!(
            written.contains(r#""aws:SourceArn":"arn:aws:ecs:us-east-1:123456789012:*""#),
            "{written}"
        );
        assert!(written.contains("ecs-tasks.amazonaws.com"), "{written}");
        let role = "arn:aws:iam::123456789012:role/pizza-api-us-east-1-task";
        assert_eq!(super::without_account(&written, role), planned);
        // A trust of another account is drift; a trust without the condition too.
        let other = planned.replace(super::THIS_ACCOUNT, "210987654321");
        assert_ne!(super::without_account(&other, role), planned);
        assert_ne!(super::without_account(super::TRUST, role), planned);
        assert!(
            super::canonical_policy(&super::task_trust("cn-north-1")).contains("arn:aws-cn:ecs:")
        );
    }
    /// The execution role trusts ECS tasks of this account only, read back with the role's
    /// account as the planned placeholder.
    #[test]
    fn the_execution_role_trusts_ecs_tasks_of_this_account_only() {
        let planned = super::canonical_policy(&super::execution_trust("us-east-1"));
        let role = "arn:aws:iam::123456789012:role/web-us-east-1-exec";
        let written =
            super::canonical_policy(&planned.replace(super::THIS_ACCOUNT, "123456789012"));
        assert!(
            written.contains(r#""StringEquals":{"aws:SourceAccount":"123456789012"}"#),
            "{written}"
        );
        assert!(
            written.contains(r#""aws:SourceArn":"arn:aws:ecs:us-east-1:123456789012:*""#),
            "{written}"
        );
        assert_eq!(super::without_account(&written, role), planned);
        assert_ne!(super::without_account(super::TRUST, role), planned);
    }

    /// Private ECR images name their repository; any other registry none.
    #[test]
    fn private_ecr_images_name_their_repository() {
        for (image, want) in [
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api:1.4",
                Some("arn:aws:ecr:us-east-1:123456789012:repository/shop/api"),
            ),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:abc",
                Some("arn:aws:ecr:eu-west-1:123456789012:repository/web"),
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/web",
                Some("arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/web"),
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web:2",
                Some("arn:aws-cn:ecr:cn-north-1:123456789012:repository/web"),
            ),
            ("public.ecr.aws/nginx/nginx-unprivileged:1.27", None),
            ("nginx:1.27", None),
            ("ghcr.io/acme/api:1", None),
            ("localhost:5000/api", None),
        ] {
            assert_eq!(super::ecr_repository(image).as_deref(), want, "{image}");
        }
    }

    /// A partial secret ARN (the name alone) matches the real secret through `-??????`.
    #[test]
    fn a_secret_without_its_suffix_gets_the_wildcard() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret";
        assert!(super::has_random_suffix(&format!("{arn}:shop/db-AbCdEf")));
        assert!(!super::has_random_suffix(&format!("{arn}:shop/db")));
        assert!(!super::has_random_suffix(&format!(
            "{arn}:shop/db-password"
        )));
        assert!(super::has_random_suffix(&format!("{arn}:db-secret")));
    }

    #[test]
    fn key_order_does_not_matter() {
        let a = super::canonical_policy(r#"{"Version":"1","Statement":[{"b":1,"a":2}]}"#);
        let b = super::canonical_policy(r#"{"Statement":[{"a":2,"b":1}],"Version":"1"}"#);
        assert_eq!(a, b);
        assert!(a.starts_with(r#"{"Statement""#));
    }

    #[test]
    fn url_encoded_and_plain_policies_compare_equal() {
        let plain = super::canonical_policy(super::TRUST);
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ecs-tasks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        assert_eq!(super::canonical_policy(encoded), plain);
    }
}
