//! What the gateway's test files share.

/// The gateway's two streams for a test: distinct ChaCha8 streams of `seed` (the harness's own
/// map lives in `herd_sim::streams`).
pub fn streams(seed: u64) -> herd_gateway::GatewayStreams {
    use rand::SeedableRng;
    let stream = |id: u64| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(id);
        rng
    };
    herd_gateway::GatewayStreams {
        faults: stream(1),
        ids: stream(2),
    }
}
