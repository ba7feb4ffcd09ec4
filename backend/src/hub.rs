//! The switchboard: the one place that announces joins and leaves, and delivery of relays.
//!
//! The hub asks [`Presence`] what happened (who was already in the room, who remains, who
//! receives a relay) and then says it: `joined`, `peer_joined`, `ready` and `peer_left` are
//! written here and nowhere else, for both stores, with the ready rule written once. Messages
//! for connections of this instance go into their [`Mailboxes`]; messages for members held by
//! another instance are handed to [`Presence::forward`], which carries them there unchanged.
//!
//! Seats are resumable: a connection that ends without `leave` keeps its seat for the grace
//! period ([`Holds`], one timer each), and a `join` with a token for a held seat gets it back
//! without anybody else being told; only when the grace is over does `peer_left` go out, from
//! here like every other departure.
//!
//! Departures the Redis store finds by itself (members of a crashed instance, leaves retried
//! once Redis is back) arrive on a bounded channel
//! ([`crate::presence::DEPARTURES_CAPACITY`]); a task of the hub announces each one.
//!
//! The hub does not know which store it talks to, does not touch sockets, and does not parse
//! client messages (that is [`crate::ws`]). Every method that may reach Redis is `async` and
//! bounded by the store's timeout.

use std::{sync::Arc, time::Duration};

use shared::{PeerId, ResumeToken, RoomName, ServerMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    mailbox::{Frame, Mailbox, Mailboxes, frame},
    metrics,
    presence::{
        DEPARTURES_CAPACITY, Departure, Health, Home, JoinOutcome, Member, Presence, RelayError,
        Unavailable, redis::RedisSettings,
    },
    resume::{Holds, ResumeSettings, Ticket},
};

/// What the joiner is told, in order, by its own connection task (before anything queued in
/// its mailbox, so `joined` always comes before the first relayed message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// In the room as `you` (the connection's own id, or the one its token gave back):
    /// `joined`, then `ready` when the joiner made the room ready.
    Joined {
        you: PeerId,
        replies: Vec<ServerMessage>,
    },
    /// Refused: the room is full (`full`).
    Refused(ServerMessage),
}

/// The size of a call, as the operator configured it: the same for every room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomSettings {
    /// How many people fit in a room (`--room-capacity`); `full` says it.
    pub capacity: usize,
    /// Most a page should send in all, in kbit/s (`--upload-budget`); `joined` says it.
    pub upload_kbps: u32,
}

/// Cheap handle shared by every connection task.
#[derive(Debug, Clone)]
pub struct Hub {
    presence: Presence,
    rooms: RoomSettings,
    mailboxes: Mailboxes,
    /// Signs the `resume` tokens, and how long a seat is held for one.
    resume: Arc<ResumeSettings>,
    /// Seats of connections that ended without `leave`, waiting for their resume.
    holds: Holds,
    /// Taken by a resume (from finding the seat to releasing its hold) and by a hold's end
    /// (from expiring it to freeing the seat), so that one never happens inside the other: a
    /// resume either releases the hold in time or finds the seat gone. An async mutex, as
    /// both steps may wait for Redis; they are rare (one per reconnect or departure), so one
    /// for the whole instance is enough.
    seat_changes: Arc<tokio::sync::Mutex<()>>,
    /// Cancelled by [`Hub::close`]: ends the task announcing background departures and the
    /// hold timers.
    closed: CancellationToken,
}

impl Hub {
    /// A hub for a single instance, with presence in memory.
    pub fn new(rooms: RoomSettings, resume: ResumeSettings) -> Self {
        Self {
            presence: Presence::in_memory(),
            rooms,
            mailboxes: Mailboxes::default(),
            resume: Arc::new(resume),
            holds: Holds::default(),
            seat_changes: Arc::default(),
            closed: CancellationToken::new(),
        }
    }

    /// A hub sharing presence with other instances through Redis. Starts background tasks
    /// (the store's, and the one announcing departures), so it must be called inside a Tokio
    /// runtime; does not wait for Redis to answer.
    pub fn with_redis(
        rooms: RoomSettings,
        settings: RedisSettings,
        resume: ResumeSettings,
    ) -> anyhow::Result<Self> {
        let mailboxes = Mailboxes::default();
        let (departures, found) = mpsc::channel(DEPARTURES_CAPACITY);
        let hub = Self {
            presence: Presence::redis(settings, mailboxes.clone(), departures)?,
            rooms,
            mailboxes,
            resume: Arc::new(resume),
            holds: Holds::default(),
            seat_changes: Arc::default(),
            closed: CancellationToken::new(),
        };
        tokio::spawn(hub.clone().announce_departures(found));
        Ok(hub)
    }

    pub fn capacity(&self) -> usize {
        self.rooms.capacity
    }

    /// How often a member is sent a fresh token: every half grace period, so the token it
    /// holds stays good for the grace after its connection last worked.
    pub fn refresh_interval(&self) -> Duration {
        self.resume.grace / 2
    }

    /// A `resume` message with a fresh token for `peer`'s seat in `room`.
    pub fn fresh_token(&self, room: &RoomName, peer: &PeerId) -> ServerMessage {
        ServerMessage::Resume {
            resume: self.resume.tokens.issue(room, peer),
        }
    }

    /// Makes `peer` reachable. Called once, when its connection opens.
    pub fn register(&self, peer: PeerId, mailbox: Mailbox) {
        self.mailboxes.insert(peer, mailbox);
    }

    /// Puts `peer` in `room` if there is a seat, or gives it back the seat `resume` names.
    ///
    /// A token that is genuine, for this room and unexpired, whose seat is still held: the
    /// joiner takes that seat and its peer id back (an old connection still holding it is
    /// closed), and nobody else is told anything. A genuine token whose seat is gone: a normal
    /// join, under the token's peer id when nobody holds it. Any other token: a normal join.
    ///
    /// On a normal join the others are told `peer_joined`, then `ready` when the room has just
    /// reached two; the joiner's own messages are returned for its connection task to send
    /// first. The connection is known as `you` from then on.
    pub async fn join(
        &self,
        room: &RoomName,
        peer: &PeerId,
        resume: Option<&ResumeToken>,
    ) -> Result<Admission, Unavailable> {
        let mut id = peer.clone();
        if let Some(claimed) = resume.and_then(|token| self.claim(room, token)) {
            let seat_change = self.seat_changes.lock().await;
            if let Some(others) = self.presence.resume(room, &claimed, peer).await? {
                self.holds.release(&claimed);
                self.mailboxes.rename(peer, &claimed);
                drop(seat_change);
                tracing::info!(%room, peer = %claimed, "seat resumed");
                metrics::resumed();
                return Ok(Admission::Joined {
                    replies: vec![self.joined(room, &claimed, others)],
                    you: claimed,
                });
            }
            drop(seat_change);
            if !self.mailboxes.contains(&claimed) && !self.holds.contains(&claimed) {
                id = claimed;
            }
        }
        let others = match self
            .presence
            .join(room, &id, peer, self.rooms.capacity)
            .await?
        {
            JoinOutcome::Joined { others } => others,
            JoinOutcome::Full { capacity } => {
                return Ok(Admission::Refused(ServerMessage::Full {
                    room: room.clone(),
                    capacity,
                }));
            }
        };
        // Before anybody hears of the joiner, so that their answers reach it.
        self.mailboxes.rename(peer, &id);
        // The ready rule, written only here: a room is ready for a call when the join has just
        // brought it to two people. Both of them are told.
        let ready = others.len() == 1;
        for other in &others {
            self.send(other, ServerMessage::PeerJoined { peer: id.clone() })
                .await;
            if ready {
                self.send(other, ServerMessage::Ready { room: room.clone() })
                    .await;
            }
        }
        let mut replies = vec![self.joined(room, &id, others)];
        if ready {
            replies.push(ServerMessage::Ready { room: room.clone() });
        }
        Ok(Admission::Joined { you: id, replies })
    }

    /// Takes `peer` out of `room` at once (an explicit `leave`) and tells the remaining members
    /// `peer_left`, unless the connection asking (whose queue is `own`) no longer holds the
    /// seat because a newer connection resumed it.
    pub async fn leave(&self, room: &RoomName, peer: &PeerId, own: &mpsc::Sender<Frame>) {
        if self.mailboxes.owns(peer, own) {
            self.depart(room, peer).await;
        }
    }

    /// The connection holding `peer` (whose queue is `own`) ended without `leave`: closed,
    /// failed, silent, or the server is shutting down. Forgets its mailbox, and keeps its seat
    /// in `room` for the grace period; `peer_left` goes out when the grace is over unless a
    /// resume took the seat meanwhile. Does nothing when a newer connection took the seat
    /// over already.
    pub async fn disconnected(
        &self,
        room: Option<RoomName>,
        peer: &PeerId,
        own: &mpsc::Sender<Frame>,
    ) {
        if !self.mailboxes.remove_own(peer, own) {
            return;
        }
        match room {
            Some(room) => {
                let ticket = self.holds.hold(&room, peer);
                tokio::spawn(self.clone().release_after_grace(ticket));
            }
            None => {
                if let Some(departure) = self.presence.connection_gone(peer).await {
                    self.announce(departure).await;
                }
            }
        }
    }

    /// Sends a relayed message from `from` to `to`, or to every other member of `room`. The
    /// message is serialised once, here, and its bytes shared by every recipient's mailbox.
    ///
    /// Without `to`, the room must hold two people at the time of the relay (the store checks,
    /// in the same step as it finds the recipients): in a larger room a message for "the
    /// other member" names nobody, and is refused with [`RelayError::RecipientRequired`].
    pub async fn relay(
        &self,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
        message: ServerMessage,
    ) -> Result<(), RelayError> {
        let here = self.presence.relay(room, from, to, &message).await?;
        if !here.is_empty() {
            let frame = frame(&message);
            for peer in &here {
                self.mailboxes.deliver_frame(peer, frame.clone());
            }
        }
        Ok(())
    }

    /// How many rooms (with members on this instance) and connections this instance holds.
    pub fn counts(&self) -> (usize, usize) {
        (self.presence.rooms_here(), self.mailboxes.len())
    }

    /// How many seats this instance holds (seats kept for a resume included).
    pub fn members_here(&self) -> usize {
        self.presence.seats_here()
    }

    /// Whether the presence store can be reached.
    pub fn store_health(&self) -> Health {
        self.presence.health()
    }

    /// Stops the background tasks once every connection has left: the end of a graceful
    /// shutdown. Called while connections are still open, it is what a crash looks like to
    /// other instances (no heartbeat, no departures announced), which is how the Redis crash
    /// test uses it. Seats held for a resume stay in the store (with Redis, another instance
    /// can take them until this one's liveness expires).
    pub fn close(&self) {
        self.presence.shutdown();
        self.closed.cancel();
    }

    /// The peer id `token` gives back in `room`, if it is genuine, unexpired and for `room`.
    /// The token itself is never logged.
    fn claim(&self, room: &RoomName, token: &ResumeToken) -> Option<PeerId> {
        match self.resume.tokens.verify(token, room) {
            Ok(peer) => Some(peer),
            Err(reason) => {
                tracing::debug!(%room, %reason, "resume token not accepted: a normal join");
                None
            }
        }
    }

    /// The `joined` for `you` in `room`, with a fresh token for the seat.
    fn joined(&self, room: &RoomName, you: &PeerId, others: Vec<Member>) -> ServerMessage {
        ServerMessage::Joined {
            room: room.clone(),
            you: you.clone(),
            peers: others.into_iter().map(|other| other.peer).collect(),
            resume: self.resume.tokens.issue(room, you),
            upload_kbps: Some(self.rooms.upload_kbps),
        }
    }

    /// Waits for the grace period of `ticket`'s hold; when it is over and the seat was not
    /// resumed, frees the seat and announces the departure.
    async fn release_after_grace(self, ticket: Ticket) {
        tokio::select! {
            () = tokio::time::sleep(self.resume.grace) => {}
            () = ticket.released.cancelled() => return,
            () = self.closed.cancelled() => return,
        }
        let _seat_change = self.seat_changes.lock().await;
        if self.holds.expire(&ticket) {
            self.depart(&ticket.room, &ticket.peer).await;
        }
    }

    /// Takes `peer` out of `room` and tells the remaining members `peer_left`. This and the
    /// departures the store finds by itself go through one private `announce`: `peer_left` is
    /// written nowhere else.
    async fn depart(&self, room: &RoomName, peer: &PeerId) {
        if let Some(departure) = self.presence.leave(room, peer).await {
            self.announce(departure).await;
        }
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

    const GRACE: Duration = Duration::from_secs(30);

    fn room() -> RoomName {
        RoomName::new("r").expect("valid")
    }

    /// The upload budget of the test hubs: not the default, so a hub that ignored its setting
    /// would show.
    const UPLOAD_KBPS: u32 = 1_234;

    /// A hub for rooms of `capacity`, with a random resume key and a 30 s grace.
    fn hub(capacity: usize) -> Hub {
        Hub::new(
            RoomSettings {
                capacity,
                upload_kbps: UPLOAD_KBPS,
            },
            ResumeSettings::new(&ResumeKey::random(), GRACE),
        )
    }

    /// One connection's end of the hub: its mailbox's queue, receiving end and switches.
    struct Line {
        own: mpsc::Sender<Frame>,
        receiver: mpsc::Receiver<Frame>,
        taken_over: CancellationToken,
    }

    impl Line {
        /// Everything queued for this connection so far, read back from its frames.
        fn queued(&mut self) -> Vec<ServerMessage> {
            std::iter::from_fn(|| self.receiver.try_recv().ok())
                .map(|frame| serde_json::from_str(frame.as_str()).expect("a server message"))
                .collect()
        }
    }

    /// A mailbox for `peer` on `hub`.
    fn connect(hub: &Hub, peer: &PeerId) -> Line {
        let (messages, receiver) = mpsc::channel(8);
        let taken_over = CancellationToken::new();
        hub.register(
            peer.clone(),
            Mailbox {
                messages: messages.clone(),
                overflowed: CancellationToken::new(),
                taken_over: taken_over.clone(),
            },
        );
        Line {
            own: messages,
            receiver,
            taken_over,
        }
    }

    /// `admission`, with the token of its `joined` checked (it names the joiner's seat) and
    /// replaced by `checked`, so the rest can be compared exactly.
    fn checked(hub: &Hub, admission: Admission) -> Admission {
        let Admission::Joined { you, replies } = admission else {
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
                    upload_kbps,
                } => {
                    assert_eq!(hub.resume.tokens.verify(&resume, &room), Ok(you.clone()));
                    ServerMessage::Joined {
                        room,
                        you,
                        peers,
                        resume: checked_token(),
                        upload_kbps,
                    }
                }
                other => other,
            })
            .collect();
        Admission::Joined { you, replies }
    }

    fn checked_token() -> ResumeToken {
        ResumeToken::new("checked".to_owned())
    }

    /// The token of the `joined` in `admission`.
    fn token_of(admission: &Admission) -> ResumeToken {
        match admission {
            Admission::Joined { replies, .. } => match &replies[0] {
                ServerMessage::Joined { resume, .. } => resume.clone(),
                other => panic!("expected joined, got {other:?}"),
            },
            other => panic!("expected joined, got {other:?}"),
        }
    }

    /// The second joiner is told `joined` then `ready`; the first gets `peer_joined` then
    /// `ready`; a third is refused with `full` and nobody hears of it; leaving tells the
    /// remaining member `peer_left`. Each `joined` carries a token for the joiner's seat.
    #[tokio::test]
    async fn the_hub_announces_joins_ready_and_leaves() {
        let hub = hub(2);
        let (a, b, c) = (PeerId::new("a"), PeerId::new("b"), PeerId::new("c"));
        let (mut a_line, mut b_line) = (connect(&hub, &a), connect(&hub, &b));
        let first = checked(&hub, hub.join(&room(), &a, None).await.expect("in memory"));
        assert_eq!(
            first,
            Admission::Joined {
                you: a.clone(),
                replies: vec![ServerMessage::Joined {
                    room: room(),
                    you: a.clone(),
                    peers: vec![],
                    resume: checked_token(),
                    upload_kbps: Some(UPLOAD_KBPS),
                }]
            }
        );
        let second = checked(&hub, hub.join(&room(), &b, None).await.expect("in memory"));
        assert_eq!(
            second,
            Admission::Joined {
                you: b.clone(),
                replies: vec![
                    ServerMessage::Joined {
                        room: room(),
                        you: b.clone(),
                        peers: vec![a.clone()],
                        resume: checked_token(),
                        upload_kbps: Some(UPLOAD_KBPS),
                    },
                    ServerMessage::Ready { room: room() },
                ]
            }
        );
        assert_eq!(
            a_line.queued(),
            vec![
                ServerMessage::PeerJoined { peer: b.clone() },
                ServerMessage::Ready { room: room() },
            ]
        );
        let third = hub.join(&room(), &c, None).await.expect("in memory");
        assert_eq!(
            third,
            Admission::Refused(ServerMessage::Full {
                room: room(),
                capacity: 2,
            })
        );
        assert_eq!(a_line.queued(), vec![]);
        hub.leave(&room(), &a, &a_line.own).await;
        assert_eq!(b_line.queued(), vec![ServerMessage::PeerLeft { peer: a }]);
        assert_eq!(hub.counts(), (1, 2));
    }

    /// In a room of two a relay without `to` reaches the other member; in a room of three it
    /// is refused and reaches nobody, and with `to` it reaches the addressee only, never the
    /// sender.
    #[tokio::test]
    async fn relays_reach_the_addressee_only() {
        let hub = hub(3);
        let (a, b, c) = (PeerId::new("a"), PeerId::new("b"), PeerId::new("c"));
        let mut lines: Vec<_> = [&a, &b, &c].iter().map(|p| connect(&hub, p)).collect();
        let hang_up = ServerMessage::HangUp {
            from: a.clone(),
            to: None,
        };
        for peer in [&a, &b] {
            hub.join(&room(), peer, None).await.expect("in memory");
        }
        hub.relay(&room(), &a, None, hang_up.clone())
            .await
            .expect("relayed in a room of two");
        assert_eq!(lines[1].queued(), vec![hang_up.clone()]);
        hub.join(&room(), &c, None).await.expect("in memory");
        for line in &mut lines {
            line.queued();
        }
        assert_eq!(
            hub.relay(&room(), &a, None, hang_up.clone()).await,
            Err(RelayError::RecipientRequired)
        );
        let addressed = ServerMessage::HangUp {
            from: a.clone(),
            to: Some(c.clone()),
        };
        hub.relay(&room(), &a, Some(&c), addressed.clone())
            .await
            .expect("relayed");
        assert_eq!(lines[0].queued(), vec![]);
        assert_eq!(lines[1].queued(), vec![]);
        assert_eq!(lines[2].queued(), vec![addressed]);
    }

    /// A connection that ends without `leave` keeps its seat for the grace period: the other
    /// member hears nothing until the grace is over, then `peer_left`.
    #[tokio::test(start_paused = true)]
    async fn a_dropped_seat_is_announced_after_the_grace() {
        let hub = hub(2);
        let (a, b) = (PeerId::new("a"), PeerId::new("b"));
        let (a_line, mut b_line) = (connect(&hub, &a), connect(&hub, &b));
        hub.join(&room(), &a, None).await.expect("in memory");
        hub.join(&room(), &b, None).await.expect("in memory");
        b_line.queued();
        hub.disconnected(Some(room()), &a, &a_line.own).await;
        tokio::time::sleep(GRACE - Duration::from_millis(1)).await;
        assert_eq!(b_line.queued(), vec![], "nothing during the grace");
        tokio::time::sleep(Duration::from_millis(2)).await;
        tokio::task::yield_now().await;
        assert_eq!(b_line.queued(), vec![ServerMessage::PeerLeft { peer: a }]);
    }

    /// A new connection joining with the token of a held seat gets the old id and the others
    /// back, nobody else hears anything, and the grace timer never fires; the old connection,
    /// if still registered, is told it was taken over.
    #[tokio::test(start_paused = true)]
    async fn a_token_takes_the_held_seat_back_silently() {
        let hub = hub(2);
        let (a, b, a2) = (PeerId::new("a"), PeerId::new("b"), PeerId::new("a2"));
        let a_line = connect(&hub, &a);
        let mut b_line = connect(&hub, &b);
        let token = token_of(&hub.join(&room(), &a, None).await.expect("in memory"));
        hub.join(&room(), &b, None).await.expect("in memory");
        b_line.queued();
        let mut a2_line = connect(&hub, &a2);
        let again = checked(
            &hub,
            hub.join(&room(), &a2, Some(&token))
                .await
                .expect("in memory"),
        );
        assert_eq!(
            again,
            Admission::Joined {
                you: a.clone(),
                replies: vec![ServerMessage::Joined {
                    room: room(),
                    you: a.clone(),
                    peers: vec![b.clone()],
                    resume: checked_token(),
                    upload_kbps: Some(UPLOAD_KBPS),
                }]
            }
        );
        assert!(
            a_line.taken_over.is_cancelled(),
            "the old connection closes"
        );
        assert!(!a2_line.taken_over.is_cancelled());
        // The old connection ending now leaves the seat alone.
        hub.disconnected(Some(room()), &a, &a_line.own).await;
        hub.relay(&room(), &b, None, ServerMessage::Pong)
            .await
            .expect("a is still in the room");
        assert_eq!(a2_line.queued(), vec![ServerMessage::Pong]);
        tokio::time::sleep(GRACE * 2).await;
        assert_eq!(b_line.queued(), vec![], "b never hears of it");
    }
}
