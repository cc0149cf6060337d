//! Faults: which one, if any, changes a response at `now`. Rate-based faults draw from the gateway's
//! seeded RNG, one draw per active fault per request, so a run replays exactly from its seed.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::config::Fault;
use crate::time::SimTime;

/// The faults of one gateway, in configuration order.
pub struct FaultPlan {
    faults: Vec<Fault>,
}

/// A fault that replaces the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injected {
    Maintenance { retry_after_s: Option<u64> },
    Throttle { retry_after_s: Option<u64>, html: bool },
    ServerError { status: u16, html: bool },
}

impl Injected {
    pub fn name(&self) -> &'static str {
        match self {
            Injected::Maintenance { .. } => "maintenance",
            Injected::Throttle { .. } => "throttle",
            Injected::ServerError { .. } => "server_error",
        }
    }
}

impl FaultPlan {
    pub fn new(faults: Vec<Fault>) -> FaultPlan {
        FaultPlan { faults }
    }

    /// A maintenance window open at `now` (no draw: it applies to every request).
    pub fn maintenance(&self, now: SimTime) -> Option<Injected> {
        self.faults.iter().find_map(|fault| match fault {
            Fault::Maintenance { retry_after_s, .. } if fault.active_at(now) => Some(Injected::Maintenance {
                retry_after_s: *retry_after_s,
            }),
            _ => None,
        })
    }

    /// Spurious edge throttling, before the limiters (it consumes no quota).
    pub fn throttle(&self, now: SimTime, rng: &mut ChaCha8Rng) -> Option<Injected> {
        self.first_drawn(now, rng, |fault| match fault {
            Fault::Throttle {
                rate,
                retry_after_s,
                html,
                ..
            } => Some((
                *rate,
                Injected::Throttle {
                    retry_after_s: *retry_after_s,
                    html: *html,
                },
            )),
            _ => None,
        })
    }

    /// A 5xx for an admitted request (it consumed quota and has no side effect).
    pub fn server_error(&self, now: SimTime, rng: &mut ChaCha8Rng) -> Option<Injected> {
        self.first_drawn(now, rng, |fault| match fault {
            Fault::ServerErrors {
                rate, status, html, ..
            } => Some((
                *rate,
                Injected::ServerError {
                    status: *status,
                    html: *html,
                },
            )),
            _ => None,
        })
    }

    /// How long to hold the response, if a slow fault fires.
    pub fn slow_ms(&self, now: SimTime, rng: &mut ChaCha8Rng) -> Option<u64> {
        self.first_drawn(now, rng, |fault| match fault {
            Fault::Slow { rate, delay_ms, .. } => Some((*rate, *delay_ms)),
            _ => None,
        })
    }

    /// Whether an applied write's response is lost.
    pub fn lose_response(&self, now: SimTime, rng: &mut ChaCha8Rng) -> bool {
        self.first_drawn(now, rng, |fault| match fault {
            Fault::LostResponse { rate, .. } => Some((*rate, ())),
            _ => None,
        })
        .is_some()
    }

    /// The scheduled revocation times, sorted.
    pub fn revocation_times(&self) -> Vec<SimTime> {
        let mut times: Vec<SimTime> = self
            .faults
            .iter()
            .filter_map(|fault| match fault {
                Fault::RevokeTokens { at_s } => Some(SimTime::from_secs(*at_s)),
                _ => None,
            })
            .collect();
        times.sort();
        times
    }

    /// Draws once for every active fault of a kind, in order; the first that fires wins.
    fn first_drawn<T>(
        &self,
        now: SimTime,
        rng: &mut ChaCha8Rng,
        select: impl Fn(&Fault) -> Option<(f64, T)>,
    ) -> Option<T> {
        let mut fired = None;
        for fault in &self.faults {
            if let Some((rate, outcome)) = select(fault) {
                if fault.active_at(now) {
                    let draw: f64 = rng.random();
                    if fired.is_none() && draw < rate {
                        fired = Some(outcome);
                    }
                }
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn windows_and_rates() {
        let plan = FaultPlan::new(vec![
            Fault::Maintenance {
                from_s: 10,
                until_s: Some(20),
                retry_after_s: Some(5),
            },
            Fault::ServerErrors {
                from_s: 0,
                until_s: None,
                rate: 1.0,
                status: 502,
                html: true,
            },
            Fault::Throttle {
                from_s: 0,
                until_s: Some(1),
                rate: 0.0,
                retry_after_s: None,
                html: false,
            },
            Fault::RevokeTokens { at_s: 30 },
            Fault::RevokeTokens { at_s: 7 },
        ]);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(plan.maintenance(SimTime::from_secs(9)), None);
        assert_eq!(
            plan.maintenance(SimTime::from_secs(10)),
            Some(Injected::Maintenance {
                retry_after_s: Some(5)
            })
        );
        assert_eq!(plan.maintenance(SimTime::from_secs(20)), None);
        assert_eq!(
            plan.server_error(SimTime::ZERO, &mut rng),
            Some(Injected::ServerError {
                status: 502,
                html: true
            })
        );
        assert_eq!(plan.throttle(SimTime::ZERO, &mut rng), None);
        assert_eq!(
            plan.revocation_times(),
            vec![SimTime::from_secs(7), SimTime::from_secs(30)]
        );
        assert!(!plan.lose_response(SimTime::ZERO, &mut rng));
    }

    #[test]
    fn a_rate_fires_about_as_often_as_configured() {
        let plan = FaultPlan::new(vec![Fault::LostResponse {
            from_s: 0,
            until_s: None,
            rate: 0.25,
        }]);
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let fired = (0..10_000)
            .filter(|_| plan.lose_response(SimTime::ZERO, &mut rng))
            .count();
        assert!(
            (2_300..2_700).contains(&fired),
            "fired {fired} of 10000 at rate 0.25"
        );
    }
}
