//! Helpers shared by the browser tests: waiting without fixed sleeps, and an in-page stand-in
//! for the signalling server that routes messages between sessions.

#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use frontend::session::{Session, SessionUi};
use gloo_timers::future::TimeoutFuture;
use shared::{ClientMessage, IceTransportPolicy, PeerId, RoomName, ServerMessage};
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

/// The signalling server's room rules, in the page: two members, relays with `from`,
/// `peer_left` on leave. Deliveries are deferred to a task, as a real socket would.
#[derive(Default)]
pub struct FakeServer {
    members: RefCell<Vec<(PeerId, Weak<Session>)>>,
    sessions: RefCell<Vec<(PeerId, Weak<Session>)>>,
    /// Every message any client sent, in order, with its sender.
    pub log: RefCell<Vec<(PeerId, ClientMessage)>>,
}

impl FakeServer {
    /// A session with id `id` connected to this server (it joins `room()` at once).
    pub fn connect(self: &Rc<Self>, id: &str) -> Rc<Session> {
        let server = Rc::downgrade(self);
        let peer = PeerId::new(id);
        let session = Session::with_loopback(room(), SessionUi::new(), {
            let peer = peer.clone();
            move |message| {
                let (server, peer) = (server.clone(), peer.clone());
                spawn_local(async move {
                    if let Some(server) = server.upgrade() {
                        server.receive(&peer, message);
                    }
                });
            }
        });
        self.sessions
            .borrow_mut()
            .push((peer, Rc::downgrade(&session)));
        session
    }

    fn session(&self, peer: &PeerId) -> Option<Rc<Session>> {
        self.sessions
            .borrow()
            .iter()
            .find(|(id, _)| id == peer)
            .and_then(|(_, session)| session.upgrade())
    }

    fn deliver(&self, to: &PeerId, message: ServerMessage) {
        if let Some(session) = self.session(to) {
            session.handle_server_message(message);
        }
    }

    fn others(&self, peer: &PeerId) -> Vec<PeerId> {
        self.members
            .borrow()
            .iter()
            .map(|(id, _)| id.clone())
            .filter(|id| id != peer)
            .collect()
    }

    fn receive(&self, from: &PeerId, message: ClientMessage) {
        self.log.borrow_mut().push((from.clone(), message.clone()));
        match message {
            ClientMessage::Join { room } => {
                if self.members.borrow().len() >= 2 {
                    self.deliver(from, ServerMessage::Full { room, capacity: 2 });
                    return;
                }
                let peers = self.others(from);
                self.members.borrow_mut().push((from.clone(), Weak::new()));
                self.deliver(
                    from,
                    ServerMessage::Joined {
                        room: room.clone(),
                        you: from.clone(),
                        peers: peers.clone(),
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
                self.members.borrow_mut().retain(|(id, _)| id != from);
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
