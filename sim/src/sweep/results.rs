//! Result files: one self-contained JSON line per finished run, appended from any thread and read
//! back for `--resume`, `merge` and summaries.

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::sweep::grid::Point;
use crate::sweep::swarm::Environment;
use crate::world::RunEnd;

/// One finished run, as a JSON line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub scenario: String,
    /// The `--set` overrides every point shared (with `--small`'s), so files of other sweeps
    /// are never mixed in.
    #[serde(default)]
    pub base: Vec<String>,
    pub point: Point,
    /// The swarm environment the run was in (`sweep --swarm`); absent: the scenario as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    pub seed: u64,
    /// The job's position in the sweep's grid × seeds order (merges order settings by it).
    #[serde(default)]
    pub index: u64,
    pub trace_sha256: String,
    pub end: RunEnd,
    /// The scenario's own expectations that failed (empty: the run passed).
    pub failures: Vec<String>,
    pub metrics: Metrics,
}

/// What identifies a run across files: its point's fields and values (and its swarm
/// environment's place, as `swarm` = `SEED:INDEX`), and its seed.
pub type RunKey = (Vec<(String, String)>, u64);

/// The key of the run of `point` in `environment` with `seed`.
pub fn run_key(point: &Point, environment: Option<&Environment>, seed: u64) -> RunKey {
    let mut pairs: Vec<(String, String)> = point.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(environment) = environment {
        pairs.push((
            "swarm".to_string(),
            format!("{}:{}", environment.seed, environment.index),
        ));
    }
    (pairs, seed)
}

impl RunRecord {
    /// What identifies the run across files: the point, the environment and the seed.
    pub fn key(&self) -> RunKey {
        run_key(&self.point, self.environment.as_ref(), self.seed)
    }
}

/// Reads result lines, skipping a torn last line (a sweep killed mid-write) and blank lines.
/// Any other unreadable line is an error naming it.
pub fn read_records(path: &Path) -> Result<Vec<RunRecord>, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    parse_records(&bytes).map_err(|(line, message)| format!("{}:{line}: {message}", path.display()))
}

/// The records of a results file's bytes; a torn last line (a sweep killed mid-write) and blank
/// lines are skipped, anything else unreadable is `(line, why)`. Never panics on garbage.
pub fn parse_records(bytes: &[u8]) -> Result<Vec<RunRecord>, (usize, String)> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::new();
    for (number, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RunRecord>(line) {
            Ok(record) => records.push(record),
            Err(_) if number + 1 == lines.len() && !text.ends_with('\n') => {} // torn: redone on resume
            Err(error) => return Err((number + 1, format!("not a sweep result: {error}"))),
        }
    }
    Ok(records)
}

/// Appends records to a JSON-lines file, one flushed line per record, from any thread.
pub struct ResultWriter {
    file: Mutex<std::fs::File>,
}

impl ResultWriter {
    pub fn append(path: &Path) -> Result<ResultWriter, String> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
        // A torn last line from an interrupted run is cut off before appending: left in place it
        // would become a bad line in the middle of the file (readers skip only a torn *last* line).
        let cannot = |error: std::io::Error| format!("cannot write {}: {error}", path.display());
        if let Ok(bytes) = std::fs::read(path) {
            if bytes.last().is_some_and(|&b| b != b'\n') {
                let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1);
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(cannot)?;
                file.set_len(keep as u64).map_err(cannot)?;
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(cannot)?;
        Ok(ResultWriter {
            file: Mutex::new(file),
        })
    }

    pub fn write(&self, record: &RunRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_string(record).expect("records serialize");
        line.push('\n');
        let mut file = self.file.lock().expect("writer lock");
        file.write_all(line.as_bytes())?;
        file.flush()
    }
}
