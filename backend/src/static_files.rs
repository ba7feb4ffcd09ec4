//! Serving the built frontend: files, the `index.html` fallback for client routes, caching,
//! compression and the Content-Security-Policy.
//!
//! Trunk names every asset with a content hash (`frontend-<hash>_bg.wasm`), so those are cached
//! for a year and marked immutable; `index.html`, which names the current hashes, is always
//! revalidated; a `304 Not Modified` for a hashed asset repeats the one-year header (a browser
//! replaces the stored headers with those of a 304). The CSP allows exactly the inline
//! bootstrap scripts that are in `index.html` (by their SHA-256), `'wasm-unsafe-eval'` to
//! compile the wasm, and nothing from elsewhere but one thing: when `index.html` points the
//! page at a signalling server of another origin (its `<meta name="signalling-url">`, read at
//! start), `connect-src` names that origin, so the page served from here can reach it. The page
//! itself is the one place that says where it connects: there is no second setting to keep in
//! step with it.
//!
//! The build writes `<file>.br` and `<file>.gz` next to the wasm, JS, CSS and HTML
//! (`scripts/precompress`, Trunk's post_build hook): those are sent as they are to a browser
//! that accepts them, so the 786 KB wasm is not compressed again on every cold load. Files
//! without such siblings are still compressed on the fly.

use std::path::Path;

use anyhow::Context;
use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, StatusCode, Uri, header},
    middleware::{self, Next},
    response::Response,
};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::{
    compression::CompressionLayer,
    services::{ServeDir, ServeFile, fs::ServeFileSystemResponseBody},
    set_header::SetResponseHeaderLayer,
};

const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// A router answering every path from `dir`, with `index.html` for paths that are not files.
pub fn router(dir: &Path) -> anyhow::Result<Router> {
    let index = dir.join("index.html");
    let html = std::fs::read_to_string(&index)
        .with_context(|| format!("reading {} (build the frontend first)", index.display()))?;
    let csp = HeaderValue::from_str(&content_security_policy(&html))
        .context("the CSP is a valid header value")?;
    // Marks the answers of the `index.html` fallback, which are never cached long even under a
    // hashed-looking path (a 304 of it carries no Content-Type to tell it by).
    let fallback = ServiceExt::<Request>::map_response(
        ServeFile::new(index)
            .precompressed_br()
            .precompressed_gzip(),
        |mut response: axum::http::Response<ServeFileSystemResponseBody>| {
            response.extensions_mut().insert(IndexFallback);
            response
        },
    );
    let files = ServeDir::new(dir)
        .append_index_html_on_directories(true)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(fallback);
    Ok(Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn(cache_control))
        .layer(middleware::from_fn(vary_on_precompressed))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(CompressionLayer::new()))
}

/// Marks a response of the `index.html` fallback.
#[derive(Debug, Clone, Copy)]
struct IndexFallback;

/// Long caching for content-hashed assets, also on their `304 Not Modified`, and revalidation
/// for everything else (HTML above all).
async fn cache_control(request: Request, next: Next) -> Response {
    let hashed = is_content_hashed(request.uri().path());
    let mut response = next.run(request).await;
    let is_html = response.extensions().get::<IndexFallback>().is_some()
        || response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/html"));
    let status = response.status();
    let found = status.is_success() || status == StatusCode::NOT_MODIFIED;
    let value = if hashed && !is_html && found {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    response.headers_mut().insert(header::CACHE_CONTROL, value);
    response
}

/// `Vary: Accept-Encoding` on a precompressed file: ServeDir does not add it, and the
/// compression layer only adds it to what it compresses itself, so a shared cache could
/// otherwise hand the brotli bytes to a client that asked for none.
async fn vary_on_precompressed(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let varies = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("accept-encoding") || name.trim() == "*");
    if headers.contains_key(header::CONTENT_ENCODING) && !varies {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// Whether a path names a file whose name carries Trunk's content hash: a stem ending in
/// `-<8 to 16 hex digits>`, optionally followed by `_bg` (the wasm file).
fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, _extension)) = name.rsplit_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    let Some((_, hash)) = stem.rsplit_once('-') else {
        return false;
    };
    (8..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The policy for the app's pages, allowing the inline scripts of `html` by hash, and the
/// signalling server it names when that is elsewhere.
fn content_security_policy(html: &str) -> String {
    let connect: String = signalling_url(html)
        .and_then(|url| {
            let origin = origin_of(url);
            if origin.is_none() && !url.starts_with('/') {
                tracing::warn!(url, "the signalling-url of index.html is not a ws:// or wss:// URL; connect-src stays 'self'");
            }
            origin
        })
        .map(|origin| format!(" {origin}"))
        .unwrap_or_default();
    let hashes: String = inline_scripts(html)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self' blob: mediastream:; \
         connect-src 'self'{connect}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The `content` of the `<meta name="signalling-url">` of `html`, outside comments (the
/// template carries a commented-out example), when there is one and it is not empty.
fn signalling_url(html: &str) -> Option<&str> {
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let tag_end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[1..tag_end];
        rest = &rest[tag_end..];
        let Some(attributes) = tag
            .get(..4)
            .filter(|name| name.eq_ignore_ascii_case("meta"))
            .map(|_| &tag[4..])
        else {
            continue;
        };
        let attributes = parse_attributes(attributes);
        let named = attributes
            .iter()
            .any(|(name, value)| name.eq_ignore_ascii_case("name") && *value == "signalling-url");
        if named {
            return attributes
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("content"))
                .map(|(_, value)| value.trim())
                .filter(|value| !value.is_empty());
        }
    }
    None
}

/// The `name="value"` pairs of a tag (quoted with `"` or `'`, or not at all).
fn parse_attributes(mut rest: &str) -> Vec<(&str, &str)> {
    let mut attributes = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=')
            .unwrap_or(rest.len());
        if name_end == 0 {
            return attributes;
        }
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start();
        let Some(after_equals) = rest.strip_prefix('=') else {
            attributes.push((name, ""));
            continue;
        };
        rest = after_equals.trim_start();
        let (value, after) = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let body = &rest[1..];
                let end = body.find(quote).unwrap_or(body.len());
                (&body[..end], body.get(end + 1..).unwrap_or(""))
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        attributes.push((name, value));
        rest = after;
    }
}

/// `scheme://host[:port]` of an absolute `ws:`, `wss:`, `http:` or `https:` URL (browsers
/// accept all four for a WebSocket), lower-cased; `None` for anything else, relative URLs
/// included (they are the page's own origin, which `'self'` covers).
fn origin_of(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "ws" | "wss" | "http" | "https") {
        return None;
    }
    let authority = uri.authority()?.as_str();
    // Only host and port: the origin goes into a header, where `;` or `'` would change it.
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if authority.is_empty() || !authority.chars().all(safe) {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// The bodies of `<script>` elements without a `src`, exactly as the browser hashes them.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("<script")?;
            let after_tag = &rest[start..];
            let tag_end = after_tag.find('>')?;
            let tag = &after_tag[..tag_end];
            let body_and_rest = &after_tag[tag_end + 1..];
            let body_end = body_and_rest.find("</script>")?;
            let body = &body_and_rest[..body_end];
            rest = &body_and_rest[body_end..];
            if !tag.contains("src=") {
                return Some(body);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trunk's hashed names are recognised; plain names are not.
    #[test]
    fn recognises_content_hashed_names() {
        assert!(is_content_hashed("/frontend-3c5f1e2a9b8d7c6e.js"));
        assert!(is_content_hashed("/frontend-3c5f1e2a9b8d7c6e_bg.wasm"));
        assert!(is_content_hashed("/style-0123abcd.css"));
        assert!(!is_content_hashed("/index.html"));
        assert!(!is_content_hashed("/room/blue-fox"));
        assert!(!is_content_hashed("/favicon.ico"));
        assert!(!is_content_hashed("/my-picture.png"));
    }

    /// The signalling URL comes from the meta tag, whatever the order or quoting of its
    /// attributes, and not from a commented-out one; its origin is added to `connect-src`;
    /// relative, empty or odd URLs add nothing.
    #[test]
    fn connect_src_follows_the_signalling_url() {
        let commented = r#"<head><!-- <meta name="signalling-url" content="wss://old.example/ws" /> --></head>"#;
        assert_eq!(signalling_url(commented), None);
        for (html, url) in [
            (
                r#"<meta name="signalling-url" content="wss://api.example.com/ws" />"#,
                "wss://api.example.com/ws",
            ),
            (
                r#"<META content='wss://API.example.com:8443/ws' name=signalling-url>"#,
                "wss://API.example.com:8443/ws",
            ),
            (
                r#"<!-- x --><meta name="viewport" content="a"><meta name="signalling-url" content=" ws://[::1]:3000/ws ">"#,
                "ws://[::1]:3000/ws",
            ),
        ] {
            assert_eq!(signalling_url(html), Some(url), "{html}");
        }
        assert_eq!(
            origin_of("wss://API.example.com:8443/ws?x=1").as_deref(),
            Some("wss://api.example.com:8443")
        );
        assert_eq!(
            origin_of("ws://[::1]:3000/ws").as_deref(),
            Some("ws://[::1]:3000")
        );
        for url in [
            "/ws",
            "",
            "javascript:alert(1)",
            "ftp://x.example/",
            "wss://a.example;x/ws",
        ] {
            assert_eq!(origin_of(url), None, "{url}");
        }
        let csp = content_security_policy(
            r#"<meta name="signalling-url" content="wss://api.example.com/ws">"#,
        );
        assert!(
            csp.contains("connect-src 'self' wss://api.example.com;"),
            "{csp}"
        );
        assert!(content_security_policy(commented).contains("connect-src 'self';"));
    }

    /// Inline scripts are allowed by their hash; external ones need no hash.
    #[test]
    fn csp_allows_inline_scripts_by_hash() {
        let html =
            r#"<html><script src="/a.js"></script><script type="module">boot()</script></html>"#;
        let scripts: Vec<_> = inline_scripts(html).collect();
        assert_eq!(scripts, ["boot()"]);
        let csp = content_security_policy(html);
        // Python: base64.b64encode(hashlib.sha256(b"boot()").digest())
        assert!(
            csp.contains(
                "script-src 'self' 'wasm-unsafe-eval' 'sha256-MeZS89WlF0u+o0hCvHTBt4q1WHU+U+sJKgbdRUc36mY=';"
            ),
            "{csp}"
        );
        assert_eq!(csp.matches("'sha256-").count(), 1);
    }
}
