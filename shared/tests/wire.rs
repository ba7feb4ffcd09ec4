//! The wire format, pinned: every variant's exact JSON, and every example in PROTOCOL.md.
//!
//! A renamed field or variant must break these tests, not a browser.

use shared::{
    ClientMessage, ErrorCode, IceCandidate, IceServer, IceTransportPolicy, ParseError, PeerId,
    PeerMessage, ResumeToken, RoomName, ServerMessage, TransferSide,
};

fn room(name: &str) -> RoomName {
    RoomName::new(name).expect("test room names are valid")
}

fn peer(id: &str) -> PeerId {
    PeerId::new(id)
}

fn token(token: &str) -> ResumeToken {
    ResumeToken::new(token.to_owned())
}

fn candidate() -> IceCandidate {
    IceCandidate {
        candidate: Some("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into()),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: Some("abcd".into()),
    }
}

/// Every client message, next to the exact JSON it has on the wire.
fn client_examples() -> Vec<(ClientMessage, &'static str)> {
    vec![
        (
            ClientMessage::Join {
                room: room("blue-fox"),
                resume: None,
            },
            r#"{"type":"join","room":"blue-fox"}"#,
        ),
        (
            ClientMessage::Join {
                room: room("blue-fox"),
                resume: Some(token("AAEC.ZGVm")),
            },
            r#"{"type":"join","room":"blue-fox","resume":"AAEC.ZGVm"}"#,
        ),
        (ClientMessage::IceServers, r#"{"type":"ice_servers"}"#),
        (
            ClientMessage::Offer {
                sdp: "v=0\r\n".into(),
                to: None,
            },
            r#"{"type":"offer","sdp":"v=0\r\n"}"#,
        ),
        (
            ClientMessage::Offer {
                sdp: "v=0".into(),
                to: Some(peer("p2")),
            },
            r#"{"type":"offer","sdp":"v=0","to":"p2"}"#,
        ),
        (
            ClientMessage::Answer {
                sdp: "v=0".into(),
                to: None,
            },
            r#"{"type":"answer","sdp":"v=0"}"#,
        ),
        (
            ClientMessage::Candidate {
                candidate: Some(candidate()),
                to: None,
            },
            r#"{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}"#,
        ),
        (
            ClientMessage::Candidate {
                candidate: Some(IceCandidate {
                    candidate: Some(String::new()),
                    ..IceCandidate::default()
                }),
                to: None,
            },
            r#"{"type":"candidate","candidate":{"candidate":""}}"#,
        ),
        (
            ClientMessage::Candidate {
                candidate: None,
                to: None,
            },
            r#"{"type":"candidate","candidate":null}"#,
        ),
        (ClientMessage::HangUp { to: None }, r#"{"type":"hang_up"}"#),
        (
            ClientMessage::HangUp {
                to: Some(peer("p2")),
            },
            r#"{"type":"hang_up","to":"p2"}"#,
        ),
        (ClientMessage::Leave, r#"{"type":"leave"}"#),
        (ClientMessage::Ping, r#"{"type":"ping"}"#),
    ]
}

/// Every server message, next to the exact JSON it has on the wire.
fn server_examples() -> Vec<(ServerMessage, &'static str)> {
    vec![
        (
            ServerMessage::Joined {
                room: room("r"),
                you: peer("p2"),
                peers: vec![peer("p1")],
                resume: token("t0k3n"),
                upload_kbps: None,
            },
            r#"{"type":"joined","room":"r","you":"p2","peers":["p1"],"resume":"t0k3n"}"#,
        ),
        (
            ServerMessage::Joined {
                room: room("r"),
                you: peer("p3"),
                peers: vec![peer("p1"), peer("p2")],
                resume: token("t0k3n"),
                upload_kbps: Some(2500),
            },
            r#"{"type":"joined","room":"r","you":"p3","peers":["p1","p2"],"resume":"t0k3n","upload_kbps":2500}"#,
        ),
        (
            ServerMessage::Ready { room: room("r") },
            r#"{"type":"ready","room":"r"}"#,
        ),
        (
            ServerMessage::Full {
                room: room("r"),
                capacity: 2,
            },
            r#"{"type":"full","room":"r","capacity":2}"#,
        ),
        (
            ServerMessage::PeerJoined { peer: peer("p2") },
            r#"{"type":"peer_joined","peer":"p2"}"#,
        ),
        (
            ServerMessage::PeerLeft { peer: peer("p2") },
            r#"{"type":"peer_left","peer":"p2"}"#,
        ),
        (
            ServerMessage::IceServers {
                ice_servers: vec![
                    IceServer::open(["stun:stun.example.com:3478"]),
                    IceServer {
                        urls: vec!["turn:turn.example.com:3478?transport=udp".into()],
                        username: Some("1700000000:p1".into()),
                        credential: Some("c2VjcmV0".into()),
                    },
                ],
                ttl: 3600,
                ice_transport_policy: IceTransportPolicy::All,
            },
            r#"{"type":"ice_servers","ice_servers":[{"urls":["stun:stun.example.com:3478"]},{"urls":["turn:turn.example.com:3478?transport=udp"],"username":"1700000000:p1","credential":"c2VjcmV0"}],"ttl":3600}"#,
        ),
        (
            ServerMessage::IceServers {
                ice_servers: vec![],
                ttl: 60,
                ice_transport_policy: IceTransportPolicy::Relay,
            },
            r#"{"type":"ice_servers","ice_servers":[],"ttl":60,"ice_transport_policy":"relay"}"#,
        ),
        (
            ServerMessage::Offer {
                sdp: "v=0".into(),
                from: peer("p1"),
                to: None,
            },
            r#"{"type":"offer","sdp":"v=0","from":"p1"}"#,
        ),
        (
            ServerMessage::Answer {
                sdp: "v=0".into(),
                from: peer("p2"),
                to: Some(peer("p1")),
            },
            r#"{"type":"answer","sdp":"v=0","from":"p2","to":"p1"}"#,
        ),
        (
            ServerMessage::Candidate {
                candidate: None,
                from: peer("p1"),
                to: None,
            },
            r#"{"type":"candidate","candidate":null,"from":"p1"}"#,
        ),
        (
            ServerMessage::HangUp {
                from: peer("p2"),
                to: None,
            },
            r#"{"type":"hang_up","from":"p2"}"#,
        ),
        (ServerMessage::Pong, r#"{"type":"pong"}"#),
        (
            ServerMessage::Resume {
                resume: token("n3w-t0k3n"),
            },
            r#"{"type":"resume","resume":"n3w-t0k3n"}"#,
        ),
        (
            ServerMessage::error(ErrorCode::NoPeer, "Nobody else is in the room yet."),
            r#"{"type":"error","code":"no_peer","message":"Nobody else is in the room yet."}"#,
        ),
        (
            ServerMessage::error(
                ErrorCode::RecipientRequired,
                "In a room of more than two people, say whom this is for: add \"to\" with their peer id.",
            ),
            r#"{"type":"error","code":"recipient_required","message":"In a room of more than two people, say whom this is for: add \"to\" with their peer id."}"#,
        ),
    ]
}

/// Every data-channel message, next to the exact JSON it has on the wire.
fn peer_examples() -> Vec<(PeerMessage, &'static str)> {
    vec![
        (
            PeerMessage::state(false, false),
            r#"{"type":"state","v":1,"muted":false,"camera_off":false}"#,
        ),
        (
            PeerMessage::state(true, true),
            r#"{"type":"state","v":1,"muted":true,"camera_off":true}"#,
        ),
        (
            PeerMessage::chat("see <b>this</b> https://example.com"),
            r#"{"type":"chat","v":1,"text":"see <b>this</b> https://example.com"}"#,
        ),
        (
            PeerMessage::hello(peer("9c41d07e5a2b8f13")),
            r#"{"type":"hello","v":1,"peer":"9c41d07e5a2b8f13"}"#,
        ),
        (
            PeerMessage::file_offer(1, "notes.pdf", 1_048_576),
            r#"{"type":"file_offer","v":1,"id":1,"name":"notes.pdf","size":1048576}"#,
        ),
        (
            PeerMessage::file_done(
                1,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            r#"{"type":"file_done","v":1,"id":1,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#,
        ),
        (
            PeerMessage::file_cancel(1, TransferSide::Sender),
            r#"{"type":"file_cancel","v":1,"id":1,"by":"sender"}"#,
        ),
        (
            PeerMessage::file_cancel(2, TransferSide::Receiver),
            r#"{"type":"file_cancel","v":1,"id":2,"by":"receiver"}"#,
        ),
    ]
}

/// Each data-channel message serializes to exactly its pinned JSON and parses back to itself.
#[test]
fn peer_messages_round_trip_to_pinned_json() {
    for (message, json) in peer_examples() {
        assert_eq!(message.to_json(), json);
        assert_eq!(PeerMessage::parse(json), Some(message));
    }
}

/// Another version, an unknown type or a wrong shape is ignored, not misread.
#[test]
fn peer_messages_of_other_versions_are_ignored() {
    for ignored in [
        r#"{"type":"state","v":2,"muted":true,"camera_off":true}"#,
        r#"{"type":"state","muted":true,"camera_off":true}"#,
        r#"{"type":"dance","v":1}"#,
        r#"{"type":"state","v":1,"muted":"yes","camera_off":true}"#,
        r#"{"type":"chat","v":2,"text":"hi"}"#,
        r#"{"type":"hello","v":1}"#,
        r#"{"type":"hello","v":1,"peer":7}"#,
        r#"{"type":"file_offer","v":1,"id":-1,"name":"a","size":1}"#,
        r#"{"type":"file_cancel","v":1,"id":1,"by":"someone"}"#,
        "not json",
    ] {
        assert_eq!(PeerMessage::parse(ignored), None, "{ignored}");
    }
    assert_eq!(
        PeerMessage::parse(r#"{"type":"state","v":1,"muted":true,"camera_off":false,"x":0}"#),
        Some(PeerMessage::state(true, false))
    );
}

/// Each client message serializes to exactly its pinned JSON and parses back to itself.
#[test]
fn client_messages_round_trip_to_pinned_json() {
    for (message, json) in client_examples() {
        assert_eq!(serde_json::to_string(&message).expect("serializes"), json);
        assert_eq!(ClientMessage::parse(json), Ok(message));
    }
}

/// Each server message serializes to exactly its pinned JSON and parses back to itself.
#[test]
fn server_messages_round_trip_to_pinned_json() {
    for (message, json) in server_examples() {
        assert_eq!(serde_json::to_string(&message).expect("serializes"), json);
        assert_eq!(
            serde_json::from_str::<ServerMessage>(json).expect("parses"),
            message
        );
    }
}

/// Every error code (a new one must be added here: `as_str` is an exhaustive match, this list
/// is not).
fn error_codes() -> Vec<ErrorCode> {
    use ErrorCode::*;
    vec![
        BadMessage,
        TooLarge,
        InvalidRoom,
        NotInRoom,
        AlreadyInRoom,
        NoPeer,
        UnknownPeer,
        RecipientRequired,
        RateLimited,
        IceUnavailable,
        Unavailable,
    ]
}

/// Every error code has the snake_case wire name its `as_str` promises.
#[test]
fn error_codes_use_their_wire_names() {
    for code in error_codes() {
        assert_eq!(
            serde_json::to_string(&code).expect("serializes"),
            format!("\"{}\"", code.as_str())
        );
    }
}

/// Every error code has its row in PROTOCOL.md's table of errors.
#[test]
fn protocol_md_explains_every_error_code() {
    let doc = include_str!("../../PROTOCOL.md");
    for code in error_codes() {
        let row = format!("| `{}` | ", code.as_str());
        assert!(doc.contains(&row), "PROTOCOL.md has no row {row}");
    }
}

/// Unknown fields are ignored, so newer clients can talk to older servers.
#[test]
fn unknown_fields_are_ignored() {
    assert_eq!(
        ClientMessage::parse(r#"{"type":"ping","extra":{"nested":true}}"#),
        Ok(ClientMessage::Ping)
    );
}

/// Any string is a resume token: a malformed or foreign one still parses as a `join` (the
/// server then makes a normal join), while a token that is not a string is malformed.
#[test]
fn any_resume_string_parses() {
    for resume in ["", "garbage!", "a.b.c.d", r"\u00e9t\u00e9"] {
        let json = format!(r#"{{"type":"join","room":"r","resume":"{resume}"}}"#);
        assert!(
            matches!(
                ClientMessage::parse(&json),
                Ok(ClientMessage::Join {
                    resume: Some(_),
                    ..
                })
            ),
            "{json}"
        );
    }
    assert!(matches!(
        ClientMessage::parse(r#"{"type":"join","room":"r","resume":7}"#),
        Err(ParseError::Malformed(_))
    ));
    assert_eq!(
        ClientMessage::parse(r#"{"type":"join","room":"r","resume":null}"#),
        Ok(ClientMessage::Join {
            room: room("r"),
            resume: None
        })
    );
}

/// A join with a bad room name is told apart from a malformed message.
#[test]
fn bad_room_names_are_not_malformed_messages() {
    assert!(matches!(
        ClientMessage::parse(r#"{"type":"join","room":"no spaces"}"#),
        Err(ParseError::InvalidRoom(_))
    ));
    assert!(matches!(
        ClientMessage::parse(r#"{"type":"join","room":""}"#),
        Err(ParseError::InvalidRoom(_))
    ));
    for malformed in [
        "not json",
        "[]",
        r#"{"room":"r"}"#,
        r#"{"type":"dance"}"#,
        r#"{"type":"join"}"#,
        r#"{"type":"join","room":7}"#,
        r#"{"type":"offer"}"#,
        r#"{"type":"candidate","candidate":{"sdpMLineIndex":"zero"}}"#,
    ] {
        assert!(
            matches!(
                ClientMessage::parse(malformed),
                Err(ParseError::Malformed(_))
            ),
            "{malformed}"
        );
    }
}

/// Every JSON line of PROTOCOL.md's worked example is a real message whose canonical form is
/// exactly what the document shows, and together they use every variant.
#[test]
fn protocol_md_examples_are_exact() {
    let doc = include_str!("../../PROTOCOL.md");
    let mut client_types = std::collections::BTreeSet::new();
    let mut server_types = std::collections::BTreeSet::new();
    let mut peer_types = std::collections::BTreeSet::new();
    for line in doc.lines() {
        let line = line.trim();
        if let Some((_, json)) = line.split_once("C→S ") {
            let message = ClientMessage::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(serde_json::to_string(&message).expect("serializes"), json);
            client_types.insert(type_of(json));
        } else if let Some((_, json)) = line.split_once("S→C ") {
            let message: ServerMessage =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(serde_json::to_string(&message).expect("serializes"), json);
            server_types.insert(type_of(json));
        } else if let Some((_, json)) = line.split_once("P→P ") {
            let message = PeerMessage::parse(json).unwrap_or_else(|| panic!("{json}"));
            assert_eq!(message.to_json(), json);
            peer_types.insert(type_of(json));
        }
    }
    let all_peer: std::collections::BTreeSet<_> = peer_examples()
        .iter()
        .map(|(_, json)| type_of(json))
        .collect();
    assert_eq!(peer_types, all_peer, "PROTOCOL.md misses a peer message");
    let all_client: std::collections::BTreeSet<_> = client_examples()
        .iter()
        .map(|(_, json)| type_of(json))
        .collect();
    let all_server: std::collections::BTreeSet<_> = server_examples()
        .iter()
        .map(|(_, json)| type_of(json))
        .collect();
    assert_eq!(
        client_types, all_client,
        "PROTOCOL.md misses a client message"
    );
    assert_eq!(
        server_types, all_server,
        "PROTOCOL.md misses a server message"
    );
}

fn type_of(json: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(json).expect("json");
    value["type"].as_str().expect("tagged").to_owned()
}
