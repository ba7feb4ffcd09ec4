//! The chat panel: `#chat-log` (messages and file transfers), `#chat-input` with `#chat-send`,
//! and `#file-input`.
//!
//! Text from the other side is rendered as text nodes and `http(s)` links only
//! ([`segments`]); nothing is ever parsed as HTML. Enter sends, Shift+Enter starts a new line.
//! The panel owns no browser objects: it hands what the person typed or picked to the
//! callbacks and renders the session's [`ChatView`].

use leptos::html::Textarea;
use leptos::prelude::*;
use web_sys::File;

use super::icon::{Icon, IconView};
use crate::browser::files::picked_files;
use crate::call::chat::{Author, Segment, segments};
use crate::call::transfer::{TransferState, human_size, human_speed};
use crate::session::chat_ui::{ChatView, LogEntry, TransferHandle, TransferView};

/// The chat side panel.
#[component]
pub fn ChatPanel(
    chat: ChatView,
    /// Sends a message; `true` if it went (the box is then emptied).
    on_send: Callback<String, bool>,
    /// Sends the picked files.
    on_files: UnsyncCallback<Vec<File>>,
    /// Cancels a transfer.
    on_cancel: Callback<TransferHandle>,
    /// Whether the person opened (`Some(true)`) or closed the panel; `None` leaves it to the
    /// layout (open on a wide screen, closed on a phone: style.css).
    #[prop(into)]
    choice: Signal<Option<bool>>,
    /// The panel's own close button.
    on_close: Callback<()>,
) -> impl IntoView {
    let input = NodeRef::<Textarea>::new();
    let send = move || {
        let Some(input) = input.get_untracked() else {
            return;
        };
        if on_send.run(input.value()) {
            input.set_value("");
        }
    };
    view! {
        <aside
            id="chat"
            class="chat-panel"
            class:by-layout=move || choice.get().is_none()
            aria-label="Chat"
            hidden=move || choice.get() == Some(false)
        >
            <header class="chat-header">
                <h2 class="chat-title">"Chat"</h2>
                <button
                    id="chat-close"
                    type="button"
                    class="close"
                    aria-label="Close the chat"
                    title="Close the chat"
                    on:click=move |_| on_close.run(())
                >
                    <IconView icon=Icon::Close/>
                </button>
            </header>
            <div id="chat-log" class="chat-log" role="log" aria-live="polite">
                <For each=move || chat.log.get() key=LogEntry::key let:entry>
                    {render_entry(entry, on_cancel)}
                </For>
            </div>
            <p id="chat-refusal" class="chat-refusal" role="alert" hidden=move || chat.refusal.read().is_none()>
                {move || chat.refusal.get()}
            </p>
            <form class="chat-form" on:submit=move |event| {
                event.prevent_default();
                send();
            }>
                <label class="visually-hidden" for="chat-input">"Message"</label>
                <textarea
                    id="chat-input"
                    class="chat-input"
                    rows="2"
                    placeholder="Type a message (Enter sends, Shift+Enter for a new line)"
                    node_ref=input
                    on:keydown=move |event| {
                        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                            event.prevent_default();
                            send();
                        }
                    }
                ></textarea>
                <button id="chat-send" type="submit" title="Send the message (Enter)">"Send"</button>
                <label class="chat-file" title="Send files to the other person">
                    "Send files"
                    <input
                        id="file-input"
                        type="file"
                        multiple=true
                        on:change=move |event| on_files.run(picked_files(event.target()))
                    />
                </label>
            </form>
        </aside>
    }
}

fn render_entry(entry: LogEntry, on_cancel: Callback<TransferHandle>) -> AnyView {
    match entry {
        LogEntry::Message {
            from, peer, text, ..
        } => view! {
            <p class="chat-message" data-from=from.as_str() data-peer=peer.map(|peer| peer.as_str().to_owned())>
                {segments(&text).into_iter().map(render_segment).collect_view()}
            </p>
        }
        .into_any(),
        LogEntry::Transfer { view, .. } => render_transfer(view, on_cancel).into_any(),
    }
}

fn render_segment(segment: Segment) -> AnyView {
    match segment {
        Segment::Text(text) => text.into_any(),
        Segment::Link(url) => {
            let href = url.clone();
            view! { <a href=href target="_blank" rel="noopener noreferrer">{url}</a> }.into_any()
        }
    }
}

fn render_transfer(view: TransferView, on_cancel: Callback<TransferHandle>) -> impl IntoView {
    let TransferView {
        handle,
        from,
        name,
        size,
        done,
        speed,
        state,
    } = view;
    // Arena handles (`Copy`) for the closures, owned by this element.
    let state: Signal<TransferState> = Signal::from(state);
    let done: Signal<u64> = Signal::from(done);
    let speed: Signal<Option<f64>> = Signal::from(speed);
    let link_name = name.clone();
    let cancel_label = match from {
        Author::Me => format!("Cancel sending {name}"),
        Author::Them => format!("Cancel receiving {name}"),
    };
    view! {
        <div
            class="transfer"
            data-from=from.as_str()
            data-state=move || state.read().as_str()
            data-sha256=move || match &*state.read() {
                TransferState::Received { sha256, .. } => Some(sha256.clone()),
                _ => None,
            }
        >
            <span class="transfer-name">{name.clone()}</span>
            " "
            <span class="transfer-size">{human_size(size)}</span>
            <progress
                class="transfer-progress"
                aria-label=format!("Progress of {name}")
                max=size.max(1) as f64
                value=move || if size == 0 { 1.0 } else { done.get() as f64 }
            ></progress>
            <span class="transfer-speed">
                {move || speed.get().map(human_speed).unwrap_or_default()}
            </span>
            <span class="transfer-status">{move || state.read().sentence(from)}</span>
            <button
                type="button"
                class="transfer-cancel"
                title=cancel_label.clone()
                aria-label=cancel_label
                hidden=move || state.read().is_over()
                on:click=move |_| on_cancel.run(handle)
            >
                "Cancel"
            </button>
            {move || match &*state.read() {
                TransferState::Received { url, .. } => Some(view! {
                    <a class="transfer-save" href=url.clone() download=link_name.clone()>
                        {format!("Save {link_name}")}
                    </a>
                }),
                _ => None,
            }}
        </div>
    }
}
