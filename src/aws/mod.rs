//! AWS SDK configuration, clients and error helpers. Only `src/aws` and `src/resources` use the
//! SDK crates.

pub mod error;
pub mod shared;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

pub use error::{AwsError, Ctx, ErrorKind, InUseRetry, IN_USE};
pub use shared::Shared;

/// Where and as whom to talk to AWS.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub region: String,
    pub profile: Option<String>,
    /// `--endpoint-url` / `AWS_ENDPOINT_URL`: an emulator such as moto or LocalStack.
    pub endpoint_url: Option<String>,
}

/// One client per service, sharing one configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub appscaling: aws_sdk_applicationautoscaling::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub route53: aws_sdk_route53::Client,
    pub s3: aws_sdk_s3::Client,
    /// CloudFront is global: the configuration as is (the SDK signs for us-east-1 whatever the
    /// region).
    pub cloudfront: aws_sdk_cloudfront::Client,
    /// Reads shared between kinds during discovery.
    pub shared: Shared,
}

/// Retries tuned for throttling: create/describe storms against ELB and ECS throttle long before
/// the SDK default of 3 attempts gives them time to recover.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(250))
        .with_max_backoff(Duration::from_secs(20))
}

/// The SDK sets no timeouts: without these a hung connection hangs a deploy forever.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(60))
        .operation_attempt_timeout(Duration::from_secs(60))
        .operation_timeout(Duration::from_secs(300))
        .build()
}

pub async fn connect(s: &Settings) -> Clients {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(s.region.clone()))
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    if let Some(p) = &s.profile {
        loader = loader.profile_name(p);
    }
    if let Some(url) = &s.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let conf = loader.load().await;
    Clients {
        region: s.region.clone(),
        ec2: aws_sdk_ec2::Client::new(&conf),
        elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
        ecs: aws_sdk_ecs::Client::new(&conf),
        iam: aws_sdk_iam::Client::new(&conf),
        logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
        appscaling: aws_sdk_applicationautoscaling::Client::new(&conf),
        autoscaling: aws_sdk_autoscaling::Client::new(&conf),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&conf),
        sns: aws_sdk_sns::Client::new(&conf),
        route53: aws_sdk_route53::Client::new(&conf),
        // Path-style addressing: bucket names with dots (the fallback bucket is named like the
        // record it serves) break virtual-host TLS, and emulators serve only path style.
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        ),
        cloudfront: aws_sdk_cloudfront::Client::new(&conf),
        shared: Shared::default(),
    }
}
