//! `ballast`: parse the command line, run the command, exit. The only place that exits.

use std::process::ExitCode;

use clap::Parser;

use ballast::cli::Cli;
use ballast::error::Error;
use ballast::{commands, render};

fn main() -> ExitCode {
    let cli = Cli::parse();
    ballast::cli::init_logging(cli.global.verbose);
    let code = match commands::run(&cli) {
        Ok(code) => code,
        // Ctrl-C or SIGTERM: the command said what it stopped; no error message.
        Err(Error::Interrupted) => 130,
        Err(e) => {
            render::error::report(&e, render::Style::new(cli.global.color));
            e.exit_code()
        }
    };
    ExitCode::from(code as u8)
}
