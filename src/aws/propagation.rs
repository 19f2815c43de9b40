//! AWS is eventually consistent: what a run has just made may be "not found" on its first use,
//! and some services answer with their own words while a new resource propagates (ECS cannot
//! yet assume a role made seconds ago, Application Auto Scaling does not yet see a new
//! service). This module is the one place that knows those answers.
//!
//! How it works, once for every SDK call of every kind:
//! - The resource registry runs each kind's writes inside [`during`]`(Phase::Write, ..)`
//!   (a tokio task-local), its deletes in `Phase::Delete`, its discovery in
//!   `Phase::Discover`.
//! - [`Propagation`] is an interceptor and retry classifier on every client. After each failed
//!   attempt it reads the error's code and message from the raw response, and while the phase
//!   is `Write` and [`still_propagating`] says so, the call is retried with growing pauses
//!   (0.5 s doubling, at most 10 s) until the service's [`window`] has passed. Each pause is
//!   reported (`on_wait`): "waiting for AWS to see vpc-... (new resources take a few seconds to
//!   propagate), 4 s".
//! - A call that still fails when its window has passed fails as usual; `Ctx::ctx` then adds
//!   how long it waited.
//!
//! Errors that are not propagation (a real AccessDenied, a bad parameter, a NotFound on a
//! delete, which means done) are never retried here.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextMut, InterceptorContext,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::ErrorKind as RetryKind;

use super::error::{classify, ErrorKind};

/// What ballast is doing when it makes a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading what AWS has (discovery).
    Discover,
    /// Creating or changing a resource: ids it names were made or read by this run.
    Write,
    /// Deleting: not found means done.
    Delete,
}

tokio::task_local! {
    static PHASE: Phase;
}

/// Run `f` in `phase`: the calls it makes are classified accordingly.
pub async fn during<F: Future>(phase: Phase, f: F) -> F::Output {
    PHASE.scope(phase, f).await
}

/// The phase of the calling task, if any.
pub fn phase() -> Option<Phase> {
    PHASE.try_with(|p| *p).ok()
}

/// How long AWS may take to show a new resource to a service, after terraform-provider-aws
/// (`internal/service/*/wait.go`: EC2 5 min on first use, ECS 4 min for a new service's role
/// and target group, IAM, Application Auto Scaling, S3 and Route 53 2 min).
pub fn window(service: &str) -> Duration {
    let mins = match service {
        // WAF: terraform-provider-aws retries an association for 5 min while AWS WAF cannot
        // yet see a new web ACL or load balancer.
        "ec2" | "wafv2" => 5,
        "ecs" => 4,
        "iam"
        | "applicationautoscaling"
        | "s3"
        | "route53"
        | "elasticloadbalancingv2"
        | "cloudwatchlogs"
        | "servicediscovery"
        | "autoscaling" => 2,
        _ => 1,
    };
    Duration::from_secs(mins * 60)
}

/// "5 min", "2 min", "45 s".
pub fn human(d: Duration) -> String {
    if d.as_secs() >= 60 && d.as_secs() % 60 == 0 {
        format!("{} min", d.as_secs() / 60)
    } else {
        format!("{} s", d.as_secs())
    }
}

/// Values (ids, ARNs, names) of resources this run created: an access-denied answer that names
/// one of them (ECS `iam:PassRole` on a role made seconds ago) is propagation, one that names
/// anything else is real.
static FRESH: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Remember what a create returned.
pub fn remember<'a>(values: impl IntoIterator<Item = &'a str>) {
    let mut f = FRESH.lock().unwrap();
    f.extend(
        values
            .into_iter()
            .filter(|v| v.len() > 3)
            .map(str::to_string),
    );
}

fn mentions_fresh(message: &str) -> bool {
    let f = FRESH.lock().unwrap();
    f.iter().any(|v| message.contains(v.as_str()))
}

/// Operations whose NotFound means "already gone", never "not there yet".
fn removes(op: &str) -> bool {
    [
        "Delete",
        "Deregister",
        "Detach",
        "Disassociate",
        "Remove",
        "Revoke",
        "Untag",
        "Release",
    ]
    .iter()
    .any(|p| op.starts_with(p))
}

fn reads(op: &str) -> bool {
    ["Describe", "Get", "List", "Head"]
        .iter()
        .any(|p| op.starts_with(p))
}

/// Whether an error answer to `op` of `service` means AWS has not caught up yet with what this
/// run did, in `phase`.
///
/// Only while writing: a NotFound on a call that is not a removal (a delete that meets
/// NotFound is done), and on a read only where the missing thing is the resource itself (EC2's
/// `Invalid*ID.NotFound`, S3's `NoSuchBucket`), not an absent setting (no tags, no policy);
/// plus the answers AWS documents for a new role, target group, service or service-linked
/// role. Never an access denial, unless it is ECS refusing `iam:PassRole` of a role this run
/// created.
pub fn still_propagating(
    service: &str,
    op: &str,
    code: &str,
    message: &str,
    phase: Option<Phase>,
) -> bool {
    if phase != Some(Phase::Write) {
        return false;
    }
    let msg = message.to_ascii_lowercase();
    let documented = match (service, code) {
        ("ecs", "ClientException") => {
            msg.contains("unable to assume the role") || msg.contains("role is not valid")
        }
        ("ecs", "InvalidParameterException") => {
            msg.contains("does not have an associated load balancer")
                || msg.contains("unable to assume the service linked role")
        }
        ("ecs", "AccessDeniedException") => msg.contains("iam:passrole") && mentions_fresh(message),
        // ELB checks that it may write to an access-log bucket; a bucket (and its policy) made
        // a moment ago may not let it yet.
        ("elasticloadbalancingv2", "InvalidConfigurationRequest") => {
            msg.contains("access denied for bucket") && mentions_fresh(message)
        }
        // AssociateWebACL of a web ACL or load balancer made a moment ago: "AWS WAF couldn't
        // retrieve the resource that you requested. Retry your request."
        ("wafv2", "WAFUnavailableEntityException") => true,
        // CreateFlowLogs naming a role made a moment ago.
        ("ec2", "InvalidParameter") => msg.contains("unable to assume given iam role"),
        ("applicationautoscaling", "ValidationException") => {
            msg.contains("ecs service doesn't exist") || msg.contains("ecs service does not exist")
        }
        _ => false,
    };
    if documented {
        return true;
    }
    if classify(service, code, message) != ErrorKind::NotFound || removes(op) {
        return false;
    }
    if reads(op) {
        // Cloud Map's GetNamespace/GetOperation of the namespace a create just started.
        return (service == "ec2"
            && (code.contains("ID.NotFound") || code == "NatGatewayNotFound"))
            || code == "NoSuchBucket"
            || (service == "servicediscovery"
                && matches!(code, "NamespaceNotFound" | "OperationNotFound"));
    }
    true
}

/// What a message says is missing: the first quoted id or an ARN, for the progress line.
pub fn subject(message: &str) -> Option<String> {
    for q in ['\'', '"'] {
        let mut parts = message.split(q);
        if let (Some(_), Some(inner)) = (parts.next(), parts.next()) {
            if !inner.is_empty() && !inner.contains(' ') && inner.len() < 200 {
                return Some(inner.to_string());
            }
        }
    }
    if let Some(i) = message.find("with name ") {
        if let Some(name) = message[i + 10..].split_whitespace().next() {
            return Some(name.trim_end_matches(['.', ',']).to_string());
        }
    }
    message
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ',' | ':' | ';' | '(' | ')')))
        .find(|w| {
            w.starts_with("arn:")
                || w.starts_with("service/")
                || ["vpc-", "subnet-", "sg-", "igw-", "rtb-", "lt-", "eni-"]
                    .iter()
                    .any(|p| w.starts_with(p))
        })
        .map(str::to_string)
}

/// Where the pauses are reported (set by the command layer; nothing is printed without it).
static ON_WAIT: OnceLock<fn(&str, Duration)> = OnceLock::new();

/// Report each pause with `f(what, waited so far)`.
pub fn on_wait(f: fn(&str, Duration)) {
    let _ = ON_WAIT.set(f);
}

/// The line shown for a pause.
pub fn waiting_line(what: &str, waited: Duration) -> String {
    format!(
        "waiting for AWS to see {what} (new resources take a few seconds to propagate), {} s",
        waited.as_secs()
    )
}

/// The header the interceptor leaves on a failed attempt's response for the classifier and for
/// `Ctx::ctx`: `retry <ms>` (still propagating: retry after that pause), `waited <s>` (still
/// propagating after the whole window: fail), `stop` (a retryable error that has had its
/// attempts).
pub const VERDICT: &str = "x-ballast-propagation";

/// Attempts for errors other than propagation (throttling, 5xx): the retry configuration allows
/// more so that a propagation wait fits its window.
pub const OTHER_ATTEMPTS: u32 = 15;

const FIRST_PAUSE: Duration = Duration::from_millis(500);
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// The pause before attempt `attempts + 1`.
fn pause(attempts: u32) -> Duration {
    let n = attempts.saturating_sub(1).min(10);
    (FIRST_PAUSE * 2u32.pow(n)).min(MAX_PAUSE)
}

#[derive(Clone, Copy, Debug)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// The interceptor and retry classifier of one client (`service`: the SDK crate's name less
/// `aws_sdk_`).
#[derive(Clone, Debug)]
pub struct Propagation {
    service: &'static str,
}

impl Propagation {
    pub fn new(service: &'static str) -> Self {
        Propagation { service }
    }
}

/// The code and message of an error response: XML (`<Code>`, `<Message>`: EC2, the query
/// protocols, Route 53, S3) or JSON (`__type`/`code`, `message`), or the `x-amzn-errortype`
/// header.
pub fn error_code(headers: Option<&str>, body: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(body).ok()?;
    let between = |open: &str, close: &str| -> Option<String> {
        let i = text.find(open)? + open.len();
        let j = text[i..].find(close)? + i;
        Some(text[i..j].trim().to_string())
    };
    if let Some(code) = between("<Code>", "</Code>") {
        let message = between("<Message>", "</Message>").unwrap_or_default();
        return Some((code, message));
    }
    let json: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let field = |k: &[&str]| -> Option<String> {
        let j = json.as_ref()?;
        k.iter()
            .find_map(|k| j.get(*k).and_then(|v| v.as_str()).map(str::to_string))
    };
    let code = field(&["__type", "code", "Code"]).or_else(|| headers.map(str::to_string))?;
    // `aws.protocoltests#Code:http://...` -> `Code`
    let code = code
        .rsplit('#')
        .next()
        .unwrap_or(&code)
        .split(':')
        .next()
        .unwrap_or("")
        .to_string();
    let message = field(&["message", "Message", "errorMessage"]).unwrap_or_default();
    (!code.is_empty()).then_some((code, message))
}

impl Intercept for Propagation {
    fn name(&self) -> &'static str {
        "ballast::Propagation"
    }

    fn read_before_execution(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        ctx: &mut FinalizerInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_default();
        let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        let waited = cfg
            .load::<Started>()
            .map_or(Duration::ZERO, |s| s.0.elapsed());
        let Some(resp) = ctx.response_mut() else {
            return Ok(());
        };
        if resp.status().is_success() {
            return Ok(());
        }
        let header = resp.headers().get("x-amzn-errortype").map(str::to_string);
        let Some((code, message)) = resp
            .body()
            .bytes()
            .and_then(|b| error_code(header.as_deref(), b))
        else {
            return Ok(());
        };
        let verdict = if still_propagating(self.service, &op, &code, &message, phase()) {
            let p = pause(attempts);
            let window = window(self.service);
            if waited + p <= window {
                if let Some(f) = ON_WAIT.get() {
                    let what = subject(&message).unwrap_or_else(|| format!("what {op} names"));
                    f(&what, waited + p);
                }
                format!("retry {}", p.as_millis())
            } else {
                format!("waited {}", window.as_secs())
            }
        } else if attempts >= OTHER_ATTEMPTS {
            "stop".to_string()
        } else {
            return Ok(());
        };
        resp.headers_mut().insert(VERDICT, verdict);
        Ok(())
    }
}

impl ClassifyRetry for Propagation {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(v) = ctx.response().and_then(|r| r.headers().get(VERDICT)) else {
            return RetryAction::NoActionIndicated;
        };
        if let Some(ms) = v.strip_prefix("retry ").and_then(|m| m.parse::<u64>().ok()) {
            return RetryAction::retryable_error_with_explicit_delay(
                RetryKind::TransientError,
                Duration::from_millis(ms),
            );
        }
        RetryAction::RetryForbidden
    }

    fn name(&self) -> &'static str {
        "ballast::Propagation"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// How long a call waited for propagation before it failed, from the verdict its last response
/// carried.
pub fn waited(verdict: Option<&str>) -> Option<Duration> {
    verdict?
        .strip_prefix("waited ")?
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Option<Phase> = Some(Phase::Write);

    #[test]
    fn a_new_resource_not_found_on_first_use_is_propagation_while_writing() {
        for (service, op, code, message) in [
            (
                "ec2",
                "ModifyVpcAttribute",
                "InvalidVpcID.NotFound",
                "The vpc ID 'vpc-1' does not exist",
            ),
            ("ec2", "CreateSubnet", "InvalidVpcID.NotFound", ""),
            ("ec2", "AuthorizeSecurityGroupIngress", "InvalidGroup.NotFound", ""),
            ("ec2", "AttachInternetGateway", "InvalidInternetGatewayID.NotFound", ""),
            ("ec2", "CreateRoute", "InvalidRouteTableID.NotFound", ""),
            ("ec2", "AssociateRouteTable", "InvalidSubnetID.NotFound", ""),
            ("ec2", "DescribeVpcAttribute", "InvalidVpcID.NotFound", ""),
            ("ec2", "CreateTags", "InvalidGroup.NotFound", ""),
            (
                "iam",
                "PutRolePolicy",
                "NoSuchEntity",
                "The role with name web-task cannot be found.",
            ),
            ("iam", "AddRoleToInstanceProfile", "NoSuchEntity", ""),
            (
                "ecs",
                "RegisterTaskDefinition",
                "ClientException",
                "ECS was unable to assume the role 'arn:aws:iam::1:role/x' that was provided for this task.",
            ),
            (
                "ecs",
                "RegisterTaskDefinition",
                "ClientException",
                "Role is not valid",
            ),
            (
                "ec2",
                "CreateFlowLogs",
                "InvalidParameter",
                "Unable to assume given IAM role: 'arn:aws:iam::1:role/web-us-east-1-flow-logs'",
            ),
            ("ecs", "CreateService", "ClusterNotFoundException", "Cluster not found."),
            (
                "ecs",
                "CreateService",
                "InvalidParameterException",
                "The target group with targetGroupArn arn:x does not have an associated load balancer.",
            ),
            (
                "ecs",
                "CreateCluster",
                "InvalidParameterException",
                "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
            ),
            (
                "applicationautoscaling",
                "RegisterScalableTarget",
                "ValidationException",
                "ECS service doesn't exist: service/web/web",
            ),
            (
                "applicationautoscaling",
                "PutScalingPolicy",
                "ObjectNotFoundException",
                "No scalable target registered for service namespace: ecs",
            ),
            ("s3", "PutBucketWebsite", "NoSuchBucket", ""),
            ("s3", "GetBucketWebsite", "NoSuchBucket", ""),
            ("route53", "ChangeTagsForResource", "NoSuchHealthCheck", ""),
            ("cloudwatchlogs", "PutRetentionPolicy", "ResourceNotFoundException", ""),
            ("servicediscovery", "GetNamespace", "NamespaceNotFound", ""),
            ("servicediscovery", "GetOperation", "OperationNotFound", ""),
            (
                "ecs",
                "CreateService",
                "NamespaceNotFoundException",
                "The specified namespace was not found.",
            ),
        ] {
            assert!(
                still_propagating(service, op, code, message, W),
                "{service} {op} {code} {message}"
            );
        }
    }

    #[test]
    fn real_errors_fail_fast() {
        for (service, op, code, message, phase) in [
            // Not while writing: discovery reads, deletes, commands that only read.
            ("ec2", "ModifyVpcAttribute", "InvalidVpcID.NotFound", "", None),
            (
                "ec2",
                "DescribeVpcAttribute",
                "InvalidVpcID.NotFound",
                "",
                Some(Phase::Discover),
            ),
            ("ec2", "DeleteVpc", "InvalidVpcID.NotFound", "", Some(Phase::Delete)),
            // A removal that meets NotFound is done.
            ("ec2", "DeleteSubnet", "InvalidSubnetID.NotFound", "", W),
            ("ec2", "DetachInternetGateway", "InvalidInternetGatewayID.NotFound", "", W),
            ("iam", "DeleteRolePolicy", "NoSuchEntity", "", W),
            ("servicediscovery", "DeleteNamespace", "NamespaceNotFound", "", W),
            // A tag read is not the namespace itself.
            ("servicediscovery", "ListTagsForResource", "ResourceNotFoundException", "", W),
            ("ec2", "RevokeSecurityGroupIngress", "InvalidGroup.NotFound", "", W),
            // A bad flow log parameter is not a role on its way.
            (
                "ec2",
                "CreateFlowLogs",
                "InvalidParameter",
                "Invalid Flow Log Max Aggregation Interval",
                W,
            ),
            // An absent setting is an answer, not a missing resource.
            ("s3", "GetBucketTagging", "NoSuchTagSet", "", W),
            ("s3", "GetBucketPolicy", "NoSuchBucketPolicy", "", W),
            ("iam", "GetRolePolicy", "NoSuchEntity", "", W),
            // Access denied and bad requests.
            (
                "ecs",
                "CreateService",
                "AccessDeniedException",
                "User: arn:aws:iam::1:user/bob is not authorized to perform: ecs:CreateService",
                W,
            ),
            (
                "ecs",
                "RegisterTaskDefinition",
                "AccessDeniedException",
                "User: arn:aws:iam::1:user/bob is not authorized to perform: iam:PassRole on resource: arn:aws:iam::1:role/someone-elses",
                W,
            ),
            ("ec2", "CreateVpc", "UnauthorizedOperation", "", W),
            ("ec2", "CreateSubnet", "InvalidSubnet.Range", "", W),
            ("ecs", "RegisterTaskDefinition", "ClientException", "Invalid cpu", W),
            (
                "applicationautoscaling",
                "RegisterScalableTarget",
                "ValidationException",
                "Maximum capacity cannot be less than minimum capacity",
                W,
            ),
            ("ecs", "CreateService", "ThrottlingException", "Rate exceeded", W),
        ] {
            assert!(
                !still_propagating(service, op, code, message, phase),
                "{service} {op} {code} {message} {phase:?}"
            );
        }
    }

    #[test]
    fn pass_role_is_propagation_only_for_a_role_this_run_created() {
        let msg = "User: arn:aws:iam::1:user/ci is not authorized to perform: iam:PassRole on resource: arn:aws:iam::1:role/fresh-web-task";
        assert!(!still_propagating(
            "ecs",
            "RegisterTaskDefinition",
            "AccessDeniedException",
            msg,
            W
        ));
        remember(["arn:aws:iam::1:role/fresh-web-task"]);
        assert!(still_propagating(
            "ecs",
            "RegisterTaskDefinition",
            "AccessDeniedException",
            msg,
            W
        ));
    }

    #[test]
    fn error_codes_are_read_from_each_protocol() {
        let ec2 = b"<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID 'vpc-1' does not exist</Message></Error></Errors><RequestID>r</RequestID></Response>";
        assert_eq!(
            error_code(None, ec2),
            Some((
                "InvalidVpcID.NotFound".into(),
                "The vpc ID 'vpc-1' does not exist".into()
            ))
        );
        let query = b"<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name r cannot be found.</Message></Error></ErrorResponse>";
        assert_eq!(error_code(None, query).unwrap().0, "NoSuchEntity");
        let json = br#"{"__type":"com.amazonaws.ecs#ClusterNotFoundException","message":"Cluster not found."}"#;
        assert_eq!(
            error_code(None, json),
            Some((
                "ClusterNotFoundException".into(),
                "Cluster not found.".into()
            ))
        );
        let plain = br#"{"__type":"ValidationException","Message":"ECS service doesn't exist"}"#;
        assert_eq!(error_code(None, plain).unwrap().0, "ValidationException");
        assert_eq!(
            error_code(Some("ClientException:http://x"), b"{}")
                .unwrap()
                .0,
            "ClientException"
        );
        assert_eq!(error_code(None, b"not an error"), None);
    }

    #[test]
    fn the_subject_is_the_missing_id() {
        assert_eq!(
            subject("The vpc ID 'vpc-1' does not exist").as_deref(),
            Some("vpc-1")
        );
        assert_eq!(
            subject("The target group with targetGroupArn arn:aws:elasticloadbalancing:x does not have an associated load balancer.").as_deref(),
            Some("arn:aws:elasticloadbalancing:x")
        );
        assert_eq!(
            subject("ECS service doesn't exist: service/web/web").as_deref(),
            Some("service/web/web")
        );
        assert_eq!(subject("Cluster not found."), None);
    }

    #[test]
    fn pauses_grow_and_windows_follow_the_service() {
        assert_eq!(pause(1), Duration::from_millis(500));
        assert_eq!(pause(2), Duration::from_secs(1));
        assert_eq!(pause(5), Duration::from_secs(8));
        assert_eq!(pause(6), MAX_PAUSE);
        assert_eq!(pause(40), MAX_PAUSE);
        assert_eq!(human(window("ec2")), "5 min");
        assert_eq!(human(window("iam")), "2 min");
        assert_eq!(human(window("ecs")), "4 min");
        assert_eq!(waited(Some("waited 300")), Some(Duration::from_secs(300)));
        assert_eq!(waited(Some("retry 500")), None);
        assert_eq!(
            waiting_line("vpc-1", Duration::from_secs(4)),
            "waiting for AWS to see vpc-1 (new resources take a few seconds to propagate), 4 s"
        );
    }
}
