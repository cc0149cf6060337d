//! The `herdsim` command line.

use clap::Parser;

/// Deterministic simulation and testing harness for Genesys Cloud and NICE CXone API clients.
#[derive(Parser, Debug)]
#[command(name = "herdsim", version, about, long_about = None)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    println!("herdsim: the harness commands arrive with the harness; see `herdsim --help`.");
}
