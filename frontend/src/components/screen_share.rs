//! `#share-screen`: shares a screen, window or tab in place of the camera, or stops sharing.

use leptos::prelude::*;

use crate::browser::media::can_share_screen;
use crate::session::SessionView;

/// The button, pressed (`aria-pressed="true"`) while sharing; hidden where the browser cannot
/// share a screen (phones), and disabled until the camera and microphone are on (a call needs
/// them first).
#[component]
pub fn ScreenShareButton(
    view: SessionView,
    on_toggle: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <button
            id="share-screen"
            class="share-screen"
            type="button"
            hidden=!can_share_screen()
            disabled=move || !view.has_media.get() || view.share_pending.get()
            aria-pressed=move || if view.sharing.get() { "true" } else { "false" }
            title="Show your screen, a window or a tab instead of your camera (press again to stop)"
            on:click=move |_| on_toggle()
        >
            "Share screen"
        </button>
    }
}
