//! Chat and files in a call: the `impl Session` that sends what the person typed or picked,
//! takes in what the other side sends, and keeps the chat log up to date.
//!
//! Chat goes on the call's `"app"` channel; files on its `"files"` channel ([`CallFiles`]),
//! one at a time, read by slices of [`READ_SLICE_BYTES`] and sent in chunks while the
//! channel's queue is under [`HIGH_WATER_BYTES`]. What arrives is checked by
//! [`crate::call::chat`] and [`crate::call::transfer`] before anything is shown; the bytes of a
//! received file go into Blobs ([`BlobSink`]) and are hashed on the way.
//!
//! The sending task holds only a `Weak` session and looks the transfer up again after every
//! await, so a cancel (from either side) or the end of the call stops it at the next chunk.

use std::rc::Rc;

use leptos::prelude::*;

use sha2::{Digest, Sha256};
use shared::{CHUNK_HEADER_BYTES, MAX_CHUNK_PAYLOAD, PeerMessage, TransferSide};
use wasm_bindgen_futures::spawn_local;
use web_sys::File;

use super::Session;
use super::call::CallKey;
use super::chat_ui::{LogEntry, TransferHandle, TransferView};
use crate::browser::channel::{ChannelEvent, DataChannel, HIGH_WATER_BYTES};
use crate::browser::files::{BlobSink, ObjectUrl, chunk_header, chunk_payload, read_slice};
use crate::call::chat::{Author, ChatRefusal, ChatText};
use crate::call::transfer::{
    Incomings, OfferError, Outgoings, READ_SLICE_BYTES, ReceiveError, SpeedMeter, TransferState,
    chunk_id, encode_chunk, hex_digest,
};

/// How often a moving transfer's progress and speed are shown (ms): often enough to look
/// live, rarely enough that thousands of chunks a second do not re-render thousands of times.
const SHOW_EVERY_MS: f64 = 150.0;

/// The files side of one call: its channel and the transfers each way.
pub(super) struct CallFiles {
    channel: Rc<DataChannel>,
    outgoing: Outgoings<Sending>,
    incoming: Incomings<Receiving>,
    /// True while a task sends the outgoing files (at most one per call).
    pumping: bool,
}

/// A file being sent.
struct Sending {
    file: File,
    view: TransferView,
}

/// A file being received.
struct Receiving {
    sink: BlobSink,
    view: TransferView,
    shown: Shown,
}

/// Throttles what a moving transfer shows.
#[derive(Default)]
struct Shown {
    meter: SpeedMeter,
    at_ms: f64,
}

impl Shown {
    /// Shows `done` bytes on `view` if the last showing is old enough (or `force`).
    fn update(&mut self, view: &TransferView, done: u64, force: bool) {
        let now = js_sys::Date::now();
        if !force && now - self.at_ms < SHOW_EVERY_MS {
            return;
        }
        self.at_ms = now;
        let speed = self.meter.sample(now, done);
        view.done.set(done);
        if speed.is_some() {
            view.speed.set(speed);
        }
    }
}

impl CallFiles {
    pub(super) fn new(channel: DataChannel) -> Self {
        Self {
            channel: Rc::new(channel),
            outgoing: Outgoings::default(),
            incoming: Incomings::default(),
            pumping: false,
        }
    }

    /// Closes the channel; every transfer still on its way is interrupted.
    pub(super) fn close(&mut self) {
        self.channel.close();
        let views = self
            .outgoing
            .drain()
            .into_iter()
            .map(|sending| sending.view)
            .chain(self.incoming.drain().into_iter().map(|r| r.view));
        for view in views {
            view.state.set(TransferState::Interrupted);
        }
    }
}

impl Session {
    /// Sends a chat message to everybody in the call (each call's channel); the refusal (also
    /// shown) if it reaches nobody.
    pub fn send_chat(&self, text: &str) -> Result<(), ChatRefusal> {
        let sent = ChatText::new(text)
            .map_err(ChatRefusal::Text)
            .and_then(|text| {
                let state = self.state.borrow();
                let message = PeerMessage::chat(text.as_str());
                let reached = state
                    .calls
                    .values()
                    .filter(|call| call.channel().is_open())
                    .filter(|call| call.channel().send(&message))
                    .count();
                if reached > 0 {
                    Ok(text)
                } else {
                    Err(ChatRefusal::NotConnected)
                }
            });
        match sent {
            Ok(text) => {
                self.ui.chat.refusal.set(None);
                self.ui
                    .chat
                    .push(LogEntry::message(Author::Me, text.into_string()));
                Ok(())
            }
            Err(refusal) => {
                self.ui.chat.refusal.set(Some(refusal.to_string()));
                Err(refusal)
            }
        }
    }

    /// Offers `files` to everybody in the call and sends them, one after another on each call
    /// (each receiver has its own transfer, with its own progress and Cancel).
    pub fn send_files(&self, files: Vec<File>) {
        if files.is_empty() {
            return;
        }
        let open: Vec<u64> = self
            .state
            .borrow()
            .calls
            .values()
            .filter(|call| call.files.channel.is_open())
            .map(|call| call.generation())
            .collect();
        if open.is_empty() {
            self.ui.chat.refusal.set(Some(
                "The files were not sent because the call is not connected: pick them again \
                 once it is."
                    .to_owned(),
            ));
            return;
        }
        let mut refusal = None;
        for generation in open {
            refusal = self.send_files_on(generation, &files).or(refusal);
        }
        self.ui.chat.refusal.set(refusal);
    }

    /// Offers `files` on the call `generation` and starts sending; why one was refused, if so.
    fn send_files_on(&self, generation: u64, files: &[File]) -> Option<String> {
        let mut state = self.state.borrow_mut();
        let call = state
            .calls
            .values_mut()
            .find(|call| call.generation() == generation)?;
        let key = call.key_for_files();
        let files_side = &mut call.files;
        let mut refusal = None;
        for file in files {
            let size = file.size() as u64;
            let name = file.name();
            let added = files_side.outgoing.add(|id| Sending {
                file: file.clone(),
                view: TransferView::new(
                    TransferHandle {
                        generation,
                        from: Author::Me,
                        id,
                    },
                    name.clone(),
                    size,
                ),
            });
            match added {
                Ok(id) => {
                    files_side
                        .channel
                        .send(&PeerMessage::file_offer(id, name, size));
                    if let Some(sending) = files_side.outgoing.get(id) {
                        self.ui.chat.push(LogEntry::transfer(sending.view.clone()));
                    }
                }
                Err(too_many) => refusal = Some(format!("“{name}” was not sent. {too_many}")),
            }
        }
        let start = !std::mem::replace(&mut files_side.pumping, true);
        drop(state);
        if start {
            self.pump_files(key);
        }
        refusal
    }

    /// Cancels a transfer from this side and tells the other side.
    pub fn cancel_transfer(&self, handle: TransferHandle) {
        let state = &mut *self.state.borrow_mut();
        let Some(call) = state
            .calls
            .values_mut()
            .find(|call| call.generation() == handle.generation)
        else {
            return;
        };
        let files = &mut call.files;
        let (view, by) = match handle.from {
            Author::Me => (
                files.outgoing.remove(handle.id).map(|s| s.view),
                TransferSide::Sender,
            ),
            Author::Them => (
                files.incoming.remove(handle.id).map(|(_, r)| r.view),
                TransferSide::Receiver,
            ),
        };
        if let Some(view) = view {
            files.channel.send(&PeerMessage::file_cancel(handle.id, by));
            view.state.set(TransferState::Cancelled(Author::Me));
        }
    }

    /// Something arrived on the files channel.
    pub(super) fn on_files_event(&self, key: &CallKey, event: ChannelEvent) {
        match event {
            ChannelEvent::Open => {}
            ChannelEvent::Text(text) => {
                if let Some(message) = PeerMessage::parse(&text) {
                    self.on_chat_message(key, message);
                }
            }
            ChannelEvent::Binary(chunk) => self.on_chunk(key, &chunk),
            // The "app" channel closes with it and ends the call: that is where it is handled.
            ChannelEvent::Closed => {}
        }
    }

    /// A chat or file message from the other side (a state message is not handled here).
    pub(super) fn on_chat_message(&self, key: &CallKey, message: PeerMessage) {
        match message {
            PeerMessage::State { .. } => {}
            PeerMessage::Hello { peer, .. } => self.on_hello(key, peer),
            PeerMessage::Chat { text, .. } => {
                // Only while the call runs, and only text within the rules.
                if let Some(from) = self.with_call(key, |call, _| call.other().clone())
                    && let Ok(text) = ChatText::new(text)
                {
                    self.ui
                        .chat
                        .push(LogEntry::message_from(from, text.into_string()));
                }
            }
            PeerMessage::FileOffer { id, name, size, .. } => self.on_offer(key, id, &name, size),
            PeerMessage::FileDone { id, sha256, .. } => self.on_done(key, id, &sha256),
            PeerMessage::FileCancel { id, by, .. } => {
                let view = self.with_call(key, |call, _| match by {
                    TransferSide::Sender => call.files.incoming.remove(id).map(|(_, r)| r.view),
                    TransferSide::Receiver => call.files.outgoing.remove(id).map(|s| s.view),
                });
                if let Some(view) = view.flatten() {
                    view.state.set(TransferState::Cancelled(Author::Them));
                }
            }
        }
    }

    fn on_offer(&self, key: &CallKey, id: u32, name: &str, size: u64) {
        let handle = TransferHandle {
            generation: key.generation(),
            from: Author::Them,
            id,
        };
        let Some(offered) = self.with_call(key, |call, _| {
            let offered = call.files.incoming.offer(id, name, size, |name| Receiving {
                sink: BlobSink::default(),
                view: TransferView::new(handle, name.to_owned(), size),
                shown: Shown::default(),
            });
            match offered {
                Ok(_) => Ok(call
                    .files
                    .incoming
                    .get_mut(id)
                    .map(|(_, receiving)| receiving.view.clone())),
                Err(error) => {
                    // A reused id names a file the other side is still sending: refusing it
                    // with a cancel would cancel that one.
                    if error != OfferError::DuplicateId {
                        call.files
                            .channel
                            .send(&PeerMessage::file_cancel(id, TransferSide::Receiver));
                    }
                    Err(error)
                }
            }
        }) else {
            return;
        };
        match offered {
            Ok(Some(view)) => self.ui.chat.push(LogEntry::transfer(view)),
            Ok(None) => {}
            Err(error) => {
                let shown_name = crate::call::transfer::safe_name(name)
                    .unwrap_or_else(|_| "(a file with an invalid name)".to_owned());
                let view = TransferView::new(handle, shown_name, size);
                view.state.set(TransferState::Refused(error));
                self.ui.chat.push(LogEntry::transfer(view));
            }
        }
    }

    fn on_chunk(&self, key: &CallKey, chunk: &js_sys::ArrayBuffer) {
        let (header, len) = chunk_header::<CHUNK_HEADER_BYTES>(chunk);
        let Some(id) = header.and_then(|header| chunk_id(header, len)) else {
            return;
        };
        self.with_call(key, |call, _| {
            let files = &mut call.files;
            // A chunk of a cancelled or unknown transfer is dropped.
            let Some((incoming, receiving)) = files.incoming.get_mut(id) else {
                return;
            };
            let (view, bytes) = chunk_payload(chunk, CHUNK_HEADER_BYTES);
            let pushed = incoming.push(&bytes);
            let stored = pushed.is_ok() && receiving.sink.push(&view).is_ok();
            if !stored {
                let failed = files.incoming.remove(id).map(|(_, r)| r.view);
                files
                    .channel
                    .send(&PeerMessage::file_cancel(id, TransferSide::Receiver));
                if let Some(view) = failed {
                    view.state
                        .set(TransferState::Damaged(ReceiveError::Overflow));
                }
                return;
            }
            let done = incoming.received();
            if receiving.view.state.get_untracked() == TransferState::Waiting {
                receiving.view.state.set(TransferState::Moving);
            }
            receiving.shown.update(&receiving.view, done, false);
        });
    }

    fn on_done(&self, key: &CallKey, id: u32, announced: &str) {
        let Some(Some((incoming, receiving))) =
            self.with_call(key, |call, _| call.files.incoming.remove(id))
        else {
            return;
        };
        let Receiving {
            sink,
            view,
            mut shown,
        } = receiving;
        shown.update(&view, incoming.received(), true);
        let state = match incoming.finish(announced) {
            Ok(sha256) => match sink.finish() {
                Ok(url) => {
                    let state = TransferState::Received {
                        url: url.as_str().to_owned(),
                        sha256,
                    };
                    self.keep_url(url);
                    state
                }
                Err(error) => {
                    crate::browser::warn("could not assemble a received file", &error);
                    TransferState::Damaged(ReceiveError::Short)
                }
            },
            Err(error) => TransferState::Damaged(error),
        };
        view.state.set(state);
    }

    /// Keeps a received file's URL valid until the page is left.
    fn keep_url(&self, url: ObjectUrl) {
        self.state.borrow_mut().saved_files.push(url);
    }

    /// Sends the call's outgoing files, oldest first, until none is left.
    fn pump_files(&self, key: CallKey) {
        let this = self.this.clone();
        spawn_local(async move {
            loop {
                let Some(session) = this.upgrade() else {
                    return;
                };
                let next = session
                    .with_call(&key, |call, _| {
                        let files = &mut call.files;
                        let next = files.outgoing.first().map(|(id, sending)| {
                            (
                                id,
                                sending.file.clone(),
                                sending.view.clone(),
                                Rc::clone(&files.channel),
                            )
                        });
                        if next.is_none() {
                            files.pumping = false;
                        }
                        next
                    })
                    .flatten();
                drop(session);
                let Some((id, file, view, channel)) = next else {
                    return;
                };
                send_file(&this, &key, id, &file, &view, &channel).await;
            }
        });
    }

    /// Whether the outgoing transfer `id` of call `key` is still on its way.
    fn still_sending(&self, key: &CallKey, id: u32) -> bool {
        self.with_call(key, |call, _| call.files.outgoing.get(id).is_some())
            .unwrap_or(false)
    }
}

/// Sends one file: slices read one at a time, hashed, cut into chunks sent while the queue
/// allows; then `file_done` with the hash. Returns early if the transfer stops meanwhile.
async fn send_file(
    session: &std::rc::Weak<Session>,
    key: &CallKey,
    id: u32,
    file: &File,
    view: &TransferView,
    channel: &DataChannel,
) {
    let alive = || {
        session
            .upgrade()
            .is_some_and(|session| session.still_sending(key, id))
    };
    let size = file.size() as u64;
    let mut hasher = Sha256::new();
    let mut shown = Shown::default();
    let mut chunk = Vec::with_capacity(shared::MAX_CHUNK_BYTES);
    let mut offset = 0;
    view.state.set(TransferState::Moving);
    while offset < size {
        let end = (offset + READ_SLICE_BYTES).min(size);
        let bytes = match read_slice(file, offset, end).await {
            Ok(bytes) => bytes,
            Err(error) => {
                crate::browser::warn("could not read a file to send", &error);
                if alive() {
                    stop_sending(session, key, id, TransferState::Unreadable);
                }
                return;
            }
        };
        hasher.update(&bytes);
        for piece in bytes.chunks(MAX_CHUNK_PAYLOAD) {
            while channel.buffered_amount() > HIGH_WATER_BYTES && channel.is_open() {
                channel.drained().await;
            }
            if !alive() {
                return;
            }
            encode_chunk(id, piece, &mut chunk);
            if !channel.send_bytes(&chunk) {
                // The channel closed: the call is ending, which interrupts the transfer.
                return;
            }
        }
        offset = end;
        shown.update(view, offset, offset == size);
    }
    if !alive() {
        return;
    }
    channel.send(&PeerMessage::file_done(id, hex_digest(hasher)));
    if let Some(session) = session.upgrade() {
        session.with_call(key, |call, _| call.files.outgoing.remove(id));
    }
    view.done.set(size);
    view.state.set(TransferState::Sent);
}

/// Ends an outgoing transfer that cannot go on, telling the other side.
fn stop_sending(session: &std::rc::Weak<Session>, key: &CallKey, id: u32, state: TransferState) {
    let Some(session) = session.upgrade() else {
        return;
    };
    let view = session
        .with_call(key, |call, _| {
            call.files
                .channel
                .send(&PeerMessage::file_cancel(id, TransferSide::Sender));
            call.files.outgoing.remove(id).map(|s| s.view)
        })
        .flatten();
    if let Some(view) = view {
        view.state.set(state);
    }
}
