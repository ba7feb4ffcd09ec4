//! The start page: start a new room, or join one by name.

use leptos::html::Input;
use leptos::prelude::*;
use shared::RoomName;

use crate::browser::random::random_bytes;
use crate::call::room_name::{self, RANDOM_BYTES};
use crate::pages::Address;

/// The part of what the person typed that names the room: a whole pasted link works too.
pub fn room_name_from_input(input: &str) -> &str {
    let input = input.trim();
    input
        .rsplit_once("/room/")
        .map_or(input, |(_, name)| name.trim_end_matches('/'))
}

#[component]
pub fn HomePage() -> impl IntoView {
    let address = use_context::<Address>().expect("the app provides the address");
    let name_input = NodeRef::<Input>::new();
    let name_error = RwSignal::new(None::<String>);

    let start = move |_| {
        let room = room_name::from_random_bytes(random_bytes::<RANDOM_BYTES>());
        address.go(&format!("/room/{room}"));
    };
    let join = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let typed = name_input
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_default();
        match RoomName::new(room_name_from_input(&typed)) {
            Ok(room) => {
                name_error.set(None);
                address.go(&format!("/room/{room}"));
            }
            Err(reason) => name_error.set(Some(format!("That name cannot be used: {reason}."))),
        }
    };

    view! {
        <main class="page home">
            <h1>"Video call"</h1>
            <p>"Start a call, then send the link to the person you want to talk to."</p>
            <button id="start-call" class="primary" type="button" on:click=start>
                "Start a call"
            </button>
            <form class="join" on:submit=join>
                <label for="room-name">"Or join a room by its name"</label>
                <div class="row">
                    <input
                        id="room-name"
                        type="text"
                        node_ref=name_input
                        autocomplete="off"
                        spellcheck="false"
                        placeholder="calm-otter-river-k3x9q2mz"
                        aria-describedby="room-name-error"
                    />
                    <button id="join-room" type="submit">"Join"</button>
                </div>
                <p id="room-name-error" class="error" role="alert">
                    {move || name_error.get()}
                </p>
            </form>
            <p class="note">
                "Trouble with calls? "
                <a id="check-link" href="/check">"Run the connection check"</a>
            </p>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare name, a pasted link and stray spaces all give the room's name.
    #[test]
    fn input_may_be_a_name_or_a_link() {
        assert_eq!(room_name_from_input("  blue-fox "), "blue-fox");
        assert_eq!(
            room_name_from_input("https://call.example.com/room/blue-fox"),
            "blue-fox"
        );
        assert_eq!(
            room_name_from_input("http://localhost:8080/room/a_b/"),
            "a_b"
        );
    }
}
