//! The signalling WebSocket, speaking the `shared` protocol types.
//!
//! [`SignallingSocket::connect`] opens a `web_sys::WebSocket` directly (no wrapper crate: a
//! thinner bundle). Its listeners only forward what happens into a channel; one task reads
//! that channel and calls `on_event`, so the session never runs inside a socket listener and
//! may drop the handle from `on_event`. Messages sent while the socket opens wait in a short
//! queue that the `open` listener flushes in order. Dropping the handle aborts the task, removes
//! the listeners and closes the socket. Reconnecting is not this module's job: it reports
//! [`SocketEvent::Closed`] once, and the session decides when to try again.

use std::cell::RefCell;
use std::rc::Rc;

use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::{AbortHandle, Abortable};
use shared::{ClientMessage, ServerMessage};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// Messages queued while the socket opens. A page sends a handful per call; more than this
/// waiting means the socket is stuck, and dropping is better than growing.
const OUTGOING_QUEUE: usize = 64;

/// The browser's close code for "closed without a close frame" (a failure, not the server).
const CLOSED_ABNORMALLY: u16 = 1006;

/// What the socket reports.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketEvent {
    /// A message from the server.
    Message(ServerMessage),
    /// The socket closed or failed; reported once, and only if the handle is still alive.
    /// `code` is the close frame's code when the server closed it (4001: another connection
    /// took this one's seat), `None` when it failed or ended without one.
    Closed { code: Option<u16> },
}

/// What a listener hands to the task: a text frame, or the end.
enum Incoming {
    Text(String),
    Closed(u16),
}

/// A live signalling connection. Dropping it closes the socket without reporting `Closed`.
#[derive(Debug)]
pub struct SignallingSocket {
    socket: WebSocket,
    /// Frames sent before the socket opened, flushed in order by the `open` listener.
    waiting: Rc<RefCell<Vec<String>>>,
    task: AbortHandle,
    /// The listeners; kept alive as long as the handle, released (after being unset) on drop.
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl SignallingSocket {
    /// Opens the socket at `url`; `on_event` hears its messages and its closing.
    pub fn connect(url: &str, on_event: impl Fn(SocketEvent) + 'static) -> Result<Self, JsValue> {
        let socket = WebSocket::new(url)?;
        let waiting = Rc::new(RefCell::new(Vec::<String>::new()));
        let (incoming, mut events) = mpsc::unbounded::<Incoming>();

        let on_open = {
            let (socket, waiting) = (socket.clone(), Rc::clone(&waiting));
            Closure::<dyn FnMut()>::new(move || {
                for text in waiting.borrow_mut().drain(..) {
                    // A failure here is followed by the close event, which reports it.
                    let _ = socket.send_with_str(&text);
                }
            })
        };
        let on_message = {
            let incoming = incoming.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                // The protocol is text only: binary frames are ignored.
                if let Some(text) = event.data().as_string() {
                    let _ = incoming.unbounded_send(Incoming::Text(text));
                }
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            let _ = incoming.unbounded_send(Incoming::Closed(event.code()));
        });
        // An `error` event needs no listener: the browser always follows it with `close`.
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));

        let (task, registration) = AbortHandle::new_pair();
        let run = async move {
            while let Some(event) = events.next().await {
                match event {
                    Incoming::Text(text) => match serde_json::from_str::<ServerMessage>(&text) {
                        Ok(message) => on_event(SocketEvent::Message(message)),
                        Err(error) => super::warn(
                            "ignoring an unreadable server message",
                            &JsValue::from_str(&format!("{error}: {text}")),
                        ),
                    },
                    Incoming::Closed(code) => {
                        on_event(SocketEvent::Closed {
                            code: (code != CLOSED_ABNORMALLY).then_some(code),
                        });
                        return;
                    }
                }
            }
        };
        wasm_bindgen_futures::spawn_local(async move {
            let _aborted_or_done = Abortable::new(run, registration).await;
        });
        Ok(Self {
            socket,
            waiting,
            task,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Queues a message (sent at once when the socket is open). Returns false when it was
    /// dropped: the queue is full, or the socket is closing or closed.
    pub fn send(&self, message: &ClientMessage) -> bool {
        let text = serde_json::to_string(message).expect("protocol types always serialize");
        let mut waiting = self.waiting.borrow_mut();
        match self.socket.ready_state() {
            WebSocket::CONNECTING if waiting.len() < OUTGOING_QUEUE => {
                waiting.push(text);
                true
            }
            WebSocket::OPEN => self.socket.send_with_str(&text).is_ok(),
            _ => false,
        }
    }
}

impl Drop for SignallingSocket {
    fn drop(&mut self) {
        self.task.abort();
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        // Already closing or closed is fine: there is nothing else to do.
        let _ = self.socket.close();
    }
}
