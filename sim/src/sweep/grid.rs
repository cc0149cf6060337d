//! The grid of a sweep: every combination of the swept values, and how a point reads.

use indexmap::IndexMap;

/// One swept field and its values: `client.concurrency=4,8,16`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    pub values: Vec<String>,
}

/// A grid point: the swept fields and their values, in the order the parameters were given.
pub type Point = IndexMap<String, String>;

/// Every combination of the parameters' values (the first parameter varies slowest).
pub fn grid(params: &[Param]) -> Vec<Point> {
    let mut points = vec![Point::new()];
    for param in params {
        points = points
            .into_iter()
            .flat_map(|point| {
                param.values.iter().map(move |value| {
                    let mut next = point.clone();
                    next.insert(param.key.clone(), value.clone());
                    next
                })
            })
            .collect();
    }
    points
}

/// The `--set` overrides of a point.
pub fn overrides(point: &Point) -> Vec<String> {
    point
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect()
}

/// A point as `key=value key=value`, for tables.
pub fn label(point: &Point) -> String {
    if point.is_empty() {
        return "(scenario as written)".to_string();
    }
    point
        .iter()
        .map(|(key, value)| format!("{}={value}", short_key(key)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The preset a point sets (`preset="genesys-java"` → `genesys-java`), or "" when it sets none.
/// The `compare` axis: every preset, herdsim's own and each peer's, in `Preset::ALL`'s order.
pub fn every_preset() -> Param {
    Param {
        key: "preset".into(),
        values: herd_client::Preset::ALL
            .iter()
            .map(|preset| format!("\"{}\"", preset.name()))
            .collect(),
    }
}

pub fn preset_of(point: &Point) -> String {
    point
        .get("preset")
        .map(|name| name.trim_matches('"').to_string())
        .unwrap_or_default()
}

/// `client.backoff.jitter` → `jitter`: the last part names the field well enough in tables.
fn short_key(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}
