//! The command line's grammar (clap): every command, its arguments and their help, and how a
//! command fails.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The scenario `herdsim run` runs with no argument.
pub const DEFAULT_SCENARIO: &str = "thundering-herd";

/// How request lines are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
    /// No per-request lines (summaries only).
    None,
}

/// Deterministic simulation and testing harness for Genesys Cloud and NICE CXone API clients.
///
/// A scenario (a TOML file, or the name of a shipped one) and a seed give one run: the same
/// (scenario, seed, commit) gives the same trace, byte for byte.
#[derive(Parser, Debug)]
#[command(name = "herdsim", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario: the metrics, the trace hash, and the trace or the timeline if asked.
    Run(RunArgs),
    /// The shipped scenarios, one line each.
    List,
    /// Run each seed twice and report any divergence with the first differing event.
    Check(CheckArgs),
    /// The first divergence between two traces (JSON lines) and a summary of the differences.
    Diff(DiffArgs),
    /// A grid of settings × seeds in parallel: medians, p95, the Pareto frontier of makespan
    /// against wasted attempts, and a recommended setting.
    Sweep(SweepArgs),
    /// Merge sweep result files (shards, or interrupted runs) into one summary.
    Merge(MergeArgs),
    /// Every peer preset and herdsim's own policy side by side on the same seeds.
    Compare(CompareArgs),
    /// Shrink a failing run to a smaller scenario that still fails the same way; writes it as
    /// TOML with its timeline, and prints the replay command.
    Shrink(ShrinkArgs),
    /// Serve the scenario's gateway over real HTTP in real time, for clients in any language,
    /// and grade what they do (a scorecard at /__herdsim/, in summaries and at shutdown).
    Serve(ServeArgs),
    /// The scorecard of a recorded session (`herdsim serve --record FILE`); exit 1 if any rule
    /// failed.
    Grade(GradeArgs),
}

/// What selects a scenario and changes it, shared by the commands that run one.
#[derive(Args, Debug, Clone)]
pub struct ScenarioArgs {
    /// A shipped scenario's name (see `herdsim list`) or the path of a scenario file.
    #[arg(default_value = DEFAULT_SCENARIO)]
    pub scenario: String,
    /// Override a field, e.g. `--set instances.workers=50 --set client.backoff.jitter=equal`.
    /// The value is TOML (`4`, `true`, `[1, 2]`); anything else is taken as a string.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// The scenario's quick version (its `small` overrides, applied before `--set`).
    #[arg(long)]
    pub small: bool,
    /// The fast network mode (`--set network.mode=fast`): in memory on a paused runtime, idle
    /// time skipped. A different network from turmoil's: seeds reproduce within a mode.
    #[arg(long)]
    pub fast: bool,
    /// Run in environment INDEX of the swarm of SEED, as `herdsim sweep --swarm` drew it
    /// (applied after `--set`): how a swarm's report replays one of its environments.
    #[arg(long, value_name = "SEED:INDEX")]
    pub swarm_env: Option<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The seed (default: the scenario's own `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the trace as JSON lines to this file.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Print the readable timeline of every event.
    #[arg(long)]
    pub timeline: bool,
    /// Print the metrics as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write a markdown report with SVG charts into this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// A swept field and its values, e.g. `--param client.concurrency=4,8,16,32`; repeat for a
    /// grid. Values are TOML; commas inside brackets or quotes do not split.
    #[arg(long = "param", value_name = "KEY=V1,V2,...")]
    pub params: Vec<String>,
    /// Seeds: `N` (N seeds from the scenario's own seed), `A..B` (B excluded) or `A..=B`.
    #[arg(long, default_value = "0..10")]
    pub seeds: String,
    /// Threads (default: every core). Each run is single-threaded and deterministic.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Results file, one JSON line per run, written as runs finish
    /// (default: sweep-<scenario>.jsonl, or with .shard-I-of-N).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Continue an interrupted sweep: skip the runs the results file already holds.
    #[arg(long)]
    pub resume: bool,
    /// Run only shard I of N (`--shard 0/4`); `herdsim merge` joins the shards' files. Without
    /// it, a Slurm job array (`SLURM_ARRAY_TASK_ID` of `SLURM_ARRAY_TASK_COUNT`) or a Kubernetes
    /// Indexed Job (`JOB_COMPLETION_INDEX` of `--shard-count`) picks the shard.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// The number of shards of a Kubernetes Indexed Job (its `completions`; default
    /// `HERDSIM_SHARD_COUNT`).
    #[arg(long, value_name = "N")]
    pub shard_count: Option<u64>,
    /// Also draw K gateway environments around the scenario (limiter algorithm, windows, burst
    /// and keys; 5xx and lost responses; token lifetime; Retry-After style; background load;
    /// the first is the scenario as written), run every setting in every one, and recommend the
    /// setting that is Pareto-robust across them, with its worst-case ratio to the exact bound.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub swarm: Option<u32>,
    /// The seed the swarm's environments are drawn from (default: the scenario's `seed`).
    #[arg(long, value_name = "N", requires = "swarm")]
    pub swarm_seed: Option<u64>,
    /// Write a markdown report with an SVG chart into this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Result files of one sweep (its shards, or parts of it).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Also write the merged results to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write a markdown report with an SVG chart into this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Seeds: `N` (N seeds from the scenario's own seed), `A..B` or `A..=B`.
    #[arg(long, default_value = "5")]
    pub seeds: String,
    /// Threads (default: every core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Write a markdown report with an SVG chart into this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Seeds: `N` (N seeds from the scenario's own seed, or from `--seed`), `A..B` or `A..=B`.
    #[arg(long, default_value = "3")]
    pub seeds: String,
    /// The first seed (default: the scenario's own `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Address to listen on (port 0 picks a free port; the first line printed names it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// The gateway's seed (fault rates, ids; default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// One line per request as text or JSON, or none.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Write the gateway's events as JSON lines (a trace) to this file.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Print a summary line this often.
    #[arg(long, default_value_t = 60)]
    pub summary_every_s: u64,
    /// Connections served at once; more get 503 and are closed.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Idle keep-alive timeout, in s. Default: 15 s more than the longest Retry-After the
    /// scenario sends, and at least 75 s.
    #[arg(long, value_name = "S")]
    pub idle_timeout_s: Option<u64>,
    /// A request head must arrive within this many seconds of its first byte (slow heads are cut).
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub head_timeout_s: u64,
    /// A request body must arrive within this many seconds (else 408, counted as a timeout).
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub body_timeout_s: u64,
    /// No connection lives longer than this many seconds (then it closes gracefully).
    #[arg(long, value_name = "S", default_value_t = 600)]
    pub connection_deadline_s: u64,
    /// At shutdown, write the scorecard as markdown with charts, and report.html with a
    /// zoomable timeline, into this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

/// What a shrunk run must keep failing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ShrinkProperty {
    /// The scenario's own `[expect]` (the first one the run failed).
    Expectations,
    /// Items with no outcome, or writes reported ok missing from the ledger.
    Lost,
    /// A create applied twice.
    Duplicates,
    /// A request sent before a Retry-After the server gave ran out.
    EarlySends,
    /// The makespan over `--bound-ratio` × the exact bound.
    Bound,
}

#[derive(Args, Debug)]
pub struct ShrinkArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The failing run's seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// What the run must keep failing.
    #[arg(long, value_enum, default_value = "expectations")]
    pub property: ShrinkProperty,
    /// For `--property bound`: the ratio of makespan to the exact bound that fails.
    #[arg(long, default_value_t = 1.1)]
    pub bound_ratio: f64,
    /// The most runs to make.
    #[arg(long, default_value_t = 200)]
    pub max_runs: u64,
    /// The most seconds to take (a shrink stopped by it says so: its result depends on the machine).
    #[arg(long, default_value_t = 300)]
    pub max_seconds: u64,
    /// Other seeds to try once the scenario shrinks no more at its own (0..N).
    #[arg(long, default_value_t = 8)]
    pub other_seeds: u64,
    /// Where to write the shrunk scenario (default: shrunk-<scenario>-seed-<N>.toml); its
    /// timeline goes beside it as .timeline.txt.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GradeArgs {
    /// A file written by `herdsim serve --record`.
    pub trace: PathBuf,
    /// Print the scorecard as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// A trace written by `herdsim run --trace`.
    pub left: PathBuf,
    /// Another trace.
    pub right: PathBuf,
}

/// How a command failed: its exit code and what to say.
#[derive(Debug)]
pub enum CommandError {
    /// Exit 1: the run's own assertions failed, or a divergence was found (already reported).
    Assertions,
    /// Exit 2: bad input, with the message.
    BadInput(String),
}
