//! Names for new rooms: easy to read aloud, hard to guess.
//!
//! Three words (32 choices each, 15 bits) and eight characters from a 32-symbol alphabet
//! (40 bits): about 55 bits, so a stranger cannot find a room by trying names. Every table has
//! 32 entries so that a random byte maps onto it without bias (`byte % 32`). The random bytes
//! come from the caller (`crypto.getRandomValues` in the browser), which keeps this testable.

use shared::RoomName;

/// How many random bytes [`from_random_bytes`] consumes.
pub const RANDOM_BYTES: usize = 11;

const ADJECTIVES: [&str; 32] = [
    "amber", "bold", "brave", "bright", "calm", "clever", "cosy", "crisp", "eager", "fair",
    "gentle", "glad", "golden", "happy", "jolly", "keen", "kind", "lively", "lucky", "mellow",
    "merry", "neat", "noble", "proud", "quick", "quiet", "rapid", "shiny", "sunny", "swift",
    "tidy", "witty",
];

const ANIMALS: [&str; 32] = [
    "badger", "bee", "bison", "crane", "crow", "deer", "dove", "eagle", "ferret", "finch", "fox",
    "gecko", "goose", "hare", "heron", "ibis", "koala", "lark", "lemur", "lynx", "marten", "mole",
    "moose", "newt", "otter", "owl", "panda", "puffin", "raven", "seal", "tiger", "wren",
];

const PLACES: [&str; 32] = [
    "bay", "beach", "brook", "canyon", "cape", "cliff", "coast", "creek", "dale", "delta", "dune",
    "field", "fjord", "forest", "glade", "grove", "harbor", "hill", "island", "lake", "meadow",
    "mesa", "moor", "oasis", "park", "peak", "pond", "reef", "ridge", "river", "shore", "valley",
];

/// Lowercase letters and digits without the look-alikes `l`, `o`, `0`, `1`.
const SUFFIX_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// A room name such as `calm-otter-river-k3x9q2mz` built from 11 random bytes.
pub fn from_random_bytes(bytes: [u8; RANDOM_BYTES]) -> RoomName {
    let pick = |table: &[&'static str; 32], byte: u8| table[usize::from(byte % 32)];
    let mut name = format!(
        "{}-{}-{}-",
        pick(&ADJECTIVES, bytes[0]),
        pick(&ANIMALS, bytes[1]),
        pick(&PLACES, bytes[2])
    );
    name.extend(
        bytes[3..]
            .iter()
            .map(|byte| char::from(SUFFIX_ALPHABET[usize::from(byte % 32)])),
    );
    RoomName::new(name).expect("words and suffix alphabet are all URL-safe")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same bytes give the same name, shaped word-word-word-suffix.
    #[test]
    fn name_is_three_words_and_a_suffix() {
        let name = from_random_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 31]);
        assert_eq!(name.as_str(), "amber-bee-brook-defghij9");
    }

    /// Every byte value yields a valid room name, and each byte changes the name.
    #[test]
    fn every_byte_yields_a_valid_distinct_name() {
        for byte in 0..=u8::MAX {
            let name = from_random_bytes([byte; RANDOM_BYTES]);
            assert!(name.as_str().len() >= 20, "{name}");
        }
        let base = from_random_bytes([0; RANDOM_BYTES]);
        for position in 0..RANDOM_BYTES {
            let mut bytes = [0; RANDOM_BYTES];
            bytes[position] = 1;
            assert_ne!(from_random_bytes(bytes), base, "byte {position} is unused");
        }
    }
}
