//! The switchboard: the one place that announces joins and leaves, and delivery of relays.
//!
//! The hub asks [`Presence`] what happened (who was already in the room, who remains, who
//! receives a relay) and then says it: `joined`, `peer_joined`, `ready` and `peer_left` are
//! written here and nowhere else, for both stores, with the ready rule written once. Messages
//! for connections of this instance go into their [`Mailboxes`]; messages for members held by
//! another instance are handed to [`Presence::forward`], which carries them there unchanged.
//!
//! Departures the Redis store finds by itself (members of a crashed instance, leaves retried
//! once Redis is back) arrive on a bounded channel
//! ([`crate::presence::DEPARTURES_CAPACITY`]); a task of the hub announces each one.
//!
//! The hub does not know which store it talks to, does not touch sockets, and does not parse
//! client messages (that is [`crate::ws`]). Every method that may reach Redis is `async` and
//! bounded by the store's timeout.

use std::sync::Arc;

use shared::{PeerId, RoomName, ServerMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    mailbox::{Mailbox, Mailboxes},
    presence::{
        DEPARTURES_CAPACITY, Departure, Health, Home, JoinOutcome, Member, Presence, RelayError,
        Unavailable, redis::RedisSettings,
    },
    resume::Tokens,
};

/// What the joiner is told, in order, by its own connection task (before anything queued in
/// its mailbox, so `joined` always comes before the first relayed message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// In the room: `joined`, then `ready` when the joiner made the room ready.
    Joined(Vec<ServerMessage>),
    /// Refused: the room is full (`full`).
    Refused(ServerMessage),
}

/// Cheap handle shared by every connection task.
#[derive(Debug, Clone)]
pub struct Hub {
    presence: Presence,
    capacity: usize,
    mailboxes: Mailboxes,
    /// Signs the `resume` token of every `joined`.
    tokens: Arc<Tokens>,
    /// Cancelled by [`Hub::close`]: ends the task announcing background departures.
    closed: CancellationToken,
}

impl Hub {
    /// A hub for a single instance, with presence in memory.
    pub fn new(capacity: usize, tokens: Arc<Tokens>) -> Self {
        Self {
            presence: Presence::in_memory(),
            capacity,
            mailboxes: Mailboxes::default(),
            tokens,
            closed: CancellationToken::new(),
        }
    }

    /// A hub sharing presence with other instances through Redis. Starts background tasks
    /// (the store's, and the one announcing departures), so it must be called inside a Tokio
    /// runtime; does not wait for Redis to answer.
    pub fn with_redis(
        capacity: usize,
        settings: RedisSettings,
        tokens: Arc<Tokens>,
    ) -> anyhow::Result<Self> {
        let mailboxes = Mailboxes::default();
        let (departures, found) = mpsc::channel(DEPARTURES_CAPACITY);
        let hub = Self {
            presence: Presence::redis(settings, mailboxes.clone(), departures)?,
            capacity,
            mailboxes,
            tokens,
            closed: CancellationToken::new(),
        };
        tokio::spawn(hub.clone().announce_departures(found));
        Ok(hub)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Makes `peer` reachable. Called once, when its connection opens.
    pub fn register(&self, peer: PeerId, mailbox: Mailbox) {
        self.mailboxes.insert(peer, mailbox);
    }

    /// Forgets `peer`'s mailbox. Called once, when its connection ends (after `leave`).
    pub fn unregister(&self, peer: &PeerId) {
        self.mailboxes.remove(peer);
    }

    /// Puts `peer` in `room` if there is a seat. The others are told `peer_joined`, then
    /// `ready` when the room has just reached two; the joiner's own messages are returned for
    /// its connection task to send first.
    pub async fn join(&self, room: &RoomName, peer: &PeerId) -> Result<Admission, Unavailable> {
        let others = match self.presence.join(room, peer, self.capacity).await? {
            JoinOutcome::Joined { others } => others,
            JoinOutcome::Full { capacity } => {
                return Ok(Admission::Refused(ServerMessage::Full {
                    room: room.clone(),
                    capacity,
                }));
            }
        };
        // The ready rule, written only here: a room is ready for a call when the join has just
        // brought it to two people. Both of them are told.
        let ready = others.len() == 1;
        for other in &others {
            self.send(other, ServerMessage::PeerJoined { peer: peer.clone() })
                .await;
            if ready {
                self.send(other, ServerMessage::Ready { room: room.clone() })
                    .await;
            }
        }
        let mut replies = vec![ServerMessage::Joined {
            room: room.clone(),
            you: peer.clone(),
            peers: others.into_iter().map(|other| other.peer).collect(),
            resume: self.tokens.issue(room, peer),
        }];
        if ready {
            replies.push(ServerMessage::Ready { room: room.clone() });
        }
        Ok(Admission::Joined(replies))
    }

    /// Takes `peer` out of `room` and tells the remaining members `peer_left`, whatever caused
    /// it (leave, close, error, heartbeat timeout). This and the departures the store finds by
    /// itself go through one private `announce`: `peer_left` is written nowhere else.
    pub async fn leave(&self, room: &RoomName, peer: &PeerId) {
        if let Some(departure) = self.presence.leave(room, peer).await {
            self.announce(departure).await;
        }
    }

    /// Sends a relayed message from `from` to `to`, or to every other member of `room`. The
    /// message is moved into the last recipient's mailbox: one recipient costs no copy.
    pub async fn relay(
        &self,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
        message: ServerMessage,
    ) -> Result<(), RelayError> {
        let here = self.presence.relay(room, from, to, &message).await?;
        if let Some((last, rest)) = here.split_last() {
            for peer in rest {
                self.mailboxes.deliver(peer, message.clone());
            }
            self.mailboxes.deliver(last, message);
        }
        Ok(())
    }

    /// How many rooms (with members on this instance) and connections this instance holds.
    pub fn counts(&self) -> (usize, usize) {
        (self.presence.rooms_here(), self.mailboxes.len())
    }

    /// Whether the presence store can be reached.
    pub fn store_health(&self) -> Health {
        self.presence.health()
    }

    /// Stops the background tasks once every connection has left: the end of a graceful
    /// shutdown. Called while connections are still open, it is what a crash looks like to
    /// other instances (no heartbeat, no departures announced), which is how the Redis crash
    /// test uses it.
    pub fn close(&self) {
        self.presence.shutdown();
        self.closed.cancel();
    }

    /// Tells the members who remain that `departure.peer` left.
    async fn announce(&self, departure: Departure) {
        for other in &departure.remaining {
            self.send(
                other,
                ServerMessage::PeerLeft {
                    peer: departure.peer.clone(),
                },
            )
            .await;
        }
    }

    /// Announces the departures the store found by itself, until the hub is closed.
    async fn announce_departures(self, mut found: mpsc::Receiver<Departure>) {
        loop {
            tokio::select! {
                () = self.closed.cancelled() => return,
                departure = found.recv() => match departure {
                    Some(departure) => self.announce(departure).await,
                    None => return,
                },
            }
        }
    }

    /// Queues `message` for `to`, here or on its instance.
    async fn send(&self, to: &Member, message: ServerMessage) {
        match &to.home {
            Home::Here => self.mailboxes.deliver(&to.peer, message),
            Home::Elsewhere(instance) => self.presence.forward(instance, &to.peer, &message).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shared::ResumeToken;

    use super::*;
    use crate::resume::ResumeKey;

    fn room() -> RoomName {
        RoomName::new("r").expect("valid")
    }

    /// A mailbox for `peer` on `hub`, and its receiving end.
    fn connect(hub: &Hub, peer: &PeerId) -> mpsc::Receiver<ServerMessage> {
        let (messages, receiver) = mpsc::channel(8);
        hub.register(
            peer.clone(),
            Mailbox {
                messages,
                overflowed: CancellationToken::new(),
            },
        );
        receiver
    }

    /// A hub for rooms of `capacity`, with a random resume key.
    fn hub(capacity: usize) -> Hub {
        let tokens = Tokens::new(&ResumeKey::random(), Duration::from_secs(45));
        Hub::new(capacity, Arc::new(tokens))
    }

    /// `admission`, with the token of its `joined` checked (it names the joiner's seat) and
    /// replaced by `checked`, so the rest can be compared exactly.
    fn checked(hub: &Hub, admission: Admission) -> Admission {
        let Admission::Joined(replies) = admission else {
            return admission;
        };
        let replies = replies
            .into_iter()
            .map(|reply| match reply {
                ServerMessage::Joined {
                    room,
                    you,
                    peers,
                    resume,
                } => {
                    assert_eq!(hub.tokens.verify(&resume, &room), Ok(you.clone()));
                    ServerMessage::Joined {
                        room,
                        you,
                        peers,
                        resume: ResumeToken::new("checked".to_owned()),
                    }
                }
                other => other,
            })
            .collect();
        Admission::Joined(replies)
    }

    fn checked_token() -> ResumeToken {
        ResumeToken::new("checked".to_owned())
    }

    /// Everything queued for a mailbox so far.
    fn queued(receiver: &mut mpsc::Receiver<ServerMessage>) -> Vec<ServerMessage> {
        std::iter::from_fn(|| receiver.try_recv().ok()).collect()
    }

    /// The second joiner is told `joined` then `ready`; the first gets `peer_joined` then
    /// `ready`; a third is refused with `full` and nobody hears of it; leaving tells the
    /// remaining member `peer_left`. Each `joined` carries a token for the joiner's seat.
    #[tokio::test]
    async fn the_hub_announces_joins_ready_and_leaves() {
        let hub = hub(2);
        let (a, b, c) = (PeerId::new("a"), PeerId::new("b"), PeerId::new("c"));
        let (mut a_box, mut b_box) = (connect(&hub, &a), connect(&hub, &b));
        let first = checked(&hub, hub.join(&room(), &a).await.expect("in memory"));
        assert_eq!(
            first,
            Admission::Joined(vec![ServerMessage::Joined {
                room: room(),
                you: a.clone(),
                peers: vec![],
                resume: checked_token(),
            }])
        );
        let second = checked(&hub, hub.join(&room(), &b).await.expect("in memory"));
        assert_eq!(
            second,
            Admission::Joined(vec![
                ServerMessage::Joined {
                    room: room(),
                    you: b.clone(),
                    peers: vec![a.clone()],
                    resume: checked_token(),
                },
                ServerMessage::Ready { room: room() },
            ])
        );
        assert_eq!(
            queued(&mut a_box),
            vec![
                ServerMessage::PeerJoined { peer: b.clone() },
                ServerMessage::Ready { room: room() },
            ]
        );
        let third = hub.join(&room(), &c).await.expect("in memory");
        assert_eq!(
            third,
            Admission::Refused(ServerMessage::Full {
                room: room(),
                capacity: 2,
            })
        );
        assert_eq!(queued(&mut a_box), vec![]);
        hub.leave(&room(), &a).await;
        assert_eq!(
            queued(&mut b_box),
            vec![ServerMessage::PeerLeft { peer: a }]
        );
        assert_eq!(hub.counts(), (1, 2));
    }

    /// A relay reaches every other member once, and never the sender.
    #[tokio::test]
    async fn relays_reach_the_others_only() {
        let hub = hub(3);
        let (a, b, c) = (PeerId::new("a"), PeerId::new("b"), PeerId::new("c"));
        let mut boxes: Vec<_> = [&a, &b, &c].iter().map(|p| connect(&hub, p)).collect();
        for peer in [&a, &b, &c] {
            hub.join(&room(), peer).await.expect("in memory");
        }
        for mailbox in &mut boxes {
            queued(mailbox);
        }
        let hang_up = ServerMessage::HangUp {
            from: a.clone(),
            to: None,
        };
        hub.relay(&room(), &a, None, hang_up.clone())
            .await
            .expect("relayed");
        assert_eq!(queued(&mut boxes[0]), vec![]);
        assert_eq!(queued(&mut boxes[1]), vec![hang_up.clone()]);
        assert_eq!(queued(&mut boxes[2]), vec![hang_up]);
    }
}
