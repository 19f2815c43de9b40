//! One error taxonomy for every AWS call.
//!
//! Every SDK call gets a "failed to <verb> <thing>" context through [`Ctx::ctx`], which also
//! classifies the error once into an [`ErrorKind`] from a code table per service ([`classify`]).
//! Resource kinds ask `e.kind()`; they never match error codes themselves.

use std::fmt;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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

#[derive(Debug)]
pub struct AwsError {
    /// e.g. "create target group web-tg"
    pub action: String,
    /// The SDK crate's service, e.g. `ec2`, `elasticloadbalancingv2`; empty when unknown.
    pub service: &'static str,
    /// AWS error code, e.g. `ThrottlingException`; `None` for transport errors.
    pub code: Option<String>,
    pub message: String,
    kind: ErrorKind,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(c) => write!(f, "failed to {}: {c}: {}", self.action, self.message)?,
            None => write!(f, "failed to {}: {}", self.action, self.message)?,
        }
        if self.kind == ErrorKind::AlreadyExists {
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
            "DependencyViolation" | "InvalidGroup.InUse" | "ResourceInUse" => Some(InUse),
            "InvalidGroup.Duplicate"
            | "InvalidPermission.Duplicate"
            | "RouteAlreadyExists"
            | "Resource.AlreadyAssociated"
            | "InvalidLaunchTemplateName.AlreadyExistsException" => Some(AlreadyExists),
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
            | "ResourceNotFoundException" => Some(NotFound),
            "ClusterContainsServicesException"
            | "ClusterContainsTasksException"
            | "ClusterContainsContainerInstancesException"
            | "ResourceInUseException" => Some(InUse),
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
            | "NoSuchPublicAccessBlockConfiguration" => Some(NotFound),
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

/// Adds "failed to <action>" to an SDK result, and classifies the error.
pub trait Ctx<T> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, AwsError>;
}

impl<T, E, R> Ctx<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, AwsError> {
        self.map_err(|err| {
            let service = service_of::<E>();
            match &err {
                SdkError::ServiceError(se) if se.err().code().is_some() => AwsError::from_code(
                    service,
                    action(),
                    se.err().code().unwrap_or_default(),
                    se.err()
                        .message()
                        .map(str::to_string)
                        .unwrap_or_else(|| DisplayErrorContext(se.err()).to_string()),
                ),
                other => {
                    let kind = match other {
                        SdkError::TimeoutError(_)
                        | SdkError::DispatchFailure(_)
                        | SdkError::ResponseError(_) => ErrorKind::Transport,
                        _ => ErrorKind::Other,
                    };
                    AwsError {
                        action: action(),
                        service,
                        code: None,
                        message: DisplayErrorContext(other).to_string(),
                        kind,
                    }
                }
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
            ("sts", "ExpiredToken", "", AccessDenied),
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
    fn already_exists_says_what_to_do() {
        let e = AwsError::from_code("iam", "create role web", "EntityAlreadyExists", "exists");
        assert!(e.to_string().ends_with("plan again)"), "{e}");
    }
}
