//! Membership of one room: what each server message means for the page.
//!
//! [`RoomState`] is a reducer: it takes a [`ServerMessage`], updates who is here, and returns
//! the [`Action`]s the session must carry out (send a message, close the peer connection, pass
//! a description on to the negotiation...). It never performs them itself, so the rules of the
//! room are tested without a browser.

use std::time::Duration;

use shared::{
    ClientMessage, DEFAULT_UPLOAD_KBPS, ErrorCode, IceCandidate, IceServer, IceTransportPolicy,
    PeerId, ResumeToken, RoomName, ServerMessage,
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
    /// Close every call, if any: this page hung up, or another tab took the seat.
    ClosePeer,
    /// Close the call with this person, if any: they left or hung up. The other calls go on.
    CloseCall(PeerId),
    /// Someone joined the room after us. A page that is in the call offers to them (see
    /// [`RoomState::later_arrivals`] for the rule that keeps offers from colliding).
    PeerArrived(PeerId),
    /// We are in the room (again): `previous` is the id we had before this `joined`, if any.
    /// The session keeps the calls that are still alive, closes the dead ones, and tells the
    /// live ones our new id if it changed.
    Joined { previous: Option<PeerId> },
    /// Keep this token (with our id) for the next `join`, in this page and across a reload.
    SaveSeat { token: ResumeToken, me: PeerId },
    /// Use these ICE settings for the next peer connection and ask again after `refresh_after`.
    UseIceServers {
        servers: Vec<IceServer>,
        policy: IceTransportPolicy,
        refresh_after: Duration,
    },
    /// The most this page may send in all, in kbit/s, shared among its calls.
    UseUploadBudget(u32),
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

/// Another member of the room, as this page knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    peer: PeerId,
    /// Whether they joined after this page did (`peer_joined`), rather than being listed in
    /// our `joined`. Both sides of a pair see the same order, since the server seats joins one
    /// at a time: this is what decides who offers to whom.
    arrived_after_me: bool,
}

/// Who is in the room, from this page's point of view.
///
/// A dropped socket does not forget who is here: the calls go on without the server, and
/// the page takes its seat back when it reconnects (with the resume token it keeps).
#[derive(Debug, Clone)]
pub struct RoomState {
    room: RoomName,
    /// Our id, from the last `joined`; kept while the socket is down.
    me: Option<PeerId>,
    /// The other members, in the order they came; kept while the socket is down (they are
    /// most likely still there).
    others: Vec<Member>,
    presence: Presence,
    /// Whether the server counts us as a member on the current connection (`joined` received
    /// since it opened): relays can go out only then.
    in_room: bool,
    /// The latest resume token (from `joined` or `resume`), sent in the next `join`.
    resume: Option<ResumeToken>,
}

impl RoomState {
    pub fn new(room: RoomName) -> Self {
        Self {
            room,
            me: None,
            others: Vec::new(),
            presence: Presence::Connecting,
            in_room: false,
            resume: None,
        }
    }

    /// A room to join with `token`, kept from an earlier page of this tab (a reload).
    pub fn resuming(room: RoomName, token: Option<ResumeToken>) -> Self {
        Self {
            resume: token,
            ..Self::new(room)
        }
    }

    /// The other members, while the server counts us as a member; `None` while it does not
    /// (socket down, not joined yet): relays must wait.
    pub fn members(&self) -> Option<Vec<PeerId>> {
        self.in_room.then(|| self.others())
    }

    /// The other members as last known, in the order they came.
    pub fn others(&self) -> Vec<PeerId> {
        self.others
            .iter()
            .map(|member| member.peer.clone())
            .collect()
    }

    /// Whether `peer` is a member of the room as far as this page knows.
    pub fn has_member(&self, peer: &PeerId) -> bool {
        self.others.iter().any(|member| &member.peer == peer)
    }

    /// The members this page offers to when it enters a call that others started: those who
    /// joined after it. Each pair's later arrival waits for the earlier one's offer, so two
    /// pages brought into a call at the same moment never offer to each other at once.
    pub fn later_arrivals(&self) -> Vec<PeerId> {
        self.others
            .iter()
            .filter(|member| member.arrived_after_me)
            .map(|member| member.peer.clone())
            .collect()
    }

    /// The other person is now known as `new` (their `hello` on a call's data channel).
    pub fn readdress(&mut self, old: &PeerId, new: &PeerId) {
        if self.has_member(new) {
            // They are listed under the new id already (their `peer_joined` came first).
            self.others.retain(|member| &member.peer != old);
            return;
        }
        if let Some(member) = self.others.iter_mut().find(|member| &member.peer == old) {
            member.peer = new.clone();
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

    /// Whether a call can be placed now (media aside): someone else is in the room.
    pub fn is_ready(&self) -> bool {
        matches!(self.presence, Presence::Ready | Presence::HungUp)
            && self.me.is_some()
            && !self.others.is_empty()
    }

    /// The socket is open: join the room, with the latest resume token to get our seat back.
    pub fn socket_opened(&mut self) -> Vec<Action> {
        self.in_room = false;
        if self.presence != Presence::Offline {
            self.presence = Presence::Connecting;
        }
        vec![Action::Send(ClientMessage::Join {
            room: self.room.clone(),
            resume: self.resume.clone(),
        })]
    }

    /// The socket closed. Returns whether to reconnect: not when the room refused us or
    /// another tab took our seat. Who is here is kept: the call goes on meanwhile.
    pub fn socket_closed(&mut self) -> bool {
        self.in_room = false;
        if matches!(self.presence, Presence::Full { .. } | Presence::Replaced) {
            return false;
        }
        self.presence = Presence::Offline;
        true
    }

    /// The server closed the socket because a newer connection (another tab or window of this
    /// browser, with our token) took our seat: the call continued there. No reconnect.
    pub fn replaced(&mut self) -> Vec<Action> {
        self.in_room = false;
        self.presence = Presence::Replaced;
        vec![Action::ClosePeer]
    }

    /// The person asks to take the call back here (after [`Self::replaced`]): connect again,
    /// and the `join` with our token takes the seat back.
    pub fn take_back(&mut self) {
        if self.presence == Presence::Replaced {
            self.presence = Presence::Connecting;
        }
    }

    /// The person hung up: close every call and tell each person of them with `hang_up`
    /// (addressed to the id of the call, even if they are not back in the room yet). All stay
    /// in the room, so the others read "They hung up." (not "left") and anyone may call again.
    pub fn hang_up(&mut self, calls_with: Vec<PeerId>) -> Vec<Action> {
        let mut actions = vec![Action::ClosePeer];
        actions.extend(
            calls_with
                .into_iter()
                .map(|to| Action::Send(ClientMessage::HangUp { to: Some(to) })),
        );
        actions
    }

    /// The call with `from` ended on their side (`hang_up`, or their page closed its peer
    /// connection): close ours; once no call is left the page says they hung up. Both stay
    /// in the room and either may call again. Nothing changes when `from` is not a member.
    pub fn call_closed_by(&mut self, from: &PeerId) -> Vec<Action> {
        if !self.has_member(from) {
            return Vec::new();
        }
        self.presence = Presence::HungUp;
        vec![Action::CloseCall(from.clone())]
    }

    /// Applies one message from the server.
    pub fn on_message(&mut self, message: ServerMessage) -> Vec<Action> {
        match message {
            ServerMessage::Joined {
                you,
                peers,
                resume,
                upload_kbps,
                ..
            } => {
                let previous = self.me.replace(you.clone());
                // Who came after whom is kept for the people still here (a re-join lists
                // everybody as already there).
                let known = std::mem::take(&mut self.others);
                self.others = peers
                    .into_iter()
                    .map(|peer| {
                        let arrived_after_me = known
                            .iter()
                            .any(|member| member.peer == peer && member.arrived_after_me);
                        Member {
                            peer,
                            arrived_after_me,
                        }
                    })
                    .collect();
                self.in_room = true;
                self.presence = if self.others.is_empty() {
                    Presence::Waiting
                } else {
                    Presence::Ready
                };
                self.resume = Some(resume.clone());
                vec![
                    Action::SaveSeat {
                        token: resume,
                        me: you,
                    },
                    Action::UseUploadBudget(upload_kbps.unwrap_or(DEFAULT_UPLOAD_KBPS)),
                    Action::Joined { previous },
                    // Fetch ICE servers at once so no credential round trip delays the call.
                    Action::Send(ClientMessage::IceServers),
                ]
            }
            ServerMessage::Resume { resume } => {
                self.resume = Some(resume.clone());
                match &self.me {
                    Some(me) => vec![Action::SaveSeat {
                        token: resume,
                        me: me.clone(),
                    }],
                    None => Vec::new(),
                }
            }
            ServerMessage::Ready { .. } => {
                if !self.others.is_empty() {
                    self.presence = Presence::Ready;
                }
                Vec::new()
            }
            ServerMessage::Full { capacity, .. } => {
                self.in_room = false;
                self.presence = Presence::Full { capacity };
                Vec::new()
            }
            ServerMessage::PeerJoined { peer } => {
                if self.has_member(&peer) {
                    return Vec::new();
                }
                self.others.push(Member {
                    peer: peer.clone(),
                    arrived_after_me: true,
                });
                if self.presence == Presence::PeerLeft && self.others.len() > 1 {
                    self.presence = Presence::Ready;
                }
                vec![Action::PeerArrived(peer)]
            }
            ServerMessage::PeerLeft { peer } => {
                if !self.has_member(&peer) {
                    return Vec::new();
                }
                self.others.retain(|member| member.peer != peer);
                if self.others.is_empty() {
                    self.presence = Presence::PeerLeft;
                }
                vec![Action::CloseCall(peer)]
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
            ServerMessage::HangUp { from, .. } => self.call_closed_by(&from),
            ServerMessage::Offer { sdp, from, .. } => {
                if !self.has_member(&from) {
                    self.others.push(Member {
                        peer: from.clone(),
                        arrived_after_me: false,
                    });
                }
                if self.presence == Presence::HungUp {
                    // A new call from someone who hung up earlier.
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
            ServerMessage::Pong => Vec::new(),
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
            resume: token(&format!("token-of-{you}")),
            upload_kbps: None,
        }
    }

    fn token(text: &str) -> ResumeToken {
        ResumeToken::new(text.to_owned())
    }

    fn join(resume: Option<&str>) -> Action {
        Action::Send(ClientMessage::Join {
            room: room(),
            resume: resume.map(token),
        })
    }

    /// Alone after joining: waiting, and ICE servers are requested at once.
    #[test]
    fn joining_an_empty_room_waits_and_asks_for_ice_servers() {
        let mut state = RoomState::new(room());
        assert_eq!(state.socket_opened(), vec![join(None)]);
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
        assert_eq!(state.others(), vec![PeerId::new("a")]);
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
            vec![Action::CloseCall(PeerId::new("a"))]
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
        assert_eq!(state.presence(), Presence::Full { capacity: 2 });
        assert!(!state.socket_closed());
        assert_eq!(state.presence(), Presence::Full { capacity: 2 });
    }

    /// A lost socket is offline and reconnects, but remembers who is here (the call goes on);
    /// relays wait until the re-join; the re-join carries the token and keeps the calls.
    #[test]
    fn lost_socket_keeps_the_room_and_rejoins_with_the_token() {
        let mut state = RoomState::new(room());
        state.socket_opened();
        state.on_message(joined("a", &["b"]));
        assert_eq!(state.members(), Some(vec![PeerId::new("b")]));
        assert!(state.socket_closed());
        assert_eq!(state.presence(), Presence::Offline);
        assert_eq!(state.others(), vec![PeerId::new("b")], "still here");
        assert_eq!(state.me(), Some(&PeerId::new("a")));
        assert_eq!(state.members(), None, "relays must wait");
        assert_eq!(state.socket_opened(), vec![join(Some("token-of-a"))]);
        assert_eq!(state.presence(), Presence::Offline);
        let actions = state.on_message(joined("c", &["b"]));
        assert!(!actions.contains(&Action::ClosePeer), "the call is kept");
        assert!(actions.contains(&Action::Joined {
            previous: Some(PeerId::new("a"))
        }));
        assert!(actions.contains(&Action::SaveSeat {
            token: token("token-of-c"),
            me: PeerId::new("c")
        }));
        assert_eq!(state.presence(), Presence::Ready);
    }

    /// A reloaded page sends the token it found in storage in its very first `join`; a fresh
    /// `resume` from the server replaces the token and is saved.
    #[test]
    fn resumes_with_the_stored_token_and_keeps_the_latest() {
        let mut state = RoomState::resuming(room(), Some(token("stored")));
        assert_eq!(state.socket_opened(), vec![join(Some("stored"))]);
        let actions = state.on_message(joined("a", &[]));
        assert!(actions.contains(&Action::Joined { previous: None }));
        assert_eq!(
            state.on_message(ServerMessage::Resume {
                resume: token("fresh")
            }),
            vec![Action::SaveSeat {
                token: token("fresh"),
                me: PeerId::new("a")
            }]
        );
        state.socket_closed();
        assert_eq!(state.socket_opened(), vec![join(Some("fresh"))]);
    }

    /// Another tab took the seat (close code 4001): the call ends here, no reconnect, until the
    /// person takes it back.
    #[test]
    fn replaced_by_another_tab_does_not_reconnect() {
        let mut state = RoomState::new(room());
        state.on_message(joined("a", &["b"]));
        assert_eq!(state.replaced(), vec![Action::ClosePeer]);
        assert!(!state.socket_closed());
        assert_eq!(state.presence(), Presence::Replaced);
        state.take_back();
        assert_eq!(state.presence(), Presence::Connecting);
        assert_eq!(state.socket_opened(), vec![join(Some("token-of-a"))]);
    }

    /// The other person's `hello` re-addresses them; a stranger's id changes nothing.
    #[test]
    fn readdressed_when_the_other_rejoined_under_a_new_id() {
        let mut state = RoomState::new(room());
        state.on_message(joined("a", &["b"]));
        state.readdress(&PeerId::new("zz"), &PeerId::new("yy"));
        assert_eq!(state.others(), vec![PeerId::new("b")]);
        state.readdress(&PeerId::new("b"), &PeerId::new("b2"));
        assert_eq!(state.others(), vec![PeerId::new("b2")]);
        assert_eq!(state.members(), Some(vec![PeerId::new("b2")]));
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
        assert_eq!(state.others(), vec![PeerId::new("b")]);
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

    /// Hanging up closes every call and tells each person of them, without leaving the room.
    #[test]
    fn hang_up_tells_everybody_of_the_call_and_stays_in_the_room() {
        let mut state = RoomState::new(room());
        state.on_message(joined("b", &["a", "c"]));
        assert_eq!(
            state.hang_up(vec![PeerId::new("a"), PeerId::new("old-c")]),
            vec![
                Action::ClosePeer,
                Action::Send(ClientMessage::HangUp {
                    to: Some(PeerId::new("a"))
                }),
                Action::Send(ClientMessage::HangUp {
                    to: Some(PeerId::new("old-c"))
                }),
            ],
            "addressed to the people of the calls, even before they are back"
        );
        assert!(state.is_ready(), "anyone can call again at once");
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
        assert_eq!(actions, vec![Action::CloseCall(PeerId::new("a"))]);
        assert_eq!(state.presence(), Presence::HungUp);
        assert_eq!(state.others(), vec![PeerId::new("a")]);
        assert!(state.is_ready());
        state.on_message(ServerMessage::Offer {
            sdp: "v=0".into(),
            from: PeerId::new("a"),
            to: None,
        });
        assert_eq!(state.presence(), Presence::Ready, "a new call from them");
    }

    fn arrives(peer: &str) -> ServerMessage {
        ServerMessage::PeerJoined {
            peer: PeerId::new(peer),
        }
    }

    /// Joiners after us are told to the session (a page in the call offers to them); those
    /// already there when we came are not ours to offer to when someone else's call pulls us in.
    #[test]
    fn later_arrivals_are_those_who_joined_after_us() {
        let mut state = RoomState::new(room());
        state.on_message(joined("b", &["a"]));
        assert_eq!(
            state.on_message(arrives("c")),
            vec![Action::PeerArrived(PeerId::new("c"))]
        );
        assert!(state.on_message(arrives("c")).is_empty(), "told once");
        state.on_message(arrives("d"));
        assert_eq!(
            state.others(),
            vec![PeerId::new("a"), PeerId::new("c"), PeerId::new("d")]
        );
        assert_eq!(
            state.later_arrivals(),
            vec![PeerId::new("c"), PeerId::new("d")]
        );
    }

    /// A re-join lists everybody as already there; who came after us is remembered for the
    /// people still here, and those gone are forgotten.
    #[test]
    fn arrival_order_survives_a_rejoin() {
        let mut state = RoomState::new(room());
        state.on_message(joined("b", &["a"]));
        state.on_message(arrives("c"));
        state.on_message(arrives("d"));
        state.socket_closed();
        state.on_message(joined("b", &["a", "d"]));
        assert_eq!(state.later_arrivals(), vec![PeerId::new("d")]);
        assert_eq!(state.others(), vec![PeerId::new("a"), PeerId::new("d")]);
    }

    /// In a group, someone leaving closes only their call; the room is empty (and says the
    /// other person left) only when the last one goes.
    #[test]
    fn leaving_closes_only_that_call() {
        let mut state = RoomState::new(room());
        state.on_message(joined("c", &["a", "b"]));
        let actions = state.on_message(ServerMessage::PeerLeft {
            peer: PeerId::new("a"),
        });
        assert_eq!(actions, vec![Action::CloseCall(PeerId::new("a"))]);
        assert_eq!(state.presence(), Presence::Ready);
        assert_eq!(state.others(), vec![PeerId::new("b")]);
        state.on_message(ServerMessage::PeerLeft {
            peer: PeerId::new("b"),
        });
        assert_eq!(state.presence(), Presence::PeerLeft);
    }

    /// The upload budget comes from `joined`, or is the default when an older server says none.
    #[test]
    fn joined_gives_the_upload_budget() {
        let mut state = RoomState::new(room());
        let actions = state.on_message(joined("a", &[]));
        assert!(actions.contains(&Action::UseUploadBudget(DEFAULT_UPLOAD_KBPS)));
        let actions = state.on_message(ServerMessage::Joined {
            room: room(),
            you: PeerId::new("a"),
            peers: Vec::new(),
            resume: token("t"),
            upload_kbps: Some(900),
        });
        assert!(actions.contains(&Action::UseUploadBudget(900)));
    }

    /// A `hello` that names someone already listed under the new id merges them, rather than
    /// keeping the old id as a ghost member.
    #[test]
    fn readdress_onto_a_known_id_merges() {
        let mut state = RoomState::new(room());
        state.on_message(joined("a", &["b"]));
        state.on_message(arrives("b2"));
        state.readdress(&PeerId::new("b"), &PeerId::new("b2"));
        assert_eq!(state.others(), vec![PeerId::new("b2")]);
    }
}
