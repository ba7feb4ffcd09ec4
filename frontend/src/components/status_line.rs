//! The status line: `#status` with the sentence, `data-state` and, once known, `data-route`.

use leptos::prelude::*;

use crate::call::status::Status;

/// Renders `status` in words, with the machine-readable state as attributes.
#[component]
pub fn StatusLine(#[prop(into)] status: Signal<Status>) -> impl IntoView {
    view! {
        <p
            id="status"
            class="status"
            role="status"
            aria-live="polite"
            data-state=move || status.read().state
            data-route=move || status.read().route.map(|route| route.as_str())
        >
            {move || status.read().sentence.clone()}
        </p>
    }
}
