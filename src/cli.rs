//! Command-line interface (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ballast",
    version,
    about = "Plan and apply a resilient web-service stack on AWS from one YAML file",
    after_help = "Exit codes: 0 success (plan --detailed-exitcode: no changes), 1 error, 2 plan has changes (with --detailed-exitcode)."
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a stack spec without calling AWS
    Validate {
        /// Stack spec (YAML)
        file: PathBuf,
    },
    /// Show what deploy would change
    Plan {
        file: PathBuf,
        /// `json` writes a versioned plan to stdout
        #[arg(long, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create or update the stack to match the spec
    Deploy {
        file: PathBuf,
        /// Apply without asking (required when stdin is not a terminal)
        #[arg(short, long)]
        yes: bool,
        /// `json` writes the outputs to stdout
        #[arg(long, value_enum, default_value_t = Output::Human)]
        output: Output,
    },
    /// Delete everything the stack owns (found by ownership tags)
    #[command(group = clap::ArgGroup::new("target").required(true).args(["file", "stack"]))]
    Destroy {
        file: Option<PathBuf>,
        /// Destroy by stack name, without the spec (needs --region or AWS_REGION)
        #[arg(long)]
        stack: Option<String>,
        #[arg(short, long)]
        yes: bool,
    },
    /// Print shell completions
    Completions { shell: clap_complete::Shell },
}
