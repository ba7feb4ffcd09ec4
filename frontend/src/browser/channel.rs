//! The call's `RTCDataChannel`, typed: created negotiated (both sides make the same channel,
//! nothing is signalled for it), its events as a Rust enum.
//!
//! [`DataChannel`] owns the channel and its listeners; [`DataChannel::close`] (also run on
//! drop) closes it and removes the listeners, dropping their closures.

use std::cell::RefCell;

use gloo_events::EventListener;
use shared::{DATA_CHANNEL_ID, DATA_CHANNEL_LABEL, PeerMessage};
use wasm_bindgen::JsCast;
use web_sys::{
    MessageEvent, RtcDataChannel, RtcDataChannelInit, RtcDataChannelState, RtcPeerConnection,
};

/// What the data channel reports.
#[derive(Debug, Clone)]
pub enum ChannelEvent {
    /// The channel is open: messages can be sent.
    Open,
    /// A text message arrived (binary ones are not reported).
    Text(String),
}

/// The call's data channel and its listeners.
#[derive(Debug)]
pub struct DataChannel {
    channel: RtcDataChannel,
    /// Emptied by [`Self::close`].
    listeners: RefCell<Vec<EventListener>>,
}

impl DataChannel {
    /// Creates the negotiated channel on `pc` (label and id from `shared`, ordered), reporting
    /// its events to `on_event`.
    pub fn negotiated(pc: &RtcPeerConnection, on_event: impl Fn(ChannelEvent) + 'static) -> Self {
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(DATA_CHANNEL_ID);
        init.set_ordered(true);
        let channel = pc.create_data_channel_with_data_channel_dict(DATA_CHANNEL_LABEL, &init);
        let on_event = std::rc::Rc::new(on_event);
        let listeners = vec![
            EventListener::new(&channel, "open", {
                let on_event = std::rc::Rc::clone(&on_event);
                move |_| on_event(ChannelEvent::Open)
            }),
            EventListener::new(&channel, "message", move |event| {
                if let Some(text) = event
                    .dyn_ref::<MessageEvent>()
                    .and_then(|event| event.data().as_string())
                {
                    on_event(ChannelEvent::Text(text));
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
