//! Holding ICE candidates until the other end can use them, in both directions.
//!
//! Local candidates wait until this page has sent its description (offer or answer) and the
//! signalling socket is up: a candidate that overtakes its description is refused by the other
//! browser. Remote candidates wait until the remote description is set: `addIceCandidate` fails
//! before that. `None` stands for the end of gathering (`"candidate": null` on the wire) and
//! queues like any candidate, so it keeps its place at the end.

use shared::IceCandidate;

/// One candidate as it travels: `None` means gathering is complete.
pub type Candidate = Option<IceCandidate>;

/// Candidates this browser found, waiting for the other side to be ready for them.
#[derive(Debug, Default)]
pub struct LocalCandidates {
    description_sent: bool,
    signalling_up: bool,
    /// Invariant: empty whenever both flags above are true.
    pending: Vec<Candidate>,
}

impl LocalCandidates {
    /// A buffer for a new peer connection: nothing sent yet, signalling assumed up.
    pub fn new(signalling_up: bool) -> Self {
        Self {
            signalling_up,
            ..Self::default()
        }
    }

    fn ready(&self) -> bool {
        self.description_sent && self.signalling_up
    }

    /// A candidate was found; returns the candidates to send now (this one, or none).
    pub fn push(&mut self, candidate: Candidate) -> Vec<Candidate> {
        self.pending.push(candidate);
        self.drain_if_ready()
    }

    /// This page's offer or answer went out; returns what was held back for it.
    pub fn description_sent(&mut self) -> Vec<Candidate> {
        self.description_sent = true;
        self.drain_if_ready()
    }

    /// The signalling socket came up (`true`) or went down (`false`); returns what can go now.
    pub fn signalling(&mut self, up: bool) -> Vec<Candidate> {
        self.signalling_up = up;
        self.drain_if_ready()
    }

    /// How many candidates are waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn drain_if_ready(&mut self) -> Vec<Candidate> {
        if self.ready() {
            std::mem::take(&mut self.pending)
        } else {
            Vec::new()
        }
    }
}

/// Candidates from the other browser, waiting for the remote description.
#[derive(Debug, Default)]
pub struct RemoteCandidates {
    remote_description_set: bool,
    /// Invariant: empty once `remote_description_set`.
    pending: Vec<Candidate>,
}

impl RemoteCandidates {
    /// A candidate arrived; returns it if it can be added now, else keeps it.
    pub fn push(&mut self, candidate: Candidate) -> Option<Candidate> {
        if self.remote_description_set {
            Some(candidate)
        } else {
            self.pending.push(candidate);
            None
        }
    }

    /// The remote description is set; returns the candidates to add, in arrival order.
    pub fn remote_description_set(&mut self) -> Vec<Candidate> {
        self.remote_description_set = true;
        std::mem::take(&mut self.pending)
    }

    /// How many candidates are waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(text: &str) -> Candidate {
        Some(IceCandidate {
            candidate: Some(text.to_owned()),
            sdp_mid: Some("0".to_owned()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        })
    }

    /// Local candidates found before the offer went out follow it, in order, end marker last.
    #[test]
    fn local_candidates_wait_for_the_description() {
        let mut local = LocalCandidates::new(true);
        assert!(local.push(candidate("a")).is_empty());
        assert!(local.push(None).is_empty());
        assert_eq!(local.pending(), 2);
        assert_eq!(local.description_sent(), vec![candidate("a"), None]);
        assert_eq!(local.push(candidate("b")), vec![candidate("b")]);
        assert_eq!(local.pending(), 0);
    }

    /// While the signalling socket is down, local candidates are held and sent on reconnect.
    #[test]
    fn local_candidates_wait_for_signalling() {
        let mut local = LocalCandidates::new(false);
        assert!(local.description_sent().is_empty());
        assert!(local.push(candidate("a")).is_empty());
        assert_eq!(local.signalling(true), vec![candidate("a")]);
        assert!(local.signalling(false).is_empty());
        assert!(local.push(candidate("b")).is_empty());
        assert_eq!(local.signalling(true), vec![candidate("b")]);
    }

    /// Remote candidates before the remote description are added right after it, in order.
    #[test]
    fn remote_candidates_wait_for_the_remote_description() {
        let mut remote = RemoteCandidates::default();
        assert_eq!(remote.push(candidate("a")), None);
        assert_eq!(remote.push(None), None);
        assert_eq!(remote.pending(), 2);
        assert_eq!(remote.remote_description_set(), vec![candidate("a"), None]);
        assert_eq!(remote.push(candidate("b")), Some(candidate("b")));
        assert_eq!(remote.pending(), 0);
    }
}
