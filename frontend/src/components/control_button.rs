//! One button of the call's control bar: an icon over a short visible label, a `title` that
//! says what it does (and its key), and, for toggles, `aria-pressed`.
//!
//! The bar's buttons share one shape so that every control has an accessible name (its visible
//! label) and a tooltip, and toggles say their state the way assistive technology reads it: a
//! toggle keeps its name ("Mute") and changes `aria-pressed`, instead of renaming itself.

use leptos::prelude::*;

use super::icon::{Icon, IconView};

/// A button of the control bar. `pressed` makes it a toggle; `hidden` and `disabled` default to
/// false.
#[component]
pub fn ControlButton(
    id: &'static str,
    /// The visible label, which is also the accessible name.
    label: &'static str,
    /// The tooltip: what the button does, with its keyboard shortcut if any.
    title: &'static str,
    icon: Icon,
    on_press: impl Fn() + 'static,
    #[prop(optional)] class: &'static str,
    /// For `aria-keyshortcuts`.
    #[prop(optional)]
    key: Option<&'static str>,
    #[prop(optional, into)] pressed: Option<Signal<bool>>,
    #[prop(optional, into)] disabled: Signal<bool>,
    #[prop(optional, into)] hidden: Signal<bool>,
    /// For `aria-controls`: the id of the panel the button opens.
    #[prop(optional)]
    controls: Option<&'static str>,
    /// A count shown on the button (new chat messages while the chat is closed).
    #[prop(optional, into)]
    badge: Signal<Option<usize>>,
) -> impl IntoView {
    view! {
        <button
            id=id
            type="button"
            class=format!("control {class}")
            title=title
            aria-keyshortcuts=key
            aria-controls=controls
            aria-pressed=move || pressed.map(|pressed| if pressed.get() { "true" } else { "false" })
            disabled=move || disabled.get()
            hidden=move || hidden.get()
            on:click=move |_| on_press()
        >
            <IconView icon/>
            <span class="label">{label}</span>
            {move || {
                badge
                    .get()
                    .map(|count| view! { <span class="badge">{count}<span class="visually-hidden">" new"</span></span> })
            }}
        </button>
    }
}
