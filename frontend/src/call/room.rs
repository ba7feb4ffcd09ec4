//! Membership of one room: what each server message means for the page.
//!
//! [`RoomState`] is a reducer: it takes a [`ServerMessage`], updates who is here, and returns
//! the [`Action`]s the session must carry out (send a message, close the peer connection, pass
//! a description on to the negotiation...). It never performs them itself, so the rules of the
//! room are tested without a browser.

use std::time::Duration;

use shared::{
    ClientMessage, ErrorCode, IceCandidate, IceServer, IceTransportPolicy, PeerId, RoomName,
    ServerMessage,
};

use super::status::Presence;

/// The longest a browser timer can wait (`setTimeout` takes a signed 32-bit millisecond count).
const MAX_TIMER_MS: u64 = i32::MAX as u64;
/// Never ask for ICE servers more often than this, whatever `ttl` says: the server rate-limits
/// those requests.
const MIN_ICE_REFRESH_MS: u64 = 10_000;

/// Something the session must do because of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this to the server.
    Send(ClientMessage),
    /// Close every call, if any: the other person is gone, or our membership is new and the
    /// other side has forgotten the old call.
    ClosePeer,
    /// Use these ICE settings for the next peer connection and ask again after `refresh_after`.
    UseIceServers {
        servers: Vec<IceServer>,
        policy: IceTransportPolicy,
        refresh_after: Duration,
    },
    /// An offer from the other person, for the negotiation.
    RemoteOffer { sdp: String, from: PeerId },
    /// An answer from the other person, for the negotiation of the call with `from`.
    RemoteAnswer { sdp: String, from: PeerId },
    /// A candidate from `from` for the call with them (`None`: they finished gathering).
    RemoteCandidate {
        candidate: Option<IceCandidate>,
        from: PeerId,
    },
    /// Tell the person something that is not a change of state.
    Notify(Notice),
}

/// A message for the person that sits beside the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `ice_unavailable`: no relay servers; a direct connection may still work.
    IceUnavailable,
    /// Another refusal from the server, with its sentence.
    Server(String),
}

impl Notice {
    pub fn text(&self) -> String {
        match self {
            Self::IceUnavailable => "Relay (TURN) servers are unavailable right now. The call \
                                     may still work if a direct connection is possible."
                .to_owned(),
            Self::Server(message) => message.clone(),
        }
    }
}

/// Who is in the room, from this page's point of view.
#[derive(Debug, Clone)]
pub struct RoomState {
    room: RoomName,
    /// Our id, known from the last `joined`.
    me: Option<PeerId>,
    /// The other member, if any. Invariant: `None` while `presence` is `Waiting`/`PeerLeft`.
    other: Option<PeerId>,
    presence: Presence,
}

impl RoomState {
    pub fn new(room: RoomName) -> Self {
        Self {
            room,
            me: None,
            other: None,
            presence: Presence::Connecting,
        }
    }

    pub fn room(&self) -> &RoomName {
        &self.room
    }

    pub fn presence(&self) -> Presence {
        self.presence
    }

    pub fn me(&self) -> Option<&PeerId> {
        self.me.as_ref()
    }

    pub fn other(&self) -> Option<&PeerId> {
        self.other.as_ref()
    }

    /// Whether a call can be placed now (media aside): both people are in the room.
    pub fn is_ready(&self) -> bool {
        matches!(self.presence, Presence::Ready | Presence::HungUp)
            && self.me.is_some()
            && self.other.is_some()
    }

    /// The socket is open: join the room.
    pub fn socket_opened(&mut self) -> Vec<Action> {
        if self.presence != Presence::Offline {
            self.presence = Presence::Connecting;
        }
        vec![Action::Send(ClientMessage::Join {
            room: self.room.clone(),
            resume: None,
        })]
    }

    /// The socket closed. Returns whether to reconnect: not when the room refused us.
    pub fn socket_closed(&mut self) -> bool {
        self.me = None;
        self.other = None;
        if self.presence == Presence::Full {
            return false;
        }
        self.presence = Presence::Offline;
        true
    }

    /// The person hung up: close the call and tell the other member with `hang_up`. Both stay
    /// in the room, so the other side reads "They hung up." (not "left") and either may call
    /// again at once.
    pub fn hang_up(&mut self) -> Vec<Action> {
        vec![
            Action::ClosePeer,
            Action::Send(ClientMessage::HangUp {
                to: self.other.clone(),
            }),
        ]
    }

    /// Applies one message from the server.
    pub fn on_message(&mut self, message: ServerMessage) -> Vec<Action> {
        match message {
            ServerMessage::Joined { you, peers, .. } => {
                self.me = Some(you);
                self.other = peers.into_iter().next();
                self.presence = if self.other.is_some() {
                    Presence::Ready
                } else {
                    Presence::Waiting
                };
                // Fetch ICE servers at once so no credential round trip delays the call.
                vec![Action::ClosePeer, Action::Send(ClientMessage::IceServers)]
            }
            ServerMessage::Ready { .. } => {
                if self.other.is_some() {
                    self.presence = Presence::Ready;
                }
                Vec::new()
            }
            ServerMessage::Full { .. } => {
                self.presence = Presence::Full;
                Vec::new()
            }
            ServerMessage::PeerJoined { peer } => {
                self.other = Some(peer);
                Vec::new()
            }
            ServerMessage::PeerLeft { peer } => {
                if self.other.as_ref() != Some(&peer) {
                    return Vec::new();
                }
                self.other = None;
                self.presence = Presence::PeerLeft;
                vec![Action::ClosePeer]
            }
            ServerMessage::IceServers {
                ice_servers,
                ttl,
                ice_transport_policy,
            } => {
                // Refresh at 80 % of the lifetime, so credentials never lapse mid-call set-up.
                let refresh_ms = ttl
                    .saturating_mul(800)
                    .clamp(MIN_ICE_REFRESH_MS, MAX_TIMER_MS);
                vec![Action::UseIceServers {
                    servers: ice_servers,
                    policy: ice_transport_policy,
                    refresh_after: Duration::from_millis(refresh_ms),
                }]
            }
            ServerMessage::HangUp { from, .. } => {
                if self.other.as_ref() != Some(&from) {
                    return Vec::new();
                }
                self.presence = Presence::HungUp;
                vec![Action::ClosePeer]
            }
            ServerMessage::Offer { sdp, from, .. } => {
                if self.other.is_none() {
                    self.other = Some(from.clone());
                }
                if self.presence == Presence::HungUp {
                    // A new call from the person who hung up earlier.
                    self.presence = Presence::Ready;
                }
                vec![Action::RemoteOffer { sdp, from }]
            }
            ServerMessage::Answer { sdp, from, .. } => vec![Action::RemoteAnswer { sdp, from }],
            ServerMessage::Candidate {
                candidate, from, ..
            } => {
                vec![Action::RemoteCandidate { candidate, from }]
            }
            // Resume tokens are not used by this page yet.
            ServerMessage::Pong | ServerMessage::Resume { .. } => Vec::new(),
            ServerMessage::Error { code, message } => match code {
                ErrorCode::IceUnavailable => vec![Action::Notify(Notice::IceUnavailable)],
                // A relay raced with the other person leaving: `peer_left` says it all.
                ErrorCode::NoPeer | ErrorCode::UnknownPeer => Vec::new(),
                _ => vec![Action::Notify(Notice::Server(message))],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomName {
        RoomName::new("blue-fox").expect("valid name")
    }

    fn joined(you: &str, peers: &[&str]) -> ServerMessage {
        ServerMessage::Joined {
            room: room(),
            you: PeerId::new(you),
            peers: peers.iter().copied().map(PeerId::new).collect(),
            resume: shared::ResumeToken::new(format!("token-{you}")),
        }
    }

    /// Alone after joining: waiting, and ICE servers are requested at once.
    #[test]
    fn joining_an_empty_room_waits_and_asks_for_ice_servers() {
        let mut state = RoomState::new(room());
        assert_eq!(
            state.socket_opened(),
            vec![Action::Send(ClientMessage::Join {
                room: room(),
                resume: None
            })]
        );
        assert_eq!(state.presence(), Presence::Connecting);
        let actions = state.on_message(joined("a", &[]));
        assert!(actions.contains(&Action::Send(ClientMessage::IceServers)));
        assert_eq!(state.presence(), Presence::Waiting);
        assert!(!state.is_ready());
    }

    /// Joining a room with someone in it is ready at once; arriving second too.
    #[test]
    fn joined_with_peers_is_ready() {
        let mut state = RoomState::new(room());
        state.on_message(joined("b", &["a"]));
        assert_eq!(state.presence(), Presence::Ready);
        assert_eq!(state.other(), Some(&PeerId::new("a")));
        assert!(state.is_ready());
    }

    /// Someone arriving is ready only once `ready` says so.
    #[test]
    fn peer_joined_then_ready() {
        let mut state = RoomState::new(room());
        state.on_message(joined("a", &[]));
        state.on_message(ServerMessage::PeerJoined {
            peer: PeerId::new("b"),
        });
        assert_eq!(state.presence(), Presence::Waiting);
        state.on_message(ServerMessage::Ready { room: room() });
        assert!(state.is_ready());
    }

    /// The other person leaving closes the call and says so; a stranger's leave is ignored.
    #[test]
    fn peer_left_closes_the_call() {
        let mut state = RoomState::new(room());
        state.on_message(joined("b", &["a"]));
        assert!(
            state
                .on_message(ServerMessage::PeerLeft {
                    peer: PeerId::new("zzz")
                })
                .is_empty()
        );
        assert_eq!(
            state.on_message(ServerMessage::PeerLeft {
                peer: PeerId::new("a")
            }),
            vec![Action::ClosePeer]
        );
        assert_eq!(state.presence(), Presence::PeerLeft);
        assert!(!state.is_ready());
    }

    /// A full room is final: no reconnect when the socket then closes.
    #[test]
    fn full_room_does_not_reconnect() {
        let mut state = RoomState::new(room());
        state.on_message(ServerMessage::Full {
            room: room(),
            capacity: 2,
        });
        assert_eq!(state.presence(), Presence::Full);
        assert!(!state.socket_closed());
        assert_eq!(state.presence(), Presence::Full);
    }

    /// A lost socket is offline and reconnects; the re-join keeps saying offline until joined.
    #[test]
    fn lost_socket_goes_offline_and_rejoins() {
        let mut state = RoomState::new(room());
        state.on_message(joined("a", &["b"]));
        assert!(state.socket_closed());
        assert_eq!(state.presence(), Presence::Offline);
        assert_eq!(state.other(), None);
        state.socket_opened();
        assert_eq!(state.presence(), Presence::Offline);
        let actions = state.on_message(joined("c", &["b"]));
        assert_eq!(actions[0], Action::ClosePeer);
        assert_eq!(state.presence(), Presence::Ready);
    }

    /// ICE servers are refreshed at 80 % of their lifetime, with the relay policy passed on.
    #[test]
    fn ice_servers_refresh_before_expiry() {
        let mut state = RoomState::new(room());
        let servers = vec![IceServer::open(["stun:127.0.0.1:3478"])];
        let actions = state.on_message(ServerMessage::IceServers {
            ice_servers: servers.clone(),
            ttl: 86_400,
            ice_transport_policy: IceTransportPolicy::Relay,
        });
        assert_eq!(
            actions,
            vec![Action::UseIceServers {
                servers,
                policy: IceTransportPolicy::Relay,
                refresh_after: Duration::from_secs(69_120),
            }]
        );
        let actions = state.on_message(ServerMessage::IceServers {
            ice_servers: Vec::new(),
            ttl: 0,
            ice_transport_policy: IceTransportPolicy::All,
        });
        assert!(matches!(
            actions[0],
            Action::UseIceServers { refresh_after, .. } if refresh_after == Duration::from_secs(10)
        ));
    }

    /// Relayed descriptions and candidates go to the negotiation; an offer names the caller.
    #[test]
    fn relayed_messages_become_negotiation_actions() {
        let mut state = RoomState::new(room());
        state.on_message(joined("a", &[]));
        let actions = state.on_message(ServerMessage::Offer {
            sdp: "v=0".to_owned(),
            from: PeerId::new("b"),
            to: None,
        });
        assert_eq!(
            actions,
            vec![Action::RemoteOffer {
                sdp: "v=0".to_owned(),
                from: PeerId::new("b")
            }]
        );
        assert_eq!(state.other(), Some(&PeerId::new("b")));
        assert_eq!(
            state.on_message(ServerMessage::Candidate {
                candidate: None,
                from: PeerId::new("b"),
                to: None
            }),
            vec![Action::RemoteCandidate {
                candidate: None,
                from: PeerId::new("b")
            }]
        );
        assert_eq!(
            state.on_message(ServerMessage::Answer {
                sdp: "v=0".to_owned(),
                from: PeerId::new("b"),
                to: None
            }),
            vec![Action::RemoteAnswer {
                sdp: "v=0".to_owned(),
                from: PeerId::new("b")
            }]
        );
    }

    /// `ice_unavailable` is told to the person; a race with a leaving peer is not.
    #[test]
    fn errors_become_notices() {
        let mut state = RoomState::new(room());
        assert_eq!(
            state.on_message(ServerMessage::error(ErrorCode::IceUnavailable, "x")),
            vec![Action::Notify(Notice::IceUnavailable)]
        );
        assert!(
            state
                .on_message(ServerMessage::error(ErrorCode::NoPeer, "x"))
                .is_empty()
        );
    }

    /// Hanging up closes the call and tells the other member, without leaving the room.
    #[test]
    fn hang_up_tells_the_other_and_stays_in_the_room() {
        let mut state = RoomState::new(room());
        state.on_message(joined("b", &["a"]));
        assert_eq!(
            state.hang_up(),
            vec![
                Action::ClosePeer,
                Action::Send(ClientMessage::HangUp {
                    to: Some(PeerId::new("a"))
                }),
            ]
        );
        assert!(state.is_ready(), "either side can call again at once");
    }

    /// The other side hearing `hang_up` closes its call, says so, and can call back; a
    /// `hang_up` from a stranger changes nothing.
    #[test]
    fn hearing_hang_up_ends_the_call_but_not_the_room() {
        let mut state = RoomState::new(room());
        state.on_message(joined("b", &["a"]));
        let stranger = ServerMessage::HangUp {
            from: PeerId::new("z"),
            to: None,
        };
        assert!(state.on_message(stranger).is_empty());
        let actions = state.on_message(ServerMessage::HangUp {
            from: PeerId::new("a"),
            to: None,
        });
        assert_eq!(actions, vec![Action::ClosePeer]);
        assert_eq!(state.presence(), Presence::HungUp);
        assert_eq!(state.other(), Some(&PeerId::new("a")));
        assert!(state.is_ready());
        state.on_message(ServerMessage::Offer {
            sdp: "v=0".into(),
            from: PeerId::new("a"),
            to: None,
        });
        assert_eq!(state.presence(), Presence::Ready, "a new call from them");
    }
}
