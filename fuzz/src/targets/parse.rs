//! `ClientMessage::parse`, the first thing every text frame from a browser meets.
//!
//! Three kinds of input, chosen by the first byte: raw bytes (decoded lossily, as a frame can
//! only be text once the WebSocket layer accepted it), an arbitrary string, and near-valid JSON
//! — a valid message of every kind, its JSON tree mutated (fields removed, retyped, renamed,
//! duplicated, nested, out-of-range numbers, unknown fields) and then, sometimes, its text
//! mutated byte by byte. Properties: parsing never panics; whatever is accepted serialises and
//! parses back to the same value; an unmutated valid message is accepted as itself.

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value, json};
use shared::{ClientMessage, IceCandidate, PeerId, ResumeToken, RoomName};

pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    match u.int_in_range(0..=3)? {
        0 => {
            let bytes: &[u8] = u.arbitrary()?;
            check(&String::from_utf8_lossy(bytes));
        }
        1 => check(u.arbitrary()?),
        _ => {
            let message = valid_message(u)?;
            let text = serde_json::to_string(&message).expect("a message serialises");
            assert_eq!(
                ClientMessage::parse(&text).as_ref(),
                Ok(&message),
                "a valid message parses as itself: {text}"
            );
            let mut tree: Value = serde_json::from_str(&text).expect("its own JSON");
            for _ in 0..u.int_in_range(1..=4)? {
                mutate_tree(u, &mut tree)?;
            }
            let mut text = tree.to_string();
            if u.ratio(1, 4)? {
                mutate_text(u, &mut text)?;
            }
            check(&text);
        }
    }
    Ok(())
}

/// Parsing `text` does not panic, and an accepted message round-trips.
fn check(text: &str) {
    if let Ok(message) = ClientMessage::parse(text) {
        let again = serde_json::to_string(&message).expect("an accepted message serialises");
        assert_eq!(
            ClientMessage::parse(&again).as_ref(),
            Ok(&message),
            "accepted {text:?}, re-serialised as {again:?}"
        );
    }
}

/// Short strings from a small alphabet, so that generated names are often valid.
fn word(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    const ALPHABET: &[u8] = b"abcz09-_.~ A\xc3";
    let len = u.int_in_range(0..=12)?;
    let mut bytes = Vec::with_capacity(len);
    for _ in 0..len {
        bytes.push(*u.choose(ALPHABET)?);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn room(u: &mut Unstructured<'_>) -> arbitrary::Result<RoomName> {
    let name = word(u)?;
    Ok(RoomName::new(name).unwrap_or_else(|_| RoomName::new("room").expect("a valid name")))
}

fn optional<T>(
    u: &mut Unstructured<'_>,
    make: impl FnOnce(&mut Unstructured<'_>) -> arbitrary::Result<T>,
) -> arbitrary::Result<Option<T>> {
    Ok(if u.arbitrary()? { Some(make(u)?) } else { None })
}

fn peer(u: &mut Unstructured<'_>) -> arbitrary::Result<PeerId> {
    Ok(PeerId::new(word(u)?))
}

/// A message of any kind with plausible fields.
fn valid_message(u: &mut Unstructured<'_>) -> arbitrary::Result<ClientMessage> {
    Ok(match u.int_in_range(0..=7)? {
        0 => ClientMessage::Join {
            room: room(u)?,
            resume: optional(u, |u| Ok(ResumeToken::new(word(u)?)))?,
        },
        1 => ClientMessage::IceServers,
        2 => ClientMessage::Offer {
            sdp: u.arbitrary()?,
            to: optional(u, peer)?,
        },
        3 => ClientMessage::Answer {
            sdp: u.arbitrary()?,
            to: optional(u, peer)?,
        },
        4 => ClientMessage::Candidate {
            candidate: optional(u, |u| {
                Ok(IceCandidate {
                    candidate: Option::<String>::arbitrary(u)?,
                    sdp_mid: Option::<String>::arbitrary(u)?,
                    sdp_m_line_index: Option::<u16>::arbitrary(u)?,
                    username_fragment: Option::<String>::arbitrary(u)?,
                })
            })?,
            to: optional(u, peer)?,
        },
        5 => ClientMessage::HangUp {
            to: optional(u, peer)?,
        },
        6 => ClientMessage::Leave,
        _ => ClientMessage::Ping,
    })
}

/// Field names worth trying: the protocol's own, in both spellings, and some that are not.
const KEYS: &[&str] = &[
    "type",
    "room",
    "resume",
    "sdp",
    "to",
    "candidate",
    "sdpMid",
    "sdp_mid",
    "sdpMLineIndex",
    "usernameFragment",
    "from",
    "__proto__",
    "",
    "Type",
];

/// Values of every JSON kind, including the awkward ones.
fn any_value(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0..=11)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => json!(u.arbitrary::<u64>()?),
        4 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        5 => json!(*u.choose(&[
            "join",
            "ice_servers",
            "offer",
            "answer",
            "candidate",
            "hang_up",
            "leave",
            "ping",
            "Join",
            "pong",
        ])?),
        6 => Value::String(word(u)?),
        7 => Value::String(u.arbitrary()?),
        8 => json!(*u.choose(&[-1_i64, 65_535, 65_536, i64::MAX, 0])?),
        9 if depth < 4 => {
            let len = u.int_in_range(0..=3)?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(any_value(u, depth + 1)?);
            }
            Value::Array(items)
        }
        10 if depth < 4 => {
            let mut object = Map::new();
            for _ in 0..u.int_in_range(0..=3)? {
                object.insert((*u.choose(KEYS)?).to_owned(), any_value(u, depth + 1)?);
            }
            Value::Object(object)
        }
        _ => Value::String(String::new()),
    })
}

/// One change somewhere in the tree: a value replaced, a key removed, renamed or added.
fn mutate_tree(u: &mut Unstructured<'_>, value: &mut Value) -> arbitrary::Result<()> {
    match value {
        Value::Object(object) if !object.is_empty() && u.ratio(3, 4)? => {
            let keys: Vec<String> = object.keys().cloned().collect();
            let key = u.choose(&keys)?.clone();
            match u.int_in_range(0..=4)? {
                0 => {
                    object.remove(&key);
                }
                1 => {
                    let moved = object.remove(&key).unwrap_or(Value::Null);
                    object.insert((*u.choose(KEYS)?).to_owned(), moved);
                }
                2 => {
                    object.insert((*u.choose(KEYS)?).to_owned(), any_value(u, 0)?);
                }
                _ => {
                    if let Some(inner) = object.get_mut(&key) {
                        mutate_tree(u, inner)?;
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() && u.arbitrary()? => {
            let at = u.choose_index(items.len())?;
            mutate_tree(u, &mut items[at])?;
        }
        _ => *value = any_value(u, 0)?,
    }
    Ok(())
}

/// Byte-level damage to the JSON text: a cut, a character inserted or removed.
fn mutate_text(u: &mut Unstructured<'_>, text: &mut String) -> arbitrary::Result<()> {
    let boundaries: Vec<usize> = (0..=text.len())
        .filter(|at| text.is_char_boundary(*at))
        .collect();
    let at = *u.choose(&boundaries)?;
    match u.int_in_range(0..=2)? {
        0 => text.truncate(at),
        1 => text.insert(
            at,
            *u.choose(&['"', '\\', '{', '}', '[', ',', ':', '0', '\u{0}'])?,
        ),
        _ => {
            if at < text.len() {
                text.remove(at);
            }
        }
    }
    Ok(())
}
