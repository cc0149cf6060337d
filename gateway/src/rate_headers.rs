//! Rendering the rules' state in the scenario's rate-limit header dialect: none (today's Genesys),
//! legacy `inin-ratelimit-*` (reset in seconds), the tutorials' `X-Rate-Limit-*` (reset as an
//! epoch), and IETF `RateLimit` / `RateLimit-Policy` as draft -11 writes them: one item per
//! layered rule that applied, with `q`, `qu`, `w` and the partition key `pk` on the policy and
//! `r`, `t`, `pk` on the limit. The legacy dialects can describe one rule only: the tightest.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::config::HeaderDialect;
use crate::rules::{Check, RuleVerdict};
use crate::time::SimTime;

/// The headers that describe `described` at `now`, in `dialect`. Resets are capped at
/// `reset_max_s`, the longest wait the gateway ever advertises.
pub(crate) fn render(
    dialect: HeaderDialect,
    epoch_unix_s: u64,
    now: SimTime,
    described: &Check,
    reset_max_s: u64,
) -> Vec<(String, String)> {
    let reset_in_s = |verdict: &RuleVerdict| now.secs_until_ceil(verdict.verdict.reset_at).min(reset_max_s);
    let header = |name: &str, value: String| (name.to_string(), value);
    if dialect == HeaderDialect::Ietf {
        let visible: Vec<&RuleVerdict> = described
            .verdicts
            .iter()
            .filter(|verdict| !verdict.hidden)
            .collect();
        if visible.is_empty() {
            return Vec::new();
        }
        let item = |verdict: &RuleVerdict, parameters: String| {
            let pk = STANDARD.encode(verdict.key.as_bytes());
            format!("\"{}\";{parameters};pk=:{pk}:", verdict.rule)
        };
        let policies: Vec<String> = visible
            .iter()
            .map(|v| {
                let window_s = v.window_ms.div_ceil(1_000).max(1);
                item(v, format!("q={};qu=\"requests\";w={window_s}", v.verdict.limit))
            })
            .collect();
        let limits: Vec<String> = visible
            .iter()
            .map(|v| item(v, format!("r={};t={}", v.verdict.remaining, reset_in_s(v))))
            .collect();
        return vec![
            header("RateLimit-Policy", policies.join(", ")),
            header("RateLimit", limits.join(", ")),
        ];
    }
    let Some(tightest) = described.tightest() else {
        return Vec::new();
    };
    let (limit, remaining) = (tightest.verdict.limit, tightest.verdict.remaining);
    match dialect {
        HeaderDialect::None | HeaderDialect::Ietf => Vec::new(),
        HeaderDialect::Inin => vec![
            header("inin-ratelimit-allowed", limit.to_string()),
            header(
                "inin-ratelimit-count",
                limit.saturating_sub(remaining).to_string(),
            ),
            header("inin-ratelimit-reset", reset_in_s(tightest).to_string()),
        ],
        HeaderDialect::XRateLimit => {
            let reset_epoch_s = epoch_unix_s
                .saturating_add(now.as_micros() / 1_000_000)
                .saturating_add(reset_in_s(tightest));
            vec![
                header("X-Rate-Limit-Limit", limit.to_string()),
                header("X-Rate-Limit-Remaining", remaining.to_string()),
                header("X-Rate-Limit-Reset", reset_epoch_s.to_string()),
            ]
        }
    }
}
