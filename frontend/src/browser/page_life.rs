//! The page's life as the browser reports it: hidden and shown again, and leaving (a reload,
//! a navigation, the tab closing) or coming back from the back-forward cache.
//!
//! [`PageLife::watch`] listens on the document and the window and reports [`PageEvent`]s; the
//! listeners go when the handle is dropped.

use gloo_events::EventListener;

/// What happened to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEvent {
    /// The page became visible again (`visibilitychange` to `visible`).
    Visible,
    /// The page is going away, or into the back-forward cache (`pagehide`).
    Hiding,
    /// The page is shown (`pageshow`; after `Hiding`, it came back from the cache).
    Showing,
}

/// The listeners; dropping this removes them.
#[derive(Debug)]
pub struct PageLife {
    _listeners: Vec<EventListener>,
}

impl PageLife {
    /// Reports the page's events to `on_event` until dropped.
    pub fn watch(on_event: impl Fn(PageEvent) + Clone + 'static) -> Option<Self> {
        let window = web_sys::window()?;
        let document = window.document()?;
        let visibility = {
            let on_event = on_event.clone();
            let document = document.clone();
            EventListener::new(&document.clone(), "visibilitychange", move |_| {
                if document.visibility_state() == web_sys::VisibilityState::Visible {
                    on_event(PageEvent::Visible);
                }
            })
        };
        let hide = {
            let on_event = on_event.clone();
            EventListener::new(&window, "pagehide", move |_| on_event(PageEvent::Hiding))
        };
        let show = EventListener::new(&window, "pageshow", move |_| on_event(PageEvent::Showing));
        Some(Self {
            _listeners: vec![visibility, hide, show],
        })
    }
}
