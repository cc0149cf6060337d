//! The map of random streams: every consumer of randomness in a run gets its own ChaCha8 stream
//! of the run's one seed, in a domain of its own. This module is the only place that derives a
//! stream; nothing else calls `seed_from_u64` or `set_stream` in a run.
//!
//! | domain | stream id              | consumer                                        |
//! |--------|------------------------|-------------------------------------------------|
//! | 1      | `1 << 56`              | gateway: fault draws                            |
//! | 2      | `2 << 56`              | gateway: token, correlation and resource ids    |
//! | 3      | `3 << 56 \| worker`    | each worker's jitter (workers numbered globally) |
//! | 4      | `4 << 56 \| instance`  | the memory network's latency, per instance      |
//! | 5      | `5 << 56 \| env`       | a sweep's swarm: the draws of environment `env` |
//!
//! Domain 5 is drawn outside any run, from the swarm's seed (`--swarm-seed`, by default the
//! scenario's): environment `env` is the same whatever the swarm's size.
//!
//! turmoil takes the seed itself (`Builder::rng_seed`) for its own latency draws. A stream id is
//! a ChaCha8 stream number (the cipher's nonce), so distinct ids give independent sequences from
//! the same key: the k-th word of one consumer says nothing about another's.

use herd_gateway::GatewayStreams;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Bits of a stream id left for the index within a domain.
const INDEX_BITS: u32 = 56;
const INDEX_MAX: u64 = (1 << INDEX_BITS) - 1;

/// A consumer of randomness in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stream {
    GatewayFaults,
    GatewayIds,
    /// A worker's jitter; `global` numbers workers across instances.
    Worker {
        global: u64,
    },
    /// The memory network's latency for one instance.
    Latency {
        instance: u32,
    },
    /// The draws of one environment of a sweep's swarm.
    Swarm {
        environment: u32,
    },
}

impl Stream {
    /// The ChaCha8 stream number: the domain in the top byte, the index below it.
    pub fn id(self) -> u64 {
        let (domain, index) = match self {
            Stream::GatewayFaults => (1, 0),
            Stream::GatewayIds => (2, 0),
            Stream::Worker { global } => (3, global),
            Stream::Latency { instance } => (4, u64::from(instance)),
            Stream::Swarm { environment } => (5, u64::from(environment)),
        };
        assert!(index <= INDEX_MAX, "stream index {index} overflows its domain");
        (domain << INDEX_BITS) | index
    }
}

/// The generator of `stream` in the run of `seed`.
pub fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream.id());
    rng
}

/// The gateway's two streams in the run of `seed`.
pub fn gateway_streams(seed: u64) -> GatewayStreams {
    GatewayStreams {
        faults: rng(seed, Stream::GatewayFaults),
        ids: rng(seed, Stream::GatewayIds),
    }
}

/// Every stream a run of this shape uses, in a fixed order (for the independence test and docs).
pub fn used_by(instances: u32, workers_per_instance: u32) -> Vec<Stream> {
    let workers = u64::from(instances) * u64::from(workers_per_instance);
    let mut streams = vec![Stream::GatewayFaults, Stream::GatewayIds];
    streams.extend((0..workers).map(|global| Stream::Worker { global }));
    streams.extend((0..instances).map(|instance| Stream::Latency { instance }));
    streams
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::RngCore;

    use super::*;

    #[test]
    fn no_two_consumers_share_a_stream() {
        let streams = used_by(4, 300);
        let ids: BTreeSet<u64> = streams.iter().map(|stream| stream.id()).collect();
        assert_eq!(ids.len(), streams.len(), "two consumers share a stream id");
        // And their outputs differ: the first words of every stream are pairwise distinct.
        let first_words: BTreeSet<u64> = streams.iter().map(|&stream| rng(7, stream).next_u64()).collect();
        assert_eq!(
            first_words.len(),
            streams.len(),
            "two streams start with the same word"
        );
    }

    #[test]
    fn worker_zero_and_one_no_longer_meet_the_gateway() {
        // The defect this map fixes: worker k used stream k, and the gateway used 0 and 1.
        for global in 0..2 {
            let worker = Stream::Worker { global }.id();
            assert_ne!(worker, Stream::GatewayFaults.id());
            assert_ne!(worker, Stream::GatewayIds.id());
        }
    }

    #[test]
    fn a_stream_is_a_pure_function_of_seed_and_consumer() {
        let a = rng(3, Stream::Worker { global: 9 }).next_u64();
        let b = rng(3, Stream::Worker { global: 9 }).next_u64();
        let other_seed = rng(4, Stream::Worker { global: 9 }).next_u64();
        assert_eq!(a, b);
        assert_ne!(a, other_seed);
    }
}
