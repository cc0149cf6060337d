//! The referee's fixed numbers: its in-flight grace, its wake-up window, and the caps that bound
//! its memory.

/// Requests that arrive this soon after a Retry-After was said were already in flight: they
/// are not early sends.
pub const IN_FLIGHT_GRACE_US: u64 = 250_000;
/// How long after a bucket reopens a wake-up burst is counted.
pub const WAKE_WINDOW_US: u64 = 1_000_000;
/// Distinct OAuth clients with their own card; the rest share `(other)`.
pub const CLIENTS_MAX: usize = 64;
/// Requests remembered per client to recognise a retry (the oldest are forgotten first).
pub const RECENT_MAX: usize = 4_096;
/// Create keys remembered per client to count duplicate writes.
pub const CREATES_MAX: usize = 65_536;
/// Listings whose paging position is remembered per client.
pub const LISTINGS_MAX: usize = 1_024;
/// Retry-After holds remembered per client (buckets and tokens).
pub const HOLDS_MAX: usize = 4_096;

/// Statuses that no retry can change.
pub const PERMANENT_STATUSES: [u16; 8] = [400, 403, 404, 405, 409, 410, 413, 422];

/// Requests allowed in the first second after a scope reopens: two seconds of its rate, and
/// never fewer than 3.
pub fn burst_allowance(rate_milli: u64) -> u64 {
    (rate_milli.saturating_mul(2)).div_ceil(1_000).max(3)
}
