//! Mailboxes: the bounded queue through which anything reaches one connection of this instance.
//!
//! Connection tasks never write to each other's sockets. Each registers a [`Mailbox`] here when
//! it opens; whoever has a message for it (the hub announcing, a relay, the Redis subscriber
//! handing over what another instance published) queues it with `try_send`. A mailbox that is
//! full belongs to a peer that reads too slowly: it is told to close rather than let anybody
//! wait for it.
//!
//! This module does not decide who gets what (that is [`crate::hub`]) and does not know rooms.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use shared::{PeerId, ServerMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What is kept of a connection: its queue and the switch that closes it.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub messages: mpsc::Sender<ServerMessage>,
    /// Cancelled when the mailbox overflowed: the connection task closes the socket with 1008.
    pub overflowed: CancellationToken,
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

    /// How many connections are reachable.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `message` for `peer` without waiting. A full queue marks the peer as too slow;
    /// an unknown peer (gone between lookup and delivery) is skipped, as its `peer_left` is
    /// on its way.
    pub fn deliver(&self, peer: &PeerId, message: ServerMessage) {
        let mailboxes = self.lock();
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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, Mailbox>> {
        // Every critical section is a single map operation or `try_send`: nothing can be left
        // half-done by a panic, so a poisoned lock is safe to keep using.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
