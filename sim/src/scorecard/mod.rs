//! The referee: what a client did wrong, judged from what reached the platform. `herdsim serve`
//! feeds it every request as it is answered; `herdsim grade` feeds it a recorded file. Either
//! way the same [`Scorecard`] gives the same [`ScorecardReport`].
//!
//! The input is an [`Exchange`] per request (who sent it, what it was, what it was told) plus
//! the gateway's revocations. Memory is bounded whatever a client sends: per-client state is
//! capped (see the `*_MAX` constants), and clients beyond [`CLIENTS_MAX`] share one card.

mod bounds;
mod card;
mod exchange;
mod rules;
pub mod series;

use std::collections::BTreeMap;

pub use bounds::*;
use card::Card;
pub use exchange::{exchange_line, fingerprint, Bucket, Example, Exchange, Issued};
pub use rules::{CardReport, Line, ScorecardReport, RULES};

/// The scorecard of every OAuth client that reached the platform.
#[derive(Clone, Debug, Default)]
pub struct Scorecard {
    cards: BTreeMap<String, Card>,
    last_us: u64,
}

/// The card of requests that name no OAuth client.
pub const NO_CLIENT: &str = "(no client)";
/// The card shared by clients beyond [`CLIENTS_MAX`].
pub const OTHER_CLIENTS: &str = "(other)";

impl Scorecard {
    pub fn new() -> Scorecard {
        Scorecard::default()
    }

    fn card(&mut self, client: Option<&str>) -> &mut Card {
        let name = client.unwrap_or(NO_CLIENT);
        let name = if self.cards.contains_key(name) || self.cards.len() < CLIENTS_MAX {
            name
        } else {
            OTHER_CLIENTS
        };
        self.cards.entry(name.to_string()).or_default()
    }

    pub fn observe(&mut self, exchange: &Exchange) {
        self.last_us = self.last_us.max(exchange.t_us);
        self.card(exchange.client.as_deref()).observe(exchange);
    }

    /// A token was revoked (`token_seq`), or all were (`None`), at the gateway.
    pub fn revoked(&mut self, client: Option<&str>, token_seq: Option<u64>) {
        match client {
            Some(client) => self.card(Some(client)).revoked(token_seq),
            None => self.cards.values_mut().for_each(|card| card.revoked(None)),
        }
    }

    /// Reads one line of a record file (`herdsim serve --record`): exchanges and the gateway's
    /// revocations count, other lines are skipped. A line that is not JSON is an error; `true`
    /// when the line was an exchange.
    pub fn observe_line(&mut self, line: &str) -> Result<bool, String> {
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|error| format!("not JSON: {error}"))?;
        match (value["src"].as_str(), value["event"].as_str()) {
            (Some("exchange"), _) => {
                let exchange: Exchange =
                    serde_json::from_value(value).map_err(|error| format!("an exchange line: {error}"))?;
                self.observe(&exchange);
                return Ok(true);
            }
            (Some("gateway"), Some("tokens_revoked")) => self.revoked(None, None),
            (Some("gateway"), Some("token_evicted")) => {
                self.revoked(value["client"].as_str(), value["token_seq"].as_u64());
            }
            _ => {}
        }
        Ok(false)
    }

    /// The card as it stands.
    pub fn report(&self) -> ScorecardReport {
        rules::report(&self.cards, self.last_us)
    }
}

#[cfg(test)]
mod tests;
