//! Perfect negotiation: who yields when both browsers send an offer at once.
//!
//! The pattern from the WebRTC specification (§ 10.7, "Perfect negotiation example"): each side
//! offers whenever its peer connection needs negotiation; when offers collide, the *impolite*
//! side ignores the other's offer, and the *polite* side yields. The specification's polite side
//! rolls its own offer back; ours instead **starts over**: it closes its peer connection and
//! answers the other's offer on a fresh one ([`Decision::StartOver`]). Nothing has flowed yet
//! when offers collide, so nothing is lost, and Chromium sometimes stops gathering for good after
//! rolling back an offer whose gathering had begun (ICE stays "new" on both sides: seen in the
//! both-press-Call end-to-end test, about one run in ten); a fresh connection never does.
//!
//! The roles come from the peer ids the server assigned, so both sides agree without talking
//! about it. This module keeps the flags and makes the decisions; the SDP work itself happens in
//! [`crate::session`] against a real `RTCPeerConnection`.

use shared::PeerId;

/// Which side yields in an offer collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Gives up its own offer (starting over with a fresh connection) and answers the other's.
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
    /// Set it as the remote description; answer it if it is an offer.
    Accept,
    /// Drop it: our own offer wins the collision (the impolite side).
    Ignore,
    /// Offers collided and we yield (the polite side): close this peer connection, open a
    /// fresh one and accept the offer there. This negotiation's flags are then obsolete.
    StartOver,
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

    /// A description arrived while the peer connection's signalling state is `stable` or not.
    ///
    /// An offer collides with ours while we are making one, or while our offer is out and no
    /// answer is being set (the state is then `have-local-offer`). An offer right behind an
    /// answer being set is no collision: the connection applies them in order.
    pub fn on_description(&mut self, kind: DescriptionKind, stable: bool) -> Decision {
        let ready_for_offer = !self.making_offer && (stable || self.setting_remote_answer);
        let collision = kind == DescriptionKind::Offer && !ready_for_offer;
        self.ignoring_offer = collision && self.role == Role::Impolite;
        if self.ignoring_offer {
            return Decision::Ignore;
        }
        if collision {
            return Decision::StartOver;
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

    /// Both press Call: the impolite side ignores the other offer, the polite side starts over
    /// (whether its own offer is still being made or already set locally).
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
            Decision::StartOver
        );
        polite.offer_finished();
        assert_eq!(
            polite.on_description(DescriptionKind::Offer, false),
            Decision::StartOver,
            "have-local-offer"
        );
        assert!(polite.candidate_error_matters());
        // After its offer is set locally the state is "have-local-offer": still a collision.
        impolite.offer_finished();
        assert_eq!(
            impolite.on_description(DescriptionKind::Offer, false),
            Decision::Ignore
        );
    }

    /// An offer right behind the answer being set is not a collision, for either role.
    #[test]
    fn offer_after_pending_answer_is_accepted() {
        for (role, collided) in [
            (Role::Impolite, Decision::Ignore),
            (Role::Polite, Decision::StartOver),
        ] {
            let mut negotiation = Negotiation::new(role);
            negotiation.offer_started();
            negotiation.offer_finished();
            assert_eq!(
                negotiation.on_description(DescriptionKind::Answer, false),
                Decision::Accept
            );
            assert_eq!(
                negotiation.on_description(DescriptionKind::Offer, false),
                Decision::Accept,
                "{role:?}"
            );
            negotiation.answer_set();
            assert_eq!(
                negotiation.on_description(DescriptionKind::Offer, false),
                collided,
                "{role:?}"
            );
        }
    }

    /// Answers are never ignored nor a reason to start over, by either role mid-offer.
    #[test]
    fn answers_are_always_accepted() {
        for role in [Role::Polite, Role::Impolite] {
            let mut negotiation = Negotiation::new(role);
            negotiation.offer_started();
            assert_eq!(
                negotiation.on_description(DescriptionKind::Answer, false),
                Decision::Accept
            );
        }
    }
}
