//! Client events: every decision the client makes, for traces (an [`Observer`]) and for `tracing`.
//! No event carries a secret: tokens appear as their generation number, never as the token.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::gate::Priority;
use crate::policy::breaker::BreakerState;
use crate::policy::pacing::PaceReason;
use crate::policy::retry::{Class, GiveUp};
use crate::transport::TransportError;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientEvent {
    /// Monotonic time of the client's clock.
    #[serde(serialize_with = "as_micros")]
    pub at: Duration,
    pub worker: u64,
    /// The business operation's id ("" for client-wide events such as token requests), shared
    /// with the operation.
    pub op: Arc<str>,
    #[serde(flatten)]
    pub kind: EventKind,
}

fn as_micros<S: serde::Serializer>(at: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(at.as_micros() as u64)
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    Ok,
    Failed,
    GaveUp,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    Queued {
        priority: Priority,
        waited_ms: u64,
    },
    Paced {
        family: Arc<str>,
        delay_ms: u64,
        reason: PaceReason,
    },
    BreakerWait {
        family: Arc<str>,
        delay_ms: u64,
    },
    BreakerTransition {
        family: Arc<str>,
        from: BreakerState,
        to: BreakerState,
    },
    Attempt {
        attempt: u32,
        method: Arc<str>,
        path: Arc<str>,
        family: Arc<str>,
        token_generation: u64,
    },
    Response {
        attempt: u32,
        status: u16,
        latency_ms: u64,
        /// The wait the client took the response's `Retry-After` to ask for, as it read it.
        retry_after_ms: Option<u64>,
        /// The `Retry-After` header as the server sent it (seconds or an HTTP-date), so that a
        /// trace can judge a client by what it was told, not by how it read it.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
        /// The platform's id of this request (`ININ-Correlation-Id` on Genesys), so that a
        /// client event and the platform's log line can be joined.
        #[serde(skip_serializing_if = "Option::is_none")]
        correlation_id: Option<String>,
    },
    TransportFailed {
        attempt: u32,
        error: TransportError,
        latency_ms: u64,
    },
    Retry {
        attempt: u32,
        delay_ms: u64,
        class: Class,
        retry_after_ms: Option<u64>,
    },
    BudgetDenied {
        level: Option<u64>,
    },
    TokenRequest {
        generation: u64,
    },
    TokenIssued {
        generation: u64,
        expires_in_s: u64,
    },
    TokenFailed {
        status: Option<u16>,
    },
    TokenInvalidated {
        generation: u64,
    },
    ConflictReread {
        attempt: u32,
        version: Option<u64>,
    },
    /// The shared limiter became unreachable (local pacing from now) or reachable again.
    SharedLimiter {
        available: bool,
    },
    Done {
        outcome: OutcomeKind,
        attempts: u32,
        status: Option<u16>,
        reason: Option<GiveUp>,
    },
}

/// Receives every event, in the order the client made them.
pub trait Observer: Send + Sync + 'static {
    fn on_event(&self, event: &ClientEvent);

    /// The same, handed the event to keep: an observer that stores events overrides it to take
    /// the event instead of cloning it. The client calls this one.
    fn on_event_owned(&self, event: ClientEvent) {
        self.on_event(&event);
    }
}

/// Drops events (they still go to `tracing`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn on_event(&self, _event: &ClientEvent) {}
}

/// Keeps every event, for tests and traces.
#[derive(Debug, Default)]
pub struct CollectingObserver {
    events: Mutex<Vec<ClientEvent>>,
}

impl CollectingObserver {
    pub fn take(&self) -> Vec<ClientEvent> {
        std::mem::take(&mut *self.events.lock().expect("observer lock"))
    }

    pub fn snapshot(&self) -> Vec<ClientEvent> {
        self.events.lock().expect("observer lock").clone()
    }
}

impl Observer for CollectingObserver {
    fn on_event(&self, event: &ClientEvent) {
        self.events.lock().expect("observer lock").push(event.clone());
    }
}
