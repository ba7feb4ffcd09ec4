//! The page's call logic: the room reducer ([`frontend::call::room::RoomState`]) and perfect
//! negotiation ([`frontend::call::negotiation::Negotiation`]) under random orders of server
//! messages and page events.
//!
//! The session (`frontend/src/session/`) carries the reducer's actions out against real
//! `RTCPeerConnection`s, which exist only in a browser; this target carries them out against
//! a stand-in with the same rules (one call per other person, begun by Call, by an offer or by
//! someone arriving while in the call; ended by `CloseCall` / `ClosePeer`; a collision the
//! polite side loses starts over on a fresh connection), each call a plain signalling state.
//! Connections are kept in a list, not a map, so a second connection for the same person would
//! show rather than silently replace the first.
//!
//! Properties, after every step: no panic; at most one connection per person; never a
//! connection with ourselves; the reducer lists each member once, never us; nobody who left
//! (`peer_left`) keeps a connection; an answer is never ignored nor a reason to start over.

use arbitrary::Unstructured;
use frontend::call::negotiation::{Decision, DescriptionKind, Negotiation, Role};
use frontend::call::room::{Action, RoomState};
use shared::{
    ErrorCode, IceCandidate, IceTransportPolicy, PeerId, ResumeToken, RoomName, ServerMessage,
};

/// The other people: few, so that messages name the same ones often.
const OTHERS: [&str; 5] = ["b", "d", "f", "h", "k"];
/// The ids the server gives this page, one per `joined` (never one of the others').
const ME: [&str; 3] = ["a", "e", "z"];

/// The signalling state of one stand-in connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signalling {
    Stable,
    /// Our offer is being made (`offer_started`) or is set locally.
    LocalOffer {
        made: bool,
    },
    /// Their offer is set; our answer is not made yet.
    RemoteOffer,
    /// Their answer is being set (`answer_set` pending).
    SettingAnswer,
}

/// One stand-in peer connection.
#[derive(Debug)]
struct Connection {
    other: PeerId,
    negotiation: Negotiation,
    signalling: Signalling,
}

/// A page: the reducer and the connections the session would hold.
struct Page {
    room: RoomState,
    connections: Vec<Connection>,
}

impl Page {
    fn call_with(&mut self, other: &PeerId) -> Option<&mut Connection> {
        self.connections
            .iter_mut()
            .find(|call| &call.other == other)
    }

    /// `begin_call`: a fresh connection with `other` (none without an id of our own).
    fn begin(&mut self, other: &PeerId) -> bool {
        let Some(me) = self.room.me() else {
            return false;
        };
        let role = Role::between(me, other);
        self.connections.push(Connection {
            other: other.clone(),
            negotiation: Negotiation::new(role),
            signalling: Signalling::Stable,
        });
        true
    }

    /// `offer_to`: begin a call with `other` and start its offer, unless there is one.
    fn offer_to(&mut self, other: &PeerId) {
        if self.call_with(other).is_some() || !self.begin(other) {
            return;
        }
        if let Some(call) = self.call_with(other) {
            call.negotiation.offer_started();
            call.signalling = Signalling::LocalOffer { made: false };
        }
    }

    fn end_call(&mut self, other: &PeerId) {
        self.connections.retain(|call| &call.other != other);
    }

    fn apply(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::ClosePeer => self.connections.clear(),
                Action::CloseCall(other) => self.end_call(&other),
                Action::PeerArrived(peer) => {
                    if !self.connections.is_empty() {
                        self.offer_to(&peer);
                    }
                }
                Action::RemoteOffer { from, .. } => self.on_remote_offer(&from),
                Action::RemoteAnswer { from, .. } => {
                    if let Some(call) = self.call_with(&from) {
                        let stable = call.signalling == Signalling::Stable;
                        let decision = call
                            .negotiation
                            .on_description(DescriptionKind::Answer, stable);
                        assert_eq!(decision, Decision::Accept, "an answer is always accepted");
                        call.signalling = Signalling::SettingAnswer;
                    }
                }
                Action::Joined { .. } => {
                    // Calls with people the room no longer lists wait for their `hello`
                    // (a re-address) or their `peer_left`; nothing to do here.
                }
                Action::Send(_)
                | Action::SaveSeat { .. }
                | Action::UseIceServers { .. }
                | Action::UseUploadBudget(_)
                | Action::RemoteCandidate { .. }
                | Action::Notify(_) => {}
            }
        }
    }

    /// `on_remote_offer`: answered on the running call, or on a new one.
    fn on_remote_offer(&mut self, from: &PeerId) {
        let entered = self.connections.is_empty();
        let decision = self.call_with(from).map(|call| {
            let stable = call.signalling == Signalling::Stable;
            call.negotiation
                .on_description(DescriptionKind::Offer, stable)
        });
        match decision {
            Some(Decision::Ignore) => return,
            Some(Decision::Accept) => {}
            Some(Decision::StartOver) => {
                self.end_call(from);
                if !self.begin(from) {
                    return;
                }
            }
            None => {
                if !self.begin(from) {
                    return;
                }
            }
        }
        if let Some(call) = self.call_with(from) {
            if decision != Some(Decision::Accept) {
                let fresh = call
                    .negotiation
                    .on_description(DescriptionKind::Offer, true);
                assert_eq!(
                    fresh,
                    Decision::Accept,
                    "a fresh connection accepts any offer"
                );
            }
            call.signalling = Signalling::RemoteOffer;
        }
        if entered {
            for later in self.room.later_arrivals() {
                self.offer_to(&later);
            }
        }
    }

    /// A step of the browser's own: an offer made, an answer made or set, or the other side
    /// closing its connection.
    fn local_event(&mut self, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
        if self.connections.is_empty() {
            return Ok(());
        }
        let at = u.choose_index(self.connections.len())?;
        let call = &mut self.connections[at];
        match call.signalling {
            Signalling::LocalOffer { made: false } => {
                call.negotiation.offer_finished();
                call.signalling = Signalling::LocalOffer { made: true };
            }
            Signalling::RemoteOffer => call.signalling = Signalling::Stable,
            Signalling::SettingAnswer => {
                call.negotiation.answer_set();
                call.signalling = Signalling::Stable;
            }
            Signalling::Stable | Signalling::LocalOffer { made: true } => {
                if u.arbitrary()? {
                    // `negotiationneeded` (an ICE restart, a track added).
                    call.negotiation.offer_started();
                    call.signalling = Signalling::LocalOffer { made: false };
                } else {
                    let other = call.other.clone();
                    let actions = self.room.call_closed_by(&other);
                    self.apply(actions);
                }
            }
        }
        Ok(())
    }

    fn check(&self, left: Option<&PeerId>) {
        for (at, call) in self.connections.iter().enumerate() {
            assert!(
                self.connections[..at]
                    .iter()
                    .all(|earlier| earlier.other != call.other),
                "two peer connections with {}",
                call.other
            );
            assert!(
                Some(&call.other) != self.room.me(),
                "a connection with ourselves"
            );
        }
        if let Some(left) = left {
            assert!(
                self.call_with_ref(left).is_none(),
                "{left} left but keeps a connection"
            );
        }
        let others = self.room.others();
        for (at, other) in others.iter().enumerate() {
            assert!(!others[..at].contains(other), "{other} listed twice");
            assert!(
                Some(other) != self.room.me(),
                "we are listed as another member"
            );
        }
    }

    fn call_with_ref(&self, other: &PeerId) -> Option<&Connection> {
        self.connections.iter().find(|call| &call.other == other)
    }
}

fn room() -> RoomName {
    RoomName::new("fuzz-room").expect("a valid room name")
}

fn other(u: &mut Unstructured<'_>) -> arbitrary::Result<PeerId> {
    Ok(PeerId::new(*u.choose(&OTHERS)?))
}

fn to(u: &mut Unstructured<'_>) -> arbitrary::Result<Option<PeerId>> {
    Ok(if u.arbitrary()? {
        Some(PeerId::new(*u.choose(&ME)?))
    } else {
        None
    })
}

/// A message the server may send, in any order.
fn server_message(u: &mut Unstructured<'_>) -> arbitrary::Result<ServerMessage> {
    let sdp = String::from("v=0");
    Ok(match u.int_in_range(0..=12)? {
        0 => {
            // Each other person at most once, in any order, as the server lists them.
            let mut peers: Vec<PeerId> = Vec::new();
            for _ in 0..u.int_in_range(0..=OTHERS.len())? {
                let peer = other(u)?;
                if !peers.contains(&peer) {
                    peers.push(peer);
                }
            }
            ServerMessage::Joined {
                room: room(),
                you: PeerId::new(*u.choose(&ME)?),
                peers,
                resume: ResumeToken::new(String::from("token")),
                upload_kbps: u.arbitrary()?,
            }
        }
        1 => ServerMessage::PeerJoined { peer: other(u)? },
        2 => ServerMessage::PeerLeft { peer: other(u)? },
        3 | 4 => ServerMessage::Offer {
            sdp,
            from: other(u)?,
            to: to(u)?,
        },
        5 => ServerMessage::Answer {
            sdp,
            from: other(u)?,
            to: to(u)?,
        },
        6 => ServerMessage::Candidate {
            candidate: u.arbitrary::<bool>()?.then(IceCandidate::default),
            from: other(u)?,
            to: to(u)?,
        },
        7 => ServerMessage::HangUp {
            from: other(u)?,
            to: to(u)?,
        },
        8 => ServerMessage::Ready { room: room() },
        9 => ServerMessage::Full {
            room: room(),
            capacity: u.arbitrary()?,
        },
        10 => ServerMessage::IceServers {
            ice_servers: Vec::new(),
            ttl: u.arbitrary()?,
            ice_transport_policy: IceTransportPolicy::All,
        },
        11 => ServerMessage::Resume {
            resume: ResumeToken::new(String::from("token-2")),
        },
        _ => ServerMessage::error(
            *u.choose(&[
                ErrorCode::NoPeer,
                ErrorCode::UnknownPeer,
                ErrorCode::IceUnavailable,
                ErrorCode::RateLimited,
                ErrorCode::NotInRoom,
            ])?,
            "refused",
        ),
    })
}

pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let mut page = Page {
        room: RoomState::new(room()),
        connections: Vec::new(),
    };
    while !u.is_empty() {
        let mut left = None;
        match u.int_in_range(0..=19)? {
            0..=9 => {
                let message = server_message(u)?;
                // Only a member's departure must close a call: a `peer_left` for someone the
                // room does not list (our `joined` after a reconnect did not) is a stale message.
                if let ServerMessage::PeerLeft { peer } = &message
                    && page.room.has_member(peer)
                {
                    left = Some(peer.clone());
                }
                let actions = page.room.on_message(message);
                page.apply(actions);
            }
            10 => {
                let actions = page.room.socket_opened();
                page.apply(actions);
            }
            11 => {
                page.room.socket_closed();
            }
            12 => {
                let actions = page.room.replaced();
                page.apply(actions);
            }
            13 => page.room.take_back(),
            14 => {
                // Call: offer to everybody in the room.
                for member in page.room.members().unwrap_or_default() {
                    page.offer_to(&member);
                }
            }
            15 => {
                let calls_with = page
                    .connections
                    .iter()
                    .map(|call| call.other.clone())
                    .collect();
                let actions = page.room.hang_up(calls_with);
                page.apply(actions);
            }
            16 => {
                // A `hello` on a call's data channel: the other person is now known as `new`.
                if !page.connections.is_empty() {
                    let at = u.choose_index(page.connections.len())?;
                    let old = page.connections[at].other.clone();
                    let new = other(u)?;
                    // As `rejoin.rs`: the call moves to the new key, replacing any call there.
                    let replaced = page.call_with_ref(&new).is_some() && new != old;
                    if replaced {
                        page.end_call(&new);
                    }
                    if let Some(call) = page.call_with(&old) {
                        call.other = new.clone();
                    }
                    page.room.readdress(&old, &new);
                }
            }
            _ => page.local_event(u)?,
        }
        page.check(left.as_ref());
    }
    Ok(())
}
