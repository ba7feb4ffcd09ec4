//! Where things are: the signalling server's URL and a room's shareable link.

/// The `<meta name="…">` that overrides the signalling URL, for a static site hosted apart
/// from the API.
const SIGNALLING_URL_META: &str = "signalling-url";

/// The signalling WebSocket URL: the `signalling-url` meta tag if present, else `/ws` on the
/// page's own host, `wss://` when the page came over https.
pub fn signalling_url() -> String {
    let window = web_sys::window().expect("a browser window");
    let from_meta = window
        .document()
        .and_then(|document| {
            document
                .query_selector(&format!("meta[name=\"{SIGNALLING_URL_META}\"]"))
                .ok()
                .flatten()
        })
        .and_then(|meta| meta.get_attribute("content"))
        .filter(|content| !content.trim().is_empty());
    from_meta.unwrap_or_else(|| {
        let location = window.location();
        default_signalling_url(
            &location.protocol().unwrap_or_default(),
            &location.host().unwrap_or_default(),
        )
    })
}

/// `/ws` on `host`, secure when the page's `protocol` is `https:`.
pub fn default_signalling_url(protocol: &str, host: &str) -> String {
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}/ws")
}

/// The absolute link to a room, to send to the other person.
pub fn room_link(room: &str) -> String {
    let origin = web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}/room/{room}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain http pages talk ws://, https pages wss://, on their own host and port.
    #[test]
    fn default_url_follows_the_page() {
        assert_eq!(
            default_signalling_url("http:", "localhost:8080"),
            "ws://localhost:8080/ws"
        );
        assert_eq!(
            default_signalling_url("https:", "call.example.com"),
            "wss://call.example.com/ws"
        );
    }
}
