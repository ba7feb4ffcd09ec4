//! The call's `RTCDataChannel`s, typed: created negotiated (both sides make the same channel,
//! nothing is signalled for it), their events as a Rust enum.
//!
//! [`DataChannel`] owns a channel and its listeners; [`DataChannel::close`] (also run on
//! drop) closes it and removes the listeners, dropping their closures. The files channel also
//! sends binary chunks and lets the sender wait for its queue to drain
//! ([`DataChannel::drained`]), which is what keeps a big file from piling up in memory.

use std::cell::RefCell;

use futures::channel::oneshot;
use gloo_events::EventListener;
use js_sys::ArrayBuffer;
use shared::{
    DATA_CHANNEL_ID, DATA_CHANNEL_LABEL, FILES_CHANNEL_ID, FILES_CHANNEL_LABEL, PeerMessage,
};
use wasm_bindgen::JsCast;
use web_sys::{
    MessageEvent, RtcDataChannel, RtcDataChannelInit, RtcDataChannelState, RtcDataChannelType,
    RtcPeerConnection,
};

/// Below this many queued bytes the files channel fires `bufferedamountlow` and the sender
/// goes on: low enough to bound memory, high enough that the queue never runs dry on
/// loopback between two reads of the file.
const LOW_WATER_BYTES: u32 = 1024 * 1024;

/// Above this many queued bytes the sender waits for `bufferedamountlow` (Chromium closes a
/// channel whose queue passes 16 MiB).
pub const HIGH_WATER_BYTES: u32 = 4 * 1024 * 1024;

/// The longest wait in [`DataChannel::drained`] before the caller looks at the channel again.
const RECHECK_MS: u32 = 250;

/// What the data channel reports.
#[derive(Debug, Clone)]
pub enum ChannelEvent {
    /// The channel is open: messages can be sent.
    Open,
    /// A text message arrived.
    Text(String),
    /// A binary message arrived (files channel).
    Binary(ArrayBuffer),
    /// The channel closed by itself: the other page closed its peer connection (it hung up,
    /// reloaded or was closed). Never sent for our own [`DataChannel::close`], which removes
    /// the listeners first.
    Closed,
}

/// The call's data channel and its listeners.
#[derive(Debug)]
pub struct DataChannel {
    channel: RtcDataChannel,
    /// Emptied by [`Self::close`].
    listeners: RefCell<Vec<EventListener>>,
}

impl DataChannel {
    /// Creates the negotiated `"app"` channel on `pc` (label and id from `shared`, ordered),
    /// reporting its events to `on_event`.
    pub fn negotiated(pc: &RtcPeerConnection, on_event: impl Fn(ChannelEvent) + 'static) -> Self {
        Self::create(pc, DATA_CHANNEL_LABEL, DATA_CHANNEL_ID, on_event)
    }

    /// Creates the negotiated `"files"` channel on `pc` (ordered, binary as `ArrayBuffer`).
    pub fn files(pc: &RtcPeerConnection, on_event: impl Fn(ChannelEvent) + 'static) -> Self {
        let files = Self::create(pc, FILES_CHANNEL_LABEL, FILES_CHANNEL_ID, on_event);
        files
            .channel
            .set_buffered_amount_low_threshold(LOW_WATER_BYTES);
        files
    }

    fn create(
        pc: &RtcPeerConnection,
        label: &str,
        id: u16,
        on_event: impl Fn(ChannelEvent) + 'static,
    ) -> Self {
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(id);
        init.set_ordered(true);
        let channel = pc.create_data_channel_with_data_channel_dict(label, &init);
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        let on_event = std::rc::Rc::new(on_event);
        let listeners = vec![
            EventListener::new(&channel, "open", {
                let on_event = std::rc::Rc::clone(&on_event);
                move |_| on_event(ChannelEvent::Open)
            }),
            EventListener::new(&channel, "close", {
                let on_event = std::rc::Rc::clone(&on_event);
                move |_| on_event(ChannelEvent::Closed)
            }),
            EventListener::new(&channel, "message", move |event| {
                let Some(data) = event.dyn_ref::<MessageEvent>().map(MessageEvent::data) else {
                    return;
                };
                if let Some(text) = data.as_string() {
                    on_event(ChannelEvent::Text(text));
                } else if let Ok(bytes) = data.dyn_into::<ArrayBuffer>() {
                    on_event(ChannelEvent::Binary(bytes));
                }
            }),
        ];
        Self {
            channel,
            listeners: RefCell::new(listeners),
        }
    }

    /// Whether messages can be sent.
    pub fn is_open(&self) -> bool {
        self.channel.ready_state() == RtcDataChannelState::Open
    }

    /// Whether the channel is closing or closed (the other side closed its connection, or
    /// this side did): nothing will go on it again.
    pub fn is_closed(&self) -> bool {
        matches!(
            self.channel.ready_state(),
            RtcDataChannelState::Closing | RtcDataChannelState::Closed
        )
    }

    /// Sends `message` if the channel is open; returns whether it went.
    pub fn send(&self, message: &PeerMessage) -> bool {
        if !self.is_open() {
            return false;
        }
        match self.channel.send_with_str(&message.to_json()) {
            Ok(()) => true,
            Err(error) => {
                super::warn("could not send on the data channel", &error);
                false
            }
        }
    }

    /// Sends one binary message if the channel is open; returns whether it went.
    pub fn send_bytes(&self, bytes: &[u8]) -> bool {
        if !self.is_open() {
            return false;
        }
        match self.channel.send_with_u8_array(bytes) {
            Ok(()) => true,
            Err(error) => {
                super::warn("could not send on the data channel", &error);
                false
            }
        }
    }

    /// Bytes queued to send.
    pub fn buffered_amount(&self) -> u32 {
        self.channel.buffered_amount()
    }

    /// Resolves once the queue is at or below the low-water mark (`bufferedamountlow`), or
    /// the channel is no longer open (the caller then finds it closed).
    pub async fn drained(&self) {
        let (done, wait) = oneshot::channel::<()>();
        let done = std::rc::Rc::new(RefCell::new(Some(done)));
        let fire = move || {
            if let Some(done) = done.borrow_mut().take() {
                let _ = done.send(());
            }
        };
        let _listeners = [
            EventListener::once(&self.channel, "bufferedamountlow", {
                let fire = fire.clone();
                move |_| fire()
            }),
            EventListener::once(&self.channel, "close", {
                let fire = fire.clone();
                move |_| fire()
            }),
        ];
        // Checked after listening, so a drain in between is not missed.
        if !self.is_open() || self.channel.buffered_amount() <= LOW_WATER_BYTES {
            return;
        }
        // Closing the peer connection closes its channels without a `close` event: never
        // wait long without looking again.
        let recheck = gloo_timers::future::TimeoutFuture::new(RECHECK_MS);
        futures::future::select(wait, recheck).await;
    }

    /// Closes the channel and removes its listeners. Idempotent.
    pub fn close(&self) {
        self.listeners.borrow_mut().clear();
        self.channel.close();
    }
}

impl Drop for DataChannel {
    fn drop(&mut self) {
        self.close();
    }
}
