//! Serving the built frontend: files, the `index.html` fallback for client routes, caching,
//! compression and the Content-Security-Policy.
//!
//! Trunk names every asset with a content hash (`frontend-<hash>_bg.wasm`), so those are cached
//! for a year and marked immutable; `index.html`, which names the current hashes, is always
//! revalidated. The CSP allows exactly the inline bootstrap scripts that are in `index.html`
//! (by their SHA-256), `'wasm-unsafe-eval'` to compile the wasm, and nothing from elsewhere.

use std::path::Path;

use anyhow::Context;
use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::Response,
};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower_http::{
    compression::CompressionLayer,
    services::{ServeDir, ServeFile},
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
    let files = ServeDir::new(dir)
        .append_index_html_on_directories(true)
        .fallback(ServeFile::new(index));
    Ok(Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn(cache_control))
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

/// Long caching for content-hashed assets, revalidation for everything else (HTML above all).
async fn cache_control(request: Request, next: Next) -> Response {
    let hashed = is_content_hashed(request.uri().path());
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let value = if hashed && !is_html && response.status().is_success() {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    response.headers_mut().insert(header::CACHE_CONTROL, value);
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

/// The policy for the app's pages, allowing the inline scripts of `html` by hash.
fn content_security_policy(html: &str) -> String {
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
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
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
