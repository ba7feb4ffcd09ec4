//! The signalling WebSocket, speaking the `shared` protocol types.
//!
//! [`SignallingSocket::connect`] opens the socket and runs one task that writes queued
//! [`ClientMessage`]s and reads [`ServerMessage`]s. Dropping the handle aborts the task, which
//! drops (and so closes) the socket. Reconnecting is not this module's job: it reports
//! [`SocketEvent::Closed`] once, and the session decides when to try again.

use std::cell::RefCell;

use futures::channel::mpsc;
use futures::future::{AbortHandle, Abortable, select};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use shared::{ClientMessage, ServerMessage};
use wasm_bindgen::JsValue;

/// Messages queued while the socket opens or is busy. A page sends a handful per call; more
/// than this waiting means the socket is stuck, and dropping is better than growing.
const OUTGOING_QUEUE: usize = 64;

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

/// A live signalling connection. Dropping it closes the socket without reporting `Closed`.
#[derive(Debug)]
pub struct SignallingSocket {
    outgoing: RefCell<mpsc::Sender<String>>,
    task: AbortHandle,
}

impl SignallingSocket {
    /// Opens the socket at `url`; `on_event` hears its messages and its closing.
    pub fn connect(url: &str, on_event: impl Fn(SocketEvent) + 'static) -> Result<Self, JsValue> {
        let socket = WebSocket::open(url).map_err(|error| JsValue::from_str(&error.to_string()))?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queued) = mpsc::channel::<String>(OUTGOING_QUEUE);

        let (task, registration) = AbortHandle::new_pair();
        let run = async move {
            let writer = async {
                // The sink waits for the socket to open before the first frame goes out.
                while let Some(text) = queued.next().await {
                    if sink.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
            };
            let close_code = std::cell::Cell::new(None);
            let reader = async {
                while let Some(frame) = stream.next().await {
                    match frame {
                        Ok(Message::Text(text)) => {
                            match serde_json::from_str::<ServerMessage>(&text) {
                                Ok(message) => on_event(SocketEvent::Message(message)),
                                Err(error) => super::warn(
                                    "ignoring an unreadable server message",
                                    &JsValue::from_str(&format!("{error}: {text}")),
                                ),
                            }
                        }
                        // The protocol is text only; an error event is followed by the close.
                        Ok(Message::Bytes(_)) | Err(WebSocketError::ConnectionError) => {}
                        Err(WebSocketError::ConnectionClose(event)) => {
                            // 1006 is the browser's "closed without a close frame".
                            close_code.set((event.code != 1006).then_some(event.code));
                            break;
                        }
                        Err(_) => break,
                    }
                }
            };
            // Either half ending means the connection is over.
            let _finished = select(std::pin::pin!(reader), std::pin::pin!(writer)).await;
            on_event(SocketEvent::Closed {
                code: close_code.get(),
            });
        };
        wasm_bindgen_futures::spawn_local(async move {
            let _aborted_or_done = Abortable::new(run, registration).await;
        });
        Ok(Self {
            outgoing: RefCell::new(outgoing),
            task,
        })
    }

    /// Queues a message. Returns false when it was dropped (queue full or task gone).
    pub fn send(&self, message: &ClientMessage) -> bool {
        let text = serde_json::to_string(message).expect("protocol types always serialize");
        self.outgoing.borrow_mut().try_send(text).is_ok()
    }
}

impl Drop for SignallingSocket {
    fn drop(&mut self) {
        self.task.abort();
    }
}
