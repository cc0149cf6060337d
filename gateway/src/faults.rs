//! Faults: which one, if any, changes a response at `now`. Rate-based faults draw from the gateway's
//! seeded RNG, one draw per active fault per request, so a run replays exactly from its seed.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::config::{Fault, HostRole, RetryAfterStyle};
use crate::time::SimTime;

/// The faults of one gateway, in configuration order.
pub struct FaultPlan {
    faults: Vec<Fault>,
}

/// What a request is, for the faults that name their targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    pub family: &'a str,
    pub host: HostRole,
}

/// A `Retry-After` a fault sends: how many seconds, written how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultRetryAfter {
    pub seconds: u64,
    pub style: RetryAfterStyle,
}

fn retry_after(seconds: Option<u64>, style: RetryAfterStyle) -> Option<FaultRetryAfter> {
    seconds.map(|seconds| FaultRetryAfter { seconds, style })
}

/// A fault that replaces the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injected {
    Maintenance {
        retry_after: Option<FaultRetryAfter>,
    },
    Throttle {
        retry_after: Option<FaultRetryAfter>,
        html: bool,
    },
    ServerError {
        status: u16,
        html: bool,
        retry_after: Option<FaultRetryAfter>,
    },
    /// No response at all: the shell holds the connection until the client closes it.
    Hang,
}

impl Injected {
    pub fn name(&self) -> &'static str {
        match self {
            Injected::Maintenance { .. } => "maintenance",
            Injected::Throttle { .. } => "throttle",
            Injected::ServerError { .. } => "server_error",
            Injected::Hang => "hang",
        }
    }
}

impl FaultPlan {
    pub fn new(faults: Vec<Fault>) -> FaultPlan {
        FaultPlan { faults }
    }

    /// A maintenance window open at `now` for this target (no draw: it applies to every request).
    pub fn maintenance(&self, now: SimTime, target: Target) -> Option<Injected> {
        self.faults.iter().find_map(|fault| match fault {
            Fault::Maintenance {
                retry_after_s,
                retry_after: style,
                ..
            } if fault.active_at(now) && fault.hits(target.family, target.host) => {
                Some(Injected::Maintenance {
                    retry_after: retry_after(*retry_after_s, *style),
                })
            }
            _ => None,
        })
    }

    /// Spurious edge throttling, before the limiters (it consumes no quota).
    pub fn throttle(&self, now: SimTime, target: Target, rng: &mut ChaCha8Rng) -> Option<Injected> {
        self.first_drawn(now, target, rng, |fault| match fault {
            Fault::Throttle {
                rate,
                retry_after_s,
                retry_after: style,
                html,
                ..
            } => Some((
                *rate,
                Injected::Throttle {
                    retry_after: retry_after(*retry_after_s, *style),
                    html: *html,
                },
            )),
            _ => None,
        })
    }

    /// A 5xx or a hang for an admitted request (it consumed quota and has no side effect). The
    /// 5xx faults draw first, then the hangs.
    pub fn server_error(&self, now: SimTime, target: Target, rng: &mut ChaCha8Rng) -> Option<Injected> {
        let error = self.first_drawn(now, target, rng, |fault| match fault {
            Fault::ServerErrors {
                rate,
                status,
                html,
                retry_after_s,
                retry_after: style,
                ..
            } => Some((
                *rate,
                Injected::ServerError {
                    status: *status,
                    html: *html,
                    retry_after: retry_after(*retry_after_s, *style),
                },
            )),
            _ => None,
        });
        let hang = self.first_drawn(now, target, rng, |fault| match fault {
            Fault::Hang { rate, .. } => Some((*rate, Injected::Hang)),
            _ => None,
        });
        error.or(hang)
    }

    /// How long to hold the response, if a slow fault fires.
    pub fn slow_ms(&self, now: SimTime, target: Target, rng: &mut ChaCha8Rng) -> Option<u64> {
        self.first_drawn(now, target, rng, |fault| match fault {
            Fault::Slow { rate, delay_ms, .. } => Some((*rate, *delay_ms)),
            _ => None,
        })
    }

    /// Whether an applied write's response is lost.
    pub fn lose_response(&self, now: SimTime, target: Target, rng: &mut ChaCha8Rng) -> bool {
        self.first_drawn(now, target, rng, |fault| match fault {
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

    /// Draws once for every active fault of a kind that hits the target, in order; the first that
    /// fires wins. A fault that does not hit the target draws nothing, so targeting one family
    /// never shifts the draws of another.
    fn first_drawn<T>(
        &self,
        now: SimTime,
        target: Target,
        rng: &mut ChaCha8Rng,
        select: impl Fn(&Fault) -> Option<(f64, T)>,
    ) -> Option<T> {
        let mut fired = None;
        for fault in &self.faults {
            if let Some((rate, outcome)) = select(fault) {
                if fault.active_at(now) && fault.hits(target.family, target.host) {
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

    const API: Target = Target {
        family: "users.read",
        host: HostRole::Api,
    };
    const LOGIN: Target = Target {
        family: "oauth",
        host: HostRole::Login,
    };

    fn server_errors(rate: f64, families: &[&str], host: Option<HostRole>) -> Fault {
        Fault::ServerErrors {
            from_s: 0,
            until_s: None,
            rate,
            status: 502,
            html: true,
            retry_after_s: Some(7),
            retry_after: RetryAfterStyle::Date,
            families: families.iter().map(ToString::to_string).collect(),
            host,
        }
    }

    #[test]
    fn windows_and_rates() {
        let plan = FaultPlan::new(vec![
            Fault::Maintenance {
                from_s: 10,
                until_s: Some(20),
                retry_after_s: Some(5),
                retry_after: RetryAfterStyle::Seconds,
                families: Vec::new(),
                host: None,
            },
            server_errors(1.0, &[], None),
            Fault::Throttle {
                from_s: 0,
                until_s: Some(1),
                rate: 0.0,
                retry_after_s: None,
                retry_after: RetryAfterStyle::Seconds,
                html: false,
                families: Vec::new(),
                host: None,
            },
            Fault::RevokeTokens { at_s: 30 },
            Fault::RevokeTokens { at_s: 7 },
        ]);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(plan.maintenance(SimTime::from_secs(9), API), None);
        let open = Some(Injected::Maintenance {
            retry_after: Some(FaultRetryAfter {
                seconds: 5,
                style: RetryAfterStyle::Seconds,
            }),
        });
        assert_eq!(plan.maintenance(SimTime::from_secs(10), API), open);
        assert_eq!(
            plan.maintenance(SimTime::from_secs(10), LOGIN),
            open,
            "an untargeted maintenance window closes the login host too"
        );
        assert_eq!(plan.maintenance(SimTime::from_secs(20), API), None);
        assert_eq!(
            plan.server_error(SimTime::ZERO, API, &mut rng),
            Some(Injected::ServerError {
                status: 502,
                html: true,
                retry_after: Some(FaultRetryAfter {
                    seconds: 7,
                    style: RetryAfterStyle::Date
                }),
            })
        );
        assert_eq!(
            plan.server_error(SimTime::ZERO, LOGIN, &mut rng),
            None,
            "an untargeted 5xx burst spares the token endpoint"
        );
        assert_eq!(plan.throttle(SimTime::ZERO, API, &mut rng), None);
        assert_eq!(
            plan.revocation_times(),
            vec![SimTime::from_secs(7), SimTime::from_secs(30)]
        );
        assert!(!plan.lose_response(SimTime::ZERO, API, &mut rng));
    }

    #[test]
    fn targets_name_families_and_hosts() {
        let login_only = FaultPlan::new(vec![server_errors(1.0, &[], Some(HostRole::Login))]);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(login_only.server_error(SimTime::ZERO, LOGIN, &mut rng).is_some());
        assert!(login_only.server_error(SimTime::ZERO, API, &mut rng).is_none());
        let writes_only = FaultPlan::new(vec![server_errors(1.0, &["users.write"], None)]);
        let write = Target {
            family: "users.write",
            host: HostRole::Api,
        };
        assert!(writes_only.server_error(SimTime::ZERO, write, &mut rng).is_some());
        assert!(writes_only.server_error(SimTime::ZERO, API, &mut rng).is_none());
        let hang = FaultPlan::new(vec![Fault::Hang {
            from_s: 0,
            until_s: None,
            rate: 1.0,
            families: vec!["oauth".into()],
            host: None,
        }]);
        assert_eq!(
            hang.server_error(SimTime::ZERO, LOGIN, &mut rng),
            Some(Injected::Hang)
        );
        assert_eq!(hang.server_error(SimTime::ZERO, API, &mut rng), None);
    }

    #[test]
    fn a_rate_fires_about_as_often_as_configured() {
        let plan = FaultPlan::new(vec![Fault::LostResponse {
            from_s: 0,
            until_s: None,
            rate: 0.25,
            families: Vec::new(),
            host: None,
        }]);
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let fired = (0..10_000)
            .filter(|_| plan.lose_response(SimTime::ZERO, API, &mut rng))
            .count();
        assert!(
            (2_300..2_700).contains(&fired),
            "fired {fired} of 10000 at rate 0.25"
        );
    }
}
