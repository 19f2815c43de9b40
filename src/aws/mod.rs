//! AWS SDK configuration, clients and error helpers. The SDK crates are used here, in
//! `src/resources` (the kinds, and the listener reads and writes of `maintenance`) and in
//! `src/inspect` (the reads behind `status`, rollouts and DNS); never in `src/engine`,
//! `src/spec`, `src/render` or `src/commands` (`src/layers.rs` checks it).

pub mod error;
pub mod identity;
pub mod lock;
pub mod propagation;
pub mod shared;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

pub use error::{cap_in_use, AwsError, Ctx, ErrorKind, InUseRetry, IN_USE};
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
    /// Cloud Map: the stack's HTTP namespace (ECS Service Connect).
    pub servicediscovery: aws_sdk_servicediscovery::Client,
    /// WAF: the load balancer's web ACL.
    pub wafv2: aws_sdk_wafv2::Client,
    pub appscaling: aws_sdk_applicationautoscaling::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub route53: aws_sdk_route53::Client,
    pub s3: aws_sdk_s3::Client,
    /// CloudFront is global: the configuration as is (the SDK signs for us-east-1 whatever the
    /// region).
    pub cloudfront: aws_sdk_cloudfront::Client,
    /// Who the calls are made as (GetCallerIdentity).
    pub sts: aws_sdk_sts::Client,
    /// The stack lock (an SSM parameter per region: `lock`).
    pub ssm: aws_sdk_ssm::Client,
    /// Reads shared between kinds during discovery.
    pub shared: Shared,
    /// Who the calls are made as, asked once per process and credentials
    /// (`identity::caller`): the clients of every region share it.
    pub identity: Arc<tokio::sync::OnceCell<identity::Identity>>,
}

/// The identity cell of each set of credentials this process connected with (endpoint,
/// profile, static keys): one GetCallerIdentity per command, whatever the regions.
static IDENTITIES: std::sync::Mutex<
    std::collections::BTreeMap<String, Arc<tokio::sync::OnceCell<identity::Identity>>>,
> = std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Retries tuned for throttling: create/describe storms against ELB and ECS throttle long before
/// the SDK default of 3 attempts gives them time to recover. 15 attempts: a call throttled
/// independently half of the time fails once in 2^15 (a web stack's deploy and destroy make
/// about 200 calls: 10 attempts lost one cycle in five at 50 % throttling, see the README's
/// throttling trials), and 14 pauses of at most 20 s still end within the 5-minute operation
/// timeout. (Terraform's AWS provider allows 25.) The configuration allows more: a call that
/// waits for a new resource to propagate retries for up to its service's window (EC2 5 min, at
/// most 10 s apart); every other retryable error stops at 15 (`propagation::OTHER_ATTEMPTS`).
const MAX_ATTEMPTS: u32 = 45;

pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(250))
        .with_max_backoff(Duration::from_secs(20))
}

/// The SDK sets no timeouts: without these a hung connection hangs a deploy forever.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        // AWS endpoints connect in milliseconds; an address that does not answer fails fast
        // (see `Reachability`).
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(Duration::from_secs(60))
        .operation_attempt_timeout(Duration::from_secs(60))
        // The longest propagation window (EC2's 5 minutes) and its last attempt fit in it.
        .operation_timeout(Duration::from_secs(360))
        .build()
}

/// Instance metadata (IMDS) is the last place the credential chain looks, and on a laptop it
/// is not there: the SDK's defaults (1 s connect, 1 s read, 4 attempts) add seconds to every
/// run without credentials. One short attempt: a real instance answers in milliseconds.
fn imds_client() -> aws_config::imds::Client {
    aws_config::imds::Client::builder()
        .connect_timeout(Duration::from_millis(300))
        .read_timeout(Duration::from_millis(300))
        .max_attempts(1)
        .build()
}

/// Whether the endpoint has answered anything yet. Until it has, a call that cannot connect
/// (refused, DNS failure, connect timeout) is not retried: the endpoint is absent, and
/// `MAX_ATTEMPTS` attempts with backoff only delay the error. Once anything answered, connection errors
/// are transient again and retried as usual; throttling is retried either way.
#[derive(Clone, Debug, Default)]
pub struct Reachability {
    reached: Arc<AtomicBool>,
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for Reachability {
    fn name(&self) -> &'static str {
        "ballast::Reachability"
    }

    fn read_after_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.reached.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl aws_smithy_runtime_api::client::retries::classifiers::ClassifyRetry for Reachability {
    fn classify_retry(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
    ) -> aws_smithy_runtime_api::client::retries::classifiers::RetryAction {
        use aws_smithy_runtime_api::client::retries::classifiers::RetryAction;
        if ctx.response().is_some() {
            self.reached.store(true, Ordering::Relaxed);
            return RetryAction::NoActionIndicated;
        }
        let unreachable = matches!(
            ctx.output_or_error(),
            Some(Err(e)) if e.as_connector_error().is_some_and(|c| c.is_io() || c.is_timeout())
        );
        if unreachable && !self.reached.load(Ordering::Relaxed) {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "ballast::Reachability"
    }
}

pub async fn connect(s: &Settings) -> Clients {
    connect_as(s, None).await
}

/// `connect`, signing with these static keys instead of the default credential chain (for a
/// caller that holds its own keys, such as a test that signs with a key of its own).
pub async fn connect_with_keys(s: &Settings, access_key_id: &str, secret: &str) -> Clients {
    let keys = aws_sdk_sts::config::Credentials::new(access_key_id, secret, None, None, "static");
    connect_as(s, Some(keys)).await
}

async fn connect_as(s: &Settings, keys: Option<aws_sdk_sts::config::Credentials>) -> Clients {
    let who = format!(
        "{:?}|{:?}|{:?}",
        s.endpoint_url,
        s.profile,
        keys.as_ref().map(|k| k.access_key_id().to_string())
    );
    let identity = IDENTITIES.lock().unwrap().entry(who).or_default().clone();
    error::set_target(error::Target {
        endpoint_url: s.endpoint_url.clone(),
        profile: s.profile.clone(),
    });
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(s.region.clone()))
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    // The default chain (environment, profile incl. SSO and credential_process, web identity,
    // ECS, IMDS) with a quick IMDS.
    let mut chain = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
        .region(Region::new(s.region.clone()))
        .imds_client(imds_client());
    if let Some(p) = &s.profile {
        loader = loader.profile_name(p);
        chain = chain.profile_name(p);
    }
    loader = match keys {
        Some(k) => loader.credentials_provider(k),
        None => loader.credentials_provider(chain.build().await),
    };
    if let Some(url) = &s.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let conf = loader.load().await;
    let reach = Reachability::default();
    // Every client: reachability, the propagation waits, and a retry quota that never runs out
    // (the SDK's token bucket would end a propagation wait after a few dozen retries in a
    // deploy; attempts and windows bound the retries instead).
    macro_rules! builder {
        ($sdk:ident) => {{
            let service = stringify!($sdk).trim_start_matches("aws_sdk_");
            $sdk::config::Builder::from(&conf)
                .interceptor(reach.clone())
                .retry_classifier(reach.clone())
                .interceptor(propagation::Propagation::new(service))
                .retry_classifier(propagation::Propagation::new(service))
                .retry_partition(
                    aws_smithy_runtime::client::retries::RetryPartition::custom(format!(
                        "ballast-{service}"
                    ))
                    .token_bucket(aws_smithy_runtime::client::retries::TokenBucket::unlimited())
                    .build(),
                )
        }};
    }
    macro_rules! client {
        ($sdk:ident) => {
            $sdk::Client::from_conf(builder!($sdk).build())
        };
    }
    Clients {
        region: s.region.clone(),
        ec2: client!(aws_sdk_ec2),
        elbv2: client!(aws_sdk_elasticloadbalancingv2),
        ecs: client!(aws_sdk_ecs),
        iam: client!(aws_sdk_iam),
        logs: client!(aws_sdk_cloudwatchlogs),
        servicediscovery: client!(aws_sdk_servicediscovery),
        wafv2: client!(aws_sdk_wafv2),
        appscaling: client!(aws_sdk_applicationautoscaling),
        autoscaling: client!(aws_sdk_autoscaling),
        cloudwatch: client!(aws_sdk_cloudwatch),
        sns: client!(aws_sdk_sns),
        route53: client!(aws_sdk_route53),
        // Path-style addressing: bucket names with dots (the fallback bucket is named like the
        // record it serves) break virtual-host TLS, and emulators serve only path style.
        s3: aws_sdk_s3::Client::from_conf(builder!(aws_sdk_s3).force_path_style(true).build()),
        cloudfront: aws_sdk_cloudfront::Client::new(&conf),
        sts: client!(aws_sdk_sts),
        ssm: client!(aws_sdk_ssm),
        shared: Shared::default(),
        identity,
    }
}
