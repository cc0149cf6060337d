//! The argument grammar of the sweep commands: `--param key=v1,v2`, `--seeds A..B`,
//! `--shard I/N`. Errors name the argument as typed.

use std::ops::Range;

use herd_sim::sweep::Param;

/// Parses `key=v1,v2,...`. Commas inside `[]`, `{}` or quotes do not split values.
pub fn param(text: &str) -> Result<Param, String> {
    let (key, values) = text
        .split_once('=')
        .ok_or_else(|| format!("--param {text}: expected key=value1,value2,..."))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("--param {text}: empty key"));
    }
    let values = split_values(values);
    if values.iter().any(String::is_empty) || values.is_empty() {
        return Err(format!("--param {text}: empty value"));
    }
    Ok(Param {
        key: key.to_string(),
        values,
    })
}

fn split_values(text: &str) -> Vec<String> {
    let (mut values, mut current, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                values.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    values.push(current.trim().to_string());
    values
}

/// Seeds, the same in every command: `N` is N seeds counting up from `first` (the scenario's
/// own seed, or `--seed`), `A..B` excludes B, `A..=B` includes it.
pub fn parse_seeds(text: &str, first: u64) -> Result<Range<u64>, String> {
    let bad = || format!("--seeds {text}: expected N, A..B or A..=B");
    let range = if let Some((a, b)) = text.split_once("..=") {
        let (a, b): (u64, u64) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        a..b.checked_add(1).ok_or_else(bad)?
    } else if let Some((a, b)) = text.split_once("..") {
        a.trim().parse().map_err(|_| bad())?..b.trim().parse().map_err(|_| bad())?
    } else {
        let count: u64 = text.trim().parse().map_err(|_| bad())?;
        first..first.checked_add(count).ok_or_else(bad)?
    };
    if range.is_empty() {
        return Err(format!("--seeds {text}: no seeds in that range"));
    }
    Ok(range)
}

/// `i/n`: this machine runs every job whose index is `i` modulo `n`.
/// Shard `I` of `N`, as `(I, N)`.
pub type Shard = (u64, u64);

/// Where a shard came from when `--shard` was not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardSource {
    /// A Slurm job array: `SLURM_ARRAY_TASK_ID` of `SLURM_ARRAY_TASK_COUNT`.
    Slurm,
    /// A Kubernetes Indexed Job: `JOB_COMPLETION_INDEX` of `--shard-count` (or
    /// `HERDSIM_SHARD_COUNT`, which the shipped manifest sets from `completions`).
    Kubernetes,
}

/// The shard a batch engine gives this process, from its environment (`lookup` reads one
/// variable). `--shard` wins over both; Slurm wins over Kubernetes. A variable that is set but
/// malformed is an error, never a silent full sweep.
pub fn shard_from_env(
    lookup: impl Fn(&str) -> Option<String>,
    shard_count: Option<u64>,
) -> Result<Option<(ShardSource, Shard)>, String> {
    let number = |name: &str| -> Result<Option<u64>, String> {
        match lookup(name) {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{name}={text:?}: expected a whole number")),
        }
    };
    let checked = |source: ShardSource, index: u64, count: u64, names: &str| {
        if count == 0 || index >= count {
            return Err(format!(
                "{names}: shard {index} of {count} does not exist (expected 0 <= index < count)"
            ));
        }
        Ok(Some((source, (index, count))))
    };
    if let Some(index) = number("SLURM_ARRAY_TASK_ID")? {
        let count = number("SLURM_ARRAY_TASK_COUNT")?.ok_or(
            "SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT: submit with --array=0-(N-1)",
        )?;
        // Slurm numbers tasks from --array's first index; the shipped script uses 0-(N-1).
        let first = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        return checked(
            ShardSource::Slurm,
            index.saturating_sub(first),
            count,
            "SLURM_ARRAY_TASK_ID/COUNT",
        );
    }
    if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = match shard_count {
            Some(count) => count,
            None => number("HERDSIM_SHARD_COUNT")?.ok_or(
                "JOB_COMPLETION_INDEX is set without a count: pass --shard-count N (the Job's completions) or set HERDSIM_SHARD_COUNT",
            )?,
        };
        return checked(
            ShardSource::Kubernetes,
            index,
            count,
            "JOB_COMPLETION_INDEX/--shard-count",
        );
    }
    Ok(None)
}

impl ShardSource {
    pub fn name(self) -> &'static str {
        match self {
            ShardSource::Slurm => "a Slurm job array",
            ShardSource::Kubernetes => "a Kubernetes Indexed Job",
        }
    }
}

pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("--shard {text}: expected I/N with I < N, e.g. 0/4");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// `--swarm-env SEED:INDEX`: one environment of a swarm.
pub fn parse_swarm_env(text: &str) -> Result<herd_sim::sweep::Environment, String> {
    let bad = || format!("--swarm-env {text:?}: expected SEED:INDEX, e.g. 1:3 (as a swarm report names it)");
    let (seed, index) = text.split_once(':').ok_or_else(bad)?;
    let seed: u64 = seed.trim().parse().map_err(|_| bad())?;
    let index: u32 = index.trim().parse().map_err(|_| bad())?;
    if index >= herd_sim::sweep::swarm::SWARM_MAX {
        return Err(format!(
            "--swarm-env {text:?}: a swarm has at most {} environments",
            herd_sim::sweep::swarm::SWARM_MAX
        ));
    }
    Ok(herd_sim::sweep::Environment::draw(seed, index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_come_from_slurm_or_kubernetes_when_not_given() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        assert_eq!(shard_from_env(env(&[]), None), Ok(None));
        assert_eq!(
            shard_from_env(
                env(&[("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_COUNT", "4")]),
                None
            ),
            Ok(Some((ShardSource::Slurm, (2, 4))))
        );
        assert_eq!(
            shard_from_env(
                env(&[
                    ("SLURM_ARRAY_TASK_ID", "7"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                    ("SLURM_ARRAY_TASK_MIN", "5")
                ]),
                None
            ),
            Ok(Some((ShardSource::Slurm, (2, 4)))),
            "an array that starts at 5"
        );
        assert_eq!(
            shard_from_env(env(&[("JOB_COMPLETION_INDEX", "3")]), Some(8)),
            Ok(Some((ShardSource::Kubernetes, (3, 8))))
        );
        assert_eq!(
            shard_from_env(
                env(&[("JOB_COMPLETION_INDEX", "3"), ("HERDSIM_SHARD_COUNT", "5")]),
                None
            ),
            Ok(Some((ShardSource::Kubernetes, (3, 5))))
        );
        assert_eq!(
            shard_from_env(
                env(&[
                    ("JOB_COMPLETION_INDEX", "1"),
                    ("SLURM_ARRAY_TASK_ID", "0"),
                    ("SLURM_ARRAY_TASK_COUNT", "2")
                ]),
                Some(9)
            ),
            Ok(Some((ShardSource::Slurm, (0, 2)))),
            "Slurm wins"
        );
        for bad in [
            &[("SLURM_ARRAY_TASK_ID", "1")][..],
            &[("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_COUNT", "2")],
            &[("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_COUNT", "2")],
            &[("JOB_COMPLETION_INDEX", "0")],
            &[("JOB_COMPLETION_INDEX", "4"), ("HERDSIM_SHARD_COUNT", "4")],
        ] {
            assert!(shard_from_env(env(bad), None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn params_seeds_and_shards_parse() {
        let jitters = param("client.backoff.jitter=none,full, equal").unwrap();
        assert_eq!(jitters.values, vec!["none", "full", "equal"]);
        let nested = param("gateway.limits=[{ limit = 1, key = [\"a\", \"b\"] }],[]").unwrap();
        assert_eq!(nested.values, vec!["[{ limit = 1, key = [\"a\", \"b\"] }]", "[]"]);
        assert!(param("novalue").is_err());
        assert!(param("k=a,,b").is_err());
        assert_eq!(parse_seeds("0..50", 7).unwrap(), 0..50);
        assert_eq!(parse_seeds("3..=5", 7).unwrap(), 3..6);
        assert_eq!(parse_seeds("4", 7).unwrap(), 7..11, "N seeds from the first");
        assert_eq!(parse_seeds("4", 0).unwrap(), 0..4);
        assert!(parse_seeds("5..5", 0).is_err() && parse_seeds("x", 0).is_err());
        assert!(parse_seeds("0", 1).is_err(), "no seeds at all is an error");
        assert!(parse_seeds("2", u64::MAX).is_err(), "no overflow");
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
        assert!(parse_shard("4/4").is_err() && parse_shard("1/0").is_err());
    }
}
