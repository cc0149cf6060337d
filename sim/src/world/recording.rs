//! Recording into the run's one trace: gateway events as the gateway makes them, client events
//! stamped with the world's clock. Both sides append in execution order (one thread).

use std::sync::{Arc, Mutex};

use herd_gateway::events::GatewayEvent;

use crate::shell::service::EventHook;
use crate::trace::{Record, TraceSink};

/// Gateway events into the trace, as the gateway makes them.
pub(crate) fn trace_hook(records: Arc<Mutex<TraceSink>>) -> EventHook {
    Arc::new(move |events: Vec<GatewayEvent>| {
        let mut trace = records.lock().expect("trace lock");
        trace.extend(events.into_iter().map(Record::Gateway));
    })
}
