//! The ordered publisher: every `PUBLISH` of this instance goes through one queue, drained by
//! one task that sends whatever has gathered as one pipeline, waits for its answer, and goes
//! on.
//!
//! A relay for a member of another instance is queued and the relay returns at once: the
//! sender's connection reads its next message without waiting for Redis, and a burst costs a
//! few round trips instead of one per message. The queue keeps per-sender order (one queue,
//! one task, one pipeline at a time on one connection, which Redis executes in order).
//! Announcements ([`super::bus::Bus::publish`]) go through the same queue and wait for it
//! ([`Publisher::flush`]), so a member's `peer_left` never overtakes its last relays; a relay
//! that has to ask Redis waits for the queue first for the same reason.
//!
//! At most once, like every publish: when a pipeline fails (and the connection is marked
//! down), it and everything queued behind it are dropped, not retried.

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::connection::Connection;

/// Most publishes sent in one pipeline.
const BATCH: usize = 1024;

/// Most publishes waiting; a relay finding the queue full waits for room (back-pressure on
/// the sender only).
const QUEUED: usize = 16 * 1024;

/// What the queue carries.
#[derive(Debug)]
enum Job {
    Publish {
        channel: String,
        payload: String,
    },
    /// Answered once everything queued before it was sent and answered (`true`) or dropped.
    Flush(oneshot::Sender<bool>),
}

/// The sending end, shared by every relay and announcement.
#[derive(Debug)]
pub(super) struct Publisher {
    queue: mpsc::Sender<Job>,
    /// Taken by the task when it starts.
    receiver: std::sync::Mutex<Option<mpsc::Receiver<Job>>>,
}

impl Publisher {
    pub(super) fn new() -> Self {
        let (queue, receiver) = mpsc::channel(QUEUED);
        Self {
            queue,
            receiver: std::sync::Mutex::new(Some(receiver)),
        }
    }

    /// Queues `payload` for `channel`; returns once it is queued (or the publisher stopped).
    pub(super) async fn publish(&self, channel: String, payload: String) {
        if self
            .queue
            .send(Job::Publish { channel, payload })
            .await
            .is_err()
        {
            tracing::debug!("publish dropped: the publisher has stopped");
        }
    }

    /// Waits until everything queued before this call has been executed by Redis (`true`) or
    /// dropped (`false`).
    pub(super) async fn flush(&self) -> bool {
        let (done, answer) = oneshot::channel();
        if self.queue.send(Job::Flush(done)).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// Drains the queue until `stopped`. Run once.
    pub(super) async fn run(&self, connection: &Connection, stopped: &CancellationToken) {
        let Some(mut receiver) = super::lock(&self.receiver).take() else {
            return;
        };
        let mut jobs = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                () = stopped.cancelled() => return,
                received = receiver.recv_many(&mut jobs, BATCH) => if received == 0 { return },
            }
            let sent = send(connection, &jobs).await;
            if !sent {
                // Redis is down: what is queued now would fail the same way, one timeout
                // per batch; drop it at once so that nobody waits that long.
                while let Ok(job) = receiver.try_recv() {
                    jobs.push(job);
                }
            }
            let mut dropped = 0usize;
            for job in jobs.drain(..) {
                match job {
                    Job::Publish { .. } => dropped += usize::from(!sent),
                    Job::Flush(done) => {
                        let _ = done.send(sent);
                    }
                }
            }
            if dropped > 0 {
                tracing::debug!(dropped, "messages for other instances dropped: Redis down");
            }
        }
    }
}

/// Sends the publishes among `jobs` as one pipeline; true when Redis executed it (or there
/// was nothing to send).
async fn send(connection: &Connection, jobs: &[Job]) -> bool {
    let mut pipe = redis::pipe();
    let mut any = false;
    for job in jobs {
        if let Job::Publish { channel, payload } = job {
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
            any = true;
        }
    }
    if !any {
        return true;
    }
    connection
        .call(|mut c| async move { pipe.query_async::<()>(&mut c).await })
        .await
        .is_ok()
}
