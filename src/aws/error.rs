//! Every SDK call gets a "failed to <verb> <thing>" context; not-found is classified in one
//! helper per service.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug)]
pub struct AwsError {
    /// e.g. "create target group web-tg"
    pub action: String,
    /// AWS error code, e.g. `ThrottlingException`; `None` for transport errors.
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(c) => write!(f, "failed to {}: {c}: {}", self.action, self.message),
            None => write!(f, "failed to {}: {}", self.action, self.message),
        }
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    pub fn new(action: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            action: action.into(),
            code: None,
            message: message.into(),
        }
    }

    pub fn code(&self) -> &str {
        self.code.as_deref().unwrap_or("")
    }

    pub fn is_ec2_not_found(&self) -> bool {
        self.code().ends_with(".NotFound") || self.code().ends_with("NotFound")
    }

    pub fn is_elbv2_not_found(&self) -> bool {
        matches!(
            self.code(),
            "LoadBalancerNotFound" | "TargetGroupNotFound" | "ListenerNotFound" | "RuleNotFound"
        )
    }

    pub fn is_ecs_not_found(&self) -> bool {
        matches!(
            self.code(),
            "ClusterNotFoundException" | "ServiceNotFoundException"
        ) || (self.code() == "ClientException" && self.message.to_lowercase().contains("not found"))
            || (self.code() == "ClientException"
                && self.message.contains("Unable to describe task definition"))
    }

    pub fn is_iam_not_found(&self) -> bool {
        self.code() == "NoSuchEntity"
    }

    pub fn is_logs_not_found(&self) -> bool {
        self.code() == "ResourceNotFoundException"
    }

    pub fn is_appscaling_not_found(&self) -> bool {
        self.code() == "ObjectNotFoundException"
    }

    /// "Still in use" errors that clear on their own once dependents are gone: EC2's
    /// dependency violations, ELB's resource in use, an ECS cluster with draining services or
    /// terminating container instances.
    pub fn is_dependency_violation(&self) -> bool {
        matches!(
            self.code(),
            "DependencyViolation"
                | "ResourceInUse"
                | "ResourceInUseException"
                | "ClusterContainsServicesException"
                | "ClusterContainsTasksException"
                | "ClusterContainsContainerInstancesException"
        )
    }
}

/// Adds "failed to <action>" to an SDK result.
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
            let (code, message) = match &err {
                SdkError::ServiceError(se) => (
                    se.err().code().map(str::to_string),
                    se.err()
                        .message()
                        .map(str::to_string)
                        .unwrap_or_else(|| DisplayErrorContext(se.err()).to_string()),
                ),
                other => (None, DisplayErrorContext(other).to_string()),
            };
            AwsError {
                action: action(),
                code,
                message,
            }
        })
    }
}
