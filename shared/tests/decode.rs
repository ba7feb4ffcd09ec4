//! The hand-written readers of `ServerMessage` and `PeerMessage` (`server_decode.rs`,
//! `peer_decode.rs`) keep the derive's rules: every required field is required, the optional
//! ones may be left out, unknown fields are ignored and an unknown `type` is refused.

use serde_json::{Map, Value};
use shared::{PeerMessage, ServerMessage};

/// One message of every server variant, every field present (the optional ones included).
const SERVER: &[&str] = &[
    r#"{"type":"joined","room":"r","you":"p3","peers":["p1","p2"],"resume":"t0k3n","upload_kbps":2500}"#,
    r#"{"type":"ready","room":"r"}"#,
    r#"{"type":"full","room":"r","capacity":2}"#,
    r#"{"type":"peer_joined","peer":"p2"}"#,
    r#"{"type":"peer_left","peer":"p2"}"#,
    r#"{"type":"ice_servers","ice_servers":[{"urls":["stun:stun.example.com:3478"]}],"ttl":60,"ice_transport_policy":"relay"}"#,
    r#"{"type":"offer","sdp":"v=0","from":"p1","to":"p2"}"#,
    r#"{"type":"answer","sdp":"v=0","from":"p2","to":"p1"}"#,
    r#"{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0},"from":"p1","to":"p2"}"#,
    r#"{"type":"hang_up","from":"p2","to":"p1"}"#,
    r#"{"type":"pong"}"#,
    r#"{"type":"resume","resume":"n3w-t0k3n"}"#,
    r#"{"type":"error","code":"no_peer","message":"Nobody else is in the room yet."}"#,
];

/// The server fields that may be left out (`#[serde(default)]` or an `Option`).
const SERVER_OPTIONAL: &[&str] = &["upload_kbps", "ice_transport_policy", "to", "candidate"];

/// One message of every peer variant: all of their fields are required.
const PEER: &[&str] = &[
    r#"{"type":"state","v":1,"muted":true,"camera_off":false}"#,
    r#"{"type":"chat","v":1,"text":"hi"}"#,
    r#"{"type":"hello","v":1,"peer":"9c41d07e5a2b8f13"}"#,
    r#"{"type":"file_offer","v":1,"id":1,"name":"notes.pdf","size":1048576}"#,
    r#"{"type":"file_done","v":1,"id":1,"sha256":"e3b0"}"#,
    r#"{"type":"file_cancel","v":1,"id":1,"by":"sender"}"#,
];

/// `json` as an object.
fn object(json: &str) -> Map<String, Value> {
    match serde_json::from_str(json).expect("test messages are JSON") {
        Value::Object(fields) => fields,
        other => panic!("not an object: {other}"),
    }
}

/// Each example without one of its fields, with the field's name.
fn without_each_field(json: &str) -> Vec<(String, String)> {
    let fields = object(json);
    fields
        .keys()
        .filter(|key| *key != "type")
        .map(|key| {
            let mut fewer = fields.clone();
            fewer.remove(key);
            (key.clone(), Value::Object(fewer).to_string())
        })
        .collect()
}

/// Leaving out a server message's field fails exactly when the field is required.
#[test]
fn server_messages_require_their_required_fields_only() {
    for json in SERVER {
        serde_json::from_str::<ServerMessage>(json).expect("the full example parses");
        for (field, fewer) in without_each_field(json) {
            let parsed = serde_json::from_str::<ServerMessage>(&fewer);
            assert_eq!(
                parsed.is_ok(),
                SERVER_OPTIONAL.contains(&field.as_str()),
                "{fewer}: {parsed:?}"
            );
        }
    }
}

/// Leaving out any field of a peer message (the version `v` included) makes it unreadable.
#[test]
fn peer_messages_require_every_field() {
    for json in PEER {
        assert!(PeerMessage::parse(json).is_some(), "{json}");
        for (_, fewer) in without_each_field(json) {
            assert_eq!(PeerMessage::parse(&fewer), None, "{fewer}");
        }
    }
}

/// A field of the wrong shape, an unknown `type` or no `type` at all is refused; a field the
/// reader does not know is ignored.
#[test]
fn wrong_shapes_and_unknown_types_are_refused_unknown_fields_ignored() {
    for bad in [
        r#"{"type":"full","room":"r","capacity":"two"}"#,
        r#"{"type":"welcome","room":"r"}"#,
        r#"{"room":"r"}"#,
        r#"["ready","r"]"#,
    ] {
        assert!(serde_json::from_str::<ServerMessage>(bad).is_err(), "{bad}");
    }
    for bad in [
        r#"{"type":"state","v":1,"muted":"yes","camera_off":false}"#,
        r#"{"type":"shout","v":1,"text":"hi"}"#,
    ] {
        assert_eq!(PeerMessage::parse(bad), None, "{bad}");
    }
    assert_eq!(
        serde_json::from_str::<ServerMessage>(r#"{"type":"ready","room":"r","extra":[1,2]}"#)
            .expect("parses"),
        serde_json::from_str::<ServerMessage>(r#"{"type":"ready","room":"r"}"#).expect("parses")
    );
    assert!(PeerMessage::parse(r#"{"type":"chat","v":1,"text":"hi","extra":{}}"#).is_some());
}
