//! The bus between instances: one pub/sub channel per instance, `signal:{id}`, carrying
//! `"{peer} {json}"` — a server message for a member that instance holds — or
//! `"{peer} !moved {room}"`: that member's seat was resumed by a connection on another
//! instance, so its connection here (if still open) closes with 4001 and this instance stops
//! watching the seat.
//!
//! [`Bus::publish`] carries a message to a member on another instance; the subscriber puts
//! what arrives on this instance's channel into the member's mailbox. That is delivery only:
//! the bus never decides what to say (the hub does) and never looks at the message. Relayed
//! messages are published by the relay script itself, in the same format.
//!
//! Delivery is at most once: pub/sub keeps nothing for a subscriber that is not connected, and
//! a failed publish is dropped, not retried (a retry could duplicate or reorder).

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use futures_util::StreamExt;
use shared::{PeerId, RoomName, ServerMessage};
use tokio_util::sync::CancellationToken;

use super::{connection::Connection, liveness::Watched};
use crate::{mailbox::Mailboxes, presence::InstanceId};

/// This instance's end of the bus.
pub(super) struct Bus {
    /// The channel this instance subscribes to.
    channel: String,
    /// The subscriber is subscribed to [`Self::channel`]: joins are refused while it is not,
    /// since nothing published for this instance's members would reach them.
    subscribed: AtomicBool,
}

impl Bus {
    pub(super) fn new(instance: &InstanceId) -> Self {
        Self {
            channel: channel(instance),
            subscribed: AtomicBool::new(false),
        }
    }

    pub(super) fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed)
    }

    /// Publishes `message` for `peer` on `instance`'s channel. A failure is logged and the
    /// message dropped (the sender's next relay reports Redis down).
    pub(super) async fn publish(
        connection: &Connection,
        instance: &InstanceId,
        peer: &PeerId,
        message: &ServerMessage,
    ) {
        let json = serde_json::to_string(message).expect("server messages always serialize");
        let channel = channel(instance);
        let payload = format!("{peer} {json}");
        if !publish(connection, channel, payload).await {
            tracing::debug!(%peer, "message for another instance dropped: Redis down");
        }
    }

    /// Tells `instance` that `peer`'s seat in `room` moved to another instance. At most once,
    /// like every publish: if it is lost, the old connection lives on until it ends by itself,
    /// and its hold then ends without a departure (the leave script finds the seat moved).
    pub(super) async fn moved(
        connection: &Connection,
        instance: &InstanceId,
        room: &RoomName,
        peer: &PeerId,
    ) {
        let channel = channel(instance);
        let payload = format!("{peer} {MOVED}{room}");
        if !publish(connection, channel, payload).await {
            tracing::debug!(%peer, "takeover notice for another instance dropped: Redis down");
        }
    }

    /// Receives what other instances publish for this instance's members until `stopped`;
    /// reconnects and resubscribes (with a growing pause) whenever the subscription is lost.
    pub(super) async fn subscribe(
        &self,
        connection: &Connection,
        mailboxes: &Mailboxes,
        watched: &Watched,
        stopped: &CancellationToken,
    ) {
        let mut pause = Duration::from_millis(100);
        loop {
            let subscription = tokio::time::timeout(connection.timeout(), async {
                let mut pubsub = connection.client().get_async_pubsub().await?;
                pubsub.subscribe(&self.channel).await?;
                redis::RedisResult::Ok(pubsub)
            })
            .await;
            match subscription {
                Ok(Ok(pubsub)) if connection.answers().await => {
                    pause = Duration::from_millis(100);
                    self.set_subscribed(true);
                    let mut messages = pubsub.into_on_message();
                    loop {
                        tokio::select! {
                            () = stopped.cancelled() => return,
                            message = messages.next() => match message {
                                Some(message) => deliver(mailboxes, watched, message.get_payload_bytes()),
                                None => break,
                            },
                        }
                    }
                    self.set_subscribed(false);
                }
                Ok(Ok(_)) => self.set_subscribed(false),
                Ok(Err(error)) => {
                    tracing::debug!(%error, "cannot subscribe to Redis");
                    self.set_subscribed(false);
                }
                Err(_) => self.set_subscribed(false),
            }
            tokio::select! {
                () = stopped.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    fn set_subscribed(&self, up: bool) {
        let was = self.subscribed.swap(up, Ordering::Relaxed);
        if was != up {
            if up {
                tracing::info!(channel = %self.channel, "subscribed to Redis");
            } else {
                tracing::error!("Redis subscription lost: refusing joins until it is back");
            }
        }
    }
}

fn channel(instance: &InstanceId) -> String {
    format!("signal:{instance}")
}

/// Marks a takeover notice; a JSON object never starts with `!`.
const MOVED: &str = "!moved ";

/// What arrived on this instance's channel.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    /// A message for a member held here.
    Message(PeerId, ServerMessage),
    /// The member's seat in the room moved to another instance.
    Moved(PeerId, RoomName),
}

/// Puts one published `"{peer} {json}"` into the peer's mailbox, or closes the connection of
/// a member whose seat moved.
fn deliver(mailboxes: &Mailboxes, watched: &Watched, payload: &[u8]) {
    match parse(payload) {
        Some(Delivery::Message(peer, message)) => mailboxes.deliver(&peer, message),
        Some(Delivery::Moved(peer, room)) => {
            tracing::info!(%room, %peer, "seat resumed on another instance");
            watched.left(&room, &peer);
            mailboxes.take_over(&peer);
        }
        None => tracing::warn!("ignored a malformed message on this instance's channel"),
    }
}

fn parse(payload: &[u8]) -> Option<Delivery> {
    let (peer, rest) = std::str::from_utf8(payload).ok()?.split_once(' ')?;
    let peer = PeerId::new(peer);
    if let Some(room) = rest.strip_prefix(MOVED) {
        return Some(Delivery::Moved(peer, RoomName::new(room).ok()?));
    }
    let message = serde_json::from_str::<ServerMessage>(rest).ok()?;
    Some(Delivery::Message(peer, message))
}

/// Publishes `payload` on `channel`; false when Redis cannot be reached (at most once, like
/// every publish).
async fn publish(connection: &Connection, channel: String, payload: String) -> bool {
    let published: Result<i64, _> = connection
        .call(|mut c| async move {
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .query_async(&mut c)
                .await
        })
        .await;
    published.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload is the recipient, a space, and the message JSON; anything else is refused.
    #[test]
    fn payloads_name_the_recipient_then_the_message() {
        let payload = br#"a1f0 {"type":"pong"}"#;
        assert_eq!(
            parse(payload),
            Some(Delivery::Message(PeerId::new("a1f0"), ServerMessage::Pong))
        );
        assert_eq!(parse(b"a1f0"), None);
        assert_eq!(parse(b"a1f0 {not json}"), None);
    }

    /// A takeover notice names the member and its room; a bad room is refused.
    #[test]
    fn takeover_notices_name_the_member_and_room() {
        assert_eq!(
            parse(b"a1f0 !moved blue-fox"),
            Some(Delivery::Moved(
                PeerId::new("a1f0"),
                RoomName::new("blue-fox").expect("valid")
            ))
        );
        assert_eq!(parse(b"a1f0 !moved no room"), None);
    }
}
