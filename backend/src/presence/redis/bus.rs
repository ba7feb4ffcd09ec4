//! The bus between instances: one pub/sub channel per instance, `signal:{id}`, carrying
//!
//! - `"{peer} {json}"`: an announcement (`peer_joined`, `peer_left`, `ready`…) for a member
//!   that instance holds; the room of that member may have changed, so its cached membership
//!   is thrown away before the message is delivered;
//! - `"{peer} @{room} {json}"`: a message relayed to that member in `room`, delivered only if
//!   the member is (or is joining) that room here, so that a relay decided on a copy that was
//!   a moment old never reaches a member who has since moved to another room;
//! - `"{peer} !moved {room}"`: that member's seat was resumed by a connection on another
//!   instance, so its connection here (if still open) closes with 4001 and this instance stops
//!   watching the seat;
//! - `"- !changed {room}"`: another instance resumed a seat of `room` (the take script says
//!   so to every instance with members there): only the cached membership is thrown away.
//!
//! One published payload holds one or more of these, one a line (none contains a newline: a
//! JSON text from `serde_json::to_string` has none, nor do peer ids and room names): the
//! publisher sends what it gathered for one instance as one `PUBLISH`, and the subscriber
//! handles the lines in order. A relayed message's JSON is checked to be well-formed JSON and
//! then passed through to the member's connection as it is: it was serialised from a
//! [`ServerMessage`] by the sending instance, so it is not parsed into one again.
//!
//! [`Bus::publish`] carries an announcement to a member on another instance (through the
//! ordered [`Publisher`]); the subscriber puts what arrives on this instance's channel into the
//! member's mailbox. That is delivery only: the bus never decides what to say (the hub does).
//! Relayed messages are published by the relay (queued, or by the relay script).
//!
//! Delivery is at most once: pub/sub keeps nothing for a subscriber that is not connected, and
//! a failed publish is dropped, not retried (a retry could duplicate or reorder). A lost or
//! re-established subscription throws away every cached membership: announcements may have
//! been missed.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use futures_util::StreamExt;
use serde::de::IgnoredAny;
use shared::{PeerId, RoomName, ServerMessage};
use tokio_util::sync::CancellationToken;

use super::{connection::Connection, in_flight::InFlight, liveness::Watched, publisher::Publisher};
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

    /// Publishes the announcement `message` for `peer` on `instance`'s channel, after
    /// everything queued before it, and waits until Redis took it. A failure is logged and the
    /// message dropped (the sender's next relay reports Redis down).
    pub(super) async fn publish(
        publisher: &Publisher,
        instance: &InstanceId,
        peer: &PeerId,
        message: &ServerMessage,
    ) {
        let json = serde_json::to_string(message).expect("server messages always serialize");
        publisher
            .publish(channel(instance), format!("{peer} {json}"))
            .await;
        if !publisher.flush().await {
            tracing::debug!(%peer, "message for another instance dropped: Redis down");
        }
    }

    /// Queues `json`, relayed to `peer` in `room`, for `instance`'s channel; does not wait.
    pub(super) async fn relay(
        publisher: &Publisher,
        instance: &InstanceId,
        room: &RoomName,
        peer: &PeerId,
        json: &str,
    ) {
        publisher
            .publish(
                channel(instance),
                format!("{peer} {}", relay_suffix(room, json)),
            )
            .await;
    }

    /// Tells `instance` that `peer`'s seat in `room` moved to another instance. At most once,
    /// like every publish: if it is lost, the old connection lives on until it ends by itself,
    /// and its hold then ends without a departure (the leave script finds the seat moved).
    pub(super) async fn moved(
        publisher: &Publisher,
        instance: &InstanceId,
        room: &RoomName,
        peer: &PeerId,
    ) {
        publisher
            .publish(channel(instance), format!("{peer} {MOVED}{room}"))
            .await;
        if !publisher.flush().await {
            tracing::debug!(%peer, "takeover notice for another instance dropped: Redis down");
        }
    }

    /// Receives what other instances publish for this instance's members until `stopped`;
    /// reconnects and resubscribes (with a growing pause) whenever the subscription is lost.
    pub(super) async fn subscribe(
        &self,
        connection: &Connection,
        receiver: &Receiver<'_>,
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
                    // Announcements published while unsubscribed are lost: no copy read
                    // before now is trusted.
                    receiver.watched.cache.invalidate_all();
                    self.set_subscribed(true);
                    let mut messages = pubsub.into_on_message();
                    loop {
                        tokio::select! {
                            () = stopped.cancelled() => return,
                            message = messages.next() => match message {
                                Some(message) => receiver.deliver(message.get_payload_bytes()),
                                None => break,
                            },
                        }
                    }
                    self.set_subscribed(false);
                    receiver.watched.cache.invalidate_all();
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

/// Marks a notice that a room's membership changed (a seat resumed elsewhere).
const CHANGED: &str = "!changed ";

/// The part of a relayed message's payload after the recipient: `"@{room} {json}"` (a room
/// name has no spaces; a JSON object never starts with `@`).
pub(super) fn relay_suffix(room: &RoomName, json: &str) -> String {
    format!("@{room} {json}")
}

/// One line of what arrived on this instance's channel.
#[derive(Debug, PartialEq, Eq)]
enum Delivery<'a> {
    /// An announcement for a member held here.
    Announced(PeerId, ServerMessage),
    /// A message relayed to a member held here, in a room: its JSON, well-formed, as the
    /// sending instance serialised it.
    Relayed(PeerId, RoomName, &'a str),
    /// The member's seat in the room moved to another instance.
    Moved(PeerId, RoomName),
    /// The room's membership changed.
    Changed(RoomName),
}

/// What the subscriber hands deliveries to.
pub(super) struct Receiver<'a> {
    pub(super) mailboxes: &'a Mailboxes,
    pub(super) watched: &'a Watched,
    pub(super) in_flight: &'a InFlight,
}

impl Receiver<'_> {
    /// Handles each line of one published payload, in order.
    fn deliver(&self, payload: &[u8]) {
        for line in payload.split(|&byte| byte == b'\n') {
            self.deliver_line(line);
        }
    }

    /// Puts one published message into its recipient's mailbox, closes the connection of a
    /// member whose seat moved, or throws a cached membership away.
    fn deliver_line(&self, line: &[u8]) {
        match parse(line) {
            Some(Delivery::Announced(peer, message)) => {
                for room in self.watched.rooms_of(&peer) {
                    self.watched.cache.invalidate(&room);
                }
                self.mailboxes.deliver(&peer, message);
            }
            Some(Delivery::Relayed(peer, room, json)) => {
                if self.watched.holds(&room, &peer) || self.in_flight.seeks(&room, &peer) {
                    self.mailboxes.deliver_frame(&peer, json.to_owned().into());
                } else {
                    tracing::debug!(%room, %peer, "relayed message for a member no longer in that room: dropped");
                }
            }
            Some(Delivery::Moved(peer, room)) => {
                tracing::info!(%room, %peer, "seat resumed on another instance");
                self.watched.cache.invalidate(&room);
                self.watched.left(&room, &peer);
                self.mailboxes.take_over(&peer);
            }
            Some(Delivery::Changed(room)) => self.watched.cache.invalidate(&room),
            None => tracing::warn!("ignored a malformed message on this instance's channel"),
        }
    }
}

fn parse(payload: &[u8]) -> Option<Delivery<'_>> {
    let (peer, rest) = std::str::from_utf8(payload).ok()?.split_once(' ')?;
    if let Some(room) = rest.strip_prefix(CHANGED) {
        return Some(Delivery::Changed(RoomName::new(room).ok()?));
    }
    let peer = PeerId::new(peer);
    if let Some(room) = rest.strip_prefix(MOVED) {
        return Some(Delivery::Moved(peer, RoomName::new(room).ok()?));
    }
    if let Some(relayed) = rest.strip_prefix('@') {
        let (room, json) = relayed.split_once(' ')?;
        // Well-formed and one JSON object: checked without building anything.
        if !json.starts_with('{') || serde_json::from_str::<IgnoredAny>(json).is_err() {
            return None;
        }
        return Some(Delivery::Relayed(peer, RoomName::new(room).ok()?, json));
    }
    let message = serde_json::from_str::<ServerMessage>(rest).ok()?;
    Some(Delivery::Announced(peer, message))
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
            Some(Delivery::Announced(
                PeerId::new("a1f0"),
                ServerMessage::Pong
            ))
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

    /// A relayed message names its recipient, then its room after `@`, then the JSON; a
    /// change notice names only the room.
    #[test]
    fn relayed_messages_name_their_room() {
        let room = RoomName::new("blue-fox").expect("valid");
        let payload = format!("a1f0 {}", relay_suffix(&room, r#"{"type":"pong"}"#));
        assert_eq!(
            parse(payload.as_bytes()),
            Some(Delivery::Relayed(
                PeerId::new("a1f0"),
                room.clone(),
                r#"{"type":"pong"}"#
            ))
        );
        assert_eq!(parse(b"a1f0 @blue-fox"), None);
        assert_eq!(parse(b"a1f0 @blue-fox {not json}"), None);
        assert_eq!(parse(b"a1f0 @blue-fox [1]"), None);
        assert_eq!(parse(b"- !changed blue-fox"), Some(Delivery::Changed(room)));
    }
}
