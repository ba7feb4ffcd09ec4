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
//! What one pipeline carries for one channel goes as one `PUBLISH` whose payload is the
//! messages in queue order, one a line (see [`super::bus`]): a burst of relays for another
//! instance costs Redis one command, and that instance's subscriber one message, per pipeline
//! instead of one per relay. Order on each channel is queue order, so per-sender order holds.
//!
//! At most once, like every publish: when a pipeline fails (and the connection is marked
//! down), it and everything queued behind it are dropped, not retried.

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::connection::Connection;

/// Most publishes sent in one pipeline.
const BATCH: usize = 1024;

/// A channel's batched payload is closed (and the next message starts another `PUBLISH`)
/// once it holds this many bytes, so no one message to a subscriber grows without bound.
const PAYLOAD_BYTES: usize = 64 * 1024;

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

/// Sends the publishes among `jobs` as one pipeline, one `PUBLISH` per channel (a new one once
/// a payload reaches [`PAYLOAD_BYTES`]); true when Redis executed it (or there was nothing to
/// send).
async fn send(connection: &Connection, jobs: &[Job]) -> bool {
    let batches = batch(jobs);
    if batches.is_empty() {
        return true;
    }
    let mut pipe = redis::pipe();
    for (channel, payload) in &batches {
        pipe.cmd("PUBLISH").arg(*channel).arg(payload).ignore();
    }
    connection
        .call(|mut c| async move { pipe.query_async::<()>(&mut c).await })
        .await
        .is_ok()
}

/// The publishes among `jobs` as `(channel, payload)` pairs: each channel's messages in queue
/// order, joined by newlines, split where a payload reaches [`PAYLOAD_BYTES`]. Pairs of one
/// channel keep their order (a pipeline runs in order).
fn batch(jobs: &[Job]) -> Vec<(&str, String)> {
    let mut batches: Vec<(&str, String)> = Vec::new();
    for job in jobs {
        let Job::Publish { channel, payload } = job else {
            continue;
        };
        // Few channels (one per other instance): a scan from the end finds the open one.
        match batches
            .iter_mut()
            .rev()
            .find(|(open, _)| *open == channel.as_str())
        {
            Some((_, batched)) if batched.len() < PAYLOAD_BYTES => {
                batched.push('\n');
                batched.push_str(payload);
            }
            _ => batches.push((channel, payload.clone())),
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(channel: &str, payload: &str) -> Job {
        Job::Publish {
            channel: channel.to_owned(),
            payload: payload.to_owned(),
        }
    }

    /// One pipeline carries one `PUBLISH` per channel, its messages one a line in queue order;
    /// flushes carry nothing.
    #[test]
    fn a_pipeline_publishes_once_per_channel_in_queue_order() {
        let (done, _) = oneshot::channel();
        let jobs = [
            publish("signal:x", "a 1"),
            publish("signal:y", "b 1"),
            Job::Flush(done),
            publish("signal:x", "a 2"),
            publish("signal:x", "c 1"),
        ];
        assert_eq!(
            batch(&jobs),
            [
                ("signal:x", "a 1\na 2\nc 1".to_owned()),
                ("signal:y", "b 1".to_owned())
            ]
        );
    }

    /// A payload that reached the size bound is closed: the channel's next messages go in a
    /// later `PUBLISH` of the same pipeline, after it.
    #[test]
    fn a_full_payload_starts_another_publish() {
        let big = "x".repeat(PAYLOAD_BYTES);
        let jobs = [
            publish("signal:x", &big),
            publish("signal:y", "b 1"),
            publish("signal:x", "a 2"),
            publish("signal:x", "a 3"),
        ];
        assert_eq!(
            batch(&jobs),
            [
                ("signal:x", big),
                ("signal:y", "b 1".to_owned()),
                ("signal:x", "a 2\na 3".to_owned())
            ]
        );
    }
}
