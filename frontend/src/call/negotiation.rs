//! Perfect negotiation: who yields when both browsers send an offer at once.
//!
//! The pattern from the WebRTC specification (§ 10.7, "Perfect negotiation example"): each side
//! offers whenever its peer connection needs negotiation; when offers collide, the *polite* side
//! rolls its own back and answers, the *impolite* side ignores the other's offer. The roles come
//! from the peer ids the server assigned, so both sides agree without talking about it.
//!
//! This module keeps the flags and makes the decisions; the SDP work itself happens in
//! [`crate::session`] against a real `RTCPeerConnection`.

use shared::PeerId;

/// Which side yields in an offer collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Rolls back its own offer and accepts the other's.
    Polite,
    /// Ignores the other's offer and waits for the answer to its own.
    Impolite,
}

impl Role {
    /// The role of `me` towards `them`: the smaller id is polite. Ids are distinct, so exactly
    /// one side of every pair is polite.
    pub fn between(me: &PeerId, them: &PeerId) -> Self {
        if me < them {
            Self::Polite
        } else {
            Self::Impolite
        }
    }
}

/// What to do with a description from the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Set it as the remote description (rolling back a local offer if needed); answer it if
    /// it is an offer.
    Accept,
    /// Drop it: our own offer wins the collision.
    Ignore,
}

/// The kind of a description from the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptionKind {
    Offer,
    Answer,
}

/// The perfect-negotiation flags of one peer connection.
#[derive(Debug, Clone)]
pub struct Negotiation {
    role: Role,
    /// True between starting `setLocalDescription()` for an offer and its completion.
    making_offer: bool,
    /// True while an answer from the other side is being set: the signalling state is not
    /// "stable" then, yet an offer arriving behind it is no collision.
    setting_remote_answer: bool,
    /// True when the last offer was ignored: errors from its candidates are then expected.
    ignoring_offer: bool,
}

impl Negotiation {
    pub fn new(role: Role) -> Self {
        Self {
            role,
            making_offer: false,
            setting_remote_answer: false,
            ignoring_offer: false,
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// `negotiationneeded` fired and we start making an offer.
    pub fn offer_started(&mut self) {
        self.making_offer = true;
    }

    /// Our offer is set locally (or failed); the window for collisions closes.
    pub fn offer_finished(&mut self) {
        self.making_offer = false;
    }

    /// Whether we are between starting and finishing an offer.
    pub fn making_offer(&self) -> bool {
        self.making_offer
    }

    /// A description arrived while the peer connection's signalling state is `stable` or not.
    pub fn on_description(&mut self, kind: DescriptionKind, stable: bool) -> Decision {
        let ready_for_offer = !self.making_offer && (stable || self.setting_remote_answer);
        let collision = kind == DescriptionKind::Offer && !ready_for_offer;
        self.ignoring_offer = collision && self.role == Role::Impolite;
        if self.ignoring_offer {
            return Decision::Ignore;
        }
        if kind == DescriptionKind::Answer {
            self.setting_remote_answer = true;
        }
        Decision::Accept
    }

    /// Setting an accepted answer finished (successfully or not).
    pub fn answer_set(&mut self) {
        self.setting_remote_answer = false;
    }

    /// Whether a failing `addIceCandidate` deserves a warning: not when it belongs to an offer
    /// we chose to ignore.
    pub fn candidate_error_matters(&self) -> bool {
        !self.ignoring_offer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly one of two peers is polite, whichever way round they compare.
    #[test]
    fn roles_are_complementary() {
        let (a, b) = (PeerId::new("a1f0c3"), PeerId::new("b7e912"));
        assert_eq!(Role::between(&a, &b), Role::Polite);
        assert_eq!(Role::between(&b, &a), Role::Impolite);
    }

    /// An offer in a stable, idle connection is simply answered, by either role.
    #[test]
    fn offer_without_collision_is_accepted() {
        for role in [Role::Polite, Role::Impolite] {
            let mut negotiation = Negotiation::new(role);
            assert_eq!(
                negotiation.on_description(DescriptionKind::Offer, true),
                Decision::Accept
            );
            assert!(negotiation.candidate_error_matters());
        }
    }

    /// Both press Call: the impolite side ignores the other offer, the polite side accepts it.
    #[test]
    fn glare_is_resolved_by_role() {
        let mut impolite = Negotiation::new(Role::Impolite);
        let mut polite = Negotiation::new(Role::Polite);
        impolite.offer_started();
        polite.offer_started();
        assert_eq!(
            impolite.on_description(DescriptionKind::Offer, true),
            Decision::Ignore
        );
        assert!(!impolite.candidate_error_matters());
        assert_eq!(
            polite.on_description(DescriptionKind::Offer, true),
            Decision::Accept
        );
        // After its offer is set locally the state is "have-local-offer": still a collision.
        impolite.offer_finished();
        assert_eq!(
            impolite.on_description(DescriptionKind::Offer, false),
            Decision::Ignore
        );
    }

    /// An offer right behind the answer being set is not a collision.
    #[test]
    fn offer_after_pending_answer_is_accepted() {
        let mut impolite = Negotiation::new(Role::Impolite);
        impolite.offer_started();
        impolite.offer_finished();
        assert_eq!(
            impolite.on_description(DescriptionKind::Answer, false),
            Decision::Accept
        );
        assert_eq!(
            impolite.on_description(DescriptionKind::Offer, false),
            Decision::Accept
        );
        impolite.answer_set();
        assert_eq!(
            impolite.on_description(DescriptionKind::Offer, false),
            Decision::Ignore
        );
    }

    /// Answers are never ignored, even by the impolite side in the middle of an offer.
    #[test]
    fn answers_are_always_accepted() {
        let mut impolite = Negotiation::new(Role::Impolite);
        impolite.offer_started();
        assert_eq!(
            impolite.on_description(DescriptionKind::Answer, false),
            Decision::Accept
        );
    }
}
