//! The live numbers of a call — round trip, bitrates, loss, picture, codecs, route — from two
//! `getStats()` reports a second apart, and the words the stats panel shows for each.
//!
//! `getStats()` gives totals (bytes, packets) since the call began; a rate is the difference
//! between two reports over the time between them. [`Snapshot::from_stats`] keeps what one
//! report says, [`Reading::between`] turns two of them into the numbers, and [`Stat`] names
//! each number and formats it with its unit. Nothing here touches the browser; the session
//! polls, and [`super::stats_history`] keeps the last minute for the graph.

use super::route::{Route, selected_pair};
use super::stats_entry::StatsEntry;

/// What one report says, totals included, at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The newest `timestamp` in the report, in milliseconds.
    pub at_ms: f64,
    /// Media bytes received and sent (every `inbound-rtp` / `outbound-rtp`, audio and video).
    pub bytes_received: f64,
    pub bytes_sent: f64,
    /// Media packets received and lost, over every `inbound-rtp`.
    pub packets_received: f64,
    pub packets_lost: f64,
    /// The selected pair's current round trip, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The received picture: width and height as decoded, and frames per second.
    pub resolution: Option<(u32, u32)>,
    pub fps: Option<f64>,
    /// Codec names as `mimeType` gives them after the slash: `VP8`, `opus`.
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub route: Option<RouteDetail>,
}

/// The route and the types of the two candidates of the selected pair (host, srflx, prflx,
/// relay), so a person helping can tell a direct host pair from a relayed one at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteDetail {
    pub route: Route,
    pub local: String,
    pub remote: String,
}

impl Snapshot {
    /// Reads one report.
    pub fn from_stats(entries: &[StatsEntry]) -> Self {
        let of_kind = |kind: &'static str| entries.iter().filter(move |entry| entry.kind == kind);
        let sum = |kind: &'static str, field: fn(&StatsEntry) -> Option<f64>| -> f64 {
            of_kind(kind).filter_map(field).sum()
        };
        let inbound_video = of_kind("inbound-rtp")
            .find(|entry| entry.media_kind.as_deref() == Some("video"))
            .cloned()
            .unwrap_or_default();
        let codec = |media: &str| {
            let codec_id = of_kind("inbound-rtp")
                .find(|entry| entry.media_kind.as_deref() == Some(media))?
                .codec_id
                .as_deref()?;
            let mime = entries
                .iter()
                .find(|entry| entry.id == codec_id)?
                .mime_type
                .as_deref()?;
            Some(
                mime.split_once('/')
                    .map_or(mime, |(_, name)| name)
                    .to_owned(),
            )
        };
        let selected = selected_pair(entries);
        let resolution = match (inbound_video.frame_width, inbound_video.frame_height) {
            (Some(width), Some(height)) if width > 0.0 && height > 0.0 => {
                Some((width as u32, height as u32))
            }
            _ => None,
        };
        Self {
            at_ms: entries
                .iter()
                .filter_map(|entry| entry.timestamp)
                .fold(0.0, f64::max),
            bytes_received: sum("inbound-rtp", |entry| entry.bytes_received),
            bytes_sent: sum("outbound-rtp", |entry| entry.bytes_sent),
            packets_received: sum("inbound-rtp", |entry| entry.packets_received),
            packets_lost: sum("inbound-rtp", |entry| entry.packets_lost),
            rtt_ms: selected
                .and_then(|selected| selected.pair.current_round_trip_time)
                .map(|seconds| seconds * 1000.0),
            resolution,
            fps: inbound_video.frames_per_second,
            video_codec: codec("video"),
            audio_codec: codec("audio"),
            route: selected.map(|selected| RouteDetail {
                route: selected.route(),
                local: selected.local.candidate_type.clone().unwrap_or_default(),
                remote: selected.remote.candidate_type.clone().unwrap_or_default(),
            }),
        }
    }
}

/// The numbers the panel shows, each `None` until it can be known (a rate needs two reports).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub rtt_ms: Option<f64>,
    /// Bits per second over the last interval.
    pub bitrate_in: Option<f64>,
    pub bitrate_out: Option<f64>,
    /// Packets lost over the last interval, as a percentage of those expected.
    pub packet_loss: Option<f64>,
    pub resolution: Option<(u32, u32)>,
    pub fps: Option<f64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub route: Option<RouteDetail>,
}

impl Reading {
    /// The numbers of `current`, with the rates since `previous` (the report before it, if
    /// any). Counters that went backwards (a new transceiver, a restart) give no rate rather
    /// than a negative one.
    pub fn between(previous: Option<&Snapshot>, current: &Snapshot) -> Self {
        let elapsed_s = previous
            .map(|previous| (current.at_ms - previous.at_ms) / 1000.0)
            .filter(|seconds| *seconds > 0.0);
        let rate = |now: f64, before: f64| {
            let seconds = elapsed_s?;
            (now >= before).then(|| (now - before) * 8.0 / seconds)
        };
        let (bitrate_in, bitrate_out, packet_loss) = match previous {
            Some(previous) => {
                let lost = (current.packets_lost - previous.packets_lost).max(0.0);
                let received = (current.packets_received - previous.packets_received).max(0.0);
                let expected = lost + received;
                (
                    rate(current.bytes_received, previous.bytes_received),
                    rate(current.bytes_sent, previous.bytes_sent),
                    elapsed_s.map(|_| {
                        if expected > 0.0 {
                            lost / expected * 100.0
                        } else {
                            0.0
                        }
                    }),
                )
            }
            None => (None, None, None),
        };
        Self {
            rtt_ms: current.rtt_ms,
            bitrate_in,
            bitrate_out,
            packet_loss,
            resolution: current.resolution,
            fps: current.fps,
            video_codec: current.video_codec.clone(),
            audio_codec: current.audio_codec.clone(),
            route: current.route.clone(),
        }
    }
}

/// Each number the panel shows. Its `data-stat` name is part of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Rtt,
    BitrateIn,
    BitrateOut,
    PacketLoss,
    Resolution,
    Fps,
    Codec,
    Route,
}

/// Shown while a number is not known yet (before the call connects, or the first second).
pub const UNKNOWN: &str = "—";

impl Stat {
    /// Every stat, in the order the panel lists them.
    pub const ALL: [Self; 8] = [
        Self::Rtt,
        Self::BitrateIn,
        Self::BitrateOut,
        Self::PacketLoss,
        Self::Resolution,
        Self::Fps,
        Self::Codec,
        Self::Route,
    ];

    /// The `data-stat` attribute.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rtt => "rtt",
            Self::BitrateIn => "bitrate-in",
            Self::BitrateOut => "bitrate-out",
            Self::PacketLoss => "packet-loss",
            Self::Resolution => "resolution",
            Self::Fps => "fps",
            Self::Codec => "codec",
            Self::Route => "route",
        }
    }

    /// The label a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Self::Rtt => "Round trip",
            Self::BitrateIn => "Receiving",
            Self::BitrateOut => "Sending",
            Self::PacketLoss => "Packets lost",
            Self::Resolution => "Their picture",
            Self::Fps => "Frame rate",
            Self::Codec => "Codecs",
            Self::Route => "Route",
        }
    }

    /// The value with its unit, or [`UNKNOWN`].
    pub fn text(self, reading: Option<&Reading>) -> String {
        let Some(reading) = reading else {
            return UNKNOWN.to_owned();
        };
        let text = match self {
            Self::Rtt => reading.rtt_ms.map(|ms| format!("{ms:.0} ms")),
            Self::BitrateIn => reading.bitrate_in.map(bitrate),
            Self::BitrateOut => reading.bitrate_out.map(bitrate),
            Self::PacketLoss => reading.packet_loss.map(|percent| format!("{percent:.1} %")),
            Self::Resolution => reading
                .resolution
                .map(|(width, height)| format!("{width}×{height}")),
            Self::Fps => reading.fps.map(|fps| format!("{fps:.0} fps")),
            Self::Codec => match (&reading.video_codec, &reading.audio_codec) {
                (Some(video), Some(audio)) => Some(format!("{video} / {audio}")),
                (Some(one), None) | (None, Some(one)) => Some(one.clone()),
                (None, None) => None,
            },
            Self::Route => reading.route.as_ref().map(|detail| {
                format!(
                    "{} ({} → {})",
                    detail.route.as_str(),
                    detail.local,
                    detail.remote
                )
            }),
        };
        text.unwrap_or_else(|| UNKNOWN.to_owned())
    }
}

/// Bits per second in kbit/s below one megabit, in Mbit/s with one decimal above.
pub fn bitrate(bits_per_second: f64) -> String {
    if bits_per_second < 1_000_000.0 {
        format!("{:.0} kbit/s", bits_per_second / 1000.0)
    } else {
        format!("{:.1} Mbit/s", bits_per_second / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, kind: &str) -> StatsEntry {
        StatsEntry {
            id: id.to_owned(),
            kind: kind.to_owned(),
            ..StatsEntry::default()
        }
    }

    /// A report of a direct call: `received` and `sent` bytes, packets `lost` of `packets`,
    /// taken at `at_ms`.
    fn report(at_ms: f64, received: f64, sent: f64, packets: f64, lost: f64) -> Vec<StatsEntry> {
        let video_in = StatsEntry {
            timestamp: Some(at_ms),
            media_kind: Some("video".into()),
            bytes_received: Some(received * 0.75),
            packets_received: Some(packets),
            packets_lost: Some(lost),
            frame_width: Some(640.0),
            frame_height: Some(480.0),
            frames_per_second: Some(29.6),
            codec_id: Some("CV".into()),
            ..entry("IV", "inbound-rtp")
        };
        let audio_in = StatsEntry {
            timestamp: Some(at_ms),
            media_kind: Some("audio".into()),
            bytes_received: Some(received * 0.25),
            codec_id: Some("CA".into()),
            ..entry("IA", "inbound-rtp")
        };
        let video_out = StatsEntry {
            bytes_sent: Some(sent),
            ..entry("OV", "outbound-rtp")
        };
        // Another side's view of what we sent: must not count as received.
        let remote_inbound = StatsEntry {
            bytes_received: Some(1e9),
            packets_lost: Some(1e6),
            ..entry("RI", "remote-inbound-rtp")
        };
        vec![
            video_in,
            audio_in,
            video_out,
            remote_inbound,
            StatsEntry {
                mime_type: Some("video/VP8".into()),
                ..entry("CV", "codec")
            },
            StatsEntry {
                mime_type: Some("audio/opus".into()),
                ..entry("CA", "codec")
            },
            StatsEntry {
                candidate_type: Some("host".into()),
                ..entry("L", "local-candidate")
            },
            StatsEntry {
                candidate_type: Some("host".into()),
                ..entry("R", "remote-candidate")
            },
            StatsEntry {
                local_candidate_id: Some("L".into()),
                remote_candidate_id: Some("R".into()),
                current_round_trip_time: Some(0.012),
                ..entry("P", "candidate-pair")
            },
            StatsEntry {
                selected_candidate_pair_id: Some("P".into()),
                ..entry("T", "transport")
            },
        ]
    }

    /// Two reports a second apart give every number, each with its unit.
    #[test]
    fn two_reports_give_every_number_with_its_unit() {
        let before = Snapshot::from_stats(&report(1000.0, 0.0, 0.0, 100.0, 0.0));
        let after = Snapshot::from_stats(&report(2000.0, 150_000.0, 125_000.0, 198.0, 2.0));
        let reading = Reading::between(Some(&before), &after);
        let shown: Vec<String> = Stat::ALL
            .iter()
            .map(|stat| stat.text(Some(&reading)))
            .collect();
        assert_eq!(
            shown,
            [
                "12 ms",
                "1.2 Mbit/s",
                "1.0 Mbit/s",
                "2.0 %",
                "640×480",
                "30 fps",
                "VP8 / opus",
                "direct (host → host)",
            ]
        );
    }

    /// The rate is over the time between the reports, not per report.
    #[test]
    fn bitrate_divides_by_the_time_between_reports() {
        let before = Snapshot::from_stats(&report(0.0, 0.0, 0.0, 0.0, 0.0));
        let after = Snapshot::from_stats(&report(2000.0, 100_000.0, 0.0, 0.0, 0.0));
        let reading = Reading::between(Some(&before), &after);
        assert_eq!(reading.bitrate_in, Some(400_000.0));
        assert_eq!(Stat::BitrateIn.text(Some(&reading)), "400 kbit/s");
        assert_eq!(Stat::PacketLoss.text(Some(&reading)), "0.0 %");
    }

    /// The first report has no rate yet; no report at all shows the dash everywhere.
    #[test]
    fn rates_need_two_reports() {
        let first = Snapshot::from_stats(&report(1000.0, 5000.0, 5000.0, 10.0, 0.0));
        let reading = Reading::between(None, &first);
        assert_eq!(Stat::BitrateIn.text(Some(&reading)), UNKNOWN);
        assert_eq!(Stat::PacketLoss.text(Some(&reading)), UNKNOWN);
        assert_eq!(Stat::Rtt.text(Some(&reading)), "12 ms");
        for stat in Stat::ALL {
            assert_eq!(stat.text(None), UNKNOWN, "{stat:?}");
        }
    }

    /// Counters that went backwards give no rate, never a negative one.
    #[test]
    fn counters_going_backwards_give_no_rate() {
        let before = Snapshot::from_stats(&report(1000.0, 9000.0, 9000.0, 10.0, 0.0));
        let after = Snapshot::from_stats(&report(2000.0, 10.0, 10.0, 5.0, 0.0));
        let reading = Reading::between(Some(&before), &after);
        assert_eq!(reading.bitrate_in, None);
        assert_eq!(reading.bitrate_out, None);
        assert_eq!(reading.packet_loss, Some(0.0));
    }

    /// A relay candidate on the selected pair reads as relayed, with both candidate types.
    #[test]
    fn relayed_route_names_the_candidate_types() {
        let mut entries = report(1000.0, 0.0, 0.0, 0.0, 0.0);
        for entry in &mut entries {
            if entry.kind == "local-candidate" {
                entry.candidate_type = Some("relay".into());
            }
        }
        let reading = Reading::between(None, &Snapshot::from_stats(&entries));
        assert_eq!(Stat::Route.text(Some(&reading)), "relayed (relay → host)");
    }

    /// Small rates in kbit/s, large ones in Mbit/s.
    #[test]
    fn bitrate_units() {
        assert_eq!(bitrate(0.0), "0 kbit/s");
        assert_eq!(bitrate(48_400.0), "48 kbit/s");
        assert_eq!(bitrate(2_460_000.0), "2.5 Mbit/s");
    }
}
