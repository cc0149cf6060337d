//! The trace of a run: gateway and client events merged in execution order, with simulated time.
//! Written as JSON lines and hashed (SHA-256 over the lines): the same (scenario, seed, commit)
//! gives the same hash. No line carries a secret: tokens are numbers, credentials never appear.

use std::io::Write as _;
use std::path::Path;

use herd_client::events::ClientEvent;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use herd_gateway::events::GatewayEvent;
use herd_gateway::SimTime;

#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Gateway(GatewayEvent),
    Client {
        at: SimTime,
        instance: u32,
        event: ClientEvent,
    },
    /// The network schedule acting on a host.
    Network {
        at: SimTime,
        host: String,
        action: NetworkAction,
    },
}

/// What the world's network schedule did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkAction {
    /// The link between the host and the gateway is cut.
    Partition,
    /// The link is back.
    Repair,
    /// The host stopped, losing its in-memory state and in-flight work.
    Crash,
    /// The host started again from scratch.
    Restart,
}

impl Record {
    pub fn at(&self) -> SimTime {
        match self {
            Record::Gateway(event) => event.at,
            Record::Client { at, .. } | Record::Network { at, .. } => *at,
        }
    }

    pub fn source(&self) -> String {
        match self {
            Record::Gateway(_) => "gateway".to_string(),
            Record::Client { instance, .. } => format!("client-{instance}"),
            Record::Network { .. } => "network".to_string(),
        }
    }

    /// The event's own fields (without time and source), as a JSON object.
    pub fn body(&self) -> Value {
        let mut value = match self {
            Record::Gateway(event) => serde_json::to_value(event).expect("events serialize"),
            Record::Client { event, .. } => {
                let mut value = serde_json::to_value(&event.kind).expect("events serialize");
                value["w"] = Value::from(event.worker);
                if !event.op.is_empty() {
                    value["op"] = Value::from(&*event.op);
                }
                value
            }
            Record::Network { host, action, .. } => serde_json::json!({"event": action, "host": host}),
        };
        if let Some(object) = value.as_object_mut() {
            object.remove("at");
        }
        value
    }
}

/// One trace line: time and source first, then the event's own fields in declaration order.
#[derive(Serialize)]
struct GatewayLine<'a> {
    t_us: u64,
    src: &'static str,
    request: u64,
    #[serde(flatten)]
    kind: &'a herd_gateway::events::GatewayEventKind,
}

#[derive(Serialize)]
struct ClientLine<'a> {
    t_us: u64,
    src: &'a str,
    w: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    op: &'a str,
    #[serde(flatten)]
    kind: &'a herd_client::events::EventKind,
}

#[derive(Serialize)]
struct NetworkLine<'a> {
    t_us: u64,
    src: &'static str,
    event: NetworkAction,
    host: &'a str,
}

impl Record {
    /// The record as one JSON line (serialized directly, no intermediate value).
    pub fn line(&self) -> String {
        let mut bytes = Vec::with_capacity(160);
        self.write_line(&mut bytes);
        String::from_utf8(bytes).expect("JSON is UTF-8")
    }

    /// Appends the record's JSON line (without the newline) to `out`: the canonical encoding the
    /// trace hash is taken over. The events most runs are made of are written directly
    /// ([`write_common`]); every other one through serde, as [`Record::write_line_serde`]
    /// writes them all. Both give the same bytes (`tests/trace_encoding.rs` compares them on
    /// every record of every shipped scenario).
    pub fn write_line(&self, out: &mut Vec<u8>) {
        if !write_common(self, out) {
            self.write_line_serde(out);
        }
    }

    /// The record's JSON line through serde: the reference encoding of every record.
    pub fn write_line_serde(&self, out: &mut Vec<u8>) {
        let t_us = self.at().as_micros();
        let line = match self {
            Record::Gateway(event) => serde_json::to_writer(
                &mut *out,
                &GatewayLine {
                    t_us,
                    src: "gateway",
                    request: event.request,
                    kind: &event.kind,
                },
            ),
            Record::Client { instance, event, .. } => {
                let src = format!("client-{instance}");
                serde_json::to_writer(
                    &mut *out,
                    &ClientLine {
                        t_us,
                        src: &src,
                        w: event.worker,
                        op: &event.op,
                        kind: &event.kind,
                    },
                )
            }
            Record::Network { host, action, .. } => serde_json::to_writer(
                &mut *out,
                &NetworkLine {
                    t_us,
                    src: "network",
                    event: *action,
                    host,
                },
            ),
        };
        line.expect("events serialize");
    }
}

/// The common events' lines written directly, field by field, in the order and form serde gives
/// them (declaration order, `null` for an absent value unless the field is skipped): most of a
/// run's records are these, and serde's flattening of the event into the line, with every key
/// escaped, was most of the cost of hashing a trace. False, and nothing written, for any other
/// record.
fn write_common(record: &Record, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    let t_us = record.at().as_micros();
    let written = match record {
        Record::Client { instance, event, .. } => write_client(t_us, *instance, event, &mut Line { out }),
        Record::Gateway(event) => write_gateway(t_us, event, &mut Line { out }),
        Record::Network { .. } => false,
    };
    debug_assert!(
        written == (out.len() > start),
        "a line is written whole or not at all"
    );
    written
}

/// The name serde gives a client event the direct encoder writes; `None` for the others.
fn client_event_name(kind: &herd_client::events::EventKind) -> Option<&'static str> {
    use herd_client::events::EventKind;
    Some(match kind {
        EventKind::Queued { .. } => "queued",
        EventKind::Paced { .. } => "paced",
        EventKind::Attempt { .. } => "attempt",
        EventKind::Response { .. } => "response",
        EventKind::Retry { .. } => "retry",
        EventKind::Done { reason: None, .. } => "done",
        _ => return None,
    })
}

fn write_client(t_us: u64, instance: u32, event: &ClientEvent, line: &mut Line<'_>) -> bool {
    let Some(name) = client_event_name(&event.kind) else {
        return false;
    };
    line.raw("{\"t_us\":");
    line.number(t_us);
    line.raw(",\"src\":\"client-");
    line.number(u64::from(instance));
    line.raw("\",\"w\":");
    line.number(event.worker);
    if !event.op.is_empty() {
        line.key("op");
        line.string(&event.op);
    }
    line.key("event");
    line.string(name);
    write_client_fields(&event.kind, line);
    line.raw("}");
    true
}

/// The fields of an event [`client_event_name`] names, in declaration order.
fn write_client_fields(kind: &herd_client::events::EventKind, line: &mut Line<'_>) {
    use herd_client::events::EventKind;
    match kind {
        EventKind::Queued { priority, waited_ms } => {
            line.key("priority");
            line.serialized(priority);
            line.key("waited_ms");
            line.number(*waited_ms);
        }
        EventKind::Paced {
            family,
            delay_ms,
            reason,
        } => {
            line.key("family");
            line.string(family);
            line.key("delay_ms");
            line.number(*delay_ms);
            line.key("reason");
            line.serialized(reason);
        }
        EventKind::Attempt {
            attempt,
            method,
            path,
            family,
            token_generation,
        } => {
            line.key("attempt");
            line.number(u64::from(*attempt));
            line.key("method");
            line.string(method);
            line.key("path");
            line.string(path);
            line.key("family");
            line.string(family);
            line.key("token_generation");
            line.number(*token_generation);
        }
        EventKind::Response {
            attempt,
            status,
            latency_ms,
            retry_after_ms,
            retry_after,
            correlation_id,
        } => {
            line.key("attempt");
            line.number(u64::from(*attempt));
            line.key("status");
            line.number(u64::from(*status));
            line.key("latency_ms");
            line.number(*latency_ms);
            line.key("retry_after_ms");
            line.optional(*retry_after_ms);
            if let Some(retry_after) = retry_after {
                line.key("retry_after");
                line.string(retry_after);
            }
            if let Some(correlation_id) = correlation_id {
                line.key("correlation_id");
                line.string(correlation_id);
            }
        }
        EventKind::Retry {
            attempt,
            delay_ms,
            class,
            retry_after_ms,
        } => {
            line.key("attempt");
            line.number(u64::from(*attempt));
            line.key("delay_ms");
            line.number(*delay_ms);
            line.key("class");
            line.serialized(class);
            line.key("retry_after_ms");
            line.optional(*retry_after_ms);
        }
        EventKind::Done {
            outcome,
            attempts,
            status,
            reason: None,
        } => {
            line.key("outcome");
            line.serialized(outcome);
            line.key("attempts");
            line.number(u64::from(*attempts));
            line.key("status");
            line.optional(status.map(u64::from));
            line.key("reason");
            line.raw("null");
        }
        _ => unreachable!("client_event_name names only the events above"),
    }
}

fn write_gateway(t_us: u64, event: &GatewayEvent, line: &mut Line<'_>) -> bool {
    use herd_gateway::events::GatewayEventKind;
    let name = match &event.kind {
        GatewayEventKind::Admitted { .. } => "admitted",
        GatewayEventKind::RateLimited { .. } => "rate_limited",
        _ => return false,
    };
    line.raw("{\"t_us\":");
    line.number(t_us);
    line.raw(",\"src\":\"gateway\",\"request\":");
    line.number(event.request);
    line.key("event");
    line.string(name);
    match &event.kind {
        GatewayEventKind::Admitted {
            family,
            token_seq,
            status,
            remaining,
        } => {
            line.key("family");
            line.string(family);
            line.key("token_seq");
            line.number(*token_seq);
            line.key("status");
            line.number(u64::from(*status));
            line.key("remaining");
            line.optional(*remaining);
        }
        GatewayEventKind::RateLimited {
            family,
            token_seq,
            rule,
            key,
            count,
            limit,
            wait_ms,
            retry_after_s,
        } => {
            line.key("family");
            line.string(family);
            line.key("token_seq");
            line.number(*token_seq);
            line.key("rule");
            line.string(rule);
            line.key("key");
            line.string(key);
            line.key("count");
            line.number(*count);
            line.key("limit");
            line.number(*limit);
            line.key("wait_ms");
            line.number(*wait_ms);
            line.key("retry_after_s");
            line.optional(*retry_after_s);
        }
        _ => unreachable!("every other event returned above"),
    }
    line.raw("}");
    true
}

/// A JSON line being written into a buffer.
struct Line<'a> {
    out: &'a mut Vec<u8>,
}

impl Line<'_> {
    fn raw(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }

    /// `,"key":` (keys are plain ASCII names: nothing to escape).
    fn key(&mut self, key: &str) {
        debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        self.out.extend_from_slice(b",\"");
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn number(&mut self, value: u64) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn optional(&mut self, value: Option<u64>) {
        match value {
            Some(value) => self.number(value),
            None => self.raw("null"),
        }
    }

    /// A string: copied as it is when no byte needs escaping, else escaped by serde_json.
    fn string(&mut self, text: &str) {
        let plain = text
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        if plain {
            self.out.push(b'"');
            self.out.extend_from_slice(text.as_bytes());
            self.out.push(b'"');
        } else {
            serde_json::to_writer(&mut *self.out, text).expect("a string serializes");
        }
    }

    /// A value as serde writes it (the events' small enums: their names as serde renames them).
    fn serialized(&mut self, value: &impl Serialize) {
        serde_json::to_writer(&mut *self.out, value).expect("events serialize");
    }
}

/// The trace of a run: its records in execution order and the hash of their canonical lines.
/// The lines themselves are made only when asked for ([`Trace::to_lines`], writing, diffing):
/// the hash is taken as each record is encoded into one reused buffer, and no copy is kept.
pub struct Trace {
    records: Records,
    hash: String,
}

/// How many records one chunk of a trace holds (about 2.5 MB).
const CHUNK_RECORDS: usize = 16_384;

/// A trace's records in execution order, kept in chunks of a fixed size: the trace grows
/// without ever moving a record. A single `Vec` that doubles copies every record again at each
/// growth and, while it copies, holds the old buffer beside one twice its size: a million
/// operations' five million records peaked there.
#[derive(Default)]
pub struct Records {
    chunks: Vec<Vec<Record>>,
    len: usize,
}

impl Records {
    fn push(&mut self, record: Record) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK_RECORDS => chunk.push(record),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
                chunk.push(record);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
        debug_assert!(self
            .chunks
            .last()
            .is_some_and(|chunk| chunk.len() <= CHUNK_RECORDS && chunk.capacity() >= CHUNK_RECORDS));
    }

    /// The records in execution order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Record> + Clone + '_ {
        self.chunks.iter().flatten()
    }

    /// How many records there are.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The last record.
    pub fn last(&self) -> Option<&Record> {
        self.chunks.last().and_then(|chunk| chunk.last())
    }

    /// The record at `index` in execution order.
    pub fn get(&self, index: usize) -> Option<&Record> {
        self.chunks
            .get(index / CHUNK_RECORDS)
            .and_then(|chunk| chunk.get(index % CHUNK_RECORDS))
    }
}

impl<'a> IntoIterator for &'a Records {
    type Item = &'a Record;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<Record>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

/// SHA-256 over a trace's lines, each followed by a newline, fed one record at a time.
pub struct LineHasher {
    hasher: Sha256,
    buffer: Vec<u8>,
}

impl Default for LineHasher {
    fn default() -> LineHasher {
        LineHasher {
            hasher: Sha256::new(),
            buffer: Vec::with_capacity(512),
        }
    }
}

impl LineHasher {
    pub fn add(&mut self, record: &Record) {
        self.buffer.clear();
        record.write_line(&mut self.buffer);
        self.buffer.push(b'\n');
        self.hasher.update(&self.buffer);
    }

    pub fn finish(self) -> String {
        hex(&self.hasher.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// A trace as it is made: each record is hashed as it arrives, so that the finished trace is
/// ready when the world ends, with no pass over it afterwards.
#[derive(Default)]
pub struct TraceSink {
    records: Records,
    hasher: LineHasher,
}

impl TraceSink {
    pub fn push(&mut self, record: Record) {
        self.hasher.add(&record);
        self.records.push(record);
    }

    pub fn extend(&mut self, records: impl IntoIterator<Item = Record>) {
        for record in records {
            self.push(record);
        }
    }

    pub fn finish(self) -> Trace {
        Trace {
            records: self.records,
            hash: self.hasher.finish(),
        }
    }
}

impl Trace {
    pub fn new(records: Vec<Record>) -> Trace {
        let mut sink = TraceSink::default();
        sink.extend(records);
        sink.finish()
    }

    pub fn records(&self) -> &Records {
        &self.records
    }

    /// How many events the trace holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The trace as JSON lines, made now (for diffs and tests; writing streams instead).
    pub fn to_lines(&self) -> Vec<String> {
        self.records.iter().map(Record::line).collect()
    }

    /// SHA-256 of the lines joined by newlines, hex.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn write_jsonl(&self, path: &Path) -> std::io::Result<()> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut line = Vec::with_capacity(512);
        for record in self.records.iter() {
            line.clear();
            record.write_line(&mut line);
            line.push(b'\n');
            file.write_all(&line)?;
        }
        file.flush()
    }
}

pub fn hash_lines(lines: &[String]) -> String {
    let mut hasher = Sha256::new();
    for line in lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

/// Reads a JSON-lines trace file.
/// Reads a trace written by `herdsim run --trace` (or `serve --record`), checking every line: a
/// JSON object with `t_us`, `src` and `event`. Errors name the file and the line; nothing in a
/// file of garbage panics.
pub fn read_trace(path: &Path) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    parse_trace(&bytes).map_err(|(line, message)| match line {
        Some(line) => format!("{}:{line}: {message}", path.display()),
        None => format!("{}: {message}", path.display()),
    })
}

/// The lines of a trace, or the line that is not one and why.
pub fn parse_trace(bytes: &[u8]) -> Result<Vec<String>, (Option<usize>, String)> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let line = bytes[..error.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        (Some(line), "not UTF-8 text".to_string())
    })?;
    let mut lines = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|error| (Some(number + 1), format!("not a trace event: {error}")))?;
        let is_event = value.get("t_us").is_some_and(Value::is_u64)
            && value.get("src").is_some_and(Value::is_string)
            && value.get("event").is_some_and(Value::is_string);
        if !is_event {
            return Err((
                Some(number + 1),
                "not a trace event (a JSON object with t_us, src and event)".into(),
            ));
        }
        lines.push(line.to_string());
    }
    if lines.is_empty() {
        return Err((None, "holds no events: not a trace".into()));
    }
    Ok(lines)
}

pub fn read_jsonl(path: &Path) -> std::io::Result<Vec<String>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .map(str::to_string)
        .collect())
}

/// Where two traces first differ: `(index, left line, right line)`; `None` when identical.
pub fn first_divergence<'a>(
    left: &'a [String],
    right: &'a [String],
) -> Option<(usize, Option<&'a str>, Option<&'a str>)> {
    let common = left.len().min(right.len());
    (0..common)
        .find(|&index| left[index] != right[index])
        .or((left.len() != right.len()).then_some(common))
        .map(|index| {
            (
                index,
                left.get(index).map(String::as_str),
                right.get(index).map(String::as_str),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(at_us: u64) -> Record {
        Record::Network {
            at: SimTime::from_micros(at_us),
            host: "client-0".into(),
            action: NetworkAction::Partition,
        }
    }

    #[test]
    fn records_keep_their_order_across_chunks() {
        let counts = [
            0,
            1,
            CHUNK_RECORDS - 1,
            CHUNK_RECORDS,
            CHUNK_RECORDS + 1,
            2 * CHUNK_RECORDS + 7,
        ];
        for count in counts {
            let mut sink = TraceSink::default();
            let mut hasher = LineHasher::default();
            for n in 0..count as u64 {
                hasher.add(&network(n));
                sink.push(network(n));
            }
            let trace = sink.finish();
            let records = trace.records();
            assert_eq!((records.len(), records.is_empty()), (count, count == 0));
            let times: Vec<u64> = records.iter().map(|record| record.at().as_micros()).collect();
            assert_eq!(times, (0..count as u64).collect::<Vec<_>>(), "{count} records");
            assert_eq!(records.iter().rev().count(), count);
            assert_eq!(
                records.last().map(Record::at),
                count.checked_sub(1).map(|last| SimTime::from_micros(last as u64))
            );
            assert_eq!(records.get(count), None);
            if let Some(middle) = count.checked_sub(1).map(|last| last / 2) {
                assert_eq!(
                    records.get(middle).map(|r| r.at().as_micros()),
                    Some(middle as u64)
                );
            }
            assert_eq!(trace.hash(), hasher.finish(), "the hash is the records' in order");
        }
    }

    #[test]
    fn divergence_is_found_at_the_first_difference() {
        let a: Vec<String> = ["x", "y", "z"]
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        let b: Vec<String> = ["x", "q", "z"]
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        assert_eq!(first_divergence(&a, &a), None);
        assert_eq!(first_divergence(&a, &b), Some((1, Some("y"), Some("q"))));
        assert_eq!(first_divergence(&a, &a[..2]), Some((2, Some("z"), None)));
        assert_ne!(hash_lines(&a), hash_lines(&b));
    }
}
