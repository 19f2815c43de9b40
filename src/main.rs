use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use ballast::cli::{Cli, Command};
use ballast::error::Error;
use ballast::{commands, render};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose);
    let g = &cli.global;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = match &cli.command {
        Command::Validate { file } => commands::validate::run(file, g),
        Command::Plan {
            file,
            output,
            detailed_exitcode,
            out,
        } => rt.block_on(commands::plan::run(
            file,
            *output,
            *detailed_exitcode,
            out.as_deref(),
            g,
        )),
        Command::Deploy {
            file,
            yes,
            plan,
            output,
            no_wait,
            wait_timeout,
            poll_interval,
            lock,
        } => {
            let wait = (!no_wait).then_some(commands::deploy::Wait {
                timeout: *wait_timeout,
                poll: *poll_interval,
            });
            rt.block_on(commands::deploy::run(
                file,
                *yes,
                plan.as_deref(),
                *output,
                wait,
                lock.into(),
                g,
            ))
        }
        Command::Destroy {
            file,
            stack,
            yes,
            lock,
            in_use_wait,
        } => rt.block_on(commands::destroy::run(
            file.as_deref(),
            stack.as_deref(),
            *yes,
            lock.into(),
            *in_use_wait,
            g,
        )),
        Command::Status {
            file,
            stack,
            output,
        } => rt.block_on(commands::status::run(
            file.as_deref(),
            stack.as_deref(),
            *output,
            g,
        )),
        Command::Maintenance {
            mode,
            file,
            page,
            yes,
            lock,
        } => rt.block_on(commands::maintenance::run(
            *mode,
            file,
            page.as_deref(),
            *yes,
            lock.into(),
            g,
        )),
        Command::Drill {
            file,
            hold,
            timeout,
            yes,
            output,
            poll_interval,
            lock,
        } => rt.block_on(commands::drill::run(
            file,
            g.region.as_deref(),
            commands::drill::Options {
                hold: *hold,
                timeout: *timeout,
                poll: *poll_interval,
                yes: *yes,
                output: *output,
                lock: lock.into(),
            },
            g,
        )),
        Command::Unlock {
            stack,
            lock_id,
            no_wait,
        } => rt.block_on(commands::unlock::run(stack, lock_id, *no_wait, g)),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "ballast",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
    };
    let code = match result {
        Ok(code) => code,
        // Ctrl-C: the command said what it stopped; no error message.
        Err(Error::Interrupted) => 130,
        Err(e) => {
            render::error::report(&e, render::Style::new(g.color));
            e.exit_code()
        }
    };
    // A confirmation prompt left waiting on stdin (Ctrl-C at it) runs on a blocking thread:
    // exit without waiting for it.
    rt.shutdown_background();
    ExitCode::from(code as u8)
}

fn init_tracing(verbose: u8) {
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
