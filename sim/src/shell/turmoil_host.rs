//! The gateway's host in a turmoil simulation: simulated time for the service, and the accept
//! loop on a turmoil listener.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use herd_gateway::SimTime;

use crate::shell::service::{serve_connection, GatewayClock, GatewayService};

/// Simulated time of a turmoil run (`turmoil::sim_elapsed`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TurmoilClock;

impl GatewayClock for TurmoilClock {
    fn now(&self) -> SimTime {
        SimTime::from_duration(turmoil::sim_elapsed().unwrap_or_else(turmoil::elapsed))
    }
}

/// Connections accepted, per peer host name.
pub type ConnectionCounts = Arc<Mutex<BTreeMap<String, u64>>>;

/// Accepts connections on a turmoil listener forever (the host's task ends with the simulation).
pub async fn serve_turmoil(
    listener: turmoil::net::TcpListener,
    service: GatewayService,
) -> Result<(), Infallible> {
    serve_turmoil_counting(listener, service, ConnectionCounts::default()).await
}

/// [`serve_turmoil`], counting every accepted connection by the peer's host name.
pub async fn serve_turmoil_counting(
    listener: turmoil::net::TcpListener,
    service: GatewayService,
    accepted: ConnectionCounts,
) -> Result<(), Infallible> {
    tokio::spawn(service.clone().run_timers());
    loop {
        if let Ok((stream, peer)) = listener.accept().await {
            let host = turmoil::reverse_lookup(peer.ip()).unwrap_or_else(|| peer.ip().to_string());
            *accepted
                .lock()
                .expect("connection counts lock")
                .entry(host)
                .or_insert(0) += 1;
            tokio::spawn(serve_connection(stream, service.clone()));
        }
    }
}
