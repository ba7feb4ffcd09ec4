//! File transfers as plain data: which offers to accept from the other browser, what arrived
//! and whether it is whole, the ids and limits of what is being sent, the speed, and the words
//! the page shows.
//!
//! Nothing here holds a browser object: the bytes' storage (Blobs) and the channel are the
//! session's, attached to each transfer as the generic `T`. The hash is computed here
//! (`sha2`, incrementally), so a 1 GB file is never held whole to be checked.

use std::collections::{BTreeMap, VecDeque};

use sha2::{Digest, Sha256};
use shared::{CHUNK_HEADER_BYTES, MAX_CHUNK_BYTES};
use thiserror::Error;

use super::chat::Author;

/// The largest file accepted: far above the 1 GB the product promises, well below what would
/// exhaust a browser's Blob storage.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// The longest file name accepted, in characters (what common file systems allow).
pub const MAX_NAME_CHARS: usize = 255;

/// How many files may be on their way at once in each direction (offered, not yet done or
/// cancelled). Files go one after another anyway; this bounds what a peer can make the page
/// hold and what a person queues by mistake.
pub const MAX_TRANSFERS_EACH_WAY: usize = 4;

/// How much the sender reads from the file at a time: one slice is in memory at once.
pub const READ_SLICE_BYTES: u64 = 1024 * 1024;

/// SHA-256 as 64 lowercase hex digits.
pub fn hex_digest(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `text` looks like [`hex_digest`]'s output.
pub fn is_hex_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// One binary message of the files channel: the transfer id, big-endian, then the bytes.
pub fn encode_chunk(id: u32, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(payload);
}

/// The transfer id of a chunk of `len` bytes whose first bytes are `header`; `None` if the
/// chunk is empty, too short or too long.
pub fn chunk_id(header: [u8; CHUNK_HEADER_BYTES], len: usize) -> Option<u32> {
    (CHUNK_HEADER_BYTES < len && len <= MAX_CHUNK_BYTES).then(|| u32::from_be_bytes(header))
}

/// A file name from the other side made safe to offer for download: path separators and
/// control characters become `_`.
pub fn safe_name(name: &str) -> Result<String, OfferError> {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(OfferError::BadName);
    }
    Ok(trimmed.to_owned())
}

/// Why an offer from the other side is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum OfferError {
    #[error("its name is empty or longer than {MAX_NAME_CHARS} characters")]
    BadName,
    #[error("it is larger than 8 GiB")]
    TooLarge,
    #[error("it reuses the number of a file still on its way")]
    DuplicateId,
    #[error("{MAX_TRANSFERS_EACH_WAY} files are already on their way")]
    TooMany,
}

/// Why a received file is not offered for download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReceiveError {
    #[error("more bytes arrived than the file's size")]
    Overflow,
    #[error("fewer bytes arrived than the file's size")]
    Short,
    #[error("the SHA-256 of what arrived does not match the sender's")]
    Mismatch,
}

/// A file coming in: counts and hashes the bytes as they arrive.
pub struct Incoming {
    size: u64,
    received: u64,
    hasher: Sha256,
}

impl Incoming {
    fn new(size: u64) -> Self {
        Self {
            size,
            received: 0,
            hasher: Sha256::new(),
        }
    }

    /// Takes the next bytes; an error (and nothing counted) if they go beyond the size.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), ReceiveError> {
        let len = bytes.len() as u64;
        if self.received + len > self.size {
            return Err(ReceiveError::Overflow);
        }
        self.received += len;
        self.hasher.update(bytes);
        Ok(())
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Checks the whole against the announced SHA-256; returns the hash computed here.
    pub fn finish(self, announced: &str) -> Result<String, ReceiveError> {
        if self.received != self.size {
            return Err(ReceiveError::Short);
        }
        let digest = hex_digest(self.hasher);
        if digest == announced {
            Ok(digest)
        } else {
            Err(ReceiveError::Mismatch)
        }
    }
}

/// The files coming from the other side, by their sender's id, each with its attachment `T`.
pub struct Incomings<T> {
    live: BTreeMap<u32, (Incoming, T)>,
}

impl<T> Default for Incomings<T> {
    fn default() -> Self {
        Self {
            live: BTreeMap::new(),
        }
    }
}

impl<T> Incomings<T> {
    /// Validates an offer; on success the file is expected, with `attach()` next to it, and
    /// its safe name is returned.
    pub fn offer(
        &mut self,
        id: u32,
        name: &str,
        size: u64,
        attach: impl FnOnce(&str) -> T,
    ) -> Result<String, OfferError> {
        let name = safe_name(name)?;
        if size > MAX_FILE_BYTES {
            return Err(OfferError::TooLarge);
        }
        if self.live.contains_key(&id) {
            return Err(OfferError::DuplicateId);
        }
        if self.live.len() >= MAX_TRANSFERS_EACH_WAY {
            return Err(OfferError::TooMany);
        }
        let attached = attach(&name);
        self.live.insert(id, (Incoming::new(size), attached));
        Ok(name)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<(&mut Incoming, &mut T)> {
        self.live
            .get_mut(&id)
            .map(|(incoming, attached)| (incoming, attached))
    }

    /// Ends a transfer (done, cancelled or failed).
    pub fn remove(&mut self, id: u32) -> Option<(Incoming, T)> {
        self.live.remove(&id)
    }

    /// Ends every transfer (the call ended).
    pub fn drain(&mut self) -> Vec<T> {
        std::mem::take(&mut self.live)
            .into_values()
            .map(|(_, attached)| attached)
            .collect()
    }
}

/// The files being sent, by their id (given here, increasing), each with its attachment `T`.
/// The lowest id goes first.
pub struct Outgoings<T> {
    next_id: u32,
    live: BTreeMap<u32, T>,
}

impl<T> Default for Outgoings<T> {
    fn default() -> Self {
        Self {
            next_id: 1,
            live: BTreeMap::new(),
        }
    }
}

/// Too many files are already on their way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "Only {MAX_TRANSFERS_EACH_WAY} files can be on their way at once: send this one when one \
     of them is done."
)]
pub struct TooManyFiles;

impl<T> Outgoings<T> {
    /// A new transfer's id, or [`TooManyFiles`].
    pub fn add(&mut self, attach: impl FnOnce(u32) -> T) -> Result<u32, TooManyFiles> {
        if self.live.len() >= MAX_TRANSFERS_EACH_WAY {
            return Err(TooManyFiles);
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.live.insert(id, attach(id));
        Ok(id)
    }

    pub fn get(&self, id: u32) -> Option<&T> {
        self.live.get(&id)
    }

    /// The transfer to send next (the oldest still live), if any.
    pub fn first(&self) -> Option<(u32, &T)> {
        self.live
            .iter()
            .next()
            .map(|(id, attached)| (*id, attached))
    }

    /// Ends a transfer (sent, cancelled or failed).
    pub fn remove(&mut self, id: u32) -> Option<T> {
        self.live.remove(&id)
    }

    /// Ends every transfer (the call ended).
    pub fn drain(&mut self) -> Vec<T> {
        std::mem::take(&mut self.live).into_values().collect()
    }
}

/// Bytes per second over the last [`SpeedMeter::WINDOW_MS`].
#[derive(Debug, Default)]
pub struct SpeedMeter {
    /// (time in ms, bytes so far), oldest first.
    samples: VecDeque<(f64, u64)>,
}

impl SpeedMeter {
    const WINDOW_MS: f64 = 2000.0;

    /// Records `bytes` done at `now_ms`; returns the speed once two samples span some time.
    pub fn sample(&mut self, now_ms: f64, bytes: u64) -> Option<f64> {
        self.samples.push_back((now_ms, bytes));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|(t, _)| now_ms - t > Self::WINDOW_MS)
        {
            self.samples.pop_front();
        }
        let (t0, b0) = *self.samples.front()?;
        let elapsed = now_ms - t0;
        (elapsed > 0.0).then(|| (bytes.saturating_sub(b0)) as f64 * 1000.0 / elapsed)
    }
}

/// `bytes` in binary units: "512 B", "16.0 KiB", "1.0 MiB", "1.2 GiB".
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A speed in bytes per second, in binary units per second: "3.4 MiB/s".
pub fn human_speed(bytes_per_second: f64) -> String {
    format!("{}/s", human_size(bytes_per_second.max(0.0) as u64))
}

/// Where a transfer is, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    /// Offered; bytes have not started (a sender sends one file at a time).
    Waiting,
    /// Bytes are moving.
    Moving,
    /// Every byte went out (the sender's end).
    Sent,
    /// Every byte arrived and the SHA-256 matched: `url` is the file to save.
    Received { url: String, sha256: String },
    /// Stopped by one of the two people.
    Cancelled(Author),
    /// Arrived, but not whole or not the same.
    Damaged(ReceiveError),
    /// The other side's offer broke a rule: refused and never started.
    Refused(OfferError),
    /// The sender could not read the file.
    Unreadable,
    /// The call ended first.
    Interrupted,
}

impl TransferState {
    /// `data-state` on the transfer's element.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Moving => "moving",
            Self::Sent => "sent",
            Self::Received { .. } => "received",
            Self::Cancelled(_) => "cancelled",
            Self::Damaged(_) => "damaged",
            Self::Refused(_) => "refused",
            Self::Unreadable => "unreadable",
            Self::Interrupted => "interrupted",
        }
    }

    /// Whether the transfer is over (nothing more will move; no cancel button).
    pub fn is_over(&self) -> bool {
        !matches!(self, Self::Waiting | Self::Moving)
    }

    /// The sentence the page shows for it, `sending` telling the two ends apart.
    pub fn sentence(&self, from: Author) -> String {
        match (self, from) {
            (Self::Waiting, Author::Me) => "Waiting to be sent.".to_owned(),
            (Self::Waiting, Author::Them) => "Waiting for the first bytes.".to_owned(),
            (Self::Moving, Author::Me) => "Sending…".to_owned(),
            (Self::Moving, Author::Them) => "Receiving…".to_owned(),
            (Self::Sent, _) => "Sent.".to_owned(),
            (Self::Received { .. }, _) => "Received and checked (SHA-256).".to_owned(),
            (Self::Cancelled(Author::Me), _) => "You cancelled this file.".to_owned(),
            (Self::Cancelled(Author::Them), _) => "They cancelled this file.".to_owned(),
            (Self::Damaged(why), _) => {
                format!("The file arrived damaged ({why}): ask them to send it again.")
            }
            (Self::Refused(why), _) => {
                format!("This file was refused because {why}: ask them to send it again later.")
            }
            (Self::Unreadable, _) => {
                "The file could not be read: check that it still exists and send it again."
                    .to_owned()
            }
            (Self::Interrupted, _) => {
                "The call ended before the file was complete: send it again in a new call."
                    .to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn a_file_arriving_in_pieces_has_the_hash_of_the_whole() {
        let mut incomings = Incomings::default();
        incomings.offer(7, "abc.txt", 3, |_| ()).expect("valid");
        let (incoming, _) = incomings.get_mut(7).expect("live");
        incoming.push(b"a").expect("fits");
        incoming.push(b"bc").expect("fits");
        assert_eq!(incoming.received(), 3);
        let (incoming, ()) = incomings.remove(7).expect("live");
        assert_eq!(incoming.finish(ABC_SHA256), Ok(ABC_SHA256.to_owned()));
        assert_eq!(hex_digest(Sha256::new()), EMPTY_SHA256);
        assert!(is_hex_digest(EMPTY_SHA256));
        assert!(!is_hex_digest(&EMPTY_SHA256.to_uppercase()));
    }

    #[test]
    fn a_damaged_short_or_long_file_is_not_accepted() {
        let mut incoming = Incoming::new(3);
        incoming.push(b"abd").expect("fits");
        assert_eq!(incoming.finish(ABC_SHA256), Err(ReceiveError::Mismatch));

        let mut incoming = Incoming::new(3);
        incoming.push(b"ab").expect("fits");
        assert_eq!(incoming.finish(ABC_SHA256), Err(ReceiveError::Short));

        let mut incoming = Incoming::new(3);
        incoming.push(b"ab").expect("fits");
        assert_eq!(incoming.push(b"cd"), Err(ReceiveError::Overflow));
        assert_eq!(
            incoming.received(),
            2,
            "an overflowing chunk is not counted"
        );
    }

    #[test]
    fn offers_breaking_a_rule_are_refused() {
        let mut incomings = Incomings::default();
        assert_eq!(incomings.offer(1, "", 1, |_| ()), Err(OfferError::BadName));
        assert_eq!(
            incomings.offer(1, &"n".repeat(MAX_NAME_CHARS + 1), 1, |_| ()),
            Err(OfferError::BadName)
        );
        assert_eq!(
            incomings.offer(1, "big", MAX_FILE_BYTES + 1, |_| ()),
            Err(OfferError::TooLarge)
        );
        incomings.offer(1, "a", 1, |_| ()).expect("valid");
        assert_eq!(
            incomings.offer(1, "b", 1, |_| ()),
            Err(OfferError::DuplicateId)
        );
        for id in 2..=MAX_TRANSFERS_EACH_WAY as u32 {
            incomings
                .offer(id, "c", 1, |_| ())
                .expect("within the limit");
        }
        assert_eq!(
            incomings.offer(99, "d", 1, |_| ()),
            Err(OfferError::TooMany)
        );
        incomings.remove(1);
        incomings.offer(99, "d", 1, |_| ()).expect("room again");
        assert_eq!(incomings.drain().len(), MAX_TRANSFERS_EACH_WAY);
    }

    #[test]
    fn names_lose_their_paths_and_control_characters() {
        assert_eq!(
            safe_name("../../etc/passwd"),
            Ok(".._.._etc_passwd".to_owned())
        );
        assert_eq!(safe_name("a\\b\u{0}c\n"), Ok("a_b_c_".to_owned()));
        assert_eq!(safe_name("  "), Err(OfferError::BadName));
        assert_eq!(safe_name("résumé.pdf"), Ok("résumé.pdf".to_owned()));
    }

    #[test]
    fn outgoing_ids_increase_and_are_bounded() {
        let mut outgoings = Outgoings::default();
        let ids: Vec<u32> = (0..MAX_TRANSFERS_EACH_WAY)
            .map(|_| outgoings.add(|id| id * 10).expect("room"))
            .collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
        assert_eq!(outgoings.add(|_| 0), Err(TooManyFiles));
        assert_eq!(outgoings.first(), Some((1, &10)));
        outgoings.remove(1);
        assert_eq!(outgoings.first(), Some((2, &20)));
        assert_eq!(outgoings.add(|id| id), Ok(5), "ids are never reused");
        assert_eq!(outgoings.get(5), Some(&5));
    }

    #[test]
    fn chunks_carry_their_transfer_id() {
        let mut buffer = Vec::new();
        encode_chunk(258, b"xyz", &mut buffer);
        assert_eq!(buffer, [0, 0, 1, 2, b'x', b'y', b'z']);
        assert_eq!(chunk_id([0, 0, 1, 2], buffer.len()), Some(258));
        assert_eq!(chunk_id([0, 0, 1, 2], CHUNK_HEADER_BYTES), None, "no bytes");
        assert_eq!(chunk_id([0, 0, 0, 1], MAX_CHUNK_BYTES), Some(1));
        assert_eq!(
            chunk_id([0, 0, 0, 1], MAX_CHUNK_BYTES + 1),
            None,
            "too long"
        );
    }

    #[test]
    fn speed_is_measured_over_the_last_seconds() {
        let mut meter = SpeedMeter::default();
        assert_eq!(meter.sample(0.0, 0), None);
        assert_eq!(meter.sample(1000.0, 1024 * 1024), Some(1024.0 * 1024.0));
        meter.sample(2000.0, 2 * 1024 * 1024);
        // Five seconds later at a tenth of the speed: the early fast samples are forgotten.
        meter.sample(4500.0, 2 * 1024 * 1024 + 256 * 1024);
        let speed = meter
            .sample(7000.0, 2 * 1024 * 1024 + 512 * 1024)
            .expect("speed");
        assert!((speed - 256.0 * 1024.0 / 2.5).abs() < 1.0, "{speed}");
    }

    #[test]
    fn sizes_and_speeds_read_in_binary_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(16 * 1024), "16.0 KiB");
        assert_eq!(human_size(1024 * 1024), "1.0 MiB");
        assert_eq!(human_size(200 * 1024 * 1024), "200.0 MiB");
        assert_eq!(human_size(1_288_490_189), "1.2 GiB");
        assert_eq!(human_speed(3.5 * 1024.0 * 1024.0), "3.5 MiB/s");
    }

    #[test]
    fn states_say_who_cancelled_and_what_to_do() {
        let cancelled = TransferState::Cancelled(Author::Them);
        assert_eq!(cancelled.as_str(), "cancelled");
        assert_eq!(cancelled.sentence(Author::Me), "They cancelled this file.");
        assert_eq!(
            TransferState::Cancelled(Author::Me).sentence(Author::Them),
            "You cancelled this file."
        );
        assert!(cancelled.is_over());
        assert!(!TransferState::Moving.is_over());
        assert!(
            TransferState::Damaged(ReceiveError::Mismatch)
                .sentence(Author::Them)
                .contains("does not match")
        );
    }
}
