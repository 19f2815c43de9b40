//! One error taxonomy for every AWS call.
//!
//! Every SDK call gets a "failed to <verb> <thing>" context through [`Ctx::ctx`], which also
//! classifies the error once into an [`ErrorKind`] from a code table per service ([`classify`]).
//! Resource kinds ask `e.kind()`; they never match error codes themselves.

use std::fmt;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::text::shorten;

/// What an AWS error means for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The resource does not exist (a delete that meets it is done).
    NotFound,
    /// The resource is still used by another (dependency violation, a draining service): it
    /// clears on its own once the dependents are gone.
    InUse,
    /// It exists already: created by someone else between plan and apply.
    AlreadyExists,
    /// Rate limited (the SDK retries these first; one that reaches us exhausted its retries).
    Throttled,
    /// Credentials missing, expired or not allowed to make the call.
    AccessDenied,
    /// AWS rejected the request's values.
    Invalid,
    /// No answer: connection refused, timed out, or a response that could not be read.
    Transport,
    Other,
}

#[derive(Clone, Debug)]
pub struct AwsError {
    /// e.g. "create target group web-tg"
    pub action: String,
    /// The SDK crate's service, e.g. `ec2`, `elasticloadbalancingv2`; empty when unknown.
    pub service: &'static str,
    /// AWS error code, e.g. `ThrottlingException`; `None` for transport errors.
    pub code: Option<String>,
    pub message: String,
    kind: ErrorKind,
    /// How long the call waited for a new resource to propagate before it gave up.
    pub waited: Option<Duration>,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(c) if self.kind == ErrorKind::AccessDenied => {
                match access_denied(c, &self.message) {
                    Some(m) => write!(f, "failed to {}: {m}", self.action)?,
                    None if c.starts_with("Expired") => write!(
                        f,
                        "failed to {}: {c}: the session has expired: {}",
                        self.action,
                        credentials_help(target().profile.as_deref())
                    )?,
                    None => write!(
                        f,
                        "failed to {}: access denied ({c}): {}",
                        self.action,
                        shorten(&self.message, 300)
                    )?,
                }
            }
            Some(c) => write!(
                f,
                "failed to {}: {c}: {}",
                self.action,
                shorten(&self.message, 600)
            )?,
            None => write!(f, "failed to {}: {}", self.action, self.message)?,
        }
        if let Some(w) = self.waited {
            write!(
                f,
                " (still so after waiting {} for AWS to propagate what this run made)",
                super::propagation::human(w)
            )?;
        } else if self.kind == ErrorKind::AlreadyExists {
            f.write_str(" (it was created after the plan was made: plan again)")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    /// An error of ballast's own (no AWS code): kind `Other`.
    pub fn new(action: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            action: action.into(),
            service: "",
            code: None,
            message: message.into(),
            kind: ErrorKind::Other,
            waited: None,
        }
    }

    /// A missing thing found by reading a list (not an AWS error code): kind `NotFound`.
    pub fn not_found(
        service: &'static str,
        action: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            action: action.into(),
            service,
            code: None,
            message: message.into(),
            kind: ErrorKind::NotFound,
            waited: None,
        }
    }

    /// An error AWS answered with `code`, classified by `service`'s table.
    pub fn from_code(
        service: &'static str,
        action: impl Into<String>,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        AwsError {
            kind: classify(service, code, &message),
            action: action.into(),
            service,
            code: Some(code.to_string()),
            message,
            waited: None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    pub fn code(&self) -> &str {
        self.code.as_deref().unwrap_or("")
    }
}

/// The kind of an AWS error code, by service: first the service's own table, then the codes
/// every service shares (throttling, credentials). `service` is the SDK crate's name less
/// `aws_sdk_` (`ec2`, `elasticloadbalancingv2`, `ecs`, `iam`, `cloudwatchlogs`,
/// `applicationautoscaling`, `autoscaling`, `cloudwatch`, `sns`, ...).
pub fn classify(service: &str, code: &str, message: &str) -> ErrorKind {
    use ErrorKind::*;
    let msg = message.to_ascii_lowercase();
    let own = match service {
        "ec2" => match code {
            "DependencyViolation"
            | "InvalidGroup.InUse"
            | "ResourceInUse"
            | "InvalidIPAddress.InUse" => Some(InUse),
            "NatGatewayNotFound" => Some(NotFound),
            // ReleaseAddress of an Elastic IP a NAT gateway still holds (it is being deleted):
            // AWS answers this, not InvalidIPAddress.InUse.
            "AuthFailure" if msg.contains("permission to access the specified resource") => {
                Some(InUse)
            }
            "InvalidGroup.Duplicate"
            | "InvalidPermission.Duplicate"
            | "RouteAlreadyExists"
            | "Resource.AlreadyAssociated"
            | "InvalidLaunchTemplateName.AlreadyExistsException"
            | "FlowLogAlreadyExists" => Some(AlreadyExists),
            "UnauthorizedOperation" => Some(AccessDenied),
            "InvalidParameterValue"
            | "InvalidParameterCombination"
            | "InvalidParameter"
            | "MissingParameter"
            | "InvalidVpcRange"
            | "InvalidSubnet.Range"
            | "InvalidSubnet.Conflict" => Some(Invalid),
            c if c.ends_with(".NotFound") || c.ends_with(".NotFoundException") => Some(NotFound),
            // `InvalidVpcID.Malformed`: a bad id, not a missing one.
            c if c.ends_with(".Malformed") => Some(Invalid),
            _ => None,
        },
        "elasticloadbalancingv2" => match code {
            "LoadBalancerNotFound"
            | "TargetGroupNotFound"
            | "ListenerNotFound"
            | "RuleNotFound" => Some(NotFound),
            "ResourceInUse" => Some(InUse),
            "DuplicateLoadBalancerName"
            | "DuplicateTargetGroupName"
            | "DuplicateListener"
            | "DuplicateTagKeys" => Some(AlreadyExists),
            "ValidationError"
            | "InvalidConfigurationRequest"
            | "InvalidTarget"
            | "InvalidScheme"
            | "InvalidSubnet"
            | "InvalidSecurityGroup"
            | "CertificateNotFound"
            | "UnsupportedProtocol"
            | "IncompatibleProtocols" => Some(Invalid),
            _ => None,
        },
        "ecs" => match code {
            "ClusterNotFoundException"
            | "ServiceNotFoundException"
            | "TargetNotFoundException"
            | "NamespaceNotFoundException"
            | "ResourceNotFoundException" => Some(NotFound),
            "ClusterContainsServicesException"
            | "ClusterContainsTasksException"
            | "ClusterContainsContainerInstancesException"
            | "ResourceInUseException"
            // Another edit of a cluster's capacity providers is still being applied.
            | "UpdateInProgressException" => Some(InUse),
            // ECS says "not found" in a ClientException for task definitions and capacity
            // providers; any other ClientException is a real error.
            "ClientException"
                if msg.contains("not found")
                    || msg.contains("unable to describe task definition")
                    || msg.contains("does not exist") =>
            {
                Some(NotFound)
            }
            "ClientException" | "InvalidParameterException" => Some(Invalid),
            _ => None,
        },
        "iam" => match code {
            "NoSuchEntity" => Some(NotFound),
            "DeleteConflict" => Some(InUse),
            "EntityAlreadyExists" => Some(AlreadyExists),
            "ValidationError" | "MalformedPolicyDocument" | "InvalidInput" => Some(Invalid),
            _ => None,
        },
        "cloudwatchlogs" => match code {
            "ResourceNotFoundException" => Some(NotFound),
            "ResourceAlreadyExistsException" => Some(AlreadyExists),
            "OperationAbortedException" => Some(InUse),
            "InvalidParameterException" => Some(Invalid),
            _ => None,
        },
        "applicationautoscaling" => match code {
            // ListTagsForResource says ResourceNotFoundException, the rest ObjectNotFound.
            "ObjectNotFoundException" | "ResourceNotFoundException" => Some(NotFound),
            "ConcurrentUpdateException" => Some(InUse),
            "ValidationException" => Some(Invalid),
            _ => None,
        },
        "autoscaling" => match code {
            // Auto Scaling reports a missing group as a ValidationError.
            "ValidationError" if msg.contains("not found") => Some(NotFound),
            "ResourceInUse" | "ScalingActivityInProgress" => Some(InUse),
            "AlreadyExists" => Some(AlreadyExists),
            "ValidationError" => Some(Invalid),
            _ => None,
        },
        "cloudwatch" => match code {
            // DashboardNotFoundError is the shape; its awsQuery code is ResourceNotFound.
            "ResourceNotFound" | "ResourceNotFoundException" | "DashboardNotFoundError" => {
                Some(NotFound)
            }
            "InvalidParameterValue"
            | "InvalidParameterCombination"
            | "MissingParameter"
            | "ValidationError"
            | "InvalidFormat" => Some(Invalid),
            // A quota (alarms per region, ...): retrying does not help, it needs a person.
            "LimitExceeded" | "LimitExceededException" => Some(Other),
            _ => None,
        },
        "route53" => match code {
            "NoSuchHealthCheck" | "NoSuchHostedZone" | "NoSuchChange" => Some(NotFound),
            "HealthCheckInUse" => Some(InUse),
            "HealthCheckAlreadyExists" => Some(AlreadyExists),
            // Refused record changes: DELETE of values that are not there, CREATE of a record
            // that exists.
            "InvalidChangeBatch" | "InvalidInput" | "InvalidArgument" => Some(Invalid),
            "PriorRequestNotComplete" => Some(Throttled),
            _ => None,
        },
        "s3" => match code {
            "NoSuchBucket"
            | "NoSuchKey"
            | "NotFound"
            | "NoSuchTagSet"
            | "NoSuchTagSetError"
            | "NoSuchWebsiteConfiguration"
            | "NoSuchBucketPolicy"
            | "NoSuchPublicAccessBlockConfiguration"
            | "ServerSideEncryptionConfigurationNotFoundError"
            | "OwnershipControlsNotFoundError"
            | "NoSuchLifecycleConfiguration" => Some(NotFound),
            "BucketNotEmpty" => Some(InUse),
            "BucketAlreadyOwnedByYou" => Some(AlreadyExists),
            // Another account has the name: nothing ballast can fix by planning again.
            "BucketAlreadyExists" => Some(Other),
            _ => None,
        },
        "cloudfront" => match code {
            "NoSuchDistribution" => Some(NotFound),
            // DeleteDistribution of a distribution that is still enabled (or not yet deployed
            // disabled).
            "DistributionNotDisabled" => Some(InUse),
            "CNAMEAlreadyExists" | "DistributionAlreadyExists" => Some(AlreadyExists),
            "InvalidViewerCertificate" | "InvalidArgument" => Some(Invalid),
            _ => None,
        },
        "sns" => match code {
            // NotFound for topics and subscriptions, ResourceNotFound for tags of a topic.
            "NotFound" | "ResourceNotFound" => Some(NotFound),
            "InvalidParameter" | "InvalidParameterValue" => Some(Invalid),
            "AuthorizationError" => Some(AccessDenied),
            "Throttled" => Some(Throttled),
            _ => None,
        },
        "sts" => match code {
            // STS is switched off for the account in this (opt-in) region: an account setting,
            // not a request ballast can fix.
            "RegionDisabledException" => Some(AccessDenied),
            _ => None,
        },
        "servicediscovery" => match code {
            "NamespaceNotFound"
            | "ServiceNotFound"
            | "OperationNotFound"
            | "ResourceNotFoundException" => Some(NotFound),
            // DeleteNamespace while ECS still has Service Connect services in it.
            "ResourceInUse" => Some(InUse),
            "NamespaceAlreadyExists" | "DuplicateRequest" => Some(AlreadyExists),
            "InvalidInput" => Some(Invalid),
            "RequestLimitExceeded" => Some(Throttled),
            _ => None,
        },
        "wafv2" => match code {
            "WAFNonexistentItemException" => Some(NotFound),
            // DeleteWebACL of an ACL still associated with a resource; an update or delete
            // with a lock token another change has made stale.
            "WAFAssociatedItemException" | "WAFOptimisticLockException" => Some(InUse),
            "WAFDuplicateItemException" => Some(AlreadyExists),
            "WAFInvalidParameterException"
            | "WAFInvalidOperationException"
            | "WAFLimitsExceededException" => Some(Invalid),
            _ => None,
        },
        "ssm" => match code {
            "ParameterNotFound" | "ParameterVersionNotFound" => Some(NotFound),
            "ParameterAlreadyExists" => Some(AlreadyExists),
            "TooManyUpdates" => Some(Throttled),
            "ValidationException"
            | "InvalidAllowedPatternException"
            | "ParameterPatternMismatchException"
            | "HierarchyLevelLimitExceededException"
            | "UnsupportedParameterType" => Some(Invalid),
            _ => None,
        },
        _ => None,
    };
    own.unwrap_or(match code {
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "ProvisionedThroughputExceededException"
        | "SlowDown" => Throttled,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthFailure"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "MissingAuthenticationToken" => AccessDenied,
        "ValidationError" | "ValidationException" | "InvalidParameterValue" => Invalid,
        _ => Other,
    })
}

/// The service of an SDK error type, from its crate: `aws_sdk_ec2::operation::...` -> `ec2`.
fn service_of<E>() -> &'static str {
    let name = std::any::type_name::<E>();
    name.strip_prefix("aws_sdk_")
        .and_then(|rest| rest.split("::").next())
        .unwrap_or("")
}

/// Where calls go and as whom, for messages: set once by `aws::connect`.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
}

static TARGET: std::sync::OnceLock<Target> = std::sync::OnceLock::new();

pub(crate) fn set_target(t: Target) {
    let _ = TARGET.set(t);
}

fn target() -> Target {
    TARGET.get().cloned().unwrap_or_default()
}

/// The service's name as people know it.
pub fn service_name(service: &str) -> &str {
    match service {
        "ec2" => "EC2",
        "elasticloadbalancingv2" => "Elastic Load Balancing",
        "ecs" => "ECS",
        "iam" => "IAM",
        "cloudwatchlogs" => "CloudWatch Logs",
        "applicationautoscaling" => "Application Auto Scaling",
        "autoscaling" => "EC2 Auto Scaling",
        "cloudwatch" => "CloudWatch",
        "sns" => "SNS",
        "route53" => "Route 53",
        "s3" => "S3",
        "sts" => "STS",
        "ssm" => "SSM",
        "servicediscovery" => "Cloud Map",
        "wafv2" => "WAF",
        "" => "AWS",
        other => other,
    }
}

/// An error's Display and its sources' on one line, without the SDK's debug dumps.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    crate::text::chain(e)
}

/// How to get credentials, for the messages that lack them.
fn credentials_help(profile: Option<&str>) -> String {
    let login = match profile {
        Some(p) => format!("aws sso login --profile {p}"),
        None => "aws sso login".to_string(),
    };
    format!(
        "pass --profile NAME (a profile in ~/.aws/config), run `{login}` for an SSO profile, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
}

/// Why a call without an AWS error code failed, in words, and its kind.
pub fn describe_failure(
    service: &'static str,
    chain: &str,
    debug: &str,
    status: Option<u16>,
    what: Failure,
) -> (ErrorKind, String) {
    let t = target();
    let lower = chain.to_ascii_lowercase();
    let svc = service_name(service);
    if lower.contains("sso token has expired")
        || lower.contains("token has expired and cannot be refreshed")
    {
        let login = match &t.profile {
            Some(p) => format!("aws sso login --profile {p}"),
            None => "aws sso login".to_string(),
        };
        return (
            ErrorKind::AccessDenied,
            format!("the SSO session has expired: run `{login}` and try again"),
        );
    }
    if lower.contains("no credentials found in chain")
        || lower.contains("credential provider was not enabled")
    {
        return (
            ErrorKind::AccessDenied,
            format!(
                "no AWS credentials found (tried environment variables, the shared config and credentials files{}, SSO, and instance metadata): {}",
                t.profile
                    .as_deref()
                    .map(|p| format!(" (profile `{p}`)"))
                    .unwrap_or_default(),
                credentials_help(t.profile.as_deref())
            ),
        );
    }
    if lower.contains("credential") && what == Failure::Dispatch {
        return (
            ErrorKind::AccessDenied,
            format!(
                "could not load AWS credentials: {}: {}",
                shorten(chain, 300),
                credentials_help(t.profile.as_deref())
            ),
        );
    }
    let addr = t
        .endpoint_url
        .clone()
        .or_else(|| socket_address(debug))
        .unwrap_or_else(|| format!("the {svc} endpoint"));
    match what {
        Failure::Dispatch | Failure::Timeout => {
            let why = if lower.contains("connection refused") {
                "connection refused".to_string()
            } else if lower.contains("dns error") || lower.contains("failed to lookup") {
                "the name does not resolve".to_string()
            } else if what == Failure::Timeout
                || lower.contains("timeout")
                || lower.contains("timed out")
            {
                "no answer in time".to_string()
            } else {
                shorten(chain, 200)
            };
            (
                ErrorKind::Transport,
                format!("could not reach {svc} at {addr}: {why}"),
            )
        }
        Failure::Response => (
            ErrorKind::Transport,
            format!(
                "{svc} answered{} with a response ballast could not read",
                status.map(|s| format!(" HTTP {s}")).unwrap_or_default()
            ),
        ),
        Failure::NoCode => {
            let kind = match status {
                Some(401 | 403) => ErrorKind::AccessDenied,
                Some(404) => ErrorKind::NotFound,
                Some(429) => ErrorKind::Throttled,
                _ => ErrorKind::Other,
            };
            (
                kind,
                format!(
                    "{svc} answered{} without an error code",
                    status.map(|s| format!(" HTTP {s}")).unwrap_or_default()
                ),
            )
        }
        Failure::Construction => (
            ErrorKind::Other,
            format!("could not build the request: {}", shorten(chain, 300)),
        ),
    }
}

/// What went wrong with a call that has no AWS error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The request was never answered (or credentials could not be loaded).
    Dispatch,
    Timeout,
    /// An answer that could not be read.
    Response,
    /// An error answer without a code.
    NoCode,
    Construction,
}

/// The address a connection went to, from hyper's `ConnectError("tcp connect error", ADDR, ..)`.
fn socket_address(debug: &str) -> Option<String> {
    let i = debug.find("ConnectError(")?;
    let rest = &debug[i..];
    let mut parts = rest.splitn(3, ", ");
    parts.next()?;
    let addr = parts.next()?;
    (addr.contains(':') && addr.len() < 64 && !addr.contains(' ')).then(|| addr.to_string())
}

/// An access-denied message in parts: who (the principal), what (the IAM action), on what.
fn access_denied(code: &str, message: &str) -> Option<String> {
    // "User: arn:aws:iam::1:user/bob is not authorized to perform: ec2:DescribeVpcs
    //  [on resource: arn...] [because ...]"
    let i = message.find("User: ")?;
    let rest = &message[i + 6..];
    let principal = rest.split_whitespace().next()?;
    let perm_at = rest.find("to perform: ")?;
    let perm = rest[perm_at + 12..].split_whitespace().next()?;
    let resource = rest
        .find("on resource: ")
        .and_then(|j| rest[j + 13..].split_whitespace().next())
        .map(|r| format!(" on {}", r.trim_end_matches(['.', ','])))
        .unwrap_or_default();
    Some(format!(
        "access denied ({code}): {principal} may not call {}{resource}: grant it in IAM, or use another profile (--profile)",
        perm.trim_end_matches(['.', ','])
    ))
}

/// Adds "failed to <action>" to an SDK result, and classifies the error.
pub trait Ctx<T> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, AwsError>;
}

type HttpResponse = aws_smithy_runtime_api::http::Response;

impl<T, E> Ctx<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, AwsError> {
        self.map_err(|err| {
            let service = service_of::<E>();
            if let SdkError::ServiceError(se) = &err {
                if let Some(code) = se.err().code() {
                    let mut e = AwsError::from_code(
                        service,
                        action(),
                        code,
                        se.err()
                            .message()
                            .map(str::to_string)
                            .unwrap_or_else(|| causes(se.err())),
                    );
                    e.waited = super::propagation::waited(
                        se.raw().headers().get(super::propagation::VERDICT),
                    );
                    return e;
                }
            }
            let (what, status) = match &err {
                SdkError::ServiceError(se) => (Failure::NoCode, Some(se.raw().status().as_u16())),
                SdkError::ResponseError(r) => (Failure::Response, Some(r.raw().status().as_u16())),
                SdkError::TimeoutError(_) => (Failure::Timeout, None),
                SdkError::DispatchFailure(_) => (Failure::Dispatch, None),
                _ => (Failure::Construction, None),
            };
            let (kind, message) =
                describe_failure(service, &causes(&err), &format!("{err:?}"), status, what);
            tracing::debug!(error = ?err, "{} call failed", service_name(service));
            AwsError {
                action: action(),
                service,
                code: None,
                message,
                kind,
                waited: None,
            }
        })
    }
}

/// How long to keep retrying a call that fails with [`ErrorKind::InUse`]: growing pauses,
/// bounded in time (not only in attempts).
#[derive(Clone, Copy, Debug)]
pub struct InUseRetry {
    pub first_pause: Duration,
    pub max_pause: Duration,
    /// Give up once this much time has passed since the first attempt.
    pub budget: Duration,
}

impl InUseRetry {
    /// The budget, or less where `destroy --in-use-wait` (hidden, for tests) shortened it for
    /// this process.
    pub fn limit(&self) -> Duration {
        self.budget.min(*IN_USE_CAP.get().unwrap_or(&Duration::MAX))
    }
}

static IN_USE_CAP: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

/// Bound every in-use retry of this process by `d` (`destroy --in-use-wait`).
pub fn cap_in_use(d: Duration) {
    let _ = IN_USE_CAP.set(d);
}

/// The one policy for deletes that wait on dependents going away (ENIs of a deleted load
/// balancer, a draining service, terminating container instances): about six minutes.
pub const IN_USE: InUseRetry = InUseRetry {
    first_pause: Duration::from_millis(500),
    max_pause: Duration::from_secs(15),
    budget: Duration::from_secs(360),
};

#[cfg(test)]
mod tests {
    use super::ErrorKind::*;
    use super::*;

    #[test]
    fn the_code_table_classifies_each_service() {
        let cases: &[(&str, &str, &str, ErrorKind)] = &[
            ("ec2", "InvalidVpcID.NotFound", "", NotFound),
            ("ec2", "InvalidGroup.NotFound", "", NotFound),
            ("ec2", "InvalidRouteTableID.NotFound", "", NotFound),
            ("ec2", "InvalidInternetGatewayID.NotFound", "", NotFound),
            (
                "ec2",
                "InvalidLaunchTemplateName.NotFoundException",
                "",
                NotFound,
            ),
            ("ec2", "InvalidVpcID.Malformed", "", Invalid),
            ("ec2", "DependencyViolation", "", InUse),
            ("ec2", "InvalidIPAddress.InUse", "", InUse),
            ("ec2", "NatGatewayNotFound", "", NotFound),
            ("ec2", "InvalidFlowLogId.NotFound", "", NotFound),
            ("ec2", "FlowLogAlreadyExists", "", AlreadyExists),
            (
                "ec2",
                "AuthFailure",
                "You do not have permission to access the specified resource.",
                InUse,
            ),
            ("ec2", "InvalidPermission.Duplicate", "", AlreadyExists),
            ("ec2", "RequestLimitExceeded", "", Throttled),
            ("ec2", "UnauthorizedOperation", "", AccessDenied),
            ("ec2", "InvalidParameterValue", "", Invalid),
            (
                "elasticloadbalancingv2",
                "LoadBalancerNotFound",
                "",
                NotFound,
            ),
            (
                "elasticloadbalancingv2",
                "TargetGroupNotFound",
                "",
                NotFound,
            ),
            ("elasticloadbalancingv2", "ListenerNotFound", "", NotFound),
            ("elasticloadbalancingv2", "RuleNotFound", "", NotFound),
            ("elasticloadbalancingv2", "ResourceInUse", "", InUse),
            (
                "elasticloadbalancingv2",
                "DuplicateTargetGroupName",
                "",
                AlreadyExists,
            ),
            ("elasticloadbalancingv2", "CertificateNotFound", "", Invalid),
            ("elasticloadbalancingv2", "Throttling", "", Throttled),
            ("ecs", "ClusterNotFoundException", "", NotFound),
            ("ecs", "ServiceNotFoundException", "", NotFound),
            (
                "ecs",
                "ClientException",
                "Unable to describe task definition.",
                NotFound,
            ),
            (
                "ecs",
                "ClientException",
                "The capacity provider was not found",
                NotFound,
            ),
            (
                "ecs",
                "ClientException",
                "Not authorized to pass role",
                Invalid,
            ),
            ("ecs", "ClusterContainsServicesException", "", InUse),
            (
                "ecs",
                "ClusterContainsContainerInstancesException",
                "",
                InUse,
            ),
            ("ecs", "ResourceInUseException", "", InUse),
            ("ecs", "UpdateInProgressException", "", InUse),
            ("ecs", "AccessDeniedException", "", AccessDenied),
            ("ecs", "ThrottlingException", "", Throttled),
            ("iam", "NoSuchEntity", "", NotFound),
            ("iam", "DeleteConflict", "", InUse),
            ("iam", "EntityAlreadyExists", "", AlreadyExists),
            ("iam", "AccessDenied", "", AccessDenied),
            ("cloudwatchlogs", "ResourceNotFoundException", "", NotFound),
            (
                "cloudwatchlogs",
                "ResourceAlreadyExistsException",
                "",
                AlreadyExists,
            ),
            (
                "applicationautoscaling",
                "ObjectNotFoundException",
                "",
                NotFound,
            ),
            (
                "applicationautoscaling",
                "ResourceNotFoundException",
                "",
                NotFound,
            ),
            ("applicationautoscaling", "ValidationException", "", Invalid),
            (
                "autoscaling",
                "ValidationError",
                "AutoScalingGroup name not found - web-asg",
                NotFound,
            ),
            (
                "autoscaling",
                "ValidationError",
                "Max bigger than min",
                Invalid,
            ),
            ("autoscaling", "ResourceInUse", "", InUse),
            ("autoscaling", "AlreadyExists", "", AlreadyExists),
            ("cloudwatch", "ResourceNotFound", "", NotFound),
            ("cloudwatch", "ResourceNotFoundException", "", NotFound),
            ("cloudwatch", "DashboardNotFoundError", "", NotFound),
            ("cloudwatch", "InvalidParameterValue", "", Invalid),
            ("cloudwatch", "InvalidParameterCombination", "", Invalid),
            ("cloudwatch", "MissingParameter", "", Invalid),
            ("cloudwatch", "ValidationError", "", Invalid),
            ("cloudwatch", "InvalidFormat", "", Invalid),
            ("cloudwatch", "LimitExceeded", "", Other),
            ("cloudwatch", "LimitExceededException", "", Other),
            ("cloudwatch", "Throttling", "", Throttled),
            ("cloudfront", "NoSuchDistribution", "", NotFound),
            ("cloudfront", "DistributionNotDisabled", "", InUse),
            ("cloudfront", "CNAMEAlreadyExists", "", AlreadyExists),
            ("cloudfront", "DistributionAlreadyExists", "", AlreadyExists),
            ("cloudfront", "InvalidViewerCertificate", "", Invalid),
            ("cloudfront", "InvalidArgument", "", Invalid),
            ("cloudfront", "Throttling", "", Throttled),
            ("sns", "NotFound", "", NotFound),
            ("sns", "ResourceNotFound", "", NotFound),
            ("sns", "InvalidParameter", "", Invalid),
            ("sns", "InvalidParameterValue", "", Invalid),
            ("sns", "AuthorizationError", "", AccessDenied),
            ("sns", "Throttled", "", Throttled),
            ("sts", "RegionDisabledException", "", AccessDenied),
            ("sts", "InvalidClientTokenId", "", AccessDenied),
            ("sts", "ExpiredToken", "", AccessDenied),
            ("ssm", "ParameterNotFound", "", NotFound),
            ("servicediscovery", "NamespaceNotFound", "", NotFound),
            ("servicediscovery", "ResourceInUse", "", InUse),
            (
                "servicediscovery",
                "NamespaceAlreadyExists",
                "",
                AlreadyExists,
            ),
            ("servicediscovery", "RequestLimitExceeded", "", Throttled),
            ("ecs", "NamespaceNotFoundException", "", NotFound),
            ("ssm", "ParameterAlreadyExists", "", AlreadyExists),
            ("ssm", "TooManyUpdates", "", Throttled),
            ("ssm", "ThrottlingException", "", Throttled),
            ("ecs", "SomethingNew", "", Other),
            // A code that means "not found" in one service means nothing in another.
            ("iam", "ResourceNotFoundException", "", Other),
            ("cloudwatchlogs", "ObjectNotFoundException", "", Other),
        ];
        for (service, code, message, want) in cases {
            assert_eq!(
                classify(service, code, message),
                *want,
                "{service} {code} {message:?}"
            );
        }
    }

    #[test]
    fn the_service_comes_from_the_sdk_crate() {
        assert_eq!(
            service_of::<aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError>(),
            "ec2"
        );
        assert_eq!(
            service_of::<aws_sdk_cloudwatchlogs::operation::delete_log_group::DeleteLogGroupError>(
            ),
            "cloudwatchlogs"
        );
        assert_eq!(
            service_of::<aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsError>(),
            "cloudwatch"
        );
        assert_eq!(
            service_of::<aws_sdk_sns::operation::list_topics::ListTopicsError>(),
            "sns"
        );
        assert_eq!(
            service_of::<aws_sdk_cloudfront::operation::list_distributions::ListDistributionsError>(
            ),
            "cloudfront"
        );
        assert_eq!(service_of::<std::io::Error>(), "");
    }

    #[test]
    fn access_denied_names_the_call_the_permission_the_resource_and_the_principal() {
        let e = AwsError::from_code(
            "ecs",
            "create service web",
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: ecs:CreateService on resource: arn:aws:ecs:us-east-1:123456789012:service/web/web because no identity-based policy allows the ecs:CreateService action",
        );
        assert_eq!(e.kind(), AccessDenied);
        assert_eq!(
            e.to_string(),
            "failed to create service web: access denied (AccessDeniedException): arn:aws:iam::123456789012:user/bob may not call ecs:CreateService on arn:aws:ecs:us-east-1:123456789012:service/web/web: grant it in IAM, or use another profile (--profile)"
        );
        // EC2's encoded authorization message is cut, not echoed whole.
        let blob = "x".repeat(2000);
        let e = AwsError::from_code(
            "ec2",
            "describe VPCs",
            "UnauthorizedOperation",
            format!("You are not authorized to perform this operation. Encoded authorization failure message: {blob}"),
        );
        let s = e.to_string();
        assert!(s.starts_with("failed to describe VPCs: access denied (UnauthorizedOperation): You are not authorized"), "{s}");
        assert!(s.len() < 400 && s.contains("more characters)"), "{s}");
    }

    #[test]
    fn errors_without_a_code_name_the_service_and_the_status() {
        let (kind, m) = describe_failure("ec2", "service error", "", Some(500), Failure::NoCode);
        assert_eq!(
            (kind, m.as_str()),
            (Other, "EC2 answered HTTP 500 without an error code")
        );
        let (kind, _) = describe_failure("ecs", "service error", "", Some(403), Failure::NoCode);
        assert_eq!(kind, AccessDenied);
        let (kind, m) = describe_failure("ecs", "response error", "", Some(200), Failure::Response);
        assert_eq!(kind, Transport);
        assert_eq!(
            m,
            "ECS answered HTTP 200 with a response ballast could not read"
        );
    }

    #[test]
    fn credential_failures_say_how_to_fix_them() {
        let (kind, m) = describe_failure(
            "ec2",
            "dispatch failure: other: the credential provider was not enabled: no credentials found in chain",
            "",
            None,
            Failure::Dispatch,
        );
        assert_eq!(kind, AccessDenied);
        assert!(
            m.starts_with("no AWS credentials found (tried environment variables"),
            "{m}"
        );
        for fix in ["--profile", "aws sso login", "AWS_ACCESS_KEY_ID"] {
            assert!(m.contains(fix), "{m}");
        }
        let (kind, m) = describe_failure(
            "ec2",
            "dispatch failure: other: failed to load token: the SSO token has expired and cannot be refreshed",
            "",
            None,
            Failure::Dispatch,
        );
        assert_eq!(kind, AccessDenied);
        assert!(
            m.contains("SSO session has expired: run `aws sso login"),
            "{m}"
        );
    }

    #[test]
    fn unreachable_endpoints_name_the_address() {
        let debug = r#"DispatchFailure(DispatchFailure { source: ConnectorError { kind: Io, source: hyper_util::client::legacy::Error(Connect, ConnectError("tcp connect error", 10.1.2.3:443, Os { code: 111 })) } })"#;
        let (kind, m) = describe_failure(
            "ecs",
            "dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111)",
            debug,
            None,
            Failure::Dispatch,
        );
        assert_eq!(kind, Transport);
        assert_eq!(m, "could not reach ECS at 10.1.2.3:443: connection refused");
    }

    #[test]
    fn already_exists_says_what_to_do() {
        let e = AwsError::from_code("iam", "create role web", "EntityAlreadyExists", "exists");
        assert!(e.to_string().ends_with("plan again)"), "{e}");
    }
}
