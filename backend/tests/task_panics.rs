//! A panic in a connection task (a bug) costs only that connection: it leaves its room at
//! once, its seat is free, the others are told, and the server goes on. The panic is made with
//! the backend's `test-hooks` feature, which only these tests turn on.

mod common;

use backend::test_hooks::PANIC_SDP;
use common::{PATIENCE, TestServer, room};
use shared::{ClientMessage, ServerMessage};

/// In a full room of two, the member whose task panics is gone at once: the other gets
/// `peer_left`, the panicking connection is closed with 1011, and a newcomer takes the seat.
#[tokio::test]
async fn a_panicking_connection_frees_its_seat_and_is_announced() {
    let server = TestServer::start(|config| {
        config.limits.room_capacity = 2;
        // Far longer than the test: a `peer_left` now cannot come from a resume grace ending.
        config.resume.resume_grace = PATIENCE * 10;
    })
    .await;
    let (mut first, mut second) = server.pair("panics").await;
    let mut newcomer = server.client().await;
    let join = ClientMessage::Join {
        room: room("panics"),
        resume: None,
    };
    newcomer.send(&join).await;
    assert!(
        matches!(
            newcomer.recv().await,
            ServerMessage::Full { capacity: 2, .. }
        ),
        "the room of two is full"
    );

    first
        .send(&ClientMessage::Offer {
            sdp: PANIC_SDP.to_owned(),
            to: None,
        })
        .await;
    assert_eq!(
        second.recv().await,
        ServerMessage::PeerLeft { peer: first.id() }
    );
    assert_eq!(
        first.closed().await.map(u16::from),
        Some(1011),
        "internal error"
    );

    assert_eq!(newcomer.join("panics").await, vec![second.id()]);
    second.expect_joined_by(newcomer.id(), "panics").await;
    second.assert_quiet().await;
}
