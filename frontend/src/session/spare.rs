//! The next call's peer connection, made ahead of time (a "warm" connection).
//!
//! While the page is in a room with its media on and no call runs, a peer connection waits
//! with the local tracks and the call's two data channels, and the browser gathers its ICE
//! candidates into a pool (`iceCandidatePoolSize`). Call, or the other side's offer, then
//! adopts it ([`super::Session::begin_call`]) and only has to make the offer or the answer.
//!
//! Nothing of it leaves the browser before a call adopts it: no description is made, so no
//! candidate is reported to the page and nothing goes to the signalling server or the other
//! person. (Gathering does ask the STUN/TURN servers the page was given on joining for its
//! addresses and a relay allocation, as every call's gathering does, only earlier.)
//!
//! Its events go through a cell rather than to a call: empty while it waits, so they are
//! dropped — `negotiationneeded` for its tracks among them, which the adopting call makes up
//! for by offering at once or by answering — then holding the adopting call's key.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use web_sys::{MediaStreamTrack, RtcSignalingState};

use super::Session;
use super::call::CallKey;
use crate::browser::channel::DataChannel;
use crate::browser::media::LocalMedia;
use crate::browser::peer::{IceConfig, PeerConnection};
use crate::browser::warn;

/// Which call the parts' events belong to; `None` while they wait.
pub(super) type KeyCell = Rc<RefCell<Option<CallKey>>>;

/// A call's browser parts, bound to no call yet.
pub(super) struct CallParts {
    pub(super) key: KeyCell,
    pub(super) peer: Rc<PeerConnection>,
    pub(super) channel: DataChannel,
    pub(super) files: DataChannel,
    /// The tracks it sends: it is adopted only while they are still the media's.
    tracks: Vec<MediaStreamTrack>,
    /// The ICE servers it was made with: it is adopted only while they are still the page's.
    ice: IceConfig,
}

impl CallParts {
    /// A peer connection sending `media` (if any), its data channels, and their events routed
    /// to `session`'s handlers for whichever call the cell will name.
    pub(super) fn new(
        session: &Weak<Session>,
        ice: &IceConfig,
        media: Option<&LocalMedia>,
    ) -> Option<Self> {
        let key: KeyCell = Rc::new(RefCell::new(None));
        let peer = PeerConnection::new(ice, {
            let this = session.clone();
            let key = Rc::clone(&key);
            move |event| {
                let bound = key.borrow().clone();
                if let (Some(session), Some(key)) = (this.upgrade(), bound) {
                    session.on_peer_event(&key, event);
                }
            }
        });
        let peer = match peer {
            Ok(peer) => Rc::new(peer),
            Err(error) => {
                warn("cannot create the peer connection", &error);
                return None;
            }
        };
        // Events fire as later tasks, so adding tracks here cannot re-enter the session.
        let tracks = media.map(LocalMedia::tracks).unwrap_or_default();
        if let Some(media) = media {
            peer.add_tracks(&tracks, media.stream());
        }
        let channel = DataChannel::negotiated(peer.raw(), {
            let this = session.clone();
            let key = Rc::clone(&key);
            move |event| {
                let bound = key.borrow().clone();
                if let (Some(session), Some(key)) = (this.upgrade(), bound) {
                    session.on_channel_event(&key, event);
                }
            }
        });
        let files = DataChannel::files(peer.raw(), {
            let this = session.clone();
            let key = Rc::clone(&key);
            move |event| {
                let bound = key.borrow().clone();
                if let (Some(session), Some(key)) = (this.upgrade(), bound) {
                    session.on_files_event(&key, event);
                }
            }
        });
        Some(Self {
            key,
            peer,
            channel,
            files,
            tracks,
            ice: ice.clone(),
        })
    }

    /// Whether a call can take these parts now: untouched (no description yet), sending the
    /// media's current tracks, with the page's current ICE servers.
    pub(super) fn fits(&self, ice: &IceConfig, media: Option<&LocalMedia>) -> bool {
        let tracks = media.map(LocalMedia::tracks).unwrap_or_default();
        self.peer.raw().signaling_state() == RtcSignalingState::Stable
            && !self.peer.has_remote_description()
            && self.peer.raw().local_description().is_none()
            && self.tracks == tracks
            && self.ice == *ice
    }

    /// Closes what was never adopted.
    pub(super) fn close(&self) {
        self.channel.close();
        self.files.close();
        self.peer.close();
    }
}

impl Session {
    /// Makes the spare, or makes it anew if the media or the ICE servers changed since, while
    /// the page is in a room with its media on and no call runs.
    pub(super) fn prepare_spare(&self) {
        let mut state = self.state.borrow_mut();
        let wanted = state.calls.is_empty()
            && state.media.is_some()
            && state.transport.is_some()
            && state.room.me().is_some();
        if wanted
            && let Some(spare) = &state.spare
            && spare.fits(&state.ice, state.media.as_ref())
        {
            return;
        }
        if let Some(stale) = state.spare.take() {
            stale.close();
        }
        if wanted {
            state.spare = CallParts::new(&self.this, &state.ice, state.media.as_ref());
        }
    }

    /// Closes the spare, if any (the session stops).
    pub(super) fn drop_spare(&self) {
        let spare = self.state.borrow_mut().spare.take();
        if let Some(spare) = spare {
            spare.close();
        }
    }
}
