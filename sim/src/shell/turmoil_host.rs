//! The gateway's host in a turmoil simulation: simulated time for the service, and the accept
//! loop on a turmoil listener.

use std::convert::Infallible;

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

/// Accepts connections on a turmoil listener forever (the host's task ends with the simulation).
pub async fn serve_turmoil(
    listener: turmoil::net::TcpListener,
    service: GatewayService,
) -> Result<(), Infallible> {
    tokio::spawn(service.clone().run_timers());
    loop {
        if let Ok((stream, _peer)) = listener.accept().await {
            tokio::spawn(serve_connection(stream, service.clone()));
        }
    }
}
