//! The concurrency limit with priorities: at most `permits` operations run at once; waiters are
//! served high before normal before low, first come first served within a priority; the queue is
//! bounded. A permit is handed over through the waiter's channel, and a permit dropped anywhere
//! (even one never received) goes back, so cancellation never leaks capacity.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    High,
    #[default]
    Normal,
    Low,
}

impl Priority {
    fn index(self) -> usize {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }
}

/// The queue was full: the operation is refused at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull;

struct GateState {
    available: usize,
    waiting: [VecDeque<oneshot::Sender<GatePermit>>; 3],
    queue_max: usize,
}

#[derive(Clone)]
pub struct PriorityGate {
    state: Arc<Mutex<GateState>>,
}

/// Held while an operation runs; dropping it lets the next waiter in.
pub struct GatePermit {
    gate: Option<PriorityGate>,
}

impl PriorityGate {
    pub fn new(permits: usize, queue_max: usize) -> PriorityGate {
        assert!(permits > 0, "a gate needs at least one permit");
        PriorityGate {
            state: Arc::new(Mutex::new(GateState {
                available: permits,
                waiting: [VecDeque::new(), VecDeque::new(), VecDeque::new()],
                queue_max,
            })),
        }
    }

    /// Waits for a permit. `Err(QueueFull)` at once when `queue_max` operations already wait.
    pub async fn acquire(&self, priority: Priority) -> Result<GatePermit, QueueFull> {
        let receiver = {
            let mut state = self.state.lock().expect("gate lock");
            let queued: usize = state.waiting.iter().map(VecDeque::len).sum();
            if state.available > 0 && queued == 0 {
                state.available -= 1;
                return Ok(GatePermit {
                    gate: Some(self.clone()),
                });
            }
            if queued >= state.queue_max {
                return Err(QueueFull);
            }
            let (sender, receiver) = oneshot::channel();
            state.waiting[priority.index()].push_back(sender);
            receiver
        };
        // The sender is only dropped after handing over a permit, or with the gate.
        receiver.await.map_err(|_| QueueFull)
    }

    /// How many operations wait.
    pub fn queued(&self) -> usize {
        self.state
            .lock()
            .expect("gate lock")
            .waiting
            .iter()
            .map(VecDeque::len)
            .sum()
    }

    fn release(&self) {
        let mut state = self.state.lock().expect("gate lock");
        for queue in 0..3 {
            while let Some(sender) = state.waiting[queue].pop_front() {
                match sender.send(GatePermit {
                    gate: Some(self.clone()),
                }) {
                    Ok(()) => return,
                    // The waiter is gone: defuse the permit and try the next one.
                    Err(mut permit) => permit.gate = None,
                }
            }
        }
        state.available += 1;
    }
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            gate.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn priorities_then_fifo_and_bounded_queue() {
        let gate = PriorityGate::new(1, 4);
        let held = gate.acquire(Priority::Normal).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [
            ("low", Priority::Low),
            ("normal-1", Priority::Normal),
            ("high", Priority::High),
            ("normal-2", Priority::Normal),
        ] {
            let (gate, order) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire(priority).await.unwrap();
                order.lock().unwrap().push(name);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }));
            tokio::task::yield_now().await;
        }
        assert_eq!(gate.queued(), 4);
        assert!(gate.acquire(Priority::High).await.is_err(), "queue bound");
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            vec!["high", "normal-1", "normal-2", "low"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_waiter_does_not_leak_its_permit() {
        let gate = PriorityGate::new(1, 10);
        let held = gate.acquire(Priority::Normal).await.unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire(Priority::Normal).await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        waiter.abort();
        let _ = waiter.await;
        drop(held);
        let again =
            tokio::time::timeout(std::time::Duration::from_secs(1), gate.acquire(Priority::Low)).await;
        assert!(again.is_ok(), "the permit came back");
    }
}
