//! The chat log as the page shows it: messages and transfers, in order, as signals the session
//! writes and the chat component reads.
//!
//! A transfer's progress, speed and state are signals of their own, so a moving file re-renders
//! its own element and not the whole log. They are `Arc` signals, owned by the log entry: an
//! entry made in a browser callback (no reactive owner there) is freed with the log.

use std::sync::atomic::{AtomicU64, Ordering};

use leptos::prelude::*;

use crate::call::chat::Author;
use crate::call::transfer::TransferState;

/// A fresh key for a log entry (unique for the page's life).
fn next_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Names one transfer for a cancel: the call it belongs to, its direction and its id (in the
/// sender's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferHandle {
    pub(super) generation: u64,
    pub(super) from: Author,
    pub(super) id: u32,
}

/// One transfer as shown.
#[derive(Debug, Clone)]
pub struct TransferView {
    pub handle: TransferHandle,
    /// Whose file it is: `Me` sending, `Them` receiving.
    pub from: Author,
    pub name: String,
    pub size: u64,
    /// Bytes sent or received so far (updated a few times a second).
    pub done: ArcRwSignal<u64>,
    /// Bytes per second, once measured.
    pub speed: ArcRwSignal<Option<f64>>,
    pub state: ArcRwSignal<TransferState>,
}

impl TransferView {
    pub(super) fn new(handle: TransferHandle, name: String, size: u64) -> Self {
        Self {
            handle,
            from: handle.from,
            name,
            size,
            done: ArcRwSignal::new(0),
            speed: ArcRwSignal::new(None),
            state: ArcRwSignal::new(TransferState::Waiting),
        }
    }
}

/// One entry of `#chat-log`.
#[derive(Debug, Clone)]
pub enum LogEntry {
    Message {
        key: u64,
        from: Author,
        /// Who sent it, for a message from someone else (`data-peer` on the page).
        peer: Option<shared::PeerId>,
        text: String,
    },
    Transfer {
        key: u64,
        view: TransferView,
    },
}

impl LogEntry {
    pub(super) fn message(from: Author, text: String) -> Self {
        Self::Message {
            key: next_key(),
            from,
            peer: None,
            text,
        }
    }

    /// A message from `peer`.
    pub(super) fn message_from(peer: shared::PeerId, text: String) -> Self {
        Self::Message {
            key: next_key(),
            from: Author::Them,
            peer: Some(peer),
            text,
        }
    }

    pub(super) fn transfer(view: TransferView) -> Self {
        Self::Transfer {
            key: next_key(),
            view,
        }
    }

    /// The entry's key for keyed rendering.
    pub fn key(&self) -> u64 {
        match self {
            Self::Message { key, .. } | Self::Transfer { key, .. } => *key,
        }
    }
}

/// The chat's signals, written by the session. `Copy`: every field is a handle.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChatUi {
    pub(super) log: RwSignal<Vec<LogEntry>>,
    /// Why the last message or file was not sent, as a sentence; `None` after a success.
    pub(super) refusal: RwSignal<Option<String>>,
}

impl ChatUi {
    pub(super) fn new() -> Self {
        Self {
            log: RwSignal::new(Vec::new()),
            refusal: RwSignal::new(None),
        }
    }

    pub(super) fn view(&self) -> ChatView {
        ChatView {
            log: self.log.read_only(),
            refusal: self.refusal.read_only(),
        }
    }

    pub(super) fn push(&self, entry: LogEntry) {
        self.log.update(|log| log.push(entry));
    }
}

/// The chat for the components, read-only.
#[derive(Debug, Clone, Copy)]
pub struct ChatView {
    pub log: ReadSignal<Vec<LogEntry>>,
    pub refusal: ReadSignal<Option<String>>,
}
