//! Helpers shared by the browser tests: waiting without fixed sleeps, and two [`Transport`]s
//! standing in for the signalling server — [`Recorder`], which keeps what a session sends and
//! lets the test answer by hand, and [`FakeServer`], which routes messages between sessions.

#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use frontend::session::{LinkEvent, LinkEvents, Session, Transport};
use gloo_timers::future::TimeoutFuture;
use shared::{ClientMessage, IceTransportPolicy, PeerId, ResumeToken, RoomName, ServerMessage};
use wasm_bindgen_futures::spawn_local;

/// Polls `condition` every 20 ms for up to `timeout_ms`; returns whether it became true.
pub async fn wait_until(timeout_ms: u32, condition: impl Fn() -> bool) -> bool {
    let mut waited = 0;
    while !condition() {
        if waited >= timeout_ms {
            return false;
        }
        TimeoutFuture::new(20).await;
        waited += 20;
    }
    true
}

pub fn room() -> RoomName {
    RoomName::new("test-room").expect("valid name")
}

/// A link that is up at once and keeps every message the session sends; the test plays the
/// server with [`Recorder::deliver`].
#[derive(Default)]
pub struct Recorder {
    events: RefCell<Option<LinkEvents>>,
    /// Everything the session sent, in order.
    pub sent: RefCell<Vec<ClientMessage>>,
}

impl Recorder {
    /// A session in `room()` whose link is a new recorder.
    pub fn session() -> (Rc<Session>, Rc<Self>) {
        let recorder = Rc::new(Self::default());
        let session = Session::with_transport(room(), |events| {
            *recorder.events.borrow_mut() = Some(events);
            Rc::clone(&recorder)
        });
        (session, recorder)
    }

    /// Hands `message` to the session, as if the server had sent it.
    pub fn deliver(&self, message: ServerMessage) {
        let events = self.events.borrow().clone();
        if let Some(events) = events {
            events.report(LinkEvent::Message(message));
        }
    }
}

impl Transport for Recorder {
    fn open(&self) {
        let events = self.events.borrow().clone();
        if let Some(events) = events {
            events.report(LinkEvent::Opened);
        }
    }

    fn send(&self, message: ClientMessage) {
        self.sent.borrow_mut().push(message);
    }

    fn is_up(&self) -> bool {
        true
    }
}

/// One session's link to the [`FakeServer`]. Sends are deferred to a task, as a real socket
/// would, so the server never calls back into a session that is still sending.
struct Loopback {
    server: Weak<FakeServer>,
    peer: PeerId,
    events: LinkEvents,
}

impl Transport for Loopback {
    fn open(&self) {
        self.events.report(LinkEvent::Opened);
    }

    fn send(&self, message: ClientMessage) {
        let (server, peer) = (self.server.clone(), self.peer.clone());
        spawn_local(async move {
            if let Some(server) = server.upgrade() {
                server.receive(&peer, message);
            }
        });
    }

    fn is_up(&self) -> bool {
        true
    }
}

/// The signalling server's room rules, in the page: two members, relays with `from`,
/// `peer_left` on leave.
#[derive(Default)]
pub struct FakeServer {
    members: RefCell<Vec<PeerId>>,
    links: RefCell<Vec<(PeerId, LinkEvents)>>,
    /// Every message any client sent, in order, with its sender.
    pub log: RefCell<Vec<(PeerId, ClientMessage)>>,
}

impl FakeServer {
    /// A session with id `id` connected to this server (it joins `room()` at once).
    pub fn connect(self: &Rc<Self>, id: &str) -> Rc<Session> {
        let peer = PeerId::new(id);
        Session::with_transport(room(), |events| {
            self.links.borrow_mut().push((peer.clone(), events.clone()));
            Rc::new(Loopback {
                server: Rc::downgrade(self),
                peer,
                events,
            })
        })
    }

    fn deliver(&self, to: &PeerId, message: ServerMessage) {
        let events = self
            .links
            .borrow()
            .iter()
            .find(|(id, _)| id == to)
            .map(|(_, events)| events.clone());
        if let Some(events) = events {
            events.report(LinkEvent::Message(message));
        }
    }

    fn others(&self, peer: &PeerId) -> Vec<PeerId> {
        self.members
            .borrow()
            .iter()
            .filter(|id| *id != peer)
            .cloned()
            .collect()
    }

    fn receive(&self, from: &PeerId, message: ClientMessage) {
        self.log.borrow_mut().push((from.clone(), message.clone()));
        match message {
            ClientMessage::Join { room, .. } => {
                if self.members.borrow().len() >= 2 {
                    self.deliver(from, ServerMessage::Full { room, capacity: 2 });
                    return;
                }
                let peers = self.others(from);
                self.members.borrow_mut().push(from.clone());
                self.deliver(
                    from,
                    ServerMessage::Joined {
                        room: room.clone(),
                        you: from.clone(),
                        peers: peers.clone(),
                        resume: ResumeToken::new(format!("token-{from}")),
                        upload_kbps: None,
                    },
                );
                for other in &peers {
                    self.deliver(other, ServerMessage::PeerJoined { peer: from.clone() });
                }
                if !peers.is_empty() {
                    for member in self.others(&PeerId::new("")) {
                        self.deliver(&member, ServerMessage::Ready { room: room.clone() });
                    }
                }
            }
            ClientMessage::Leave => {
                self.members.borrow_mut().retain(|id| id != from);
                for other in self.others(from) {
                    self.deliver(&other, ServerMessage::PeerLeft { peer: from.clone() });
                }
            }
            ClientMessage::IceServers => self.deliver(
                from,
                ServerMessage::IceServers {
                    ice_servers: Vec::new(),
                    ttl: 3600,
                    ice_transport_policy: IceTransportPolicy::All,
                },
            ),
            ClientMessage::Offer { sdp, to } => {
                for other in self.others(from) {
                    self.deliver(
                        &other,
                        ServerMessage::Offer {
                            sdp: sdp.clone(),
                            from: from.clone(),
                            to: to.clone(),
                        },
                    );
                }
            }
            ClientMessage::Answer { sdp, to } => {
                for other in self.others(from) {
                    self.deliver(
                        &other,
                        ServerMessage::Answer {
                            sdp: sdp.clone(),
                            from: from.clone(),
                            to: to.clone(),
                        },
                    );
                }
            }
            ClientMessage::Candidate { candidate, to } => {
                for other in self.others(from) {
                    self.deliver(
                        &other,
                        ServerMessage::Candidate {
                            candidate: candidate.clone(),
                            from: from.clone(),
                            to: to.clone(),
                        },
                    );
                }
            }
            ClientMessage::HangUp { to } => {
                for other in self.others(from) {
                    self.deliver(
                        &other,
                        ServerMessage::HangUp {
                            from: from.clone(),
                            to: to.clone(),
                        },
                    );
                }
            }
            ClientMessage::Ping => self.deliver(from, ServerMessage::Pong),
        }
    }

    /// How many messages `from` sent that match `predicate`.
    pub fn count_sent(&self, from: &str, predicate: impl Fn(&ClientMessage) -> bool) -> usize {
        self.log
            .borrow()
            .iter()
            .filter(|(id, message)| id.as_str() == from && predicate(message))
            .count()
    }
}
