//! Whether the call goes straight between the two browsers or through a TURN relay.
//!
//! Read from `getStats()`: the transport names its selected candidate pair; if either end of
//! that pair is a `relay` candidate, the media is relayed. The browser layer turns the stats
//! report into [`StatsEntry`] values; the rule itself is here.

pub use super::stats_entry::StatsEntry;

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

/// The selected candidate pair and its two ends, found in one report.
#[derive(Debug, Clone, Copy)]
pub struct SelectedPair<'a> {
    pub pair: &'a StatsEntry,
    pub local: &'a StatsEntry,
    pub remote: &'a StatsEntry,
}

impl SelectedPair<'_> {
    /// Relayed if either end is a `relay` candidate, direct otherwise.
    pub fn route(&self) -> Route {
        let relayed = [self.local, self.remote]
            .iter()
            .any(|candidate| candidate.candidate_type.as_deref() == Some("relay"));
        if relayed {
            Route::Relayed
        } else {
            Route::Direct
        }
    }
}

/// The pair the transport names as selected (Chromium), or the pair marked `selected`
/// (Firefox), or failing both the nominated succeeded one, with its local and remote
/// candidates; `None` while no pair is selected yet.
pub fn selected_pair(entries: &[StatsEntry]) -> Option<SelectedPair<'_>> {
    let find = |id: &str| entries.iter().find(|entry| entry.id == id);
    let pair = entries
        .iter()
        .filter(|entry| entry.kind == "transport")
        .find_map(|transport| find(transport.selected_candidate_pair_id.as_deref()?))
        .or_else(|| {
            entries
                .iter()
                .find(|entry| entry.kind == "candidate-pair" && entry.selected)
        })
        .or_else(|| {
            entries.iter().find(|entry| {
                entry.kind == "candidate-pair"
                    && entry.nominated
                    && entry.state.as_deref() == Some("succeeded")
            })
        })?;
    Some(SelectedPair {
        pair,
        local: find(pair.local_candidate_id.as_deref()?)?,
        remote: find(pair.remote_candidate_id.as_deref()?)?,
    })
}

/// The route of the selected candidate pair, or `None` while no pair is selected yet.
pub fn route_from_stats(entries: &[StatsEntry]) -> Option<Route> {
    selected_pair(entries).map(|selected| selected.route())
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

    /// Firefox: no transport entry, and two nominated succeeded pairs, a relayed one listed
    /// first: the pair Firefox marks `selected` decides.
    #[test]
    fn firefox_selected_pair_wins_over_another_nominated_one() {
        let selected = StatsEntry {
            selected: true,
            ..pair("P2", "L2", "R1")
        };
        let stats = [
            candidate("L1", "local-candidate", "relay"),
            candidate("L2", "local-candidate", "host"),
            candidate("R1", "remote-candidate", "prflx"),
            pair("P1", "L1", "R1"),
            selected,
        ];
        assert_eq!(route_from_stats(&stats), Some(Route::Direct));
    }

    /// Before a pair is selected there is no route to report.
    #[test]
    fn no_selected_pair_is_unknown() {
        let stats = [candidate("L1", "local-candidate", "host")];
        assert_eq!(route_from_stats(&stats), None);
    }
}
