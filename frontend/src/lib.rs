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
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::pages::{CheckPage, HomePage, NotFound, RoomPage};

/// The whole app: `/` starts or joins a room, `/room/<name>` is the room, `/check` tests the
/// connection.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=HomePage/>
                <Route path=path!("/room/:name") view=RoomPage/>
                <Route path=path!("/check") view=CheckPage/>
            </Routes>
        </Router>
    }
}
