//! The room registry as a state machine: random operations through the presence interface
//! ([`backend::presence::Presence`], the one both stores implement), on the in-memory store,
//! checked step by step against a model that is just a map from room to members in join order.
//!
//! Operations: joins with a capacity that changes from one join to the next (1 to 8, as a
//! restart with another `--room-capacity` would give), leaves (also of people who are not
//! there), resumes of seats, and relays with and without a recipient. The generator keeps the
//! hub's rules of use — a connection joins only when it is in no room, relays only into the
//! room it is in — since the hub refuses anything else before the store is asked. After every
//! step the members of every room and the number of rooms open must match the model.

use std::{cell::RefCell, collections::HashMap};

use arbitrary::Unstructured;
use backend::presence::{Departure, JoinOutcome, Member, Presence, RelayError};
use shared::{PeerId, RoomName, ServerMessage};
use tokio::runtime::Runtime;

/// Few rooms and people, so that operations meet: full rooms, leaves of members, relays that
/// find their recipient.
const ROOMS: usize = 3;
const PEOPLE: usize = 10;
/// Operations per input: enough to fill and empty rooms several times over; longer sequences
/// only slow the run (every step compares every room with the model).
const MAX_STEPS: usize = 64;

thread_local! {
    /// One current-thread runtime per thread, reused by every input (building one costs more
    /// than a whole input).
    static RUNTIME: RefCell<Option<Runtime>> = const { RefCell::new(None) };
}

/// The model: each room's members in the order they joined.
#[derive(Debug, Default)]
struct Model {
    rooms: HashMap<usize, Vec<usize>>,
}

impl Model {
    fn room_of(&self, person: usize) -> Option<usize> {
        self.rooms
            .iter()
            .find(|(_, members)| members.contains(&person))
            .map(|(room, _)| *room)
    }

    fn members(&self, room: usize) -> &[usize] {
        self.rooms.get(&room).map(Vec::as_slice).unwrap_or_default()
    }
}

fn room_name(room: usize) -> RoomName {
    RoomName::new(format!("room-{room}")).expect("a valid room name")
}

fn peer_id(person: usize) -> PeerId {
    PeerId::new(format!("p{person}"))
}

fn members(people: &[usize]) -> Vec<Member> {
    people
        .iter()
        .map(|person| Member::here(peer_id(*person)))
        .collect()
}

pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    RUNTIME.with_borrow_mut(|runtime| {
        let runtime = runtime.get_or_insert_with(|| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a current-thread runtime")
        });
        runtime.block_on(steps(u))
    })
}

async fn steps(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let presence = Presence::in_memory();
    let mut model = Model::default();
    let message = ServerMessage::Pong;
    for _ in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        let person = u.choose_index(PEOPLE)?;
        let room = u.choose_index(ROOMS)?;
        match u.int_in_range(0..=3)? {
            0 => {
                let capacity = u.int_in_range(1..=8)?;
                if model.room_of(person).is_some() {
                    continue; // The hub answers `already_in_room`.
                }
                let outcome = presence
                    .join(
                        &room_name(room),
                        &peer_id(person),
                        &peer_id(person),
                        capacity,
                    )
                    .await
                    .expect("memory is always there");
                let seated = model.rooms.entry(room).or_default();
                let expected = if seated.len() >= capacity {
                    JoinOutcome::Full { capacity }
                } else {
                    let others = members(seated);
                    seated.push(person);
                    JoinOutcome::Joined { others }
                };
                if seated.is_empty() {
                    model.rooms.remove(&room);
                }
                assert_eq!(outcome, expected, "join of p{person} to room-{room}");
            }
            1 => {
                let departure = presence.leave(&room_name(room), &peer_id(person)).await;
                let expected = model.rooms.get_mut(&room).and_then(|seated| {
                    let at = seated.iter().position(|member| *member == person)?;
                    seated.remove(at);
                    Some(Departure {
                        room: room_name(room),
                        peer: peer_id(person),
                        remaining: members(seated),
                    })
                });
                if model.members(room).is_empty() {
                    model.rooms.remove(&room);
                }
                assert_eq!(departure, expected, "leave of p{person} from room-{room}");
            }
            2 => {
                let seat = presence
                    .resume(&room_name(room), &peer_id(person), &peer_id(person))
                    .await
                    .expect("memory is always there");
                let seated = model.members(room);
                let expected = seated.contains(&person).then(|| {
                    let others: Vec<usize> =
                        seated.iter().copied().filter(|m| *m != person).collect();
                    members(&others)
                });
                assert_eq!(seat, expected, "resume of p{person} in room-{room}");
            }
            _ => {
                let Some(room) = model.room_of(person) else {
                    continue; // The hub answers `not_in_room`.
                };
                let to = if u.arbitrary()? {
                    Some(u.choose_index(PEOPLE)?)
                } else {
                    None
                };
                let recipients = presence
                    .relay(
                        &room_name(room),
                        &peer_id(person),
                        to.map(peer_id).as_ref(),
                        &message,
                    )
                    .await;
                let seated = model.members(room);
                let others: Vec<usize> = seated.iter().copied().filter(|m| *m != person).collect();
                let expected = match to {
                    _ if others.is_empty() => Err(RelayError::NoPeer),
                    Some(to) if others.contains(&to) => Ok(vec![peer_id(to)]),
                    Some(_) => Err(RelayError::UnknownPeer),
                    None if seated.len() > 2 => Err(RelayError::RecipientRequired),
                    None => Ok(others.iter().map(|other| peer_id(*other)).collect()),
                };
                assert_eq!(recipients, expected, "relay from p{person} to {to:?}");
            }
        }
        for room in 0..ROOMS {
            let listed = presence
                .members(&room_name(room))
                .await
                .expect("memory is always there");
            assert_eq!(
                listed,
                members(model.members(room)),
                "members of room-{room}"
            );
        }
        assert_eq!(presence.rooms_here(), model.rooms.len(), "rooms open");
    }
    Ok(())
}
