//! Command-line interface (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ballast",
    version,
    about = "Plan and apply a resilient web-service stack on AWS from one YAML file",
    after_help = "Exit codes: 0 success (plan --detailed-exitcode: no changes), 1 error, 2 plan has changes (with --detailed-exitcode), 3 deploy rolled back (circuit breaker or alarm), 4 timed out waiting for the rollout, 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct Global {
    /// AWS region (overrides the spec's `region`)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Named AWS profile
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator such as moto or LocalStack)
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// More logging (-v info, -vv debug, -vvv trace); or set BALLAST_LOG
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to use colors
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Show the values of the service's environment variables in plans (hidden by default:
    /// they may hold secrets)
    #[arg(long, global = true)]
    pub show_values: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The stack lock of a command that writes.
#[derive(Debug, Args, Clone, Copy)]
pub struct LockArgs {
    /// When another command holds the stack's lock, wait up to this long for it (e.g. 5m);
    /// without it a held lock fails at once
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
    /// How long the lock stays valid without renewal (the holder renews it every third)
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration, hide = true)]
    pub lock_lease: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MaintenanceMode {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a stack spec without calling AWS
    Validate(ValidateArgs),
    /// Show what deploy would change
    Plan(PlanArgs),
    /// Create or update the stack to match the spec
    Deploy(DeployArgs),
    /// Delete everything the stack owns (found by ownership tags)
    Destroy(DestroyArgs),
    /// Show the stack's health: tasks, last rollout, healthy targets per AZ, scaling bounds
    Status(StatusArgs),
    /// Switch the load balancer to a 503 maintenance page (`on`) or back to the service (`off`)
    ///
    /// `on` makes the stack's main listener answer every request with 503 and the page
    /// (`--page FILE`, else `dns.fallback.page`, else a built-in one; at most 1024 bytes of UTF-8)
    /// and remembers the target group in the listener's `ballast:maintenance` tag; `off` forwards
    /// to it again. Every region of the stack, or the one `--region` names. `plan` and `deploy`
    /// report a stack in maintenance and leave it so.
    Maintenance(MaintenanceArgs),
    /// Fail a region over in Route 53 and back: proves that failover works (exit 0 when Route
    /// 53 failed over and the health check is restored, 1 otherwise, 130 on Ctrl-C)
    ///
    /// Inverts the region's Route 53 health check (Route 53 then sees the region as down),
    /// waits until the name answers with something other than that region's load balancer,
    /// holds for --for, and restores the check (also on Ctrl-C, a timeout or an error).
    /// The global --region names the region to fail over (required; one of the stack's regions).
    Drill(DrillArgs),
    /// Break a stack's lock in one region: delete it if its id is LOCK_ID
    ///
    /// `deploy`, `destroy`, `maintenance` and `drill` hold a lock per stack and region (the SSM
    /// parameter /ballast/locks/STACK) while they write; a command that finds it held names the
    /// holder and the lock id. Use this only when that holder is gone (its lease has run out,
    /// or you know it crashed). A holder that renewed it moments ago may have made resources
    /// AWS does not list yet: unlock waits until they are listed (up to a third of the lease
    /// plus 30 s after its last renewal; --no-wait skips this), so the next command does not
    /// make them again. Exit 0 when the lock was removed or there was none, 1 when another lock
    /// is there (it is left), 130 on Ctrl-C during the wait (the lock is left).
    Unlock(UnlockArgs),
    /// Print the least-privilege IAM policy that plans, deploys and destroys the stack
    ///
    /// Without calling AWS: every action ballast may call for this spec (reads on every
    /// resource, writes scoped to the stack's names where IAM allows it), as a JSON policy
    /// document on stdout, for the role CI deploys with.
    IamPolicy(IamPolicyArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
}

// `ballast validate`: its arguments.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Stack spec (YAML)
    pub file: PathBuf,
}

// `ballast iam-policy`: its arguments.
#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// Stack spec (YAML)
    pub file: PathBuf,
}

// `ballast plan`: its arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    pub file: PathBuf,
    /// `json` writes a versioned plan to stdout
    #[arg(long, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the plan to this file, for `deploy --plan` to apply exactly it
    #[arg(long, value_name = "PLAN_FILE")]
    pub out: Option<PathBuf>,
}

// `ballast deploy`: its arguments.
#[derive(Debug, Args)]
pub struct DeployArgs {
    pub file: PathBuf,
    /// Apply without asking (required when stdin is not a terminal)
    #[arg(short, long)]
    pub yes: bool,
    /// `json` writes the outputs to stdout
    #[arg(long, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// Apply exactly this saved plan (`plan --out`), or change nothing if the spec or AWS
    /// changed since it was made; it was reviewed, so there is no prompt
    #[arg(long, value_name = "PLAN_FILE")]
    pub plan: Option<PathBuf>,
    /// Do not wait for the service rollout to finish
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the rollout (e.g. 900, 90s, 15m, 1h)
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub wait_timeout: std::time::Duration,
    /// How often to poll the rollout
    #[arg(long, default_value = "5s", value_parser = parse_duration, hide = true)]
    pub poll_interval: std::time::Duration,
    #[command(flatten)]
    pub lock: LockArgs,
}

// `ballast destroy`: its arguments.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["file", "stack"]))]
pub struct DestroyArgs {
    pub file: Option<PathBuf>,
    /// Destroy by stack name, without the spec (needs --region or AWS_REGION)
    #[arg(long)]
    pub stack: Option<String>,
    #[arg(short, long)]
    pub yes: bool,
    #[command(flatten)]
    pub lock: LockArgs,
    /// Give up on a delete still in use after this long (tests; the default is each
    /// resource's own bound, 6 minutes at most)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, hide = true)]
    pub in_use_wait: Option<std::time::Duration>,
}

// `ballast status`: its arguments.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["file", "stack"]))]
pub struct StatusArgs {
    pub file: Option<PathBuf>,
    /// By stack name, without the spec (needs --region or AWS_REGION)
    #[arg(long)]
    pub stack: Option<String>,
    /// One service of a stack of several (`services:`): its tasks, targets and scaling only
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Human)]
    pub output: Output,
}

// `ballast maintenance`: its arguments.
#[derive(Debug, Args)]
pub struct MaintenanceArgs {
    #[arg(value_enum)]
    pub mode: MaintenanceMode,
    pub file: PathBuf,
    /// The maintenance page (HTML, at most 1024 bytes; `on` only)
    #[arg(long)]
    pub page: Option<PathBuf>,
    /// Switch without asking (required when stdin is not a terminal)
    #[arg(short, long)]
    pub yes: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

// `ballast drill`: its arguments.
#[derive(Debug, Args)]
pub struct DrillArgs {
    pub file: PathBuf,
    /// How long the region stays failed over, counted from the start (e.g. 90s, 10m); 0
    /// restores as soon as failover is seen
    #[arg(long = "for", value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub hold: std::time::Duration,
    /// How long to wait for Route 53 to fail over before giving up (and restoring)
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Start without asking (required when stdin is not a terminal)
    #[arg(short, long)]
    pub yes: bool,
    /// `json` writes a summary to stdout
    #[arg(long, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// How often to poll Route 53
    #[arg(long, default_value = "5s", value_parser = parse_duration, hide = true)]
    pub poll_interval: std::time::Duration,
    #[command(flatten)]
    pub lock: LockArgs,
}

// `ballast unlock`: its arguments.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The stack's name
    pub stack: String,
    /// The lock id the refused command printed
    pub lock_id: String,
    /// Break it at once, without waiting for AWS to list what its holder made in its last
    /// moments (the wait lasts until a third of a lease plus 30 s after its last renewal)
    #[arg(long)]
    pub no_wait: bool,
}

// `ballast completions`: its arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

/// `90`, `90s`, `15m`, `1h`, `500ms`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 90s, 15m, 1h)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "ms" => return Ok(std::time::Duration::from_millis(n)),
        _ => return Err(format!("`{s}` has an unknown unit (use ms, s, m or h)")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

/// Logging on stderr: `-v` info, `-vv` debug, `-vvv` trace, or `BALLAST_LOG` (an `EnvFilter`).
pub fn init_logging(verbose: u8) {
    // The SDK's own WARN lines (a missing config file, a credential provider that failed) are
    // for -vv: at the default verbosity the error message says what went wrong.
    let default = match verbose {
        0 => "ballast=warn",
        1 => "ballast=info",
        2 => "warn,ballast=debug,aws_config=debug,aws_smithy_runtime=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BALLAST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(
            super::parse_duration("90").unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            super::parse_duration("15m").unwrap(),
            Duration::from_secs(900)
        );
        assert_eq!(
            super::parse_duration("1h").unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            super::parse_duration("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert!(super::parse_duration("soon").is_err());
    }
}
