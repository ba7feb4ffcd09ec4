//! Serving the built frontend: client routes, caching, compression, CSP.

mod common;

use common::{PATIENCE, TestServer};
use reqwest::header;

const INDEX: &str = r#"<!DOCTYPE html><html><head>
<link rel="modulepreload" href="/frontend-0123456789abcdef.js">
<script type="module">import init from '/frontend-0123456789abcdef.js'; init();</script>
</head><body></body></html>"#;

async fn server_with_site() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), INDEX).expect("write");
    std::fs::write(
        dir.path().join("frontend-0123456789abcdef.js"),
        "export default function init() {}\n".repeat(100),
    )
    .expect("write");
    std::fs::write(dir.path().join("robots.txt"), "User-agent: *\n").expect("write");
    let path = dir.path().to_owned();
    let server = TestServer::start(move |config| config.static_dir = Some(path)).await;
    (server, dir)
}

/// A client that does not decompress (so the tests see what was sent) and that gives up after
/// the usual patience.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .timeout(PATIENCE)
        .build()
        .expect("client")
}

/// The start page and every client route answer with `index.html`, never cached stale.
#[tokio::test]
async fn client_routes_get_index_html() {
    let (server, _dir) = server_with_site().await;
    for path in ["/", "/room/blue-fox", "/some/other/route"] {
        let response = plain_client()
            .get(server.http_url(path))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-cache",
            "{path}"
        );
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
        assert_eq!(response.text().await.expect("body"), INDEX, "{path}");
    }
}

/// Content-hashed assets are cached for a year; other files are revalidated.
#[tokio::test]
async fn hashed_assets_are_cached_long() {
    let (server, _dir) = server_with_site().await;
    let asset = plain_client()
        .get(server.http_url("/frontend-0123456789abcdef.js"))
        .send()
        .await
        .expect("get");
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let plain = plain_client()
        .get(server.http_url("/robots.txt"))
        .send()
        .await
        .expect("get");
    assert_eq!(plain.headers()[header::CACHE_CONTROL], "no-cache");
}

/// Responses are compressed for browsers that accept it.
#[tokio::test]
async fn responses_are_compressed() {
    let (server, _dir) = server_with_site().await;
    let response = plain_client()
        .get(server.http_url("/frontend-0123456789abcdef.js"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("get");
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let compressed = response.bytes().await.expect("body").len();
    assert!(compressed < 3400 / 4, "compressed to {compressed} bytes");
}

/// The CSP allows this site's scripts, the wasm, and the inline bootstrap by its exact hash.
#[tokio::test]
async fn pages_carry_a_content_security_policy() {
    let (server, _dir) = server_with_site().await;
    let csp = csp_of(&server, "/room/x").await;
    use base64::Engine;
    use sha2::Digest;
    let inline = "import init from '/frontend-0123456789abcdef.js'; init();";
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(inline));
    assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("'unsafe-eval'"), "no general eval: {csp}");
}

/// The API still answers when a site is served.
#[tokio::test]
async fn api_routes_win_over_the_site() {
    let (server, _dir) = server_with_site().await;
    let health = plain_client()
        .get(server.http_url("/healthz"))
        .send()
        .await
        .expect("get");
    assert_eq!(health.status(), 200);
    assert!(
        health
            .text()
            .await
            .expect("body")
            .contains("\"status\":\"ok\"")
    );
    let mut client = server.client().await;
    client.assert_quiet().await;
}

/// A `304 Not Modified` of a hashed asset keeps the one-year cache header (browsers store the
/// headers of a 304 in place of the old ones); a 304 of anything else says `no-cache`, even
/// when the `index.html` fallback answers a hashed-looking path.
#[tokio::test]
async fn not_modified_keeps_the_cache_header() {
    let (server, _dir) = server_with_site().await;
    for (path, cache) in [
        (
            "/frontend-0123456789abcdef.js",
            "public, max-age=31536000, immutable",
        ),
        ("/robots.txt", "no-cache"),
        ("/missing-0123456789abcdef.js", "no-cache"),
    ] {
        let first = plain_client()
            .get(server.http_url(path))
            .send()
            .await
            .expect("get");
        assert_eq!(first.status(), 200, "{path}");
        let modified = first.headers()[header::LAST_MODIFIED].clone();
        let again = plain_client()
            .get(server.http_url(path))
            .header(header::IF_MODIFIED_SINCE, modified)
            .send()
            .await
            .expect("get");
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()[header::CACHE_CONTROL], cache, "{path}");
    }
}

/// When `index.html` points the page at a signalling server of another origin, the CSP lets
/// the page connect there (and nowhere else); without one, only to its own origin.
#[tokio::test]
async fn csp_lets_the_page_reach_its_signalling_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let html = INDEX.replace(
        "</head>",
        r#"<meta name="signalling-url" content="wss://API.example.com:8443/ws" /></head>"#,
    );
    std::fs::write(dir.path().join("index.html"), html).expect("write");
    let path = dir.path().to_owned();
    let server = TestServer::start(move |config| config.static_dir = Some(path)).await;
    let csp = csp_of(&server, "/").await;
    assert!(
        csp.contains("connect-src 'self' wss://api.example.com:8443;"),
        "{csp}"
    );

    let (plain, _dir) = server_with_site().await;
    let csp = csp_of(&plain, "/").await;
    assert!(csp.contains("connect-src 'self';"), "{csp}");
}

/// The Content-Security-Policy of the page at `path`.
async fn csp_of(server: &TestServer, path: &str) -> String {
    let response = plain_client()
        .get(server.http_url(path))
        .send()
        .await
        .expect("get");
    response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii")
        .to_owned()
}
