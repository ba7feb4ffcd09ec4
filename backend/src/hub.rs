//! The switchboard: presence plus delivery, the one place where joins and leaves notify others.
//!
//! Connection tasks never write to each other's sockets. Each registers a bounded mailbox here;
//! the hub decides (through the room registry) and then delivers with `try_send`. A mailbox that
//! is full belongs to a peer that reads too slowly: it is told to close rather than let anybody
//! wait for it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use shared::{PeerId, RoomName, ServerMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::rooms::{JoinOutcome, Rooms};

/// What the hub keeps of a connection: its mailbox and the switch that closes it.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub messages: mpsc::Sender<ServerMessage>,
    /// Cancelled when the mailbox overflowed: the connection task closes the socket with 1008.
    pub overflowed: CancellationToken,
}

/// Why a relay went nowhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("nobody else is in the room")]
    NoPeer,
    #[error("the addressed peer is not in the room")]
    UnknownPeer,
}

/// Cheap handle shared by every connection task.
#[derive(Debug, Clone)]
pub struct Hub {
    rooms: Rooms,
    capacity: usize,
    /// Mailboxes of the connections of this server. A std mutex: held only for map operations
    /// and `try_send`, never across an `.await`.
    mailboxes: Arc<Mutex<HashMap<PeerId, Mailbox>>>,
}

impl Hub {
    pub fn new(capacity: usize) -> Self {
        Self {
            rooms: Rooms::default(),
            capacity,
            mailboxes: Arc::default(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Makes `peer` reachable. Called once, when its connection opens.
    pub fn register(&self, peer: PeerId, mailbox: Mailbox) {
        self.lock_mailboxes().insert(peer, mailbox);
    }

    /// Forgets `peer`'s mailbox. Called once, when its connection ends (after `leave`).
    pub fn unregister(&self, peer: &PeerId) {
        self.lock_mailboxes().remove(peer);
    }

    /// Puts `peer` in `room` if there is a seat, and tells the others: `peer_joined`, then
    /// `ready` to everyone when the room has just reached two members. The joiner's own
    /// `joined`/`ready` are the caller's to send, from the outcome.
    pub fn join(&self, room: &RoomName, peer: &PeerId) -> JoinOutcome {
        let outcome = self.rooms.join(room, peer, self.capacity);
        if let JoinOutcome::Joined { others } = &outcome {
            for other in others {
                self.deliver(other, ServerMessage::PeerJoined { peer: peer.clone() });
                if others.len() == 1 {
                    self.deliver(other, ServerMessage::Ready { room: room.clone() });
                }
            }
        }
        outcome
    }

    /// Takes `peer` out of `room` and tells the remaining members `peer_left`. The only place a
    /// departure is announced, whatever caused it (leave, close, error, heartbeat timeout).
    pub fn leave(&self, room: &RoomName, peer: &PeerId) {
        for other in self.rooms.leave(room, peer) {
            self.deliver(&other, ServerMessage::PeerLeft { peer: peer.clone() });
        }
    }

    /// Sends a relayed message from `from` to `to`, or to every other member of `room`.
    pub fn relay(
        &self,
        room: &RoomName,
        from: &PeerId,
        to: Option<&PeerId>,
        message: ServerMessage,
    ) -> Result<(), RelayError> {
        let members = self.rooms.members(room);
        let mut recipients = members.iter().filter(|member| *member != from).peekable();
        if recipients.peek().is_none() {
            return Err(RelayError::NoPeer);
        }
        match to {
            Some(to) => {
                if !recipients.any(|member| member == to) {
                    return Err(RelayError::UnknownPeer);
                }
                self.deliver(to, message);
            }
            None => {
                for member in recipients {
                    self.deliver(member, message.clone());
                }
            }
        }
        Ok(())
    }

    /// How many rooms and connections this server holds (for `/healthz`).
    pub fn counts(&self) -> (usize, usize) {
        (self.rooms.len(), self.lock_mailboxes().len())
    }

    /// Queues `message` for `peer` without waiting. A full queue marks the peer as too slow;
    /// an unknown peer (gone between lookup and delivery) is skipped, as its `peer_left` is
    /// on its way.
    fn deliver(&self, peer: &PeerId, message: ServerMessage) {
        let mailboxes = self.lock_mailboxes();
        let Some(mailbox) = mailboxes.get(peer) else {
            return;
        };
        match mailbox.messages.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(%peer, "outgoing queue full: closing a slow connection");
                mailbox.overflowed.cancel();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn lock_mailboxes(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Mailbox>> {
        // Every critical section is a single map operation or `try_send`: nothing can be left
        // half-done by a panic, so a poisoned lock is safe to keep using.
        self.mailboxes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
