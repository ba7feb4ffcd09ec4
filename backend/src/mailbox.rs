//! Mailboxes: the bounded queue through which anything reaches one connection of this instance.
//!
//! Connection tasks never write to each other's sockets. Each registers a [`Mailbox`] here when
//! it opens; whoever has a message for it (the hub announcing, a relay, the Redis subscriber
//! handing over what another instance published) queues it with `try_send`. A mailbox that is
//! full belongs to a peer that reads too slowly: it is told to close rather than let anybody
//! wait for it.
//!
//! What a mailbox holds is the message already serialised ([`Frame`]): a relay is written once
//! by the sender's task, and the recipient's task only copies the bytes into its socket.
//!
//! This module does not decide who gets what (that is [`crate::hub`]) and does not know rooms.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::extract::ws::Utf8Bytes;
use shared::{PeerId, ServerMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One message for a connection, serialised: the text of its WebSocket frame. Cheap to clone
/// (shared bytes), and a queue slot of 32 bytes, where a `ServerMessage` takes over a hundred:
/// the queue allocates its slots in blocks of 32, one block per connection even when idle.
pub type Frame = Utf8Bytes;

/// `message` as the text of its frame.
pub fn frame(message: &ServerMessage) -> Frame {
    serde_json::to_string(message)
        .expect("server messages always serialize")
        .into()
}

/// What is kept of a connection: its queue and the switches that close it.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub messages: mpsc::Sender<Frame>,
    /// Cancelled when the mailbox overflowed: the connection task closes the socket with 1008.
    pub overflowed: CancellationToken,
    /// Cancelled when a newer connection resumed this one's seat (its mailbox replaced this
    /// one): the connection task closes the socket with 4001 and leaves nothing, since the
    /// seat is not its own any more.
    pub taken_over: CancellationToken,
}

impl Mailbox {
    /// Whether `self` and `other` are the same connection's mailbox.
    fn same(&self, other: &mpsc::Sender<Frame>) -> bool {
        self.messages.same_channel(other)
    }
}

/// The mailboxes of this instance's connections. A std mutex: held only for map operations
/// and `try_send`, never across an `.await`.
#[derive(Debug, Clone, Default)]
pub struct Mailboxes {
    inner: Arc<Mutex<HashMap<PeerId, Mailbox>>>,
}

impl Mailboxes {
    /// Makes `peer` reachable.
    pub fn insert(&self, peer: PeerId, mailbox: Mailbox) {
        self.lock().insert(peer, mailbox);
    }

    /// Forgets `peer`'s mailbox.
    pub fn remove(&self, peer: &PeerId) {
        self.lock().remove(peer);
    }

    /// Forgets `peer`'s mailbox if it is still the one whose queue is `own`; says whether it
    /// was. A connection whose seat was resumed by a newer one finds the newer one's mailbox
    /// there, and must leave it alone.
    pub fn remove_own(&self, peer: &PeerId, own: &mpsc::Sender<Frame>) -> bool {
        let mut mailboxes = self.lock();
        match mailboxes.get(peer) {
            Some(mailbox) if mailbox.same(own) => {
                mailboxes.remove(peer);
                true
            }
            _ => false,
        }
    }

    /// Whether `peer`'s mailbox is still the one whose queue is `own`.
    pub fn owns(&self, peer: &PeerId, own: &mpsc::Sender<Frame>) -> bool {
        self.lock()
            .get(peer)
            .is_some_and(|mailbox| mailbox.same(own))
    }

    /// Whether a connection of this instance holds `peer`.
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.lock().contains_key(peer)
    }

    /// Moves the mailbox of the connection known as `from` to `to` (the id it takes back by a
    /// resume), in one step. A connection still holding `to` is displaced: told it was taken
    /// over, so it closes with 4001.
    pub fn rename(&self, from: &PeerId, to: &PeerId) {
        if from == to {
            return;
        }
        let mut mailboxes = self.lock();
        if let Some(mailbox) = mailboxes.remove(from)
            && let Some(displaced) = mailboxes.insert(to.clone(), mailbox)
        {
            displaced.taken_over.cancel();
        }
    }

    /// Closes the connection holding `peer` here, if any, because the seat moved to a
    /// connection on another instance: it closes with 4001 and leaves nothing.
    pub fn take_over(&self, peer: &PeerId) {
        if let Some(displaced) = self.lock().remove(peer) {
            displaced.taken_over.cancel();
        }
    }

    /// How many connections are reachable.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `message` for `peer` without waiting (see [`Self::deliver_frame`]).
    pub fn deliver(&self, peer: &PeerId, message: ServerMessage) {
        self.deliver_frame(peer, frame(&message));
    }

    /// Queues `frame` for `peer` without waiting. A full queue marks the peer as too slow;
    /// an unknown peer (gone between lookup and delivery) is skipped, as its `peer_left` is
    /// on its way.
    pub fn deliver_frame(&self, peer: &PeerId, frame: Frame) {
        let mailboxes = self.lock();
        let Some(mailbox) = mailboxes.get(peer) else {
            return;
        };
        match mailbox.messages.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                // Counted and logged once per connection: more may come before it closes.
                if !mailbox.overflowed.is_cancelled() {
                    tracing::warn!(%peer, "outgoing queue full: closing a slow connection");
                    crate::metrics::queue_overflowed();
                    mailbox.overflowed.cancel();
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Mailbox>> {
        // Every critical section is a single map operation or `try_send`: nothing can be left
        // half-done by a panic, so a poisoned lock is safe to keep using.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
