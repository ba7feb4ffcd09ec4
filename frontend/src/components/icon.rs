//! The control bar's icons: a few stroked paths on a 24×24 grid, inline so the page loads no
//! icon font or image (and stays within its size budget).

use leptos::prelude::*;

/// The icons the page uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    Camera,
    Call,
    HangUp,
    Microphone,
    CameraOff,
    Screen,
    Chat,
    Stats,
    Retry,
    Close,
}

impl Icon {
    /// The path data (stroked, round caps).
    fn path(self) -> &'static str {
        match self {
            Self::Camera => "M3 7h12v10H3z M15 10l6-3v10l-6-3",
            Self::Call => {
                "M5 3h4l2 5-2.5 1.5a11 11 0 0 0 6 6L16 13l5 2v4a2 2 0 0 1-2 2A17 17 0 0 1 3 5a2 2 0 0 1 2-2z"
            }
            Self::HangUp => "M2 14c6-6 14-6 20 0l-3 3-4-2v-3a11 11 0 0 0-6 0v3l-4 2z",
            Self::Microphone => "M9 6a3 3 0 0 1 6 0v5a3 3 0 0 1-6 0z M5 11a7 7 0 0 0 14 0 M12 18v3",
            Self::CameraOff => "M3 7h12v10H3z M15 10l6-3v10l-6-3 M2 3l20 18",
            Self::Screen => "M3 4h18v12H3z M8 20h8 M12 16v4",
            Self::Chat => "M4 4h16v12H9l-5 4z",
            Self::Stats => "M3 21h18 M6 17v-6 M11 17V5 M16 17v-9 M21 17v-3",
            Self::Retry => "M4 12a8 8 0 1 0 2.5-5.8 M4 3v5h5",
            Self::Close => "M5 5l14 14 M19 5L5 19",
        }
    }
}

/// An icon, hidden from assistive technology: the button's label names it.
#[component]
pub fn IconView(icon: Icon) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d=icon.path()/>
        </svg>
    }
}
