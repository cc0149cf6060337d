//! Rendering a rule's state in the scenario's rate-limit header dialect: none (today's Genesys),
//! legacy `inin-ratelimit-*` (reset in seconds), the tutorials' `X-Rate-Limit-*` (reset as an
//! epoch), and IETF `RateLimit` / `RateLimit-Policy`.

use crate::config::HeaderDialect;
use crate::limiter::Verdict;
use crate::rules::RuleVerdict;
use crate::time::SimTime;

/// The headers that describe `described` at `now`, in `dialect`. Resets are capped at
/// `reset_max_s`, the longest wait the gateway ever advertises.
pub(crate) fn render(
    dialect: HeaderDialect,
    epoch_unix_s: u64,
    now: SimTime,
    described: &RuleVerdict,
    reset_max_s: u64,
) -> Vec<(String, String)> {
    let Verdict {
        limit,
        remaining,
        reset_at,
        ..
    } = described.verdict;
    let reset_in_s = now.secs_until_ceil(reset_at).min(reset_max_s);
    let header = |name: &str, value: String| (name.to_string(), value);
    match dialect {
        HeaderDialect::None => Vec::new(),
        HeaderDialect::Inin => vec![
            header("inin-ratelimit-allowed", limit.to_string()),
            header(
                "inin-ratelimit-count",
                limit.saturating_sub(remaining).to_string(),
            ),
            header("inin-ratelimit-reset", reset_in_s.to_string()),
        ],
        HeaderDialect::XRateLimit => {
            let reset_epoch_s = epoch_unix_s
                .saturating_add(now.as_micros() / 1_000_000)
                .saturating_add(reset_in_s);
            vec![
                header("X-Rate-Limit-Limit", limit.to_string()),
                header("X-Rate-Limit-Remaining", remaining.to_string()),
                header("X-Rate-Limit-Reset", reset_epoch_s.to_string()),
            ]
        }
        HeaderDialect::Ietf => {
            let window_s = described.window_ms.div_ceil(1_000);
            vec![
                header(
                    "RateLimit-Policy",
                    format!("\"{}\";q={limit};w={window_s}", described.rule),
                ),
                header(
                    "RateLimit",
                    format!("\"{}\";r={remaining};t={reset_in_s}", described.rule),
                ),
            ]
        }
    }
}
