//! The room's link, with a button that copies it.

use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// `#room-link` and `#copy-link`. The clipboard needs a secure context and may be refused;
/// the link stays visible to copy by hand either way.
#[component]
pub fn ShareLink(link: String) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let copy = {
        let link = link.clone();
        move |_| {
            let Some(window) = web_sys::window() else {
                return;
            };
            let clipboard = window.navigator().clipboard();
            // `navigator.clipboard` is undefined outside secure contexts.
            if wasm_bindgen::JsValue::from(clipboard.clone()).is_undefined() {
                copied.set(Some(false));
                return;
            }
            let promise = clipboard.write_text(&link);
            wasm_bindgen_futures::spawn_local(async move {
                let result = JsFuture::from(promise).await;
                copied.try_set(Some(result.is_ok()));
            });
        }
    };
    view! {
        <div class="share">
            <a id="room-link" href=link.clone()>{link.clone()}</a>
            <button id="copy-link" type="button" on:click=copy>"Copy link"</button>
            <span class="copied" aria-live="polite">
                {move || match copied.get() {
                    Some(true) => "Copied.",
                    Some(false) => "Could not copy: select the link and copy it by hand.",
                    None => "",
                }}
            </span>
        </div>
    }
}
