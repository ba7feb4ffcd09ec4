//! The browser's word that the network changed.
//!
//! A network change is `online` on the window (the machine was offline) or `change` on
//! `navigator.connection` (Chromium's Network Information API: another type or quality of
//! network, such as Wi-Fi to mobile). Other browsers have no `navigator.connection`; they
//! report `online` only. What a change means for the call is decided in
//! [`crate::call::ice_restart`], not here.

use gloo_events::EventListener;
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::EventTarget;

/// Listens for network changes until dropped (dropping removes the listeners).
pub struct NetworkWatch {
    _listeners: Vec<EventListener>,
}

impl std::fmt::Debug for NetworkWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkWatch").finish_non_exhaustive()
    }
}

impl NetworkWatch {
    /// Calls `on_change` at each `online` and each `navigator.connection` `change`.
    pub fn new(on_change: impl Fn() + 'static) -> Self {
        let on_change = std::rc::Rc::new(on_change);
        let mut listeners = Vec::new();
        let Some(window) = web_sys::window() else {
            return Self {
                _listeners: listeners,
            };
        };
        listeners.push(EventListener::new(&window, "online", {
            let on_change = std::rc::Rc::clone(&on_change);
            move |_| on_change()
        }));
        if let Some(connection) =
            Reflect::get(&window.navigator(), &JsValue::from_str("connection"))
                .ok()
                .and_then(|connection| connection.dyn_into::<EventTarget>().ok())
        {
            listeners.push(EventListener::new(&connection, "change", move |_| {
                on_change();
            }));
        }
        Self {
            _listeners: listeners,
        }
    }
}
