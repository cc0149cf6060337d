//! Loading a scenario: TOML text, the preset under `[client]`, `--set` overrides, serde with the
//! path of the failing field, and the line that field is on.

use std::path::Path;

use herd_client::{ClientConfig, Preset};

use herd_gateway::config::PlatformProfile;

use crate::scenario::{client_platform, Scenario, ScenarioError};

impl Scenario {
    /// Loads a scenario file, applying `--set` overrides (`key.path=value`, value in TOML syntax
    /// or a bare string).
    pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|error| ScenarioError {
            file: file.clone(),
            line: None,
            field: None,
            message: format!("cannot read: {error}"),
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|error| ScenarioError {
            file: file.clone(),
            line: Some(
                bytes[..error.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1,
            ),
            field: None,
            message: format!(
                "not UTF-8 text (an invalid byte at offset {})",
                error.valid_up_to()
            ),
        })?;
        Scenario::parse(&file, text, overrides)
    }

    /// Parses scenario text (`file` names it in errors).
    pub fn parse(file: &str, text: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let error = |line: Option<usize>, field: Option<String>, message: String| ScenarioError {
            file: file.to_string(),
            line,
            field,
            message,
        };
        let mut value: toml::Table = toml::from_str(text)
            .map_err(|e| error(line_of(text, e.span()), None, first_line(e.message())))?;
        // Deserialize the file as written first: its errors can name a line.
        let as_written =
            with_preset(value.clone()).map_err(|message| error(None, Some("preset".into()), message))?;
        if let Err((field, message)) = deserialize(&as_written) {
            // A missing field has no path of its own: name it within its table.
            let field = field.or_else(|| missing_field(&message));
            let line = line_of_field(text, field.as_deref().unwrap_or(""));
            return Err(error(line, field, message));
        }
        for assignment in overrides {
            apply_override(&mut value, assignment)
                .map_err(|message| error(None, None, format!("--set {assignment}: {message}")))?;
        }
        let merged = with_preset(value).map_err(|message| error(None, Some("preset".into()), message))?;
        // An error in a value that `--set` gave names the assignment, not a line of the file.
        let located = |field: String, message: String| match set_by(overrides, &field) {
            Some(assignment) => error(None, Some(field), format!("{message} (from --set {assignment})")),
            None => error(line_of_field(text, &field), Some(field), message),
        };
        let mut scenario = deserialize(&merged).map_err(|(field, message)| match field {
            Some(field) => located(field, message),
            None => error(None, None, format!("{message} (after --set overrides)")),
        })?;
        // The trigger is checked first, then folded into the gateway, which is then checked
        // with everything else.
        if let Some(trigger) = &scenario.trigger {
            trigger
                .validate()
                .map_err(|(field, message)| located(field, message))?;
            let trigger = trigger.clone();
            trigger.apply(&mut scenario.gateway);
        }
        scenario
            .validate()
            .map_err(|(field, message)| located(field, message))?;
        Ok(scenario)
    }
}

/// Applies the `preset` field: the preset's client configuration, then `[client]` over it.
fn with_preset(mut value: toml::Table) -> Result<toml::Table, String> {
    let preset = match value.get("preset") {
        None => Preset::Herdsim,
        Some(toml::Value::String(name)) => Preset::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
            format!("unknown preset {name:?}; one of {}", names.join(", "))
        })?,
        Some(_) => return Err("must be a string".into()),
    };
    // `gateway.platform` decides the platform; the preset is applied for it. A `[client]
    // platform` that disagrees is refused in validation, never silently replaced.
    // A platform that does not parse is reported by the full deserialization that follows.
    let platform: PlatformProfile = value
        .get("gateway")
        .and_then(|gateway| gateway.get("platform"))
        .and_then(|platform| platform.clone().try_into().ok())
        .unwrap_or_default();
    let base = ClientConfig {
        platform: client_platform(platform),
        ..ClientConfig::default()
    };
    let preset_config = toml::Value::try_from(preset.apply(&base)).map_err(|e| e.to_string())?;
    let mut merged = preset_config;
    if let Some(client) = value.remove("client") {
        merge(&mut merged, client);
    }
    value.insert("client".into(), merged);
    Ok(value)
}

/// Deep-merges `over` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(base), toml::Value::Table(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

fn deserialize(table: &toml::Table) -> Result<Scenario, (Option<String>, String)> {
    let value = toml::Value::Table(table.clone());
    serde_path_to_error::deserialize::<_, Scenario>(value).map_err(|error| {
        let path = error.path().to_string();
        let message = first_line(&error.inner().to_string());
        let field = (path != ".").then(|| refine_path(table, &path, &message));
        (field, message)
    })
}

/// `missing field \`x\`` at the top level: the field is `x`.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

/// serde buffers internally tagged enums (`kind = ...`: the workload, faults), so errors inside
/// them stop at the enum's table. Finds the key the message is about: the unknown field it names,
/// or the one key whose value is the one the message quotes.
fn refine_path(root: &toml::Table, path: &str, message: &str) -> String {
    let mut value: Option<&toml::Value> = None;
    for part in path.split('.') {
        let Ok((name, index)) = split_index(part) else {
            return path.to_string();
        };
        let next = match value {
            None => root.get(name),
            Some(current) => current.get(name),
        };
        value = match (next, index) {
            (Some(v), Some(i)) => v.get(i),
            (v, None) => v,
            (None, Some(_)) => None,
        };
    }
    let Some(toml::Value::Table(table)) = value else {
        return path.to_string();
    };
    if let Some(unknown) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        if table.contains_key(unknown) {
            return format!("{path}.{unknown}");
        }
    }
    let quoted = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    let Some(quoted) = quoted.and_then(|rest| rest.rsplit_once(", expected").map(|(q, _)| q)) else {
        return path.to_string();
    };
    let rendered = |value: &toml::Value| match value {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Integer(i) => format!("integer `{i}`"),
        toml::Value::Float(f) => format!("floating point `{f}`"),
        toml::Value::Boolean(b) => format!("boolean `{b}`"),
        toml::Value::Array(_) => "sequence".to_string(),
        toml::Value::Table(_) => "map".to_string(),
        toml::Value::Datetime(_) => String::new(),
    };
    let matches: Vec<&String> = table
        .iter()
        .filter(|(key, v)| *key != "kind" && rendered(v) == quoted)
        .map(|(key, _)| key)
        .collect();
    match matches.as_slice() {
        [key] => format!("{path}.{key}"),
        _ => path.to_string(),
    }
}

/// `a.b[2].c=value`: sets the field, creating tables on the way. The value is read as TOML
/// (`4`, `true`, `"x"`, `[1, 2]`); anything that does not parse is taken as a string.
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let (path, raw) = assignment.split_once('=').ok_or("expected key=value")?;
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut parsed| parsed.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = path.trim().split('.').collect();
    if parts.iter().any(|part| part.is_empty()) {
        return Err("empty key".into());
    }
    let mut current = table;
    for part in &parts[..parts.len() - 1] {
        let (name, index) = split_index(part)?;
        let entry = current
            .entry(name.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let entry = match index {
            Some(index) => entry
                .as_array_mut()
                .and_then(|array| array.get_mut(index))
                .ok_or(format!("{part}: no such element"))?,
            None => entry,
        };
        current = entry.as_table_mut().ok_or(format!("{part} is not a table"))?;
    }
    let last = parts[parts.len() - 1];
    let (name, index) = split_index(last)?;
    match index {
        Some(index) => {
            let array = current
                .get_mut(name)
                .and_then(toml::Value::as_array_mut)
                .ok_or(format!("{name} is not an array"))?;
            *array.get_mut(index).ok_or(format!("{last}: no such element"))? = value;
        }
        None => {
            current.insert(name.to_string(), value);
        }
    }
    Ok(())
}

fn split_index(part: &str) -> Result<(&str, Option<usize>), String> {
    match part.split_once('[') {
        Some((name, rest)) => {
            let index = rest
                .strip_suffix(']')
                .and_then(|n| n.parse().ok())
                .ok_or(format!("{part}: bad index"))?;
            Ok((name, Some(index)))
        }
        None => Ok((part, None)),
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_string()
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> Option<usize> {
    let start = span?.start.min(text.len());
    Some(text[..start].matches('\n').count() + 1)
}

/// The line where a field's last key is written under its table, found by reading the file.
/// The line of `field` (a dotted path with `[index]` parts, as serde and validation name it) in
/// `text`, from the TOML parser's own spans: the element of an array of tables is the one the
/// index names. A field that is absent is reported at the line of the table that lacks it.
fn line_of_field(text: &str, field: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut table: &DeTable<'_> = root.get_ref();
    let mut span = 0..0;
    let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
    for part in field.split('.').filter(|part| !part.is_empty()) {
        let (name, index) = split_index(part).ok()?;
        if let Some(current) = value {
            let DeValue::Table(inner) = current.get_ref() else {
                break;
            };
            table = inner;
        }
        let Some((key, found)) = table.iter().find(|(key, _)| key.get_ref().as_ref() == name) else {
            // Absent here: the table that lacks it (or the file's start) is where to look.
            return Some(line_at(text, span.start));
        };
        span = key.span();
        value = Some(found);
        if let Some(index) = index {
            let DeValue::Array(items) = found.get_ref() else {
                break;
            };
            let Some(item) = items.get(index) else { break };
            span = item.span();
            value = Some(item);
        }
    }
    Some(line_at(text, span.start))
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Whether `field` (or a table that holds it) was given by a `--set` assignment, and which.
fn set_by<'a>(overrides: &'a [String], field: &str) -> Option<&'a str> {
    let normalized = |path: &str| path.replace(' ', "");
    overrides.iter().map(String::as_str).rev().find(|assignment| {
        let key = normalized(assignment.split('=').next().unwrap_or(""));
        let field = normalized(field);
        field == key || field.starts_with(&format!("{key}.")) || field.starts_with(&format!("{key}["))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Workload;

    const MINIMAL: &str = r#"
name = "t"
description = "d"

[gateway]
platform = "genesys"

[workload]
kind = "read"
operations = 10
"#;

    #[test]
    fn parses_with_defaults_and_overrides() {
        let scenario = Scenario::parse(
            "t.toml",
            MINIMAL,
            &[
                "instances.workers=3".into(),
                "client.backoff.jitter=equal".into(),
                "seed=9".into(),
            ],
        )
        .unwrap();
        assert_eq!(scenario.instances.workers, 3);
        assert_eq!(scenario.seed, 9);
        assert_eq!(
            scenario.client.backoff.jitter,
            herd_client::policy::backoff::Jitter::Equal
        );
        assert_eq!(scenario.workload, Workload::Read { operations: 10 });
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let typo = MINIMAL.replace("operations = 10", "operatoins = 10");
        let error = Scenario::parse("s.toml", &typo, &[]).unwrap_err();
        assert_eq!(error.file, "s.toml");
        assert!(error.message.contains("operatoins"), "{error}");
        let wrong_type = MINIMAL.replace("operations = 10", "operations = \"many\"");
        let error = Scenario::parse("s.toml", &wrong_type, &[]).unwrap_err();
        assert_eq!(
            (error.line, error.field.as_deref()),
            (Some(10), Some("workload.operations")),
            "{error}"
        );
        let invalid = format!("{MINIMAL}\n[instances]\ncount = 0\n");
        let error = Scenario::parse("s.toml", &invalid, &[]).unwrap_err();
        assert_eq!(error.to_string(), "s.toml:13: field `instances.count`: must be within 1..=10 (turmoil's step cost grows with the cube of the host count)");
        let syntax = Scenario::parse("s.toml", "name = \n", &[]).unwrap_err();
        assert_eq!(syntax.line, Some(1));
        let bad_set = Scenario::parse("s.toml", MINIMAL, &["instances.workers=lots".into()]).unwrap_err();
        assert!(
            bad_set
                .to_string()
                .contains("(from --set instances.workers=lots)"),
            "{bad_set}"
        );
        assert_eq!(bad_set.line, None, "a --set value has no line in the file");
        let unknown_client = Scenario::parse(
            "s.toml",
            MINIMAL,
            &["instances.oauth_clients=[\"other-app\"]".into()],
        )
        .unwrap_err();
        assert_eq!(
            unknown_client.field.as_deref(),
            Some("instances.oauth_clients[0]"),
            "{unknown_client}"
        );
        let bad_preset =
            Scenario::parse("s.toml", &format!("preset = \"polly\"\n{MINIMAL}"), &[]).unwrap_err();
        assert!(
            bad_preset.to_string().contains("unknown preset \"polly\""),
            "{bad_preset}"
        );
    }

    #[test]
    fn preset_then_client_overrides() {
        let text = format!("preset = \"genesys-java\"\n{MINIMAL}\n[client.retry]\nmax_attempts = 2\n");
        let scenario = Scenario::parse("t.toml", &text, &[]).unwrap();
        assert_eq!(scenario.client.retry.max_attempts, 2);
        assert_eq!(
            scenario.client.retry.statuses,
            vec![429, 502, 503, 504],
            "the rest comes from the preset"
        );
    }

    /// (file text, --set overrides, expected line, expected field): every error names the line
    /// and the field, or says that the value came from `--set`.
    #[test]
    fn every_error_names_its_line_and_field() {
        let two_limits = "name = \"t\"\ndescription = \"d\"\n[gateway]\nplatform = \"genesys\"\n\
            [[gateway.limits]]\nname = \"a\"\nlimit = 5\nwindow_ms = 1000\n\
            [[gateway.limits]]\nname = \"b\"\nlimit = 5\nwindow_ms = 0\n[workload]\nkind = \"read\"\noperations = 10\n";
        let missing = "name = \"t\"\ndescription = \"d\"\n[gateway]\nplatform = \"genesys\"\n";
        let unknown_table = format!("{MINIMAL}[wrkload]\nkind = \"read\"\n");
        let cases: [(&str, &[&str], Option<usize>, &str); 5] = [
            (two_limits, &[], Some(12), "gateway.limits[1].window_ms"),
            (missing, &[], Some(1), "workload"),
            (&unknown_table, &[], Some(11), "wrkload"),
            (
                two_limits,
                &["gateway.limits[1].window_ms=5", "gateway.limits[0].window_ms=0"],
                None,
                "gateway.limits[0].window_ms",
            ),
            (MINIMAL, &["instances.count=0"], None, "instances.count"),
        ];
        for (text, sets, line, field) in cases {
            let sets: Vec<String> = sets.iter().map(std::string::ToString::to_string).collect();
            let error = Scenario::parse("s.toml", text, &sets).unwrap_err();
            assert_eq!(
                (error.line, error.field.as_deref()),
                (line, Some(field)),
                "{error}"
            );
            if !sets.is_empty() {
                assert!(error.message.contains("(from --set "), "{error}");
            }
        }
    }

    #[test]
    fn a_file_that_is_not_utf8_names_the_line_of_the_bad_byte() {
        let dir = std::env::temp_dir().join(format!("herdsim-utf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, b"name = \"t\"\ndescription = \"\xff\"\n").unwrap();
        let error = Scenario::load(&path, &[]).unwrap_err();
        assert_eq!(error.line, Some(2), "{error}");
        assert!(error.message.contains("not UTF-8"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
