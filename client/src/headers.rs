//! Parsers of the headers that steer retries and pacing. They never panic: garbage is `None`.
//!
//! - `Retry-After`: delta-seconds (integer, or fractional as some servers send) or an HTTP-date,
//!   read against the *injected* wall clock, never the system clock.
//! - Rate-limit dialects: IETF structured `RateLimit: "p";r=12;t=41` (and draft-07's
//!   `RateLimit: limit=.., remaining=.., reset=..` and `RateLimit-Remaining/-Reset`), legacy Genesys
//!   `inin-ratelimit-allowed/count/reset` (reset = seconds until), and the tutorials'
//!   `X-Rate-Limit-*` / `X-RateLimit-*` (reset = an epoch second, or seconds when small).

use std::time::{Duration, SystemTime};

/// Headers as name/value pairs; names compare case-insensitively.
pub type Headers = [(String, String)];

pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Every line of a list-valued field joined with ", " (RFC 9651 §3.1: a list may be split over
/// several field lines), or `None` when there is none.
fn joined(headers: &Headers, name: &str) -> Option<String> {
    let lines: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect();
    (!lines.is_empty()).then(|| lines.join(", "))
}

/// The smallest number any line of `name` carries: with two `X-RateLimit-Remaining` lines, the
/// more conservative one counts.
fn least_number(headers: &Headers, name: &str) -> Option<u64> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .filter_map(|(_, v)| number(Some(v)))
        .min()
}

/// The longest wait any header is taken to ask for (a year); longer is treated as garbage.
const LONGEST: Duration = Duration::from_secs(366 * 86_400);

/// The server's clock as its `Date` header gives it, or `local` when it has none (or garbage).
/// An HTTP-date in `Retry-After` or a JWT `exp` is judged against this, not the local clock: a
/// client whose clock is ahead would otherwise wake early (RFC 9110 §10.2.3 reads the date
/// against the response's `Date`).
pub fn server_clock(headers: &Headers, local: SystemTime) -> SystemTime {
    header(headers, "date")
        .and_then(|date| httpdate::parse_http_date(date).ok())
        .unwrap_or(local)
}

/// Parses a `Retry-After` value that must be delay-seconds (the Java, .NET and Go SDKs parse an
/// integer only: an HTTP-date is then no `Retry-After` at all).
pub fn parse_retry_after_seconds(value: &str) -> Option<Duration> {
    parse_seconds(value.trim())
}

/// Parses a `Retry-After` value into a wait from `wall_now`.
pub fn parse_retry_after(value: &str, wall_now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Some(seconds) = parse_seconds(value) {
        return Some(seconds);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let wait = at.duration_since(wall_now).unwrap_or(Duration::ZERO);
    (wait <= LONGEST).then_some(wait)
}

/// Non-negative decimal seconds: `42`, `1.5`. No signs, exponents, `inf` or `NaN`.
fn parse_seconds(value: &str) -> Option<Duration> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    // RFC 9110 delay-seconds is `1*DIGIT`: leading zeros are allowed (`0000000042` is 42 s).
    let significant = whole.trim_start_matches('0');
    if whole.is_empty() || significant.len() > 9 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || (value.contains('.') && fraction.is_empty()) {
        return None;
    }
    let whole_s: u64 = if significant.is_empty() {
        0
    } else {
        significant.parse().ok()?
    };
    let mut micros = 0u64;
    for (place, digit) in fraction.bytes().take(6).enumerate() {
        micros += u64::from(digit - b'0') * 10u64.pow(5 - place as u32);
    }
    let wait = Duration::from_secs(whole_s) + Duration::from_micros(micros);
    (wait <= LONGEST).then_some(wait)
}

/// Which dialect a rate-limit reading came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    Ietf,
    Inin,
    XRateLimit,
}

/// What a response said about the quota it was counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitInfo {
    pub dialect: Dialect,
    pub limit: Option<u64>,
    pub remaining: u64,
    /// Until the quota resets (or, IETF, until `remaining` is restored).
    pub reset_after: Duration,
}

/// Reads whichever rate-limit dialect the response carries; `None` when it carries none.
pub fn parse_rate_limit(headers: &Headers, wall_now: SystemTime) -> Option<RateLimitInfo> {
    ietf(headers)
        .or_else(|| inin(headers))
        .or_else(|| x_rate_limit(headers, wall_now))
}

fn number(value: Option<&str>) -> Option<u64> {
    let value = value?.trim();
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

fn seconds(value: u64) -> Option<Duration> {
    let wait = Duration::from_secs(value);
    (wait <= LONGEST).then_some(wait)
}

fn ietf(headers: &Headers) -> Option<RateLimitInfo> {
    let structured = joined(headers, "RateLimit").and_then(|value| {
        let policies = joined(headers, "RateLimit-Policy").unwrap_or_default();
        ietf_structured(&value, &policies).or_else(|| ietf_draft7(&value, headers))
    });
    // A malformed `RateLimit` never hides valid `RateLimit-Remaining` / `-Reset` fields.
    structured.or_else(|| {
        let remaining = least_number(headers, "RateLimit-Remaining")?;
        let reset_after = seconds(least_number(headers, "RateLimit-Reset")?)?;
        Some(RateLimitInfo {
            dialect: Dialect::Ietf,
            limit: least_number(headers, "RateLimit-Limit"),
            remaining,
            reset_after,
        })
    })
}

/// One item of a structured list: its name (a String, or a Token as older drafts wrote it) and
/// its `key=value` parameters. Items are split at commas outside quotes; `pk` byte sequences
/// (`:base64:`) hold no commas.
fn sf_items(value: &str) -> Vec<(String, Vec<(String, String)>)> {
    let (mut items, mut current, mut quoted) = (Vec::new(), String::new(), false);
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    items
        .iter()
        .filter_map(|item| {
            let mut parts = item.split(';');
            let name = parts.next()?.trim().trim_matches('"').to_string();
            let parameters = parts
                .filter_map(|parameter| parameter.trim().split_once('='))
                .map(|(key, value)| (key.trim().to_string(), value.trim().trim_matches('"').to_string()))
                .collect();
            Some((name, parameters))
        })
        .collect()
}

/// `"name";r=12;t=41;pk=:..:, "other";r=5;t=3`: every item is read, and the one with the least
/// headroom wins (fewest left, then the longest wait). Its quota `q` comes from the
/// `RateLimit-Policy` item of the same name and partition key.
fn ietf_structured(value: &str, policies: &str) -> Option<RateLimitInfo> {
    let policies = sf_items(policies);
    let parameter = |parameters: &[(String, String)], name: &str| {
        parameters
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    sf_items(value)
        .into_iter()
        .filter_map(|(name, parameters)| {
            let remaining = number(parameter(&parameters, "r").as_deref())?;
            let reset_after = seconds(number(parameter(&parameters, "t").as_deref())?)?;
            let pk = parameter(&parameters, "pk");
            let limit = policies
                .iter()
                .find(|(policy, policy_parameters)| {
                    *policy == name && parameter(policy_parameters, "pk") == pk
                })
                .and_then(|(_, policy_parameters)| number(parameter(policy_parameters, "q").as_deref()));
            Some(RateLimitInfo {
                dialect: Dialect::Ietf,
                limit,
                remaining,
                reset_after,
            })
        })
        .min_by_key(|info| (info.remaining, std::cmp::Reverse(info.reset_after)))
}

/// Draft-07: `RateLimit: limit=100, remaining=50, reset=5`.
fn ietf_draft7(value: &str, headers: &Headers) -> Option<RateLimitInfo> {
    let field = |name: &str| {
        value
            .split(',')
            .find_map(|part| match part.trim().split_once('=') {
                Some((n, v)) if n.trim() == name => number(Some(v)),
                _ => None,
            })
    };
    let limit = field("limit").or_else(|| number(header(headers, "RateLimit-Limit")));
    Some(RateLimitInfo {
        dialect: Dialect::Ietf,
        limit,
        remaining: field("remaining")?,
        reset_after: seconds(field("reset")?)?,
    })
}

fn inin(headers: &Headers) -> Option<RateLimitInfo> {
    let allowed = number(header(headers, "inin-ratelimit-allowed"))?;
    let count = number(header(headers, "inin-ratelimit-count"))?;
    let reset_after = seconds(number(header(headers, "inin-ratelimit-reset"))?)?;
    Some(RateLimitInfo {
        dialect: Dialect::Inin,
        limit: Some(allowed),
        remaining: allowed.saturating_sub(count),
        reset_after,
    })
}

/// Values above this are epoch seconds (2001-09-09); below, seconds until the reset.
const EPOCH_THRESHOLD_S: u64 = 1_000_000_000;

fn x_rate_limit(headers: &Headers, wall_now: SystemTime) -> Option<RateLimitInfo> {
    let pick = |suffix: &str| {
        least_number(headers, &format!("X-Rate-Limit-{suffix}"))
            .or_else(|| least_number(headers, &format!("X-RateLimit-{suffix}")))
    };
    let remaining = pick("Remaining")?;
    let reset = pick("Reset")?;
    let reset_after = if reset >= EPOCH_THRESHOLD_S {
        let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(reset))?;
        at.duration_since(wall_now).unwrap_or(Duration::ZERO)
    } else {
        seconds(reset)?
    };
    (reset_after <= LONGEST).then_some(RateLimitInfo {
        dialect: Dialect::XRateLimit,
        limit: pick("Limit"),
        remaining,
        reset_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW_S: u64 = 1_767_225_600; // Thu, 01 Jan 2026 00:00:00 GMT

    fn wall() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_S)
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn retry_after_forms() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("42", Some(Duration::from_secs(42))),
            (" 7 ", Some(Duration::from_secs(7))),
            ("0", Some(Duration::ZERO)),
            ("1.5", Some(Duration::from_millis(1_500))),
            ("0.0000019", Some(Duration::from_micros(1))),
            ("Thu, 01 Jan 2026 00:00:30 GMT", Some(Duration::from_secs(30))),
            ("Wed, 31 Dec 2025 23:59:00 GMT", Some(Duration::ZERO)),
            ("-1", None),
            ("1e3", None),
            ("inf", None),
            ("NaN", None),
            ("1.", None),
            (".5", None),
            ("", None),
            ("soon", None),
            ("99999999999", None),
            ("0000000042", Some(Duration::from_secs(42))),
            ("000", Some(Duration::ZERO)),
            (
                "00000000000000000000031622400",
                Some(Duration::from_secs(31_622_400)),
            ),
            ("0000000031622401", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_retry_after(value, wall()), *expected, "{value:?}");
        }
    }

    /// (dialect, limit, remaining, reset seconds) expected from a set of headers.
    type Expected = Option<(Dialect, Option<u64>, u64, u64)>;

    #[test]
    fn dialects() {
        let cases: Vec<(Vec<(String, String)>, Expected)> = vec![
            (headers(&[]), None),
            (
                headers(&[
                    ("inin-ratelimit-allowed", "180"),
                    ("inin-ratelimit-count", "1"),
                    ("inin-ratelimit-reset", "61"),
                ]),
                Some((Dialect::Inin, Some(180), 179, 61)),
            ),
            (
                headers(&[
                    ("X-Rate-Limit-Limit", "300"),
                    ("X-Rate-Limit-Remaining", "12"),
                    ("X-Rate-Limit-Reset", "1767225660"),
                ]),
                Some((Dialect::XRateLimit, Some(300), 12, 60)),
            ),
            (
                headers(&[("x-ratelimit-remaining", "3"), ("x-ratelimit-reset", "9")]),
                Some((Dialect::XRateLimit, None, 3, 9)),
            ),
            (
                headers(&[
                    ("RateLimit-Policy", "\"t\";q=300;w=60"),
                    ("RateLimit", "\"t\";r=4;t=17"),
                ]),
                Some((Dialect::Ietf, Some(300), 4, 17)),
            ),
            (
                // Draft -11 as the gateway writes it: one item per layered rule, with pk and qu.
                headers(&[
                    (
                        "RateLimit-Policy",
                        "\"tok\";q=300;qu=\"requests\";w=60;pk=:dG9rZW4jMQ==:, \"app\";q=100;qu=\"requests\";w=60;pk=:Y2xpZW50OmE=:",
                    ),
                    ("RateLimit", "\"tok\";r=250;t=40;pk=:dG9rZW4jMQ==:, \"app\";r=2;t=55;pk=:Y2xpZW50OmE=:"),
                ]),
                Some((Dialect::Ietf, Some(100), 2, 55)),
            ),
            (
                // A list split over two field lines.
                headers(&[("RateLimit", "\"a\";r=40;t=2"), ("RateLimit", "\"b\";r=1;t=9")]),
                Some((Dialect::Ietf, None, 1, 9)),
            ),
            (
                // A malformed RateLimit does not hide valid RateLimit-Remaining / -Reset.
                headers(&[("RateLimit", "garbage;;;"), ("RateLimit-Remaining", "7"), ("RateLimit-Reset", "12")]),
                Some((Dialect::Ietf, None, 7, 12)),
            ),
            (
                // Two X-RateLimit-Remaining lines: the more conservative counts.
                headers(&[
                    ("X-RateLimit-Remaining", "9"),
                    ("X-RateLimit-Remaining", "2"),
                    ("X-RateLimit-Reset", "5"),
                ]),
                Some((Dialect::XRateLimit, None, 2, 5)),
            ),
            (
                headers(&[("RateLimit", "\"a\";r=40;t=2, \"b\";r=4;t=30")]),
                Some((Dialect::Ietf, None, 4, 30)),
            ),
            (
                headers(&[("RateLimit", "limit=100, remaining=50, reset=5")]),
                Some((Dialect::Ietf, Some(100), 50, 5)),
            ),
            (
                headers(&[
                    ("RateLimit-Limit", "10"),
                    ("RateLimit-Remaining", "0"),
                    ("RateLimit-Reset", "3"),
                ]),
                Some((Dialect::Ietf, Some(10), 0, 3)),
            ),
            (
                headers(&[
                    ("inin-ratelimit-allowed", "x"),
                    ("inin-ratelimit-count", "1"),
                    ("inin-ratelimit-reset", "61"),
                ]),
                None,
            ),
        ];
        for (given, expected) in cases {
            let parsed = parse_rate_limit(&given, wall())
                .map(|i| (i.dialect, i.limit, i.remaining, i.reset_after.as_secs()));
            assert_eq!(parsed, expected, "{given:?}");
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(value in any::<String>(), name in prop::sample::select(vec![
            "Retry-After", "RateLimit", "RateLimit-Remaining", "RateLimit-Reset", "inin-ratelimit-reset",
            "inin-ratelimit-count", "X-Rate-Limit-Reset", "X-RateLimit-Remaining",
        ]), seconds in any::<u64>()) {
            let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds % (1u64 << 40));
            let _ = parse_retry_after(&value, wall);
            let mut given = headers(&[("inin-ratelimit-allowed", "5"), ("inin-ratelimit-count", "1"), ("X-Rate-Limit-Remaining", "1"), ("RateLimit-Remaining", "2")]);
            given.push((name.to_string(), value));
            let _ = parse_rate_limit(&given, wall);
        }

        #[test]
        fn integer_retry_after_round_trips(seconds in 0u64..10_000_000, zeros in 0usize..20) {
            prop_assert_eq!(parse_retry_after(&seconds.to_string(), wall()), Some(Duration::from_secs(seconds)));
            // RFC 9110 delay-seconds is 1*DIGIT: leading zeros change nothing.
            let padded = format!("{}{seconds}", "0".repeat(zeros));
            prop_assert_eq!(parse_retry_after(&padded, wall()), Some(Duration::from_secs(seconds)));
        }

        /// Differential: however the remaining counts are split over repeated lines, and whatever
        /// garbage sits in `RateLimit`, the reading is the most conservative valid one.
        #[test]
        fn repeated_and_broken_lines_read_conservatively(
            remaining in prop::collection::vec(0u64..1_000, 1..4),
            reset in 1u64..600,
            garbage in "[;=a-z]{0,12}",
        ) {
            let mut given: Vec<(String, String)> =
                remaining.iter().map(|r| ("X-RateLimit-Remaining".to_string(), r.to_string())).collect();
            given.push(("X-RateLimit-Reset".to_string(), reset.to_string()));
            let info = parse_rate_limit(&given, wall()).expect("a reading");
            prop_assert_eq!(info.remaining, *remaining.iter().min().unwrap());
            let ietf = headers(&[("RateLimit", &garbage), ("RateLimit-Remaining", "7"), ("RateLimit-Reset", &reset.to_string())]);
            let info = parse_rate_limit(&ietf, wall()).expect("the valid fields still read");
            prop_assert_eq!((info.remaining, info.reset_after), (7, Duration::from_secs(reset)));
        }

        #[test]
        fn http_dates_read_against_the_injected_clock(offset_s in 0u64..1_000_000) {
            let date = httpdate::fmt_http_date(wall() + Duration::from_secs(offset_s));
            prop_assert_eq!(parse_retry_after(&date, wall()), Some(Duration::from_secs(offset_s)));
        }
    }
}
