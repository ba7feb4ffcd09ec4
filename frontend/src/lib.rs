//! The browser half of the video-chat product: a Leptos app (client-side rendered) that joins
//! a room over the signalling WebSocket and makes a WebRTC call.
//!
//! Map of the modules:
//! - [`call`]: the call's rules as plain Rust — room membership, perfect negotiation,
//!   candidate buffering, the status line, room names. No browser needed to test them.
//! - [`browser`]: typed owners of browser objects — `getUserMedia`, `RTCPeerConnection`, the
//!   signalling socket — each releasing what it holds on drop.
//! - [`session`]: one room visit, carrying out the rules with the browser objects and
//!   publishing the result as signals — the session, its link to the server (a `Transport`),
//!   its calls keyed by the other person, and the signals (read-only for components). Test
//!   hooks exist only with the cargo feature `test-hooks`.
//! - [`components`] and [`pages`]: what the person sees, rendered from those signals.

pub mod browser;
pub mod call;
pub mod components;
pub mod pages;
pub mod session;

use leptos::prelude::*;

use crate::pages::{Address, CheckPage, HomePage, NotFound, RoomPage, Route};

/// The whole app: `/` starts or joins a room, `/room/<name>` is the room, `/check` tests the
/// connection.
#[component]
pub fn App() -> impl IntoView {
    let address = Address::follow_history();
    provide_context(address);
    // A memo: the page is rebuilt only when the route changes (another room's name included:
    // moving to another room tears the old session down).
    let route = Memo::new(move |_| address.route());
    move || match route.get() {
        Route::Home => view! { <HomePage/> }.into_any(),
        Route::Room(name) => view! { <RoomPage name/> }.into_any(),
        Route::Check => view! { <CheckPage/> }.into_any(),
        Route::NotFound => view! { <NotFound/> }.into_any(),
    }
}
