//! The best any client could do: an oracle sender that knows every rule, its capacity schedule,
//! the background consumers' draws, the outages and the token lifetimes, and sends each request
//! the moment every rule that applies would admit it. One calculation serves two metrics:
//! - the **best makespan**: when the oracle has sent the workload's requests;
//! - **quota utilization**: the run's useful admissions over what the oracle could have had
//!   admitted by the run's end (so it cannot exceed 1).
//!
//! The oracle runs the gateway's own rule set (`herd_gateway::rules`), so it agrees with the
//! gateway by construction. Its choices, each at least as good as any real client's:
//! - it uses every instance, each with a token; when a per-token rule binds it mints a new token
//!   if the token endpoint's own limit lets it (so minting cannot beat it), and it takes a new
//!   token at every expiry and revocation;
//! - it needs the fewest requests the workload allows: one per read, write or create, one per
//!   bulk request of `bulk_max` items, one per page of a listing; no listing before updates;
//! - random faults (5xx, hangs, lost responses) are assumed to spare it: a lower bound may not
//!   bet on bad luck, and an expectation was beaten by a client that sent its writes around a
//!   targeted burst (the ratio then fell below 1). What they cost shows in the ratio. Scheduled
//!   maintenance admits nothing, and a partitioned or crashed instance sends nothing;
//! - at the instant a slot frees, its request goes before a background consumer's draw due at
//!   that same instant. Sending each request as soon as the rules admit it, with ties lost,
//!   locks the oracle into the consumer's phase on a token bucket: a refill at every draw, the
//!   consumer's. A client whose requests arrive a moment after each refill shifts the refills
//!   past the draws, and the consumer finds the bucket a moment short every time (a swarm
//!   environment of `slow-bucket`: 1 033 s against a bound of 1 190 s). Ties won are that
//!   strategy's limit (`ties_go_to_the_oracle`);
//! - a background consumer is left out where a client's lockout would refuse it too (a rule
//!   with an early-retry penalty keyed by client): a client can starve it on purpose
//!   (`lockable_by_clients`);
//! - network latency: the first API request reaches the gateway after a token round trip, and
//!   the last response takes one more trip back (the scenario's minimum latency).
//!
//! - each instance sends its own items (its workers hold them), each from its release: the
//!   start of the worker that holds it (spread starts), or its arrival (an open workload); its
//!   requests reach the gateway a trip later at the earliest. Which of the instance's workers
//!   sends it, and in what order, are left free (a relaxation: the bound stays one), but no
//!   worker's chain of requests is faster than its round trips. It knows the future: it gives
//!   the slots before a partition to the instance about to be cut off.
//!
//! Greedy earliest-admission in order of release is optimal for one sliding log; for the
//! layered keys here it is the same exchange argument per key. The bound is never below the
//! last worker's start (spread starts), nor below the last item's arrival plus a round trip.

use std::collections::BTreeMap;
use std::time::Duration;

use herd_gateway::config::{Fault, HostRole};
use herd_gateway::rules::{Check, RateLimits, Subject};
use herd_gateway::SimTime;

use crate::scenario::{Scenario, StartPattern};
use crate::world::plan::{ItemKind, WorkItem};

/// A bound on the number of oracle steps (requests it sends), so a scenario without limits on a
/// huge workload stays bounded; beyond it the calculation says it did not finish.
const STEPS_MAX: u64 = 5_000_000;
/// How many times one request's earliest time is refined (each rule may refuse in turn).
const REFINE_MAX: usize = 64;

/// The requests a workload needs at the least, per endpoint family, and whether they write.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Demand {
    /// (family, is a write) → requests.
    pub requests: BTreeMap<(&'static str, bool), u64>,
    /// The most requests one worker must make one after another (its items are sequential, and
    /// so are the pages of a listing): each costs a round trip at least.
    pub longest_chain: u64,
    /// The longest time one worker's items must wait on the platform itself (analytics jobs
    /// that are not yet fulfilled, bulk requests that take time per item), one after another.
    pub longest_wait: Duration,
    /// When the last item arrives (`[arrivals]`): no client finishes before it, plus a round trip.
    pub last_arrival: Duration,
    /// Per instance (its items are its own workers'), per family: the requests it must send
    /// and when each can go at the earliest.
    pub by_instance: Vec<BTreeMap<(&'static str, bool), Requests>>,
}

/// One instance's requests of one family.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Requests {
    pub count: u64,
    /// When each can go at the earliest, in order: its item's release (the start of the worker
    /// that holds it, its arrival in an open workload). Empty when every item is there from the
    /// start.
    pub releases: Vec<Duration>,
}

impl Requests {
    /// When the `sent`-th request (counting from 0) can go at the earliest.
    fn released(&self, sent: u64) -> Duration {
        usize::try_from(sent)
            .ok()
            .and_then(|index| self.releases.get(index))
            .copied()
            .unwrap_or(Duration::ZERO)
    }

    /// How many are there by `at`.
    fn released_by(&self, at: Duration) -> u64 {
        if self.releases.is_empty() {
            self.count
        } else {
            self.releases.partition_point(|&release| release <= at) as u64
        }
    }
}

impl Demand {
    pub fn of(scenario: &Scenario, plan: &[Vec<Vec<WorkItem>>]) -> Demand {
        let data = &scenario.gateway.data;
        let mut demand = Demand::default();
        let pages = data.users.div_ceil(data.page_size_max.max(1)).max(1);
        // Releases are kept only when some item is not there from the start.
        let timed = plan.iter().flatten().enumerate().any(|(global, items)| {
            !scenario.worker_start(global as u64).is_zero() && !items.is_empty()
                || items.iter().any(|item| !item.arrives_at.is_zero())
        });
        let mut global = 0u64;
        for workers in plan {
            let mut mine: BTreeMap<(&'static str, bool), Requests> = BTreeMap::new();
            let mut add = |key: (&'static str, bool), at: Duration, n: u64| {
                let requests = mine.entry(key).or_default();
                requests.count += n;
                if timed {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    requests.releases.extend(std::iter::repeat_n(at, n));
                }
            };
            let mut bulk_releases: Vec<Duration> = Vec::new();
            for worker in workers {
                let start = scenario.worker_start(global);
                global += 1;
                let (mut chain, mut worker_bulk, mut wait) = (0u64, 0u64, Duration::ZERO);
                for item in worker {
                    demand.last_arrival = demand.last_arrival.max(item.arrives_at);
                    let released = start.max(item.arrives_at);
                    let (key, n) = match &item.kind {
                        ItemKind::Read { .. } => (("users.read", false), 1),
                        ItemKind::Update { .. } => (("users.write", true), 1),
                        ItemKind::Create { .. } => (("evaluations", true), 1),
                        ItemKind::BulkUpdate { .. } | ItemKind::CreateAgent { .. } => {
                            worker_bulk += 1;
                            bulk_releases.push(released);
                            continue;
                        }
                        ItemKind::ListAll => (("users.read", false), pages),
                        ItemKind::CreateUser { .. } => (("users.write", true), 1),
                        // Submit, one poll that finds it fulfilled, and its results in the
                        // largest pages the platform serves. The job's own run time is not
                        // counted (a lower bound stays one).
                        ItemKind::AnalyticsJob { .. } => {
                            let result_pages =
                                data.job_conversations.div_ceil(data.page_size_max.max(1)).max(1);
                            add(("analytics", true), released, 1);
                            chain += 1;
                            wait += Duration::from_secs(data.job_duration_s);
                            (("analytics", false), 1 + result_pages)
                        }
                    };
                    add(key, released, n);
                    chain += n;
                }
                chain += worker_bulk.div_ceil(data.bulk_max.max(1));
                wait += Duration::from_millis(data.bulk_item_ms.saturating_mul(worker_bulk));
                demand.longest_chain = demand.longest_chain.max(chain);
                demand.longest_wait = demand.longest_wait.max(wait);
            }
            if !bulk_releases.is_empty() {
                // The instance's bulk items in as few requests as the platform takes, the k-th
                // once k × bulk_max + 1 of them are there (items of any of its workers in one
                // request: a relaxation, so the bound stays one).
                let per_request = usize::try_from(data.bulk_max.max(1)).unwrap_or(usize::MAX);
                bulk_releases.sort_unstable();
                for request in 0..bulk_releases.len().div_ceil(per_request) {
                    add(("users.bulk", true), bulk_releases[request * per_request], 1);
                }
            }
            for (key, requests) in &mut mine {
                requests.releases.sort_unstable();
                *demand.requests.entry(*key).or_insert(0) += requests.count;
            }
            demand.by_instance.push(mine);
        }
        demand
    }

    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// What the oracle found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Oracle {
    /// When the last response of the workload could arrive, at the earliest.
    pub best_makespan_s: f64,
}

/// Any family no rule limits makes the oracle's admissions unbounded by time: utilization is
/// then not defined.
fn unlimited(limits: &RateLimits, demand: &Demand) -> bool {
    demand
        .requests
        .keys()
        .any(|(family, _)| !limits.limits_family(family))
}

struct Instance {
    client: String,
    token_seq: u64,
    token_expires_at: SimTime,
}

struct World {
    limits: RateLimits,
    instances: Vec<Instance>,
    /// Per instance, `[from, until)` windows in which it cannot reach the gateway.
    down: Vec<Vec<(SimTime, SimTime)>>,
    /// Maintenance windows by the API family they close (a window on the login host alone, or
    /// on other families, closes nothing here: leaving it out keeps the bound a lower bound).
    maintenance: BTreeMap<&'static str, Vec<(SimTime, SimTime)>>,
    revocations: Vec<SimTime>,
    background: Vec<(SimTime, Duration, SimTime, String, String, u64)>,
    /// When a rule's capacity changes: a limit that rises frees slots at that very time.
    capacity_changes: Vec<SimTime>,
    next_token_seq: u64,
    ttl: Duration,
}

/// A candidate send: instance, family, write, the time, and whether it mints first.
#[derive(Clone, Copy)]
struct Candidate {
    instance: usize,
    family: &'static str,
    write: bool,
    at: SimTime,
    mint: bool,
}

impl World {
    fn new(scenario: &Scenario, start: SimTime) -> World {
        let config = &scenario.gateway;
        let count = scenario.instances.count as usize;
        let ttl = Duration::from_secs(
            config
                .clients
                .first()
                .map_or(86_399, |client| config.token_ttl_s(client)),
        );
        let instances = (0..count)
            .map(|index| Instance {
                client: scenario
                    .instances
                    .oauth_client_of(index as u32, config)
                    .unwrap_or("herd-app")
                    .to_string(),
                token_seq: index as u64 + 1,
                token_expires_at: start + ttl,
            })
            .collect();
        let secs = SimTime::from_secs;
        let mut down = vec![Vec::new(); count];
        for partition in &scenario.network.partitions {
            for (index, windows) in down.iter_mut().enumerate() {
                if partition
                    .instance
                    .is_none_or(|instance| instance as usize == index)
                {
                    windows.push((secs(partition.from_s), secs(partition.until_s)));
                }
            }
        }
        for crash in &scenario.network.crashes {
            if let Some(windows) = down.get_mut(crash.instance as usize) {
                let until = crash
                    .restart_after_s
                    .map_or(SimTime::NEVER, |after| secs(crash.at_s.saturating_add(after)));
                windows.push((secs(crash.at_s), until));
            }
        }
        let mut maintenance: BTreeMap<&'static str, Vec<(SimTime, SimTime)>> = BTreeMap::new();
        let mut revocations = Vec::new();
        for fault in &config.faults {
            match fault {
                Fault::Maintenance { from_s, until_s, .. } => {
                    for family in herd_gateway::config::FAMILIES {
                        if fault.hits(family, HostRole::Api) {
                            maintenance
                                .entry(family)
                                .or_default()
                                .push((secs(*from_s), until_s.map_or(SimTime::NEVER, secs)));
                        }
                    }
                }
                Fault::RevokeTokens { at_s } => revocations.push(secs(*at_s)),
                _ => {}
            }
        }
        revocations.sort();
        let rules = config.effective_limits();
        let background = config
            .background
            .iter()
            .enumerate()
            .filter(|(_, consumer)| !lockable_by_clients(&rules, &consumer.family))
            .map(|(index, consumer)| {
                let interval = Duration::from_micros(60_000_000 / consumer.rate_per_min.max(1));
                let until = consumer.until_s.map_or(SimTime::NEVER, secs);
                (
                    secs(consumer.from_s),
                    interval,
                    until,
                    consumer.client.clone(),
                    consumer.family.clone(),
                    u64::MAX - index as u64,
                )
            })
            .collect();
        let mut capacity_changes: Vec<SimTime> = rules
            .iter()
            .flat_map(|rule| rule.schedule.iter().map(|change| secs(change.at_s)))
            .collect();
        capacity_changes.sort();
        capacity_changes.dedup();
        World {
            capacity_changes,
            limits: RateLimits::new(rules),
            instances,
            down,
            maintenance,
            revocations,
            background,
            next_token_seq: count as u64 + 1,
            ttl,
        }
    }

    /// The earliest time ≥ `at` outside every window in `windows`.
    fn outside(windows: &[(SimTime, SimTime)], mut at: SimTime) -> SimTime {
        for _ in 0..=windows.len() {
            match windows.iter().find(|(from, until)| *from <= at && at < *until) {
                Some((_, until)) => at = *until,
                None => return at,
            }
        }
        at
    }

    /// Applies background draws and token turnover due at or before `now`.
    fn advance_to(&mut self, now: SimTime) {
        loop {
            let due = self
                .background
                .iter()
                .enumerate()
                .filter(|(_, draw)| draw.0 <= now && draw.0 < draw.2)
                .min_by_key(|(index, draw)| (draw.0, *index))
                .map(|(index, _)| index);
            let Some(index) = due else { break };
            let (at, interval, _, client, family, token_seq) = self.background[index].clone();
            self.background[index].0 = at + interval;
            let subject = Subject {
                token_seq,
                client: &client,
                family: &family,
                resource: "",
            };
            let check = self.limits.check(at, subject);
            if check.admitted() {
                self.limits.record(at, &check);
            }
        }
        self.capacity_changes.retain(|at| *at > now);
        while self.revocations.first().is_some_and(|at| *at <= now) {
            let at = self.revocations.remove(0);
            for index in 0..self.instances.len() {
                self.renew(index, at);
            }
        }
        for index in 0..self.instances.len() {
            if self.instances[index].token_expires_at <= now {
                let at = self.instances[index].token_expires_at;
                self.renew(index, at);
            }
        }
    }

    fn renew(&mut self, index: usize, at: SimTime) {
        let instance = &mut self.instances[index];
        instance.token_seq = self.next_token_seq;
        instance.token_expires_at = at + self.ttl;
        self.next_token_seq += 1;
    }

    /// When `instance` could next send a `family` request, at or after `from`.
    fn earliest(
        &self,
        instance: usize,
        family: &'static str,
        write: bool,
        from: SimTime,
    ) -> Option<Candidate> {
        let me = &self.instances[instance];
        let mut at = from;
        for _ in 0..REFINE_MAX {
            let closed = self.maintenance.get(family).map_or(&[][..], Vec::as_slice);
            at = World::outside(&self.down[instance], World::outside(closed, at));
            if at >= SimTime::NEVER {
                return None;
            }
            let subject = Subject {
                token_seq: me.token_seq,
                client: &me.client,
                family,
                resource: "",
            };
            let check = self.limits.peek(at, subject);
            let Some(binding) = check.binding_rejection() else {
                return Some(Candidate {
                    instance,
                    family,
                    write,
                    at,
                    mint: false,
                });
            };
            if binding.key.contains("token#") && self.can_mint(&me.client, at) {
                let fresh = Subject {
                    token_seq: u64::MAX / 2,
                    ..subject
                };
                if self.limits.peek(at, fresh).admitted() {
                    return Some(Candidate {
                        instance,
                        family,
                        write,
                        at,
                        mint: true,
                    });
                }
            }
            if binding.verdict.retry_at <= at || binding.verdict.retry_at >= SimTime::NEVER {
                return None;
            }
            at = binding.verdict.retry_at;
        }
        None
    }

    fn can_mint(&self, client: &str, at: SimTime) -> bool {
        self.limits
            .peek(
                at,
                Subject {
                    token_seq: 0,
                    client,
                    family: "oauth",
                    resource: "",
                },
            )
            .admitted()
    }

    fn send(&mut self, candidate: Candidate) {
        if candidate.mint {
            let client = self.instances[candidate.instance].client.clone();
            let endpoint = self.limits.check(
                candidate.at,
                Subject {
                    token_seq: 0,
                    client: &client,
                    family: "oauth",
                    resource: "",
                },
            );
            if endpoint.admitted() {
                self.limits.record(candidate.at, &endpoint);
            }
            self.renew(candidate.instance, candidate.at);
        }
        let check = self.check_send(candidate);
        debug_assert!(check.admitted(), "the oracle sends only what every rule admits");
        if check.admitted() {
            self.limits.record(candidate.at, &check);
        }
    }

    /// Every rule's verdict on `candidate`'s request from its instance's current token.
    fn check_send(&mut self, candidate: Candidate) -> Check {
        let me = &self.instances[candidate.instance];
        let subject = Subject {
            token_seq: me.token_seq,
            client: &me.client,
            family: candidate.family,
            resource: "",
        };
        self.limits.check(candidate.at, subject)
    }

    /// Sends up to `most` more of `candidate`'s request at the same instant, as many as every
    /// rule still admits: what sending them one by one would do, at the cost of one check. A
    /// candidate that mints a token is never repeated. Returns how many were sent.
    fn send_more(&mut self, candidate: Candidate, most: u64) -> u64 {
        if candidate.mint || most == 0 {
            return 0;
        }
        let check = self.check_send(candidate);
        if !check.admitted() {
            return 0;
        }
        let headroom = check
            .verdicts
            .iter()
            .map(|verdict| verdict.verdict.remaining)
            .min()
            .unwrap_or(0);
        let n = headroom.min(most);
        if n > 0 {
            self.limits.record_n(candidate.at, &check, n);
        }
        n
    }

    /// The next send among the (instance, family) pairs that still have demand, each at or
    /// after its own earliest time (its next request's release, or now).
    fn next(
        &self,
        open: impl IntoIterator<Item = (usize, (&'static str, bool), SimTime)>,
    ) -> Option<Candidate> {
        open.into_iter()
            .filter_map(|(instance, (family, write), from)| self.earliest(instance, family, write, from))
            .min_by_key(|candidate| (candidate.at, candidate.instance))
    }

    /// The earliest time the next event of the world's own (a background draw or a token
    /// turnover) is due after `now`.
    fn next_event(&self) -> SimTime {
        let draws = self.background.iter().filter(|d| d.0 < d.2).map(|d| d.0).min();
        let tokens = self.instances.iter().map(|i| i.token_expires_at).min();
        [
            draws,
            tokens,
            self.revocations.first().copied(),
            self.capacity_changes.first().copied(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(SimTime::NEVER)
    }
}

/// Whether a client can lock a background consumer of `family` out: a rule with an early-retry
/// penalty that counts the consumer under the client's own key (not per token or resource)
/// refuses the consumer too while the client's lockout runs, and the bucket refills meanwhile.
/// A client that provokes lockouts on purpose then takes what the consumer would have had; the
/// oracle, which is never refused, would not, and a client beat the bound so (a swarm
/// environment of `retry-storm` with a background consumer: 1 202 s against a bound of
/// 1 422 s). So the oracle leaves such a consumer out: a relaxation, the bound stays one.
fn lockable_by_clients(rules: &[herd_gateway::config::LimitRule], family: &str) -> bool {
    rules.iter().any(|rule| {
        rule.early_penalty_ms.is_some() && rule.applies_to(family) && rule.shared_with_client_consumers()
    })
}

fn latency(scenario: &Scenario) -> Duration {
    Duration::from_millis(scenario.network.latency_ms_min)
}

/// When the first API request can reach the gateway: after a token round trip and one trip.
fn first_send(scenario: &Scenario) -> SimTime {
    SimTime::ZERO + latency(scenario) * 3
}

/// The best makespan for `demand`: the oracle sends until every family's expected successes
/// reach its demand. `None` when no client could finish within the scenario's `duration_s` (a
/// capacity schedule down to zero).
pub fn best_makespan(scenario: &Scenario, demand: &Demand) -> Option<Oracle> {
    let horizon = SimTime::from_secs(scenario.duration_s);
    let start = first_send(scenario);
    let mut world = World::new(scenario, start);
    // Per instance and family: how many of its requests were sent.
    let mut sent: BTreeMap<(usize, (&'static str, bool)), u64> = demand
        .by_instance
        .iter()
        .enumerate()
        .flat_map(|(instance, mine)| mine.keys().map(move |key| ((instance, *key), 0)))
        .collect();
    let mut now = start;
    let mut last = start;
    for _ in 0..STEPS_MAX {
        // Each instance's family with requests left, from its next one's release, which reaches
        // the gateway a trip later (never before the first send: `now` is at least that).
        let open: Vec<(usize, (&'static str, bool), SimTime)> = sent
            .iter()
            .filter(|(&(instance, key), &sent)| sent < demand.by_instance[instance][&key].count)
            .map(|(&(instance, key), &sent)| {
                let released = demand.by_instance[instance][&key].released(sent);
                (
                    instance,
                    key,
                    now.max(SimTime::from_duration(released) + latency(scenario)),
                )
            })
            .collect();
        if open.is_empty() {
            // The last response travels back; and no worker's chain of requests is faster than
            // its round trips.
            let after_last = last + latency(scenario);
            let chain_floor = start
                + latency(scenario)
                    * 2
                    * u32::try_from(demand.longest_chain.saturating_sub(1)).unwrap_or(u32::MAX)
                + latency(scenario);
            let spread_floor = match scenario.instances.start {
                StartPattern::Herd => SimTime::ZERO,
                StartPattern::Spread => {
                    let total = scenario.total_workers().max(1);
                    SimTime::from_duration(
                        Duration::from_secs(scenario.instances.spread_s) * (total - 1) as u32 / total as u32,
                    ) + latency(scenario) * 4
                }
            };
            let wait_floor = start + demand.longest_wait + latency(scenario);
            let arrival_floor = SimTime::from_duration(demand.last_arrival) + latency(scenario) * 2;
            let best = after_last
                .max(spread_floor)
                .max(chain_floor)
                .max(wait_floor)
                .max(arrival_floor);
            return Some(Oracle {
                best_makespan_s: best.as_micros() as f64 / 1e6,
            });
        }
        if now > horizon {
            return None;
        }
        world.advance_to(now);
        let candidate = world.next(open)?;
        // An event due at the candidate's very instant comes after it (`ties_go_to_the_oracle`).
        let event = world.next_event();
        if event < candidate.at && event > now {
            now = event;
            continue;
        }
        world.send(candidate);
        let key = (candidate.instance, (candidate.family, candidate.write));
        let sent = sent.get_mut(&key).expect("an open family");
        *sent += 1;
        let requests = &demand.by_instance[key.0][&key.1];
        // What one-by-one sending would do next at this same instant (the same candidate comes
        // first again while it is admitted), at once: all but the last of the demand left, of
        // the requests there by then.
        let there = candidate
            .at
            .as_duration()
            .checked_sub(latency(scenario))
            .map_or(0, |at| requests.released_by(at).saturating_sub(*sent));
        let more = (requests.count - *sent).saturating_sub(1).min(there);
        *sent += world.send_more(candidate, more);
        now = candidate.at;
        last = candidate.at;
    }
    None
}

/// How many of `demand`'s kinds of request the oracle could have had admitted by `until`, with
/// unbounded demand. `None` when a family is unlimited (utilization is then not defined).
pub fn admissible_by(scenario: &Scenario, demand: &Demand, until: SimTime) -> Option<u64> {
    let start = first_send(scenario);
    let mut world = World::new(scenario, start);
    if unlimited(&world.limits, demand) {
        return None;
    }
    let open: Vec<(&'static str, bool)> = demand.requests.keys().copied().collect();
    let mut now = start;
    let mut admitted = 0u64;
    for _ in 0..STEPS_MAX {
        if now > until {
            return Some(admitted);
        }
        world.advance_to(now);
        let every =
            (0..world.instances.len()).flat_map(|instance| open.iter().map(move |key| (instance, *key, now)));
        let Some(candidate) = world.next(every) else {
            return Some(admitted);
        };
        if candidate.at > until {
            return Some(admitted);
        }
        let event = world.next_event();
        if event < candidate.at && event > now {
            now = event;
            continue;
        }
        world.send(candidate);
        admitted += 1;
        // With unbounded demand, whatever the rules still admit at this instant goes at once.
        admitted += world.send_more(candidate, ADMISSIONS_BATCH_MAX);
        now = candidate.at;
    }
    None
}

/// The most admissions `admissible_by` counts at one instant in one step.
const ADMISSIONS_BATCH_MAX: u64 = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::plan::plan;

    /// A scenario of `reads` reads by `instances` × 4 workers on one OAuth client, 5 ms latency,
    /// with `gateway` as its gateway table (TOML).
    fn scenario(reads: u64, instances: u32, gateway: &str) -> Scenario {
        let text = format!(
            "name = \"t\"\ndescription = \"d\"\nduration_s = 3600\n[network]\nlatency_ms_min = 5\nlatency_ms_max = 5\n\
             [instances]\ncount = {instances}\nworkers = 4\n[workload]\nkind = \"read\"\noperations = {reads}\n\
             [gateway]\nplatform = \"genesys\"\n{gateway}\n[gateway.data]\nusers = 10\n"
        );
        Scenario::parse("t.toml", &text, &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn best(scenario: &Scenario) -> Option<f64> {
        let demand = Demand::of(scenario, &plan(scenario));
        best_makespan(scenario, &demand).map(|oracle| (oracle.best_makespan_s * 1e6).round() / 1e6)
    }

    const NO_LAYERS: &str = "[gateway.layers]\ntoken_rate_per_min = 0\nclient_rate_per_min = 0\n";

    /// Worked by hand. The first request reaches the gateway after a token round trip and one
    /// trip (15 ms); the last response takes 5 ms back.
    #[test]
    fn best_makespans_worked_by_hand() {
        let cases: [(&str, Scenario, Option<f64>); 7] = [
            (
                // 300/min per token, 600 reads on one instance: 300 at 15 ms, 300 at 60.015 s.
                "the default layers",
                scenario(600, 1, ""),
                Some(60.020),
            ),
            (
                // 600/min dropping to 120/min at 60 s, then 400/min from 240 s: 600 at 15 ms, 120
                // at 60.015, 120.015 and 180.015 s; at 240 s the limit rises and 280 more pass at
                // once (the 120 of 180.015 s are still in the window). 1240 reads end there.
                "a capacity schedule",
                scenario(
                    1240,
                    1,
                    &format!(
                        "{NO_LAYERS}[[gateway.limits]]\nname = \"shifting\"\nlimit = 600\nkey = [\"client\"]\n\
                         schedule = [{{ at_s = 60, limit = 120 }}, {{ at_s = 240, limit = 400 }}]\n"
                    ),
                ),
                Some(240.005),
            ),
            (
                // A background consumer of the same client draws at 0 s, 2 s, ...: it takes one of
                // the 60 slots at 0 s (before the first request arrives) and, at 60 s, the slot it
                // freed; 59 a minute remain. 118 reads: 59 at 15 ms, 59 at 60.015 s.
                "a background consumer",
                scenario(
                    118,
                    1,
                    &format!(
                        "{NO_LAYERS}[[gateway.limits]]\nname = \"c\"\nlimit = 60\nkey = [\"client\"]\n\
                         [[gateway.background]]\nname = \"ui\"\nclient = \"herd-app\"\nrate_per_min = 30\n"
                    ),
                ),
                Some(60.020),
            ),
            (
                // The same consumer under a rule whose lockouts refuse it too: a client can lock
                // it out, so the oracle leaves it out. 120 reads: 60 at 15 ms, 60 at 60.015 s
                // (with the consumer counted, the last two would wait for 120 s).
                "a background consumer a client can lock out",
                scenario(
                    120,
                    1,
                    &format!(
                        "{NO_LAYERS}[[gateway.limits]]\nname = \"c\"\nlimit = 60\nkey = [\"client\"]\nearly_penalty_ms = 5000\n\
                         [[gateway.background]]\nname = \"ui\"\nclient = \"herd-app\"\nrate_per_min = 30\n"
                    ),
                ),
                Some(60.020),
            ),
            (
                // Layered: 10/min per token, 15/min per client, two instances on one client: 15 a
                // minute whatever the tokens. 40 reads: 15, 15 and 10 at 0.015, 60.015, 120.015 s.
                "layered token and client rules",
                scenario(
                    40,
                    2,
                    "[gateway.layers]\ntoken_rate_per_min = 10\nclient_rate_per_min = 15\n",
                ),
                Some(120.020),
            ),
            (
                // Maintenance answers 503 to everything until 100 s: nothing before.
                "a maintenance window",
                scenario(
                    10,
                    1,
                    "[[gateway.faults]]\nkind = \"maintenance\"\nfrom_s = 0\nuntil_s = 100\n",
                ),
                Some(100.005),
            ),
            (
                // Per token only (no client layer): minting a new token when the per-token rule
                // binds is allowed, and the token endpoint allows 30 a minute, so 5 tokens of 10
                // requests serve 50 reads at once; what remains is each worker's chain of 13 reads
                // one after another: 15 ms, 12 round trips of 10 ms, 5 ms back.
                "per-token limits and minting",
                scenario(
                    50,
                    1,
                    "[gateway.layers]\ntoken_rate_per_min = 10\nclient_rate_per_min = 0\n",
                ),
                Some(0.140),
            ),
        ];
        for (what, scenario, expected) in cases {
            assert_eq!(best(&scenario), expected, "{what}");
        }
    }

    /// Worked by hand. Four workers hold five reads each and start 15 s apart; 10 a minute
    /// per client. Worker 0's five go at 15 ms and worker 1's at 15.005 s (a trip after it
    /// starts): the window is full. Worker 2's five take the slots freed at 60.015 s, worker
    /// 3's those freed at 75.005 s; the last response is back 5 ms later. Taking every item as
    /// there from the start would send ten at once and ten a minute later (60.020 s): the
    /// rule carries the workers' stagger from window to window.
    #[test]
    fn items_go_no_earlier_than_the_workers_that_hold_them_start() {
        let text = format!(
            "name = \"t\"\ndescription = \"d\"\nduration_s = 3600\n[network]\nlatency_ms_min = 5\nlatency_ms_max = 5\n\
             [instances]\ncount = 1\nworkers = 4\nstart = \"spread\"\nspread_s = 60\n[workload]\nkind = \"read\"\noperations = 20\n\
             [gateway]\nplatform = \"genesys\"\n{NO_LAYERS}[[gateway.limits]]\nname = \"c\"\nlimit = 10\nkey = [\"client\"]\n\
             [gateway.data]\nusers = 10\n"
        );
        let spread = Scenario::parse("t.toml", &text, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(best(&spread), Some(75.010));
        let herd = Scenario::parse(
            "t.toml",
            &text.replace("start = \"spread\"\nspread_s = 60\n", ""),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(best(&herd), Some(60.020));
    }

    /// An instance cut off for the first 100 s sends its own reads after it, whatever room
    /// the other instance has: the items are its workers'.
    #[test]
    fn each_instance_sends_its_own_items() {
        let cut_off = Scenario::parse(
            "t.toml",
            &format!(
                "name = \"t\"\ndescription = \"d\"\nduration_s = 3600\n[network]\nlatency_ms_min = 5\nlatency_ms_max = 5\n\
                 [[network.partitions]]\ninstance = 1\nfrom_s = 0\nuntil_s = 100\n\
                 [instances]\ncount = 2\nworkers = 4\n[workload]\nkind = \"read\"\noperations = 16\n\
                 [gateway]\nplatform = \"genesys\"\n{NO_LAYERS}[gateway.data]\nusers = 10\n"
            ),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(best(&cut_off), Some(100.005));
    }

    #[test]
    fn ties_go_to_the_oracle() {
        // One slot every 10 s (a token bucket of one), and a consumer of the same client every
        // 20 s from 0 s. Losing ties, the oracle would refill in the consumer's phase and get
        // every other slot (the consumer's draw at 20 s, 40 s, ... finds the refill of that
        // instant): 6 reads at 10, 30, 50, 70, 90 and 110 s. A client a moment behind each refill
        // leaves the consumer a moment short every time; ties won are that client's limit: 10,
        // 20, ..., 60 s.
        let bucket = |rate_per_min: u64| {
            scenario(
                6,
                1,
                &format!(
                    "{NO_LAYERS}[[gateway.limits]]\nname = \"one\"\nalgorithm = \"token_bucket\"\nlimit = 6\n\
                     burst = 1\nkey = [\"client\"]\n[[gateway.background]]\nname = \"ui\"\nclient = \"herd-app\"\n\
                     rate_per_min = {rate_per_min}\n"
                ),
            )
        };
        assert_eq!(best(&bucket(3)), Some(60.005));
        // A relaxation, loose where a consumer's draws fall on the instants its own slots free:
        // drawing every refill, it leaves a client nothing, while the oracle takes each refill.
        assert_eq!(best(&bucket(6)), Some(60.005));
    }

    #[test]
    fn a_workload_beyond_the_duration_leaves_no_best_makespan() {
        // One slot a minute and 100 reads: 99 minutes, beyond the hour the scenario runs.
        let starved = scenario(
            100,
            1,
            &format!("{NO_LAYERS}[[gateway.limits]]\nname = \"one\"\nlimit = 1\nkey = [\"client\"]\n"),
        );
        assert_eq!(best(&starved), None);
    }
}
