//! The other people of the call, one tile each (`#remote-tiles`), in a grid that fits them.
//!
//! Each tile is a `figure.tile[data-peer][data-state]` with its own `video.remote`, the other
//! person's microphone and camera indicators and, while the call with them is not connected,
//! its own state in words. The grid's shape comes from `data-count` in `style.css` (one large,
//! two side by side, 2×2 for three or four, three columns beyond; stacked on a phone). The
//! first tile keeps the ids of the one-to-one page (`#remote-video`, `#remote-muted`,
//! `#remote-camera-off`, `#verify-code`); before any call an empty tile holds its place.
//!
//! Once the call with them is connected, a tile shows the call's verification code
//! (`.verify-code`, see [`crate::call::verify_code`]) with a sentence saying what to do with it.
//!
//! A tile does not play the stream itself: when its `<video>` mounts it hands the element to
//! the session (`on_video`), which plays the call's stream in it, now or when it comes.

use std::rc::Rc;

use leptos::html::Video;
use leptos::prelude::*;
use web_sys::HtmlVideoElement;

use crate::call::status::{CallPhase, Presence, Status, phase_state};
use crate::call::verify_code::EXPLANATION;
use crate::session::ui::TileView;

/// Where a mounted tile's `<video>` goes: the call's key and the element.
pub type OnVideo = Rc<dyn Fn(u64, HtmlVideoElement)>;

/// The grid of tiles.
#[component]
pub fn RemoteTiles(#[prop(into)] tiles: Signal<Vec<TileView>>, on_video: OnVideo) -> impl IntoView {
    // Not `Send`: kept in a local store and handed to the tiles by copy.
    let on_video = StoredValue::new_local(on_video);
    let first = Memo::new(move |_| tiles.read().first().map(|tile| tile.key));
    let count = move || tiles.read().len();
    view! {
        <div id="remote-tiles" class="tiles" data-count=move || count().to_string()>
            {move || (count() == 0).then(|| view! {
                <figure class="video remote tile placeholder">
                    <video id="remote-video" class="remote" autoplay=true playsinline=true></video>
                    <div id="remote-camera-off" class="camera-off-placeholder" hidden=true></div>
                    <p id="remote-muted" class="remote-muted" hidden=true>"Their microphone is off"</p>
                    <figcaption>"Them"</figcaption>
                </figure>
            })}
            <For each=move || tiles.get() key=|tile| tile.key let(tile)>
                <Tile tile first on_video/>
            </For>
        </div>
    }
}

/// One person's tile.
#[component]
fn Tile(
    tile: TileView,
    first: Memo<Option<u64>>,
    on_video: StoredValue<OnVideo, LocalStorage>,
) -> impl IntoView {
    let key = tile.key;
    let is_first = move || first.get() == Some(key);
    let video = NodeRef::<Video>::new();
    Effect::new(move |_| {
        if let Some(element) = video.get() {
            on_video.with_value(|on_video| on_video(key, element));
        }
    });
    let peer = |tile: &TileView| {
        let peer = tile.peer.clone();
        move || peer.get().as_str().to_owned()
    };
    let phase = tile.phase.clone();
    let state = |phase: &ArcRwSignal<CallPhase>| {
        let phase = phase.clone();
        move || phase_state(phase.get())
    };
    let connected = {
        let phase = phase.clone();
        move || matches!(phase.get(), CallPhase::Connected(_))
    };
    let sentence = {
        let phase = phase.clone();
        move || Status::of(Presence::Ready, Some(phase.get())).sentence
    };
    let muted = {
        let controls = tile.controls.clone();
        move || controls.get().muted
    };
    let camera_off = {
        let controls = tile.controls.clone();
        move || controls.get().camera_off
    };
    // Shown only while connected: a code left from before an ICE restart must not be read out.
    let code = {
        let verify = tile.verify.clone();
        let connected = connected.clone();
        move || {
            connected()
                .then(|| verify.get())
                .flatten()
                .map(|code| code.to_string())
        }
    };
    let no_code = {
        let code = code.clone();
        move || code().is_none()
    };
    let initial = {
        let tile = tile.clone();
        move || tile.initial()
    };
    view! {
        <figure class="video remote tile" data-peer=peer(&tile) data-state=state(&phase)>
            <video
                class="remote"
                id=move || is_first().then_some("remote-video")
                data-peer=peer(&tile)
                node_ref=video
                autoplay=true
                playsinline=true
            ></video>
            <div
                class="camera-off-placeholder tile-camera-off"
                id=move || is_first().then_some("remote-camera-off")
                hidden=move || !camera_off()
            >
                <span class="initial" aria-hidden="true">{initial}</span>
                <span>"Their camera is off"</span>
            </div>
            <p
                class="remote-muted tile-muted"
                id=move || is_first().then_some("remote-muted")
                hidden=move || !muted()
            >
                "Their microphone is off"
            </p>
            <p class="tile-state" data-state=state(&phase) role="status" hidden=connected>
                {sentence}
            </p>
            <p class="tile-verify" hidden=no_code>
                <span class="verify-label">"Code "</span>
                <span class="verify-code" id=move || is_first().then_some("verify-code")>
                    {code}
                </span>
                <span class="verify-help">{EXPLANATION}</span>
            </p>
            <figcaption>"Them"</figcaption>
        </figure>
    }
}
