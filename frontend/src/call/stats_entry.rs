//! One `RTCStats` object of a `getStats()` report, reduced to the fields the call reads.
//!
//! The browser layer ([`crate::browser::peer::PeerConnection::stats`]) walks the report once
//! and fills these; the route ([`super::route`]), the live numbers ([`super::stats`]) and the
//! verification code ([`super::verify_code`]) are decided from them as plain data. A field the entry's type does not carry is `None`.

/// The few fields of one `RTCStats` object that the call uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsEntry {
    pub id: String,
    /// The stats `type`: `transport`, `candidate-pair`, `local-candidate`, `inbound-rtp`, ...
    pub kind: String,
    /// `timestamp`: when the browser measured this entry, in milliseconds.
    pub timestamp: Option<f64>,
    /// `transport.selectedCandidatePairId`.
    pub selected_candidate_pair_id: Option<String>,
    /// `candidate-pair.localCandidateId` / `remoteCandidateId`.
    pub local_candidate_id: Option<String>,
    pub remote_candidate_id: Option<String>,
    /// `candidate-pair.selected`: Firefox's own mark of the pair in use, as it has no
    /// `transport` entry (and can have several nominated pairs, a relayed one among them).
    pub selected: bool,
    /// `candidate-pair.state` and `.nominated`: the last fallback, when no pair is named.
    pub state: Option<String>,
    pub nominated: bool,
    /// `candidate-pair.currentRoundTripTime`, in seconds.
    pub current_round_trip_time: Option<f64>,
    /// `local-candidate` / `remote-candidate` `.candidateType`: host, srflx, prflx or relay.
    pub candidate_type: Option<String>,
    /// `inbound-rtp` / `outbound-rtp` `.kind`: `audio` or `video`.
    pub media_kind: Option<String>,
    /// `inbound-rtp.bytesReceived`, `outbound-rtp.bytesSent`: totals since the call began.
    pub bytes_received: Option<f64>,
    pub bytes_sent: Option<f64>,
    /// `inbound-rtp.packetsReceived` / `.packetsLost`: totals (lost can go down on duplicates).
    pub packets_received: Option<f64>,
    pub packets_lost: Option<f64>,
    /// `inbound-rtp` video: the size and rate of the picture as decoded.
    pub frame_width: Option<f64>,
    pub frame_height: Option<f64>,
    pub frames_per_second: Option<f64>,
    /// `inbound-rtp.codecId`, pointing at a `codec` entry, whose `mimeType` is `video/VP8`...
    pub codec_id: Option<String>,
    pub mime_type: Option<String>,
    /// `transport.dtlsState`: `connected` once the DTLS handshake checked the other
    /// certificate against the fingerprint in its SDP.
    pub dtls_state: Option<String>,
    /// `transport.localCertificateId` / `remoteCertificateId`, pointing at `certificate`
    /// entries, whose `fingerprint` is `AB:CD:…` (see [`super::verify_code`]).
    pub local_certificate_id: Option<String>,
    pub remote_certificate_id: Option<String>,
    pub fingerprint: Option<String>,
}
