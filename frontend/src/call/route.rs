//! Whether the call goes straight between the two browsers or through a TURN relay.
//!
//! Read from `getStats()`: the transport names its selected candidate pair; if either end of
//! that pair is a `relay` candidate, the media is relayed. The browser layer turns the stats
//! report into [`StatsEntry`] values; the rule itself is here.

/// How the media travels once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Direct,
    Relayed,
}

impl Route {
    /// The `data-route` attribute value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Relayed => "relayed",
        }
    }
}

/// The few fields of one `RTCStats` object that decide the route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsEntry {
    pub id: String,
    /// The stats `type`: `transport`, `candidate-pair`, `local-candidate`, ...
    pub kind: String,
    /// `transport.selectedCandidatePairId`.
    pub selected_candidate_pair_id: Option<String>,
    /// `candidate-pair.localCandidateId` / `remoteCandidateId`.
    pub local_candidate_id: Option<String>,
    pub remote_candidate_id: Option<String>,
    /// `candidate-pair.state` and `.nominated`: the fallback when no transport names a pair.
    pub state: Option<String>,
    pub nominated: bool,
    /// `local-candidate` / `remote-candidate` `.candidateType`: host, srflx, prflx or relay.
    pub candidate_type: Option<String>,
}

/// The route of the selected candidate pair, or `None` while no pair is selected yet.
pub fn route_from_stats(entries: &[StatsEntry]) -> Option<Route> {
    let find = |id: &str| entries.iter().find(|entry| entry.id == id);
    let selected = entries
        .iter()
        .filter(|entry| entry.kind == "transport")
        .find_map(|transport| find(transport.selected_candidate_pair_id.as_deref()?))
        .or_else(|| {
            entries.iter().find(|entry| {
                entry.kind == "candidate-pair"
                    && entry.nominated
                    && entry.state.as_deref() == Some("succeeded")
            })
        })?;
    let local = find(selected.local_candidate_id.as_deref()?)?;
    let remote = find(selected.remote_candidate_id.as_deref()?)?;
    let relayed = [local, remote]
        .iter()
        .any(|candidate| candidate.candidate_type.as_deref() == Some("relay"));
    Some(if relayed {
        Route::Relayed
    } else {
        Route::Direct
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, kind: &str, candidate_type: &str) -> StatsEntry {
        StatsEntry {
            id: id.to_owned(),
            kind: kind.to_owned(),
            candidate_type: Some(candidate_type.to_owned()),
            ..StatsEntry::default()
        }
    }

    fn pair(id: &str, local: &str, remote: &str) -> StatsEntry {
        StatsEntry {
            id: id.to_owned(),
            kind: "candidate-pair".to_owned(),
            local_candidate_id: Some(local.to_owned()),
            remote_candidate_id: Some(remote.to_owned()),
            state: Some("succeeded".to_owned()),
            nominated: true,
            ..StatsEntry::default()
        }
    }

    fn transport(selected: &str) -> StatsEntry {
        StatsEntry {
            id: "T01".to_owned(),
            kind: "transport".to_owned(),
            selected_candidate_pair_id: Some(selected.to_owned()),
            ..StatsEntry::default()
        }
    }

    /// host/host through the transport's selected pair is direct; another pair is ignored.
    #[test]
    fn selected_host_pair_is_direct() {
        let stats = [
            candidate("L1", "local-candidate", "host"),
            candidate("R1", "remote-candidate", "host"),
            candidate("L2", "local-candidate", "relay"),
            pair("P1", "L1", "R1"),
            pair("P2", "L2", "R1"),
            transport("P1"),
        ];
        assert_eq!(route_from_stats(&stats), Some(Route::Direct));
    }

    /// A relay candidate on either end of the selected pair means relayed through TURN.
    #[test]
    fn relay_on_either_end_is_relayed() {
        let stats = [
            candidate("L1", "local-candidate", "host"),
            candidate("R1", "remote-candidate", "relay"),
            pair("P1", "L1", "R1"),
            transport("P1"),
        ];
        assert_eq!(route_from_stats(&stats), Some(Route::Relayed));
    }

    /// Without a transport entry, the nominated succeeded pair decides.
    #[test]
    fn nominated_pair_is_the_fallback() {
        let stats = [
            candidate("L1", "local-candidate", "relay"),
            candidate("R1", "remote-candidate", "relay"),
            pair("P1", "L1", "R1"),
        ];
        assert_eq!(route_from_stats(&stats), Some(Route::Relayed));
    }

    /// Before a pair is selected there is no route to report.
    #[test]
    fn no_selected_pair_is_unknown() {
        let stats = [candidate("L1", "local-candidate", "host")];
        assert_eq!(route_from_stats(&stats), None);
    }
}
