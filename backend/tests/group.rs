//! Group calls: rooms of more than two (four by default, up to eight), where every relay
//! names its recipient and reaches that member only.

mod common;

use common::{
    Client, TestServer, group_across, relayed, relays, room, shrink_to_two_refusing_unaddressed,
};
use shared::{ClientMessage, PeerId, ServerMessage};

/// Four people join one after another: each is told who is already there, and everyone
/// already there hears `peer_joined` (`ready` only when the room first reaches two). A fifth is
/// refused with `full` naming the default capacity, 4, and nobody inside hears of it.
#[tokio::test]
async fn four_join_by_default_and_the_fifth_is_told_full_of_four() {
    let server = TestServer::default().await;
    let mut members = group_across(&[&server], "four", 4).await;
    let mut fifth = server.client().await;
    fifth
        .send(&ClientMessage::Join {
            room: room("four"),
            resume: None,
        })
        .await;
    assert_eq!(
        fifth.recv().await,
        ServerMessage::Full {
            room: room("four"),
            capacity: 4
        }
    );
    for member in &mut members {
        member.assert_quiet().await;
    }
}

/// The capacity is a setting: with eight seats, eight join and the ninth is told `full` with
/// 8.
#[tokio::test]
async fn eight_fit_when_the_capacity_is_eight() {
    let server = TestServer::start(|config| config.limits.room_capacity = 8).await;
    let mut members = group_across(&[&server], "eight", 8).await;
    let mut ninth = server.client().await;
    ninth
        .send(&ClientMessage::Join {
            room: room("eight"),
            resume: None,
        })
        .await;
    assert_eq!(
        ninth.recv().await,
        ServerMessage::Full {
            room: room("eight"),
            capacity: 8
        }
    );
    for member in &mut members {
        member.assert_quiet().await;
    }
}

/// In a room of four, every member sends each other member an offer, an answer, a candidate
/// and a hang-up addressed with `to`: each arrives, unchanged and with `from`, at the
/// addressee only; the two others get nothing (a ping answered before anything else proves
/// it), and neither does a pair in another room.
#[tokio::test]
async fn addressed_relays_in_a_room_of_four_reach_only_the_addressee() {
    let server = TestServer::default().await;
    let mut members = group_across(&[&server], "mesh", 4).await;
    let (mut outsider, mut other_outsider) = server.pair("next-door").await;
    for sender in 0..members.len() {
        for addressee in (0..members.len()).filter(|&index| index != sender) {
            let (from, to) = (members[sender].id(), members[addressee].id());
            for message in relays(Some(to.clone()), &format!("{sender}->{addressee}")) {
                members[sender].send(&message).await;
                assert_eq!(
                    members[addressee].recv().await,
                    relayed(&message, from.clone())
                );
            }
            for (index, member) in members.iter_mut().enumerate() {
                if index != addressee {
                    member.assert_quiet().await;
                }
            }
        }
    }
    outsider.assert_quiet().await;
    other_outsider.assert_quiet().await;
}

/// Without `to`, a relay of any kind is refused with `recipient_required` (and a sentence
/// saying to add `to`) in a room of four and in a room of three, and reaches nobody; once the
/// room is down to two it is allowed again and reaches the other member: what counts is the
/// size of the room when the relay arrives.
#[tokio::test]
async fn a_relay_without_to_needs_a_room_of_two() {
    let server = TestServer::default().await;
    let mut members = group_across(&[&server], "who", 4).await;
    shrink_to_two_refusing_unaddressed(&mut members, true).await;
    members[0].assert_quiet().await;
}

/// In a room of four, `leave` and a closed connection are each announced to every member who
/// remains (the closed one once its grace is over), and to nobody else.
#[tokio::test]
async fn departures_reach_every_remaining_member() {
    let server = TestServer::default().await;
    let mut members = group_across(&[&server], "leaving", 4).await;
    let mut leaver = members.remove(1);
    leaver.send(&ClientMessage::Leave).await;
    expect_left(&mut members, leaver.id()).await;
    leaver.assert_quiet().await;
    let dropped = members.remove(2);
    let dropped_id = dropped.id();
    dropped.abort();
    expect_left(&mut members, dropped_id).await;
    for member in &mut members {
        member.assert_quiet().await;
    }
    leaver.assert_quiet().await;
}

/// Every one of `members` is told `peer_left` for `gone`.
async fn expect_left(members: &mut [Client], gone: PeerId) {
    for member in members {
        assert_eq!(
            member.recv().await,
            ServerMessage::PeerLeft { peer: gone.clone() }
        );
    }
}
