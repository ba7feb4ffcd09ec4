//! Which page an address shows, and moving to another address without reloading the page.
//!
//! Three routes do not need a router crate (leptos_router weighed tens of kilobytes of the
//! wasm): [`Route::of`] matches the path, [`Address`] holds the current one as a signal kept in
//! step with the browser's history (`popstate`), and [`Address::go`] pushes a new entry. Plain
//! `<a href>` links load the page anew, which the server answers with the same app.

use gloo_events::EventListener;
use leptos::prelude::*;

/// The page a path shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`: start or join a room.
    Home,
    /// `/room/<name>`: the room; the name is validated by the room page.
    Room(String),
    /// `/check`: the connection check.
    Check,
    /// Anything else.
    NotFound,
}

impl Route {
    /// The route of `path` (the address's pathname); one trailing slash is ignored.
    pub fn of(path: &str) -> Self {
        let path = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => path,
        };
        match path {
            "" | "/" => Self::Home,
            "/check" => Self::Check,
            _ => match path.strip_prefix("/room/") {
                Some(name) if !name.contains('/') => Self::Room(name.to_owned()),
                _ => Self::NotFound,
            },
        }
    }
}

/// The current path, as a signal that follows the browser's back and forward buttons. Given
/// to the pages as context by the app.
#[derive(Clone, Copy)]
pub struct Address {
    path: RwSignal<String>,
}

impl Address {
    /// Reads the page's path and follows `popstate` until the owner (the app) is disposed.
    pub fn follow_history() -> Self {
        let path = RwSignal::new(current_path());
        if let Some(window) = web_sys::window() {
            let listener = EventListener::new(&window, "popstate", move |_| {
                path.set(current_path());
            });
            // The listener lives as long as the app: dropped (removed) on its cleanup.
            let listener = StoredValue::new_local(Some(listener));
            on_cleanup(move || listener.update_value(|held| drop(held.take())));
        }
        Self { path }
    }

    /// The route of the current path (tracked).
    pub fn route(self) -> Route {
        self.path.with(|path| Route::of(path))
    }

    /// Moves to `path` as a new history entry, without reloading the page.
    pub fn go(self, path: &str) {
        if let Some(history) = web_sys::window().and_then(|window| window.history().ok()) {
            let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path));
        }
        self.path.set(current_path());
    }
}

/// `location.pathname` ("/" if unreadable).
fn current_path() -> String {
    web_sys::window()
        .and_then(|window| window.location().pathname().ok())
        .unwrap_or_else(|| "/".into())
}

#[cfg(test)]
mod tests {
    use super::Route;

    /// The three routes and their names; anything else is not found.
    #[test]
    fn paths_map_to_routes() {
        assert_eq!(Route::of("/"), Route::Home);
        assert_eq!(Route::of(""), Route::Home);
        assert_eq!(Route::of("/check"), Route::Check);
        assert_eq!(Route::of("/check/"), Route::Check);
        assert_eq!(Route::of("/room/team-42"), Route::Room("team-42".into()));
        assert_eq!(Route::of("/room/team-42/"), Route::Room("team-42".into()));
        assert_eq!(Route::of("/room/"), Route::NotFound);
        assert_eq!(Route::of("/room/a/b"), Route::NotFound);
        assert_eq!(Route::of("/rooms/a"), Route::NotFound);
        assert_eq!(Route::of("/elsewhere"), Route::NotFound);
    }
}
