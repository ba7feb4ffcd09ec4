//! A room at `/room/<name>`: the videos, the buttons and the status of the call.
//!
//! The page starts a [`Session`] when it mounts (joining the room before anyone presses a
//! button) and stops it in `on_cleanup`, which closes the call, stops the camera and closes
//! the socket. Its layout keeps the buttons still: the videos and the controls come first, at
//! fixed sizes, and every panel that comes and goes with the room's state follows them.

use std::rc::Rc;

use leptos::prelude::*;
use shared::RoomName;
use wasm_bindgen::JsCast;

use crate::browser::location::room_link;
use crate::browser::media::can_share_screen;
use crate::call::controls::{Toggle, shortcut, takes_text};
use crate::call::status::{Presence, REPLACED_SENTENCE, SERVER_NOTE};
use crate::components::{
    ChatPanel, ControlButton, DeviceMenus, Icon, MediaError, RemoteTiles, ShareLink, StatsPanel,
    StatusLine,
};
use crate::session::Session;
use crate::session::chat_ui::LogEntry;

/// Validates the name in the address, then shows the room (or why the name is wrong).
#[component]
pub fn RoomPage(
    /// The name in the address (`/room/<name>`), not yet validated.
    name: String,
) -> impl IntoView {
    match RoomName::new(name) {
        Ok(room) => view! { <Room room/> }.into_any(),
        Err(reason) => view! {
            <main class="page">
                <h1>"This room name is not valid"</h1>
                <p>{format!("{reason}.")}</p>
                <p><a id="back-home" href="/">"Back to the start page"</a></p>
            </main>
        }
        .into_any(),
    }
}

/// One room visit.
#[component]
fn Room(room: RoomName) -> impl IntoView {
    let link = room_link(room.as_str());
    let started = Session::start(room.clone());
    let ui = started.view();
    // Not `Send`: browser objects live in a local store, handed to event handlers by copy.
    let session = StoredValue::new_local(started);
    on_cleanup(move || {
        session.try_with_value(|session| session.stop());
    });

    // Keyboard shortcuts: `m` mutes, `v` turns the camera off, except while typing.
    let keys = window_event_listener(leptos::ev::keydown, move |event| {
        let typing = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|element| {
                takes_text(
                    &element.tag_name(),
                    element.has_attribute("contenteditable"),
                )
            });
        let modified = event.ctrl_key() || event.alt_key() || event.meta_key();
        if let Some(toggle) = shortcut(&event.key(), modified, typing) {
            session.with_value(|session| session.toggle(toggle));
        }
    });
    on_cleanup(move || keys.remove());

    let stats_open = RwSignal::new(false);
    // `None` until the person opens or closes the chat: then the layout decides (style.css),
    // open beside the videos on a wide screen, closed on a phone, where it opens as a sheet
    // over the lower part of the screen. The window's size is read only when it matters (a
    // press, or the button's state), not at load, when a new window may not have its size yet.
    let chat_choice = RwSignal::new(None::<bool>);
    let chat_shown = Signal::derive(move || chat_choice.get().unwrap_or_else(|| !narrow_screen()));
    let unread = unread_count(ui.chat.log, chat_shown);
    let status = Memo::new(move |_| ui.status());
    let presence = ui.presence;
    let show_share = move || {
        matches!(
            presence.get(),
            Presence::Connecting | Presence::Waiting | Presence::PeerLeft | Presence::Offline
        ) && ui.phase.get().is_none()
    };
    let full_capacity = move || match presence.get() {
        Presence::Full { capacity } => Some(capacity),
        _ => None,
    };
    let on_video: crate::components::OnVideo = Rc::new(move |key, video| {
        session.with_value(|session| session.attach_video(key, video));
    });
    let is_replaced = move || presence.get() == Presence::Replaced;
    let left_note = move || ui.peer_left.get() && presence.get() != Presence::PeerLeft;

    view! {
        <main class="page room">
            <header class="room-header">
                <h1>"Room " <span class="room-name">{room.to_string()}</span></h1>
                <StatusLine status/>
            </header>

            <div class="stage">
                <section class="videos" aria-label="Videos">
                    <RemoteTiles tiles=ui.tiles on_video/>
                    <figure class="video local">
                        <video
                            id="local-video"
                            class="mirrored"
                            class:screen=move || ui.sharing.get()
                            node_ref=ui.local_video
                            autoplay=true
                            playsinline=true
                            muted=true
                            prop:muted=true
                        ></video>
                        <figcaption>"You"</figcaption>
                    </figure>
                </section>
                // Beside the videos on a wide screen, under them on a phone.
                <div class="side">
                    <ChatPanel
                        chat=ui.chat
                        on_send=Callback::new(move |text: String| {
                            session.with_value(|session| session.send_chat(&text).is_ok())
                        })
                        on_files=UnsyncCallback::new(move |files| {
                            session.with_value(|session| session.send_files(files))
                        })
                        on_cancel=Callback::new(move |handle| {
                            session.with_value(|session| session.cancel_transfer(handle))
                        })
                        choice=chat_choice
                        on_close=Callback::new(move |()| chat_choice.set(Some(false)))
                    />
                    <StatsPanel tiles=ui.tiles history=ui.stats_history open=stats_open/>
                </div>
            </div>

            <nav class="controls" aria-label="Call controls">
                <ControlButton
                    id="get-video"
                    label="Get Video"
                    title="Turn on your camera and microphone"
                    icon=Icon::Camera
                    disabled=Signal::derive(move || ui.media_pending.get() || ui.has_media.get())
                    on_press=move || session.with_value(|session| session.get_video())
                />
                <ControlButton
                    id="call"
                    class="primary"
                    label="Call"
                    title="Call everybody in the room"
                    icon=Icon::Call
                    disabled=Signal::derive(move || !ui.can_call())
                    on_press=move || session.with_value(|session| session.call())
                />
                <ControlButton
                    id="hang-up"
                    class="danger"
                    label="Hang up"
                    title="Leave the call (everybody stays in the room)"
                    icon=Icon::HangUp
                    disabled=Signal::derive(move || ui.phase.get().is_none())
                    on_press=move || session.with_value(|session| session.hang_up())
                />
                <ControlButton
                    id="mute"
                    label="Mute"
                    title="Turn your microphone off or on (M)"
                    key="M"
                    icon=Icon::Microphone
                    pressed=Signal::derive(move || ui.controls.get().muted)
                    on_press=move || session.with_value(|session| session.toggle(Toggle::Mute))
                />
                <ControlButton
                    id="camera-off"
                    label="Camera off"
                    title="Turn your camera off or on (V)"
                    key="V"
                    icon=Icon::CameraOff
                    pressed=Signal::derive(move || ui.controls.get().camera_off)
                    on_press=move || session.with_value(|session| session.toggle(Toggle::Camera))
                />
                <ControlButton
                    id="share-screen"
                    label="Share screen"
                    title="Show your screen, a window or a tab instead of your camera (press again to stop)"
                    icon=Icon::Screen
                    // Phones have no getDisplayMedia; a call needs camera and microphone first.
                    hidden=!can_share_screen()
                    disabled=Signal::derive(move || !ui.has_media.get() || ui.share_pending.get())
                    pressed=Signal::derive(move || ui.sharing.get())
                    on_press=move || session.with_value(|session| session.toggle_screen_share())
                />
                <ControlButton
                    id="chat-toggle"
                    class="panel-toggle"
                    label="Chat"
                    title="Show or hide the chat and files"
                    icon=Icon::Chat
                    controls="chat"
                    pressed=chat_shown
                    badge=Signal::derive(move || unread.get())
                    on_press=move || chat_choice.set(Some(!chat_shown.get_untracked()))
                />
                <ControlButton
                    id="stats-toggle"
                    class="panel-toggle"
                    label="Stats"
                    title="Show or hide the call's live statistics"
                    icon=Icon::Stats
                    controls="stats"
                    pressed=stats_open
                    on_press=move || stats_open.update(|open| *open = !*open)
                />
                <ControlButton
                    id="retry-call"
                    label="Retry"
                    title="Try to connect the call again"
                    icon=Icon::Retry
                    hidden=Signal::derive(move || !ui.any_failed())
                    on_press=move || session.with_value(|session| session.retry_call())
                />
            </nav>
            <DeviceMenus
                view=ui
                on_choose=move |kind, id| session.with_value(|session| session.choose_device(kind, id))
            />

            // Everything that appears and disappears as the room changes sits below the
            // controls, so that the buttons never move under the person's pointer: when the
            // share panel above them vanished as the other person arrived, a press aimed at
            // Get Video while the page loaded landed beside it (issue 7, "a lost click").
            <p id="check-hint" class="note" hidden=move || !ui.any_failed()>
                <a id="check-link" href="/check">
                    "The call could not connect — run the connection check"
                </a>
            </p>
            // The call goes on while the page reconnects to the server: the status line keeps
            // saying "Connected", and only this note tells.
            <p id="server-note" class="note" role="status" hidden=move || !ui.server_note.get()>
                {SERVER_NOTE}
            </p>
            <p id="peer-left-note" class="note" hidden=move || !left_note()>
                "The other person left."
            </p>
            <p id="notice" class="note" hidden=move || ui.notice.read().is_none()>
                {move || ui.notice.read().as_ref().map(|notice| notice.text())}
            </p>

            <section class="panel" hidden=move || !show_share()>
                <ShareLink link/>
            </section>

            <section class="panel alert" hidden=move || !is_replaced()>
                <p id="replaced-note">{REPLACED_SENTENCE}</p>
                <button
                    id="take-back"
                    type="button"
                    on:click=move |_| session.with_value(|session| session.take_back())
                >
                    "Take the call back here"
                </button>
            </section>
            <section class="panel alert" hidden=move || full_capacity().is_none()>
                <p>
                    {move || full_capacity().map(crate::call::status::full_sentence)}
                    " Try again later, or start a new room from the start page."
                </p>
                <p><a id="back-home" href="/">"Back to the start page"</a></p>
            </section>

            <MediaError
                problem=ui.media_problem
                on_retry=move || session.with_value(|session| session.get_video())
            />
        </main>
    }
}

/// Whether the window is phone-sized: the width below which the page stacks (style.css).
fn narrow_screen() -> bool {
    web_sys::window()
        .and_then(|window| window.inner_width().ok())
        .and_then(|width| width.as_f64())
        .is_some_and(|width| width <= 640.0)
}

/// How many chat entries arrived since the panel was last open (`None` while open or when
/// nothing is new), for the badge on `#chat-toggle`.
fn unread_count(log: ReadSignal<Vec<LogEntry>>, open: Signal<bool>) -> Memo<Option<usize>> {
    let seen = RwSignal::new(0_usize);
    Effect::new(move |_| {
        if open.get() {
            seen.set(log.read().len());
        }
    });
    Memo::new(move |_| {
        let new = log.read().len().saturating_sub(seen.get());
        (!open.get() && new > 0).then_some(new)
    })
}
