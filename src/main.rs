//! The `herdsim` command line: run scenarios, check their determinism, compare traces.
//!
//! Exit codes: 0 ok; 1 the run's own assertions failed (or `check`/`diff` found a divergence);
//! 2 bad input (an unknown scenario, a scenario file with an error, an unreadable trace);
//! 141 when the reader of standard output went away (see `output.rs`).

/// `print!` that ends quietly on a closed pipe (see `output.rs`).
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!($($arg)*)) };
}

/// `println!` that ends quietly on a closed pipe (see `output.rs`).
macro_rules! outln {
    () => { $crate::output::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

mod args;
mod grammar;
mod lookup;
mod output;
mod run_commands;
mod serve_command;
mod shrink_command;
mod sweep_commands;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, CommandError};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_commands::run(&args),
        Command::List => run_commands::list(),
        Command::Check(args) => run_commands::check(&args),
        Command::Diff(args) => run_commands::diff(&args),
        Command::Sweep(args) => sweep_commands::sweep(&args),
        Command::Merge(args) => sweep_commands::merge(&args),
        Command::Compare(args) => sweep_commands::compare(&args),
        Command::Serve(args) => serve_command::serve(&args),
        Command::Grade(args) => serve_command::grade(&args),
        Command::Shrink(args) => shrink_command::shrink(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CommandError::Assertions) => ExitCode::from(1),
        Err(CommandError::BadInput(message)) => {
            eprintln!("herdsim: {message}");
            ExitCode::from(2)
        }
    }
}
